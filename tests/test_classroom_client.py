"""Raised hands and polls in the client library: real sessions against the real server process (state,
events, slash commands, texts), a server played by the test for lines out of shape, the CSV of a result
without Tk, and the CLI end to end."""
from __future__ import annotations

import io
import os
import subprocess
import sys

from common.client import events as ev
from common.client.classroom import (HandAction, HandsChanged, PollChanged, PollView, make_poll_request,
                                     poll_csv_rows, read_poll_command, write_poll_csv)
from common.client.session import Session, SessionConfig
from common.client.slash_commands import run_input
from common.client.texts import describe
from common.protocol.classroom import CLASSROOM_CAP
from helpers import PROJECT_ROOT, EventLog, IRCTestClient, wait_until

CLI = str(PROJECT_ROOT / "chat_client_cli.py")


def joined(sessions, address, nick: str, channel: str = "#math") -> tuple[Session, EventLog]:
    session, log = sessions(address, nick, channels=(channel,))
    log.wait_for(ev.Joined, channel=channel, own=True)
    log.wait_for(HandsChanged, channel=channel)  # the queue comes on joining, even when empty
    return session, log


def type_line(session: Session, line: str, channel: str = "#math") -> list[str]:
    """Run a line as typed in ``channel``; what it says back."""
    return run_input(line, session, channel, "en").output


def test_hands_through_slash_commands(server_process, sessions):
    process = server_process()
    teacher, teacher_log = joined(sessions, process.address, "teacher")
    masha, masha_log = joined(sessions, process.address, "masha")
    petya, _ = joined(sessions, process.address, "petya")
    assert CLASSROOM_CAP in masha.caps and masha.has_classroom
    teacher.command("MODE", "#math", "+m")
    assert type_line(masha, "/hand") == []
    raised = teacher_log.wait_for(HandAction, action="up", actor="masha")
    assert raised.count == 1 and not raised.own and describe(raised, "en") == "masha raised a hand (1 hand up)"
    own = masha_log.wait_for(HandAction, action="up")
    assert own.own and describe(own, "ru") == "Вы подняли руку (поднятых рук: 1)"
    type_line(petya, "/hand up")
    teacher_log.wait_for(HandAction, action="up", actor="petya")
    view = teacher.classroom("#math")
    assert [nick for nick, _ in view.hands] == ["masha", "petya"]
    type_line(teacher, "/hand list")
    listed = teacher_log.wait_for(HandsChanged, asked=True)
    assert describe(listed, "en").startswith("2 hands up in #math: 1. masha (0:0")
    assert abs(view.server_now_ms() - view.hands[0][1]) < 10_000, "raise times are the server's, in ms"
    type_line(teacher, "/call masha")
    called = masha_log.wait_for(HandAction, action="call")
    assert called.about_me and describe(called, "en") == "teacher called on you: your turn to speak"
    masha_log.wait_for(ev.ModeChanged, target="#math", modes="+v masha")
    assert masha.members("#math")["masha"] == "+"
    assert [nick for nick, _ in masha.classroom("#math").hands] == ["petya"]
    type_line(petya, "/nick pyotr")
    teacher_log.wait_for(ev.NickChanged, new="pyotr")
    assert teacher.classroom("#math").hand_of("pyotr"), "a hand follows a nick change"
    petya.part("#math")
    teacher_log.wait_for(ev.Parted, nick="pyotr")
    assert teacher.classroom("#math").hands == (), "a hand goes down when its owner leaves"
    assert type_line(masha, "/hand lower") == ["Usage: /hand [down|list]"]


def test_a_poll_through_slash_commands_and_its_csv(server_process, sessions, tmp_path):
    process = server_process()
    teacher, teacher_log = joined(sessions, process.address, "teacher")
    masha, masha_log = joined(sessions, process.address, "masha")
    petya, petya_log = joined(sessions, process.address, "petya")
    assert type_line(teacher, "/poll named 30 Which is bigger? | 2^10 | 10^3 | equal") == []
    opened = masha_log.wait_for(PollChanged, kind="opened")
    poll = opened.poll
    assert (poll.question, poll.options, poll.named, poll.opener) == ("Which is bigger?", ("2^10", "10^3", "equal"),
                                                                      True, "teacher")
    assert describe(opened, "en").startswith("Poll by teacher: Which is bigger? (the teacher sees who voted what) — "
                                             "1) 2^10 · 2) 10^3 · 3) equal (answer: /vote N, closes in 0:")
    type_line(masha, "/vote 2")
    ballot = masha_log.wait_for(PollChanged, kind="ballot")
    assert ballot.poll.my_vote == 2 and describe(ballot, "en") == "Your vote: 2) 10^3"
    petya_log.wait_for(PollChanged, kind="opened")
    type_line(petya, "/vote 1")
    voted = teacher_log.wait_for(PollChanged, kind="voter")
    assert describe(voted, "en") == "masha voted 2) 10^3 (1 vote)"
    wait_until(lambda: teacher.classroom("#math").poll.total == 2, what="two votes counted")
    view = teacher.classroom("#math")
    assert view.poll.counts == (1, 1, 0) and sorted(view.voters) == [("masha", 2), ("petya", 1)]
    assert masha.classroom("#math").poll.counts == (0, 0, 0), "students do not see the counts while it runs"
    type_line(teacher, "/endpoll")
    closed = masha_log.wait_for(PollChanged, kind="closed")
    assert closed.poll.closed and closed.poll.counts == (1, 1, 0) and describe(closed, "en") is None
    result = masha_log.wait_for(ev.ChatMessage, kind="notice")
    assert result.text.startswith("Poll closed by teacher: Which is bigger? (2 votes)")
    teacher_log.wait_for(PollChanged, kind="closed")
    final = teacher.classroom("#math")
    path = tmp_path / "poll.csv"
    with open(path, "w", newline="", encoding="utf-8") as stream:
        write_poll_csv(stream, "#math", final.poll, final.voters)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "channel,poll,question,number,option,votes,percent,voters",
        "#math,1,Which is bigger?,1,2^10,1,50,petya",
        "#math,1,Which is bigger?,2,10^3,1,50,masha",
        "#math,1,Which is bigger?,3,equal,0,0,",
    ]
    assert type_line(masha, "/vote 1") == []
    refusal = masha_log.wait_for(ev.ErrorReply, code="FAIL")
    assert describe(refusal, "en") == "Error: There is no open poll in #math (it may have closed)."
    assert describe(refusal, "ru") == "Ошибка: В #math нет открытого опроса (возможно, он уже закрыт)."


def test_a_late_joiner_gets_the_queue_and_the_open_poll(server_process, sessions):
    process = server_process()
    teacher, teacher_log = joined(sessions, process.address, "teacher")
    masha, _ = joined(sessions, process.address, "masha")
    type_line(masha, "/hand")
    teacher.command("POLL", "#math", "OPEN", "60", "Ready? | yes | no")
    teacher_log.wait_for(PollChanged, kind="opened")
    late, late_log = sessions(process.address, "late", channels=("#math",))
    late_log.wait_for(PollChanged, kind="opened")
    view = late.classroom("#math")
    assert [nick for nick, _ in view.hands] == ["masha"]
    assert view.poll.question == "Ready?" and view.poll.closes_at > view.server_now_ms()


def test_teacher_commands_check_the_poll_before_sending(server_process, sessions):
    process = server_process()
    teacher, _ = joined(sessions, process.address, "teacher")
    assert type_line(teacher, "/poll Only one? | yes") == [
        "A poll has 2 to 6 options of 1 to 50 characters each, without '|'.",
        "Usage: /poll [named] [secs] question|a|b…"]
    assert type_line(teacher, "/poll 99999 Q | a | b")[0] == "A time limit is 5 to 3600 seconds, or 0 for none."
    assert type_line(teacher, "/call") == ["Usage: /call nick"]
    assert type_line(teacher, "/hand", channel="teacher") == [
        "Join a channel first (/join #general) or open a private chat (/query nick)."]


def test_without_the_capability_the_commands_say_so():
    offline = Session(SessionConfig(nick="nobody"))
    for line in ("/hand", "/vote 1", "/poll Q | a | b", "/endpoll", "/call x"):
        result = run_input(line, offline, "#math", "ru")
        assert result.output == ["На этом сервере нет поднятых рук и опросов."] and not result.sent


def test_lines_out_of_shape_from_a_server_change_nothing():
    """The test plays the server: HANDS, HAND and POLL lines that are wrong in every way are ignored."""
    import socket
    listener = socket.create_server(("127.0.0.1", 0))
    session = Session(SessionConfig(host="127.0.0.1", port=listener.getsockname()[1], nick="kid",
                                    channels=("#c",), pace_rate=0, reconnect=False))
    session.start()
    log = EventLog(session)
    server = IRCTestClient.accepted(listener)
    try:
        server.expect(r"^CAP LS")
        server.send(f":srv CAP * LS :{CLASSROOM_CAP}")
        server.expect(r"^CAP REQ")
        server.send(f":srv CAP kid ACK :{CLASSROOM_CAP}")
        server.expect(r"^CAP END")
        server.send(":srv 001 kid :hi\r\n:srv 376 kid :end\r\n:kid!k@h JOIN #c")
        log.wait_for(ev.Joined, channel="#c", own=True)
        hostile = [
            ":srv HANDS", ":srv HANDS #c", ":srv HANDS #nowhere :a=1", ":srv HANDS #c :a=² b=-1 =5 c= d=1",
            ":srv HAND #c", ":srv HAND #c JUMP", ":srv POLL #c", ":srv POLL #c OPENED x named 0 t :q|a|b",
            ":srv POLL #c OPENED 1 named 0 t :only|one", ":srv POLL #c OPENED 1 named 99999999999999999999 t :q|a|b",
            ":srv POLL #c OPENED 1 named 0 t :q|1|2|3|4|5|6|7", ":srv POLL #c BALLOT 1 1", ":srv POLL #c COUNTS 1 :1",
        ]
        for line in hostile:
            server.send(line)
        server.send(":srv HANDS #c :d=1")
        log.wait_for(HandsChanged, channel="#c")
        assert session.classroom("#c").hands == (("d", 1),)
        assert session.classroom("#c").poll is None
        server.send(":srv POLL #c OPENED 7 anonymous 0 t :Q?|a|b")
        for line in (":srv POLL #c COUNTS 7 :1 2 3", ":srv POLL #c COUNTS 7 :x y", ":srv POLL #c BALLOT 7 3",
                     ":srv POLL #c VOTER 7 a 9", ":srv POLL #c COUNTS 6 :1 1", ":srv POLL #c CLOSED 7 :4 5"):
            server.send(line)
        log.wait_for(PollChanged, kind="closed")
        poll = session.classroom("#c").poll
        assert (poll.counts, poll.my_vote, poll.closed) == ((4, 5), 0, True)
        for index in range(30):  # a list that never ends is capped
            server.send(f":srv HANDS #c * :{' '.join(f'n{index}x{n}=1' for n in range(400))}")
        server.send(":srv HANDS #c :last=2")
        log.wait_for(HandsChanged, channel="#c")
        assert len(session.classroom("#c").hands) == 10_000
    finally:
        server.close()
        session.quit(timeout=0.5)
        listener.close()


def test_reading_a_poll_typed_or_filled_in():
    request = read_poll_command("named 45 What is 2+2? | 4 | five |  22 ")
    assert (request.text.question, request.text.options, request.named, request.seconds) == (
        "What is 2+2?", ("4", "five", "22"), True, 45)
    assert request.params("#m") == ["#m", "OPEN", "NAMED", "45", "What is 2+2?|4|five|22"]
    assert read_poll_command("Named after whom? | Lenin | Pushkin").text.question == "Named after whom?"
    assert read_poll_command("| a | b") == "poll_bad_question"
    assert read_poll_command("Q? | a") == "poll_bad_options"
    assert read_poll_command("3 Q? | a | b") == "poll_bad_time"
    assert make_poll_request("Q?", ["a", "", " ", "b"], False, "") .text.options == ("a", "b")
    assert make_poll_request("Q?", ["a\x07", "b"], False, "0") == "poll_bad_options"
    assert make_poll_request("Я" * 150, ["ю" * 50] * 2, False, "0") == "poll_too_long"


def test_csv_keeps_formulas_as_text_and_numbers_as_numbers():
    poll = PollView(3, "=cmd|' /C calc'!A0", ("-1", "+1", "@SUM(A1)", "=2+2"), False, 0, "t", (1, 1, 1, 0),
                    closed=True)
    rows = poll_csv_rows("#m", poll)
    assert [row[4] for row in rows[1:]] == ["-1", "+1", "'@SUM(A1)", "'=2+2"]
    assert rows[1][2] == "'=cmd|' /C calc'!A0" and [row[6] for row in rows[1:]] == ["33", "33", "33", "0"]
    stream = io.StringIO(newline="")
    write_poll_csv(stream, "#m", PollView(1, "Q, with \"quotes\"", ("a", "b"), False, 0, "t", ()))
    assert stream.getvalue().splitlines()[1] == '#m,1,"Q, with ""quotes""",1,a,0,0,'


def test_the_cli_raises_a_hand_and_votes(server_process):
    """chat_client_cli.py as a script, end to end through a server process: /hand and /vote, and what it
    prints of the hands and the poll (with --verbose, on standard error)."""
    process = server_process()
    teacher = IRCTestClient(process.address).register("teacher", caps=(CLASSROOM_CAP,))
    teacher.join("#math")
    teacher.send("POLL #math OPEN 60 :Which is bigger? | 2^10 | 10^3")
    teacher.expect(r" POLL #math OPENED ")
    result = subprocess.run([sys.executable, CLI, "--port", str(process.address[1]), "--nick", "masha",
                             "--channel", "#math", "--verbose", "--lang", "en"],
                            input="/hand\n/vote 2\n/hand list\n", capture_output=True, text=True, timeout=30,
                            env={**os.environ, "LANG": "C.UTF-8"})
    assert result.returncode == 0, result.stderr
    assert teacher.expect(r":masha!\S+ HAND #math UP")
    assert teacher.expect(r" POLL #math COUNTS ").params[3] == "0 1"
    shown = result.stderr.splitlines()
    assert any(line.startswith("Poll by teacher: Which is bigger? — 1) 2^10 · 2) 10^3 (answer: /vote N, closes in")
               for line in shown), shown
    assert "You raised your hand (1 hand up)" in shown
    assert "Your vote: 2) 10^3" in shown
    assert any(line.startswith("1 hand up in #math: 1. masha (0:0") for line in shown), shown
