"""``chat_server.py --attendance`` end to end: a real server process runs a short lesson (a join, a part, a
quit, a dropped connection, someone still there when it stops), is stopped, and the command prints the
record as text and as CSV from the same database file; bad dates and unknown channels get one clear line."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date

import pytest

from common.server.accounts import AccountStore
from helpers import PROJECT_ROOT, IRCTestClient, ServerProcess
from test_attendance_command import log_in


def run_server_command(db: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "chat_server.py"), "--db", db, *args],
                          capture_output=True, text=True, timeout=20)


class Opener:
    """What ``log_in`` needs of a server: a way to open a client."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address

    def client(self) -> IRCTestClient:
        return IRCTestClient(self.address)


@pytest.fixture(scope="module")
def lesson_db(tmp_path_factory) -> str:
    """The database of a short lesson in #math, run by a real server process that was then stopped."""
    db = str(tmp_path_factory.mktemp("lesson") / "history.sqlite3")
    AccountStore(db).create("masha", "masha-password")
    process = ServerProcess("--db", db, "--class", "#math")
    try:
        observer = IRCTestClient(process.address).register("observer")
        observer.join("#math")
        masha = log_in(Opener(process.address), "masha_pc", "masha", "masha-password")
        masha.join("#math")
        petya = IRCTestClient(process.address).register("petya")
        petya.join("#math")
        vova = IRCTestClient(process.address).register("vova")
        vova.join("#math")
        petya.send("PART #math :done")
        observer.expect(r":petya!\S+ PART #math")
        masha.send("QUIT :bye")
        observer.expect(r":masha_pc!\S+ QUIT")
        vova.close()  # the connection drops
        observer.expect(r":vova!\S+ QUIT")
        IRCTestClient(process.address).register("elsewhere").join("#general")  # not a class channel
    finally:
        assert process.stop() == 0
    assert not process.tracebacks(), process.tracebacks()
    return db


def test_text_lists_everyone_who_was_there(lesson_db):
    result = run_server_command(lesson_db, "--attendance", "#math")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["day", "name", "(account)"]
    today = date.today().isoformat()
    rows = {line.split()[1]: line for line in lines[1:]}
    assert set(rows) == {"masha_pc", "observer", "petya", "vova"}
    assert all(line.startswith(today) and line.endswith(" min") for line in lines[1:])
    assert "(masha)" in rows["masha_pc"] and "(guest)" in rows["petya"]
    assert "present" not in result.stdout, "the server's stop closed every interval"
    assert result.stderr == ""


def test_csv_has_a_header_and_a_row_per_person(lesson_db):
    result = run_server_command(lesson_db, "--attendance", "#MATH", "--format", "csv", "--since",
                                date.today().isoformat())
    assert result.returncode == 0, result.stderr
    table = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(row["name"] for row in table) == ["masha_pc", "observer", "petya", "vova"]
    masha = next(row for row in table if row["name"] == "masha_pc")
    assert masha["account"] == "masha" and masha["minutes"] == "0" and masha["last_leave"] >= masha["first_join"]
    assert all(row["last_leave"] != "present" for row in table)
    later = run_server_command(lesson_db, "--attendance", "#math", "--since", "2999-01-01")
    assert later.returncode == 0 and later.stdout.splitlines()[1:] == []


@pytest.mark.parametrize("since", ["2026-02-30", "yesterday", "2026-11-24T09:00", "２０２６-01-01", ""])
def test_a_bad_date_is_one_clear_line(lesson_db, since):
    result = run_server_command(lesson_db, "--attendance", "#math", "--since", since)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"chat_server.py: error: --since wants a date like 2026-09-01 (YYYY-MM-DD), got {since!r} (see --help)"]


def test_an_unknown_channel_or_a_missing_database_exits_1(lesson_db, tmp_path):
    for channel in ("#nosuch", "#general"):
        result = run_server_command(lesson_db, "--attendance", channel)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr == (f"chat_server.py: error: no attendance is recorded for {channel} (channels with "
                                 "attendance: #math; it is kept in class channels)\n")
    result = run_server_command(lesson_db, "--attendance", "math")
    assert result.returncode == 1 and "wants a channel name such as '#math'" in result.stderr
    result = run_server_command(str(tmp_path / "none.sqlite3"), "--attendance", "#math")
    assert result.returncode == 1 and result.stderr.startswith("chat_server.py: error: no history database at ")


def test_the_cli_client_prints_the_teacher_s_report(server_process, tmp_path):
    db = str(tmp_path / "live.sqlite3")
    AccountStore(db).create("ivanova", "chalk-and-board", teacher=True)
    process = server_process("--db", db, "--class", "#math")
    student = IRCTestClient(process.address).register("petya")
    student.join("#math")
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "chat_client_cli.py"), "--host", "127.0.0.1", "--port",
         str(process.address[1]), "--nick", "ivanova", "--account", "ivanova", "--channel", "#math", "--lang", "en"],
        input="/attendance #math\n/attendance #math 2026-02-30\n", capture_output=True, text=True, timeout=30,
        env={**os.environ, "CLASSCHAT_ACCOUNT_PASSWORD": "chalk-and-board"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    lines = lines[lines.index("Attendance in #math: 2 row(s)"):]
    assert sorted(line.split()[1] for line in lines[1:3]) == ["ivanova", "petya"]
    assert "present" in lines[1] and "(guest)" in "".join(lines[1:3])
    assert "Write the day as YYYY-MM-DD" in result.stderr
