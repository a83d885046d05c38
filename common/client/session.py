"""The client side of IRC: one connection to a server, its state, and typed events for a user interface.

``Session`` is the façade both clients use: ``start()``, then read ``events`` (a ``queue.Queue`` of the
dataclasses in ``events.py``) and call the methods below from the interface's own thread; ``quit()`` ends it.
Behind it, ``transport.py`` runs the receiver and writer threads (connecting, TLS, pacing, reconnecting with
backoff and rejoining the channels), ``handlers.py`` turns each server line into state changes and events on
the receiver thread, and ``state.py`` holds what the session knows, behind one lock. The methods here may be
called from any thread: they read the state under its lock and queue lines with ``Transport.send``.

Nothing here prints or touches a user interface, and nothing relies on classchat's server: it works with
any IRC server that follows RFC 2812 (with or without IRCv3 capabilities).
"""
from __future__ import annotations

import itertools
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from common.client.classroom import ClassroomView
from common.client.events import ChatMessage, Event
from common.client.formatting import split_text
from common.client.handlers import ServerLineHandler
from common.client.multiline import OutgoingBatch, outgoing_batches
from common.client.raw_lines import RECENT_LINES, RawLineLog
from common.client.reactions import Reactions
from common.client.state import ClientState
from common.client.transport import Transport
from common.protocol.attendance import CLASSROOM_CAP
from common.protocol.casemap import casefold, entry_names, normalize_ban_mask
from common.protocol.classroom import CLASSROOM_CAP
from common.protocol.message import ACTION_PREFIX, Message, ProtocolError, make_action, parse


@dataclass
class SessionConfig:
    host: str = "127.0.0.1"
    port: int = 6667
    nick: str = "guest"
    username: str | None = None
    realname: str = "classchat user"
    password: str | None = None
    # An account to log in to with SASL PLAIN (IRCv3), and its password; with ``create_account`` the session
    # creates it (REGISTER) once connected instead. The password lives only here, in memory.
    account: str | None = None
    account_password: str | None = None
    create_account: bool = False
    channels: tuple[str, ...] = ()
    tls: bool = False
    tls_verify: bool = True
    tls_pin: str | None = None  # trust exactly the certificate with this SHA-256 fingerprint (self-signed)
    reconnect: bool = True
    connect_timeout: float = 10.0
    idle_ping_after: float = 60.0
    pace_burst: int = 5
    pace_rate: float = 1.5  # lines per second once the burst is spent; 0 sends at once
    history_on_join: int = 50  # messages to ask for when the server offers chathistory
    backoff_first: float = 1.0
    backoff_max: float = 30.0
    raw_lines_kept: int = RECENT_LINES  # the raw lines kept for the protocol pane / --raw; 0 keeps none


class SessionClosed(Exception):
    """The session has been closed (``quit()``); nothing more can be sent."""


class Session:
    """A connection to one IRC server, for one user. Start with ``start()``, end with ``quit()``."""

    def __init__(self, config: SessionConfig, events: "queue.Queue[Event] | None" = None) -> None:
        self.config = config
        self.events: "queue.Queue[Event]" = events if events is not None else queue.Queue()
        self._state = ClientState(config.nick, config.channels)
        # Every line sent and received, for the protocol pane and --raw (raw_lines.py); None keeps none.
        self.raw_lines = RawLineLog(config.raw_lines_kept) if config.raw_lines_kept > 0 else None
        self._transport = Transport(config, self._state, self.events, self.raw_lines)
        self._handler = ServerLineHandler(config, self._state, self.events, self._transport)
        self.reactions = Reactions(self._state, self._transport)  # reactions and deleting messages
        self._tokens = itertools.count(1)

    # ------------------------------------------------------------------ public API (any thread)

    def start(self) -> None:
        self._transport.start(self._handler)

    @property
    def nick(self) -> str:
        with self._state.lock:
            return self._state.nick

    @property
    def is_registered(self) -> bool:
        return self._state.registered.is_set()

    @property
    def caps(self) -> frozenset[str]:
        with self._state.lock:
            return frozenset(self._state.caps)

    def channels(self) -> list[str]:
        with self._state.lock:
            return [channel.name for channel in self._state.channels.values()]

    def is_joined(self, channel: str) -> bool:
        with self._state.lock:
            return casefold(channel) in self._state.channels

    @property
    def is_oper(self) -> bool:
        """Whether the server made us an IRC operator (the teacher)."""
        with self._state.lock:
            return self._state.is_oper

    def channel_modes(self, channel: str) -> frozenset[str]:
        """The flag modes of a joined channel (``m``, ``t``, ``U``, …)."""
        with self._state.lock:
            state = self._state.channels.get(casefold(channel))
            return frozenset(state.modes) if state else frozenset()

    def is_muted(self, channel: str, nick: str) -> bool:
        """Whether a +q entry of the channel names ``nick``: an account mask (``$a:name``) when the session
        knows the member's account, a host mask when it knows the member's host, else the nick
        (``nick!*@*``, as servers complete a bare nick). Accounts and hosts come from JOIN lines,
        extended-join, account-notify and account tags."""
        with self._state.lock:
            state = self._state.channels.get(casefold(channel))
            if state is None:
                return False
            host, account = self._state.identities.get(casefold(nick), (None, None))
            prefix = f"{nick}!*@{host or '*'}"
            return any(entry_names(mask, prefix, account) or entry_names(mask, normalize_ban_mask(nick), None)
                       for mask in state.mutes)

    @property
    def account(self) -> str | None:
        """The account the session is logged in to, once the server said so (900)."""
        with self._state.lock:
            return self._state.account

    def is_teacher(self, channel: str, nick: str) -> bool:
        """Whether ``nick`` has the teacher's prefix in a class channel (``!``, member mode Y)."""
        return "!" in self.members(channel).get(nick, "")

    def members(self, channel: str) -> dict[str, str]:
        """A copy of a channel's members: nick → prefix symbols (``"@"``, ``"+"``, ``""``)."""
        with self._state.lock:
            state = self._state.channels.get(casefold(channel))
            return state.members() if state else {}

    @property
    def has_classroom(self) -> bool:
        """Whether the server offers raised hands and polls (``classchat.org/classroom``) and we have it."""
        return CLASSROOM_CAP in self.caps

    def classroom(self, channel: str) -> ClassroomView:
        """A copy of a joined channel's raised hands and poll (empty when not joined)."""
        with self._state.lock:
            state = self._state.channels.get(casefold(channel))
            return state.classroom.view() if state else ClassroomView()

    def list_hands(self, channel: str) -> bool:
        """Ask for the queue of hands; it comes as a ``HandsChanged`` with ``asked`` set, for a view to say."""
        with self._state.lock:
            state = self._state.channels.get(casefold(channel))
            if state is not None:
                state.classroom.queue_asked = True
        return self._transport.send(Message("HAND", [channel, "LIST"]))

    def topic(self, channel: str) -> str:
        with self._state.lock:
            state = self._state.channels.get(casefold(channel))
            return state.topic if state else ""

    def is_operator(self, channel: str) -> bool:
        return "@" in self.members(channel).get(self.nick, "")

    def wait_registered(self, timeout: float) -> bool:
        return self._state.registered.wait(timeout)

    def wait_joined(self, channel: str, timeout: float) -> bool:
        """Wait until the server has confirmed our JOIN of ``channel``."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not self.is_joined(channel):
            if self._transport.stopping.is_set() or time.monotonic() > deadline:
                return False
            pause.wait(0.02)
        return True

    def send_raw(self, line: str) -> bool:
        """Queue one raw line (``/quote``). Returns False when not connected."""
        try:
            message = parse(line)
        except ProtocolError:
            return False
        return self._transport.send(message)

    def send_text(self, target: str, text: str, kind: str = "message") -> bool:
        """Send text to a channel or nick, split to fit the line limit; ``kind`` is message, action or notice.
        A message of several lines goes as one draft/multiline batch (or a few, beyond the server's limits)
        when the server takes them, else one line at a time.

        Without echo-message the session reports our own message itself, so every view shows it once.
        """
        if not self.is_registered:
            return False
        command = "NOTICE" if kind == "notice" else "PRIVMSG"
        wrapper = len(ACTION_PREFIX) + 1 if kind == "action" else 0
        # The relayed line is ":<nick!user@host> PRIVMSG <target> :<text>\r\n" and must fit in 512 bytes
        # (RFC 1459 §2.3); the server refuses a longer one.
        with self._state.lock:
            prefix_bytes = self._state.own_prefix_bytes(self._handler.username)
        budget = 512 - 1 - prefix_bytes - len(f" {command} {target} :\r\n".encode()) - wrapper
        batches = outgoing_batches(self._state, target, text, max(budget, 64)) if kind == "message" else []
        if batches:  # several lines, and the server takes draft/multiline: one message (client/multiline.py)
            return self._send_batches(target, batches)
        for piece in split_text(text, max(budget, 64)):
            body = make_action(piece) if kind == "action" else piece
            if not self._transport.send(Message(command, [target, body])):
                return False
            if "echo-message" not in self.caps:
                self.events.put(ChatMessage(target, self.nick, piece,
                                            datetime.now(timezone.utc), kind=kind, own=True))
        return True

    def _send_batches(self, target: str, batches: list[OutgoingBatch]) -> bool:
        for batch in batches:
            if not self._transport.send_unit(batch.lines, batch.cost):
                return False
            if "echo-message" not in self.caps:
                self.events.put(ChatMessage(target, self.nick, batch.text, datetime.now(timezone.utc), own=True))
        return True

    def join(self, channel: str, key: str | None = None) -> bool:
        with self._state.lock:
            self._state.wanted_channels[casefold(channel)] = channel
            if key:
                self._state.channel_keys[casefold(channel)] = key
        return self._transport.send(Message("JOIN", [channel, key] if key else [channel]))

    def part(self, channel: str, reason: str = "") -> bool:
        with self._state.lock:
            self._state.wanted_channels.pop(casefold(channel), None)
            self._state.channel_keys.pop(casefold(channel), None)
        return self._transport.send(Message("PART", [channel, reason] if reason else [channel]))

    def set_nick(self, nick: str) -> bool:
        """Ask for another nick; before registration (after ``NickRefused``) it becomes the one to register
        with, and the base of "nick_" should it be taken."""
        if not self.is_registered:
            with self._state.lock:
                self._state.nick = self._state.preferred_nick = nick
                self._state.nick_attempt = 0
        return self._transport.send(Message("NICK", [nick]))

    def names(self, channel: str) -> bool:
        """Ask who is in ``channel``; the answer comes as a ``NamesList`` event."""
        with self._state.lock:
            self._state.names_requested.add(casefold(channel))
        return self._transport.send(Message("NAMES", [channel]))

    def command(self, command: str, *params: str) -> bool:
        """Send any IRC command with parameters (the slash commands use this)."""
        return self._transport.send(Message(command, list(params)))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the server has handled everything sent so far (a PING behind it came back)."""
        token = f"classchat-{next(self._tokens)}"
        answered = threading.Event()
        with self._state.lock:
            self._state.pongs[token] = answered
        if not self._transport.send_behind(Message("PING", [token])):
            return False
        try:
            return answered.wait(timeout)
        finally:
            with self._state.lock:
                self._state.pongs.pop(token, None)

    def quit(self, reason: str = "Leaving", timeout: float = 3.0) -> None:
        """Send what the user typed and is still waiting (within ``timeout``), then QUIT with ``reason``;
        give the server ``timeout`` more to close the connection, stop reconnecting, and wait for both
        threads to end. It may block for about twice ``timeout``: call it from a worker thread in a GUI."""
        self._transport.close(Message("QUIT", [reason]), timeout)

    @property
    def has_chathistory(self) -> bool:
        return self._state.has_chathistory()

    def request_older(self, conversation: str, before_msgid: str, limit: int = 50) -> bool:
        """Ask for the page of history before a message; it arrives as a ``HistoryBatch`` with older=True."""
        if not self.has_chathistory:
            return False
        with self._state.lock:
            self._state.older_requested.add(casefold(conversation))
        return self._transport.send(
            Message("CHATHISTORY", ["BEFORE", conversation, f"msgid={before_msgid}", str(limit)]))

    @property
    def offers_attendance(self) -> bool:
        """Whether the server keeps class attendance for us to ask (classchat's ``classchat.org/classroom``)."""
        return CLASSROOM_CAP in self.caps and "batch" in self.caps

    def request_attendance(self, channel: str, since: str | None = None) -> bool:
        """Ask for a class channel's attendance (from day ``since``, YYYY-MM-DD); it comes as an
        ``AttendanceReport``, or an ``ErrorReply`` when refused."""
        return self._transport.send(Message("ATTENDANCE", [channel, since] if since else [channel]))

    def set_away(self, message: str | None) -> bool:
        with self._state.lock:
            self._state.away = message
        return self._transport.send(Message("AWAY", [message] if message else []))

