"""The protocol module on its own: parsing, formatting, tag escaping, framing and names."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings, strategies as st

from common.protocol.casemap import casefold, is_valid_channel, is_valid_nick, mask_matches, normalize_ban_mask
from common.protocol.framing import LineFramer
from common.protocol.params import parse_count, parse_mask, parse_msgid, parse_timestamp
from common.protocol.message import (InvalidUTF8, LineTooLong, MalformedLine, Message, escape_tag_value, parse,
                            split_source, unescape_tag_value)


# ------------------------------------------------------------------ parsing

@pytest.mark.parametrize("line, expected", [
    ("PING", Message("PING")),
    ("ping :token", Message("PING", ["token"])),
    (":irc.example 001 alice :Welcome home", Message("001", ["alice", "Welcome home"], source="irc.example")),
    ("PRIVMSG #c :", Message("PRIVMSG", ["#c", ""])),
    ("PRIVMSG #c ::-)", Message("PRIVMSG", ["#c", ":-)"])),
    ("MODE  #c   +kl  key   5", Message("MODE", ["#c", "+kl", "key", "5"])),
    ("USER u 0 * :Real Name\r\n", Message("USER", ["u", "0", "*", "Real Name"])),
    ("@time=2024-01-01T00:00:00.000Z;msgid=abc :n!u@h PRIVMSG #c :hi",
     Message("PRIVMSG", ["#c", "hi"], source="n!u@h", tags={"time": "2024-01-01T00:00:00.000Z", "msgid": "abc"})),
    ("@+flag;a= TAGMSG #c", Message("TAGMSG", ["#c"], tags={"+flag": "", "a": ""})),
    ("PRIVMSG Вася :Привет", Message("PRIVMSG", ["Вася", "Привет"])),
])
def test_parse(line, expected):
    assert parse(line) == expected


@pytest.mark.parametrize("line", ["", "   ", ":source-only", "@tags-only", ":src :trailing", "PRIV\x00MSG x",
                                  "PRIVMSG #c :a\x00b", "@=v PING", "Ü ber"])
def test_parse_rejects_malformed_lines(line):
    with pytest.raises(MalformedLine):
        parse(line)


@pytest.mark.parametrize("raw, value", [
    ("a\\:b\\sc\\\\d\\re\\nf", "a;b c\\d\re\nf"),
    ("trailing\\", "trailing"),
    ("unknown\\xescape", "unknownxescape"),
    ("raw+:=,ok", "raw+:=,ok"),
])
def test_tag_unescaping(raw, value):
    assert unescape_tag_value(raw) == value


def test_format_puts_a_colon_only_where_needed():
    assert Message("PRIVMSG", ["#c", "hi"]).format() == "PRIVMSG #c hi"
    assert Message("PRIVMSG", ["#c", "hi there"]).format() == "PRIVMSG #c :hi there"
    assert Message("PRIVMSG", ["#c", ""]).format() == "PRIVMSG #c :"
    assert Message("PRIVMSG", ["#c", ":)"]).format() == "PRIVMSG #c ::)"
    assert Message("QUIT").to_bytes() == b"QUIT\r\n"
    assert Message("NOTICE", ["x", "y"], source="s", tags={"k": "a b;c"}).format() == "@k=a\\sb\\:c :s NOTICE x y"


def test_format_refuses_what_no_line_can_carry():
    with pytest.raises(ValueError):
        Message("PRIVMSG", ["#a b", "text"]).format()
    with pytest.raises(ValueError):
        Message("PRIVMSG", ["#c", "two\r\nlines"]).format()


def test_split_source():
    assert split_source("nick!user@host") == ("nick", "user", "host")
    assert split_source("irc.example.org") == ("irc.example.org", None, None)
    assert split_source("nick@host") == ("nick", None, "host")


# ------------------------------------------------------------------ round trips (property-based)

middle_param = st.text(st.characters(blacklist_characters=" \r\n\x00", blacklist_categories=("Cs",)),
                       min_size=1).filter(lambda p: not p.startswith(":"))
trailing_param = st.text(st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",)))
tag_key = st.from_regex(r"\A\+?[a-z][a-z0-9./-]{0,20}\Z")
tag_value = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
command = st.sampled_from(["PRIVMSG", "NOTICE", "JOIN", "001", "433", "TAGMSG", "MODE"])


@given(command, st.lists(middle_param, max_size=5), trailing_param, st.dictionaries(tag_key, tag_value, max_size=4),
       st.one_of(st.none(), st.from_regex(r"\A[a-z]{1,9}![a-z]{1,9}@[a-z.]{1,20}\Z")))
def test_format_then_parse_is_identity(cmd, middle, trailing, tags, source):
    message = Message(cmd, [*middle, trailing], source=source, tags=tags)
    assert parse(message.format()) == message
    assert parse(message.to_bytes().decode()) == message


@given(tag_value)
def test_tag_escaping_round_trips(value):
    escaped = escape_tag_value(value)
    assert not set(" ;\r\n") & set(escaped)
    assert unescape_tag_value(escaped) == value


@given(st.binary(max_size=2000))
def test_parse_never_raises_anything_but_protocol_errors(data):
    framer = LineFramer()
    for raw in framer.feed(data + b"\n"):
        try:
            parse(raw.decode())
        except (MalformedLine, InvalidUTF8, LineTooLong):
            pass


# ------------------------------------------------------------------ framing

def test_framing_reassembles_lines_split_anywhere():
    data = "PRIVMSG #c :Привет, мир 🌍\r\nPING x\nQUIT\r\n".encode()
    for cut in range(len(data) + 1):
        framer = LineFramer()
        lines = framer.feed(data[:cut]) + framer.feed(data[cut:])
        assert [line.decode() for line in lines] == ["PRIVMSG #c :Привет, мир 🌍", "PING x", "QUIT"]


def test_framing_takes_every_line_of_one_read_in_order_and_keeps_the_unfinished_one():
    """One read of a busy client brings hundreds of lines; an overlong one among them is reported in its place."""
    lines = [f"PRIVMSG #класс :{n}" for n in range(300)]
    data = "\r\n".join(lines[:150] + ["PRIVMSG #c :" + "x" * 5000] + lines[150:]).encode() + b"\r\nPRIVMSG #c :unfin"
    framer = LineFramer()
    got = framer.feed(data)
    assert [line.too_long for line in got].index(True) == 150 and sum(line.too_long for line in got) == 1
    assert [line.decode() for line in got if not line.too_long] == lines
    assert framer.pending_bytes == len(b"PRIVMSG #c :unfin")
    assert [line.decode() for line in framer.feed(b"ished\n")] == ["PRIVMSG #c :unfinished"]


def test_framing_byte_by_byte_keeps_multibyte_characters():
    framer = LineFramer()
    lines = []
    for byte in "ЁЖЗ😀\n".encode():
        lines += framer.feed(bytes([byte]))
    assert [line.decode() for line in lines] == ["ЁЖЗ😀"]


def test_framing_ignores_empty_lines():
    assert [line.decode() for line in LineFramer().feed(b"\r\n\n  \r\nPING\r\n")] == ["PING"]


def test_framing_caps_overlong_lines_and_recovers():
    framer = LineFramer()
    assert framer.feed(b"PRIVMSG #c :" + b"x" * 10000) == []
    assert framer.pending_bytes == 0, "an overlong line must not be buffered"
    lines = framer.feed(b"xxxx\r\nPING ok\r\n")
    assert lines[0].too_long
    with pytest.raises(LineTooLong) as error:
        lines[0].decode()
    assert error.value.command == "PRIVMSG"
    assert lines[1].decode() == "PING ok"


def test_body_limit_is_512_bytes_with_crlf_and_tags_have_their_own():
    body = "PRIVMSG #c :" + "x" * (510 - len("PRIVMSG #c :"))
    assert LineFramer().feed(f"{body}\r\n".encode())[0].decode() == body
    with pytest.raises(LineTooLong):
        LineFramer().feed(f"{body}x\r\n".encode())[0].decode()
    tagged = "@+a=" + "t" * 4000 + " " + body
    assert LineFramer().feed(f"{tagged}\r\n".encode())[0].decode() == tagged
    with pytest.raises(LineTooLong):
        LineFramer().feed(("@+a=" + "t" * 4100 + " PING x\r\n").encode())[0].decode()


def test_invalid_utf8_is_reported_with_the_command():
    line = LineFramer().feed(b"PRIVMSG #c :\xff\xfe\r\n")[0]
    with pytest.raises(InvalidUTF8) as error:
        line.decode()
    assert error.value.command == "PRIVMSG"
    assert line.decode(errors="replace") == "PRIVMSG #c :\ufffd\ufffd"


def test_client_framer_accepts_long_server_lines():
    long_line = "@" + "a" * 4000 + " :server 001 nick :" + "w" * 1000
    assert LineFramer.for_client().feed(f"{long_line}\r\n".encode())[0].decode() == long_line


# ------------------------------------------------------------------ names

def test_casefold_is_rfc1459_plus_unicode():
    assert casefold("Alice[]\\~") == "alice{}|^"
    assert casefold("ВАСЯ") == casefold("вася") == "вася"
    assert casefold("Ёлка") == "ёлка"


@pytest.mark.parametrize("nick, valid", [
    ("alice", True), ("Вася_2", True), ("[bot]", True), ("a-b", True), ("x" * 30, True),
    ("", False), ("2pac", False), ("-x", False), ("a b", False), ("a,b", False), ("a!b", False), ("x" * 31, False),
    ("#chan", False), ("😀", False),
])
def test_nick_validity(nick, valid):
    assert is_valid_nick(nick, 30) is valid


@pytest.mark.parametrize("name, valid", [
    ("#general", True), ("#общий", True), ("#a-b.c", True),
    ("general", False), ("#", False), ("#a b", False), ("#a,b", False), ("#a\x07", False), ("#" + "x" * 50, False),
])
def test_channel_validity(name, valid):
    assert is_valid_channel(name, 50) is valid


def test_ban_masks():
    assert normalize_ban_mask("bob") == "bob!*@*"
    assert normalize_ban_mask("*@10.0.0.*") == "*!*@10.0.0.*"
    assert mask_matches("bob!*@*", "BOB!~bob@127.0.0.1")
    assert mask_matches("*!*@127.0.0.?", "x!y@127.0.0.1")
    assert not mask_matches("*!*@127.0.0.?", "x!y@127.0.0.10")
    assert mask_matches("Вас?!*@*", "вася!~v@h")
    assert mask_matches("a[b]!*@*", "A{B}!u@h"), "rfc1459 brackets are not patterns"


def _regex_reference(mask: str, text: str) -> bool:
    """The obvious (backtracking) matcher, trusted on short inputs only."""
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in casefold(mask))
    return re.fullmatch(pattern, casefold(text), re.DOTALL) is not None


@settings(max_examples=2000, deadline=None)
@given(st.text("ab*?Б", max_size=9), st.text("abБб", max_size=10))
def test_mask_matcher_agrees_with_a_regular_expression(mask, text):
    assert mask_matches(mask, text) == _regex_reference(mask, text)


def test_mask_matcher_takes_pathological_masks_in_its_stride():
    """Masks that make a backtracking matcher run for seconds: the answers, on long texts."""
    assert not mask_matches("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 5000)
    assert mask_matches("*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 5000 + "b")
    assert not mask_matches("*" + "a?" * 200 + "c*", "a" * 5000)
    assert mask_matches("*" + "a?" * 200 + "c*", "a" * 5000 + "c")
    assert mask_matches("?" * 300 + "*", "x" * 300) and not mask_matches("?" * 300, "x" * 299)


# ------------------------------------------------------------------ parameters at the edge

@pytest.mark.parametrize("text, expected", [
    ("0", 0), ("7", 7), ("0099", 99), ("100", 100), ("101", None), ("-1", None), ("+5", None), ("²", None),
    ("٣", None), ("1_0", None), (" 1", None), ("", None), ("9" * 5000, None), ("99999999999999999999", None),
])
def test_counts_are_ascii_digits_within_bounds(text, expected):
    assert parse_count(text, 0, 100) == expected


def test_masks_are_completed_and_bounded():
    assert parse_mask("bob") == "bob!*@*"
    assert parse_mask("*@10.0.0.*") == "*!*@10.0.0.*"
    for bad in ("", "a b", "a,b", "x\x07", ":x", "a" * 201):
        assert parse_mask(bad) is None, bad


def test_msgids_and_timestamps():
    assert parse_msgid("01HX-abc_d") == "01HX-abc_d"
    assert parse_msgid("a b") is None and parse_msgid("x" * 65) is None and parse_msgid("*") is None
    assert parse_timestamp("1970-01-01T00:00:01.500Z") == 1500
    assert parse_timestamp("2026-11-29T13:00:00+01:00") == parse_timestamp("2026-11-29T12:00:00Z")
    for bad in ("", "yesterday", "9999999-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "1" * 100):
        assert parse_timestamp(bad) is None, bad
