"""Bounded fuzzing with hypothesis: the parser and framing on arbitrary input, and the real server fed
random command lines over a socket. Nothing may escape as an exception (the conftest guard fails a test
on any thread exception or logged error), and the server must keep answering everyone.

The budgets are fixed (examples, and a deadline per example) so the run stays within seconds in CI;
``derandomize`` makes every CI run try the same inputs, so a failure is reproducible.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.protocol.framing import LineFramer
from common.protocol.message import Message, ProtocolError, parse
from common.server.commands import COMMANDS

FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Words that make interesting parameters: channel and nick shapes, masks, modes, numbers, CTCP, IRCv3 refs.
WORDS = st.sampled_from(["#class", "#", "#класс", "alice", "bob", "teacher", "*", "$*", "$classchat.local", "0",
                         "+m", "-o", "+U", "+q", "+b", "+k", "+l", "-k", "+ovqbkl", "nick!*@*", "\x01ACTION hi\x01",
                         "LATEST", "BEFORE", "TARGETS", "msgid=x", "timestamp=2026-01-01T00:00:00Z", "LS", "302",
                         "REQ", "END", ":", "", "99999999999999999999", "-1", "привет", "\x1b[2J", "a,b,,c"])
PARAMETER = st.one_of(WORDS, st.text(alphabet=st.characters(blacklist_characters="\r\n\x00 "), max_size=40))
COMMAND = st.one_of(st.sampled_from(sorted(COMMANDS)), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                                                                min_size=1, max_size=12))


@st.composite
def command_lines(draw) -> str:
    tags = draw(st.sampled_from(["", "@+typing=active ", "@time=x;+a=b\\s ", "@msgid= "]))
    params = draw(st.lists(PARAMETER, max_size=6))
    line = tags + draw(COMMAND)
    if params:
        *middle, last = params
        line += "".join(" " + (word.lstrip(":") or "x") for word in middle) + " :" + last
    return line


@FUZZ
@given(st.text(max_size=600))
def test_parse_raises_only_protocol_errors(text):
    try:
        message = parse(text)
    except ProtocolError:
        return
    assert isinstance(message, Message) and message.command


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_framing_never_returns_more_than_it_was_given(chunks):
    framer = LineFramer()
    lines = [raw for chunk in chunks for raw in framer.feed(chunk)]
    total = sum(len(chunk) for chunk in chunks)
    for raw in lines:
        try:
            raw.decode()
        except ProtocolError:
            continue
    assert len(lines) <= total


@FUZZ
@given(command=st.sampled_from(["PRIVMSG", "NOTICE", "TOPIC", "KICK"]), target=st.sampled_from(["#c", "bob"]),
       text=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
                    min_size=1, max_size=200))
def test_formatted_messages_parse_back(command, target, text):
    message = Message(command, [target, text], source="alice!~a@host", tags={"+x": text[:20]})
    assert parse(message.to_bytes().decode().rstrip("\r\n")) == message


def test_server_survives_random_command_lines(make_server):
    running = make_server(opers={"teacher": "secret"}, flood_rate=0)
    observer = running.connect("observer")
    observer.join("#class")
    fuzzer = running.connect("fuzzer")

    @FUZZ
    @given(st.lists(command_lines(), min_size=1, max_size=8))
    def run(lines):
        nonlocal fuzzer
        if fuzzer.closed:
            fuzzer = running.connect("fuzzer")
        try:
            for line in lines:
                fuzzer.send(line.encode("utf-8", "surrogatepass"))
            fuzzer.sync()
        except (AssertionError, OSError):
            fuzzer.close()  # it QUIT, failed a password or was killed: the next example reconnects
        observer.sync()  # the server still answers a bystander

    run()
    observer.send("PRIVMSG #class :still here")
    observer.send("NAMES #class")
    observer.expect_numeric("366")
