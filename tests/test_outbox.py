"""What the outbox hands the sequencer. How a batch's lines are gathered per connection
(outbox.gather_by_connection): consecutive messages to one channel become one piece per member, and no
connection's lines change order (the connections here are plain keys: the function only groups bytes by
them). How fixed replies are cut into pieces, and how each tag variant of a message is encoded."""
from __future__ import annotations

import pytest

from common.protocol.message import Message, parse
from common.server.connection import SMALL_BYTES
from common.server.outbox import (TAG_GATES, FixedReplies, Relay, TagVariants, gather_by_connection, numeric_line,
                                  tag_gates)


def channel(*groups):
    """A channel's audience as ``Channel.audience()`` gives it: its groups, one per tag variant."""
    return {(index % 2 == 0,): tuple(group) for index, group in enumerate(groups)}


def to_channel(audience, data_by_group, skip=None):
    return [Relay(conns, data, None, skip, audience) for conns, data in zip(audience.values(), data_by_group)]


def test_consecutive_messages_to_a_channel_become_one_piece_per_member_and_skip_their_senders():
    alice, bob, carol, dave = "alice", "bob", "carol", "dave"
    audience = channel([alice, bob], [carol, dave])  # carol and dave get the tagged variant
    relays = (to_channel(audience, [b"a1\r\n", b"@t a1\r\n"], skip=alice)
              + to_channel(audience, [b"c1\r\n", b"@t c1\r\n"], skip=carol)
              + to_channel(audience, [b"a2\r\n", b"@t a2\r\n"], skip=alice))
    pending = gather_by_connection(relays)
    assert pending[bob] == [b"a1\r\nc1\r\na2\r\n"]
    assert pending[dave] == [b"@t a1\r\n@t c1\r\n@t a2\r\n"]
    assert pending[alice] == [b"c1\r\n"], "a sender without echo-message gets only the others' lines"
    assert pending[carol] == [b"@t a1\r\n@t a2\r\n"]


def test_a_line_for_someone_else_between_two_messages_keeps_every_connection_in_order():
    alice, bob = "alice", "bob"
    audience = channel([alice, bob])
    relays = [*to_channel(audience, [b"one\r\n"]), Relay([bob], b"reply\r\n"), *to_channel(audience, [b"two\r\n"])]
    pending = gather_by_connection(relays)
    assert b"".join(pending[bob]) == b"one\r\nreply\r\ntwo\r\n"
    assert b"".join(pending[alice]) == b"one\r\ntwo\r\n"


def test_a_member_of_two_channels_gets_their_messages_in_the_order_they_were_decided():
    alice, bob, carol = "alice", "bob", "carol"
    maths, physics = channel([alice, bob]), channel([alice, carol])
    relays = [*to_channel(maths, [b"m1\r\n"]), *to_channel(physics, [b"p1\r\n"]), *to_channel(maths, [b"m2\r\n"])]
    pending = gather_by_connection(relays)
    assert b"".join(pending[alice]) == b"m1\r\np1\r\nm2\r\n"
    assert b"".join(pending[bob]) == b"m1\r\nm2\r\n" and b"".join(pending[carol]) == b"p1\r\n"


def test_one_message_whose_only_member_is_its_sender_reaches_nobody():
    audience = channel(["alice"])
    assert gather_by_connection(to_channel(audience, [b"alone\r\n"], skip="alice")) == {}


def test_fixed_replies_come_in_small_pieces_of_whole_lines_in_order():
    """A welcome's fixed numerics are sent as pieces that Python's small-object allocator can hold
    (``SMALL_BYTES``, connection.py), each made of whole lines, in order, with the nick put in."""
    replies = [("005", f"TOKEN{index}={'v' * 180}", "are supported by this server") for index in range(6)]
    replies += [("372", f"- line {index}") for index in range(12)]
    fixed = FixedReplies("classchat.local", replies, nick_length=30)
    nick = "Ё" * 30  # 60 bytes: a nick's characters are counted at 4 bytes each
    pieces = fixed.for_nick(nick)
    assert len(pieces) > 1
    assert all(len(piece) <= SMALL_BYTES and piece.endswith(b"\r\n") for piece in pieces)
    lines = b"".join(pieces).decode().split("\r\n")[:-1]
    assert lines == [numeric_line("classchat.local", code, nick, params) for code, *params in replies]


def test_each_tag_variant_is_the_whole_message_with_the_tags_its_clients_negotiated():
    """TagVariants formats the line after the tags once; every variant must still be exactly the message
    Message.to_bytes() would give with that variant's tags, escaping included."""
    message = Message("PRIVMSG", ["#класс", "Привет; всем :)"], "маша!~m@10.0.0.7",
                      {"time": "2026-11-30T05:00:00.000Z", "msgid": "ab12-7", "account": "маша",
                       "+draft/reply": "ab12-6", "+example/note": "a;b c\\d"})
    variants = TagVariants(message)
    untagged = variants.for_gates(tag_gates(set()))
    plain = b":\xd0\xbc\xd0\xb0\xd1\x88\xd0\xb0!~m@10.0.0.7 PRIVMSG #\xd0\xba\xd0\xbb\xd0\xb0\xd1\x81\xd1\x81 :"
    assert untagged == plain + "Привет; всем :)\r\n".encode()
    assert variants.for_gates(tag_gates({"server-time"})) == b"@time=2026-11-30T05:00:00.000Z " + untagged
    everything = variants.for_gates(tag_gates(set(TAG_GATES)))
    assert parse(everything.decode()) == message
    assert everything == Message(message.command, message.params, message.source, message.tags).to_bytes()
    only_client_tags = variants.for_gates(tag_gates({"message-tags"}))
    assert parse(only_client_tags.decode()).tags == {"msgid": "ab12-7", "+draft/reply": "ab12-6",
                                                      "+example/note": "a;b c\\d"}


def test_a_tag_that_would_break_the_line_is_refused_not_sent():
    """Tag values are escaped, so only a tag name could carry CR, LF or NUL; none reaches the wire."""
    variants = TagVariants(Message("PRIVMSG", ["#c", "hi"], "a!~a@h", {"+x\r\nQUIT": ""}))
    with pytest.raises(ValueError):
        variants.for_gates(tag_gates({"message-tags"}))
    assert variants.for_gates(tag_gates(set())) == b":a!~a@h PRIVMSG #c hi\r\n"
