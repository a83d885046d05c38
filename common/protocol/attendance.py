"""Attendance rows: one person's presence on one day in one class channel, as the server reports them and the
clients read them. The server (its ATTENDANCE replies, ``chat_server.py --attendance``) and the clients (the
GUI's table and its CSV file, the CLI) share this module, so the wire, the text and the CSV say the same.

On the wire (classchat's vendor capability ``classchat.org/classroom``, with IRCv3 ``batch``)::

    BATCH +<ref> classchat.org/attendance <#channel> <since YYYY-MM-DD|*> <rows left out>
    @batch=<ref> ATTENDANCE <#channel> <day> <account|*> <first join> <last leave|*> <minutes> :<name>
    BATCH -<ref>

``day`` is ``YYYY-MM-DD`` and the times ``HH:MM:SS``, in the server's local time (a class meets in one
place); ``last leave`` is ``*`` while the person is still there. A report over the server's budget keeps its
latest rows, and the batch start says how many older ones it left out. A client without the capability gets
the same rows as readable NOTICE lines (``text_line``).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import Iterable, TextIO

from common.protocol.classroom import CLASSROOM_CAP  # noqa: F401  (attendance is offered under it too)
from common.protocol.params import parse_count, parse_date

ATTENDANCE_BATCH = "classchat.org/attendance"
CSV_HEADER = ("day", "name", "account", "first_join", "last_leave", "minutes")
PRESENT = "present"  # what the text and the CSV say for the last leave of someone still there
_CLOCK_TIME = re.compile(r"\A(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\Z|\A24:00:00\Z")  # ASCII digits only
MAX_MINUTES = 24 * 60  # one row is one day


@dataclass(frozen=True)
class AttendanceRow:
    """One person on one day: ``first_join`` and ``last_leave`` are ``HH:MM:SS`` (``24:00:00`` when they were
    still there at midnight), ``last_leave`` None while they are still there; ``minutes`` counts the time
    present, each moment once however many connections they had."""

    day: str
    name: str
    account: str | None
    first_join: str
    last_leave: str | None
    minutes: int

    def to_params(self, channel: str) -> list[str]:
        """The parameters of an ``ATTENDANCE`` line (the name last: it is the one free text)."""
        return [channel, self.day, self.account or "*", self.first_join, self.last_leave or "*", str(self.minutes),
                self.name]

    @classmethod
    def from_params(cls, params: list[str]) -> "AttendanceRow | None":
        """A row from an ``ATTENDANCE`` line's parameters; None when any of them is out of shape."""
        if len(params) != 7:
            return None
        _channel, day, account, first, last, minutes, name = params
        count = parse_count(minutes, 0, MAX_MINUTES)
        if parse_date(day) is None or count is None or not name or not _CLOCK_TIME.match(first) \
                or (last != "*" and not _CLOCK_TIME.match(last)):
            return None
        return cls(day, name, None if account == "*" else account, first, None if last == "*" else last, count)

    def csv_fields(self) -> list[str]:
        return [self.day, self.name, self.account or "", self.first_join, self.last_leave or PRESENT,
                str(self.minutes)]

    def text_line(self) -> str:
        """The row as one line of the text report: ``2026-11-24  masha  (masha)  09:00:05  09:45:10  45 min``."""
        account = f"({self.account})" if self.account else "(guest)"
        return (f"{self.day}  {self.name:<16} {account:<18} {self.first_join}  {self.last_leave or PRESENT:<8}"
                f"  {self.minutes:>4} min")


TEXT_HEADER = f"{'day':<10}  {'name':<16} {'(account)':<18} {'first':<8}  {'last':<8}  minutes"


def write_csv(rows: Iterable[AttendanceRow], stream: TextIO) -> None:
    """The rows as CSV (the stdlib's dialect, a header line first), for a spreadsheet."""
    writer = csv.writer(stream)
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(row.csv_fields())


def write_text(rows: Iterable[AttendanceRow], stream: TextIO) -> None:
    """The rows as a plain table, a header line first."""
    stream.write(TEXT_HEADER + "\n")
    for row in rows:
        stream.write(row.text_line() + "\n")
