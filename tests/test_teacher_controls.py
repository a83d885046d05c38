"""The teacher's controls, end to end through the real server: operator login, mutes, moderation,
questions to the teacher, announcements, KILL and the end of a lesson, and what a student may not do."""
from __future__ import annotations

import base64
import hashlib
import logging

import pytest

from common.server.passwords import hash_password, read_oper_file, verify_password

TEACHER = {"teacher": "secret"}


def oper(client, name: str = "teacher", password: str = "secret") -> None:
    client.send(f"OPER {name} {password}")
    client.expect_numeric("381")


@pytest.fixture
def lesson(make_server):
    """A server with a teacher login; the teacher (operator) and two students in #class."""
    running = make_server(opers=dict(TEACHER))
    teacher = running.connect("teacher", caps=("echo-message",))
    oper(teacher)
    teacher.join("#class")
    alice, bob = running.connect("alice"), running.connect("bob")
    alice.join("#class")
    bob.join("#class")
    teacher.sync()
    return running, teacher, alice, bob


def test_student_is_refused_operator_commands(lesson):
    _running, _teacher, alice, bob = lesson
    for line in ("KILL bob :bye", "ENDLESSON", "NOTICE $* :fake announcement", "PRIVMSG $* :fake"):
        alice.send(line)
        assert alice.expect_numeric("481").params[-1].startswith("Permission Denied")
    for line in ("MODE #class +m", "MODE #class +q bob!*@*", "KICK #class bob", "MODE #class +U"):
        alice.send(line)
        assert alice.expect_numeric("482").params[1] == "#class"
    alice.send("OPER teacher wrong")
    alice.expect_numeric("464")
    assert not any("fake" in line or "MODE" in line or "KICK" in line for line in bob.sync())


def test_mute_one_student_and_unmute(lesson):
    _running, teacher, alice, bob = lesson
    teacher.send("MODE #class +q alice")  # a bare nick becomes alice!*@*
    assert alice.expect(r" MODE #class \+q ").params[2] == "alice!*@*"
    alice.send("PRIVMSG #class :can anyone hear me?")
    assert alice.expect_numeric("404").params[-1] == "Cannot send to channel: you are muted (+q)"
    alice.send("NICK alice2")
    assert alice.expect_numeric("435").params[1] == "#class"
    teacher.send("MODE #class q")
    listed = teacher.expect_numeric("728")
    assert listed.params[1:5] == ["#class", "q", "alice!*@*", "teacher!~teacher@127.0.0.1"]
    teacher.expect_numeric("729")
    bob.send("PRIVMSG #class :bob still talks")
    alice.expect("bob still talks")
    assert not any("can anyone hear me" in line for line in bob.sync())
    teacher.send("MODE #class +v alice")  # voice outranks a mute
    alice.expect(r" MODE #class \+v alice")
    alice.send("PRIVMSG #class :voiced")
    bob.expect(r"PRIVMSG #class :?voiced$")
    teacher.send("MODE #class -vq alice alice!*@*")
    alice.expect(r" MODE #class -vq alice alice!\*@\*")
    alice.send("PRIVMSG #class :unmuted")
    bob.expect(r"PRIVMSG #class :?unmuted$")


def test_mute_everyone_with_moderation(lesson):
    _running, teacher, alice, bob = lesson
    teacher.send("MODE #class +m")
    bob.expect(r" MODE #class \+m")
    alice.send("PRIVMSG #class :hello?")
    assert "only voiced members" in alice.expect_numeric("404").params[-1]
    teacher.send("PRIVMSG #class :the teacher still speaks")
    bob.expect("the teacher still speaks")
    teacher.send("MODE #class +v bob")
    bob.expect(r" MODE #class \+v bob")
    bob.send("PRIVMSG #class :bob may answer")
    alice.expect("bob may answer")


def test_questions_mode_sends_students_messages_to_operators_only(lesson):
    running, teacher, alice, bob = lesson
    teacher.send("MODE #class +U")
    alice.expect(r" MODE #class \+U")
    alice.send("PRIVMSG #class :what is a socket?")
    question = teacher.expect("what is a socket")
    assert question.source.startswith("alice!")
    teacher.send("PRIVMSG #class :a socket is an endpoint")
    bob.expect("a socket is an endpoint")
    alice.expect("a socket is an endpoint")
    assert not any("what is a socket" in line for line in bob.sync()), "another student saw the question"
    teacher.send("MODE #class +v bob")  # a voiced student speaks to everyone again
    bob.expect(r" MODE #class \+v bob")
    bob.send("PRIVMSG #class :I can explain too")
    alice.expect("I can explain too")

    # History keeps the question for operators only.
    carol = running.connect("carol", caps=("batch", "server-time"))
    carol.join("#class")
    replayed = carol.sync()
    assert any("a socket is an endpoint" in line for line in replayed)
    assert not any("what is a socket" in line for line in replayed)
    teacher.send("CHATHISTORY LATEST #class * 10")
    assert any("what is a socket" in line for line in teacher.sync())


def test_announcement_reaches_every_user(lesson):
    running, teacher, alice, bob = lesson
    loner = running.connect("loner")  # in no channel at all
    teacher.send("NOTICE $* :Тест начнётся через 5 минут")
    for student in (alice, bob, loner):
        notice = student.expect(r" NOTICE \$\* ")
        assert notice.source.startswith("teacher!") and notice.params[1] == "Тест начнётся через 5 минут"
    teacher.send("PRIVMSG $classchat.* :a mask naming this server works too")
    loner.expect("a mask naming this server")
    teacher.send("PRIVMSG $other.server :nobody")
    teacher.expect_numeric("401")


def test_kill_disconnects_one_user_and_tells_the_channel(lesson):
    _running, teacher, alice, bob = lesson
    teacher.send("KILL bob :spamming")
    closing = bob.expect_closed()
    assert any("ERROR :Closing Link: 127.0.0.1 (Killed (teacher (spamming)))" in line for line in closing)
    quit_line = alice.expect(r" QUIT ")
    assert quit_line.source.startswith("bob!") and quit_line.params[0] == "Killed (teacher (spamming))"
    teacher.send("KILL nobody")
    teacher.expect_numeric("401")


def test_end_of_lesson_disconnects_students_and_keeps_the_server(lesson):
    running, teacher, alice, bob = lesson
    waiting = running.client()  # connected, not yet registered: goes too
    waiting.send("PING early")
    waiting.expect("early")
    teacher.send("ENDLESSON :see you on Monday")
    for student in (alice, bob, waiting):
        assert any("The lesson has ended: see you on Monday" in line for line in student.expect_closed())
    assert teacher.expect(r" NOTICE teacher :Lesson ended").params[1] == "Lesson ended: 3 user(s) disconnected"
    teacher.send("PING still-here")
    teacher.expect("still-here")
    dave = running.connect("dave")
    dave.join("#class")


def test_operator_actions_are_audited(lesson, caplog):
    _running, teacher, alice, _bob = lesson
    caplog.set_level(logging.INFO, logger="classchat.audit")
    teacher.send("MODE #class +q alice")
    teacher.send("KICK #class alice :out")
    teacher.send("TOPIC #class :new\x1b[2J topic")
    teacher.send("NOTICE $* :announcement")
    teacher.sync()
    entries = [record.getMessage() for record in caplog.records if record.name == "classchat.audit"]
    assert entries == [
        "oper teacher!~teacher@127.0.0.1 mode #class (+q alice!*@*)",
        "oper teacher!~teacher@127.0.0.1 kick #class alice (out)",
        "oper teacher!~teacher@127.0.0.1 topic #class (new\x1b[2J topic)",
        "oper teacher!~teacher@127.0.0.1 announce $* (announcement)",
    ]


def test_password_hashes():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$131072$8$1$") and "correct" not in stored  # OWASP's minimum cost
    assert verify_password(stored, "correct horse")
    salt = b"s" * 16
    digest = hashlib.scrypt(b"older", salt=salt, n=2 ** 14, r=8, p=1, dklen=32)
    older = f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    assert verify_password(older, "older"), "a hash made at the old cost still verifies"
    assert not verify_password(older.replace("$16384$", "$32768$"), "older"), "the cost is part of the hash"
    assert not verify_password(stored, "correct horsE")
    assert not verify_password("scrypt$16384$8$1$bad$base64", "x"), "a damaged hash matches nothing"
    assert not verify_password("scrypt$1099511627776$8$1$c2FsdA==$c2FsdA==", "x"), "an absurd cost is refused"
    assert hash_password("same") != hash_password("same"), "every hash has its own salt"
    assert verify_password("plain", "plain") and not verify_password("plain", "plainer")


def test_oper_file_rejects_malformed_lines(tmp_path):
    good = tmp_path / "opers"
    good.write_text(f"# teachers\n\nteacher {hash_password('x')}\n", encoding="utf-8")
    assert list(read_oper_file(str(good))) == ["teacher"]
    bad = tmp_path / "bad"
    bad.write_text("teacher x\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad:1: expected 'NAME scrypt\$"):
        read_oper_file(str(bad))
