"""The server's settings: everything a teacher can set from the command line, with classroom defaults.

A plain dataclass with no behaviour, so that both the server and the commands (which see the server only
through ``commands.ServerServices``) can name it without importing each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ServerConfig:
    """Everything a teacher can set from the command line; the defaults suit a classroom."""

    host: str = "127.0.0.1"
    port: int = 6667
    name: str = "classchat.local"
    network: str = "classchat"
    password: str | None = None
    opers: dict[str, str] = field(default_factory=dict)
    motd: list[str] = field(default_factory=lambda: [
        "Welcome to classchat, the classroom chat.",
        "Be kind, stay on topic, and ask when something is unclear.",
    ])
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_port: int = 6697
    max_clients: int = 1000
    max_per_address: int = 16  # connections at once from one address; 0: no limit
    connects_per_minute: int = 30  # new connections per address per minute (a burst of as many); 0: no limit
    limit_exempt: tuple[str, ...] = ("127.0.0.1", "::1")  # the teacher's own machine (ergo exempts it too)
    max_channels_per_user: int = 20
    # Channels the students of one address may have made that exist at once (teachers and this computer are
    # not limited), and how long a kept channel may stay empty before it is forgotten (not class channels).
    max_channels_made: int = 10
    channel_expiry: float = 86400.0
    nick_length: int = 30
    channel_length: int = 50
    topic_length: int = 390
    sendq_bytes: int = 512 * 1024
    ping_interval: float = 120.0
    ping_timeout: float = 60.0
    registration_timeout: float = 60.0
    flood_burst: int = 10
    flood_rate: float = 2.0
    flood_max_excess: int = 40
    housekeeping_interval: float = 1.0
    history: bool = True
    db_path: str = ":memory:"
    replay: int = 50
    history_days: float = 30.0
    # How long after sending a student may delete their own message (REDACT); a channel's operators and the
    # teacher may delete any message of the channel, whenever.
    redact_window: float = 300.0
    class_channels: tuple[str, ...] = ()  # made class channels (+C) at start, kept in the database
    registration: str = "open"  # who may create accounts with REGISTER: open, teacher or closed
    login_delay: float = 0.5  # seconds of wait after a wrong account password, doubled after each further one
