"""ATTENDANCE against a live in-process server with a class channel, accounts and a clock the test moves: the
teacher gets the rows (a batch with the capability, NOTICE lines without), a student is refused, renames and
the end of +C close what they should, a huge record stays within the reply's budget, and hostile parameters
get clear errors while everyone else is still served."""
from __future__ import annotations

from datetime import datetime

import pytest

from common.protocol.attendance import ATTENDANCE_BATCH, CLASSROOM_CAP, AttendanceRow
from common.server.accounts import AccountStore
from common.server.attendance import AttendanceTable
from common.server.commands.attendance import MAX_REPLY_ROWS
from common.server.history import HistoryStore
from helpers import assert_still_served
from test_accounts import sasl_connect

LESSON_START = datetime(2026, 11, 24, 9, 0, 0)
CLASSROOM_CAPS = ("batch", CLASSROOM_CAP)


class Clock:
    """The server's wall clock, moved by the test (seconds since the epoch)."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        return self.now

    def at(self, hour: int, minute: int) -> None:
        self.now = LESSON_START.replace(hour=hour, minute=minute).timestamp()


@pytest.fixture
def clock() -> Clock:
    return Clock(LESSON_START)


@pytest.fixture
def school(make_server, tmp_path, clock):
    db = str(tmp_path / "school.sqlite3")
    store = AccountStore(db)
    store.create("teacher", "chalk-and-board", teacher=True)
    store.create("masha", "masha-password")
    store.close()
    return make_server(db_path=db, class_channels=("#math",), login_delay=0.01, wall_clock=clock)


def log_in(running, nick: str, account: str, password: str, caps: tuple[str, ...] = ()):
    """Register with SASL PLAIN and the given capabilities."""
    client, answer = sasl_connect(running, nick, account, password, caps)
    assert answer[0] == "903", answer
    client.expect_numeric("376|422")
    return client


def teacher_of(school, caps: tuple[str, ...] = CLASSROOM_CAPS):
    return log_in(school, "teacher", "teacher", "chalk-and-board", caps)


def batch_rows(client, channel: str) -> tuple[list[str], list[AttendanceRow]]:
    """The batch start's parameters after its type, and the rows, of the next attendance batch."""
    start = client.expect(rf" BATCH \+\S+ {ATTENDANCE_BATCH} ")
    reference = start.params[0][1:]
    rows = []
    while (line := client.expect(rf"(batch={reference} .* ATTENDANCE |BATCH -{reference})")).command == "ATTENDANCE":
        assert line.params[0] == channel
        rows.append(AttendanceRow.from_params(line.params))
    assert start.params[2] == channel
    return start.params[3:], rows


def run_short_lesson(school, clock):
    """09:00 the teacher; 09:01 masha; 09:05 petya (a guest); 09:10 masha's second window; 09:20 petya
    leaves; 09:30 the second window quits; 09:40 masha leaves; 09:45 it is now."""
    teacher = teacher_of(school)
    teacher.join("#math")
    clock.at(9, 1)
    masha = log_in(school, "masha", "masha", "masha-password")
    masha.join("#math")
    clock.at(9, 5)
    petya = school.connect("petya")
    petya.join("#math")
    clock.at(9, 10)
    tablet = log_in(school, "masha_tablet", "masha", "masha-password")
    tablet.join("#math")
    clock.at(9, 20)
    petya.send("PART #math :bye")
    teacher.expect(r":petya!\S+ PART #math")
    clock.at(9, 30)
    tablet.send("QUIT :battery")
    teacher.expect(r":masha_tablet!\S+ QUIT")
    clock.at(9, 40)
    masha.send("PART #math")
    teacher.expect(r":masha!\S+ PART #math")
    clock.at(9, 45)
    return teacher, masha, petya


def test_the_teacher_gets_a_row_per_person_with_minutes_counted_once(school, clock):
    teacher, _masha, _petya = run_short_lesson(school, clock)
    teacher.send("ATTENDANCE #math")
    params, rows = batch_rows(teacher, "#math")
    assert params == ["*", "0"]
    by_name = {row.name: row for row in rows}
    assert by_name["masha"] == AttendanceRow("2026-11-24", "masha", "masha", "09:01:00", "09:40:00", 39)
    assert by_name["petya"] == AttendanceRow("2026-11-24", "petya", None, "09:05:00", "09:20:00", 15)
    assert by_name["teacher"] == AttendanceRow("2026-11-24", "teacher", "teacher", "09:00:00", None, 45)
    assert [row.name for row in rows] == ["masha", "petya", "teacher"]
    teacher.send("ATTENDANCE #math 2026-11-25")
    assert batch_rows(teacher, "#math") == (["2026-11-25", "0"], [])


def test_the_rows_come_before_the_replies_to_later_lines(school, clock):
    teacher = teacher_of(school)
    teacher.join("#math")
    teacher.send(b"ATTENDANCE #math\r\nPING :after-the-rows\r\n")
    lines = teacher.lines_until(r" PONG \S+ :?after-the-rows")  # everything up to the PONG
    start = next(line for line in lines if f" {ATTENDANCE_BATCH} " in line)
    reference = start.split(" BATCH +")[1].split()[0]
    assert any(line.endswith(f" BATCH -{reference}") for line in lines), lines


def test_a_plain_client_reads_the_rows_as_notices(school, clock):
    run_short_lesson(school, clock)
    plain = log_in(school, "teacher_irssi", "teacher", "chalk-and-board")
    plain.send("ATTENDANCE #math 2026-11-24")
    heading = plain.expect(r" NOTICE teacher_irssi :Attendance").params[-1]
    assert heading == "Attendance in #math since 2026-11-24: 3 row(s), a person per day"
    plain.expect(r" NOTICE teacher_irssi :day ")
    lines = [plain.expect(r" NOTICE teacher_irssi :").params[-1] for _ in range(4)]
    assert lines[0].startswith("2026-11-24  masha") and "(masha)" in lines[0] and "09:40:00" in lines[0]
    assert "39 min" in lines[0]
    assert lines[1].startswith("2026-11-24  petya") and "(guest)" in lines[1]
    assert "present" in lines[2] and "45 min" in lines[2]
    assert lines[3] == "End of attendance in #math"


def test_a_student_is_refused(school, clock):
    run_short_lesson(school, clock)
    student = log_in(school, "masha_again", "masha", "masha-password", CLASSROOM_CAPS)
    student.join("#math")
    student.send("ATTENDANCE #math")
    assert "Only the teacher" in student.expect_numeric("482").params[-1]
    student.send("ATTENDANCE #gone")
    student.expect_numeric("481")
    assert not any(" ATTENDANCE " in line or "BATCH" in line for line in student.sync())


def test_renaming_the_channel_or_ending_its_class_closes_the_record(school, clock):
    teacher = teacher_of(school, (*CLASSROOM_CAPS, "draft/channel-rename"))
    teacher.join("#math")
    student = school.connect("vova")
    student.join("#math")
    clock.at(9, 30)
    teacher.send("RENAME #math #algebra :new term")
    teacher.expect(r" RENAME #math #algebra")
    clock.at(9, 40)
    teacher.send("MODE #algebra -C")
    teacher.expect(r" MODE #algebra -C")
    clock.at(9, 50)
    teacher.send("ATTENDANCE #math")
    _, rows = batch_rows(teacher, "#math")
    assert {(row.name, row.last_leave, row.minutes) for row in rows} == {("teacher", "09:30:00", 30),
                                                                        ("vova", "09:30:00", 30)}
    teacher.send("ATTENDANCE #algebra")
    _, rows = batch_rows(teacher, "#algebra")
    assert {(row.name, row.first_join, row.last_leave, row.minutes) for row in rows} == {
        ("teacher", "09:30:00", "09:40:00", 10), ("vova", "09:30:00", "09:40:00", 10)}


def test_a_kick_and_the_end_of_the_lesson_close_the_record(school, clock):
    teacher = teacher_of(school)
    teacher.join("#math")
    kicked, walked_out = school.connect("kolya"), school.connect("lena")
    kicked.join("#math")
    walked_out.join("#math")
    clock.at(9, 10)
    teacher.send("KICK #math kolya :enough")
    kicked.expect(r" KICK #math kolya ")
    clock.at(9, 45)
    teacher.send("ENDLESSON :see you")
    walked_out.expect(r" KICK #math lena ")
    clock.at(10, 0)
    teacher.send("ATTENDANCE #math")
    _, rows = batch_rows(teacher, "#math")
    assert {(row.name, row.last_leave, row.minutes) for row in rows} == {
        ("kolya", "09:10:00", 10), ("lena", "09:45:00", 45), ("teacher", None, 60)}


def test_a_huge_record_is_cut_to_the_budget_keeping_the_latest_days(make_server, tmp_path, clock):
    db = str(tmp_path / "big.sqlite3")
    store = HistoryStore(db)
    table = AttendanceTable(store.db)
    day_ms = 86_400_000
    first = int(LESSON_START.timestamp() * 1000) - 60 * day_ms
    store.db.execute("BEGIN")
    for day in range(60):
        for student in range(10):
            start = first + day * day_ms
            row_id = table.open_interval("#math", f"nick:s{student}", f"s{student}", None, start)
            table.close_interval(row_id, start + 45 * 60_000)
    store.db.execute("COMMIT")
    store.close()
    AccountStore(db).create("teacher", "chalk-and-board", teacher=True)
    school = make_server(db_path=db, class_channels=("#math",), login_delay=0.01, wall_clock=clock,
                         history_days=0)  # kept forever: the default 30 days would delete half of it
    teacher = teacher_of(school)
    teacher.send("ATTENDANCE #math")
    params, rows = batch_rows(teacher, "#math")
    assert len(rows) == MAX_REPLY_ROWS and params == ["*", str(600 - MAX_REPLY_ROWS)]
    assert rows[-1].day == "2026-11-23" and all(row.minutes == 45 for row in rows)


HOSTILE_LINES = [
    ("ATTENDANCE", r" 461 teacher ATTENDANCE "),
    ("ATTENDANCE #math 2026-02-30", r" FAIL ATTENDANCE INVALID_PARAMS 2026-02-30 :Give the day"),
    ("ATTENDANCE #math ２０２６-01-01", r" FAIL ATTENDANCE INVALID_PARAMS "),
    ("ATTENDANCE #math 2026-11-24T09:00", r" FAIL ATTENDANCE INVALID_PARAMS "),
    ("ATTENDANCE #math " + "9" * 400, r" FAIL ATTENDANCE INVALID_PARAMS 9{32} :"),
    ("ATTENDANCE #math :", r" FAIL ATTENDANCE INVALID_PARAMS \* :"),
    ("ATTENDANCE masha", r" 403 teacher masha :Invalid channel name"),
    ("ATTENDANCE #" + "x" * 300, r" 403 teacher #x{31} :Invalid channel name"),
    ("ATTENDANCE #nosuch", r" 403 teacher #nosuch :No attendance is recorded"),
    ("ATTENDANCE #math,#other", r" 403 teacher #math,#other :Invalid channel name"),
]


def test_hostile_parameters_get_clear_errors_and_others_are_still_served(school):
    teacher = teacher_of(school)
    bystander = school.connect("bystander")
    for line, reply in HOSTILE_LINES:
        teacher.send(line)
        teacher.expect(reply)
        assert_still_served(school, bystander)
    teacher.send(b"ATTENDANCE #math \xff\xfe\r\n")
    teacher.expect(r" FAIL ATTENDANCE INVALID_UTF8 ")
    assert_still_served(school, bystander)
    teacher.send("ATTENDANCE #math")  # and the teacher is still answered
    assert batch_rows(teacher, "#math")[0] == ["*", "0"]


def test_before_registration_and_without_history(make_server, school):
    stranger = school.client()
    stranger.send("ATTENDANCE #math")
    stranger.expect(r" 451 ")
    no_history = make_server(history=False, class_channels=("#math",))
    oper = no_history.connect("oper")
    oper.send("ATTENDANCE #math")
    oper.expect(r" FAIL ATTENDANCE NOT_KEPT #math :")
