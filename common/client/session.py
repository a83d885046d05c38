"""The client side of IRC: one connection to a server, its state, and typed events for a user interface.

A ``Session`` runs two threads. The receiver connects (TCP, or TLS), registers (PASS, CAP, NICK, USER),
reads and parses lines with the protocol module, keeps the state (own nick, channels, topics, members),
and puts event dataclasses on ``events``, a ``queue.Queue`` that the interface drains in its own thread.
The writer is the only thread that writes to the socket: it sends queued lines, paced like irssi's
command queue so that a long paste never trips a server's flood limit. If the connection drops, the
receiver reconnects with backoff (1 s doubling to 30 s, with jitter) and rejoins the channels.

Nothing here prints or touches a user interface, and nothing relies on classchat's server: it works with
any IRC server that follows RFC 2812 (with or without IRCv3 capabilities).
"""
from __future__ import annotations

import itertools
import queue
import random
import re
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

from common.protocol import numerics as rpl
from common.protocol import tls
from common.protocol.casemap import casefold, is_channel_name, mask_matches, normalize_ban_mask
from common.protocol.framing import LineFramer
from common.protocol.message import ACTION_PREFIX, Message, ProtocolError, make_action, parse

# Capabilities the session asks for when the server offers them.
WANTED_CAPS = ("server-time", "echo-message", "message-tags", "batch", "multi-prefix", "away-notify",
               "cap-notify", "draft/chathistory", "chathistory")
CLIENT_VERSION = "classchat 1.0"


# ------------------------------------------------------------------------------------------ events

@dataclass(frozen=True)
class Event:
    """Base of everything the session reports; ``time`` is the server's time when it sent one."""


@dataclass(frozen=True)
class ConnectionState(Event):
    """``state`` is connecting, registered, disconnected, reconnecting, refused, failed or closed."""

    state: str
    detail: str = ""
    retry_in: float | None = None


@dataclass(frozen=True)
class ChatMessage(Event):
    """A PRIVMSG, NOTICE or /me. ``conversation`` is the channel, or the other person's nick."""

    conversation: str
    sender: str
    text: str
    time: datetime
    kind: str = "message"  # message, action or notice
    own: bool = False
    mentions_me: bool = False
    msgid: str | None = None
    history: bool = False


@dataclass(frozen=True)
class HistoryBatch(Event):
    """Earlier messages of a conversation, oldest first: on join (``older`` False), or a page asked for
    with ``request_older()`` (``older`` True) that goes above what is shown."""

    conversation: str
    messages: tuple[ChatMessage, ...]
    older: bool = False


@dataclass(frozen=True)
class Joined(Event):
    channel: str
    nick: str
    own: bool
    time: datetime


@dataclass(frozen=True)
class Parted(Event):
    channel: str
    nick: str
    reason: str
    own: bool
    time: datetime
    kicked_by: str | None = None


@dataclass(frozen=True)
class Quit(Event):
    nick: str
    reason: str
    channels: tuple[str, ...]
    time: datetime


@dataclass(frozen=True)
class NickChanged(Event):
    old: str
    new: str
    own: bool
    channels: tuple[str, ...]
    time: datetime


@dataclass(frozen=True)
class TopicChanged(Event):
    channel: str
    topic: str
    set_by: str | None
    time: datetime
    on_join: bool = False


@dataclass(frozen=True)
class MembersChanged(Event):
    """The member list of a channel changed (names, join, part, mode…); read it with ``members()``."""

    channel: str


@dataclass(frozen=True)
class ModeChanged(Event):
    """``changes`` splits ``modes`` into ("+m", ""), ("+q", "alice!*@*"), … for a channel."""

    target: str
    set_by: str
    modes: str
    time: datetime
    changes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Announcement(Event):
    """A message from an operator to everyone on the server (sent to ``$server``): the teacher speaking
    to the whole class, shown where nobody can miss it."""

    sender: str
    text: str
    time: datetime


@dataclass(frozen=True)
class AwayChanged(Event):
    nick: str
    message: str | None


@dataclass(frozen=True)
class Invited(Event):
    channel: str
    by: str


@dataclass(frozen=True)
class ServerReply(Event):
    """Informational text from the server (MOTD, WHOIS, LIST rows, …) for the current view."""

    code: str
    text: str


@dataclass(frozen=True)
class ErrorReply(Event):
    """An error numeric or FAIL: something the user asked for did not happen."""

    code: str
    text: str
    target: str | None = None


@dataclass(frozen=True)
class Notice(Event):
    """Something the session itself wants the user to know (e.g. "nick taken, using alice_")."""

    key: str
    values: dict[str, str] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ state

@dataclass
class ChannelState:
    """A joined channel as the session knows it. Members are keyed by casefolded nick, so every lookup
    (part, quit, nick change, mode) is one dictionary access under the server's case rules."""

    name: str
    topic: str = ""
    modes: set[str] = field(default_factory=set)  # flag modes (m, t, U, …) as far as the session has seen
    mutes: set[str] = field(default_factory=set)  # +q masks
    _members: dict[str, tuple[str, str]] = field(default_factory=dict)  # folded nick → (nick, prefixes)

    def members(self) -> dict[str, str]:
        """Nick → prefix symbols, highest first."""
        return dict(self._members.values())

    def add(self, nick: str, prefixes: str = "") -> None:
        self._members.setdefault(casefold(nick), (nick, prefixes))

    def replace(self, members: dict[str, str]) -> None:
        self._members = {casefold(nick): (nick, prefixes) for nick, prefixes in members.items()}

    def remove(self, nick: str) -> bool:
        return self._members.pop(casefold(nick), None) is not None

    def rename(self, old: str, new: str) -> bool:
        entry = self._members.pop(casefold(old), None)
        if entry is not None:
            self._members[casefold(new)] = (new, entry[1])
        return entry is not None

    def set_prefix(self, nick: str, symbol: str, on: bool, order: str) -> None:
        """Give or take one prefix symbol; ``order`` is the server's PREFIX order, highest first."""
        entry = self._members.get(casefold(nick))
        if entry is not None:
            symbols = set(entry[1])
            (symbols.add if on else symbols.discard)(symbol)
            self._members[casefold(nick)] = (entry[0], "".join(s for s in order if s in symbols))


def signed_letters(modestring: str) -> Iterator[tuple[bool, str]]:
    """"+ov-k" → (True, "o"), (True, "v"), (False, "k"): each mode letter with whether it is set."""
    adding = True
    for letter in modestring:
        if letter in "+-":
            adding = letter == "+"
        else:
            yield adding, letter


def split_text(text: str, max_bytes: int) -> list[str]:
    """Split text into pieces of at most ``max_bytes`` UTF-8 bytes, on character boundaries.

    Each piece ends just after the last space that fits when there is one, so words stay whole; a word
    longer than a line is cut between characters, never inside a Cyrillic letter or an emoji. The pieces
    of a line join back to it exactly. Every line of a multi-line text is split on its own; blank lines
    are dropped (IRC cannot send an empty message).
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one character")
    pieces: list[str] = []
    # Only CR and LF end lines: str.splitlines() would also split at IRC formatting codes such as \x1d.
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            continue
        while len(line.encode("utf-8")) > max_bytes:
            cut = _fitting_prefix_length(line, max_bytes)
            space = line.rfind(" ", 0, cut)
            end = space + 1 if space > 0 else cut
            pieces.append(line[:end])
            line = line[end:]
        if line:
            pieces.append(line)
    return pieces


def _fitting_prefix_length(text: str, max_bytes: int) -> int:
    """The largest number of characters of ``text`` whose UTF-8 encoding fits in ``max_bytes``."""
    encoded = text.encode("utf-8")[:max_bytes]
    return len(encoded.decode("utf-8", "ignore"))


def mentions_nick(text: str, nick: str) -> bool:
    """Whether ``text`` names ``nick`` as a word ("alice:" and "hi Alice!" do, "also" does not name "al")."""
    pattern = rf"(?<![\w\-\[\]\\`^{{|}}]){re.escape(casefold(nick))}(?![\w\-\[\]\\`^{{|}}])"
    return re.search(pattern, casefold(text)) is not None


def parse_server_time(tags: dict[str, str]) -> datetime:
    value = tags.get("time")
    if value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass  # a malformed time tag: fall back to our clock
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------------------------------ session

@dataclass
class SessionConfig:
    host: str = "127.0.0.1"
    port: int = 6667
    nick: str = "guest"
    username: str | None = None
    realname: str = "classchat user"
    password: str | None = None
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


class SessionClosed(Exception):
    """The session has been closed (``quit()``); nothing more can be sent."""


class Session:
    """A connection to one IRC server, for one user. Start with ``start()``, end with ``quit()``."""

    def __init__(self, config: SessionConfig, events: "queue.Queue[Event] | None" = None) -> None:
        self.config = config
        self.events: "queue.Queue[Event]" = events if events is not None else queue.Queue()
        self._lock = threading.Lock()
        self._tls_io = threading.Lock()  # one TLS read or write at a time (see _receive)
        self._nick = config.nick
        self._preferred_nick = config.nick
        # Bytes of our "nick!user@host" as others see it: a guess (RFC limits) until 001 tells us.
        self._prefix_bytes = len(config.nick.encode()) + 1 + 10 + 1 + 63
        self._registered = threading.Event()
        self._channels: dict[str, ChannelState] = {}
        self._wanted_channels: dict[str, str] = {casefold(c): c for c in config.channels}
        self._caps: set[str] = set()
        self._cap_offered: set[str] = set()
        self._isupport: dict[str, str] = {}
        self._pending_names: dict[str, dict[str, str]] = {}
        self._away: str | None = None
        self._is_oper = False
        self._mode_queries: set[str] = set()  # channels whose 324 reply we asked for ourselves
        self._nick_attempt = 0
        self._refused = False
        self._stopping = threading.Event()
        self._quit_requested = False
        self._sock: socket.socket | None = None
        self._generation = 0
        self._outgoing: "queue.Queue[tuple[int, bytes, bool] | None]" = queue.Queue()
        self._pongs: dict[str, threading.Event] = {}
        self._batches: dict[str, tuple[str, list[str], list[ChatMessage]]] = {}  # reference → type, params, lines
        self._older_requested: set[str] = set()
        self._tokens = itertools.count(1)
        self._receiver = threading.Thread(target=self._run, name="session-receiver", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="session-writer", daemon=True)

    # ------------------------------------------------------------------ public API (any thread)

    def start(self) -> None:
        self._receiver.start()
        self._writer.start()

    @property
    def nick(self) -> str:
        with self._lock:
            return self._nick

    @property
    def is_registered(self) -> bool:
        return self._registered.is_set()

    @property
    def caps(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._caps)

    def channels(self) -> list[str]:
        with self._lock:
            return [channel.name for channel in self._channels.values()]

    def is_joined(self, channel: str) -> bool:
        with self._lock:
            return casefold(channel) in self._channels

    @property
    def is_oper(self) -> bool:
        """Whether the server made us an IRC operator (the teacher)."""
        with self._lock:
            return self._is_oper

    def channel_modes(self, channel: str) -> frozenset[str]:
        """The flag modes of a joined channel (``m``, ``t``, ``U``, …)."""
        with self._lock:
            state = self._channels.get(casefold(channel))
            return frozenset(state.modes) if state else frozenset()

    def is_muted(self, channel: str, nick: str) -> bool:
        """Whether a +q mask of the channel names ``nick`` the way servers complete a bare nick
        (``nick!*@*``); the session does not know other users' hosts, so host masks are not judged."""
        as_mask = normalize_ban_mask(nick)
        with self._lock:
            state = self._channels.get(casefold(channel))
            return state is not None and any(mask_matches(mask, as_mask) for mask in state.mutes)

    def members(self, channel: str) -> dict[str, str]:
        """A copy of a channel's members: nick → prefix symbols (``"@"``, ``"+"``, ``""``)."""
        with self._lock:
            state = self._channels.get(casefold(channel))
            return state.members() if state else {}

    def topic(self, channel: str) -> str:
        with self._lock:
            state = self._channels.get(casefold(channel))
            return state.topic if state else ""

    def is_operator(self, channel: str) -> bool:
        return "@" in self.members(channel).get(self.nick, "")

    def wait_registered(self, timeout: float) -> bool:
        return self._registered.wait(timeout)

    def wait_joined(self, channel: str, timeout: float) -> bool:
        """Wait until the server has confirmed our JOIN of ``channel``."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not self.is_joined(channel):
            if self._stopping.is_set() or time.monotonic() > deadline:
                return False
            pause.wait(0.02)
        return True

    def send_raw(self, line: str, paced: bool = True) -> bool:
        """Queue one raw line (``/quote``). Returns False when not connected."""
        try:
            message = parse(line)
        except ProtocolError:
            return False
        return self._send(message, paced)

    def send_text(self, target: str, text: str, kind: str = "message") -> bool:
        """Send text to a channel or nick, split to fit the line limit; ``kind`` is message, action or notice.

        Without echo-message the session reports our own message itself, so every view shows it once.
        """
        if not self.is_registered:
            return False
        command = "NOTICE" if kind == "notice" else "PRIVMSG"
        wrapper = len(ACTION_PREFIX) + 1 if kind == "action" else 0
        # The relayed line is ":<nick!user@host> PRIVMSG <target> :<text>\r\n" and must fit in 512 bytes.
        with self._lock:
            prefix_bytes = self._prefix_bytes
        budget = 512 - 1 - prefix_bytes - len(f" {command} {target} :\r\n".encode()) - wrapper
        for piece in split_text(text, max(budget, 64)):
            body = make_action(piece) if kind == "action" else piece
            if not self._send(Message(command, [target, body]), paced=True):
                return False
            if "echo-message" not in self.caps:
                self._emit(ChatMessage(target, self.nick, piece,
                                       datetime.now(timezone.utc), kind=kind, own=True))
        return True

    def join(self, channel: str, key: str | None = None) -> bool:
        with self._lock:
            self._wanted_channels[casefold(channel)] = channel
        return self._send(Message("JOIN", [channel, key] if key else [channel]), paced=True)

    def part(self, channel: str, reason: str = "") -> bool:
        with self._lock:
            self._wanted_channels.pop(casefold(channel), None)
        return self._send(Message("PART", [channel, reason] if reason else [channel]), paced=True)

    def set_nick(self, nick: str) -> bool:
        return self._send(Message("NICK", [nick]), paced=True)

    def command(self, command: str, *params: str) -> bool:
        """Send any IRC command with parameters (the slash commands use this)."""
        return self._send(Message(command, list(params)), paced=True)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the server has handled everything sent so far (a PING behind it came back)."""
        token = f"classchat-{next(self._tokens)}"
        answered = threading.Event()
        with self._lock:
            self._pongs[token] = answered
        if not self._send(Message("PING", [token]), paced=True):
            return False
        try:
            return answered.wait(timeout)
        finally:
            with self._lock:
                self._pongs.pop(token, None)

    def quit(self, reason: str = "Leaving", timeout: float = 3.0) -> None:
        """Say goodbye, stop reconnecting, and wait for both threads to end."""
        self._quit_requested = True
        if self._sock is not None and self.is_registered:
            self._send(Message("QUIT", [reason]), paced=False)
            self._outgoing.put(None)
            self._writer.join(timeout)
            # The server answers QUIT by closing the connection; give it the chance to read our QUIT first.
            if self._receiver is not threading.current_thread():
                self._receiver.join(timeout)
        self._stopping.set()
        self._outgoing.put(None)
        self._shutdown_socket()
        for thread in (self._receiver, self._writer):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)

    # ------------------------------------------------------------------ sending (the writer thread)

    def _send(self, message: Message, paced: bool) -> bool:
        if self._stopping.is_set() or self._sock is None:
            return False
        try:
            data = message.to_bytes()
        except ValueError:
            return False
        self._outgoing.put((self._generation, data, paced))
        return True

    def _write_loop(self) -> None:
        tokens = float(self.config.pace_burst)
        refilled = time.monotonic()
        while True:
            item = self._outgoing.get()
            if item is None:
                if self._stopping.is_set() or self._quit_requested:
                    return
                continue
            generation, data, paced = item
            if generation != self._generation:
                continue  # queued for a connection that is gone
            if paced and self.config.pace_rate > 0:
                now = time.monotonic()
                tokens = min(float(self.config.pace_burst), tokens + (now - refilled) * self.config.pace_rate)
                refilled = now
                if tokens < 1:
                    if self._stopping.wait((1 - tokens) / self.config.pace_rate):
                        return
                    tokens, refilled = 1.0, time.monotonic()
                tokens -= 1
            sock = self._sock
            if sock is None:
                continue
            try:
                with self._tls_io:
                    sock.sendall(data)
            except OSError:
                continue  # the receiver notices the broken connection and reconnects

    # ------------------------------------------------------------------ the receiver thread

    def _emit(self, event: Event) -> None:
        self.events.put(event)

    def _run(self) -> None:
        delay = self.config.backoff_first
        ever_registered = False
        while not self._stopping.is_set():
            self._emit(ConnectionState("connecting", f"{self.config.host}:{self.config.port}"))
            try:
                self._connect()
            except (OSError, ssl.SSLError) as error:
                detail = getattr(error, "strerror", None) or str(error)
                if not ever_registered or not self.config.reconnect:
                    self._emit(ConnectionState("failed", detail))
                    break
            else:
                self._register()
                detail = self._read_until_closed()
                if self._registered.is_set():
                    ever_registered = True
                    delay = self.config.backoff_first
                self._registered.clear()
            if self._stopping.is_set() or self._quit_requested:
                break
            if self._refused:
                self._emit(ConnectionState("refused", detail))
                break
            if not self.config.reconnect or not ever_registered:
                self._emit(ConnectionState("disconnected", detail))
                break
            wait = delay * random.uniform(0.8, 1.2)
            self._emit(ConnectionState("reconnecting", detail, retry_in=wait))
            if self._stopping.wait(wait):
                break
            delay = min(delay * 2, self.config.backoff_max)
        self._stopping.set()
        self._outgoing.put(None)
        self._emit(ConnectionState("closed"))

    def _connect(self) -> None:
        sock = socket.create_connection((self.config.host, self.config.port), timeout=self.config.connect_timeout)
        if self.config.tls or self.config.tls_pin:
            sock = self._start_tls(sock)
        sock.settimeout(self.config.idle_ping_after)
        with self._lock:
            self._generation += 1
            self._sock = sock
            self._nick = self._preferred_nick
            self._nick_attempt = 0
            self._is_oper = False
            self._mode_queries.clear()
            self._channels.clear()
            self._caps.clear()
            self._cap_offered.clear()

    def _start_tls(self, sock: socket.socket) -> socket.socket:
        """Wrap the socket in TLS: the certificate is verified as usual, or, with a pin, must be exactly
        the pinned one (a classroom server's self-signed certificate)."""
        pin = self.config.tls_pin
        context = ssl.create_default_context()
        if pin or not self.config.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            wrapped = context.wrap_socket(sock, server_hostname=self.config.host)
        except (OSError, ssl.SSLError):
            sock.close()
            raise
        if pin and not tls.matches_pin(wrapped.getpeercert(binary_form=True), pin):
            presented = tls.fingerprint(wrapped.getpeercert(binary_form=True) or b"")
            wrapped.close()
            raise ssl.SSLCertVerificationError(
                ssl.SSL_ERROR_SSL, f"the server's certificate (SHA-256 {presented}) is not the pinned one")
        return wrapped

    def _register(self) -> None:
        config = self.config
        if config.password:
            self._send(Message("PASS", [config.password]), paced=False)
        self._send(Message("CAP", ["LS", "302"]), paced=False)
        self._send(Message("NICK", [self.nick]), paced=False)
        username = config.username or "".join(c for c in config.nick if c.isascii() and c.isalnum()) or "user"
        self._send(Message("USER", [username, "0", "*", config.realname]), paced=False)

    def _read_until_closed(self) -> str:
        """Read and handle lines until the connection ends; returns why it ended."""
        sock = self._sock
        framer = LineFramer.for_client()
        awaiting_pong = False
        reason = "Connection closed"
        try:
            while not self._stopping.is_set():
                try:
                    data = self._receive(sock)
                except socket.timeout:
                    if awaiting_pong:
                        return "Connection timed out"
                    awaiting_pong = True
                    self._send(Message("PING", ["classchat-idle"]), paced=False)
                    continue
                if not data:
                    return reason
                awaiting_pong = False
                for raw in framer.feed(data):
                    try:
                        message = parse(raw.decode(errors="replace"))
                    except ProtocolError:
                        continue  # not an IRC line: nothing a user could act on
                    handled = self._handle(message)
                    if handled:
                        reason = handled
        except (OSError, ssl.SSLError) as error:
            return getattr(error, "strerror", None) or str(error)
        finally:
            with self._lock:
                self._sock = None
                self._generation += 1
            try:
                sock.close()
            except OSError:
                pass  # already closed
        return reason

    def _receive(self, sock: socket.socket) -> bytes:
        """One read; ``socket.timeout`` after ``idle_ping_after`` seconds without data.

        A TLS connection must not be read and written at once (OpenSSL's rule for one connection: a
        session ticket read while a line is written can corrupt a record). So for TLS the reader waits
        for data without the lock, then reads without blocking while holding it; the writer sends with
        it. A read that finds only part of a record, or a TLS message with no text, goes back to waiting.
        """
        if not isinstance(sock, ssl.SSLSocket):
            return sock.recv(65536)
        deadline = time.monotonic() + self.config.idle_ping_after
        while True:
            if not sock.pending():
                remaining = deadline - time.monotonic()
                try:
                    readable, _, _ = select.select([sock], [], [], max(0.0, remaining))
                except (ValueError, OSError):
                    return b""  # closed by quit() meanwhile
                if not readable:
                    raise socket.timeout
            with self._tls_io:
                sock.setblocking(False)
                try:
                    return sock.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                finally:
                    sock.settimeout(self.config.idle_ping_after)

    def _shutdown_socket(self) -> None:
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already disconnected

    # ------------------------------------------------------------------ handling server lines

    def _handle(self, msg: Message) -> str | None:
        """Update state and emit events for one line; returns a disconnect reason for ERROR."""
        handler = _HANDLERS.get(msg.command)
        if handler is not None:
            return handler(self, msg)
        if msg.command.isdigit():
            self._on_numeric(msg)
        return None

    def _is_me(self, nick: str) -> bool:
        with self._lock:
            return casefold(nick) == casefold(self._nick)

    def _on_ping(self, msg: Message) -> None:
        self._send(Message("PONG", msg.params[-1:] or [""]), paced=False)

    def _on_pong(self, msg: Message) -> None:
        token = msg.params[-1] if msg.params else ""
        with self._lock:
            answered = self._pongs.get(token)
        if answered is not None:
            answered.set()

    def _on_error(self, msg: Message) -> str:
        text = msg.param(0, "Closing link")
        if not self._registered.is_set():
            self._refused = True
        return text

    def _on_cap(self, msg: Message) -> None:
        subcommand = msg.param(1).upper()
        if subcommand in ("LS", "NEW"):
            more = len(msg.params) > 3 and msg.params[2] == "*"
            offered = {item.split("=", 1)[0] for item in msg.params[-1].split()}
            with self._lock:
                self._cap_offered |= offered
                wanted = [cap for cap in WANTED_CAPS if cap in self._cap_offered and cap not in self._caps]
            if more:
                return
            if "chathistory" in wanted and "draft/chathistory" in wanted:
                wanted.remove("draft/chathistory")
            if wanted:
                self._send(Message("CAP", ["REQ", " ".join(wanted)]), paced=False)
            elif subcommand == "LS":
                self._send(Message("CAP", ["END"]), paced=False)
        elif subcommand in ("ACK", "NAK"):
            if subcommand == "ACK":
                with self._lock:
                    for item in msg.params[-1].split():
                        if item.startswith("-"):
                            self._caps.discard(item[1:])
                        else:
                            self._caps.add(item)
            if not self._registered.is_set():
                self._send(Message("CAP", ["END"]), paced=False)
        elif subcommand == "DEL":
            with self._lock:
                for item in msg.params[-1].split():
                    self._caps.discard(item)
                    self._cap_offered.discard(item)

    def _on_welcome(self, msg: Message) -> None:
        nick = msg.param(0, self.config.nick)
        words = msg.params[-1].split()
        with self._lock:
            self._nick = nick
            if words and "!" in words[-1]:
                self._prefix_bytes = len(words[-1].encode())
            rejoin = list(self._wanted_channels.values())
            away = self._away
        self._registered.set()
        self._emit(ConnectionState("registered", nick))
        for channel in rejoin:
            self._send(Message("JOIN", [channel]), paced=False)
        if away:
            self._send(Message("AWAY", [away]), paced=False)

    def _on_isupport(self, msg: Message) -> None:
        with self._lock:
            for token in msg.params[1:-1]:
                key, _, value = token.partition("=")
                self._isupport[key.upper()] = value

    def _on_nick_in_use(self, msg: Message) -> None:
        if self._registered.is_set():
            self._on_numeric(msg)
            return
        with self._lock:
            self._nick_attempt += 1
            taken = msg.param(1, self._nick)
            new_nick = self._preferred_nick + "_" * self._nick_attempt
            self._nick = new_nick
        self._emit(Notice("nick_taken", {"nick": taken, "new": new_nick}))
        self._send(Message("NICK", [new_nick]), paced=False)

    def _on_privmsg(self, msg: Message) -> None:
        sender = msg.source_nick
        if not msg.params or (msg.command != "TAGMSG" and len(msg.params) < 2):
            return
        target, text = msg.params[0], msg.param(1)
        own = self._is_me(sender)
        if target.startswith("$") and msg.command != "TAGMSG":
            self._emit(Announcement(sender, text, parse_server_time(msg.tags)))
            return
        from_server = not msg.source or "!" not in msg.source
        if from_server and not is_channel_name(target):
            self._emit(ServerReply(msg.command, text))
            return
        kind = "notice" if msg.command == "NOTICE" else "message"
        if text.startswith("\x01"):
            ctcp = text.strip("\x01")
            verb, _, rest = ctcp.partition(" ")
            if verb.upper() == "ACTION":
                kind, text = "action", rest
            else:
                self._answer_ctcp(sender, verb.upper(), rest, kind)
                return
        conversation = target if is_channel_name(target) else (target if own else sender)
        batch = self._batches.get(msg.tags.get("batch", ""))
        mentions = not own and mentions_nick(text, self.nick) and batch is None
        message = ChatMessage(conversation, sender, text, parse_server_time(msg.tags), kind=kind, own=own,
                              mentions_me=mentions, msgid=msg.tags.get("msgid"), history=batch is not None)
        if batch is not None:
            batch[2].append(message)
        else:
            self._emit(message)

    def _on_batch(self, msg: Message) -> None:
        """IRCv3 batch: a chathistory batch becomes one HistoryBatch event when it ends."""
        reference = msg.param(0)
        if reference.startswith("+") and len(msg.params) >= 2:
            self._batches[reference[1:]] = (msg.params[1], msg.params[2:], [])
            return
        batch = self._batches.pop(reference[1:], None)
        if batch is None:
            return
        batch_type, params, messages = batch
        if batch_type in ("chathistory", "draft/chathistory") and params:
            conversation = params[0]
            with self._lock:
                older = casefold(conversation) in self._older_requested
                self._older_requested.discard(casefold(conversation))
            self._emit(HistoryBatch(conversation, tuple(messages), older=older))

    def _answer_ctcp(self, sender: str, verb: str, rest: str, kind: str) -> None:
        if kind == "notice":
            return  # a CTCP reply: nothing to answer
        replies = {"VERSION": CLIENT_VERSION, "PING": rest, "TIME": datetime.now().astimezone().isoformat()}
        if verb in replies:
            self._send(Message("NOTICE", [sender, f"\x01{verb} {replies[verb]}\x01"]), paced=True)

    def _on_join(self, msg: Message) -> None:
        channel, nick = msg.param(0), msg.source_nick
        own = self._is_me(nick)
        with self._lock:
            folded = casefold(channel)
            if own:
                self._channels[folded] = ChannelState(channel)
                self._wanted_channels[folded] = channel
                self._mode_queries.add(folded)
            state = self._channels.get(folded)
            if state is not None:
                state.add(nick)
        self._emit(Joined(channel, nick, own, parse_server_time(msg.tags)))
        self._emit(MembersChanged(channel))
        if own:
            self._send(Message("MODE", [channel]), paced=False)  # what is set: moderated, questions, …
        if own and self.has_chathistory and self.config.history_on_join > 0:
            self._send(Message("CHATHISTORY", ["LATEST", channel, "*", str(self.config.history_on_join)]),
                       paced=False)

    def _on_part(self, msg: Message) -> None:
        self._remove_member(msg.param(0), msg.source_nick, msg.param(1), msg.tags, kicked_by=None)

    def _on_kick(self, msg: Message) -> None:
        self._remove_member(msg.param(0), msg.param(1), msg.param(2), msg.tags, kicked_by=msg.source_nick)

    def _remove_member(self, channel: str, nick: str, reason: str, tags: dict, kicked_by: str | None) -> None:
        own = self._is_me(nick)
        with self._lock:
            folded = casefold(channel)
            state = self._channels.get(folded)
            if own:
                self._channels.pop(folded, None)
                if kicked_by is None:
                    self._wanted_channels.pop(folded, None)
            elif state is not None:
                state.remove(nick)
        self._emit(Parted(channel, nick, reason, own, parse_server_time(tags), kicked_by=kicked_by))
        self._emit(MembersChanged(channel))

    def _on_quit(self, msg: Message) -> None:
        nick = msg.source_nick
        with self._lock:
            left = [state.name for state in self._channels.values() if state.remove(nick)]
        self._emit(Quit(nick, msg.param(0), tuple(left), parse_server_time(msg.tags)))
        for channel in left:
            self._emit(MembersChanged(channel))

    def _on_nick(self, msg: Message) -> None:
        old, new = msg.source_nick, msg.param(0)
        own = self._is_me(old)
        with self._lock:
            if own:
                self._prefix_bytes += len(new.encode()) - len(self._nick.encode())
                self._nick = self._preferred_nick = new
            channels = [state.name for state in self._channels.values() if state.rename(old, new)]
        self._emit(NickChanged(old, new, own, tuple(channels), parse_server_time(msg.tags)))
        for channel in channels:
            self._emit(MembersChanged(channel))

    def _on_topic(self, msg: Message) -> None:
        channel, topic = msg.param(0), msg.param(1)
        with self._lock:
            state = self._channels.get(casefold(channel))
            if state is not None:
                state.topic = topic
        self._emit(TopicChanged(channel, topic, msg.source_nick, parse_server_time(msg.tags)))

    def _on_topic_reply(self, msg: Message) -> None:
        channel = msg.param(1)
        topic = msg.param(2) if msg.command == rpl.RPL_TOPIC else ""
        with self._lock:
            state = self._channels.get(casefold(channel))
            if state is not None:
                state.topic = topic
        self._emit(TopicChanged(channel, topic, None, datetime.now(timezone.utc), on_join=True))

    def _on_names(self, msg: Message) -> None:
        channel = msg.params[-2] if len(msg.params) >= 3 else ""
        prefixes = self._prefix_symbols()
        with self._lock:
            names = self._pending_names.setdefault(casefold(channel), {})
            for item in msg.params[-1].split():
                nick = item.lstrip(prefixes)
                names[nick.split("!")[0]] = item[: len(item) - len(nick)]

    def _on_end_of_names(self, msg: Message) -> None:
        channel = msg.param(1)
        with self._lock:
            names = self._pending_names.pop(casefold(channel), None)
            state = self._channels.get(casefold(channel))
            if state is not None and names is not None:
                state.replace(names)
        if state is not None:
            self._emit(MembersChanged(state.name))

    def _on_mode(self, msg: Message) -> None:
        target = msg.param(0)
        modes = " ".join(msg.params[1:])
        changes: list[tuple[str, str]] = []
        if is_channel_name(target):
            changes = self._apply_channel_modes(target, msg.params[1:])
            self._emit(MembersChanged(target))
        elif self._is_me(target):
            with self._lock:
                for adding, letter in signed_letters(msg.param(1)):
                    if letter == "o":
                        self._is_oper = adding
        self._emit(ModeChanged(target, msg.source_nick, modes, parse_server_time(msg.tags), tuple(changes)))

    def _on_channel_mode_is(self, msg: Message) -> None:
        """RPL_CHANNELMODEIS: the modes of a channel; shown unless it answers our own query after a join."""
        channel = msg.param(1)
        self._apply_channel_modes(channel, msg.params[2:], replace=True)
        with self._lock:
            asked_by_us = casefold(channel) in self._mode_queries
            self._mode_queries.discard(casefold(channel))
        if asked_by_us:
            self._emit(MembersChanged(channel))
        else:
            self._emit(ServerReply(msg.command, format_numeric(msg)))

    def _apply_channel_modes(self, channel: str, params: list[str], replace: bool = False) -> list[tuple[str, str]]:
        """Track a channel's modes: +o/+v (and any PREFIX mode) in the member list, flag modes and the
        mute list in its state. Returns the single changes."""
        mode_to_symbol = self._prefix_modes()
        chanmodes = self._isupport.get("CHANMODES", "b,k,l,imnt").split(",")
        always_param = set("".join(chanmodes[:2])) | set(mode_to_symbol)
        set_param = set(chanmodes[2]) if len(chanmodes) > 2 else set()
        flags = set(chanmodes[3]) if len(chanmodes) > 3 else set()
        args = list(params[1:])
        changes: list[tuple[str, str]] = []
        with self._lock:
            state = self._channels.get(casefold(channel))
            if state is not None and replace:
                state.modes.clear()
            for adding, letter in signed_letters(params[0] if params else ""):
                takes = letter in always_param or (adding and letter in set_param)
                arg = (args.pop(0) if args else "") if takes else ""
                changes.append((("+" if adding else "-") + letter, arg))
                if state is None:
                    continue
                if letter in mode_to_symbol and arg:
                    state.set_prefix(arg, mode_to_symbol[letter], adding, "".join(mode_to_symbol.values()))
                elif letter == "q" and arg:
                    (state.mutes.add if adding else state.mutes.discard)(arg)
                elif letter in flags:
                    (state.modes.add if adding else state.modes.discard)(letter)
        return changes

    def _on_youreoper(self, msg: Message) -> None:
        with self._lock:
            self._is_oper = True
        self._on_numeric(msg)

    def _prefix_modes(self) -> dict[str, str]:
        prefix = self._isupport.get("PREFIX", "(ov)@+")
        if prefix.startswith("(") and ")" in prefix:
            modes, symbols = prefix[1:].split(")", 1)
            return dict(zip(modes, symbols))
        return {"o": "@", "v": "+"}

    def _prefix_symbols(self) -> str:
        return "".join(self._prefix_modes().values()) or "@+"

    def _on_away(self, msg: Message) -> None:
        self._emit(AwayChanged(msg.source_nick, msg.param(0) or None))

    def _on_invite(self, msg: Message) -> None:
        self._emit(Invited(msg.param(1), msg.source_nick))

    def _on_fail(self, msg: Message) -> None:
        self._emit(ErrorReply(msg.command, " ".join(msg.params[1:])))

    def _on_numeric(self, msg: Message) -> None:
        code = msg.command
        text = " ".join(msg.params[1:])
        if code.startswith(("4", "5")):
            target = msg.params[1] if len(msg.params) > 2 else None
            self._emit(ErrorReply(code, text, target))
            if code == rpl.ERR_PASSWDMISMATCH or code == "465":
                self._refused = True
        elif code not in _SILENT_NUMERICS:
            self._emit(ServerReply(code, format_numeric(msg)))

    @property
    def has_chathistory(self) -> bool:
        caps = self.caps
        return "draft/chathistory" in caps or "chathistory" in caps

    def request_older(self, conversation: str, before_msgid: str, limit: int = 50) -> bool:
        """Ask for the page of history before a message; it arrives as a ``HistoryBatch`` with older=True."""
        if not self.has_chathistory:
            return False
        with self._lock:
            self._older_requested.add(casefold(conversation))
        return self._send(Message("CHATHISTORY", ["BEFORE", conversation, f"msgid={before_msgid}", str(limit)]),
                          paced=True)

    def set_away(self, message: str | None) -> bool:
        with self._lock:
            self._away = message
        return self._send(Message("AWAY", [message] if message else []), paced=True)


def format_numeric(msg: Message) -> str:
    """Readable text for an informational numeric: its layout where it has one, else its last parameter."""
    layout = _NUMERIC_LAYOUTS.get(msg.command)
    params = msg.params[1:]
    if layout is not None:
        try:
            return layout.format(*params)
        except IndexError:
            pass  # a server that sends fewer parameters than RFC 2812 says: show what it sent
    return params[-1] if params else ""


_NUMERIC_LAYOUTS = {
    rpl.RPL_AWAY: "{0} is away: {1}",
    rpl.RPL_WHOISUSER: "{0} is {1}@{2} ({4})",
    rpl.RPL_WHOISSERVER: "{0} is connected to {1} ({2})",
    rpl.RPL_WHOISOPERATOR: "{0} {1}",
    rpl.RPL_WHOISIDLE: "{0} has been idle {1} s",
    rpl.RPL_WHOISCHANNELS: "{0} is on {1}",
    rpl.RPL_LIST: "{0} ({1}): {2}",
    rpl.RPL_CHANNELMODEIS: "{0} modes: {1}",
    rpl.RPL_INVITING: "Inviting {0} to {1}",
    rpl.RPL_WHOREPLY: "{0} {5} {6} {2}@{3} ({7})",
    rpl.RPL_BANLIST: "{0} ban {1} (by {2})",
    rpl.RPL_ISON: "Online: {0}",
    rpl.RPL_UMODEIS: "Your modes: {0}",
    rpl.RPL_LUSEROP: "{0} {1}",
    rpl.RPL_LUSERUNKNOWN: "{0} {1}",
    rpl.RPL_LUSERCHANNELS: "{0} {1}",
}

# Numerics the session digests itself or that only repeat what events already say.
_SILENT_NUMERICS = {rpl.RPL_WELCOME, rpl.RPL_ISUPPORT, rpl.RPL_MYINFO, rpl.RPL_NAMREPLY, rpl.RPL_ENDOFNAMES,
                    rpl.RPL_TOPICWHOTIME, rpl.RPL_CREATIONTIME, rpl.RPL_ENDOFWHO, rpl.RPL_LISTSTART}

_HANDLERS: dict[str, Callable[[Session, Message], str | None]] = {
    "PING": Session._on_ping,
    "PONG": Session._on_pong,
    "ERROR": Session._on_error,
    "CAP": Session._on_cap,
    "PRIVMSG": Session._on_privmsg,
    "NOTICE": Session._on_privmsg,
    "JOIN": Session._on_join,
    "PART": Session._on_part,
    "KICK": Session._on_kick,
    "QUIT": Session._on_quit,
    "NICK": Session._on_nick,
    "TOPIC": Session._on_topic,
    "MODE": Session._on_mode,
    "AWAY": Session._on_away,
    "INVITE": Session._on_invite,
    "BATCH": Session._on_batch,
    "FAIL": Session._on_fail,
    rpl.RPL_WELCOME: Session._on_welcome,
    rpl.RPL_CHANNELMODEIS: Session._on_channel_mode_is,
    rpl.RPL_YOUREOPER: Session._on_youreoper,
    rpl.RPL_ISUPPORT: Session._on_isupport,
    rpl.ERR_NICKNAMEINUSE: Session._on_nick_in_use,
    rpl.RPL_TOPIC: Session._on_topic_reply,
    rpl.RPL_NOTOPIC: Session._on_topic_reply,
    rpl.RPL_NAMREPLY: Session._on_names,
    rpl.RPL_ENDOFNAMES: Session._on_end_of_names,
}
