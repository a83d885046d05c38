"""One student types hostile lines; everyone else is still served.

Each test below is a finding of the hardening review, replayed against a real server process. After the
hostile line the test proves that the class goes on: another client's PING is answered within a second,
a new client registers, and (the ``server_process`` fixture checks it) the server's stderr holds no
traceback.
"""
from __future__ import annotations

import fcntl
import os
import re
import resource
import sqlite3
import struct
import termios
import threading
import time

import pytest

from helpers import IRCTestClient, ServerProcess

HISTORY_CAPS = ("batch", "server-time", "message-tags", "draft/chathistory")


def assert_class_goes_on(process: ServerProcess, bystander: IRCTestClient) -> None:
    """A bystander's PING is answered within a second, and a newcomer registers."""
    started = time.monotonic()
    bystander.send("PING :still-there")
    bystander.expect(r" PONG \S+ :?still-there", timeout=1.0)
    assert time.monotonic() - started < 1.0
    newcomer = IRCTestClient(process.address, timeout=2.0).register(f"new{int(started * 1000) % 100000}")
    newcomer.send("QUIT")
    newcomer.expect_closed()
    assert not process.tracebacks(), process.tracebacks()


@pytest.fixture
def classroom(server_process, tmp_path):
    """A server with history in a real SQLite file, flood control off (one student may type fast), and a
    bystander in #class."""

    def start(*args: str, **options):
        db = str(tmp_path / "history.sqlite3")
        process = server_process("--db", db, "--flood-rate", "0", *args, **options)
        bystander = IRCTestClient(process.address).register("bystander")
        bystander.join("#class")
        return process, bystander, db

    return start


# ------------------------------------------------------------------ critical

def test_absurd_member_limit_does_not_stop_deliveries(classroom):
    process, bystander, _db = classroom()
    student = IRCTestClient(process.address).register("student")
    student.send("JOIN #x")
    student.expect_numeric("366")
    student.send("MODE #x +l 99999999999999999999")
    student.expect(r" (696|461|472) ")  # refused as an invalid parameter, not applied
    student.send("MODE #x +l ²")
    student.expect(r" (696|461|472) ")
    student.send("MODE #x")
    assert "l" not in student.expect_numeric("324").params[2]
    bystander.send("PRIVMSG #class :after the absurd limit")
    assert_class_goes_on(process, bystander)
    for _ in range(20):  # connections still come and go without leaking
        IRCTestClient(process.address).register("passerby").send("QUIT")


def test_pathological_who_mask_does_not_hold_the_server(classroom):
    process, bystander, _db = classroom()
    victim = IRCTestClient(process.address)
    victim.nick = "victim"
    victim.send("NICK victim")
    victim.send("USER v 0 * :" + "a" * 60)
    victim.expect_numeric("001")
    student = IRCTestClient(process.address).register("student")
    student.send("WHO *a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b")
    student.expect_numeric("315")
    student.send("WHO " + "?a" * 100 + "*c")
    student.expect_numeric("315")
    assert_class_goes_on(process, bystander)


def test_pathological_ban_masks_do_not_slow_joins_and_messages(classroom):
    process, bystander, _db = classroom()
    student = IRCTestClient(process.address).register("student")
    student.send("JOIN #mine")
    student.expect_numeric("366")
    for letter in "bq":
        student.send(f"MODE #mine +{letter} *a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b!*@*")
    student.sync()
    long_nick = "a" * 29
    other = IRCTestClient(process.address).register(long_nick)
    other.send("JOIN #mine")
    other.expect_numeric("366")
    other.send("PRIVMSG #mine :hello")
    student.expect(r" PRIVMSG #mine :?hello")
    assert_class_goes_on(process, bystander)


# ------------------------------------------------------------------ commands are units

@pytest.mark.parametrize("line, reply", [
    ("CAP LS ²", r" CAP student LS "),
    ("CAP LS 99999999999999999999999", r" CAP student LS "),
    ("CHATHISTORY LATEST #class * ²", r" FAIL CHATHISTORY INVALID_PARAMS "),
    ("CHATHISTORY LATEST #class * 99999999999999999999999", r" FAIL CHATHISTORY INVALID_PARAMS "),
    ("CHATHISTORY BEFORE #class timestamp=99999-01-01T00:00:00Z 5", r" FAIL CHATHISTORY INVALID_PARAMS "),
    ("CHATHISTORY BEFORE #class msgid=a*b 5", r" FAIL CHATHISTORY INVALID_PARAMS "),
])
def test_unparseable_numbers_get_an_error_not_a_disconnect(classroom, line, reply):
    process, bystander, _db = classroom()
    student = IRCTestClient(process.address).register("student", caps=HISTORY_CAPS)
    student.join("#class")
    student.send(line)
    student.expect(reply)
    student.send("PING :alive")
    student.expect(r" PONG \S+ :?alive")
    assert_class_goes_on(process, bystander)


def test_a_mode_line_with_a_bad_parameter_changes_nothing(classroom):
    process, bystander, _db = classroom()
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.join("#mine")
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#mine")
    teacher.send("MODE #mine +ml ²")
    teacher.expect(r" (696|461|472) ")
    teacher.send("MODE #mine")
    assert teacher.expect_numeric("324").params[2] == "+nt"
    assert not any(" MODE #mine " in line for line in watcher.sync()), "a half-applied change was relayed"
    assert_class_goes_on(process, bystander)


def test_a_parameter_with_a_space_is_refused_whole(classroom):
    process, bystander, _db = classroom()
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.join("#c")
    teacher.send("MODE #c +k secret")
    teacher.expect(r" MODE #c \+k")
    teacher.send("MODE #c +b-k :a b")
    teacher.expect(r" (696|461|472) ")
    teacher.send("MODE #c +b")
    bans = teacher.collect_until("367|368", end="368")
    assert bans == [], "the ban was added though the line was refused"
    teacher.send("MODE #c")
    assert "k" in teacher.expect_numeric("324").params[2], "the key was removed though the line was refused"
    assert_class_goes_on(process, bystander)


# ------------------------------------------------------------------ bounded work per line

def test_ban_list_queries_count_toward_the_modes_limit(classroom):
    process, bystander, _db = classroom()
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.join("#mine")
    for start in range(0, 40, 4):
        teacher.send("MODE #mine +bbbb " + " ".join(f"n{i}!*@*" for i in range(start, start + 4)))
    teacher.sync()
    teacher.send("MODE #mine +" + "b" * 200)
    lists = 0
    while (reply := teacher.expect(r" (367|368) ")):
        if reply.command == "368":
            lists += 1
            following = teacher.sync()
            lists += sum(1 for line in following if " 368 " in line)
            break
    assert lists <= 4, f"the ban list was sent {lists} times for one line"
    assert_class_goes_on(process, bystander)


def test_repeated_errors_for_many_targets_collapse(classroom):
    process, bystander, _db = classroom()
    student = IRCTestClient(process.address).register("student")
    for targets in (["n"] * 240, [f"n{index}" for index in range(100)]):  # each line fits in 512 bytes
        student.send("PRIVMSG " + ",".join(targets) + " :hi")
        errors = [line for line in student.sync() if " 401 " in line or " 407 " in line]
        assert 1 <= len(errors) <= 5, f"{len(errors)} error replies for one line"
    student.send("JOIN " + ",".join(["x"] * 240))
    errors = [line for line in student.sync() if " 403 " in line]
    assert 1 <= len(errors) <= 5, f"{len(errors)} error replies for one JOIN"
    assert_class_goes_on(process, bystander)


def test_one_user_cannot_create_unlimited_channels(classroom):
    """Channels a student makes and talks in are kept (with their history); one computer may have made at
    most --max-channels-made of them at once, however often it reconnects."""
    process, bystander, _db = classroom("--max-channels", "1000", "--max-channels-made", "10")
    made, refused = 0, 0
    for round_ in range(3):  # reconnecting does not reset the count
        student = IRCTestClient(process.address, source_address="127.0.0.2").register(f"student{round_}")
        for index in range(8):
            name = f"#r{round_}c{index}"
            student.send(f"JOIN {name}")
            student.send(f"PRIVMSG {name} :kept because of this message")
            student.send(f"PART {name}")
            lines = student.sync()
            if any(" 405 " in line for line in lines):
                refused += 1
            else:
                made += 1
        student.send("QUIT")
        student.expect_closed()
    assert made == 10 and refused == 14, (made, refused)
    assert_class_goes_on(process, bystander)


def test_chathistory_targets_does_not_leak_private_conversations(classroom):
    process, bystander, _db = classroom()
    # "a_" as a LIKE pattern matches "ab": the snoop must not learn of ab's conversation with zz.
    ab = IRCTestClient(process.address).register("ab")
    zz = IRCTestClient(process.address).register("zz")
    ab.send("PRIVMSG zz :a secret between us")
    zz.expect("a secret between us")
    zz.send("PRIVMSG ab :and the answer")
    ab.expect("and the answer")
    snoop = IRCTestClient(process.address).register("a_", caps=HISTORY_CAPS)
    snoop.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 50")
    lines = snoop.sync()
    assert not any(" zz " in line or " ab " in line for line in lines), lines
    ab_again = IRCTestClient(process.address).register("ab2", caps=HISTORY_CAPS)
    ab.send("QUIT")
    ab.expect_closed()
    ab_again.send("NICK ab")
    ab_again.sync()
    ab_again.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 50")
    assert any(" CHATHISTORY TARGETS zz " in line for line in ab_again.sync()), "the owner no longer sees it"
    assert_class_goes_on(process, bystander)


# ------------------------------------------------------------------ lines that fit

def test_a_message_that_cannot_be_relayed_whole_is_refused(classroom):
    process, bystander, _db = classroom()
    student = IRCTestClient(process.address).register("student")
    student.join("#class")
    text = "x" * (510 - len("PRIVMSG #class :"))
    student.send(f"PRIVMSG #class :{text}")
    student.expect(r" 417 | FAIL PRIVMSG ")
    assert not any(text in line for line in bystander.sync()), "a truncated or overlong line was relayed"
    fitting = "y" * 300
    student.send(f"PRIVMSG #class :{fitting}")
    relayed = bystander.expect(r" PRIVMSG #class ")
    assert relayed.params[1] == fitting
    assert_class_goes_on(process, bystander)


def test_relayed_lines_never_exceed_512_bytes(classroom):
    process, bystander, _db = classroom()
    raw = IRCTestClient(process.address)
    raw.nick = "n" * 30
    raw.send(f"NICK {raw.nick}")
    raw.send("USER " + "u" * 16 + " 0 * :x")
    raw.expect_numeric("001")
    raw.join("#class")
    for size in range(380, 500, 7):
        raw.send("PRIVMSG #class :" + "z" * size)
    raw.sync()
    received = bystander.sync()
    for line in received:
        assert len(line.encode()) + 2 <= 512 or line.startswith("@"), f"{len(line)} bytes: {line[:80]}…"
    assert_class_goes_on(process, bystander)


# ------------------------------------------------------------------ history and durability

def test_replay_on_join_holds_no_duplicates_of_live_messages(classroom):
    process, bystander, _db = classroom()
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#busy")
    stop = threading.Event()

    def talk():
        count = 0
        while not stop.is_set() and count < 400:
            talker.send(f"PRIVMSG #busy :line {count}")
            count += 1

    thread = threading.Thread(target=talk)
    thread.start()
    try:
        for round_ in range(8):
            joiner = IRCTestClient(process.address).register(f"joiner{round_}", caps=("batch", "server-time",
                                                                                     "message-tags"))
            joiner.join("#busy")
            lines = joiner.sync()
            msgids = re.findall(r"msgid=([^;\s]+)", "\n".join(line for line in lines if " PRIVMSG " in line))
            assert len(msgids) == len(set(msgids)), "a replayed message also arrived live"
            joiner.send("QUIT")
    finally:
        stop.set()
        thread.join(10)
    assert_class_goes_on(process, bystander)


def test_message_times_never_go_backwards(classroom):
    process, bystander, _db = classroom()
    watcher = IRCTestClient(process.address).register("watcher", caps=("server-time", "message-tags"))
    watcher.join("#class")
    for index in range(50):
        bystander.send(f"PRIVMSG #class :{index}")
    bystander.sync()
    times = [re.search(r"time=([^;\s]+)", line).group(1) for line in watcher.sync() if " PRIVMSG " in line]
    assert len(times) == 50 and times == sorted(times)


def test_a_locked_database_does_not_stall_delivery(classroom):
    process, bystander, db = classroom()
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#class")
    locker = sqlite3.connect(db, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        talker.send("PRIVMSG #class :while the database is locked")
        reply = talker.expect(r" FAIL PRIVMSG | PONG ", timeout=5)
        talker.send("PING :x")
        assert time.monotonic() - started < 3.0
        assert not any("while the database is locked" in line for line in bystander.sync()), \
            "a message was delivered that was not stored"
        assert reply.command == "FAIL"
    finally:
        locker.rollback()
        locker.close()
    talker.send("PRIVMSG #class :after the lock")
    bystander.expect("after the lock")
    assert_class_goes_on(process, bystander)


def test_a_full_disk_refuses_messages_then_recovers(classroom, tmp_path):
    """RLIMIT_FSIZE makes every write past a size fail with EFBIG, as a full disk does."""
    limit = 2 * 1024 * 1024

    def small_disk():
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    process, bystander, db = classroom(preexec_fn=small_disk)
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#class")
    delivered = 0
    refused = 0
    big = "w" * 400
    for index in range(20000):
        talker.send(f"PRIVMSG #class :{index} {big}")
        if index % 50 == 49:
            lines = talker.sync()
            refused += sum(1 for line in lines if " FAIL PRIVMSG " in line)
            if refused:
                break
    assert refused, "the disk never filled"
    received = [line for line in bystander.sync() if " PRIVMSG #class :" in line]
    delivered = len(received)
    stored = sqlite3.connect(db).execute("SELECT count(*) FROM messages").fetchone()[0]
    assert delivered <= stored, f"{delivered} delivered but only {stored} stored"
    process.wait_for_stderr("could not store")
    assert_class_goes_on(process, bystander)


# ------------------------------------------------------------------ threads, logging, closing

def test_failing_to_start_a_thread_refuses_one_connection_only(server_process):
    """An address-space limit makes new threads fail to start, as a memory-starved machine does."""
    limit = 600 * 1024 * 1024

    def tight_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    process = server_process("--flood-rate", "0", "--max-per-address", "0", preexec_fn=tight_memory)
    first = IRCTestClient(process.address).register("first")
    clients, refused = [], 0
    for index in range(150):
        client = IRCTestClient(process.address, timeout=3.0)
        client.send(f"NICK c{index}")
        client.send(f"USER c 0 * :c")
        reply = client.expect(r" 001 |^ERROR ")
        if reply.command == "ERROR":
            refused += 1
            client.close()
            if refused >= 3:
                break
        else:
            clients.append(client)
    assert refused, f"{len(clients)} threads started under the limit: it did not bite"
    first.send("PING :alive")
    first.expect(r" PONG \S+ :?alive")
    process.wait_for_stderr("could not start")
    for client in clients[:20]:  # some leave, and their places are served again
        client.send("QUIT")
        client.expect_closed()
    again = IRCTestClient(process.address).register("again")
    again.send("PING :served")
    again.expect(r" PONG \S+ :?served")
    for client in clients[20:]:
        client.close()
    assert process.stop() == 0, "shutdown did not complete"


def unread_bytes(fd: int) -> int:
    """How many bytes wait in a pipe (FIONREAD)."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_a_stalled_log_reader_does_not_stall_the_class(server_process, tmp_path):
    """stderr is a pipe nobody reads (a terminal paused with Ctrl+S): logging must not block the lock."""
    read_end, write_end = os.pipe()
    process = ServerProcess("--flood-rate", "0", "--log-level", "INFO", "--db", ":memory:",
                            stderr_fd=write_end)
    os.close(write_end)
    try:
        bystander = IRCTestClient(process.address).register("bystander")
        student = IRCTestClient(process.address).register("student")
        names = ",".join(["x"] * 240)  # 240 invalid names in one line: each refusal is logged
        for _ in range(30):
            student.send(f"JOIN {names}")
        # Wait until the unread pipe holds at least a pipe's worth (64 KiB): a server that writes its log
        # from the serving threads is stuck in write() from then on.
        deadline = time.monotonic() + 5
        pause = threading.Event()
        while unread_bytes(read_end) < 60_000 and time.monotonic() < deadline:
            pause.wait(0.02)
        started = time.monotonic()
        bystander.send("PING :through")
        bystander.expect(r" PONG \S+ :?through", timeout=2)
        assert time.monotonic() - started < 1.0
    finally:
        process.proc.kill()
        process.proc.wait()
        os.close(read_end)


def test_kill_delivers_the_closing_error_line(classroom):
    process, bystander, _db = classroom("--oper", "teacher:secret")
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.send("OPER teacher secret")
    teacher.expect_numeric("381")
    victim = IRCTestClient(process.address).register("victim")
    victim.join("#class")
    for index in range(200):
        bystander.send(f"PRIVMSG #class :{index} " + "q" * 300)
    teacher.send("KILL victim :enough")
    lines = victim.expect_closed()
    assert any(line.startswith("ERROR ") and "enough" in line for line in lines), lines[-3:]
    assert_class_goes_on(process, bystander)


def test_failed_operator_logins_are_limited(classroom):
    """Wrong OPER passwords are answered 464; after three from one connection it is closed. (An unknown
    name costs the same scrypt as a known one, so names cannot be found by timing: see passwords.py.)"""
    process, bystander, _db = classroom("--oper", "teacher:secret")
    guesser = IRCTestClient(process.address).register("guesser")
    for attempt in range(3):
        guesser.send(f"OPER {'teacher' if attempt % 2 else 'nobody'} wrong{attempt}")
        guesser.expect_numeric("464")
    guesser.send("OPER teacher secret")
    lines = guesser.expect_closed()
    assert not any(" 381 " in line for line in lines), "a fourth try was let in"
    assert any(line.startswith("ERROR ") for line in lines)
    assert_class_goes_on(process, bystander)
