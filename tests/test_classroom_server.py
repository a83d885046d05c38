"""Raised hands and quick polls on the server (HAND, POLL, VOTE; capability classchat.org/classroom), as
transcripts against a real in-process server: what members with the capability get, what plain IRC
clients read, and every hostile input answered with a FAIL or a numeric while the class goes on.

The server's clock is a test clock: raise times and poll deadlines come from it, and a time limit runs
out when the test moves it forward (housekeeping then closes the poll), never by waiting."""
from __future__ import annotations

import logging
import sqlite3
import threading

import pytest

from common.protocol.message import parse
from helpers import assert_still_served, disk_full_for, take_logged
from test_lessons import log_in

CAP = "classchat.org/classroom"
START = 1_800_000_000.0  # seconds since the epoch: 2027-01-15


class ServerClock:
    """The server's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture
def clock() -> ServerClock:
    return ServerClock()


@pytest.fixture
def lesson(make_server, clock):
    """A teacher (channel operator, with the capability), a student with it (masha) and one without
    (petya, a plain IRC client) in #math; flood control off, housekeeping every 20 ms."""
    running = make_server(wall_clock=clock, flood_rate=0, housekeeping_interval=0.02)
    teacher = running.connect("teacher", caps=(CAP, "server-time"))
    teacher.join("#math")
    masha = running.connect("masha", caps=(CAP,))
    masha.join("#math")
    petya = running.connect("petya")
    petya.join("#math")
    for client in (teacher, masha, petya):
        client.sync()
    return running, teacher, masha, petya


def hands(line) -> list[tuple[str, int]]:
    """The (nick, raised at) entries of a parsed HANDS line."""
    return [(item.split("=")[0], int(item.split("=")[1])) for item in line.params[-1].split()]


def raise_hands(observer, *students) -> None:
    """Each student raises a hand, in this order (each seen by ``observer`` before the next)."""
    for student in students:
        student.send("HAND #math")
        observer.expect(rf":{student.nick}!\S+ HAND #math UP")


def queue_before(client, pattern: str) -> list[str]:
    """The nicks of the last HANDS line ``client`` receives before the line that matches ``pattern``."""
    lines = [parse(line) for line in client.lines_until(pattern) if " HANDS " in line]
    return [nick for nick, _ in hands(lines[-1])]


def fail(client, command: str, code: str):
    return client.expect(rf" FAIL {command} {code} ")


# ------------------------------------------------------------------ hands

def test_the_capability_is_offered(server):
    client = server.client()
    client.send("CAP LS 302")
    assert CAP in client.expect(r" CAP \* LS ").params[-1].split()


def test_raising_a_hand_shows_the_queue_to_members_and_words_to_plain_clients(lesson, clock):
    _running, teacher, masha, petya = lesson
    masha.send("HAND #math")
    queue = teacher.expect(r" HANDS #math ")
    assert hands(queue) == [("masha", int(START * 1000))]
    assert queue.tags["time"].startswith("2027-01-15T")
    action = teacher.expect(r" HAND #math UP")
    assert action.source.startswith("masha!")
    assert masha.expect(r" HANDS #math ").params[-1] == f"masha={int(START * 1000)}"
    notice = petya.expect(r" NOTICE #math ")
    assert notice.source == "classchat.local" and notice.params[1] == "masha raised a hand (1 hand up)"
    clock.advance(5)
    petya.send("HAND #math UP")
    assert hands(teacher.expect(r" HANDS #math ")) == [("masha", int(START * 1000)),
                                                        ("petya", int((START + 5) * 1000))]
    assert petya.expect(r" NOTICE #math ").params[1] == "petya raised a hand (2 hands up)"
    assert not any(" HANDS " in line or " HAND " in line for line in petya.sync()), "no lines a plain client ignores"
    masha.send("HAND #math DOWN")
    assert hands(teacher.expect(r" HANDS #math ")) == [("petya", int((START + 5) * 1000))]
    assert petya.expect(r" NOTICE #math ").params[1] == "masha lowered their hand (1 hand up)"


def test_a_hand_needs_no_voice_in_a_moderated_channel_nor_when_muted(lesson):
    _running, teacher, masha, petya = lesson
    teacher.send("MODE #math +m")
    teacher.send("MODE #math +q petya")
    petya.expect(r" MODE #math \+q ")
    petya.send("PRIVMSG #math :may I?")
    petya.expect_numeric("404")
    petya.send("HAND #math")
    teacher.expect(r":petya!\S+ HAND #math UP")
    masha.send("HAND #math")
    assert [nick for nick, _ in hands(teacher.expect(r" HANDS #math \S+ masha"))] == ["petya", "masha"]


def test_calling_on_a_student_lowers_the_hand_and_gives_voice_in_a_moderated_channel(lesson, caplog):
    _running, teacher, masha, petya = lesson
    teacher.send("MODE #math +m")
    raise_hands(teacher, masha, petya)
    teacher.send("HAND #math CALL masha")
    assert queue_before(masha, r":teacher!\S+ HAND #math CALL masha") == ["petya"]
    assert masha.expect(r" MODE #math \+v masha").source.startswith("teacher!")
    assert petya.expect(r" NOTICE #math :teacher called").params[1] == "teacher called on masha (1 hand up)"
    petya.expect(r" MODE #math \+v masha")
    masha.send("PRIVMSG #math :the answer is 42")
    petya.expect("the answer is 42")
    teacher.sync()
    teacher.send("HAND #math CALL masha")  # voiced already, no hand up: said, but no MODE and no new queue
    lines = teacher.sync()
    assert any(" HAND #math CALL masha" in line for line in lines)
    assert not any(" MODE " in line or " HANDS " in line for line in lines)
    assert "call on #math masha" in caplog.text


def test_calling_on_someone_in_an_open_channel_gives_no_voice(lesson):
    _running, teacher, masha, _petya = lesson
    masha.send("HAND #math")
    teacher.expect(r" HAND #math UP")
    teacher.send("HAND #math CALL masha")
    teacher.expect(r" HAND #math CALL masha")
    assert not any(" MODE " in line for line in masha.sync())


def test_the_teacher_lowers_one_hand_or_all(lesson):
    _running, teacher, masha, petya = lesson
    raise_hands(teacher, masha, petya)
    teacher.send("HAND #math LOWER petya")
    assert queue_before(masha, r":teacher!\S+ HAND #math LOWER petya") == ["masha"]
    assert petya.expect(r" NOTICE #math :teacher lowered").params[1] == "teacher lowered petya's hand (1 hand up)"
    teacher.send("HAND #math CLEAR")
    assert queue_before(masha, r" HAND #math CLEAR") == []
    assert petya.expect(r" NOTICE #math :teacher lowered every").params[1] == "teacher lowered every hand"


def test_students_may_not_call_lower_or_clear(lesson):
    running, teacher, masha, petya = lesson
    petya.send("HAND #math")
    for line in ("HAND #math CALL petya", "HAND #math LOWER petya", "HAND #math CLEAR"):
        masha.send(line)
        assert masha.expect_numeric("482").params[1] == "#math"
    assert "HANDS #math petya=" in " ".join(teacher.sync())
    assert not any(" HAND #math " in line for line in teacher.sync())
    assert_still_served(running, teacher)


def test_a_late_joiner_sees_the_queue_and_a_plain_one_reads_it(lesson, clock):
    running, teacher, masha, petya = lesson
    raise_hands(teacher, masha, petya)
    clock.advance(80)
    late = running.connect("late", caps=(CAP,))
    late.send("JOIN #math")
    late.expect_numeric("366")
    assert [nick for nick, _ in hands(late.expect(r" HANDS #math "))] == ["masha", "petya"]
    plain = running.connect("plain")
    plain.send("JOIN #math")
    plain.expect_numeric("366")
    assert plain.expect(r" NOTICE #math ").params[1] == \
        "2 hands up in #math: 1. masha (1 min 20 s), 2. petya (1 min 20 s)"
    plain.send("HAND #math LIST")
    assert plain.expect(r" NOTICE plain ").params[1].startswith("2 hands up in #math: 1. masha")


def test_an_empty_queue_is_sent_on_joining(lesson):
    running, _teacher, _masha, _petya = lesson
    late = running.connect("late", caps=(CAP,))
    late.send("JOIN #math")
    assert late.expect(r" HANDS #math").params == ["#math", ""]


def test_leaving_takes_the_hand_down_and_a_nick_change_keeps_it(lesson):
    running, teacher, masha, petya = lesson
    walker = running.connect("walker")
    walker.join("#math")
    quitter = running.connect("quitter")
    quitter.join("#math")
    raise_hands(teacher, masha, petya, walker, quitter)
    masha.send("NICK maria")
    teacher.expect(r" NICK :?maria")
    walker.send("PART #math")
    teacher.expect(r":walker!\S+ PART #math")
    quitter.send("QUIT :bye")
    teacher.expect(r":quitter!\S+ QUIT")
    teacher.send("KICK #math petya :enough")
    teacher.expect(r" KICK #math petya")
    teacher.send("HAND #math CALL walker")
    assert teacher.expect_numeric("441").params[1:3] == ["walker", "#math"]
    teacher.send("HAND #math LIST")
    assert [nick for nick, _ in hands(teacher.expect(r" HANDS #math "))] == ["maria"]
    petya.send("JOIN #math")
    petya.expect_numeric("366")
    assert petya.expect(r" NOTICE #math ").params[1] == "1 hand up in #math: 1. maria (0 s)", \
        "a student who comes back has no hand up"


def test_a_long_queue_comes_in_lines_that_fit(lesson):
    running, teacher, _masha, _petya = lesson
    students = [running.connect(f"student_with_a_long_name_{index:02d}") for index in range(24)]
    for student in students:
        student.join("#math")
    raise_hands(teacher, *students)
    teacher.send("HAND #math LIST")
    queue = [teacher.expect(r" HANDS #math ")]
    while queue[-1].params[1] == "*":
        queue.append(teacher.expect(r" HANDS #math "))
    assert len(queue) >= 2
    assert all(len(line.format().split(" ", 1)[1].encode()) <= 510 for line in queue), "512 bytes, tags aside"
    assert [line.params[1] for line in queue[:-1]] == ["*"] * (len(queue) - 1) and len(queue[-1].params) == 2
    nicks = [item.split("=")[0] for line in queue for item in line.params[-1].split()]
    assert nicks == [student.nick for student in students]


def test_raising_too_often_is_refused(lesson, clock):
    running, teacher, masha, _petya = lesson
    for _ in range(10):
        masha.send("HAND #math UP")
        masha.send("HAND #math DOWN")
    masha.send("HAND #math UP")
    assert fail(masha, "HAND", "TOO_FAST").params[2] == "#math"
    clock.advance(61)
    masha.send("HAND #math UP")
    masha.expect(r" HAND #math UP")
    assert_still_served(running, teacher)


def test_a_change_that_changes_nothing_is_told_to_the_caller_only(lesson):
    _running, teacher, masha, petya = lesson
    petya.send("HAND #math DOWN")
    assert petya.expect(r" NOTICE petya ").params[1] == "Your hand is not up in #math"
    masha.send("HAND #math DOWN")
    assert masha.expect(r" HANDS #math").params[-1] == ""
    assert not teacher.sync()


# ------------------------------------------------------------------ polls

def test_a_poll_from_opening_to_its_stored_result(lesson, clock):
    running, teacher, masha, petya = lesson
    teacher.send("POLL #math OPEN NAMED 60 :Which is bigger? | 2^10 | 10^3 | equal")
    opened = masha.expect(r" POLL #math OPENED ")
    assert opened.params[2:] == ["1", "named", str(int((START + 60) * 1000)), "teacher",
                                 "Which is bigger?|2^10|10^3|equal"]
    notice = petya.expect(r" NOTICE #math :Poll").params[1]
    assert notice == ("Poll by teacher (names shown to the teacher, closes in 1 min): Which is bigger? — answer "
                      "with /quote VOTE #math <number>: 1) 2^10 · 2) 10^3 · 3) equal")
    masha.send("VOTE #math 2 1")
    assert masha.expect(r" POLL #math BALLOT ").params[2:] == ["1", "2"]
    assert teacher.expect(r" POLL #math VOTER ").params[2:] == ["1", "masha", "2", "0 1 0"]
    petya.send("VOTE #math 1")
    assert petya.expect(r" NOTICE #math :Your vote").params[1] == "Your vote: 1) 2^10"
    assert teacher.expect(r" POLL #math VOTER ").params[3:] == ["petya", "1", "1 1 0"]
    masha.send("VOTE #math 3")  # a second vote replaces the first
    assert teacher.expect(r" POLL #math VOTER ").params[3:] == ["masha", "3", "1 0 1"]
    masha.send("VOTE #math 3")  # the same again: told, nothing else
    masha.expect(r" POLL #math BALLOT 1 3")
    assert not any(" POLL " in line for line in teacher.sync())
    assert not any("COUNTS" in line or "VOTER" in line for line in masha.sync()), "counts go to operators only"
    teacher.send("POLL #math CLOSE")
    assert masha.expect(r" POLL #math CLOSED ").params[2:] == ["1", "1 0 1"]
    result = ("Poll closed by teacher: Which is bigger? (2 votes) — "
              "1) 2^10: 1 (50%) · 2) 10^3: 0 (0%) · 3) equal: 1 (50%)")
    for member in (teacher, masha, petya):
        line = member.expect(r" NOTICE #math :Poll closed")
        assert line.source == "classchat.local" and line.params[1] == result
    late = running.connect("late", caps=("server-time", "batch"))
    late.send("JOIN #math")
    assert late.expect(r" NOTICE #math :Poll closed").params[1] == result, "the result is in the history"
    petya.send("VOTE #math 1")
    assert fail(petya, "VOTE", "NO_POLL").params[2] == "#math"


def test_a_late_joiner_and_an_operator_see_the_open_poll(lesson):
    running, teacher, masha, _petya = lesson
    teacher.send("POLL #math OPEN NAMED :Ready? | yes | no")
    masha.expect(r" POLL #math OPENED ")
    masha.send("VOTE #math 1")
    masha.expect(r" BALLOT ")
    assistant = running.connect("assistant", caps=(CAP,))
    assistant.join("#math")
    teacher.send("MODE #math +o assistant")
    assistant.expect(r" MODE #math \+o assistant")
    assistant.send("POLL #math")
    assert assistant.expect(r" POLL #math OPENED ").params[2:4] == ["1", "named"]
    assert assistant.expect(r" POLL #math COUNTS ").params[3] == "1 0"
    assert assistant.expect(r" POLL #math VOTERS ").params[2:] == ["1", "masha=1"]
    masha.send("PART #math")
    masha.send("JOIN #math")
    masha.expect(r" POLL #math OPENED ")
    assert masha.expect(r" POLL #math BALLOT ").params[2:] == ["1", "1"], "a returning voter sees their vote"
    plain = running.connect("plain")
    plain.send("JOIN #math")
    assert plain.expect(r" NOTICE #math :Poll by").params[1].startswith("Poll by teacher (names shown")


def test_one_vote_per_account_from_any_connection(school):
    teacher = log_in(school, "teacher", "teacher", "chalk-and-board")
    teacher.send(f"CAP REQ :{CAP}")
    teacher.join("#math")
    laptop = log_in(school, "masha", "masha", "masha-password")
    phone = log_in(school, "masha_phone", "masha", "masha-password")
    for device in (laptop, phone):
        device.join("#math")
    teacher.send("POLL #math OPEN :Done? | yes | no")
    teacher.expect(r" POLL #math OPENED ")
    laptop.send("VOTE #math 1")
    assert teacher.expect(r" POLL #math COUNTS ").params[3] == "1 0"
    phone.send("VOTE #math 2")
    assert teacher.expect(r" POLL #math COUNTS ").params[3] == "0 1", "the same account votes once"


def test_a_guest_who_changes_nick_still_has_one_vote(lesson):
    _running, teacher, masha, _petya = lesson
    teacher.send("POLL #math OPEN NAMED :Done? | yes | no")
    masha.expect(r" POLL #math OPENED ")
    masha.send("VOTE #math 1")
    teacher.expect(r" POLL #math VOTER 1 masha 1 :?1 0")
    masha.send("NICK maria")
    masha.send("VOTE #math 2")
    assert teacher.expect(r" POLL #math VOTER ").params[3:] == ["masha", "0", "0 1"]
    assert teacher.expect(r" POLL #math VOTER ").params[3:] == ["maria", "2", "0 1"]


def test_the_time_limit_closes_the_poll_from_housekeeping(lesson, clock):
    _running, teacher, masha, petya = lesson
    teacher.send("POLL #math OPEN 30 :Quick: 2+2? | 4 | 5")
    masha.expect(r" POLL #math OPENED 1 anonymous ")
    masha.send("VOTE #math 1")
    masha.expect(r" BALLOT ")
    clock.advance(30)
    petya.send("VOTE #math 2")  # due, even before housekeeping has closed it
    fail(petya, "VOTE", "NO_POLL")
    assert masha.expect(r" POLL #math CLOSED ").params[2:] == ["1", "1 0"]
    line = petya.expect(r" NOTICE #math :Poll closed")
    assert line.params[1] == "Poll closed, time is up: Quick: 2+2? (1 vote) — 1) 4: 1 (100%) · 2) 5: 0 (0%)"
    teacher.send("POLL #math OPEN :Next? | a | b")
    teacher.expect(r" POLL #math OPENED 2 anonymous ")
    masha.send("VOTE #math 1 1")  # a click meant for the first poll
    fail(masha, "VOTE", "NO_POLL")


def test_the_result_is_delivered_only_once_stored(make_server, tmp_path, caplog):
    """The result goes the way of every message: stored first. While the history cannot be written (a
    full disk) nobody gets it, and whoever closed the poll is told (the counts themselves still go)."""
    db = str(tmp_path / "history.sqlite3")
    running = make_server(db_path=db)
    teacher = running.connect("teacher", caps=(CAP,))
    teacher.join("#math")
    student = running.connect("student")
    student.join("#math")
    teacher.send("POLL #math OPEN :Stored? | yes | no")
    student.expect(r" NOTICE #math :Poll by teacher")
    with disk_full_for(running.server.store):
        teacher.send("POLL #math CLOSE")
        teacher.expect(r" POLL #math CLOSED 1 ")
        refusal = teacher.expect(r" FAIL ")
        assert refusal.params[:3] == ["NOTICE", "MESSAGE_NOT_SENT", "#math"]
        assert not any("Poll closed" in line for line in student.sync()), "delivered without being stored"
    assert take_logged(caplog, logging.ERROR, "could not store")


def test_without_history_the_result_is_still_posted(make_server):
    running = make_server(history=False)
    teacher = running.connect("teacher")
    teacher.join("#math")
    student = running.connect("student")
    student.join("#math")
    teacher.send("POLL #math OPEN :Yes? | yes | no")
    student.expect(r" NOTICE #math :Poll by teacher")
    student.send("VOTE #math 1")
    student.expect(r"Your vote: 1\) yes")
    teacher.send("POLL #math CLOSE")
    assert student.expect(r" NOTICE #math :Poll closed").params[1].endswith("1) yes: 1 (100%) · 2) no: 0 (0%)")


# ------------------------------------------------------------------ hostile input

HOSTILE = [
    # (who sends it, the line, what answers)
    ("masha", "HAND #nowhere", r" 403 masha #nowhere "),
    ("masha", "VOTE #nowhere 1", r" 403 masha #nowhere "),
    ("masha", "POLL #nowhere OPEN :a|b|c", r" 403 masha #nowhere "),
    ("outsider", "HAND #math", r" 442 outsider #math "),
    ("outsider", "VOTE #math 1", r" 442 outsider #math "),
    ("masha", "POLL #math OPEN :Q? | a | b", r" 482 masha #math "),
    ("masha", "POLL #math CLOSE", r" 482 masha #math "),
    ("masha", "HAND #math WAVE", r" FAIL HAND UNKNOWN_SUBCOMMAND #math WAVE "),
    ("masha", "HAND #math CALL", r" 482 masha #math "),
    ("teacher", "HAND #math CALL", r" 461 teacher HAND "),
    ("teacher", "HAND #math CALL nobody", r" 441 teacher nobody #math "),
    ("teacher", "HAND #math LOWER masha", r" FAIL HAND NOT_RAISED #math masha "),
    ("teacher", "HAND #math LOWER " + "x" * 450, r" FAIL HAND NOT_RAISED #math x{50} :x{50} has no hand up in #math$"),
    ("masha", "HAND #math " + "W" * 450, r" FAIL HAND UNKNOWN_SUBCOMMAND #math W{50} :"),
    ("teacher", "POLL #math OPEN", r" 461 teacher POLL "),
    ("teacher", "POLL #math OPEN :Only one? | yes", r" FAIL POLL BAD_OPTIONS #math "),
    ("teacher", "POLL #math OPEN :Seven? |1|2|3|4|5|6|7", r" FAIL POLL BAD_OPTIONS #math "),
    ("teacher", "POLL #math OPEN :Empty? | a | | b", r" FAIL POLL BAD_OPTIONS #math "),
    ("teacher", "POLL #math OPEN : | a | b", r" FAIL POLL BAD_QUESTION #math "),
    ("teacher", "POLL #math OPEN :" + "q" * 151 + "|a|b", r" FAIL POLL BAD_QUESTION #math "),
    ("teacher", "POLL #math OPEN :Long? |" + "o" * 51 + "|b", r" FAIL POLL BAD_OPTIONS #math "),
    ("teacher", "POLL #math OPEN :" + "Вопрос" * 10 + "|" + "|".join(["ответ" * 8] * 3),
     r" FAIL POLL TOO_LONG #math "),
    ("teacher", "POLL #math OPEN 99999999999999999999 :Q? | a | b", r" FAIL POLL BAD_TIME_LIMIT #math 9+ "),
    ("teacher", "POLL #math OPEN 3601 :Q? | a | b", r" FAIL POLL BAD_TIME_LIMIT #math 3601 "),
    ("teacher", "POLL #math OPEN 1 :Q? | a | b", r" FAIL POLL BAD_TIME_LIMIT #math 1 "),
    ("teacher", "POLL #math OPEN ² :Q? | a | b", r" FAIL POLL INVALID_PARAMS #math ² "),
    ("teacher", "POLL #math OPEN Which is bigger? | a | b", r" FAIL POLL INVALID_PARAMS #math Which "),
    ("teacher", "POLL #math CLOSE", r" FAIL POLL NO_POLL #math "),
    ("teacher", "POLL #math RESTART", r" FAIL POLL UNKNOWN_SUBCOMMAND #math RESTART "),
    ("masha", "POLL #math", r" FAIL POLL NO_POLL #math "),
    ("masha", "VOTE #math 1", r" FAIL VOTE NO_POLL #math "),
]


@pytest.mark.parametrize("who, line, answer", HOSTILE, ids=[line[:40] for _, line, _ in HOSTILE])
def test_hostile_lines_get_a_clear_answer_and_the_class_goes_on(lesson, who, line, answer):
    running, teacher, masha, petya = lesson
    senders = {"teacher": teacher, "masha": masha, "outsider": running.connect("outsider")}
    sender = senders[who]
    sender.send(line)
    sender.expect(answer)
    assert not any(" HANDS " in seen or " POLL " in seen or "NOTICE #math" in seen for seen in petya.sync())
    assert_still_served(running, petya)


@pytest.mark.parametrize("vote", ["0", "99", "²", "-1", "1.0", "", "9" * 400])
def test_bad_votes_are_refused(lesson, vote):
    running, teacher, masha, petya = lesson
    teacher.send("POLL #math OPEN :Which? | a | b | c")
    masha.expect(r" POLL #math OPENED ")
    masha.send(f"VOTE #math :{vote}" if vote == "" else f"VOTE #math {vote}")
    refusal = fail(masha, "VOTE", "BAD_OPTION")
    assert refusal.params[-1] == "Vote with a number from 1 to 3"
    assert not any("COUNTS" in line for line in teacher.sync())
    assert_still_served(running, petya)


def test_a_second_poll_while_one_is_open_is_refused(lesson):
    running, teacher, masha, petya = lesson
    teacher.send("POLL #math OPEN :First? | a | b")
    teacher.expect(r" POLL #math OPENED 1 ")
    teacher.send("POLL #math OPEN :Second? | a | b")
    fail(teacher, "POLL", "ALREADY_OPEN")
    masha.send("VOTE #math 1 2")  # the number of a poll that is not the open one
    fail(masha, "VOTE", "NO_POLL")
    assert_still_served(running, petya)


def test_spam_votes_are_bounded(lesson):
    running, teacher, masha, petya = lesson
    teacher.send("POLL #math OPEN :Flip? | heads | tails")
    masha.expect(r" POLL #math OPENED ")
    for index in range(200):
        masha.send(f"VOTE #math {index % 2 + 1}")
    refusal = fail(masha, "VOTE", "TOO_MANY_CHANGES")
    assert refusal.params[-1] == "You have changed your vote too often"
    counts = [line for line in teacher.sync() if " COUNTS " in line]
    assert len(counts) == 21, "the first vote and 20 changes reach the teacher, nothing more"
    assert_still_served(running, petya)


def test_a_channel_name_too_long_for_the_poll_line_is_refused(make_server):
    running = make_server(channel_length=50)
    teacher = running.connect("t" * 30)
    channel = "#" + "д" * 49
    teacher.join(channel)
    question = "В" * 100
    teacher.send(f"POLL {channel} OPEN :{question}|" + "|".join(["о" * 10] * 6))
    fail(teacher, "POLL", "TOO_LONG")
    assert_still_served(running, teacher)
