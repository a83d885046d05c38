"""The clients' side of attendance (classchat's ``classchat.org/classroom`` capability): the rows of a
``classchat.org/attendance`` batch become one ``AttendanceReport`` event, and a report is saved as CSV.

The receiver thread collects the rows (``handlers.py`` keeps the open batch; ``row_from_line`` reads each
line, ``report_from_batch`` makes the event at the batch's end). Nothing here touches a socket or a widget,
so the CSV is written and tested without Tk. A server's batch that runs past ``MAX_ROWS`` is cut there.
"""
from __future__ import annotations

from pathlib import Path

from common.client.events import AttendanceReport
from common.protocol.attendance import AttendanceRow, write_csv
from common.protocol.message import Message
from common.protocol.params import parse_count, parse_date

MAX_ROWS = 10_000  # rows one batch may bring; our server sends at most a few hundred


def row_from_line(msg: Message) -> AttendanceRow | None:
    """An ``ATTENDANCE`` line's row, or None for one out of shape (it is skipped)."""
    return AttendanceRow.from_params(msg.params)


def report_from_batch(params: list[str], rows: list[AttendanceRow]) -> AttendanceReport | None:
    """The event for a finished batch: ``params`` are the batch start's after its type (channel, since,
    rows left out); None when they are out of shape."""
    if not params:
        return None
    since = params[1] if len(params) > 1 and parse_date(params[1]) is not None else None
    left_out = parse_count(params[2], 0, 10 ** 9) if len(params) > 2 else 0
    return AttendanceReport(params[0], since, tuple(rows[:MAX_ROWS]), left_out or 0)


def save_csv(path: str | Path, rows: tuple[AttendanceRow, ...] | list[AttendanceRow]) -> None:
    """Write the rows to ``path`` as CSV (UTF-8 with a byte order mark, which spreadsheets need to read
    Cyrillic names right; newline='' as the csv module asks)."""
    with open(path, "w", encoding="utf-8-sig", newline="") as csv_file:
        write_csv(rows, csv_file)
