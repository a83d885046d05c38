"""One student types hostile lines; everyone else is still served.

Each test below is a finding of the hardening review, replayed against a real server process. After the
hostile line the test proves that the class goes on: another client's PING is answered within a second,
a new client registers, and (the ``server_process`` fixture checks it) the server's stderr holds no
traceback.
"""
from __future__ import annotations

import fcntl
import itertools
import logging
import os
import resource
import socket
import sqlite3
import struct
import termios
import threading
import time

import pytest

from common.protocol.message import parse
from common.protocol.params import parse_timestamp as parse_time
from helpers import IRCTestClient, ServerProcess, stored_messages, take_logged, wait_until

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
    for _ in range(20):  # connections still come and go
        passerby = IRCTestClient(process.address).register("passerby")
        passerby.send("QUIT")
        passerby.expect_closed()


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

def test_replay_on_join_holds_no_duplicates_of_live_messages(make_server, tmp_path):
    """Three students talk as fast as they can while others join: a message decided after a JOIN reaches
    the joiner live, so it must not be in the JOIN's replay too. (Deterministically, with the JOIN and the
    messages after it in one batch: tests/test_sequencer.py.)"""
    running = make_server(db_path=str(tmp_path / "history.sqlite3"), flood_rate=0, replay=1000)
    talkers = [running.connect(f"talker{index}") for index in range(3)]
    for talker in talkers:
        talker.join("#busy")
    joiners = [running.connect(f"joiner{index}", caps=("batch", "server-time", "message-tags"))
               for index in range(12)]

    def talk(talker: IRCTestClient, joining: list[IRCTestClient]) -> None:
        for count in range(300):
            talker.send(f"PRIVMSG #busy :{talker.nick} {count}")
            if count % 25 == 10 and joining:
                joining.pop().send("JOIN #busy")  # a JOIN among the messages in flight

    threads = [threading.Thread(target=talk, args=(talker, joiners[index::3]))
               for index, talker in enumerate(talkers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for talker in talkers:
        talker.sync()  # everything it sent is delivered
    for joiner in joiners:
        lines = [parse(line) for line in joiner.sync()]
        assert any(line.command == "366" for line in lines), f"{joiner.nick} never joined"
        msgids = [line.tags["msgid"] for line in lines if line.command == "PRIVMSG"]
        assert len(msgids) == len(set(msgids)), f"{joiner.nick}: a replayed message also arrived live"
        assert len(msgids) == 900, f"{joiner.nick}: {len(msgids)} of the 900 messages (replay and live)"


def latest_texts(watcher: IRCTestClient, channel: str, limit: int = 20) -> list[str]:
    """The texts of a channel's latest messages, oldest first, as CHATHISTORY LATEST gives them."""
    watcher.send(f"CHATHISTORY LATEST {channel} * {limit}")
    watcher.expect(rf" BATCH \+\S+ chathistory {channel}")
    texts = []
    for _ in range(limit + 1):
        line = watcher.expect(r" (PRIVMSG|BATCH) ")
        if line.command == "BATCH":
            return texts
        texts.append(line.params[1])
    raise AssertionError(f"CHATHISTORY sent more than the {limit} messages asked for")


def test_message_times_never_go_backwards(make_server, tmp_path):
    """The wall clock steps back ten seconds (NTP) between two messages: the second is stamped with the
    first one's time, not earlier, so the history keeps the order everyone received them in."""
    clock = [1_800_000_000.0]
    running = make_server(wall_clock=lambda: clock[0], db_path=str(tmp_path / "history.sqlite3"))
    watcher = running.connect("watcher", caps=HISTORY_CAPS)
    talker = running.connect("talker")
    for client in (watcher, talker):
        client.join("#class")
    sent = []
    for index, step in enumerate([0, 0.25, -10, 0.125, 0, 10.5, -0.5]):  # exact in binary: no rounding
        clock[0] += step
        talker.send(f"PRIVMSG #class :{index}")
        sent.append(watcher.expect(rf" PRIVMSG #class :?{index}$"))
    times = [parse_time(line.tags["time"]) for line in sent]
    start = 1_800_000_000_000
    assert times == [start, start + 250, start + 250, start + 250, start + 250, start + 875, start + 875], \
        "a message was stamped before the one it followed"
    assert latest_texts(watcher, "#class") == [str(index) for index in range(7)], "the history's order is not the order of delivery"


def test_message_times_never_go_backwards_across_a_restart(make_server, tmp_path):
    """The server stops, the clock steps back a minute while it is down, and it starts again on the same
    history: its first message is stamped with the last stored one's time, so the history's order stays
    the order of delivery."""
    clock = [1_800_000_000.0]
    db = str(tmp_path / "history.sqlite3")
    stamps = []
    for text, step in (("before", 0), ("after", -60)):
        clock[0] += step
        running = make_server(wall_clock=lambda: clock[0], db_path=db)
        watcher, talker = running.connect("watcher", caps=HISTORY_CAPS), running.connect("talker")
        for client in (watcher, talker):
            client.join("#class")
        talker.send(f"PRIVMSG #class :{text}")
        stamps.append(parse_time(watcher.expect(rf" PRIVMSG #class :?{text}$").tags["time"]))  # so it is stored
        if text == "before":
            running.stop()
    assert stamps == [1_800_000_000_000, 1_800_000_000_000], "stamped before the last message stored"
    assert latest_texts(watcher, "#class") == ["before", "after"], "the history's order is not the order of delivery"


def test_a_locked_database_stalls_nothing_and_loses_nothing(classroom):
    """Another program holds the database locked (a backup, a shell left in a transaction): messages and
    channel settings still go out at once, stored in the history's log, and the log says once that the
    database cannot take them yet. Killed (kill -9) while the lock is held, the server stores them at its
    next start, in order: what anyone received is in the history."""
    process, bystander, db = classroom()
    talker = IRCTestClient(process.address).register("talker", caps=("echo-message",))
    talker.join("#class")
    locker = sqlite3.connect(db, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        talker.send("PRIVMSG #class :while the database is locked")
        bystander.expect(r" PRIVMSG #class :while the database is locked$")
        bystander.send("TOPIC #class :set while locked")
        talker.expect(r" TOPIC #class :set while locked$")
        talker.send("PRIVMSG #class :again while locked")
        bystander.expect(r" PRIVMSG #class :again while locked$")
        assert not any(" FAIL " in line for line in talker.sync())
        process.wait_for_stderr("could not store")
        process.proc.kill()  # SIGKILL: the messages are in the log alone
        process.proc.wait(5)
        assert not stored_messages(locker)
    finally:
        locker.rollback()
        locker.close()
    assert process.stderr_text.count("could not store") == 1, process.stderr_text
    restarted, newcomer, _db = classroom()
    with sqlite3.connect(db) as history:
        texts = [m.text for m in stored_messages(history)]
        topic = history.execute("SELECT topic FROM channels WHERE name_key = '#class'").fetchone()
    assert texts == ["while the database is locked", "again while locked"]
    assert topic == ("set while locked",)
    assert_class_goes_on(restarted, newcomer)


def test_a_full_disk_refuses_messages_then_recovers(classroom, tmp_path):
    """RLIMIT_FSIZE makes every write past a size fail with EFBIG, as a full disk does. The database fills
    first, then the log that keeps what it cannot take: from then on messages are refused. Once there is
    space again (here the limit is lifted), the server stores the waiting messages and the new ones by
    itself, and every message anyone received is in the history."""
    limit = 2 * 1024 * 1024

    def small_disk():
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    process, bystander, db = classroom(preexec_fn=small_disk)
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#class")
    refused = []
    big = "w" * 400
    for index in range(20000):
        talker.send(f"PRIVMSG #class :{index} {big}")
        if index % 50 == 49:
            refused = [line for line in talker.sync() if " FAIL " in line]
            if refused:
                break
    assert refused, "the disk never filled"
    assert all(" FAIL PRIVMSG MESSAGE_NOT_SENT #class :" in line for line in refused), refused[:3]
    received = {line.split(" :", 1)[1].split()[0] for line in bystander.sync() if " PRIVMSG #class :" in line}
    process.wait_for_stderr("could not store")
    resource.prlimit(process.proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    attempts = itertools.count()

    def stores_again() -> bool:
        talker.send(f"PRIVMSG #class :after freeing space {next(attempts)}")
        return not any(" FAIL " in line for line in talker.sync())

    wait_until(stores_again, timeout=15, what="the server to store messages again")
    bystander.expect(rf"after freeing space {next(attempts) - 1}$")
    process.wait_for_stderr("history storage works again")

    def stored() -> set[str]:
        with sqlite3.connect(db, timeout=10) as history:
            return {m.text.split()[0] for m in stored_messages(history)}

    wait_until(lambda: received <= stored(), timeout=15, what="every delivered message in the history")
    assert_class_goes_on(process, bystander)


def test_a_history_read_that_fails_affects_only_itself(make_server, tmp_path, caplog):
    """A damaged block in the history file makes the replay on JOIN raise (not an sqlite3.Error): once, that
    ended the sequencer thread, and nobody received anything after it."""
    db = str(tmp_path / "history.sqlite3")
    running = make_server(db_path=db)
    alice = running.connect("alice")
    alice.join("#c")
    alice.send("PRIVMSG #c :before the damage")
    alice.sync()
    assert running.server.store.wait_until_stored()  # out of the history's log, into SQLite
    with sqlite3.connect(db) as history:
        history.execute("UPDATE message_blocks SET body = CAST('damaged' AS BLOB)")
    bob = running.connect("bob", caps=("server-time", "batch", "message-tags"))
    bob.send("JOIN #c")
    lines = [parse(line) for line in bob.sync()]
    assert [line.command for line in lines if line.command in ("JOIN", "366", "PRIVMSG")] == ["JOIN", "366"]
    alice.send("PRIVMSG #c :after the damage")
    bob.expect(r" PRIVMSG #c :after the damage$")
    failed = take_logged(caplog, logging.ERROR, "could not answer a history read")
    assert len(failed) == 1 and failed[0].exc_info is not None
    carol = running.connect("carol")
    carol.join("#other")


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
        try:
            # Refused at once, the connection may be closed before the second line is even sent.
            client.send(f"NICK c{index}\r\nUSER c 0 * :c")
            reply = client.expect(r" 001 |^ERROR ")
        except OSError:
            reply = None
        if reply is None or reply.command == "ERROR":
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


def read_to_the_end(client: IRCTestClient, count: int) -> list[str]:
    """What a client that read nothing for a while finds, up to the server closing the connection: the
    ``count`` numbered messages in order, complete, and the closing ERROR as the very last line."""
    lines = [line for line in client.expect_closed(timeout=15) if " PING " not in line and not line.startswith("PING ")]
    numbers = [line.split(" :", 1)[1].split()[0] for line in lines if " PRIVMSG #class :" in line]
    assert numbers == [str(index) for index in range(count)], f"{len(numbers)} of {count} messages, or out of order"
    assert lines[-1].startswith("ERROR :Closing Link: "), f"no closing ERROR last: {lines[-2:]}"
    return lines


def a_client_that_reads_nothing(running, nick: str) -> IRCTestClient:
    """A client in #class that reads nothing until the test says so. The kernel's send buffer of its
    connection is shrunk (on loopback it grows to megabytes), so that what it does not read waits in the
    server's own buffer, where a close could lose it."""
    client = running.client(rcvbuf=4096).register(nick)
    client.join("#class")
    running.server.state.find_client(nick).conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    return client


def queue_for(running, nick: str, sender: IRCTestClient, count: int) -> list[str]:
    """``sender`` sends ``count`` numbered messages to #class; returns once all of them are handed to the
    connections, with what ``sender`` received meanwhile. Most of them wait in ``nick``'s buffer."""
    for index in range(count):
        sender.send(f"PRIVMSG #class :{index} " + "q" * 300)
    received = sender.sync()
    assert running.server.state.find_client(nick).conn.pending_bytes > 0, "nothing waits in the server's buffer"
    return received


def test_kill_delivers_the_closing_error_line(make_server):
    """The victim reads nothing for a while, so that what was sent to it waits in the server's buffer when
    the KILL comes: the socket is shut down only once that and the ERROR are out."""
    running = make_server(opers={"teacher": "secret"}, flood_rate=0)
    teacher = running.connect("teacher")
    teacher.send("OPER teacher secret")
    teacher.expect_numeric("381")
    victim = a_client_that_reads_nothing(running, "victim")
    bystander = running.connect("bystander")
    bystander.join("#class")
    queue_for(running, "victim", bystander, 300)
    teacher.send("KILL victim :enough")
    bystander.expect(r":victim!\S+ QUIT :Killed \(teacher \(enough\)\)")
    lines = read_to_the_end(victim, 300)
    assert "enough" in lines[-1]


def test_a_ping_timeout_closes_after_what_was_queued(make_server):
    """A client that neither reads nor answers PINGs: its ping-timeout ERROR goes through the sequencer,
    after the lines queued before it, and the socket is shut down only once they are out."""
    running = make_server(ping_interval=2.0, ping_timeout=0.5, housekeeping_interval=0.05, flood_rate=0)
    silent = a_client_that_reads_nothing(running, "silent")
    talker = running.connect("talker")
    talker.join("#class")
    received = queue_for(running, "silent", talker, 300)
    assert not any(" QUIT " in line for line in received), "the timeout came before the messages were queued"
    silent_conn = running.server.state.find_client("silent").conn
    wait_until(lambda: silent_conn.close_reason is not None, timeout=10, what="the ping timeout")
    lines = read_to_the_end(silent, 300)  # only now does the silent client read
    assert "Ping timeout" in lines[-1]


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
