"""IRCv3 draft/multiline on the server, as transcripts: a client's batch relayed to clients with the
capability (a batch) and without it (plain lines), stored as one message and given back by the history, every
FAIL, and hostile batches; after each refusal another client is still served."""
from __future__ import annotations

import csv
import io
import logging
import sqlite3
import threading
import time

import irc.client
import irc.connection
import pytest

from common.protocol.message import parse
from common.server.history import HistoryStore, StoredMessage
from helpers import IRCTestClient, assert_still_served, disk_full_for, stored_messages, take_logged
from test_history import run_export

ML = ("draft/multiline", "batch")
FULL = ("draft/multiline", "batch", "message-tags", "server-time", "echo-message", "labeled-response")
PLAIN_TAGS = ("message-tags", "server-time")
SNIPPET = ["def square(x):", '    """Квадрат числа."""', "", "    return x * x"]


def send_batch(client: IRCTestClient, target: str, lines: list, reference: str = "r1", tags: str = "") -> None:
    """``BATCH +ref``, a PRIVMSG per line (a (text, True) pair is a concat line), ``BATCH -ref``."""
    client.send(f"{tags}BATCH +{reference} draft/multiline {target}".lstrip())
    for line in lines:
        text, concat = line if isinstance(line, tuple) else (line, False)
        concat_tag = ";draft/multiline-concat" if concat else ""
        client.send(f"@batch={reference}{concat_tag} PRIVMSG {target} :{text}")
    client.send(f"BATCH -{reference}")


def batch_of(client: IRCTestClient) -> list:
    """The lines of the next multiline batch a client receives, from its BATCH + to its BATCH -."""
    start = client.expect(r" BATCH \+\S+ draft/multiline ")
    reference = start.params[0][1:]
    lines = [start]
    while True:
        line = client.expect(rf"batch={reference}| BATCH -{reference}")
        lines.append(line)
        if line.command == "BATCH":
            return lines


@pytest.fixture
def room(classroom):
    """alice (the capability and echo), bob (the capability and tags), carol (plain, with tags), dave (bare),
    in #c, on a server without flood control (flood control is tested on its own)."""
    clients = {"alice": classroom.connect("alice", caps=FULL),
               "bob": classroom.connect("bob", caps=(*ML, "message-tags")),
               "carol": classroom.connect("carol", caps=PLAIN_TAGS), "dave": classroom.connect("dave")}
    for client in clients.values():
        client.join("#c")
    for client in clients.values():
        client.sync()
    return clients


def test_cap_ls_offers_multiline_with_its_limits(server):
    client = server.client()
    client.send("CAP LS 302")
    offered = client.expect(r" CAP \* LS ").params[-1].split()
    assert "draft/multiline=max-bytes=4096,max-lines=100" in offered
    assert "batch" in offered


def test_batch_reaches_capable_clients_as_a_batch_and_others_as_lines(room):
    alice, bob, carol, dave = room.values()
    send_batch(alice, "#c", [*SNIPPET[:3], ("    return ", False), ("x * x", True)])
    got = batch_of(bob)
    start, inner, end = got[0], got[1:-1], got[-1]
    assert start.source.startswith("alice!") and start.params[1:] == ["draft/multiline", "#c"]
    assert "msgid" in start.tags and end.params == [f"-{start.params[0][1:]}"]
    assert [line.params[1] for line in inner] == [*SNIPPET[:3], "    return ", "x * x"]
    assert [("draft/multiline-concat" in line.tags) for line in inner] == [False, False, False, False, True]
    assert all(set(line.tags) <= {"batch", "draft/multiline-concat"} for line in inner), "msgid on BATCH + only"
    lines = [carol.expect(r" PRIVMSG #c ") for _ in range(4)]
    assert [line.params[1] for line in lines] == [*SNIPPET[:2], "    return ", "x * x"], "no blank, composition kept"
    assert lines[0].tags["msgid"] == start.tags["msgid"]
    assert all("msgid" not in line.tags and "time" in line.tags for line in lines[1:])
    assert "BATCH" not in "".join(carol.sync())
    assert [dave.expect(r" PRIVMSG #c ").params[1] for _ in range(4)] == [*SNIPPET[:2], "    return ", "x * x"]
    echo = batch_of(alice)
    assert echo[0].tags["msgid"] == start.tags["msgid"], "echo-message: the sender gets its own batch"


def test_label_goes_on_the_echoed_batch_and_no_ack_on_each_line(room):
    alice, bob = room["alice"], room["bob"]
    send_batch(alice, "#c", ["one", "two"], tags="@label=paste1 ")
    echo = batch_of(alice)
    assert echo[0].tags["label"] == "paste1"
    assert not any("label" in line.tags for line in echo[1:])
    assert not any(" ACK" in line for line in alice.sync())
    bob_lines = batch_of(bob)
    assert not any("label" in line.tags for line in bob_lines)


def test_without_echo_the_label_comes_back_as_ack(classroom, room):
    bob = room["bob"]
    labeled = classroom.connect("labeler", caps=("draft/multiline", "batch", "labeled-response"))
    labeled.join("#c")
    send_batch(labeled, "#c", ["one", "two"], tags="@label=x1 ")
    assert labeled.expect(r" ACK").tags["label"] == "x1"
    assert len(batch_of(bob)) == 4


def test_stored_as_one_message_and_replayed_as_a_batch_or_lines(make_server, tmp_path):
    db = str(tmp_path / "history.sqlite3")
    running = make_server(db_path=db)
    alice = running.connect("alice", caps=FULL)
    alice.join("#c")
    send_batch(alice, "#c", SNIPPET)
    msgid = batch_of(alice)[0].tags["msgid"]
    assert running.server.store.wait_until_stored()  # stored (in the history's log) before the echo; now in SQLite
    with sqlite3.connect(db) as check:
        rows = [(m.msgid, m.text) for m in stored_messages(check) if m.target == "#c"]
    assert rows == [(msgid, "\n".join(SNIPPET))]

    viewer = running.connect("viewer", caps=(*FULL, "draft/chathistory"))
    viewer.join("#c")
    viewer.send("CHATHISTORY LATEST #c * 10")
    outer = viewer.expect(r" BATCH \+\S+ chathistory #c")
    nested = batch_of(viewer)
    assert nested[0].tags["batch"] == outer.params[0][1:] and nested[0].tags["msgid"] == msgid
    assert nested[-1].tags["batch"] == outer.params[0][1:]
    assert [line.params[1] for line in nested[1:-1]] == SNIPPET
    viewer.expect(rf" BATCH -{outer.params[0][1:]}")

    lines_only = running.connect("lines", caps=("batch", "server-time", "message-tags", "draft/chathistory"))
    lines_only.join("#c")
    lines_only.send("CHATHISTORY LATEST #c * 10")
    replayed = lines_only.lines_until(r" BATCH -")
    texts = [parse(line).params[1] for line in replayed if " PRIVMSG #c " in line]
    assert texts == [line for line in SNIPPET if line]
    assert sum("msgid=" in line for line in replayed) == 1 and "draft/multiline" not in "".join(replayed)

    joiner = running.connect("joiner")  # no server-time: the replay on JOIN is notices, one per line
    joiner.send("JOIN #c")
    notices = [joiner.expect(r" NOTICE #c :\[").params[1] for _ in range(3)]
    assert [notice.split("] ", 1)[1] for notice in notices] == [f"<alice> {line}" for line in SNIPPET if line]


def test_private_batch_is_stored_for_both_sides_and_away_is_said_once(make_server, tmp_path):
    running = make_server(db_path=str(tmp_path / "h.sqlite3"))
    alice = running.connect("alice", caps=(*ML, "draft/chathistory", "server-time", "message-tags"))
    bob = running.connect("bob", caps=ML)
    bob.send("AWAY :lunch")
    bob.expect_numeric("306")
    send_batch(alice, "bob", ["first", "second"])
    assert [line.params[1] for line in batch_of(bob)[1:-1]] == ["first", "second"]
    before = alice.sync()
    assert sum(" 301 " in line for line in before) == 1, before
    alice.send("CHATHISTORY LATEST bob * 10")
    assert [line.params[1] for line in batch_of(alice)[1:-1]] == ["first", "second"]


def test_questions_mode_sends_a_members_batch_to_the_operators_only(room):
    alice, bob, carol, dave = room.values()  # alice joined first: she is the operator
    alice.send("MODE #c +U")
    alice.expect(r" MODE #c \+U")
    send_batch(bob, "#c", ["Как", "решить?"])
    assert [line.params[1] for line in batch_of(alice)[1:-1]] == ["Как", "решить?"]
    for other in (carol, dave):
        assert "решить" not in "".join(other.sync())


@pytest.mark.parametrize("silence", ["+q bob!*@*", "+m", "+b bob!*@*"])
def test_a_silenced_member_is_refused_when_the_batch_opens_and_its_lines_are_dropped(classroom, room, silence):
    alice, bob, carol = room["alice"], room["bob"], room["carol"]
    alice.send(f"MODE #c {silence}")
    alice.expect(r" MODE #c ")
    send_batch(bob, "#c", ["a", "b", "c"])
    replies = bob.sync()
    assert sum(" 404 " in line for line in replies) == 1, replies
    assert not any("FAIL" in line or "PRIVMSG" in line for line in replies), replies
    assert "PRIVMSG" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


def test_muted_while_the_batch_is_open_is_refused_when_it_ends(classroom, room):
    alice, bob, carol = room["alice"], room["bob"], room["carol"]
    bob.send("BATCH +late draft/multiline #c")
    bob.send("@batch=late PRIVMSG #c :one")
    bob.sync()
    alice.send("MODE #c +q bob!*@*")
    bob.expect(r" MODE #c \+q")
    bob.send("@batch=late PRIVMSG #c :two")
    bob.send("BATCH -late")
    bob.expect_numeric("404")
    assert "PRIVMSG" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


def expect_fail(client: IRCTestClient, code: str) -> list[str]:
    """The FAIL BATCH <code> params, and nothing else of that kind before the client's next PONG."""
    fail = client.expect(rf" FAIL BATCH {code}")
    later = client.sync()
    assert not any(" FAIL " in line for line in later), f"one FAIL per batch: {later}"
    return fail.params


@pytest.mark.parametrize("lines, code, context", [
    ([f"line {n}" for n in range(101)], "MULTILINE_MAX_LINES", ["100"]),
    (["ж" * 200] * 12, "MULTILINE_MAX_BYTES", ["4096"]),
    (["", "", ""], "MULTILINE_INVALID", []),
    (["text", ("", True)], "MULTILINE_INVALID", []),
    (["\x01ACTION waves\x01", "x"], "MULTILINE_INVALID", []),
])
def test_fail_paths_send_nothing_and_drop_the_rest(classroom, room, lines, code, context):
    bob, carol = room["bob"], room["carol"]
    send_batch(bob, "#c", lines)
    params = expect_fail(bob, code)
    assert params[2:-1] == context
    assert "PRIVMSG" not in "".join(carol.sync())
    assert_still_served(classroom, carol)
    send_batch(bob, "#c", ["after", "the failure"], reference="r2")
    assert len(batch_of(room["alice"])) == 4, "the next batch goes through"


def test_a_line_to_another_target_fails_with_both_targets(classroom, room):
    bob, carol = room["bob"], room["carol"]
    bob.send("BATCH +t draft/multiline #c")
    bob.send("@batch=t PRIVMSG #c :one")
    bob.send("@batch=t PRIVMSG #other :two")
    bob.send("@batch=t PRIVMSG #c :three")
    bob.send("BATCH -t")
    assert expect_fail(bob, "MULTILINE_INVALID_TARGET")[2:4] == ["#c", "#other"]
    assert "PRIVMSG" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


@pytest.mark.parametrize("opening, why", [
    ("BATCH +x example.com/other #c", "draft/multiline batches only"),
    ("BATCH +x draft/multiline $*", "one channel or one nick"),
    ("BATCH +x draft/multiline #c,#d", "one channel or one nick"),
    ("BATCH x draft/multiline #c", "starts with + or -"),
    ("BATCH +" + "r" * 65 + " draft/multiline #c", "1 to 64 characters"),
])
def test_a_batch_that_cannot_open_says_why(classroom, room, opening, why):
    bob, carol = room["bob"], room["carol"]
    bob.send(opening)
    bob.send("@batch=x PRIVMSG #c :dropped")
    bob.send("BATCH -x")
    fail = bob.expect(r" FAIL BATCH MULTILINE_INVALID")
    assert why in fail.params[-1]
    assert "dropped" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


def test_unknown_targets_get_the_numerics_of_privmsg(classroom, room):
    bob, carol = room["bob"], room["carol"]
    for target, numeric in (("nobody", "401"), ("#nowhere", "403")):
        send_batch(bob, target, ["a", "b"])
        replies = bob.sync()
        assert sum(f" {numeric} " in line for line in replies) == 1 and "FAIL" not in "".join(replies), replies
    assert_still_served(classroom, carol)


def test_without_the_capability_a_batch_is_refused(classroom, room):
    carol, dave = room["carol"], room["dave"]
    send_batch(carol, "#c", ["a", "b"])
    assert "negotiate draft/multiline" in expect_fail(carol, "MULTILINE_INVALID")[-1]
    assert "PRIVMSG" not in "".join(dave.sync())
    dave.send("@batch=zz PRIVMSG #c :a line of no batch")
    assert "no batch is open" in dave.expect(r" FAIL BATCH MULTILINE_INVALID").params[-1]
    assert "a line of no batch" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


def test_nested_and_interleaved_batches_both_fail(classroom, room):
    bob, carol = room["bob"], room["carol"]
    bob.send("BATCH +outer draft/multiline #c")
    bob.send("@batch=outer PRIVMSG #c :one")
    bob.send("BATCH +inner draft/multiline #c")
    bob.send("@batch=inner PRIVMSG #c :two")
    bob.send("@batch=outer PRIVMSG #c :three")
    bob.send("BATCH -inner")
    bob.send("BATCH -outer")
    assert "one batch at a time" in expect_fail(bob, "MULTILINE_INVALID")[-1]
    assert "PRIVMSG" not in "".join(carol.sync())
    bob.send("BATCH +a draft/multiline #c")
    bob.send("@batch=b PRIVMSG #c :of another batch")
    bob.send("@batch=a PRIVMSG #c :mine")
    bob.send("BATCH -a")
    assert "another batch" in expect_fail(bob, "MULTILINE_INVALID")[-1]
    assert "PRIVMSG" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


def test_batch_minus_with_an_unknown_reference(classroom, room):
    bob, carol = room["bob"], room["carol"]
    bob.send("BATCH -never")
    assert "no batch is open" in expect_fail(bob, "MULTILINE_INVALID")[-1]
    bob.send("BATCH +open draft/multiline #c")
    bob.send("@batch=open PRIVMSG #c :one")
    bob.send("BATCH -other")
    bob.send("@batch=open PRIVMSG #c :two")
    bob.send("BATCH -open")
    assert "another batch than the one open" in expect_fail(bob, "MULTILINE_INVALID")[-1]
    assert "PRIVMSG" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


def test_another_command_inside_a_batch_ends_it_and_runs(classroom, room):
    bob, carol = room["bob"], room["carol"]
    bob.send("BATCH +p draft/multiline #c")
    bob.send("@batch=p PRIVMSG #c :one")
    bob.send("PING :inside")  # PING and PONG keep the batch open
    bob.expect(r" PONG \S+ :?inside")
    bob.send("@batch=p PRIVMSG #c :two")
    bob.send("NOTICE #c :a notice")
    assert "NOTICE came before its BATCH -" in bob.expect(r" FAIL BATCH MULTILINE_INVALID").params[-1]
    assert carol.expect(r" NOTICE #c ").params[1] == "a notice", "the command itself runs"
    bob.send("@batch=p PRIVMSG #c :three")
    bob.send("BATCH -p")
    assert not any("FAIL" in line for line in bob.sync()), "the abandoned batch's late lines are dropped quietly"
    assert "PRIVMSG" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


def test_a_line_that_cannot_be_read_fails_the_batch(classroom, room):
    bob, carol = room["bob"], room["carol"]
    bob.send("BATCH +u draft/multiline #c")
    bob.send("@batch=u PRIVMSG #c :one")
    bob.send(b"@batch=u PRIVMSG #c :\xff\xfe broken\r\n")
    bob.send("@batch=u PRIVMSG #c :three")
    bob.send("BATCH -u")
    bob.expect(r" FAIL PRIVMSG INVALID_UTF8")
    assert "could not be read" in bob.expect(r" FAIL BATCH MULTILINE_INVALID").params[-1]
    assert "PRIVMSG" not in "".join(carol.sync())
    assert_still_served(classroom, carol)


def test_an_abandoned_batch_costs_others_nothing(classroom, room):
    bob, carol = room["bob"], room["carol"]
    bob.send("BATCH +forever draft/multiline #c")
    bob.send("@batch=forever PRIVMSG #c :and then nothing")
    bob.sync()  # the PING passes through; the batch stays open
    assert_still_served(classroom, carol)
    carol.send("PRIVMSG #c :life goes on")
    assert bob.expect(r" PRIVMSG #c ").params[1] == "life goes on"
    bob.close()
    room["alice"].expect(r":bob!\S+ QUIT")


def test_an_open_batch_cannot_keep_lines_free_for_ever(classroom, room):
    bob, carol = room["bob"], room["carol"]
    bob.send("BATCH +pings draft/multiline #c")
    for number in range(120):
        bob.send(f"PING :{number}")
    assert expect_fail(bob, "MULTILINE_MAX_LINES")[2] == "100"
    assert_still_served(classroom, carol)


def test_the_late_lines_of_a_refused_batch_are_dropped_without_replies_nor_a_flood(make_server):
    # Flood control on: the 40 lines of a muted student's paste, one by one, would be 30 over the burst.
    running = make_server(flood_burst=10, flood_rate=2.0, flood_max_excess=20)
    alice, bob = running.connect("alice"), running.connect("bob", caps=ML)
    for client in (alice, bob):
        client.join("#c")
    alice.send("MODE #c +q bob!*@*")
    bob.expect(r" MODE #c \+q")
    send_batch(bob, "#c", [f"line {n}" for n in range(40)])
    replies = bob.sync()
    assert sum(" 404 " in line for line in replies) == 1 and not bob.closed, replies
    assert_still_served(running, alice)


def test_flood_control_bills_a_batch_as_a_whole(make_server):
    running = make_server(flood_burst=12, flood_rate=4.0)
    sender, reader = running.connect("sender", caps=ML), running.connect("reader", caps=ML)
    for client in (sender, reader):
        client.join("#c")
    lines = [f"print({n})" for n in range(100)]  # 100 lines cost max(1000 // 512 + 1, 102 * 60 // 512) = 11
    send_batch(sender, "#c", lines)
    assert len(batch_of(reader)) == 102, "a whole batch at once is no flood"
    started = time.monotonic()
    sender.send("PING :after")  # the bucket (12, less 6 for signing in, 1 for BATCH +, 11) is empty: it waits
    sender.expect(r" PONG \S+ :?after")
    assert time.monotonic() - started > 0.5
    assert not sender.closed


def test_status_target_batch_reaches_the_operators_and_is_not_stored(room):
    alice, bob, carol = room["alice"], room["bob"], room["carol"]
    send_batch(bob, "@#c", ["for", "the operators"])
    got = batch_of(alice)
    assert got[0].params[2] == "@#c" and [line.params[1] for line in got[1:-1]] == ["for", "the operators"]
    assert "operators" not in "".join(carol.sync())


def test_plain_irc_library_client_gets_the_lines(server):
    """Interop: the ``irc`` library from PyPI, which knows nothing of batches, reads the lines of a batch."""
    reactor = irc.client.Reactor()
    heard: list[str] = []
    joined = threading.Event()
    connection = reactor.server().connect("127.0.0.1", server.address[1], "jaraco",
                                          connect_factory=irc.connection.Factory())
    reactor.add_global_handler("welcome", lambda c, e: c.join("#c"))
    reactor.add_global_handler("join", lambda c, e: joined.set() if e.source.nick == "jaraco" else None)
    reactor.add_global_handler("pubmsg", lambda c, e: heard.append(e.arguments[0]))

    def pump_until(condition, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out; heard so far: {heard}"
            reactor.process_once(0.05)

    pump_until(joined.is_set)
    alice = server.connect("alice", caps=ML)
    alice.join("#c")
    send_batch(alice, "#c", SNIPPET)
    pump_until(lambda: len(heard) == 3)
    assert heard == [line for line in SNIPPET if line]
    connection.close()


def test_the_teachers_transcript_indents_the_lines_of_a_block(tmp_path):
    db = str(tmp_path / "export.sqlite3")
    store = HistoryStore(db)
    store.write([StoredMessage("m1", int(time.time() * 1000), "#c", "alice!~a@h", "PRIVMSG", "\n".join(SNIPPET))])
    store.close()
    text = run_export(db, "--export", "#c")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[0].endswith("] <alice> def square(x):")
    assert text.stdout.splitlines()[1:] == ['        """Квадрат числа."""', "", "        return x * x"]
    rows = list(csv.reader(io.StringIO(run_export(db, "--export", "#c", "--format", "csv").stdout)))
    assert rows[1][3] == "\n".join(SNIPPET), "CSV keeps the text as it was"


def test_a_batch_that_cannot_be_stored_reaches_nobody(make_server, tmp_path, caplog):
    """Store before deliver: while the history cannot be written (a full disk), no line of the batch goes
    out, to either kind of client, and the sender is told once; then the same batch goes through."""
    db = str(tmp_path / "locked.sqlite3")
    running = make_server(db_path=db, flood_rate=0)
    alice = running.connect("alice", caps=("draft/multiline", "batch", "echo-message"))
    bob, carol = running.connect("bob", caps=ML), running.connect("carol")
    for client in (alice, bob, carol):
        client.join("#c")
    for client in (alice, bob, carol):
        client.sync()
    with disk_full_for(running.server.store):
        send_batch(alice, "#c", SNIPPET)
        assert alice.expect(r" FAIL ").params[:3] == ["PRIVMSG", "MESSAGE_NOT_SENT", "#c"]
        assert not any("BATCH" in line or "PRIVMSG" in line for line in alice.sync())
        assert not any("PRIVMSG" in line for client in (bob, carol) for line in client.sync())
    assert len(take_logged(caplog, logging.ERROR, "could not store 1 messages in the history")) == 1
    send_batch(alice, "#c", SNIPPET, reference="again")
    assert [line.params[1] for line in batch_of(bob)[1:-1]] == SNIPPET
