"""GUI settings: the last connection values, theme, font size and language, in a small JSON file in the
user's config directory; and validation of the connect form, kept out of the widgets so it tests alone.

The connection values are remembered once a connection succeeds (``remember_connection``), never what
was typed for a server that could not be reached; no password is ever kept, only the account's name."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from common.protocol.casemap import casefold, is_valid_channel, is_valid_nick
from common.client.session import SessionConfig
from common.client.texts import tr
from common.protocol.tls import normalize_fingerprint

MIN_FONT, MAX_FONT = 8, 24
MIN_ACCOUNT_PASSWORD = 6  # what classchat's server asks of a new account's password


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 6667
    nick: str = ""
    channel: str = "#general"
    tls: bool = False
    tls_pin: str = ""  # SHA-256 fingerprint of a self-signed server certificate to trust
    account: str = ""  # the account last logged in to; its password is never saved
    theme: str = "light"
    font_size: int = 11
    lang: str = ""
    show_protocol: bool = False  # View → Show the protocol (protocol_pane.py)


def session_config(settings: Settings, nick: str, password: str | None, account_password: str | None = None,
                   create_account: bool = False) -> SessionConfig:
    """What a window connects with: the settings, a nick (the demo gives each window its own), the server's
    password and the account's, which are never saved. Without an account password there is no login."""
    account = settings.account if account_password else None
    return SessionConfig(host=settings.host, port=settings.port, nick=nick, password=password,
                         account=account, account_password=account_password if account else None,
                         create_account=create_account and bool(account),
                         tls=settings.tls or bool(settings.tls_pin), tls_pin=settings.tls_pin or None,
                         channels=(settings.channel,) if settings.channel else ())


def remember_connection(settings: Settings, config: SessionConfig) -> None:
    """Put the connection values of ``config`` (where, who, which channel and account) into ``settings``:
    once that connection succeeded, to be saved; or into a copy, to fill a connect dialog in with."""
    settings.host, settings.port, settings.nick = config.host, config.port, config.nick
    settings.channel = config.channels[0] if config.channels else ""
    settings.tls, settings.tls_pin, settings.account = config.tls, config.tls_pin or "", config.account or ""


def dialog_settings(settings: Settings, config: SessionConfig) -> Settings:
    """A copy of ``settings`` with the connection values of ``config``: a connect dialog opened from a
    window starts from where that window connected."""
    copy = replace(settings)
    remember_connection(copy, config)
    return copy


def settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "classchat" / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """The saved settings; defaults for anything missing, unreadable or of the wrong type."""
    path = path or settings_path()
    settings = Settings()
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return settings
    if not isinstance(stored, dict):
        return settings
    for field in fields(Settings):
        value = stored.get(field.name)
        if isinstance(value, type(getattr(settings, field.name))):
            setattr(settings, field.name, value)
    settings.font_size = min(MAX_FONT, max(MIN_FONT, settings.font_size))
    return settings


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write the settings (never a password); a write that fails is not worth interrupting a lesson."""
    path = path or settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(settings), ensure_ascii=False, indent=2), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass


def validate_connect_form(values: dict[str, str], create_account: bool, lang: str) -> list[str]:
    """Problems with what the user typed into the connect dialog (``host``, ``port``, ``nick``, ``channel``,
    ``tls_pin``, ``account``, ``account_password``), as messages to show; empty if fine. A new account is
    named after the nick (the server logs us in to it only then)."""
    host, port, nick, channel = (values.get(name, "").strip() for name in ("host", "port", "nick", "channel"))
    tls_pin, account = values.get("tls_pin", "").strip(), values.get("account", "").strip()
    account_password = values.get("account_password", "")
    problems = []
    if not host:
        problems.append(tr("form_host", lang))
    if not port.isdigit() or not 0 < int(port) < 65536:
        problems.append(tr("form_port", lang))
    if not is_valid_nick(nick, 30):
        problems.append(tr("form_nick", lang))
    if channel and not is_valid_channel(channel, 50):
        problems.append(tr("form_channel", lang))
    if tls_pin:
        try:
            normalize_fingerprint(tls_pin)
        except ValueError:
            problems.append(tr("form_tls_pin", lang))
    if account and not is_valid_nick(account, 30):
        problems.append(tr("form_account", lang))
    if account and not account_password:
        problems.append(tr("form_account_password", lang))
    if create_account:
        if account and casefold(account) != casefold(nick):
            problems.append(tr("form_account_is_nick", lang))
        if len(account_password) < MIN_ACCOUNT_PASSWORD:
            problems.append(tr("form_new_password", lang, count=MIN_ACCOUNT_PASSWORD))
    return problems
