"""Bounded fuzzing with hypothesis: the parser and framing on arbitrary input, and the real server fed
random command lines over a socket. Nothing may escape as an exception (the conftest guard fails a test
on any thread exception or logged error), and the server must keep answering everyone.

The budgets are fixed (examples, and a deadline per example) so the run stays within seconds in CI. Every
run draws new examples from a seed it chooses and prints (shown with a failure): set CLASSCHAT_FUZZ_SEED to
that number to run the same examples again. The server fuzzer also operates a channel of its own, so that
its MODE lines with absurd numbers, masks and keys reach the code that changes a channel, not only the
refusals a non-operator gets.
"""
from __future__ import annotations

import itertools
import os
import random

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from common.protocol.framing import LineFramer
from common.protocol.message import Message, ProtocolError, parse
from common.server.commands import COMMANDS

SEED = int(os.environ.get("CLASSCHAT_FUZZ_SEED") or random.SystemRandom().randrange(2 ** 32))
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def fuzz(test):
    """The budget above, and this run's seed (printed, so that a failure can be run again)."""
    return seed(SEED)(FUZZ(test))

# Words that make interesting parameters: channel and nick shapes, masks, modes, numbers, CTCP, IRCv3 refs.
WORDS = st.sampled_from(["#class", "#", "#класс", "alice", "bob", "teacher", "*", "$*", "$classchat.local", "0",
                         "+m", "-o", "+U", "+q", "+b", "+k", "+l", "-k", "+ovqbkl", "nick!*@*", "\x01ACTION hi\x01",
                         "LATEST", "BEFORE", "TARGETS", "msgid=x", "timestamp=2026-01-01T00:00:00Z", "LS", "302",
                         "REQ", "END", ":", "", "99999999999999999999", "-1", "привет", "\x1b[2J", "a,b,,c"])
PARAMETER = st.one_of(WORDS, st.text(alphabet=st.characters(blacklist_characters="\r\n\x00 "), max_size=40))
COMMAND = st.one_of(st.sampled_from(sorted(COMMANDS)), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                                                                min_size=1, max_size=12))


ABSURD = st.sampled_from(["0", "-1", "1", "99999999999999999999", "²", "٣", "1e9", "", "*", "*!*@*",
                          "*a*a*a*a*a*a*a*a*a*a*b", "?" * 60, "$a:", "$a:masha", "$a:" + "x" * 300, "a b", ":x",
                          "nick!user@host", "k" * 300, "\x01", "привет", "#fz", "fuzzer", "observer"])
MODE_LETTERS = "+-bqeIkloveimntUCsBpwYZ"


@st.composite
def mode_lines(draw) -> str:
    """MODE lines for the fuzzer's own channel: any letters, any signs, absurd parameters."""
    letters = draw(st.text(alphabet=MODE_LETTERS, min_size=1, max_size=12))
    params = draw(st.lists(ABSURD, max_size=6))
    line = "MODE #fz " + letters
    if params:
        *middle, last = params
        line += "".join(" " + (word.lstrip(":").replace(" ", "") or "x") for word in middle) + " :" + last
    return line


@st.composite
def command_lines(draw) -> str:
    tags = draw(st.sampled_from(["", "@+typing=active ", "@time=x;+a=b\\s ", "@msgid= "]))
    params = draw(st.lists(PARAMETER, max_size=6))
    line = tags + draw(COMMAND)
    if params:
        *middle, last = params
        line += "".join(" " + (word.lstrip(":") or "x") for word in middle) + " :" + last
    return line


@fuzz
@given(st.text(max_size=600))
def test_parse_raises_only_protocol_errors(text):
    try:
        message = parse(text)
    except ProtocolError:
        return
    assert isinstance(message, Message) and message.command


@fuzz
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


@fuzz
@given(command=st.sampled_from(["PRIVMSG", "NOTICE", "TOPIC", "KICK"]), target=st.sampled_from(["#c", "bob"]),
       text=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
                    min_size=1, max_size=200))
def test_formatted_messages_parse_back(command, target, text):
    message = Message(command, [target, text], source="alice!~a@host", tags={"+x": text[:20]})
    assert parse(message.to_bytes().decode().rstrip("\r\n")) == message


def test_server_survives_random_command_lines(make_server):
    # Registration closed: a REGISTER would cost a scrypt hash per example (its refusals are fuzzed all the same).
    running = make_server(opers={"teacher": "secret"}, flood_rate=0, registration="closed")
    observer = running.connect("observer")
    observer.join("#class")

    print(f"fuzz seed {SEED} (CLASSCHAT_FUZZ_SEED={SEED} runs these examples again)")

    nicks = (f"fuzzer{index}" for index in itertools.count())

    def reconnect():
        client = running.connect(next(nicks))  # a new nick: the last one may not be gone yet
        client.send("JOIN #fz")  # its own channel, where it is the operator (unless an earlier example closed it)
        client.sync()
        return client

    fuzzer = reconnect()

    @fuzz
    @given(st.lists(st.one_of(command_lines(), mode_lines()), min_size=1, max_size=8))
    def run(lines):
        nonlocal fuzzer
        if fuzzer.closed:
            fuzzer = reconnect()
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
