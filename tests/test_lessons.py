"""The teacher in control, against a live server: class channels where nobody takes over by joining first,
lessons that end and stay ended until the teacher starts the next, and mutes that follow the student's
account rather than a nick."""
from __future__ import annotations

import threading
import time

from test_accounts import sasl_connect


def log_in(running, nick: str, account: str, password: str):
    client, answers = sasl_connect(running, nick, account, password)
    assert answers[0] == "903", answers
    client.expect_numeric("376|422")
    return client


def test_nobody_takes_a_class_channel_by_joining_first(school):
    early = school.connect("early_bird")
    early.join("#math")
    early.send("MODE #math +o early_bird")
    assert "teacher" in early.expect_numeric("482").params[-1]
    early.send("MODE #math +m")
    early.expect_numeric("482")
    teacher = log_in(school, "teacher", "teacher", "chalk-and-board")
    teacher.send("JOIN #math")
    names = teacher.expect_numeric("353").params[-1].split()
    assert "!teacher" in names and "early_bird" in names
    teacher.send("MODE #math +m")
    early.expect(r":teacher!\S+ MODE #math \+m")
    teacher.send("WHOIS teacher")
    whois = teacher.collect_until("311|312|313|318|319|330", end="318")
    assert any(reply.command == "313" and "teacher" in reply.params[-1] for reply in whois)


def test_only_a_teacher_makes_a_class_channel(school):
    student = school.connect("student")
    student.join("#own")
    student.send("MODE #own +C")
    assert "teacher" in student.expect_numeric("482").params[-1]
    teacher = log_in(school, "teacher", "teacher", "chalk-and-board")
    teacher.join("#own")
    teacher.send("MODE #own +C")
    student.expect(r" MODE #own \+C")


def test_the_end_of_a_lesson_sticks_until_the_next_starts(school):
    teacher = log_in(school, "teacher", "teacher", "chalk-and-board")
    teacher.join("#math")
    student = school.connect("petya")
    student.join("#math")
    teacher.send("ENDLESSON :see you on Monday")
    kick = student.expect(r" KICK #math petya ")
    assert "see you on Monday" in kick.params[-1]
    teacher.expect(r" NOTICE teacher :Lesson ended in #math: 1 student")
    student.send("JOIN #math")
    refusal = student.expect_numeric("473")
    assert "the lesson has ended" in refusal.params[-1]
    student.send("PING :still connected")
    student.expect(r" PONG \S+ :?still connected")
    teacher.send("STARTLESSON :Good morning")
    student.expect(r":teacher!\S+ INVITE petya #math")
    student.join("#math")


def test_a_mute_follows_the_account_not_the_nick(school):
    teacher = log_in(school, "teacher", "teacher", "chalk-and-board")
    teacher.join("#math")
    masha = log_in(school, "masha", "masha", "masha-password")
    masha.join("#math")
    teacher.send("MODE #math +q masha")
    assert teacher.expect(r" MODE #math \+q ").params[-1] == "$a:masha"
    masha.send("QUIT")
    masha.expect_closed()
    again = log_in(school, "masha_new", "masha", "masha-password")
    again.join("#math")
    again.send("PRIVMSG #math :I changed my nick")
    assert "muted" in again.expect_numeric("404").params[-1]
    teacher.send("MODE #math -q $a:masha")
    teacher.expect(r" MODE #math -q ")
    again.send("PRIVMSG #math :and now I may speak")
    teacher.expect(r"and now I may speak")


def test_a_guest_is_muted_by_address_unless_on_the_servers_own_computer(school):
    teacher = log_in(school, "teacher", "teacher", "chalk-and-board")
    teacher.join("#math")
    guest = school.client(source_address="127.0.0.2").register("guest")  # another computer
    guest.join("#math")
    teacher.send("MODE #math +q guest")
    assert teacher.expect(r" MODE #math \+q ").params[-1] == "*!*@127.0.0.2"
    local = school.connect("local")  # a window on the server's computer, like the lab demonstration
    local.join("#math")
    teacher.send("MODE #math +q local")
    assert teacher.expect(r" MODE #math \+q ").params[-1] == "local!*@*"


def test_class_channels_survive_a_restart(make_server, tmp_path):
    db = str(tmp_path / "school.sqlite3")
    first = make_server(db_path=db, class_channels=("#history",))
    first.stop()
    second = make_server(db_path=db)
    early = second.connect("early_bird")
    early.join("#history")
    early.send("MODE #history")
    assert "C" in early.expect_numeric("324").params[2]
    early.send("MODE #history +o early_bird")
    early.expect_numeric("482")


def test_a_students_kept_channel_is_forgotten_when_empty_too_long_but_class_channels_stay(make_server, tmp_path):
    running = make_server(db_path=str(tmp_path / "h.sqlite3"), class_channels=("#math",), channel_expiry=0.2,
                          housekeeping_interval=0.05)
    student = running.connect("student")
    student.join("#project")
    student.send("PRIVMSG #project :this makes the channel worth keeping")
    student.send("PART #project")
    student.sync()
    watcher = running.connect("watcher")
    deadline = time.monotonic() + 5
    pause = threading.Event()
    while True:  # the housekeeping thread forgets it within a few of its rounds
        watcher.send("LIST")
        listed = [reply.params[1] for reply in watcher.collect_until("321|322|323", end="323")
                  if reply.command == "322"]
        if "#project" not in listed:
            break
        assert time.monotonic() < deadline, "the empty channel was never forgotten"
        pause.wait(0.05)
    assert "#math" in listed, "a class channel is kept however long it is empty"
