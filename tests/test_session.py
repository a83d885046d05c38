"""The shared client session against the real server process: registration, events, reconnects, splitting."""
from __future__ import annotations


import pytest
from hypothesis import given, settings, strategies as st

from common.client import events as ev
from common.client.formatting import mentions_nick, split_text
from common.client.session import Session, SessionConfig
from common.client.outgoing import Lane, lane_for, waits_for_pacing
from common.protocol.message import Message
from helpers import EventLog, IRCTestClient


def start_session(address, nick: str, **overrides) -> tuple[Session, EventLog]:
    config = SessionConfig(host=address[0], port=address[1], nick=nick, pace_rate=0, **overrides)
    session = Session(config)
    session.start()
    log = EventLog(session)
    log.wait_for(ev.ConnectionState, state="registered")
    return session, log


@pytest.fixture
def sessions():
    started: list[Session] = []

    def start(address, nick, **overrides):
        session, log = start_session(address, nick, **overrides)
        started.append(session)
        return session, log

    yield start
    for session in started:
        session.quit()


def test_registration_negotiates_capabilities(server_process, sessions):
    process = server_process()
    session, log = sessions(process.address, "alice")
    assert session.nick == "alice" and session.is_registered
    assert {"server-time", "echo-message", "message-tags", "batch", "multi-prefix", "away-notify"} <= session.caps


def test_events_for_every_kind(server_process, sessions):
    process = server_process()
    alice, alice_log = sessions(process.address, "alice", channels=("#c",))
    alice_log.wait_for(ev.Joined, channel="#c", own=True)
    bob, bob_log = sessions(process.address, "bob", channels=("#c",))
    bob_log.wait_for(ev.Joined, channel="#c", own=True)
    alice_log.wait_for(ev.Joined, channel="#c", nick="bob", own=False)
    bob_log.wait_for(ev.MembersChanged, channel="#c")
    assert bob.members("#c") == {"alice": "@", "bob": ""}

    alice.send_text("#c", "Привет, bob!")
    message = bob_log.wait_for(ev.ChatMessage, kind="message")
    assert (message.conversation, message.sender, message.text, message.mentions_me) == ("#c", "alice",
                                                                                         "Привет, bob!", True)
    assert message.msgid and message.time.tzinfo is not None
    echo = alice_log.wait_for(ev.ChatMessage, own=True)
    assert echo.text == "Привет, bob!"
    alice.send_text("#c", "waves", kind="action")
    assert bob_log.wait_for(ev.ChatMessage, kind="action").text == "waves"
    alice.send_text("bob", "psst", kind="notice")
    assert bob_log.wait_for(ev.ChatMessage, kind="notice").conversation == "alice"
    alice.send_text("bob", "private")
    assert bob_log.wait_for(ev.ChatMessage, text="private").conversation == "alice"

    alice.command("TOPIC", "#c", "Тема урока")
    assert bob_log.wait_for(ev.TopicChanged, channel="#c").topic == "Тема урока"
    assert bob.topic("#c") == "Тема урока"
    alice.command("MODE", "#c", "+v", "bob")
    bob_log.wait_for(ev.ModeChanged, target="#c", modes="+v bob")
    assert bob.members("#c")["bob"] == "+"
    bob.set_away("lunch")
    assert alice_log.wait_for(ev.AwayChanged, nick="bob").message == "lunch"
    alice.command("INVITE", "bob", "#other")
    assert bob_log.wait_for(ev.Invited).channel == "#other"
    alice.send_text("nobody", "hello?")
    assert alice_log.wait_for(ev.ErrorReply, code="401").target == "nobody"
    bob.set_nick("robert")
    change = alice_log.wait_for(ev.NickChanged, old="bob")
    assert change.new == "robert" and change.channels == ("#c",)
    assert "robert" in alice.members("#c")
    alice.command("KICK", "#c", "robert", "enough")
    kicked = bob_log.wait_for(ev.Parted, own=True)
    assert kicked.kicked_by == "alice" and kicked.reason == "enough" and not bob.is_joined("#c")
    bob.join("#c")
    alice_log.wait_for(ev.Joined, nick="robert")
    bob.part("#c", "bye")
    assert alice_log.wait_for(ev.Parted, nick="robert").reason == "bye"
    bob.join("#c")
    alice_log.wait_for(ev.Joined, nick="robert")
    bob.quit("done")
    quit_event = alice_log.wait_for(ev.Quit, nick="robert")
    assert quit_event.reason == "Quit: done" and quit_event.channels == ("#c",)
    assert alice.members("#c") == {"alice": "@"}


def test_plain_server_without_echo_still_shows_own_messages(make_server):
    running = make_server()
    session, log = start_session(running.address, "alice", channels=("#c",))
    try:
        log.wait_for(ev.Joined, own=True)
        session.command("CAP", "REQ", "-echo-message")
        session.flush()
        assert "echo-message" not in session.caps
        session.send_text("#c", "shown once")
        assert log.wait_for(ev.ChatMessage, own=True).text == "shown once"
    finally:
        session.quit()


def test_nick_collision_tries_underscores(server_process, sessions):
    process = server_process()
    holders = [IRCTestClient(process.address).register(nick) for nick in ("alice", "alice_")]
    session, log = sessions(process.address, "alice")
    assert session.nick == "alice__"
    taken = [e for e in log.seen if isinstance(e, ev.Notice) and e.key == "nick_taken"]
    assert [e.values["new"] for e in taken] == ["alice_", "alice__"]
    assert all(not holder.closed for holder in holders)


def test_wrong_password_is_refused_without_reconnecting(server_process):
    process = server_process("--password", "right")
    session = Session(SessionConfig(host=process.address[0], port=process.address[1], nick="eve", password="wrong"))
    session.start()
    log = EventLog(session)
    try:
        log.wait_for(ev.ConnectionState, state="refused")
        log.wait_for(ev.ConnectionState, state="closed")
        assert not any(isinstance(e, ev.ConnectionState) and e.state == "reconnecting" for e in log.seen)
    finally:
        session.quit()


def test_reconnects_and_rejoins_after_the_server_restarts(server_process):
    first = server_process()
    port = first.address[1]
    session = Session(SessionConfig(host="127.0.0.1", port=port, nick="alice", channels=("#c",), pace_rate=0,
                                    backoff_first=0.05, backoff_max=0.2))
    session.start()
    log = EventLog(session, timeout=10)
    try:
        log.wait_for(ev.Joined, channel="#c", own=True)
        assert first.stop() == 0
        reconnecting = log.wait_for(ev.ConnectionState, state="reconnecting")
        assert reconnecting.retry_in is not None and reconnecting.retry_in < 0.1
        server_process("--port", str(port))
        log.wait_for(ev.ConnectionState, state="registered")
        log.wait_for(ev.Joined, channel="#c", own=True)
        session.send_text("#c", "back again")
        assert log.wait_for(ev.ChatMessage, own=True).text == "back again"
    finally:
        session.quit()


def test_quit_does_not_reconnect(server_process):
    process = server_process()
    session, log = start_session(process.address, "alice")
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.send("WATCH")  # unknown command; just make sure the watcher is registered and answering
    watcher.expect_numeric("421")
    session.quit("see you")
    log.wait_for(ev.ConnectionState, state="closed")
    assert not session.send_text("#c", "too late")
    watcher.send("ISON alice")
    assert watcher.expect_numeric("303").params[-1] == ""


def test_long_cyrillic_and_emoji_text_arrives_whole(server_process, sessions):
    process = server_process()
    alice, _ = sessions(process.address, "alice", channels=("#c",))
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#c")
    text = ("Съешь же ещё этих мягких французских булок, да выпей чаю 🍵🥐 " * 30).strip()
    alice.send_text("#c", text)
    pieces = []
    while "".join(pieces) != text:
        line = watcher.expect(r" PRIVMSG #c ")
        assert len(line.to_bytes()) <= 512
        pieces.append(line.params[1])
    assert len(pieces) > 3


def test_multi_line_paste_becomes_one_message_per_line(server_process, sessions):
    process = server_process()
    alice, _ = sessions(process.address, "alice", channels=("#c",))
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#c")
    alice.send_text("#c", "first line\n\nsecond line\r\nthird \x1ditalic\x1d line")
    assert [watcher.expect(r" PRIVMSG #c ").params[1] for _ in range(3)] == [
        "first line", "second line", "third \x1ditalic\x1d line"]


@settings(max_examples=300)
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")), st.integers(4, 600))
def test_split_text_fits_and_joins_back(text, max_bytes):
    pieces = split_text(text, max_bytes)
    assert all(0 < len(piece.encode()) <= max_bytes for piece in pieces)
    if text.strip():
        assert "".join(pieces) == text
    else:
        assert pieces == []


def test_split_prefers_spaces_and_never_cuts_a_letter():
    assert split_text("один два три", 14) == ["один ", "два три"]
    assert split_text("один два три", 10) == ["один ", "два ", "три"]
    assert split_text("ЖЖЖЖЖ", 5) == ["ЖЖ", "ЖЖ", "Ж"]
    assert split_text("😀😀", 5) == ["😀", "😀"]


def test_mentions_are_whole_words():
    assert mentions_nick("alice: look", "Alice")
    assert mentions_nick("спасибо, Вася!", "вася")
    assert not mentions_nick("also", "al")
    assert not mentions_nick("alice_ said", "alice")


def test_pacing_policy_sends_only_registration_keepalive_rejoin_and_goodbye_at_once():
    """Whatever the user asks for waits for the bucket; of the session's own lines the follow-ups of a join
    and CTCP answers wait too, each in a lane of its own behind what the user types."""
    for command in ("PRIVMSG", "NOTICE", "JOIN", "NICK", "PING", "AWAY", "MODE", "CHATHISTORY", "CAP", "QUIT"):
        assert lane_for(Message(command, ["x"]), asked_by_user=True) is Lane.TYPED
    for command in ("PASS", "CAP", "NICK", "USER", "PONG", "PING", "JOIN", "AWAY", "QUIT"):
        assert not waits_for_pacing(Message(command, ["x"]), asked_by_user=False)
    for command in ("MODE", "CHATHISTORY", "WHO"):
        assert lane_for(Message(command, ["#c"]), asked_by_user=False) is Lane.FOLLOW_UP
    assert lane_for(Message("NOTICE", ["bob", "\x01VERSION classchat 1.0\x01"]), asked_by_user=False) is Lane.CTCP_REPLY
