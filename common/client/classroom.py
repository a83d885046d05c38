"""Raised hands and quick polls in our clients: the server's HAND, HANDS and POLL lines as state and events.

The server offers them under the capability ``classchat.org/classroom`` (``CLASSROOM_CAP``), which the
session asks for; a view shows hands and polls only once it was granted (``Session.has_classroom``).
Each joined channel keeps a ``ChannelClassroom`` (``ChannelState.classroom``): the queue of hands, oldest
first, with the server's time each went up, and the channel's poll (the open one, or the last one closed,
for its result and its CSV). The receiver thread changes it in ``classroom_events`` under the state's
lock and reports ``HandsChanged``, ``HandAction`` and ``PollChanged``; a view reads a copy with
``Session.classroom(channel)`` from its own thread.

Following the server's rules, a hand goes down when its owner leaves the channel (``ChannelState.remove``)
and follows a nick change (``ChannelState.rename``): the server sends no HANDS line for those. Times are
the server's (its lines carry a ``time`` tag): ``clock_offset_ms`` is how far its clock is ahead of ours,
so that "up for 1:20" and "closes in 0:42" do not depend on a student's laptop clock.

Also here, without Tk: reading a teacher's ``/poll`` line (``read_poll_command``) and writing a poll's
result as CSV (``write_poll_csv``).
"""
from __future__ import annotations

import csv
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Mapping, Protocol, TextIO

from common.client.events import Event
from common.protocol.casemap import casefold
from common.protocol.classroom import (MAX_OPTIONS, MAX_POLL_ID, MAX_TIME_MS, MIN_OPTIONS,
                                       POLL_SEPARATOR, PollText, poll_problem, read_counts, read_entries,
                                       read_time_limit)
from common.protocol.message import Message
from common.protocol.params import parse_count, parse_timestamp

MAX_QUEUE = 10_000  # entries of a HANDS or VOTERS list gathered over several lines, at most


# ------------------------------------------------------------------ events

@dataclass(frozen=True)
class ClassroomEvent(Event):
    """Something about the hands or the poll of ``channel``. ``minor``: a view with a classroom panel shows it
    there and not as a line of the conversation (a text client prints it all the same)."""

    channel: str

    @property
    def minor(self) -> bool:
        return True


@dataclass(frozen=True)
class HandsChanged(ClassroomEvent):
    """The queue of hands changed (read it with ``Session.classroom``), or came as the answer to
    ``Session.list_hands`` (``asked``: then ``hands`` holds it, for a view to show in words)."""

    asked: bool = False
    hands: tuple[tuple[str, int], ...] = ()
    server_now_ms: int = 0

    @property
    def minor(self) -> bool:
        return not self.asked


@dataclass(frozen=True)
class HandAction(ClassroomEvent):
    """Who did what to a hand: ``action`` is up, down, call, lower or clear; ``nick`` whom a teacher called
    on or whose hand they lowered; ``count`` the hands up after it. ``own``: we did it; ``about_me``: it
    was done to us."""

    actor: str = ""
    action: str = ""
    nick: str = ""
    count: int = 0
    own: bool = False
    about_me: bool = False
    time: datetime | None = None

    @property
    def minor(self) -> bool:
        return self.action in ("up", "down")


@dataclass(frozen=True)
class PollView:
    """A poll as the session knows it. ``counts`` are known to the channel's operators (and to everyone once
    ``closed``); ``my_vote`` is 0 until we voted; ``closes_at`` is the server's time in ms (0: no limit)."""

    number: int
    question: str
    options: tuple[str, ...]
    named: bool
    closes_at: int
    opener: str
    counts: tuple[int, ...] = ()
    my_vote: int = 0
    closed: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class PollChanged(ClassroomEvent):
    """``kind``: opened, ballot (our own vote counted), counts, voter (who voted what, named polls), voters
    (the list of them, on joining), closed. ``server_now_ms``: the server's time when it said so."""

    kind: str = ""
    poll: PollView | None = None
    voter: str = ""
    option: int = 0
    server_now_ms: int = 0
    time: datetime | None = None

    @property
    def minor(self) -> bool:
        return self.kind != "opened"


@dataclass(frozen=True)
class ClassroomView:
    """A copy of a channel's hands and poll, for a view: ``hands`` are (nick, raised at in the server's ms),
    oldest first; ``voters`` (nick, option) in a named poll, for its operators."""

    hands: tuple[tuple[str, int], ...] = ()
    poll: PollView | None = None
    voters: tuple[tuple[str, int], ...] = ()
    clock_offset_ms: int = 0

    def server_now_ms(self) -> int:
        """Now by the server's clock (as far as its last line told)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    def hand_of(self, nick: str) -> bool:
        return any(casefold(owner) == casefold(nick) for owner, _ in self.hands)


# ------------------------------------------------------------------ state

@dataclass
class ChannelClassroom:
    """The hands and poll of one joined channel; changed by the receiver thread under the state's lock."""

    hands: list[tuple[str, int]] = field(default_factory=list)
    poll: PollView | None = None
    voters: dict[str, tuple[str, int]] = field(default_factory=dict)  # folded nick -> (nick, option)
    clock_offset_ms: int = 0
    queue_asked: bool = False  # the user asked to see the queue (Session.list_hands): the next one says it
    _gathering: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # HANDS/VOTERS lines with "*"

    def drop_hand(self, nick: str) -> None:
        self.hands = [entry for entry in self.hands if casefold(entry[0]) != casefold(nick)]

    def rename(self, old: str, new: str) -> None:
        self.hands = [(new if casefold(owner) == casefold(old) else owner, at) for owner, at in self.hands]
        entry = self.voters.pop(casefold(old), None)
        if entry is not None:
            self.voters[casefold(new)] = (new, entry[1])

    def view(self) -> ClassroomView:
        return ClassroomView(tuple(self.hands), self.poll, tuple(self.voters.values()), self.clock_offset_ms)

    def gather(self, kind: str, msg: Message, first: int, high: int) -> list[tuple[str, int]] | None:
        """Entries of a list that may take several lines (``*`` before the last parameter on all but the
        last): None until the last line, then the whole list."""
        entries = self._gathering.pop(kind, [])
        entries.extend(read_entries(msg.params[-1], high)[:MAX_QUEUE - len(entries)])
        if len(msg.params) > first + 1 and msg.params[first] == "*":
            self._gathering[kind] = entries
            return None
        return entries


# ------------------------------------------------------------------ reading the server's lines

class JoinedChannel(Protocol):
    """What this module reads of a joined channel (``state.ChannelState``)."""

    name: str
    classroom: ChannelClassroom


class SessionState(Protocol):
    """What this module reads of the session's state (``state.ClientState``, which imports this module)."""

    lock: threading.Lock
    nick: str
    channels: Mapping[str, JoinedChannel]


def classroom_events(state: SessionState, msg: Message) -> list[Event]:
    """Apply a HAND, HANDS or POLL line to the state (taking its lock) and say what changed."""
    if len(msg.params) < 2:
        return []
    with state.lock:
        channel_state = state.channels.get(casefold(msg.params[0]))
        if channel_state is None:
            return []
        room = channel_state.classroom
        if msg.command != "POLL" or msg.params[1] == "OPENED":  # the lines whose times a view counts from
            server_time = parse_timestamp(msg.tags.get("time", ""))
            if server_time is not None:
                room.clock_offset_ms = server_time - int(time.time() * 1000)
        me = casefold(state.nick)
        reader = _READERS.get(msg.command)
        return reader(room, channel_state.name, msg, me) if reader is not None else []


def line_time(msg: Message) -> datetime | None:
    """When the server sent the line (its ``time`` tag), for the line a view shows; None without one."""
    when = parse_timestamp(msg.tags.get("time", ""))
    return datetime.fromtimestamp(when / 1000, timezone.utc) if when is not None else None


def _read_hands(room: ChannelClassroom, channel: str, msg: Message, me: str) -> list[Event]:
    entries = room.gather("hands", msg, 1, MAX_TIME_MS)
    if entries is None:
        return []
    room.hands = entries
    asked, room.queue_asked = room.queue_asked, False
    if not asked:
        return [HandsChanged(channel)]
    return [HandsChanged(channel, True, tuple(entries), int(time.time() * 1000) + room.clock_offset_ms)]


def _read_hand(room: ChannelClassroom, channel: str, msg: Message, me: str) -> list[Event]:
    action = msg.params[1].lower()
    if action not in ("up", "down", "call", "lower", "clear"):
        return []
    nick = msg.param(2)
    return [HandAction(channel, msg.source_nick, action, nick, len(room.hands), casefold(msg.source_nick) == me,
                       bool(nick) and casefold(nick) == me, line_time(msg))]


def _read_poll(room: ChannelClassroom, channel: str, msg: Message, me: str) -> list[Event]:
    kind = msg.params[1].upper()
    if kind == "OPENED":
        return _read_opened(room, channel, msg)
    poll = room.poll
    number = parse_count(msg.param(2), 1, MAX_POLL_ID)
    if poll is None or number != poll.number:
        return []  # about a poll we never saw opened (or an old one)
    if kind == "BALLOT":
        option = parse_count(msg.param(3), 1, len(poll.options))
        if option is None:
            return []
        room.poll = replace(poll, my_vote=option)
        return [PollChanged(channel, "ballot", room.poll, option=option)]
    if kind in ("COUNTS", "CLOSED") and len(msg.params) >= 4:
        counts = read_counts(msg.params[3], len(poll.options))
        if counts is None:
            return []
        room.poll = replace(poll, counts=tuple(counts), closed=poll.closed or kind == "CLOSED")
        return [PollChanged(channel, kind.lower(), room.poll)]
    if kind == "VOTER" and len(msg.params) >= 5:  # who voted what, and (at the end) the counts after it
        nick, option = msg.params[3], parse_count(msg.params[4], 0, len(poll.options))
        counts = read_counts(msg.params[5], len(poll.options)) if len(msg.params) > 5 else None
        if option is None:
            return []
        if option:
            room.voters[casefold(nick)] = (nick, option)
        else:
            room.voters.pop(casefold(nick), None)
        if counts is not None:
            room.poll = replace(poll, counts=tuple(counts))
        return [PollChanged(channel, "voter", room.poll, voter=nick, option=option)]
    if kind == "VOTERS" and len(msg.params) >= 4:
        entries = room.gather("voters", msg, 3, len(poll.options))
        if entries is not None:
            room.voters = {casefold(nick): (nick, option) for nick, option in entries if option}
            return [PollChanged(channel, "voters", poll)]
    return []


def _read_opened(room: ChannelClassroom, channel: str, msg: Message) -> list[Event]:
    """``POLL #c OPENED <number> named|anonymous <closes at> <opener> :<question>|<option>|…``"""
    if len(msg.params) < 7:
        return []
    number = parse_count(msg.params[2], 1, MAX_POLL_ID)
    closes_at = parse_count(msg.params[4], 0, MAX_TIME_MS)
    question, *options = msg.params[6].split(POLL_SEPARATOR)
    if number is None or closes_at is None or not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        return []
    same = room.poll is not None and room.poll.number == number and not room.poll.closed
    if not same:
        room.voters = {}
    my_vote = room.poll.my_vote if same else 0
    room.poll = PollView(number, question, tuple(options), msg.params[3].lower() == "named", closes_at,
                         msg.params[5], (0,) * len(options), my_vote)
    return [PollChanged(channel, "opened", room.poll, server_now_ms=int(time.time() * 1000) + room.clock_offset_ms,
                        time=line_time(msg))]


_READERS = {"HANDS": _read_hands, "HAND": _read_hand, "POLL": _read_poll}


# ------------------------------------------------------------------ what a teacher types

@dataclass(frozen=True)
class PollRequest:
    """A poll to open: what ``POLL <#channel> OPEN`` sends."""

    text: PollText
    named: bool = False
    seconds: int = 0

    def params(self, channel: str) -> list[str]:
        return [channel, "OPEN", "NAMED" if self.named else "ANON", str(self.seconds), self.text.wire()]


# Why a poll cannot be opened, as keys of the texts catalogue.
POLL_PROBLEM_KEYS = {"BAD_QUESTION": "poll_bad_question", "BAD_OPTIONS": "poll_bad_options",
                     "TOO_LONG": "poll_too_long", "BAD_TIME_LIMIT": "poll_bad_time"}


def make_poll_request(question: str, options: list[str], named: bool, seconds_text: str) -> PollRequest | str:
    """A poll from a form's fields (empty options left out), or the texts key of what is wrong with it."""
    options = [option.strip() for option in options if option.strip()]
    seconds = read_time_limit(seconds_text.strip() or "0")
    if seconds is None:
        return POLL_PROBLEM_KEYS["BAD_TIME_LIMIT"]
    problem = poll_problem(question, options)
    if problem is not None:
        return POLL_PROBLEM_KEYS[problem]
    return PollRequest(PollText(question.strip(), tuple(options)), named, seconds)


def read_poll_command(rest: str) -> PollRequest | str:
    """``/poll [named] [SECONDS] question | option | option…``: a poll, or the texts key of the problem."""
    words = rest.split(" ")
    named, seconds_text = False, "0"
    while words and (words[0] in ("named", "anon", "") or (words[0].isascii() and words[0].isdigit())):
        word = words.pop(0)
        if word in ("named", "anon"):
            named = word == "named"
        elif word:
            seconds_text = word
    question, *options = " ".join(words).split(POLL_SEPARATOR)
    return make_poll_request(question, options, named, seconds_text)


# ------------------------------------------------------------------ the result as CSV

CSV_HEADER = ("channel", "poll", "question", "number", "option", "votes", "percent", "voters")


def _cell(text: str) -> str:
    """Text a spreadsheet would take for a formula (=, +, -, @ first) kept as text; numbers stay numbers."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def poll_csv_rows(channel: str, poll: PollView, voters: tuple[tuple[str, int], ...] = ()) -> list[list[str]]:
    """One row per option: its votes, its share, and in a named poll who chose it."""
    total = poll.total
    rows = [list(CSV_HEADER)]
    for number, option in enumerate(poll.options, 1):
        count = poll.counts[number - 1] if number <= len(poll.counts) else 0
        chosen = sorted((nick for nick, choice in voters if choice == number), key=casefold)
        rows.append([channel, str(poll.number), _cell(poll.question), str(number), _cell(option), str(count),
                     str(round(100 * count / total)) if total else "0", "; ".join(chosen)])
    return rows


def write_poll_csv(stream: TextIO, channel: str, poll: PollView, voters: tuple[tuple[str, int], ...] = ()) -> None:
    """The result as CSV (``csv`` module, Excel dialect); open ``stream`` with ``newline=""``."""
    csv.writer(stream).writerows(poll_csv_rows(channel, poll, voters))
