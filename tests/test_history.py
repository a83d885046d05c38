"""History against the real server process and a real SQLite file: replay, CHATHISTORY, privacy,
restarts, kill -9, export and retention."""
from __future__ import annotations

import csv
import io
import itertools
import logging
import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest

from common.server.history import (SCHEMA_VERSION, ChannelSnapshot, HistoryStore, StoredMessage,
                                   Viewer, dm_key, format_time)
from common.server.history_blocks import messages_in
from common.server.history_log import HEADER, LOG_LIMIT_BYTES, LogInUse
from common.protocol.params import parse_timestamp as parse_time
from helpers import PROJECT_ROOT, IRCTestClient, take_logged, wait_until

HISTORY_CAPS = ("batch", "server-time", "message-tags")


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "history.sqlite3")


def say(client: IRCTestClient, target: str, *texts: str) -> None:
    for text in texts:
        client.send(f"PRIVMSG {target} :{text}")
    client.sync()


def batch_lines(client: IRCTestClient, batch_type: str = "chathistory") -> tuple[list, list]:
    """Read one BATCH; returns (its opening parameters, the messages inside)."""
    opening = client.expect(rf" BATCH \+\S+ {re.escape(batch_type)}")
    reference = opening.params[0][1:]
    inside = []
    while True:
        line = client.expect(rf"(batch={reference}\b| BATCH -{reference}$)")
        if line.command == "BATCH":
            return opening.params[2:], inside
        inside.append(line)


# ------------------------------------------------------------------ the store on its own

def test_store_orders_pages_and_survives_reopening(db):
    store = HistoryStore(db)
    base = 1_700_000_000_000
    store.write([StoredMessage(f"m{i}", base + i * 1000, "#c", "alice!~a@h", "PRIVMSG", f"text {i}")
                 for i in range(10)])
    store.write([], [ChannelSnapshot("#c", 1, "topic", "alice", 2, "mnt", "key", 5, (("bad!*@*", "alice", 3),))])
    store.close()
    store = HistoryStore(db)
    assert [m.text for m in store.before("#c", None, 3)] == ["text 7", "text 8", "text 9"]
    cursor = store.cursor_for_msgid("#c", "m5")
    assert [m.msgid for m in store.before("#c", cursor, 2)] == ["m3", "m4"]
    assert [m.msgid for m in store.after("#c", cursor, 2)] == ["m6", "m7"]
    assert store.load_channels()[0].bans == (("bad!*@*", "alice", 3),)
    assert store.purge_before(base + 5000) == 5
    assert len(store.export("#c")) == 5
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_the_store_refuses_numbers_sqlite_cannot_hold(db, caplog):
    """Defence in depth: a channel limit past 64 bits once raised OverflowError inside the sequencer."""
    store = HistoryStore(db)
    absurd = ChannelSnapshot("#x", 1, "", "", 0, "ntl", None, 99999999999999999999, ())
    fine = ChannelSnapshot("#y", 1, "", "", 0, "ntl", None, 10, ())
    store.write([StoredMessage("m1", 1000, "#y", "a!a@h", "PRIVMSG", "hi")], [absurd, fine])
    assert [(c.name, c.limit) for c in store.load_channels()] == [("#y", 10)]
    assert take_logged(caplog, logging.WARNING, "not saving the settings of #x")
    with pytest.raises(sqlite3.DataError):
        store.write([StoredMessage("m2", 1001, "#y", "a!a@h", "PRIVMSG", "kept?"),
                     StoredMessage("m3", 2 ** 64, "#y", "a!a@h", "PRIVMSG", "from the far future")])
    assert [m.msgid for m in store.before("#y", None, 10)] == ["m1"], "part of a refused batch was stored"
    store.close()


def test_a_large_batch_is_stored_whole_in_order_or_not_at_all(db, caplog):
    """A batch to two channels is two blocks and their msgid aliases: all of them are one transaction, so a
    failure in the last block leaves nothing of the batch. A batch SQLite refuses (here a trigger; in life a
    bug) is left out with its traceback, and never holds up the batches after it in the log."""
    store = HistoryStore(db)
    store.db.execute("CREATE TRIGGER refuse BEFORE INSERT ON message_blocks"
                     " WHEN instr(NEW.body, CAST('poison' AS BLOB)) > 0"
                     " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")

    times = itertools.count(1_700_000_000_000)

    def batch(name: str, count: int, poison_at: int | None = None) -> list[StoredMessage]:
        """Messages to #c, the last two to #d."""
        return [StoredMessage(f"{name}{i}", next(times), "#c" if i < count - 2 else "#d", "alice!~a@h", "PRIVMSG",
                              "poison" if i == poison_at else f"{name} {i}") for i in range(count)]

    store.write(batch("bad", 100, poison_at=98))
    store.write(batch("lone", 1, poison_at=0))
    store.write(batch("good", 100))
    store.write(batch("one", 1))
    assert [m.text for m in store.before("#c", None, 500)] == [f"good {i}" for i in range(98)]
    assert [m.text for m in store.before("#d", None, 500)] == ["good 98", "good 99", "one 0"]
    assert store.db.execute("SELECT count(*) FROM message_aliases").fetchone()[0] == 101, "only the good ones' msgids"
    refusals = [r for r in caplog.records if r.levelno == logging.ERROR and "is left out of the history" in r.message]
    assert [r.args for r in refusals] == [(100,), (1,)]
    assert all("refused by the test" in str(r.exc_info[1]) for r in refusals)
    caplog.clear()
    store.close()


def test_a_batch_of_plain_and_other_messages_is_stored_in_order_with_every_field(db):
    """A guest's untagged message to a channel is kept as its seven values (the others are defaults); the
    rest with every field. A batch mixing them is stored in the order given, each as it was, one block per
    conversation."""
    store = HistoryStore(db)
    base = 1_700_000_000_000
    kinds = [
        ("#класс", {}),  # plain
        ("Борис", {"recipient_host": "h2", "recipient_account": "Boris"}),  # private
        ("#класс", {"client_tags": {"+draft/reply": "m0"}}),
        ("#класс", {"ops_only": True}),  # a question under +U
        ("#класс", {"sender_account": "Анна"}),
        ("#класс", {}),
    ]
    messages = [StoredMessage(f"m{i}", base + i, target, "анна!~a@h1", "PRIVMSG", f"text {i}", **extra)
                for i, (target, extra) in enumerate(kinds * 12)]  # runs of one shape and of mixed ones
    store.write(messages)
    bodies = store.db.execute("SELECT target_key, body FROM message_blocks ORDER BY id").fetchall()
    assert [key for key, _ in bodies] == ["#класс", "dm:анна:борис"]
    stored = sorted((m for _, body in bodies for m in messages_in(body)), key=lambda m: m.row_id)
    fields = lambda m: (m.msgid, m.time_ms, m.target, m.sender, m.command, m.text, m.recipient_host, m.client_tags,
                        m.ops_only)
    assert [fields(m) for m in stored] == [fields(m) for m in messages]
    assert [(m.sender_account, m.recipient_account) for m in stored] == [
        (m.sender_account and m.sender_account.lower(), m.recipient_account and m.recipient_account.lower())
        for m in messages]
    assert [m.row_id for m in stored] == [m.row_id for m in messages] == list(range(1, len(messages) + 1))
    assert [m.text for m in store.export("#класс")] == [m.text for m in messages if m.target == "#класс"]
    store.close()


def test_time_formats_round_trip():
    assert format_time(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert parse_time("2023-11-14T22:13:20.123Z") == 1_700_000_000_123
    assert parse_time("not a time") is None
    assert dm_key("Alice", "bob") == dm_key("BOB", "alice") == "dm:alice:bob"


# ------------------------------------------------------------------ replay on join

def test_replay_for_a_plain_client_as_notices_with_times(server_process, db):
    process = server_process("--db", db)
    alice = IRCTestClient(process.address).register("alice")
    alice.join("#c")
    say(alice, "#c", "первое сообщение", "\x01ACTION machet\x01", "third")
    late = IRCTestClient(process.address).register("late")
    late.join("#c")
    notices = [late.expect(r" NOTICE #c ").params[1] for _ in range(3)]
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d\] <alice> первое сообщение", notices[0])
    assert notices[1].endswith("* alice machet") and notices[2].endswith("<alice> third")


def test_replay_for_a_capable_client_in_a_batch_with_original_times(server_process, db):
    process = server_process("--db", db)
    alice = IRCTestClient(process.address).register("alice", caps=("server-time", "message-tags"))
    alice.join("#c")
    alice.send("@+draft/react=x PRIVMSG #c :one")
    say(alice, "#c", "two")
    late = IRCTestClient(process.address).register("late", caps=HISTORY_CAPS)
    late.send("JOIN #c")
    late.expect_numeric("366")
    params, messages = batch_lines(late)
    assert params == ["#c"]
    assert [m.params[1] for m in messages] == ["one", "two"]
    assert all(m.source.startswith("alice!") and m.tags["msgid"] and m.tags["time"] for m in messages)
    assert messages[0].tags["+draft/react"] == "x"


def test_chathistory_clients_get_no_automatic_replay(server_process, db):
    process = server_process("--db", db)
    alice = IRCTestClient(process.address).register("alice")
    alice.join("#c")
    say(alice, "#c", "hello")
    modern = IRCTestClient(process.address).register("modern", caps=(*HISTORY_CAPS, "draft/chathistory"))
    modern.send("JOIN #c")
    modern.expect_numeric("366")
    assert not any("hello" in line for line in modern.sync())


def test_replay_count_option(server_process, db):
    process = server_process("--db", db, "--replay", "2")
    alice = IRCTestClient(process.address).register("alice")
    alice.join("#c")
    say(alice, "#c", "a", "b", "c")
    late = IRCTestClient(process.address).register("late")
    late.join("#c")
    assert [line.rsplit(" ", 1)[-1] for line in late.sync() if " NOTICE #c " in line] == ["b", "c"]


# ------------------------------------------------------------------ CHATHISTORY

@pytest.fixture
def chat(server_process, db):
    """A server with 20 messages in #c (m0…m19) and a chathistory client in it."""
    process = server_process("--db", db, "--flood-rate", "0")
    alice = IRCTestClient(process.address).register("alice", caps=(*HISTORY_CAPS, "echo-message"))
    alice.join("#c")
    msgids = []
    for index in range(20):
        alice.send(f"PRIVMSG #c :m{index}")
        msgids.append(alice.expect(rf" PRIVMSG #c :?m{index}$").tags["msgid"])
    reader = IRCTestClient(process.address).register("reader", caps=(*HISTORY_CAPS, "draft/chathistory"))
    reader.join("#c")
    return process, reader, msgids


def history(client: IRCTestClient, command: str) -> list[str]:
    client.send(command)
    return [m.params[1] for m in batch_lines(client)[1]]


def test_isupport_and_cap_advertise_chathistory(chat):
    process, reader, _ = chat
    reader.send("VERSION")
    reader.send("PING :isupport-end")
    isupport = " ".join(line for line in reader.lines_until(r" PONG ") if " 005 " in line)
    assert "CHATHISTORY=100" in isupport and "MSGREFTYPES=timestamp,msgid" in isupport
    reader.send("CAP LS 302")
    assert "draft/chathistory" in reader.expect(r" CAP reader LS ").params[-1].split()


def test_chathistory_latest(chat):
    _, reader, msgids = chat
    assert history(reader, "CHATHISTORY LATEST #c * 3") == ["m17", "m18", "m19"]
    assert history(reader, f"CHATHISTORY LATEST #c msgid={msgids[16]} 10") == ["m17", "m18", "m19"]


def test_chathistory_before_after_around(chat):
    _, reader, msgids = chat
    assert history(reader, f"CHATHISTORY BEFORE #c msgid={msgids[10]} 3") == ["m7", "m8", "m9"]
    assert history(reader, f"CHATHISTORY AFTER #c msgid={msgids[10]} 3") == ["m11", "m12", "m13"]
    assert history(reader, f"CHATHISTORY AROUND #c msgid={msgids[10]} 5") == ["m8", "m9", "m10", "m11", "m12"]
    assert history(reader, "CHATHISTORY BEFORE #c msgid=unknown 3") == []


def test_chathistory_between_both_ways_and_by_timestamp(chat):
    _, reader, msgids = chat
    assert history(reader, f"CHATHISTORY BETWEEN #c msgid={msgids[2]} msgid={msgids[7]} 10") == [
        "m3", "m4", "m5", "m6"]
    assert history(reader, f"CHATHISTORY BETWEEN #c msgid={msgids[7]} msgid={msgids[2]} 2") == ["m5", "m6"]
    reader.send("CHATHISTORY LATEST #c * 100")
    times = [m.tags["time"] for m in batch_lines(reader)[1]]
    assert len(times) == 20
    after_all = history(reader, f"CHATHISTORY AFTER #c timestamp={times[-1]} 10")
    assert after_all == []
    everything = history(reader, "CHATHISTORY BETWEEN #c timestamp=2000-01-01T00:00:00.000Z "
                                 "timestamp=2100-01-01T00:00:00.000Z 100")
    assert everything == [f"m{i}" for i in range(20)]


def test_chathistory_targets(chat):
    process, reader, _ = chat
    bob = IRCTestClient(process.address).register("bob")
    bob.send("PRIVMSG reader :a private hello")
    reader.expect(r" PRIVMSG reader ")
    reader.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 10")
    params, lines = batch_lines(reader, "draft/chathistory-targets")
    assert [line.params[1] for line in lines] == ["#c", "bob"]
    assert all(line.params[2].startswith("timestamp=") for line in lines)


@pytest.mark.parametrize("command, code", [
    ("CHATHISTORY FROBNICATE #c * 10", "UNKNOWN_COMMAND"),
    ("CHATHISTORY LATEST #c *", "NEED_MORE_PARAMS"),
    ("CHATHISTORY LATEST #c * ten", "INVALID_PARAMS"),
    ("CHATHISTORY LATEST #c * 0", "INVALID_PARAMS"),
    ("CHATHISTORY BEFORE #c * 10", "INVALID_PARAMS"),
    ("CHATHISTORY BEFORE #c timestamp=yesterday 10", "INVALID_PARAMS"),
    ("CHATHISTORY LATEST #secret * 10", "INVALID_TARGET"),
    ("CHATHISTORY LATEST #nonexistent * 10", "INVALID_TARGET"),
    ("CHATHISTORY TARGETS * * 10", "INVALID_PARAMS"),
])
def test_chathistory_errors(chat, command, code):
    process, reader, _ = chat
    owner = IRCTestClient(process.address).register("owner")
    owner.join("#secret")
    reader.send(command)
    fail = reader.expect(r" FAIL CHATHISTORY ")
    assert fail.params[1] == code


def test_chathistory_limit_is_capped(chat):
    _, reader, _ = chat
    assert len(history(reader, "CHATHISTORY LATEST #c * 5000")) == 20


def test_private_messages_only_reach_the_two_people_in_them(server_process, db):
    process = server_process("--db", db)
    caps = (*HISTORY_CAPS, "draft/chathistory")
    alice = IRCTestClient(process.address).register("alice", caps=caps)
    bob = IRCTestClient(process.address).register("bob")
    say(alice, "bob", "secret for bob")
    bob.expect(r"secret for bob")
    assert history(alice, "CHATHISTORY LATEST bob * 10") == ["secret for bob"]
    carol = IRCTestClient(process.address).register("carol", caps=caps)
    assert history(carol, "CHATHISTORY LATEST bob * 10") == []
    assert history(carol, "CHATHISTORY LATEST alice * 10") == []
    bob.send("QUIT")
    bob.expect_closed()
    # Someone takes the nick "bob" from another computer (127.0.0.2): bob's private history stays private.
    impostor = IRCTestClient(process.address, source_address="127.0.0.2").register("bob", caps=caps)
    assert history(impostor, "CHATHISTORY LATEST alice * 10") == []
    impostor.send("QUIT")
    impostor.expect_closed()
    # The real bob, back from his own computer, sees it.
    real_bob = IRCTestClient(process.address).register("bob", caps=caps)
    assert history(real_bob, "CHATHISTORY LATEST alice * 10") == ["secret for bob"]


# ------------------------------------------------------------------ restarts and crashes

def test_restart_keeps_history_and_channel_settings(server_process, db):
    first = server_process("--db", db)
    port = first.address[1]
    alice = IRCTestClient(first.address).register("alice")
    alice.join("#class")
    alice.send("TOPIC #class :Урок 5: история")
    alice.send("MODE #class +mk secret")
    alice.send("MODE #class +b troll!*@*")
    say(alice, "#class", "remember me")
    alice.send("QUIT")
    alice.expect_closed()
    assert first.stop() == 0
    second = server_process("--db", db, "--port", str(port))
    visitor = IRCTestClient(second.address).register("visitor")
    visitor.send("LIST")
    assert visitor.expect_numeric("322").params[1:] == ["#class", "0", "Урок 5: история"]
    visitor.send("JOIN #class")
    visitor.expect_numeric("475")
    visitor.send("JOIN #class secret")
    assert visitor.expect_numeric("332").params[-1] == "Урок 5: история"
    assert "<alice> remember me" in visitor.expect(r" NOTICE #class ").params[1]
    visitor.send("MODE #class")
    assert visitor.expect_numeric("324").params[2:] == ["+mntk", "secret"]
    visitor.send("MODE #class b")
    assert visitor.expect_numeric("367").params[2] == "troll!*@*"


def test_kill_9_during_a_burst_loses_nothing_a_witness_received(server_process, db):
    first = server_process("--db", db, "--flood-rate", "0")
    port = first.address[1]
    sender = IRCTestClient(first.address).register("sender")
    witness = IRCTestClient(first.address).register("witness")
    sender.join("#burst")
    witness.join("#burst")
    for index in range(3000):
        sender.sock.sendall(f"PRIVMSG #burst :burst {index}\r\n".encode())
    received = [witness.expect(r" PRIVMSG #burst ").params[1] for _ in range(500)]
    first.proc.kill()  # SIGKILL: no chance to flush anything
    first.proc.wait(5)
    received += [line.split(" :", 1)[1] for line in witness.expect_closed() if " PRIVMSG #burst " in line]
    assert len(received) >= 500
    second = server_process("--db", db, "--port", str(port))
    reader = IRCTestClient(second.address).register("reader", caps=(*HISTORY_CAPS, "draft/chathistory"))
    reader.join("#burst")
    stored: list[str] = []
    cursor = "*"
    while True:
        reader.send(f"CHATHISTORY LATEST #burst {cursor} 100" if cursor == "*" else
                    f"CHATHISTORY BEFORE #burst {cursor} 100")
        page = batch_lines(reader)[1]
        if not page:
            break
        stored = [m.params[1] for m in page] + stored
        cursor = f"msgid={page[0].tags['msgid']}"
    missing = set(received) - set(stored)
    assert not missing, f"{len(missing)} delivered messages are not in the history, e.g. {sorted(missing)[:3]}"


# ------------------------------------------------------------------ the history's log

# A process that writes three messages and a channel's settings while the test holds the database locked,
# then ends as kill -9 would leave it: without closing anything.
WRITE_AND_DIE = """
import os, sys
from common.server.history import ChannelSnapshot, HistoryStore, StoredMessage
store = HistoryStore(sys.argv[1])
print("opened", flush=True)
sys.stdin.readline()
store.write([StoredMessage(f"m{i}", 1_700_000_000_000 + i, "#c", "анна!~a@h", "PRIVMSG", f"сообщение {i}")
             for i in (1, 2)])
store.write([StoredMessage("m3", 1_700_000_000_003, "#c", "анна!~a@h", "PRIVMSG", "сообщение 3")],
            [ChannelSnapshot("#c", 1, "тема", "анна", 5, "nt", None, None, ())])
os._exit(0)
"""


def test_what_a_crash_left_in_the_log_is_stored_at_the_next_start(db, caplog):
    """Written while the database was locked, then the process gone: the messages are in the log alone.
    The next HistoryStore stores them before anything else, in order, leaves out the end of a record that
    the crash cut short (with a warning), and empties the log."""
    HistoryStore(db).close()
    child = subprocess.Popen([sys.executable, "-c", WRITE_AND_DIE, db], cwd=PROJECT_ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == "opened\n"
        locker = sqlite3.connect(db, timeout=0)
        locker.execute("BEGIN EXCLUSIVE")
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.wait(20) == 0
        assert locker.execute("SELECT coalesce(sum(count), 0) FROM message_blocks").fetchone()[0] == 0
        locker.rollback()
        locker.close()
    finally:
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()
    with open(db + "-log", "ab") as log_file:  # a record whose writing a power cut interrupted
        log_file.write(HEADER.pack(500, 0) + b"half a record")
    store = HistoryStore(db)
    assert [(m.msgid, m.text) for m in store.before("#c", None, 10)] == [
        ("m1", "сообщение 1"), ("m2", "сообщение 2"), ("m3", "сообщение 3")]
    assert [c.topic for c in store.load_channels()] == ["тема"]
    assert take_logged(caplog, logging.WARNING, "ends in 21 bytes that are no complete record")
    store.close()
    assert os.path.getsize(db + "-log") == 0
    again = HistoryStore(db)  # applied once: nothing is stored twice
    assert len(again.before("#c", None, 10)) == 3
    again.close()


def test_one_server_writes_a_history_and_other_programs_may_read_it(db):
    """The server holds the log: a second server on the same file is refused (by the store, and by
    chat_server.py with one clear line); a program that only reads (--export) reads what is stored."""
    server_side = HistoryStore(db)
    server_side.write([StoredMessage("m1", 1_700_000_000_000, "#c", "a!~a@h", "PRIVMSG", "привет")])
    with pytest.raises(LogInUse):
        HistoryStore(db)
    second = run_export(db, "--port", "0")
    assert second.returncode == 1 and "in use by another running server" in second.stderr, second.stderr
    assert server_side.wait_until_stored()
    exported = run_export(db, "--export", "#c")
    assert exported.returncode == 0 and exported.stdout.endswith("<a> привет\n"), exported.stderr
    reader = HistoryStore(db, exclusive=False)
    assert reader.read_only and [m.text for m in reader.before("#c", None, 10)] == ["привет"]
    with pytest.raises(sqlite3.OperationalError, match="another running server"):
        reader.write([StoredMessage("m2", 1_700_000_000_001, "#c", "a!~a@h", "PRIVMSG", "не сохранится")])
    reader.close()
    server_side.close()


def test_the_log_stays_bounded_under_a_load_that_never_pauses(db):
    """The log is emptied when the filler has caught up; a writer that never pauses (here faster than
    SQLite) would keep it from that, so the writer waits for the filler once CATCH_UP_ROWS wait or the log
    passes LOG_LIMIT_BYTES. 12 MiB written back to back: nothing is refused, the log never holds much more
    than the limit, and every message is stored."""
    store = HistoryStore(db)
    text = "ж" * 200
    largest, written = 0, 0
    for number in range(600):
        store.write([StoredMessage(f"m{number}-{i}", 1_700_000_000_000 + number, "#c", "a!~a@h", "PRIVMSG", text)
                     for i in range(50)])
        written += 1
        largest = max(largest, os.path.getsize(db + "-log"))
        if written * 50 * len(text.encode()) > 12 * 1024 * 1024:
            break
    assert largest <= LOG_LIMIT_BYTES + 64 * 1024, largest
    assert store.db.execute("SELECT coalesce(sum(count), 0) FROM message_blocks").fetchone()[0] == written * 50
    assert os.path.getsize(db + "-log") == 0
    store.close()


# ------------------------------------------------------------------ export and retention

def run_export(db: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "chat_server.py"), "--db", db, *args],
                          capture_output=True, text=True, timeout=20)


def test_export_as_text_and_csv(server_process, db):
    process = server_process("--db", db)
    alice = IRCTestClient(process.address).register("alice")
    alice.join("#general")
    say(alice, "#general", "Домашнее задание: глава 3", "\x01ACTION waves\x01")
    alice.send("NOTICE #general :a notice")
    alice.sync()
    exported = []

    def all_three_exported() -> bool:  # SQLite follows the history's log within about a second
        exported[:] = [run_export(db, "--export", "#general")]
        assert exported[0].returncode == 0 or "has no channel #general" in exported[0].stderr, exported[0].stderr
        return len(exported[0].stdout.splitlines()) == 3

    wait_until(all_three_exported, what="the export of the three messages")
    lines = exported[0].stdout.splitlines()
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] <alice> Домашнее задание: глава 3", lines[0])
    assert lines[1].endswith("* alice waves") and lines[2].endswith("-alice- a notice")
    rows = list(csv.reader(io.StringIO(run_export(db, "--export", "#general", "--format", "csv").stdout)))
    assert rows[0] == ["time", "nick", "kind", "text", "msgid"]
    assert [row[2] for row in rows[1:]] == ["message", "action", "notice"]
    assert run_export(db, "--export", "#general", "--since", "2100-01-01").stdout == ""
    missing = run_export("/nonexistent/none.sqlite3", "--export", "#general")
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1


def test_retention_deletes_old_messages_and_the_motd_says_so(server_process, db):
    store = HistoryStore(db)
    old = int((time.time() - 10 * 86400) * 1000)
    store.write([StoredMessage("old1", old, "#c", "ghost!~g@h", "PRIVMSG", "ancient"),
                 StoredMessage("new1", int(time.time() * 1000), "#c", "ghost!~g@h", "PRIVMSG", "recent")])
    store.close()
    process = server_process("--db", db, "--history-days", "7")
    alice = IRCTestClient(process.address)
    alice.nick = "alice"
    alice.send("NICK alice")
    alice.send("USER alice 0 * :A")
    motd = [reply.params[-1] for reply in alice.collect_until("372|376", end="376")]
    assert any("logged" in line and "7 days" in line for line in motd)
    alice.join("#c")
    notices = [line for line in alice.sync() if " NOTICE #c " in line]
    assert len(notices) == 1 and "recent" in notices[0]
    assert sqlite3.connect(db).execute("SELECT coalesce(sum(count), 0) FROM message_blocks").fetchone()[0] == 1


def test_no_history_option(server_process):
    process = server_process("--no-history")
    alice = IRCTestClient(process.address).register("alice")
    alice.send("CAP LS 302")
    assert "draft/chathistory" not in alice.expect(r" CAP alice LS ").params[-1]
    alice.send("CHATHISTORY LATEST #c * 10")
    alice.expect_numeric("421")


# ------------------------------------------------------------------ our clients

def fill_channel(process, count: int) -> IRCTestClient:
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.join("#c")
    say(teacher, "#c", *[f"old {index}" for index in range(count)])
    return teacher


def test_session_gets_history_on_join_and_older_pages(server_process, db):
    from common.client import events as ev
    from common.client.session import Session, SessionConfig
    from helpers import EventLog

    process = server_process("--db", db, "--flood-rate", "0")
    fill_channel(process, 80)
    session = Session(SessionConfig(port=process.address[1], nick="late", channels=("#c",), pace_rate=0))
    session.start()
    log = EventLog(session)
    try:
        batch = log.wait_for(ev.HistoryBatch, conversation="#c")
        assert session.has_chathistory and not batch.older
        assert [m.text for m in batch.messages] == [f"old {i}" for i in range(30, 80)]
        assert all(m.history and m.sender == "teacher" and m.msgid for m in batch.messages)
        assert session.request_older("#c", batch.messages[0].msgid, limit=20)
        older = log.wait_for(ev.HistoryBatch, older=True)
        assert [m.text for m in older.messages] == [f"old {i}" for i in range(10, 30)]
    finally:
        session.quit()


def test_gui_shows_history_above_a_divider_and_loads_older_at_the_top(server_process, db, tk_root):
    import tkinter as tk

    from common.gui.settings import Settings
    from common.gui.window import ChatWindow
    from common.client.session import SessionConfig
    from test_gui import pump_until, view_text

    process = server_process("--db", db, "--flood-rate", "0")
    teacher = fill_channel(process, 120)
    window = ChatWindow(tk.Toplevel(tk_root), SessionConfig(port=process.address[1], nick="late",
                                                             channels=("#c",), pace_rate=0), Settings(), "en",
                        save=False)
    try:
        pump_until(tk_root, lambda: "earlier messages above" in view_text(window), what="the history divider")
        text = view_text(window)
        assert text.index("old 119") < text.index("earlier messages above")
        assert "old 69" not in text
        teacher.send("PRIVMSG #c :live now")
        pump_until(tk_root, lambda: "live now" in view_text(window))
        assert view_text(window).index("earlier messages above") < view_text(window).index("live now")
        window.view.text.yview_moveto(0.0)
        pump_until(tk_root, lambda: "old 69" in view_text(window), what="the older page")
        lines = [line.text for line in window.book.find("#c").lines if line.text.startswith("old ")]
        assert lines == [f"old {i}" for i in range(20, 120)]
    finally:
        window.close()


def test_cli_prints_the_conversation_so_far_on_join(server_process, db):
    from test_cli import run_cli

    process = server_process("--db", db, "--flood-rate", "0")
    fill_channel(process, 3)
    result = run_cli("--port", str(process.address[1]), "--nick", "late", "--channel", "#c", "--once", "hi",
                     "--verbose")  # from a script the history is a diagnostic: shown on stderr with --verbose
    out = result.stderr
    assert out.index("<teacher> old 0") < out.index("<teacher> old 2") < out.index("earlier messages above") \
        < out.index("<late> hi")
    assert result.stdout == ""


def test_retention_purges_at_start_even_when_the_monotonic_clock_starts_near_zero(db):
    """A classroom PC switched on for the lesson: its monotonic clock reads seconds, not hours. The first
    purge must still run at once, and the next one only an hour later."""
    from common.server.sequencer import PURGE_EVERY_SECONDS, Sequencer

    now = time.time()
    store = HistoryStore(db)
    store.write([StoredMessage("old1", int((now - 10 * 86400) * 1000), "#c", "ghost!~g@h", "PRIVMSG", "ancient"),
                 StoredMessage("new1", int(now * 1000), "#c", "ghost!~g@h", "PRIVMSG", "recent")])
    uptime = [3.0]
    wall = [now]
    sequencer = Sequencer(store, 7, monotonic=lambda: uptime[0], wall_clock=lambda: wall[0])
    count = lambda: store.db.execute("SELECT coalesce(sum(count), 0) FROM message_blocks").fetchone()[0]
    sequencer._purge_if_due()
    assert count() == 1, "the first purge was skipped"
    wall[0] += 8 * 86400  # "recent" is now past retention, but the next purge is not due yet
    uptime[0] += PURGE_EVERY_SECONDS - 1
    sequencer._purge_if_due()
    assert count() == 1
    uptime[0] += 2
    sequencer._purge_if_due()
    assert count() == 0
    store.close()


def test_a_version_2_database_is_upgraded_and_keeps_its_private_conversations(db):
    """A history file from before recipient keys: opened, upgraded in place, and TARGETS finds its chats."""
    old = sqlite3.connect(db)
    old.executescript("""
        CREATE TABLE messages (id INTEGER PRIMARY KEY, msgid TEXT NOT NULL UNIQUE, time_ms INTEGER NOT NULL,
            target_key TEXT NOT NULL, target TEXT NOT NULL, sender TEXT NOT NULL, sender_key TEXT NOT NULL,
            sender_host TEXT NOT NULL, recipient_host TEXT NOT NULL DEFAULT '', command TEXT NOT NULL,
            text TEXT NOT NULL, client_tags TEXT NOT NULL DEFAULT '{}', ops_only INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE channels (name_key TEXT PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL,
            topic TEXT NOT NULL DEFAULT '', topic_set_by TEXT NOT NULL DEFAULT '',
            topic_set_at INTEGER NOT NULL DEFAULT 0, modes TEXT NOT NULL DEFAULT 'nt', key TEXT,
            member_limit INTEGER, bans TEXT NOT NULL DEFAULT '[]', quiets TEXT NOT NULL DEFAULT '[]');
        INSERT INTO messages (msgid, time_ms, target_key, target, sender, sender_key, sender_host, recipient_host,
            command, text) VALUES ('m1', 5000, 'dm:вася:петя', 'Петя', 'Вася!~v@h1', 'вася', 'h1', 'h2',
            'PRIVMSG', 'привет');
        PRAGMA user_version=2;
    """)
    old.close()
    store = HistoryStore(db)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.targets(Viewer("петя", "h2"), [], 0, 10_000, 10) == [("Вася", 5000)]
    assert store.targets(Viewer("Вася", "h1"), [], 0, 10_000, 10) == [("Петя", 5000)]
    assert store.targets(Viewer("петя", "elsewhere"), [], 0, 10_000, 10) == []
    store.close()
