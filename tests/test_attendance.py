"""Attendance without a network: the per-person-per-day rows from presence intervals, the recording thread
with a clock the test moves (no waiting), the restart after a crash, the upgrade of a version-6 database,
the CSV and text forms, and the date parser behind every ``since``."""
from __future__ import annotations

import csv
import io
import sqlite3
import threading
from datetime import date, datetime, timezone

import pytest

from common.client.attendance import report_from_batch, save_csv
from common.protocol.attendance import CSV_HEADER, AttendanceRow, write_csv, write_text
from common.protocol.params import parse_date
from common.server.attendance import AttendanceTable, Interval, build_report, daily_rows, day_start_ms
from common.server.attendance_recorder import AttendanceRecorder
from common.server.history import SCHEMA_VERSION, HistoryStore, StoredMessage

UTC = timezone.utc


def ms(text: str) -> int:
    """Milliseconds of a UTC time written 2026-11-24 09:00."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def interval(person: str, joined: str, left: str | None, seen: str | None = None, name: str | None = None,
             account: str | None = None) -> Interval:
    return Interval(person, name or person.split(":")[1], account, ms(joined), ms(left) if left else None,
                    ms(seen or left or joined))


# ------------------------------------------------------------------ the rows from intervals

def test_two_connections_of_one_account_count_once():
    rows = daily_rows([
        interval("account:masha", "2026-11-24 09:00", "2026-11-24 09:40", name="masha", account="masha"),
        interval("account:masha", "2026-11-24 09:10", "2026-11-24 09:30", name="masha_tablet", account="masha"),
        interval("account:masha", "2026-11-24 09:35", "2026-11-24 09:50", name="masha", account="masha"),
    ], now_ms=None, tz=UTC)
    assert rows == [AttendanceRow("2026-11-24", "masha", "masha", "09:00:00", "09:50:00", 50)]


def test_a_gap_is_not_counted_and_rows_are_per_person_and_day():
    rows = daily_rows([
        interval("nick:petya", "2026-11-25 10:00", "2026-11-25 10:20"),
        interval("nick:petya", "2026-11-24 09:00", "2026-11-24 09:10"),
        interval("nick:petya", "2026-11-24 09:30", "2026-11-24 09:45"),
        interval("nick:anna", "2026-11-24 09:05", "2026-11-24 09:06"),
    ], now_ms=None, tz=UTC)
    assert [(row.day, row.name, row.first_join, row.last_leave, row.minutes) for row in rows] == [
        ("2026-11-24", "anna", "09:05:00", "09:06:00", 1),
        ("2026-11-24", "petya", "09:00:00", "09:45:00", 25),
        ("2026-11-25", "petya", "10:00:00", "10:20:00", 20),
    ]


def test_an_interval_over_midnight_counts_on_both_days():
    rows = daily_rows([interval("nick:owl", "2026-11-24 23:30", "2026-11-25 00:15")], now_ms=None, tz=UTC)
    assert [(row.day, row.first_join, row.last_leave, row.minutes) for row in rows] == [
        ("2026-11-24", "23:30:00", "24:00:00", 30), ("2026-11-25", "00:00:00", "00:15:00", 15)]


def test_an_open_interval_counts_to_now_in_the_server_and_to_its_last_sighting_offline():
    still_there = [interval("nick:vova", "2026-11-24 09:00", None, seen="2026-11-24 09:20")]
    online = daily_rows(still_there, now_ms=ms("2026-11-24 09:45"), tz=UTC)
    assert online == [AttendanceRow("2026-11-24", "vova", None, "09:00:00", None, 45)]
    offline = daily_rows(still_there, now_ms=None, tz=UTC)
    assert offline == [AttendanceRow("2026-11-24", "vova", None, "09:00:00", None, 20)]


def test_since_leaves_out_earlier_days_but_keeps_the_part_of_an_interval_after_it():
    rows = daily_rows([interval("nick:owl", "2026-11-24 23:00", "2026-11-25 01:00"),
                       interval("nick:lark", "2026-11-23 09:00", "2026-11-23 10:00")],
                      now_ms=None, since=date(2026, 11, 25), tz=UTC)
    assert [(row.day, row.name, row.minutes) for row in rows] == [("2026-11-25", "owl", 60)]


def test_a_zero_length_interval_is_a_row_of_zero_minutes():
    rows = daily_rows([interval("nick:blink", "2026-11-24 09:00", "2026-11-24 09:00")], now_ms=None, tz=UTC)
    assert rows == [AttendanceRow("2026-11-24", "blink", None, "09:00:00", "09:00:00", 0)]


# ------------------------------------------------------------------ the recording thread

class Clocks:
    """The recorder's wall clock and monotonic clock, moved by the test."""

    def __init__(self, start: str) -> None:
        self.wall = ms(start) / 1000
        self.mono = 1000.0

    def at(self, text: str) -> None:
        self.mono += ms(text) / 1000 - self.wall
        self.wall = ms(text) / 1000


@pytest.fixture
def recorder_at(tmp_path):
    """Start recorders on one database file; each is stopped after the test."""
    started: list[AttendanceRecorder] = []

    def start(clocks: Clocks, path: str = str(tmp_path / "attendance.sqlite3")) -> AttendanceRecorder:
        HistoryStore(path).close()  # the schema, as the server makes it
        recorder = AttendanceRecorder(path, lambda out: None, wall_clock=lambda: clocks.wall,
                                      monotonic=lambda: clocks.mono)
        recorder.start()
        assert recorder.ready.wait(5)
        started.append(recorder)
        return recorder

    yield start
    for recorder in started:
        if recorder.is_alive():
            recorder.stop()
        assert not recorder.is_alive()


def read_report(recorder: AttendanceRecorder, channel: str) -> list[AttendanceRow]:
    """Ask the recorder for a report, as the server does, and wait for its thread's answer."""
    answered = threading.Event()
    rows: list[AttendanceRow] = []

    def job(table: AttendanceTable, now_ms: int) -> None:
        rows.extend(build_report(table, channel, None, now_ms, tz=UTC).rows)
        answered.set()

    assert recorder.ask(job)
    assert answered.wait(5)
    return rows


def test_the_recorder_opens_and_closes_intervals_and_a_report_sees_every_change_before_it(recorder_at):
    clocks = Clocks("2026-11-24 09:00")
    recorder = recorder_at(clocks)
    recorder.joined("conn-1", "#Math", "Masha", "masha")
    clocks.at("2026-11-24 09:05")
    recorder.joined("conn-2", "#math", "petya", None)
    recorder.joined("conn-2", "#math", "petya", None)  # a repeated join changes nothing
    clocks.at("2026-11-24 09:30")
    recorder.left("conn-2", "#MATH")
    recorder.left("conn-3", "#math")  # never joined: nothing
    clocks.at("2026-11-24 09:40")
    rows = read_report(recorder, "#math")
    assert rows == [AttendanceRow("2026-11-24", "Masha", "masha", "09:00:00", None, 40),
                    AttendanceRow("2026-11-24", "petya", None, "09:05:00", "09:30:00", 25)]
    clocks.at("2026-11-24 09:45")
    recorder.stop()
    store = HistoryStore(recorder.path)
    assert build_report(AttendanceTable(store.db), "#math", None, None, tz=UTC).rows[0] == \
        AttendanceRow("2026-11-24", "Masha", "masha", "09:00:00", "09:45:00", 45)
    store.close()


def test_after_a_crash_open_intervals_end_where_they_were_last_seen(recorder_at, tmp_path):
    clocks = Clocks("2026-11-24 09:00")
    running = recorder_at(clocks)
    running.joined("conn-1", "#math", "masha", "masha")
    clocks.at("2026-11-24 09:30")  # past a heartbeat: the next wake-up marks the open interval seen now
    read_report(running, "#math")
    crashed = str(tmp_path / "crashed.sqlite3")
    source = sqlite3.connect(running.path)
    with sqlite3.connect(crashed) as copy:
        source.backup(copy)  # the file as a power cut would leave it: the interval open, seen at 09:30
    source.close()
    clocks.at("2026-11-24 11:00")
    restarted = recorder_at(clocks, crashed)
    assert read_report(restarted, "#math") == [AttendanceRow("2026-11-24", "masha", "masha", "09:00:00",
                                                             "09:30:00", 30)]


def test_intervals_older_than_the_history_s_retention_are_deleted(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    store = HistoryStore(path)
    table = AttendanceTable(store.db)
    for day in ("2026-11-01", "2026-11-20"):
        table.close_interval(table.open_interval("#math", "nick:anna", "anna", None, ms(f"{day} 09:00")),
                             ms(f"{day} 09:45"))
    store.close()
    clocks = Clocks("2026-11-24 09:00")
    recorder = AttendanceRecorder(path, lambda out: None, retention_days=7, wall_clock=lambda: clocks.wall,
                                  monotonic=lambda: clocks.mono)
    recorder.start()
    try:
        assert [row.day for row in read_report(recorder, "#math")] == ["2026-11-20"]
    finally:
        recorder.stop()


def test_thirty_joins_at_the_start_of_a_lesson_are_one_transaction(recorder_at):
    clocks = Clocks("2026-11-24 09:00")
    recorder = recorder_at(clocks)
    statements: list[str] = []
    busy, gate = threading.Event(), threading.Event()

    def trace_then_hold(table: AttendanceTable, _now_ms: int) -> None:
        table.db.set_trace_callback(statements.append)
        busy.set()
        gate.wait(5)  # the thread is busy while the class arrives

    recorder.ask(trace_then_hold)
    assert busy.wait(5)
    for student in range(30):
        recorder.joined(f"conn-{student}", "#math", f"s{student}", None)
    gate.set()
    assert len(read_report(recorder, "#math")) == 30
    assert statements.count("BEGIN") == 1 and statements.count("COMMIT") == 1
    assert sum(statement.startswith("INSERT INTO attendance") for statement in statements) == 30


# ------------------------------------------------------------------ the database

def version_6_database(path: str) -> None:
    """A history file as schema 6 left it as far as attendance goes: a message, and no attendance table."""
    store = HistoryStore(path)
    store.write([StoredMessage("m1", ms("2026-11-23 10:00"), "#math", "masha!~m@host", "PRIVMSG", "hello")])
    store.db.execute("DROP TABLE attendance")
    store.db.execute("PRAGMA user_version=6")
    store.close()


def test_a_version_6_database_is_upgraded_and_keeps_its_messages(tmp_path):
    path = str(tmp_path / "v6.sqlite3")
    version_6_database(path)
    store = HistoryStore(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    assert [message.text for message in store.export("#math")] == ["hello"]
    indexes = {row[0] for row in store.db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'attendance'")}
    assert {"attendance", "attendance_by_channel", "attendance_open"} <= indexes
    table = AttendanceTable(store.db)
    row_id = table.open_interval("#math", "nick:masha", "masha", None, ms("2026-11-24 09:00"))
    table.close_interval(row_id, ms("2026-11-24 09:45"))
    assert build_report(table, "#math", None, None, tz=UTC).rows[0].minutes == 45
    store.close()


def test_the_report_since_a_day_starts_at_that_day_s_midnight(tmp_path):
    store = HistoryStore(str(tmp_path / "h.sqlite3"))
    table = AttendanceTable(store.db)
    for day in (23, 24, 25):
        row_id = table.open_interval("#math", "nick:anna", "anna", None, ms(f"2026-11-{day} 09:00"))
        table.close_interval(row_id, ms(f"2026-11-{day} 09:30"))
    report = build_report(table, "#math", date(2026, 11, 24), None, tz=UTC)
    assert [row.day for row in report.rows] == ["2026-11-24", "2026-11-25"]
    assert day_start_ms(date(2026, 11, 24), UTC) == ms("2026-11-24 00:00")
    assert not build_report(table, "#nowhere", None, None).known and table.channels() == ["#math"]
    store.close()


# ------------------------------------------------------------------ forms: CSV, text, the wire, dates

ROWS = [AttendanceRow("2026-11-24", "Маша", "masha", "09:01:00", "09:40:00", 39),
        AttendanceRow("2026-11-24", "petya, jr", None, "09:05:00", None, 15)]


def test_csv_and_text_forms():
    buffer = io.StringIO()
    write_csv(ROWS, buffer)
    assert list(csv.reader(io.StringIO(buffer.getvalue()))) == [
        list(CSV_HEADER), ["2026-11-24", "Маша", "masha", "09:01:00", "09:40:00", "39"],
        ["2026-11-24", "petya, jr", "", "09:05:00", "present", "15"]]
    text = io.StringIO()
    write_text(ROWS, text)
    lines = text.getvalue().splitlines()
    assert lines[0].startswith("day") and "Маша" in lines[1] and "(guest)" in lines[2] and "present" in lines[2]


def test_the_gui_s_csv_file_without_tk(tmp_path):
    path = tmp_path / "attendance.csv"
    save_csv(path, ROWS)
    with open(path, encoding="utf-8-sig", newline="") as saved:
        assert list(csv.reader(saved))[1][1] == "Маша"


def test_rows_on_the_wire_round_trip_and_bad_ones_are_skipped():
    for row in ROWS:
        assert AttendanceRow.from_params(row.to_params("#math")) == row
    good = ROWS[0].to_params("#math")
    for index, bad in [(1, "2026-13-01"), (3, "9:01:00"), (4, "25:00:00"), (5, "-1"), (5, "99999"), (6, "")]:
        assert AttendanceRow.from_params([*good[:index], bad, *good[index + 1:]]) is None
    assert AttendanceRow.from_params(good[:6]) is None
    report = report_from_batch(["#math", "2026-11-24", "7"], ROWS)
    assert (report.channel, report.since, report.left_out, report.rows) == ("#math", "2026-11-24", 7, tuple(ROWS))
    assert report_from_batch(["#math", "*", "lots"], []).left_out == 0 and report_from_batch([], []) is None


@pytest.mark.parametrize("text, expected", [
    ("2026-11-24", date(2026, 11, 24)), ("2024-02-29", date(2024, 2, 29)),
    ("2026-02-29", None), ("2026-13-01", None), ("0000-01-01", None), ("2026-1-01", None), ("20261124", None),
    ("２０２６-11-24", None), ("2026-11-24T09:00", None), ("", None), ("2026-11-2x", None), ("+026-11-24", None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected
