"""Attendance in class channels: who was present when, kept in the history database (schema version 7).

A row of the ``attendance`` table is one presence interval: one connection of one person in one class channel,
from its JOIN (``joined_ms``) to its PART, KICK, QUIT or dropped connection, the channel's rename or the loss
of its +C, or the server's stop (``left_ms``; NULL while it lasts). The person is the account when they were
logged in at the JOIN, else the nick (``person_key``); the nick they joined with is the name shown.

After a crash nobody closed the open intervals. ``seen_ms`` says when the server last knew each one was still
open (the recorder updates it every minute, see ``attendance_recorder.py``), and the next start closes them
there (``close_abandoned``): a crash costs at most a minute too much, never a presence that lasts forever.

Reports (``daily_rows``) give a row per person per day, since a class meets on several days: the first join,
the last leave, and the minutes present, the union of the person's intervals that day, so two windows of one
account count once. An interval over midnight counts on both days. Days are the server's local days.

``AttendanceTable`` runs the SQL on a connection it is given: the recorder's thread (the server) or the
``--attendance`` command line, never the state lock's holder.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Iterable

from common.protocol.attendance import AttendanceRow
from common.protocol.casemap import casefold

ATTENDANCE_TABLE = """CREATE TABLE IF NOT EXISTS attendance (
    id INTEGER PRIMARY KEY,
    channel_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    person_key TEXT NOT NULL,
    name TEXT NOT NULL,
    account TEXT,
    joined_ms INTEGER NOT NULL,
    left_ms INTEGER,
    seen_ms INTEGER NOT NULL
)"""
ATTENDANCE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS attendance_by_channel ON attendance (channel_key, joined_ms)",
    "CREATE INDEX IF NOT EXISTS attendance_open ON attendance (left_ms) WHERE left_ms IS NULL",
)
ATTENDANCE_SCHEMA = (ATTENDANCE_TABLE, *ATTENDANCE_INDEXES)
DAY_MS = 86_400_000


def person_key(nick: str, account: str | None) -> str:
    """Whose presence it is: a logged-in person by account (their windows and computers are one person), a
    guest by nick. A nick holds no ':', so neither kind can pass for the other."""
    return f"account:{casefold(account)}" if account else f"nick:{casefold(nick)}"


@dataclass(frozen=True)
class Interval:
    """One stored presence interval; ``left_ms`` None while it lasts."""

    person_key: str
    name: str
    account: str | None
    joined_ms: int
    left_ms: int | None
    seen_ms: int


def day_start_ms(day: date, tz: tzinfo | None = None) -> int:
    """Milliseconds at the start of ``day``, local midnight (or in ``tz``)."""
    return int(datetime.combine(day, time(), tzinfo=tz).timestamp() * 1000)


def _local(moment_ms: int, tz: tzinfo | None) -> datetime:
    return datetime.fromtimestamp(moment_ms / 1000, tz)


def _day_pieces(start_ms: int, end_ms: int, tz: tzinfo | None) -> Iterable[tuple[date, int, int]]:
    """(day, start, end) for the parts of [start, end) on each local day."""
    while True:
        day = _local(start_ms, tz).date()
        midnight = day_start_ms(day + timedelta(days=1), tz)
        if end_ms <= midnight:
            yield day, start_ms, end_ms
            return
        yield day, start_ms, midnight
        start_ms = midnight


def _merged_length(pieces: list[tuple[int, int]]) -> int:
    """The length of the union of [start, end) pieces: overlapping connections count once."""
    total, reach = 0, None
    for start, end in sorted(pieces):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def _clock(moment_ms: int, day: date, tz: tzinfo | None) -> str:
    """HH:MM:SS of a moment on ``day``; the midnight that ends the day is 24:00:00."""
    if moment_ms >= day_start_ms(day + timedelta(days=1), tz):
        return "24:00:00"
    return _local(moment_ms, tz).strftime("%H:%M:%S")


@dataclass
class _DayOfPerson:
    name: str
    account: str | None
    named_at: int  # the join the name comes from: the first of the day
    first_ms: int
    last_ms: int
    still_there: bool
    pieces: list[tuple[int, int]]


def daily_rows(intervals: Iterable[Interval], now_ms: int | None, since: date | None = None,
               tz: tzinfo | None = None) -> list[AttendanceRow]:
    """A row per person per day, by day and then name, from ``since`` on.

    An interval still open counts up to ``now_ms`` (the server, which knows they are there), or, with None,
    up to its ``seen_ms`` (the command line, which cannot tell a running server from a crashed one); either
    way its last leave shows as still there."""
    days: dict[tuple[date, str], _DayOfPerson] = {}
    for interval in intervals:
        open_ = interval.left_ms is None
        end = (max(now_ms, interval.joined_ms) if now_ms is not None else interval.seen_ms) if open_ \
            else interval.left_ms
        end = max(end, interval.joined_ms)
        pieces = list(_day_pieces(interval.joined_ms, end, tz)) if end > interval.joined_ms \
            else [(_local(interval.joined_ms, tz).date(), interval.joined_ms, end)]
        for index, (day, start, stop) in enumerate(pieces):
            if since is not None and day < since:
                continue
            there = open_ and index == len(pieces) - 1
            entry = days.get((day, interval.person_key))
            if entry is None:
                days[(day, interval.person_key)] = _DayOfPerson(interval.name, interval.account, interval.joined_ms,
                                                                start, stop, there, [(start, stop)])
                continue
            entry.pieces.append((start, stop))
            entry.first_ms = min(entry.first_ms, start)
            entry.last_ms = max(entry.last_ms, stop)
            entry.still_there = entry.still_there or there
            if interval.joined_ms < entry.named_at:
                entry.name, entry.account, entry.named_at = interval.name, interval.account, interval.joined_ms
    rows = []
    for (day, _person), entry in days.items():
        rows.append(AttendanceRow(day.isoformat(), entry.name, entry.account, _clock(entry.first_ms, day, tz),
                                  None if entry.still_there else _clock(entry.last_ms, day, tz),
                                  round(_merged_length(entry.pieces) / 60000)))
    rows.sort(key=lambda row: (row.day, casefold(row.name), row.first_join))
    return rows


class AttendanceTable:
    """The ``attendance`` table on one SQLite connection (autocommit; ``transaction()`` groups writes)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def create(self) -> None:
        for statement in ATTENDANCE_SCHEMA:
            self.db.execute(statement)

    def open_interval(self, channel: str, person: str, name: str, account: str | None, time_ms: int) -> int:
        cursor = self.db.execute(
            "INSERT INTO attendance (channel_key, channel, person_key, name, account, joined_ms, seen_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)", (casefold(channel), channel, person, name, account, time_ms, time_ms))
        return cursor.lastrowid

    def close_interval(self, row_id: int, time_ms: int) -> None:
        self.db.execute("UPDATE attendance SET left_ms = max(joined_ms, ?), seen_ms = max(joined_ms, ?)"
                        " WHERE id = ? AND left_ms IS NULL", (time_ms, time_ms, row_id))

    def mark_seen(self, time_ms: int) -> None:
        """Every open interval was still open at ``time_ms`` (the recorder's heartbeat)."""
        self.db.execute("UPDATE attendance SET seen_ms = max(seen_ms, ?) WHERE left_ms IS NULL", (time_ms,))

    def close_all(self, time_ms: int) -> int:
        """Close every open interval at ``time_ms`` (the server stops); returns how many."""
        return self.db.execute("UPDATE attendance SET left_ms = max(joined_ms, ?), seen_ms = max(seen_ms, ?)"
                               " WHERE left_ms IS NULL", (time_ms, time_ms)).rowcount

    def close_abandoned(self) -> int:
        """Close the intervals a crashed server left open, where it last knew them open; returns how many."""
        return self.db.execute("UPDATE attendance SET left_ms = seen_ms WHERE left_ms IS NULL").rowcount

    def purge_before(self, time_ms: int) -> int:
        """Forget intervals that ended before ``time_ms`` (the history's retention); returns how many."""
        return self.db.execute("DELETE FROM attendance WHERE left_ms IS NOT NULL AND left_ms < ?",
                               (time_ms,)).rowcount

    def intervals(self, channel: str, since_ms: int = 0, limit: int = -1) -> list[Interval]:
        """A channel's intervals that reach ``since_ms`` or later, the latest ``limit`` (-1: all), latest first."""
        rows = self.db.execute(
            "SELECT person_key, name, account, joined_ms, left_ms, seen_ms FROM attendance"
            " WHERE channel_key = ? AND (left_ms IS NULL OR left_ms >= ?) ORDER BY joined_ms DESC, id DESC LIMIT ?",
            (casefold(channel), since_ms, limit)).fetchall()
        return [Interval(*row) for row in rows]

    def channels(self) -> list[str]:
        """The channels with attendance, as last written."""
        rows = self.db.execute("SELECT channel FROM attendance WHERE id IN"
                               " (SELECT max(id) FROM attendance GROUP BY channel_key)").fetchall()
        return sorted((row[0] for row in rows), key=casefold)

    def knows(self, channel: str) -> bool:
        return self.db.execute("SELECT 1 FROM attendance WHERE channel_key = ? LIMIT 1",
                               (casefold(channel),)).fetchone() is not None


@dataclass(frozen=True)
class Report:
    """A channel's rows for a request: ``left_out`` older rows did not fit the budget; ``known`` False when
    the channel has no attendance at all."""

    rows: list[AttendanceRow]
    left_out: int
    known: bool


def build_report(table: AttendanceTable, channel: str, since: date | None, now_ms: int | None,
                 max_rows: int | None = None, max_intervals: int = 50_000, tz: tzinfo | None = None) -> Report:
    """The rows of ``channel`` since a day, the latest ``max_rows`` of them (None: all).

    At most ``max_intervals`` intervals are read, the latest; when there were more, the earliest day among
    them may be incomplete, and is left out (counted as rows left out)."""
    since_ms = day_start_ms(since, tz) if since is not None else 0
    intervals = table.intervals(channel, since_ms, max_intervals + 1)
    cut = len(intervals) > max_intervals
    rows = daily_rows(intervals[:max_intervals], now_ms, since, tz)
    left_out = 0
    if cut and rows:
        first_day = rows[0].day
        kept = [row for row in rows if row.day != first_day]
        left_out, rows = len(rows) - len(kept), kept
    if max_rows is not None and len(rows) > max_rows:
        left_out += len(rows) - max_rows
        rows = rows[-max_rows:]
    return Report(rows, left_out, bool(intervals) or table.knows(channel))
