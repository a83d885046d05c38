"""draft/multiline in the client library: how a text is cut into batches, a Session sending several lines as
one message (to our server, and to servers the test plays: one without the capability, one with small
limits), a batch received as one message, live and from the history, and what a server cannot make it do."""
from __future__ import annotations

import time

from hypothesis import given, settings, strategies as st

from common.client import events as ev
from common.client.outgoing import Lane, OutgoingLine, OutgoingLines
from common.client.texts import describe
from common.protocol.message import parse
from common.protocol.multiline import (MultilineLimits, Piece, added_bytes, join_pieces, plan_batches, split_line,
                                       trimmed_lines)
from helpers import IRCTestClient
from test_session import scripted_server_session

CODE = "for i in range(3):\n    print('привет', i)\n\nprint('готово')"


def test_limits_are_read_from_the_capability_value():
    assert MultilineLimits.parse("max-bytes=4096,max-lines=100") == MultilineLimits(4096, 100)
    assert MultilineLimits.parse("max-lines=5,future-key=1,max-bytes=200") == MultilineLimits(200, 5)
    assert MultilineLimits.parse("max-bytes=40000") == MultilineLimits(40000, None)
    for unusable in ("", "max-lines=10", "max-bytes=0", "max-bytes=²", "max-bytes=-5", "max-bytes=9" * 20):
        assert MultilineLimits.parse(unusable) is None, unusable
    assert MultilineLimits(4096, 100).cap_value() == "max-bytes=4096,max-lines=100"


def test_a_text_is_cut_into_batches_within_the_limits():
    text = "\n\n" + "\n".join(f"line {n}" for n in range(7)) + "\n\n"
    batches = plan_batches(text, MultilineLimits(max_bytes=1000, max_lines=3), max_line_bytes=400)
    assert [[piece.text for piece in batch] for batch in batches] == [
        ["line 0", "line 1", "line 2"], ["line 3", "line 4", "line 5"], ["line 6"]]
    long_line = "слово " * 100
    (batch,) = plan_batches(f"{long_line}\nend", MultilineLimits(max_bytes=4096), max_line_bytes=100)
    assert batch[0].concat is False and all(piece.concat for piece in batch[1:-1]) and not batch[-1].concat
    assert join_pieces(batch) == f"{long_line}\nend"
    assert all(len(piece.text.encode()) <= 100 for piece in batch)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=80),
                max_size=30),
       st.integers(20, 300), st.one_of(st.none(), st.integers(1, 12)), st.integers(8, 120))
def test_batches_fit_lose_no_text_and_never_start_empty_or_with_a_concat(lines, max_bytes, max_lines, line_bytes):
    text = "\n".join(lines)
    limits = MultilineLimits(max_bytes, max_lines)
    batches = plan_batches(text, limits, line_bytes)
    for batch in batches:
        assert sum(added_bytes(piece, index == 0) for index, piece in enumerate(batch)) <= max_bytes
        assert len(batch) <= (max_lines or 1000)
        assert batch[0].text and batch[-1].text and not batch[0].concat
    assert "".join(piece.text for batch in batches for piece in batch) == "".join(trimmed_lines(text))


def test_split_line_keeps_the_space_at_the_end_of_a_piece():
    assert split_line("один два три", 10) == ["один ", "два ", "три"]
    assert split_line("ЖЖЖЖЖ", 5) == ["ЖЖ", "ЖЖ", "Ж"]
    assert join_pieces([Piece("a"), Piece(""), Piece("b"), Piece("c", concat=True)]) == "a\n\nbc"


def test_a_batch_costs_the_pacing_bucket_what_the_server_bills():
    lines = OutgoingLines(burst=2, rate=20.0)
    lines.put(Lane.TYPED, OutgoingLine(1, b"BATCH +r ...\r\n...BATCH -r\r\n", cost=4))
    lines.put(Lane.TYPED, OutgoingLine(1, b"PRIVMSG #c :after\r\n"))
    assert lines.take().cost == 4
    started = time.monotonic()
    assert lines.take().data == b"PRIVMSG #c :after\r\n"
    assert time.monotonic() - started > 0.15, "2 tokens, less 1 and 4: the next line waits for (1 + 3) / 20 s"


def test_a_session_sends_several_lines_as_one_message(server_process, sessions):
    process = server_process()
    capable = IRCTestClient(process.address).register("capable", caps=("draft/multiline", "batch"))
    plain = IRCTestClient(process.address).register("plain")
    for watcher in (capable, plain):
        watcher.join("#c")
    alice, alice_log = sessions(process.address, "alice", channels=("#c",))
    bob, bob_log = sessions(process.address, "bob", channels=("#c",))
    alice_log.wait_for(ev.Joined, own=True)
    bob_log.wait_for(ev.Joined, own=True)
    assert "draft/multiline" in alice.caps
    assert alice.send_text("#c", f"\n{CODE}\n")
    start = capable.expect(r" BATCH \+\S+ draft/multiline #c")
    texts = [capable.expect(rf"batch={start.params[0][1:]}").params[1] for _ in range(4)]
    assert texts == CODE.split("\n")
    assert [plain.expect(r" PRIVMSG #c ").params[1] for _ in range(3)] == [line for line in CODE.split("\n") if line]
    received = bob_log.wait_for(ev.ChatMessage, sender="alice")
    assert received.text == CODE and received.msgid
    own = alice_log.wait_for(ev.ChatMessage, own=True)
    assert own.text == CODE and own.msgid == received.msgid, "the echo is one message too"
    assert alice.flush(5)
    assert not [event for event in alice_log.seen if isinstance(event, ev.ErrorReply)]

    carol, carol_log = sessions(process.address, "carol", channels=("#c",))
    history = carol_log.wait_for(ev.HistoryBatch, conversation="#c")
    assert [message.text for message in history.messages] == [CODE]


def test_without_the_capability_the_lines_go_one_by_one():
    with scripted_server_session(pace_rate=0) as (session, log, peer):
        assert session.send_text("#c", CODE)
        received = [parse(line) for line in peer.lines_until(r"^PRIVMSG #c :?print\('готово'\)")]
        assert [(line.command, *line.params) for line in received] == [
            ("PRIVMSG", "#c", line) for line in CODE.split("\n") if line], "no batch, no blank line"


def test_a_text_beyond_the_servers_limits_goes_in_several_batches():
    offer = "batch echo-message draft/multiline=max-bytes=60,max-lines=3"
    with scripted_server_session(offer, pace_rate=0) as (session, log, peer):
        text = "\n".join(f"строка {n}" for n in range(8))
        assert session.send_text("#c", text)
        batches = []
        for _ in range(3):
            start = peer.expect(r"^BATCH \+\S+ draft/multiline #c$")
            reference = start.params[0][1:]
            lines = peer.lines_until(rf"^BATCH -{reference}$")
            assert all(line.startswith(f"@batch={reference} PRIVMSG #c :") for line in lines[:-1]), lines
            batches.append([line.split(" :", 1)[1] for line in lines[:-1]])
        assert [len(batch) for batch in batches] == [3, 3, 2]
        assert all(len("\n".join(batch).encode()) <= 60 for batch in batches)
        assert sum(batches, []) == text.split("\n")


def test_a_batch_from_the_server_is_one_message_live_and_in_history():
    offer = "batch message-tags server-time draft/chathistory draft/multiline=max-bytes=4096"
    with scripted_server_session(offer, pace_rate=0) as (session, log, peer):
        peer.send("@msgid=m1;time=2026-01-01T10:00:00.000Z :bob!b@h BATCH +x draft/multiline #c")
        peer.send("@batch=x :bob!b@h PRIVMSG #c :первая, alice")
        peer.send("@batch=x :bob!b@h PRIVMSG #c :")
        peer.send("@batch=x :bob!b@h PRIVMSG #c :вторая ")
        peer.send("@batch=x;draft/multiline-concat :bob!b@h PRIVMSG #c :продолжение")
        peer.send(":bob!b@h BATCH -x")
        message = log.wait_for(ev.ChatMessage, sender="bob")
        assert message.text == "первая, alice\n\nвторая продолжение"
        assert message.msgid == "m1" and message.time.year == 2026 and message.mentions_me
        peer.send(":irc.test BATCH +h chathistory #c")
        peer.send("@batch=h;msgid=m0 :carol!c@h BATCH +y draft/multiline #c")
        peer.send("@batch=y :carol!c@h PRIVMSG #c :a")
        peer.send("@batch=y :carol!c@h PRIVMSG #c :b")
        peer.send("@batch=h :carol!c@h BATCH -y")
        peer.send("@batch=h;msgid=m00 :dave!d@h PRIVMSG #c :one line")
        peer.send(":irc.test BATCH -h")
        history = log.wait_for(ev.HistoryBatch)
        assert [(m.sender, m.text, m.msgid, m.history) for m in history.messages] == [
            ("carol", "a\nb", "m0", True), ("dave", "one line", "m00", True)]


def test_what_a_server_sends_in_a_batch_is_bounded():
    offer = "batch draft/multiline=max-bytes=4096"
    with scripted_server_session(offer, pace_rate=0) as (session, log, peer):
        peer.send(":bob!b@h BATCH +huge draft/multiline #c")
        chunk = "x" * 400
        peer.send(b"".join(f"@batch=huge :bob!b@h PRIVMSG #c :{chunk}\r\n".encode() for _ in range(700)))
        peer.send(":bob!b@h BATCH -huge")
        for number in range(20):  # more batches opened than a client keeps; none ever ends
            peer.send(f":bob!b@h BATCH +open{number} draft/multiline #c")
        peer.send(":bob!b@h PRIVMSG #c :after all that")
        message = log.wait_for(ev.ChatMessage, sender="bob")
        assert message.text == "after all that", "the oversized batch was dropped, not shown"
        assert session._handler._multiline._open.keys() <= {f"open{n}" for n in range(20)}
        assert len(session._handler._multiline._open) <= 8


def test_fail_replies_of_a_batch_read_in_both_languages():
    fail = ev.ErrorReply("FAIL", "", params=("BATCH", "MULTILINE_MAX_BYTES", "4096", "max-bytes exceeded"))
    assert describe(fail, "en") == ("Error: The message was not sent: it is longer than the server takes in one "
                                    "message (4096 bytes)")
    assert "4096 байт" in describe(fail, "ru")
    odd = ev.ErrorReply("FAIL", "BATCH MULTILINE_MAX_BYTES", params=("BATCH", "MULTILINE_MAX_BYTES"))
    assert describe(odd, "en") == "Error: BATCH MULTILINE_MAX_BYTES", "too few parameters: the server's text"
    invalid = ev.ErrorReply("FAIL", "", params=("BATCH", "MULTILINE_INVALID", "Invalid multiline batch: x"))
    assert describe(invalid, "ru") == (
        "Ошибка: Сообщение из нескольких строк не отправлено (Invalid multiline batch: x)")
