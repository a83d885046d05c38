"""Our clients with accounts, against a live server: SASL login, creating an account, a wrong password
that stops instead of looping, a teacher's KILL that sticks, and mutes judged by account."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from common.client import events as ev
from common.client.session import Session, SessionConfig
from helpers import PROJECT_ROOT, EventLog
from test_accounts import sasl_connect


@pytest.fixture
def open_session():
    started: list[Session] = []

    def start(running, nick: str, **overrides) -> tuple[Session, EventLog]:
        config = SessionConfig(host=running.address[0], port=running.address[1], nick=nick, pace_rate=0,
                               backoff_first=0.05, backoff_max=0.2, **overrides)
        session = Session(config)
        started.append(session)
        session.start()
        return session, EventLog(session, timeout=10)

    yield start
    for session in started:
        session.quit(timeout=1)


def test_session_logs_in_with_sasl(school, open_session):
    session, log = open_session(school, "masha", account="masha", account_password="masha-password",
                                channels=("#math",))
    assert log.wait_for(ev.Notice, key="logged_in").values["account"] == "masha"
    log.wait_for(ev.Joined, channel="#math", own=True)
    assert session.account == "masha"
    watcher = school.connect("watcher")
    watcher.send("WHOIS masha")
    assert watcher.expect_numeric("330").params[2] == "masha"


def test_a_wrong_account_password_stops_instead_of_reconnecting(school, open_session):
    session, log = open_session(school, "masha", account="masha", account_password="wrong-password")
    failed = log.wait_for(ev.Notice, key="login_failed")
    assert failed.values["account"] == "masha"
    log.wait_for(ev.ConnectionState, state="closed")
    assert not any(isinstance(e, ev.ConnectionState) and e.state == "reconnecting" for e in log.seen)


def test_create_account_registers_and_logs_in(school, open_session):
    session, log = open_session(school, "petya", account="petya", account_password="petya-password",
                                create_account=True)
    assert log.wait_for(ev.Notice, key="account_created").values["account"] == "petya"
    log.wait_for(ev.Notice, key="logged_in")
    assert session.account == "petya"


def test_a_teachers_kill_is_not_undone_by_reconnecting(school, open_session):
    session, log = open_session(school, "student", channels=("#math",))
    log.wait_for(ev.Joined, channel="#math", own=True)
    teacher, answers = sasl_connect(school, "teacher", "teacher", "chalk-and-board")
    assert answers[0] == "903"
    teacher.expect_numeric("376|422")
    teacher.send("KILL student :go home")
    closed = log.wait_for(ev.ConnectionState, state="refused")
    assert "go home" in closed.detail
    log.wait_for(ev.ConnectionState, state="closed")
    assert not any(isinstance(e, ev.ConnectionState) and e.state == "reconnecting" for e in log.seen)


def test_a_mute_by_account_is_shown_on_the_member(school, open_session):
    session, log = open_session(school, "teacher", account="teacher", account_password="chalk-and-board",
                                channels=("#math",))
    log.wait_for(ev.Joined, channel="#math", own=True)
    masha, masha_log = open_session(school, "masha", account="masha", account_password="masha-password",
                                    channels=("#math",))
    log.wait_for(ev.Joined, channel="#math", nick="masha")
    session.command("MODE", "#math", "+q", "masha")
    log.wait_for(ev.ModeChanged, target="#math")
    assert session.is_muted("#math", "masha")
    assert not session.is_muted("#math", "teacher")
    assert session.is_teacher("#math", "teacher") and not session.is_teacher("#math", "masha")


def test_cli_logs_in_with_the_password_from_the_environment(school):
    watcher = school.connect("watcher", caps=("account-tag", "message-tags"))
    watcher.join("#math")
    env = {**os.environ, "CLASSCHAT_ACCOUNT_PASSWORD": "masha-password"}
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "chat_client_cli.py"), "--host", "127.0.0.1", "--port",
         str(school.address[1]), "--nick", "masha", "--account", "masha", "--channel", "#math", "--once",
         "hello with my account"], capture_output=True, text=True, timeout=30, env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    line = watcher.expect(r" PRIVMSG #math :?hello with my account")
    assert line.tags.get("account") == "masha"


def test_cli_without_a_terminal_or_the_variable_says_so(school):
    env = {key: value for key, value in os.environ.items() if key != "CLASSCHAT_ACCOUNT_PASSWORD"}
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "chat_client_cli.py"), "--port", str(school.address[1]),
         "--account", "masha", "--once", "x"], capture_output=True, text=True, timeout=30, env=env,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 2 and "CLASSCHAT_ACCOUNT_PASSWORD" in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_with_a_wrong_account_password_says_so_in_one_line(school):
    env = {**os.environ, "CLASSCHAT_ACCOUNT_PASSWORD": "not-her-password"}
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "chat_client_cli.py"), "--port", str(school.address[1]), "--nick",
         "masha", "--account", "masha", "--once", "x"], capture_output=True, text=True, timeout=30, env=env,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "could not log in as masha" in result.stderr
