"""The sequencer on its own: real SQLite files, real TCP connections on 127.0.0.1, and batches put together
by hand. Outboxes submitted before ``start()`` are one batch, so what a busy server does only sometimes
(a JOIN and the messages after it in the same batch) happens every time here.
"""
from __future__ import annotations

import logging
import re
import socket
import sqlite3
import threading

import pytest

from common.protocol.message import Message
from common.server.connection import Connection, Flusher
from common.server.history import ChannelSnapshot, Checkpointer, HistoryStore, StoredMessage, Viewer
from common.server.history_reads import HistoryRequest, replay
from common.server.outbox import Outbox, tag_gates
from common.server.sequencer import Sequencer
from common.server.state import Client
from helpers import DEFAULT_TIMEOUT, IRCTestClient, disk_full_for, take_logged, wait_until

SERVER = "classchat.test"
HISTORY_CAPS = {"batch", "server-time", "message-tags"}


class Wire:
    """Server-side ``Client``s over real loopback TCP connections, each with the test client at its other end."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.flusher = Flusher()
        self.flusher.start()
        self.ends: list[tuple[Connection, IRCTestClient]] = []

    def connect(self, nick: str, caps: set[str] = frozenset(),
                connection_class: type[Connection] = Connection) -> tuple[Client, IRCTestClient]:
        peer = IRCTestClient(self.listener.getsockname())
        peer.nick = nick
        sock, address = self.listener.accept()
        conn = connection_class(sock, address, 1 << 20, self.flusher)
        self.ends.append((conn, peer))
        client = Client(conn=conn, nick=nick, username=nick, registered=True, caps=set(caps),
                        tag_gates=tag_gates(set(caps)))
        return client, peer

    def close(self) -> None:
        for conn, peer in self.ends:
            conn.close("test over")
            conn.release()
            peer.close()
        self.flusher.stop()
        self.flusher.join(5)
        self.listener.close()


@pytest.fixture
def wire():
    made = Wire()
    yield made
    made.close()


@pytest.fixture
def store(tmp_path):
    opened = HistoryStore(str(tmp_path / "history.sqlite3"))
    yield opened
    opened.close()


@pytest.fixture
def sequencer(store):
    """A sequencer over ``store``, not started: what is submitted before ``start()`` is its first batch."""
    made = Sequencer(store, None)
    yield made
    if made.is_alive():
        made.stop(5)
    assert not made.is_alive()


def outbox() -> Outbox:
    return Outbox(SERVER)


def stored_message(sender: Client, text: str, msgid: str, time_ms: int) -> StoredMessage:
    return StoredMessage(msgid, time_ms, "#c", sender.prefix, "PRIVMSG", text)


def relay_stored(out: Outbox, sender: Client, recipients: list[Client], message: StoredMessage) -> None:
    """A PRIVMSG to #c as the server relays one that goes into the history."""
    tags = {"time": "2026-01-01T00:00:00.000Z", "msgid": message.msgid}
    line = Message("PRIVMSG", [message.target, message.text], source=sender.prefix, tags=tags)
    out.relay_stored(sender, recipients, line, message)


def marker(out: Outbox, client: Client, token: str) -> None:
    out.send(client, Message("PING", [token], source=SERVER))


def lines_until(peer: IRCTestClient, token: str, limit: int = 1000) -> list[Message]:
    """Every line up to the PING carrying ``token`` (not included)."""
    lines = []
    for _ in range(limit):
        line = peer.expect(r"")
        if line.command == "PING" and line.params == [token]:
            return lines
        lines.append(line)
    raise AssertionError(f"{peer.nick}: no PING {token} within {limit} lines")


def history_msgids(lines: list[Message]) -> tuple[list[str], list[str]]:
    """(msgids inside chathistory batches, msgids of live PRIVMSGs)."""
    replayed = [line.tags["msgid"] for line in lines if line.command == "PRIVMSG" and "batch" in line.tags]
    live = [line.tags["msgid"] for line in lines if line.command == "PRIVMSG" and "batch" not in line.tags]
    return replayed, live


# ------------------------------------------------------------------ reads see what was decided before them

def replay_read(joiner: Client):
    return lambda history, out: replay(history, out, joiner, "#c", 50, Viewer(joiner.nick, joiner.host))


def chathistory_read(joiner: Client):
    request = HistoryRequest("LATEST", "#c", "#c", [("latest", 0)], 50, Viewer(joiner.nick, joiner.host))
    return lambda history, out: request.answer(history, out, joiner)


def talker_and_joiner(wire: Wire, store: HistoryStore):
    """A talker whose message m0 is in the history already, and a joiner who gets replays in a batch."""
    talker, talker_end = wire.connect("talker")
    joiner, joiner_end = wire.connect("joiner", HISTORY_CAPS)
    store.write([stored_message(talker, "from an earlier batch", "m0", 1000)])
    return talker, talker_end, joiner, joiner_end


@pytest.mark.parametrize("make_read", [replay_read, chathistory_read], ids=["replay on JOIN", "CHATHISTORY"])
def test_a_history_read_sees_exactly_the_messages_decided_before_it(wire, store, sequencer, make_read):
    """One batch: a message, then a JOIN (or a CHATHISTORY) whose read is queued, then a message the joiner
    receives live. The read must hold the first and not the second, else the joiner gets it twice."""
    talker, _talker_end, joiner, joiner_end = talker_and_joiner(wire, store)
    before, join, after, end = outbox(), outbox(), outbox(), outbox()
    relay_stored(before, talker, [], stored_message(talker, "before the join", "m1", 1001))  # not a member yet
    join.send(joiner, Message("JOIN", ["#c"], source=joiner.prefix))
    join.history_reads.append(make_read(joiner))
    relay_stored(after, talker, [joiner], stored_message(talker, "after the join", "m2", 1002))
    marker(end, joiner, "end")
    for out in (before, join, after, end):
        sequencer.submit(out)
    sequencer.start()
    lines = lines_until(joiner_end, "end")
    replayed, live = history_msgids(lines)
    assert lines[0].command == "JOIN"
    assert replayed == ["m0", "m1"], "the read saw a message decided after it (or missed one before it)"
    assert live == ["m2"]


def test_reads_of_a_batch_that_could_not_be_stored_see_what_was_stored_before_it(wire, store, sequencer, caplog):
    talker, talker_end, joiner, joiner_end = talker_and_joiner(wire, store)
    refused, join, end = outbox(), outbox(), outbox()
    relay_stored(refused, talker, [], stored_message(talker, "refused", "m1", 1001))
    join.history_reads.append(replay_read(joiner))
    marker(end, joiner, "end")  # after the read's answer, which goes at the end of its outbox
    for out in (refused, join, end):
        sequencer.submit(out)
    with disk_full_for(store):
        sequencer.start()
        assert history_msgids(lines_until(joiner_end, "end")) == (["m0"], [])
    assert talker_end.expect(r" FAIL ").params[:3] == ["PRIVMSG", "MESSAGE_NOT_SENT", "#c"]
    assert len(take_logged(caplog, logging.ERROR, "could not store 1 messages in the history")) == 1


# ------------------------------------------------------------------ storage failures

def test_a_batch_that_cannot_be_stored_reaches_nobody_and_its_senders_are_told(wire, store, sequencer, caplog):
    """The disk is full (the history log cannot be written): the messages are refused (FAIL to each sender,
    in place of its echo), every other line goes out, the channel settings are saved with the next batch
    that can be stored, and the log says it once per incident."""
    talker, talker_end = wire.connect("talker", {"echo-message"})
    listener, listener_end = wire.connect("listener")
    first, second, numerics = outbox(), outbox(), outbox()
    relay_stored(first, talker, [listener, talker], stored_message(talker, "first", "m1", 1001))
    first.saved_channels.append(ChannelSnapshot("#c", 1, "a topic", "talker", 5, "nt", None, None, ()))
    relay_stored(second, talker, [listener, talker], stored_message(talker, "second", "m2", 1002))
    numerics.numeric(talker, "332", "#c", "a topic")
    numerics.send(listener, Message("TOPIC", ["#c", "a topic"], source=talker.prefix))
    for out in (first, second, numerics):
        marker(out, talker, "t")
        marker(out, listener, "l")
    with disk_full_for(store):
        sequencer.submit(first)
        sequencer.start()
        assert [line.command for line in lines_until(talker_end, "t")] == ["FAIL"]
        assert lines_until(listener_end, "l") == []
        sequencer.submit(second)  # a second batch in the same incident
        sequencer.submit(numerics)
        fail = lines_until(talker_end, "t")
        assert [(line.command, *line.params) for line in fail] == [
            ("FAIL", "PRIVMSG", "MESSAGE_NOT_SENT", "#c", "Your message was not sent: the server could not save it")]
        assert lines_until(listener_end, "l") == []
        assert lines_until(talker_end, "t")[0].command == "332"
        assert lines_until(listener_end, "l")[0].command == "TOPIC"
    refusals = take_logged(caplog, logging.ERROR, "could not store 1 messages in the history: [Errno 28] No space")
    assert len(refusals) == 1
    assert store.load_channels() == [], "saved while the disk was full?"
    later = outbox()
    relay_stored(later, talker, [listener, talker], stored_message(talker, "after the lock", "m3", 1003))
    marker(later, listener, "l")
    sequencer.submit(later)
    assert [line.params[1] for line in lines_until(listener_end, "l")] == ["after the lock"]
    assert [m.msgid for m in store.before("#c", None, 10)] == ["m3"]
    assert [c.topic for c in store.load_channels()] == ["a topic"], "the unsaved settings were not tried again"
    assert take_logged(caplog, logging.WARNING, "history storage works again (2 messages were refused meanwhile)")


def test_a_locked_database_holds_up_nothing_and_loses_nothing(wire, store, sequencer, caplog):
    """Another program holds the database locked (a backup, a shell left in a transaction): messages are
    still delivered, since they are stored in the log; a read meanwhile sees what SQLite has, after at most
    READ_WAIT_SECONDS; once the lock is gone the filler stores the waiting messages by itself, in order,
    and the log says the incident once, then its end."""
    talker, talker_end = wire.connect("talker")
    listener, listener_end = wire.connect("listener")
    before = outbox()
    relay_stored(before, talker, [listener], stored_message(talker, "before", "m0", 1000))
    marker(before, listener, "l")
    sequencer.submit(before)
    sequencer.start()
    assert [line.params[1] for line in lines_until(listener_end, "l")] == ["before"]
    assert store.wait_until_stored(5)
    locker = sqlite3.connect(store.path, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        for number in range(1, 4):
            out = outbox()
            message = stored_message(talker, f"locked {number}", f"m{number}", 1000 + number)
            relay_stored(out, talker, [listener], message)
            marker(out, listener, "l")
            sequencer.submit(out)
            assert [line.params[1] for line in lines_until(listener_end, "l")] == [f"locked {number}"]
        assert [m.msgid for m in store.before("#c", None, 10)] == ["m0"]  # what SQLite has, after the wait
        wait_until(lambda: take_logged(caplog, logging.ERROR, "could not store"), what="the filler to fail")
    finally:
        locker.rollback()
        locker.close()
    assert store.wait_until_stored(5)
    assert [m.msgid for m in store.before("#c", None, 10)] == ["m0", "m1", "m2", "m3"]
    assert take_logged(caplog, logging.WARNING, "the history database works again")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "told more than once"


# ------------------------------------------------------------------ the thread survives

class Unrecoverable(BaseException):
    """Not an Exception: nothing in the sequencer catches it, as a last resort must not either."""


def test_one_failing_read_or_action_affects_only_itself(wire, sequencer, caplog):
    alice, alice_end = wire.connect("alice")
    bob, bob_end = wire.connect("bob", HISTORY_CAPS)

    def half_then_raise(history, out):
        out.send(bob, Message("NOTICE", ["bob", "half of an answer"], source=SERVER))
        raise ValueError("a read that breaks")

    def raise_after_delivery():
        raise RuntimeError("an action that breaks")

    first, second, third = outbox(), outbox(), outbox()
    first.send(alice, Message("NOTICE", ["alice", "one"], source=SERVER))
    first.after_delivery.append(raise_after_delivery)
    second.send(bob, Message("NOTICE", ["bob", "two"], source=SERVER))
    second.history_reads.append(half_then_raise)
    second.history_reads.append(chathistory_read(bob))  # the next read of the same outbox still runs
    third.send(alice, Message("NOTICE", ["alice", "three"], source=SERVER))
    marker(third, alice, "a")
    marker(third, bob, "b")
    for out in (first, second, third):
        sequencer.submit(out)
    sequencer.start()
    assert [line.params[1] for line in lines_until(alice_end, "a")] == ["one", "three"]
    bob_lines = lines_until(bob_end, "b")
    assert [line.params[-1] for line in bob_lines if line.command == "NOTICE"] == ["two"]
    assert [line.command for line in bob_lines if line.command == "BATCH"] == ["BATCH", "BATCH"]
    later = outbox()
    marker(later, alice, "again")
    sequencer.submit(later)
    assert lines_until(alice_end, "again") == []  # so the first batch's actions have run too
    read_errors = take_logged(caplog, logging.ERROR, "could not answer a history read")
    action_errors = take_logged(caplog, logging.ERROR, "an action after delivery failed")
    assert len(read_errors) == 1 and read_errors[0].exc_info[0] is ValueError
    assert len(action_errors) == 1 and action_errors[0].exc_info[0] is RuntimeError


class BrokenBuffering(Connection):
    """A connection with a bug in the one step that runs only when the kernel does not take all at once."""

    def _buffer(self, data, kernel_full):
        raise RuntimeError("a bug in buffering")


@pytest.mark.parametrize("in_a_batch", [False, True], ids=["one line for all", "lines gathered per connection"])
def test_a_delivery_that_breaks_affects_only_its_connection(wire, in_a_batch, caplog):
    """Both ways the sequencer hands out lines: the loop over one relay's recipients (the paced case) and
    each connection's gathered lines of a batch."""
    alice, alice_end = wire.connect("alice")
    broken, broken_end = wire.connect("broken", connection_class=BrokenBuffering)
    carol, carol_end = wire.connect("carol")
    broken.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    if not in_a_batch:  # one line fits: the kernel's buffer is full first (the peer reads nothing meanwhile)
        with pytest.raises(BlockingIOError):
            for _ in range(10_000):
                broken.conn.sock.send(b"x" * 4096, socket.MSG_DONTWAIT)
    sequencer = Sequencer(None, None)
    big = "x" * 400
    out = outbox()
    for index in range(300 if in_a_batch else 1):  # 300 lines of 400 bytes: more than the kernel takes at once
        out.relay([alice, broken, carol], Message("NOTICE", ["*", f"{index} {big}"], source=SERVER))
    sequencer.submit(out)
    sequencer.start()
    markers = outbox()  # a batch of its own: the first one's single relay takes the loop over its recipients
    marker(markers, alice, "a")
    marker(markers, carol, "c")
    sequencer.submit(markers)
    try:
        for end, token in ((alice_end, "a"), (carol_end, "c")):
            assert [line.params[1].split()[0] for line in lines_until(end, token)] \
                == [str(index) for index in range(300 if in_a_batch else 1)]
        wait_until(lambda: broken.conn.close_reason is not None, what="the broken connection to be closed")
    finally:
        sequencer.stop(5)
    failures = take_logged(caplog, logging.ERROR, f"could not deliver to {broken.conn.host}; closing that connection")
    assert len(failures) == 1 and failures[0].exc_info[0] is RuntimeError
    assert broken.conn.close_reason == "Server error"


def test_a_sequencer_that_dies_anyway_says_so(wire, sequencer, caplog):
    alice, alice_end = wire.connect("alice")

    def unrecoverable():
        raise Unrecoverable("out of everything")

    out = outbox()
    marker(out, alice, "a")
    out.after_delivery.append(unrecoverable)
    sequencer.submit(out)
    sequencer.start()
    lines_until(alice_end, "a")
    sequencer.join(5)
    assert not sequencer.is_alive()
    died = take_logged(caplog, logging.CRITICAL, "the sequencer thread stopped on an unexpected error")
    assert len(died) == 1 and died[0].exc_info[0] is Unrecoverable


def reader_waiting_for_room(sequencer: Sequencer) -> threading.Thread:
    """A thread that does what a reader does before each read: ``wait_for_room()``."""
    reader = threading.Thread(target=sequencer.wait_for_room, name="reader", daemon=True)
    reader.start()
    return reader


def test_a_reader_waits_while_the_sequencer_is_behind_and_goes_on_once_it_caught_up(wire):
    alice, alice_end = wire.connect("alice")
    sequencer = Sequencer(None, None, backlog_limit=2)
    first = outbox()
    marker(first, alice, "a")
    sequencer.submit(first)
    below_the_limit = reader_waiting_for_room(sequencer)
    below_the_limit.join(DEFAULT_TIMEOUT)
    assert not below_the_limit.is_alive(), "one outbox queued of two allowed: no wait"
    second = outbox()
    marker(second, alice, "b")
    sequencer.submit(second)
    reader = reader_waiting_for_room(sequencer)
    wait_until(lambda: sequencer.readers_waiting == 1, what="the reader to wait")
    sequencer.start()
    try:
        reader.join(DEFAULT_TIMEOUT)
        assert not reader.is_alive(), "the sequencer took the queue and the reader still waits"
        assert sequencer.readers_waiting == 0
        lines_until(alice_end, "a")
        lines_until(alice_end, "b")
    finally:
        sequencer.stop(5)


def test_readers_do_not_wait_for_a_sequencer_that_died(caplog):
    sequencer = Sequencer(None, None, backlog_limit=1)

    def unrecoverable():
        raise Unrecoverable("out of everything")

    dying = outbox()
    dying.after_delivery.append(unrecoverable)
    sequencer.submit(dying)
    sequencer.start()
    sequencer.join(DEFAULT_TIMEOUT)
    assert not sequencer.is_alive()
    take_logged(caplog, logging.CRITICAL, "the sequencer thread stopped on an unexpected error")
    sequencer.submit(outbox())  # the queue at its limit, and nobody left to take it
    reader = reader_waiting_for_room(sequencer)
    reader.join(DEFAULT_TIMEOUT)
    assert not reader.is_alive(), "a reader waits for room from a sequencer that died"


def test_the_checkpointer_survives_a_database_it_cannot_open(tmp_path, caplog):
    checkpointer = Checkpointer(str(tmp_path / "no such folder" / "history.sqlite3"), interval=0.01)
    checkpointer.start()
    try:
        wait_until(lambda: any("history checkpoint failed" in r.getMessage() for r in caplog.records),
                   what="the checkpointer to report its failure")
        assert checkpointer.is_alive()
    finally:
        checkpointer.stop()
    failures = take_logged(caplog, logging.WARNING, "history checkpoint failed: unable to open database file")
    assert len(failures) == 1, "logged once per incident, not every second"
    assert not re.search(r"thread (stopped|ended)", caplog.text)


def test_a_server_whose_sequencer_died_stops_instead_of_running_deaf(make_server, caplog):
    running = make_server(housekeeping_interval=0.05)
    alice = running.connect("alice")

    def unrecoverable():
        raise Unrecoverable("out of everything")

    out = Outbox(running.server.config.name)
    out.after_delivery.append(unrecoverable)
    running.server.sequencer.submit(out)
    running.thread.join(5)
    assert not running.thread.is_alive(), "serve_forever kept accepting with nobody delivering"
    assert running.server.failed
    take_logged(caplog, logging.CRITICAL, "the sequencer thread stopped on an unexpected error")
    assert take_logged(caplog, logging.CRITICAL, "the sequencer thread has died: the server stops")
    alice.close()
