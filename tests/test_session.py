"""The shared client session against the real server process: registration, events, reconnects, splitting."""
from __future__ import annotations

import socket
from contextlib import contextmanager
from typing import Iterator

from hypothesis import given, settings, strategies as st

from common.client import events as ev
from common.client.formatting import mentions_nick, split_text
from common.client.session import Session, SessionConfig
from common.client.outgoing import Lane, lane_for, waits_for_pacing
from common.protocol.message import Message
from helpers import EventLog, IRCTestClient, start_session


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


# ---------------------------------------------------------------- what is sent, in which order, how fast

def test_rejoins_twenty_channels_after_a_restart_without_flooding(server_process):
    """Twenty channels: the rejoin is two JOIN lines, and the MODE and CHATHISTORY of each channel are paced,
    so a server with its default flood limit (10 lines, then 2 a second) never drops us for "Excess Flood"."""
    first = server_process()
    port = first.address[1]
    channels = tuple(f"#room{index}" for index in range(20))
    session = Session(SessionConfig(host="127.0.0.1", port=port, nick="busy", channels=channels,
                                    backoff_first=0.05, backoff_max=0.2))  # the default pacing
    session.start()
    log = EventLog(session, timeout=60)
    try:
        for _ in channels:
            log.wait_for(ev.Joined, own=True)
        assert first.stop() == 0
        log.wait_for(ev.ConnectionState, state="reconnecting")
        second = server_process("--port", str(port))
        log.wait_for(ev.ConnectionState, state="registered")
        since_restart = len(log.seen)
        rejoined = {log.wait_for(ev.Joined, own=True).channel for _ in channels}
        assert rejoined == set(channels)
        histories = {log.wait_for(ev.HistoryBatch).conversation for _ in channels}
        assert histories == set(channels), "every channel's history was asked for, and answered"
        assert session.flush(10)
        states = [e.state for e in log.seen[since_restart:] if isinstance(e, ev.ConnectionState)]
        assert states == [], f"the connection did not survive the rejoin: {states}"
        assert sorted(session.channels()) == sorted(channels)
        assert "Excess Flood" not in second.stderr_text
    finally:
        session.quit()


def test_rejoin_lines_are_comma_lists_within_targmax_and_the_line_limit():
    from common.client.handlers import rejoin_lines
    names = [(f"#channel-with-a-long-name-{index:02}", "") for index in range(30)]
    unlimited = rejoin_lines(names, "PRIVMSG:4,JOIN:,PART:")
    assert len(unlimited) == 2 and all(len(line.to_bytes()) <= 512 for line in unlimited)
    assert ",".join(line.params[0] for line in unlimited).split(",") == [name for name, _ in names]
    assert [len(line.params[0].split(",")) for line in rejoin_lines(names, "JOIN:4")] == [4] * 7 + [2]
    assert len(rejoin_lines(names, None)) == 3, "no TARGMAX: ten a line"
    keyed = rejoin_lines([("#open", ""), ("#locked", "secret"), ("#other", "")], "JOIN:")
    assert [line.params for line in keyed] == [["#locked,#open,#other", "secret"]], "keyed channels first"


@contextmanager
def scripted_server_session(offer: str | None = None,
                            **overrides) -> Iterator[tuple[Session, EventLog, IRCTestClient]]:
    """A session registered with a server the test plays by hand (the order of lines is the point); with
    ``offer``, the server offers those capabilities in CAP LS and grants all that are asked for. On the
    way out the server's end is closed and the session quits."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        config = SessionConfig(host="127.0.0.1", port=listener.getsockname()[1], nick="alice", reconnect=False,
                               **overrides)
        session = Session(config)
        session.start()
        peer = IRCTestClient.accepted(listener)
        try:
            if offer is None:
                peer.lines_until(r"^USER ")
            else:
                peer.expect(r"^CAP LS 302")
                peer.send(f":irc.test CAP * LS :{offer}")
                requested = peer.expect(r"^CAP REQ ").params[-1]
                peer.send(f":irc.test CAP alice ACK :{requested}")
                peer.expect(r"^CAP END")
            peer.send(":irc.test 001 alice :Welcome alice!~alice@client.test")
            peer.send(":irc.test 376 alice :End of MOTD")
            log = EventLog(session)
            log.wait_for(ev.ConnectionState, state="registered")
            yield session, log, peer
        finally:
            peer.close()
            session.quit(timeout=1)


def test_a_pong_never_waits_behind_a_paste():
    with scripted_server_session(pace_burst=1, pace_rate=1.0) as (session, log, peer):
        assert session.send_text("bob", "\n".join(f"pasted line {index}" for index in range(10)))
        peer.send("PING :are-you-there")
        before = peer.lines_until(r"^PONG :?are-you-there$", timeout=2)
        assert sum(" PRIVMSG " in f" {line}" for line in before) <= 2, before


def test_ctcp_requests_neither_delay_typed_lines_nor_get_unbounded_answers(make_server, sessions):
    running = make_server(flood_rate=0)  # the stranger may flood the server: our session's answers are tested
    session, log = sessions(running.address, "alice", channels=("#c",), pace_rate=1.5)  # the default pacing
    log.wait_for(ev.Joined, own=True)
    watcher = running.connect("watcher")
    watcher.join("#c")
    stranger = running.connect("stranger")
    for _ in range(30):
        stranger.send("PRIVMSG alice :\x01VERSION\x01")
    answers = [line for line in stranger.sync() if " NOTICE stranger :\x01VERSION " in line]
    assert session.flush(5), "the session has read the thirty requests"
    session.send_text("#c", "my own line")
    assert watcher.expect(r" PRIVMSG #c ", timeout=3).params[1] == "my own line"
    while len(answers) < 2:
        answers.append(stranger.expect(r" NOTICE stranger :\x01VERSION ").params[1])
    assert session.flush(5)
    assert not [line for line in stranger.sync() if "VERSION" in line], "two answers per sender, not thirty"


def test_the_ctcp_lane_is_bounded_and_gives_way():
    from common.client.outgoing import CTCP_REPLY_LIMIT, OutgoingLine, OutgoingLines
    lines = OutgoingLines(burst=100, rate=1.0)
    assert all(lines.put(Lane.CTCP_REPLY, OutgoingLine(1, b"answer")) for _ in range(CTCP_REPLY_LIMIT))
    assert not lines.put(Lane.CTCP_REPLY, OutgoingLine(1, b"one too many"))
    lines.put(Lane.FOLLOW_UP, OutgoingLine(1, b"mode"))
    lines.put(Lane.TYPED, OutgoingLine(1, b"typed"))
    lines.put(Lane.AT_ONCE, OutgoingLine(1, b"pong"))
    assert [lines.take().data for _ in range(4)] == [b"pong", b"typed", b"mode", b"answer"]


def test_long_russian_message_arrives_whole_in_lines_that_fit_when_relayed(server_process, sessions):
    process = server_process()
    nick = "ученица_с_длинным_ником"
    alice, _ = sessions(process.address, nick, channels=("#c",))
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#c")
    text = ("Мороз и солнце; день чудесный! Ещё ты дремлешь, друг прелестный. " * 40)[:2000]
    assert len(text) == 2000
    alice.send_text("#c", text)
    pieces: list[str] = []
    while "".join(pieces) != text:
        assert len(pieces) < 20
        line = watcher.expect(r" PRIVMSG #c ")
        assert line.source.startswith(f"{nick}!")
        assert len(line.to_bytes()) <= 512, "the relayed line, with the sender's prefix, fits"
        pieces.append(line.params[1])
    assert len(pieces) >= 8


def test_own_prefix_is_assumed_at_its_longest_until_the_server_shows_it():
    from common.client.state import ClientState
    state = ClientState("alice", ())
    assert state.own_prefix_bytes("alice") == len("alice!") + 10 + 1 + 63
    state.isupport["USERLEN"] = "16"
    assert state.own_prefix_bytes("alice") == len("alice!") + 16 + 1 + 63
    state.note_own_source("alice!~alice@127.0.0.1")
    assert state.own_prefix_bytes("alice") == len("alice!~alice@127.0.0.1")


def test_quit_sends_what_was_typed_then_the_reason(server_process, sessions):
    process = server_process()
    session, log = sessions(process.address, "paster", channels=("#c",), pace_rate=1.5)  # 5 lines, then 1.5/s
    watcher = IRCTestClient(process.address, timeout=15).register("watcher")
    watcher.join("#c")
    log.wait_for(ev.Joined, own=True)
    log.wait_for(ev.HistoryBatch)
    for index in range(20):
        assert session.send_text("#c", f"pasted line {index}")
    session.quit("end of the paste")
    assert [watcher.expect(r" PRIVMSG #c ").params[1] for _ in range(20)] == [
        f"pasted line {index}" for index in range(20)]
    assert watcher.expect(r":paster!\S+ QUIT").params == ["Quit: end of the paste"]
