"""The protocol on screen without Tk: the masking rule for passwords, the kinds of lines, the bounded log,
and what a real session records while its slash commands and its SASL login go out."""
from __future__ import annotations

import base64
import threading
import time

import pytest

from common.client import events as ev
from common.client.raw_lines import (MASK, NOTE, RECEIVED, SECRET_PARAMS, SENT, RawLineLog, kind_of,
                                     mask_secrets_in_line, shown)
from common.client.session import Session, SessionConfig
from common.client.slash_commands import SLASH_COMMANDS, _SECRET_RAW_COMMANDS, run_input
from common.client.texts import tr
from common.gui.protocol_pane import KIND_COLOURS, kind_colours, relative_luminance
from common.gui.theme import THEMES
from helpers import EventLog


@pytest.mark.parametrize("line, expected", [
    ("PASS classroom", "PASS ********"),
    ("PASS :two words", "PASS ********"),
    ("pass classroom", "PASS ********"),
    ("   PASS     classroom   ", "PASS ********"),
    ("@label=7;+draft/x=1 PASS classroom", "@label=7;+draft/x=1 PASS ********"),
    ("@label=7 :alice PASS :classroom", "@label=7 :alice PASS ********"),
    ("OPER teacher s3cret", "OPER teacher ********"),
    ("oper   teacher   :secret pass", "OPER teacher ********"),
    ("OPER teacher a b c", "OPER teacher ********"),
    ("@label=1 OPER teacher s3cret", "@label=1 OPER teacher ********"),
    ("REGISTER * * s3cret", "REGISTER * * ********"),
    ("REGISTER alice alice@example.org :long pass phrase", "REGISTER alice alice@example.org ********"),
    ("register alice s3cret", "REGISTER alice ********"),
    ("REGISTER s3cret", "REGISTER ********"),
    ("AUTHENTICATE AGFsaWNlAHMzY3JldA==", "AUTHENTICATE ********"),
    ("authenticate   AGFsaWNlAHMzY3JldA==", "AUTHENTICATE ********"),
    ("@label=2 AUTHENTICATE " + "QUFB" * 100, "@label=2 AUTHENTICATE ********"),
    ("AUTHENTICATE EXTERNALX", "AUTHENTICATE ********"),
    ("PRIVMSG NickServ :IDENTIFY s3cret", "PRIVMSG NickServ :IDENTIFY ********"),
    ("PRIVMSG nickserv :identify   alice   s3cret", "PRIVMSG nickserv :identify ********"),
    ("NOTICE ChanServ :REGISTER #math s3cret", "NOTICE ChanServ :REGISTER ********"),
    ("PRIVMSG NickServ :GHOST alice s3cret", "PRIVMSG NickServ :GHOST ********"),
    ("NS IDENTIFY s3cret", "NS IDENTIFY ********"),
    ("nickserv identify alice s3cret", "NICKSERV identify ********"),
])
def test_every_password_is_masked(line, expected):
    assert mask_secrets_in_line(line) == expected
    assert "s3cret" not in mask_secrets_in_line(line) and "classroom" not in mask_secrets_in_line(line)


@pytest.mark.parametrize("line", [
    "AUTHENTICATE PLAIN",
    "AUTHENTICATE plain",
    "AUTHENTICATE SCRAM-SHA-256",
    "AUTHENTICATE +",
    "AUTHENTICATE *",
    ":classchat.local AUTHENTICATE +",
    ":classchat.local REGISTER SUCCESS alice :Account created",
    "@time=2026-01-01T00:00:00.000Z :bob!b@h PRIVMSG #math :PASS s3cret is what I typed",
    "PRIVMSG #math :IDENTIFY s3cret",
    "PRIVMSG NickServ :INFO alice",
    "PRIVMSG NickServ :IDENTIFY",
    "NS INFO alice",
    "PASS",
    "OPER teacher",
    ":classchat.local 464 alice :Password incorrect",
    "PING   :odd   spacing kept",
])
def test_lines_without_a_password_come_back_exactly(line):
    assert mask_secrets_in_line(line) == line


@pytest.mark.parametrize("line, expected", [
    ("PASS s3cret\0", "PASS ********"),
    ("@bad;=tag PASS s3cret", "@bad;=tag PASS ********"),
    ("@bad;=tag :me OPER teacher s3cret", "@bad;=tag :me OPER ********"),
    ("@bad;=tag PRIVMSG NickServ :IDENTIFY s3cret", "@bad;=tag PRIVMSG NickServ ********"),
    ("@bad;=tag PRIVMSG #math :hello", "@bad;=tag PRIVMSG #math :hello"),
])
def test_a_line_the_parser_refuses_is_masked_after_its_command(line, expected):
    assert mask_secrets_in_line(line) == expected


def test_every_secret_command_of_the_slash_table_has_a_masking_rule():
    assert set(_SECRET_RAW_COMMANDS) == set(SECRET_PARAMS)
    for command in SECRET_PARAMS:
        assert MASK in mask_secrets_in_line(f"{command} a b c s3cret"), command
        assert "s3cret" not in mask_secrets_in_line(f"{command} a b c s3cret"), command


@pytest.mark.parametrize("command, kind", [
    ("PRIVMSG", "message"), ("NOTICE", "message"), ("TAGMSG", "message"), ("REDACT", "message"), ("JOIN", "membership"),
    ("PART", "membership"), ("QUIT", "membership"), ("NICK", "membership"), ("MODE", "mode"), ("TOPIC", "mode"),
    ("001", "numeric"), ("353", "numeric"), ("903", "numeric"), ("433", "error"), ("501", "error"),
    ("904", "error"), ("ERROR", "error"), ("FAIL", "error"), ("PING", "ping"), ("PONG", "ping"), ("CAP", "cap"),
    ("AUTHENTICATE", "cap"), ("PASS", "cap"), ("WHOIS", "other"), ("12", "other"),
])
def test_kind_of_each_command(command, kind):
    assert kind_of(command) == kind


def test_shown_masks_decodes_and_makes_controls_visible():
    log = RawLineLog()
    log.record(SENT, b"PASS :s3cret\r\n")
    log.record(RECEIVED, b":bob!b@h PRIVMSG #math :\x01ACTION waves\x01 \x1b[2J \xff")
    log.record(RECEIVED, b"not an irc line\0")
    log.note("raw_connected", where="127.0.0.1:6667")
    records, missed = log.since(0)
    lines = [shown(record, lambda key, values: tr(key, "ru", **values)) for record in records]
    assert missed == 0
    assert [(line.direction, line.text, line.kind) for line in lines] == [
        (SENT, "PASS ********", "cap"),
        (RECEIVED, ":bob!b@h PRIVMSG #math :^AACTION waves^A ^[[2J \ufffd", "message"),
        (RECEIVED, "not an irc line^@", "other"),
        (NOTE, "подключено к 127.0.0.1:6667", "note"),
    ]
    assert all(len(line.clock) == 12 and line.clock[2] == ":" and line.clock[8] == "." for line in lines)


def test_the_log_keeps_its_last_lines_and_counts_those_a_slow_view_missed():
    log = RawLineLog(capacity=3)
    assert log.since(0) == ([], 0)
    for number in range(1, 6):
        log.record(RECEIVED, f"PING :{number}".encode())
    records, missed = log.since(0)
    assert [record.seq for record in records] == [3, 4, 5] and missed == 2
    records, missed = log.since(4)
    assert [record.data for record in records] == [b"PING :5"] and missed == 0
    assert log.since(5) == ([], 0) and log.latest == 5


def test_wait_since_wakes_at_a_new_line_and_at_the_end():
    log = RawLineLog()
    results: list = []
    waiter = threading.Thread(target=lambda: results.append(log.wait_since(0, timeout=10)))
    waiter.start()
    started = time.monotonic()
    log.record(SENT, b"NICK alice\r\n")
    waiter.join(10)
    assert [record.data for record in results[0][0]] == [b"NICK alice\r\n"]
    assert time.monotonic() - started < 5
    waiter = threading.Thread(target=lambda: results.append(log.wait_since(1, timeout=10)))
    waiter.start()
    log.close()
    waiter.join(10)
    assert results[1] == ([], 0) and log.closed and time.monotonic() - started < 5


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_each_kind_is_readable_in_every_theme(theme):
    """WCAG AA (4.5:1) for every colour of the pane, on the theme's background and on a sent line's."""
    palette = THEMES[theme]
    colours = kind_colours(palette)

    def contrast(one: str, other: str) -> float:
        light, dark = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
        return (light + 0.05) / (dark + 0.05)

    for kind, colour in colours.items():
        for background in (palette.background, palette.own_background):
            assert contrast(colour, background) >= 4.5, (theme, kind, colour, background)
    assert set(KIND_COLOURS["light"]) == set(KIND_COLOURS["dark"])


# ------------------------------------------------------------------ a real session


def start_session(address, nick: str, **overrides) -> tuple[Session, EventLog]:
    session = Session(SessionConfig(host=address[0], port=address[1], nick=nick, pace_rate=0, **overrides))
    session.start()
    log = EventLog(session)
    log.wait_for(ev.ConnectionState, state="registered")
    return session, log


def shown_lines(session: Session) -> list[str]:
    records, _ = session.raw_lines.since(0)
    return [f"{line.direction} {line.text}" for line in (shown(record, lambda key, values: key) for record in records)]


def test_passwords_typed_in_slash_commands_leave_the_client_masked(make_server):
    running = make_server(opers={"teacher": "s3cret-oper"}, password="s3cret-server")
    session, _ = start_session(running.address, "teacher", password="s3cret-server")
    typed = ["/oper teacher s3cret-oper", "/register s3cret-register", "/quote PASS s3cret-pass",
             "/quote OPER teacher :s3cret spaced", "/quote AUTHENTICATE czNjcmV0LXNhc2w=",
             "/quote REGISTER * * s3cret-quoted", "/msg NickServ IDENTIFY teacher s3cret-ns"]
    covered = {line.split()[0][1:] for line in typed} | {line.split()[1] for line in typed if line.startswith("/quote")}
    assert {name for name, command in SLASH_COMMANDS.items() if command.secret_from is not None} <= covered
    assert set(_SECRET_RAW_COMMANDS) <= covered
    try:
        for line in typed:
            assert run_input(line, session, None, "en").sent, line
        assert session.flush(5)
        lines = shown_lines(session)
    finally:
        session.quit()
    assert not [line for line in lines if "s3cret" in line]
    for expected in ("→ PASS ********", "→ OPER teacher ********", "→ REGISTER * * ********",
                     "→ AUTHENTICATE ********", "→ PRIVMSG NickServ :IDENTIFY ********"):
        assert expected in lines
    assert lines.count("→ OPER teacher ********") == 2 and lines.count("→ PASS ********") == 2
    assert any(line.startswith("← ") and " 381 teacher " in line for line in lines), "the OPER went through"


def test_a_sasl_login_shows_its_steps_but_not_its_payload(school):
    session, _ = start_session(school.address, "masha", account="masha", account_password="masha-password")
    try:
        lines = shown_lines(session)
    finally:
        session.quit()
    payload = base64.b64encode(b"\0masha\0masha-password").decode()
    assert not [line for line in lines if payload in line or "masha-password" in line]
    steps = [line for line in lines if "AUTHENTICATE" in line or " 903 " in line]
    assert [step.split(" ")[:3] for step in steps] == [
        ["→", "AUTHENTICATE", "PLAIN"], ["←", "AUTHENTICATE", "+"], ["→", "AUTHENTICATE", MASK],
        ["←", ":classchat.local", "903"]]


def test_the_registration_burst_is_kept_in_order_with_notes(server):
    session, _ = start_session(server.address, "alice", channels=("#c",), raw_lines_kept=50)
    try:
        session.wait_joined("#c", 5)
        assert session.flush(5)
        lines = shown_lines(session)
    finally:
        session.quit()
    assert lines[0] == "· raw_connected"
    sent = [line for line in lines if line.startswith("→")]
    assert sent[:3] == ["→ CAP LS 302", "→ NICK alice", "→ USER alice 0 * :classchat user"]
    welcome = next(index for index, line in enumerate(lines) if " 001 alice " in line)
    assert lines.index("→ USER alice 0 * :classchat user") < welcome < lines.index("→ JOIN #c")
    assert session.raw_lines.closed and shown_lines(session)[-1] == "· raw_disconnected"


def test_a_session_can_keep_no_lines(server):
    session, _ = start_session(server.address, "alice", raw_lines_kept=0)
    session.quit()
    assert session.raw_lines is None


def test_notes_say_when_the_lines_travel_encrypted_and_when_a_connection_fails(make_server, certificate):
    from common.protocol.tls import certificate_fingerprint

    cert, key = certificate
    running = make_server(tls_cert=cert, tls_key=key)
    address = running.server.tls_address
    session, _ = start_session(address, "alice", tls_pin=certificate_fingerprint(cert), reconnect=False)
    try:
        lines = shown_lines(session)
    finally:
        session.quit()
    assert lines[0] == "· raw_connected_tls" and "→ NICK alice" in lines
    refused = Session(SessionConfig(host=address[0], port=address[1], nick="mallory", tls_pin="AA" * 32,
                                    reconnect=False))
    events = EventLog(refused)
    refused.start()
    events.wait_for(ev.ConnectionState, state="closed")
    records, _ = refused.raw_lines.since(0)
    note = shown(records[0], lambda key, values: tr(key, "en", **values))
    assert len(records) == 1 and note.direction == NOTE
    assert note.text.startswith(f"could not connect to 127.0.0.1:{address[1]}: ") and "pinned" in note.text
    refused.quit()
