"""The protocol on screen: every raw IRC line a session sends and receives, kept for a view to show, with
its passwords masked.

The transport's two threads record each line as it goes (``RawLineLog.record``): the writer just before it
sends a line (so that an answer can never be shown before its question), the receiver each line it frames,
before it is parsed, and a note when a connection starts or ends. Recording is one append to a bounded
deque under a lock held for that append only: neither thread ever waits on a view, and nothing is
decoded, parsed or masked then. A view asks for what is new since the last sequence number it saw
(``since``, from a Tk tick while the protocol pane is open), or waits for it on a thread of its own
(``wait_since``, the CLI's ``--raw``). The log keeps the last ``capacity`` lines, so a pane opened after
connecting still shows the registration burst, and a view that fell behind learns how many it missed.

``mask_secrets_in_line`` is the one rule for what is never shown, used by both clients: the password of
PASS, of OPER and of REGISTER, every AUTHENTICATE payload (a SASL PLAIN payload is the password in
base64), and what follows IDENTIFY, REGISTER, GHOST, RECOVER or SETPASS in a message to a service
(``/msg NickServ IDENTIFY …``). ``shown`` turns a record into what the views print: direction, time, the
masked text with control characters made visible, and the kind of command, for its colour.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, NamedTuple

from common.client.formatting import visible_controls
from common.protocol.message import Message, ProtocolError, parse

SENT, RECEIVED, NOTE = "→", "←", "·"
RECENT_LINES = 1000  # what a session keeps for a protocol pane opened later
MASK = "********"

# The commands that carry a password, and the index of the first parameter that is (or may be) one.
SECRET_PARAMS = {"PASS": 0, "OPER": 1, "AUTHENTICATE": 0, "REGISTER": 2}
# Verbs of a message to a service (NickServ, …) whose words after them are a password.
SERVICE_VERBS = frozenset({"IDENTIFY", "REGISTER", "GHOST", "RECOVER", "SETPASS"})
# Commands some servers take as a shortcut for messaging a service: "NS IDENTIFY password".
SERVICE_COMMANDS = frozenset({"NICKSERV", "NS", "CHANSERV", "CS"})
# AUTHENTICATE words that are not a payload: the mechanism a client asks for (IRCv3 sasl-3.1), "+" (an
# empty payload, or the server's go-ahead) and "*" (abort). Anything else is a payload and masked.
SASL_MECHANISMS = frozenset({"PLAIN", "EXTERNAL", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-512",
                             "ECDSA-NIST256P-CHALLENGE", "ANONYMOUS"})
SASL_NOT_PAYLOAD = SASL_MECHANISMS | {"+", "*"}
# Replies that report a failure: ERR_* numerics (400-599, RFC 2812 §5.2) and the SASL failures (902, 904-908).
_ERROR_NUMERICS = frozenset({"902", "904", "905", "906", "907", "908"})
_KINDS = {
    **dict.fromkeys(("PRIVMSG", "NOTICE", "TAGMSG", "REDACT"), "message"),  # REDACT: a deleted message
    **dict.fromkeys(("JOIN", "PART", "QUIT", "KICK", "NICK", "INVITE"), "membership"),
    **dict.fromkeys(("MODE", "TOPIC"), "mode"),
    **dict.fromkeys(("PING", "PONG"), "ping"),
    **dict.fromkeys(("CAP", "AUTHENTICATE", "PASS", "USER", "REGISTER", "OPER"), "cap"),
    **dict.fromkeys(("ERROR", "FAIL", "KILL"), "error"),
}
KINDS = ("message", "membership", "mode", "numeric", "ping", "cap", "error", "other", "note")


def mask_secrets_in_line(line: str) -> str:
    """``line`` with every password in it replaced by ``MASK``; a line without one comes back as it was.

    The line is read with the protocol's one parser, so tags, a source, any letter case and any spacing
    are understood as a server would understand them; a masked line is written back in the normal form.
    A line that cannot be parsed is masked after its command word when that word carries passwords.
    """
    try:
        message = parse(line)
    except ProtocolError:
        return _mask_unparsed(line)
    return _masked(message, line)


def _masked(message: Message, line: str) -> str:
    masked = masked_params(message)
    if masked is None:
        return line
    return Message(message.command, masked, message.source, message.tags).format()


def masked_params(message: Message) -> list[str] | None:
    """The parameters of ``message`` with its password masked, or None when it carries none."""
    params, command = message.params, message.command
    if command in ("PRIVMSG", "NOTICE") and len(params) > 1 and params[0].lower().endswith("serv"):
        verb, space, rest = params[1].strip(" ").partition(" ")
        if verb.upper() in SERVICE_VERBS and rest.strip():
            return [*params[:-1], f"{verb}{space}{MASK}"]
        return None
    if command in SERVICE_COMMANDS:
        first = 1 if params and params[0].upper() in SERVICE_VERBS else None
    elif command == "AUTHENTICATE":
        first = None if message.param(0).upper() in SASL_NOT_PAYLOAD else 0
    elif command == "REGISTER":
        # A server's REGISTER (SUCCESS, VERIFICATION_REQUIRED) carries a source and no password; a client's
        # is "REGISTER <account> <email|*> <password>", or shorter forms whose last word is the password.
        first = None if message.source or not params else min(SECRET_PARAMS[command], len(params) - 1)
    else:
        first = SECRET_PARAMS.get(command)
    if first is None or first >= len(params):
        return None
    return [*params[:first], MASK]


def _mask_unparsed(line: str) -> str:
    """The fallback for a line the parser refuses (a NUL byte, a broken tag): everything after a command
    word that carries passwords goes."""
    words = line.split(" ")
    for index, word in enumerate(words):
        if not word or (word.startswith(("@", ":")) and index < 2):
            continue  # the tags, the source, extra spaces
        command = word.upper()
        if command in SECRET_PARAMS or command in SERVICE_COMMANDS:
            return " ".join([*words[:index + 1], MASK])
        target = next((later for later in words[index + 1:] if later), "")
        if command in ("PRIVMSG", "NOTICE") and target.lower().endswith("serv"):
            return " ".join([*words[:index + 1], target, MASK])
        return line
    return line


def kind_of(command: str) -> str:
    """What kind of line a command makes, for its colour: message, membership, mode, numeric, ping,
    cap (registration and capabilities), error or other."""
    if command.isdigit() and len(command) == 3:
        return "error" if command[0] in "45" or command in _ERROR_NUMERICS else "numeric"
    return _KINDS.get(command, "other")


class RawRecord(NamedTuple):
    """One recorded line: its sequence number in the log, SENT, RECEIVED or NOTE, the wall-clock time,
    and the line as on the wire (bytes, perhaps with its CRLF) or, for a NOTE, a texts key and values."""

    seq: int
    direction: str
    time: float
    data: bytes | tuple[str, dict[str, str]]


@dataclass(frozen=True)
class ShownLine:
    """A record as the views show it: ``text`` is masked and printable; ``kind`` picks its colour."""

    direction: str
    time: float
    text: str
    kind: str

    @property
    def clock(self) -> str:
        """The time to the millisecond ("14:03:27.512"): enough to see a question and its answer apart."""
        return time.strftime("%H:%M:%S", time.localtime(self.time)) + f".{int(self.time * 1000) % 1000:03d}"


def shown(record: RawRecord, describe_note: Callable[[str, dict[str, str]], str]) -> ShownLine:
    """What a view shows of a record. ``describe_note(key, values)`` words a note (``texts.tr``)."""
    if record.direction == NOTE:
        key, values = record.data
        return ShownLine(NOTE, record.time, describe_note(key, values), "note")
    line = record.data.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        message = parse(line)
    except ProtocolError:
        return ShownLine(record.direction, record.time, visible_controls(_mask_unparsed(line)), "other")
    text = visible_controls(_masked(message, line))
    return ShownLine(record.direction, record.time, text, kind_of(message.command))


class RawLineLog:
    """The last ``capacity`` lines of a session, for any number of views. ``record`` and ``note`` (the
    transport's threads) never wait on a view; ``since`` (any thread) and ``wait_since`` (a view's own
    thread) return the records after a sequence number and how many of those are no longer kept.
    ``close()`` (the session has ended) wakes every ``wait_since``."""

    def __init__(self, capacity: int = RECENT_LINES) -> None:
        self.capacity = capacity
        self._records: deque[RawRecord] = deque(maxlen=capacity)
        self._changed = threading.Condition(threading.Lock())
        self._numbers = itertools.count(1)
        self._latest = 0
        self.closed = False

    def record(self, direction: str, data: bytes) -> None:
        """A line sent (SENT) or received (RECEIVED), as on the wire."""
        self._append(direction, data)

    def note(self, key: str, **values: str) -> None:
        """Something about the connection (connected, disconnected), worded by the view: a texts key."""
        self._append(NOTE, (key, values))

    def _append(self, direction: str, data: bytes | tuple[str, dict[str, str]]) -> None:
        with self._changed:
            self._latest = next(self._numbers)
            self._records.append(RawRecord(self._latest, direction, time.time(), data))
            self._changed.notify_all()

    @property
    def latest(self) -> int:
        """The sequence number of the newest record (0: none yet)."""
        return self._latest

    def since(self, seq: int) -> tuple[list[RawRecord], int]:
        """The records after ``seq`` that are still kept, oldest first, and how many after ``seq`` are not."""
        with self._changed:
            return self._newer(seq)

    def wait_since(self, seq: int, timeout: float) -> tuple[list[RawRecord], int]:
        """As ``since``, waiting up to ``timeout`` seconds for a record after ``seq`` (or the log's end)."""
        with self._changed:
            self._changed.wait_for(lambda: self._latest > seq or self.closed, timeout)
            return self._newer(seq)

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def _newer(self, seq: int) -> tuple[list[RawRecord], int]:
        new = max(0, self._latest - seq)
        kept = min(new, len(self._records))
        records = list(itertools.islice(reversed(self._records), kept))
        records.reverse()
        return records, new - kept
