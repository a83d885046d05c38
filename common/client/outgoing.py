"""What the client sends, in which order and how fast: the lanes of the writer and its pacing bucket.

The transport's writer thread takes its next line from one ``OutgoingLines``; any thread puts lines in
(``Transport.send`` and ``send_protocol``). ``lane_for`` alone decides which lane a line goes to:

  AT_ONCE     never waits, never spends a token: registration, PONG, the keepalive PING, the rejoin and
              the restored AWAY, the goodbye QUIT. A PONG must not wait behind a long paste, or the server
              drops us for not answering.
  TYPED       what the user asked for, whatever its command: paced by the bucket (``pace_burst`` lines,
              then ``pace_rate`` a second) so that a paste never trips the server's flood limit.
  FOLLOW_UP   what the session asks for on its own after a join (MODE, CHATHISTORY) and the PING of
              ``flush``: paced by the same bucket, and it gives way to TYPED, so that rejoining twenty
              channels neither floods the server nor keeps the user's lines waiting.
  CTCP_REPLY  answers to CTCP requests (VERSION, PING, TIME) from anyone: paced, giving way to both
              others, and bounded: when it is full, a new answer is dropped (the handlers also limit
              answers per sender), so strangers can neither delay what the user types nor make us flood.

The bucket is shared by the three paced lanes, and the server sees at most ``pace_burst`` lines at once
and ``pace_rate`` a second from them; what goes AT_ONCE is a handful of lines per connection. Nothing here
does I/O: this module holds lines and decides the order and the time.
"""
from __future__ import annotations

import enum
import threading
import time
from collections import deque
from dataclasses import dataclass

from common.protocol.message import Message

# The commands the session sends on its own that go at once; see lane_for.
SENT_AT_ONCE = frozenset({"PASS", "CAP", "NICK", "USER", "PONG", "PING", "JOIN", "AWAY", "QUIT"})
CTCP_REPLY_LIMIT = 8  # CTCP answers waiting at most; more are dropped
QUIT_ALLOWANCE = 20  # lines a quit may send beyond the bucket, so that what was typed is not lost


class Lane(enum.IntEnum):
    """The writer serves AT_ONCE first, then the paced lanes in this order."""

    AT_ONCE = 0
    TYPED = 1
    FOLLOW_UP = 2
    CTCP_REPLY = 3


def is_ctcp_reply(message: Message) -> bool:
    return message.command == "NOTICE" and len(message.params) > 1 and message.params[1].startswith("\x01")


def lane_for(message: Message, asked_by_user: bool) -> Lane:
    """The one place that decides how a line is sent (see the module docstring for each lane).

    A command the session sends on its own that is not in ``SENT_AT_ONCE`` and is no CTCP answer is a
    FOLLOW_UP, which waits: the safe side.
    """
    if asked_by_user:
        return Lane.TYPED
    if message.command in SENT_AT_ONCE:
        return Lane.AT_ONCE
    if is_ctcp_reply(message):
        return Lane.CTCP_REPLY
    return Lane.FOLLOW_UP


def waits_for_pacing(message: Message, asked_by_user: bool) -> bool:
    """Whether a line waits for the pacing bucket: all but the AT_ONCE lane."""
    return lane_for(message, asked_by_user) is not Lane.AT_ONCE


class PacingBucket:
    """A token bucket as irssi's command queue keeps one: ``burst`` lines at once, then ``rate`` a second;
    ``rate`` 0 sends at once. Used under ``OutgoingLines``'s lock."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens = float(burst)
        self.refilled_at = time.monotonic()

    def wait_time(self) -> float:
        """Seconds until a line may go (0: now)."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        if self.tokens < self.burst:
            self.tokens = min(float(self.burst), self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def spend(self, lines: int = 1) -> None:
        self.tokens -= lines

    def grant(self, lines: int) -> None:
        """Let ``lines`` more go at once, beyond the burst (a quit flushing what was typed)."""
        self.wait_time()
        self.tokens += lines


@dataclass(frozen=True)
class OutgoingLine:
    generation: int  # the connection it was queued for; the writer drops it on a later one
    data: bytes  # one line, or the lines of a unit that nothing may come between (a multiline batch)
    last: bool = False  # the goodbye: the writer ends after it
    cost: int = 0  # tokens it spends beyond its first (a batch costs what the server's flood control bills)


class OutgoingLines:
    """The writer's queue: four lanes, one bucket, one condition. ``take()`` (the writer thread) blocks
    until a line may go; ``put()`` (any thread) never blocks. ``finish()`` starts a quit: only what was
    typed and the goodbye still go; ``abandon()`` sends the goodbye at once; ``close()`` ends the writer."""

    def __init__(self, burst: int, rate: float, ctcp_limit: int = CTCP_REPLY_LIMIT) -> None:
        self._ready = threading.Condition()
        self._lanes: dict[Lane, deque[OutgoingLine]] = {lane: deque() for lane in Lane}
        self._bucket = PacingBucket(burst, rate)
        self._ctcp_limit = ctcp_limit
        self._finishing = False
        self._closed = False

    def put(self, lane: Lane, line: OutgoingLine) -> bool:
        """Queue a line; False when quitting or closed, or when the CTCP lane is full (the answer is dropped)."""
        with self._ready:
            if self._closed or self._finishing:
                return False
            if lane is Lane.CTCP_REPLY and len(self._lanes[lane]) >= self._ctcp_limit:
                return False
            self._lanes[lane].append(line)
            self._ready.notify()
            return True

    def take(self) -> OutgoingLine | None:
        """The next line to send, waiting for it and for its token; None once closed."""
        with self._ready:
            while not self._closed:
                if self._lanes[Lane.AT_ONCE]:
                    return self._lanes[Lane.AT_ONCE].popleft()
                waiting = next((lane for lane in (Lane.TYPED, Lane.FOLLOW_UP, Lane.CTCP_REPLY)
                                if self._lanes[lane]), None)
                if waiting is None:
                    self._ready.wait()
                    continue
                pause = self._bucket.wait_time()
                if pause <= 0:
                    line = self._lanes[waiting].popleft()
                    self._bucket.spend(1 + line.cost)
                    return line
                self._ready.wait(pause)
            return None

    def clear(self) -> None:
        """Forget every queued line (a new connection starts: they were meant for the old one)."""
        with self._ready:
            for queued in self._lanes.values():
                queued.clear()

    def finish(self, goodbye: OutgoingLine) -> None:
        """Quit: drop the follow-ups and CTCP answers, let what was typed go (``QUIT_ALLOWANCE`` lines beyond
        the bucket at once), then ``goodbye``; nothing more is accepted."""
        with self._ready:
            self._finishing = True
            self._lanes[Lane.FOLLOW_UP].clear()
            self._lanes[Lane.CTCP_REPLY].clear()
            self._bucket.grant(QUIT_ALLOWANCE)
            self._lanes[Lane.TYPED].append(goodbye)
            self._ready.notify()

    def abandon(self) -> None:
        """The quit's time is up: drop what was typed and is still waiting, and send the goodbye now."""
        with self._ready:
            typed = self._lanes[Lane.TYPED]
            goodbye = [line for line in typed if line.last]
            typed.clear()
            self._lanes[Lane.AT_ONCE].extend(goodbye)
            self._ready.notify()

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
