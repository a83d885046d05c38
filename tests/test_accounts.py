"""Accounts against a live server: REGISTER (IRCv3 draft/account-registration), SASL PLAIN, nicks reserved
for their accounts, wrong passwords slowed down and locked out, and teachers who are operators by logging in.
"""
from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from common.server.accounts import MAX_FAILURES, AccountStore
from helpers import PROJECT_ROOT, IRCTestClient

FAST_LOGINS = {"login_delay": 0.01}


def plain(account: str, password: str, authzid: str = "") -> str:
    return base64.b64encode(f"{authzid}\0{account}\0{password}".encode()).decode()


def sasl_connect(running, nick: str, account: str, password: str,
                 caps: tuple[str, ...] = ()) -> tuple[IRCTestClient, list[str]]:
    """Register with SASL PLAIN (and ``caps`` asked for with it) before CAP END; returns the client and what
    the login answered (the numeric, then its text)."""
    client = running.client()
    client.nick = nick
    client.send("CAP LS 302")
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :{nick}")
    client.expect(r" CAP \S+ LS ")
    client.send("CAP REQ :" + " ".join(("sasl", *caps)))
    client.expect(r" CAP \S+ ACK ")
    client.send("AUTHENTICATE PLAIN")
    client.expect(r"^AUTHENTICATE \+")
    client.send(f"AUTHENTICATE {plain(account, password)}")
    answer = client.expect(r" (903|904) ")
    client.send("CAP END")
    return client, [answer.command, answer.params[-1]]


@pytest.fixture
def accounts_server(make_server, tmp_path):
    return make_server(db_path=str(tmp_path / "accounts.sqlite3"), **FAST_LOGINS)


def test_register_creates_an_account_and_logs_in(accounts_server):
    alice = accounts_server.connect("alice", caps=("draft/account-registration",))
    alice.send("REGISTER * * correct-horse")
    success = alice.expect(r" REGISTER SUCCESS ")
    assert success.params[:2] == ["SUCCESS", "alice"]
    logged_in = alice.expect_numeric("900")
    assert logged_in.params[2] == "alice"
    alice.send("WHOIS alice")
    assert alice.expect_numeric("330").params[1:3] == ["alice", "alice"]


def test_register_refusals_use_the_standard_codes(accounts_server):
    bob = accounts_server.connect("bob")
    bob.send("REGISTER * * short")
    assert bob.expect(r" FAIL REGISTER ").params[1] == "WEAK_PASSWORD"
    bob.send("REGISTER carol * long-enough")
    assert bob.expect(r" FAIL REGISTER ").params[1] == "ACCOUNT_NAME_MUST_BE_NICK"
    bob.send("REGISTER * * long-enough")
    bob.expect(r" REGISTER SUCCESS bob ")
    bob.send("REGISTER * * another-one")
    assert bob.expect(r" FAIL REGISTER ").params[1] == "ALREADY_AUTHENTICATED"
    bob.send("QUIT")
    bob.expect_closed()
    other = accounts_server.connect("bobby")
    other.send("NICK Bob")
    assert "reserved" in other.expect_numeric("433").params[-1]
    other.send("REGISTER * * long-enough")
    bobby_ok = other.expect(r" (REGISTER SUCCESS|FAIL REGISTER) ")
    assert bobby_ok.command == "REGISTER"  # bobby's own nick is free


@pytest.mark.parametrize("policy", ["closed", "teacher"])
def test_registration_policy_refuses_with_disallowed(make_server, tmp_path, policy):
    running = make_server(db_path=str(tmp_path / "a.sqlite3"), registration=policy, **FAST_LOGINS)
    student = running.connect("student")
    student.send("REGISTER * * long-enough")
    assert student.expect(r" FAIL REGISTER ").params[1] == "DISALLOWED"


def test_sasl_plain_logs_in_and_takes_the_reserved_nick(accounts_server):
    first = accounts_server.connect("alice")
    first.send("REGISTER * * correct-horse")
    first.expect(r" REGISTER SUCCESS ")
    first.send("QUIT")
    first.expect_closed()
    guest = accounts_server.client()
    guest.nick = "alice"
    guest.send("NICK alice")
    guest.send("USER a 0 * :a")
    assert "reserved" in guest.expect_numeric("433").params[-1]
    guest.send("NICK alice_guest")
    guest.expect_numeric("001")
    alice, answers = sasl_connect(accounts_server, "alice", "alice", "correct-horse")
    assert answers[0] == "903"
    alice.expect_numeric("001")


def test_wrong_passwords_are_refused_then_the_account_locks(accounts_server):
    owner = accounts_server.connect("carol")
    owner.send("REGISTER * * right-password")
    owner.expect(r" REGISTER SUCCESS ")
    for attempt in range(MAX_FAILURES):
        _client, answers = sasl_connect(accounts_server, f"guess{attempt}", "carol", f"wrong{attempt}")
        assert answers[0] == "904"
    _locked, answers = sasl_connect(accounts_server, "guess9", "carol", "right-password")
    assert answers[0] == "904" and "locked" in answers[1]


def test_a_lock_ends_after_a_minute_of_the_injected_clock(tmp_path):
    now = [1000.0]
    store = AccountStore(str(tmp_path / "a.sqlite3"), delay_base=0.5, monotonic=lambda: now[0])
    store.create("dave", "right-password")
    delays = [store.check_login("dave", "wrong").delay for _ in range(MAX_FAILURES)]
    assert delays == sorted(delays) and delays[0] < delays[-1], "the delay grows with each wrong password"
    assert store.check_login("dave", "right-password").locked
    now[0] += 61
    assert store.check_login("dave", "right-password").account is not None
    assert store.check_login("nobody", "whatever").account is None


@pytest.mark.parametrize("lines, numeric", [
    (["AUTHENTICATE *"], "906"),
    (["AUTHENTICATE SCRAM-SHA-256"], "908"),
    (["AUTHENTICATE PLAIN", "AUTHENTICATE " + "A" * 401], "905"),
    (["AUTHENTICATE PLAIN", "AUTHENTICATE !!!not-base64!!!"], "904"),
    (["AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("eve", "pw", authzid="mallory")], "904"),
])
def test_authenticate_out_of_order_or_malformed(accounts_server, lines, numeric):
    client = accounts_server.connect("probe")
    for line in lines:
        client.send(line)
    client.expect_numeric(numeric)
    other = accounts_server.connect("bystander")
    other.send("PING :fine")
    other.expect(r" PONG \S+ :?fine")


def test_sasl_after_a_login_is_refused_with_907(accounts_server):
    owner = accounts_server.connect("frank")
    owner.send("REGISTER * * frank-password")
    owner.expect(r" REGISTER SUCCESS ")
    owner.send("AUTHENTICATE PLAIN")
    owner.expect_numeric("907")


def test_add_teacher_from_standard_input_makes_an_operator_at_login(make_server, tmp_path):
    db = str(tmp_path / "school.sqlite3")
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "chat_server.py"), "--db", db, "--add-teacher",
                             "Ms_Ivanova"], input="chalk-and-board\n", capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    running = make_server(db_path=db, **FAST_LOGINS)
    teacher, answers = sasl_connect(running, "Ms_Ivanova", "ms_ivanova", "chalk-and-board")
    assert answers[0] == "903"
    teacher.expect_numeric("381")
    teacher.send("MODE Ms_Ivanova")
    assert "o" in teacher.expect_numeric("221").params[1]


def test_add_students_prints_passwords_that_work(make_server, tmp_path):
    db = str(tmp_path / "school.sqlite3")
    names = tmp_path / "class.txt"
    names.write_text("Маша\npetya\n\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "chat_server.py"), "--db", db, "--add-students",
                             str(names)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    rows = dict(line.split() for line in result.stdout.splitlines()[1:])
    assert set(rows) == {"Маша", "petya"}
    running = make_server(db_path=db, **FAST_LOGINS)
    _masha, answers = sasl_connect(running, "Маша", "Маша", rows["Маша"])
    assert answers[0] == "903"


def test_account_tag_extended_join_and_account_notify(accounts_server):
    watcher = accounts_server.connect("watcher", caps=("account-tag", "extended-join", "account-notify",
                                                       "message-tags"))
    watcher.join("#c")
    masha = accounts_server.connect("masha")
    masha.join("#c")
    assert watcher.expect(r":masha!\S+ JOIN #c").params == ["#c", "*", "Test user masha"]
    masha.send("REGISTER * * masha-password")
    masha.expect(r" REGISTER SUCCESS ")
    assert watcher.expect(r":masha!\S+ ACCOUNT ").params == ["masha"]
    masha.send("PRIVMSG #c :signed")
    assert watcher.expect(r" PRIVMSG #c :?signed").tags.get("account") == "masha"
    plain = accounts_server.connect("plain")
    plain.join("#c")
    masha.send("PRIVMSG #c :again")
    line = plain.expect(r" PRIVMSG #c :?again")
    assert "account" not in line.tags


def test_private_history_follows_the_account_to_another_computer(accounts_server):
    """A student logs in from another computer (another address) and still sees her private chat; a guest
    who takes her old nick there does not."""
    caps = ("batch", "server-time", "message-tags", "draft/chathistory")
    masha = accounts_server.connect("masha")
    masha.send("REGISTER * * masha-password")
    masha.expect(r" REGISTER SUCCESS ")
    teacher = accounts_server.connect("teacher")
    teacher.send("PRIVMSG masha :your homework is fine")
    masha.expect("your homework is fine")
    masha.send("QUIT")
    masha.expect_closed()
    elsewhere = accounts_server.client(source_address="127.0.0.2")
    elsewhere.nick = "masha"
    elsewhere.send("CAP LS 302")
    elsewhere.send("NICK masha")
    elsewhere.send("USER masha 0 * :m")
    elsewhere.expect(r" CAP \S+ LS ")
    elsewhere.send("CAP REQ :" + " ".join(("sasl",) + caps))
    elsewhere.expect(r" CAP \S+ ACK ")
    elsewhere.send("AUTHENTICATE PLAIN")
    elsewhere.expect(r"^AUTHENTICATE \+")
    elsewhere.send(f"AUTHENTICATE {plain('masha', 'masha-password')}")
    elsewhere.expect_numeric("903")
    elsewhere.send("CAP END")
    elsewhere.expect_numeric("376|422")
    elsewhere.send("CHATHISTORY LATEST teacher * 10")
    assert any("your homework is fine" in line for line in elsewhere.sync())


def test_own_questions_come_back_in_the_replay(make_server, tmp_path):
    running = make_server(db_path=str(tmp_path / "q.sqlite3"))
    teacher = running.connect("teacher")
    teacher.join("#q")
    teacher.send("MODE #q +U")
    teacher.sync()
    student = running.connect("student")
    student.join("#q")
    other = running.connect("other")
    other.join("#q")
    student.send("PRIVMSG #q :what is a socket?")
    teacher.expect("what is a socket")
    other.send("PRIVMSG #q :and a thread?")
    teacher.expect("and a thread")
    student.send("PART #q")
    student.sync()
    student.send("JOIN #q")
    replayed = [line for line in student.sync() if " NOTICE #q " in line]
    assert any("what is a socket" in line for line in replayed), replayed
    assert not any("and a thread" in line for line in replayed), "another student's question was shown"
