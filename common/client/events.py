"""The events a ``Session`` reports: what the GUI and the CLI consume, and nothing else.

The receiver thread (``handlers.py``, and ``transport.py`` for the connection's state) makes these frozen
dataclasses and puts them on the session's ``events`` queue; a view drains the queue in its own thread (the
Tk main loop, the CLI's printer) and never touches the session's state directly. They are plain values: this
module imports only the standard library and the protocol's values, so a view can import it without the
threads behind it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from common.protocol.attendance import AttendanceRow

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
    """Informational text from the server (MOTD, WHOIS, LIST rows, …) for the current view. ``text`` is in
    English; ``params`` (those after our nick) let a view word a numeric in its own language. ``welcome``:
    it came while connecting, before the end of the MOTD (banner, user counts), not as an answer."""

    code: str
    text: str
    params: tuple[str, ...] = ()
    welcome: bool = False


@dataclass(frozen=True)
class ErrorReply(Event):
    """An error numeric or FAIL: something the user asked for did not happen. ``text`` and ``params`` as
    for ``ServerReply``."""

    code: str
    text: str
    target: str | None = None
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class NamesList(Event):
    """Who is in a channel, as the user asked (/names): (prefix symbols, nick) pairs, highest prefix first."""

    channel: str
    members: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NickRefused(Event):
    """Registration cannot finish: the server does not accept ``nick`` (``taken``: it is in use, and so are
    the alternatives the session tried). Nothing happens until the user picks another nick
    (``Session.set_nick``) or quits."""

    nick: str
    taken: bool


@dataclass(frozen=True)
class Notice(Event):
    """Something the session itself wants the user to know (e.g. "nick taken, using alice_")."""

    key: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MessageDeleted(Event):
    """A message was deleted (IRCv3 REDACT) by ``by``: its sender, or a channel operator or the teacher.
    ``sender`` is whose message it was when the session saw it (None otherwise); ``own``: we deleted it."""

    conversation: str
    msgid: str
    by: str
    sender: str | None
    reason: str
    time: datetime
    own: bool = False


@dataclass(frozen=True)
class ReactionsChanged(Event):
    """``nick`` reacted to the message ``msgid`` with ``emoji`` (or took it back: ``added`` False); the
    counts as they stand are ``Session.reactions.counts(msgid)``. ``history``: it came with a history page."""

    conversation: str
    msgid: str
    nick: str
    emoji: str
    added: bool
    history: bool = False


@dataclass(frozen=True)
class AttendanceReport(Event):
    """The teacher's answer to ``Session.request_attendance``: a row per person per day in a class channel,
    from ``since`` (YYYY-MM-DD, None: from the start); ``left_out`` earlier rows did not fit the server's budget."""

    channel: str
    since: str | None
    rows: tuple[AttendanceRow, ...]
    left_out: int = 0
