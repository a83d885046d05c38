"""Reactions and deleted messages in the clients: the session's ``ReactionBook`` alone, the session against
the real server (reacting, taking back, deleting, a REDACT that names another conversation's message, the
FAIL replies in Russian), and the CLI as a person (tmux) and a script run it."""
from __future__ import annotations

import pytest

from common.client import events as ev
from common.client.reaction_texts import counts_text
from common.client.reactions import MAX_EMOJI_PER_MESSAGE, MAX_MESSAGES, ReactionBook
from common.client.session import Session, SessionConfig
from common.client.slash_commands import run_input
from common.client.texts import describe
from helpers import EventLog, IRCTestClient
from test_cli import cli_reader, lines_before_exit, tmux_cli
from test_session import scripted_server_session

CAPS = ("message-tags", "echo-message", "draft/message-redaction", "server-time", "batch")


# ------------------------------------------------------------------ the book alone

def test_counts_put_the_classrooms_three_first_and_toggle():
    book = ReactionBook()
    book.note_message("#math", "m1", "teacher", "Is that clear?", own=False)
    assert book.apply("m1", "🎉", "petya", True)
    for nick in ("masha", "Masha", "vova"):  # nicks compare case-insensitively: masha counts once
        book.apply("m1", "👍", nick, True)
    book.apply("m1", "❓", "kolya", True, reaction_msgid="r9")
    assert book.counts("m1") == [("👍", 2), ("❓", 1), ("🎉", 1)]
    assert counts_text(book.counts("m1"), "en") == "👍 2 understood, ❓ 1 lost, 🎉 1"
    assert counts_text(book.counts("m1"), "ru") == "👍 2 поняли, ❓ 1 не поняли, 🎉 1"
    assert book.apply("m1", "👍", "MASHA", False) and not book.apply("m1", "👍", "masha", False)
    assert book.take_back("r9") == ("m1", "❓", "kolya") and book.counts("m1") == [("👍", 1), ("🎉", 1)]
    assert book.given_by("m1", "VOVA") == {"👍"}


def test_the_book_is_bounded_against_a_flood():
    book = ReactionBook()
    for index in range(MAX_EMOJI_PER_MESSAGE + 5):
        book.apply("m1", f"e{index}", "spammer", True)
    assert len(book.counts("m1")) == MAX_EMOJI_PER_MESSAGE
    for index in range(MAX_MESSAGES + 10):
        book.note_message("#c", f"id{index}", "x", "text", own=False)
    assert book.message("id0") is None and book.message(f"id{MAX_MESSAGES + 9}") is not None
    assert book.last("#C", own=False) == f"id{MAX_MESSAGES + 9}"


# ------------------------------------------------------------------ the session and the server

@pytest.fixture
def sessions(make_server, tmp_path):
    """Sessions in #math on a server with its history in a real SQLite file; each is quit after the test."""
    running = make_server(db_path=str(tmp_path / "h.sqlite3"), flood_rate=0)
    started: list[Session] = []

    def start(nick: str) -> tuple[Session, EventLog]:
        session = Session(SessionConfig(port=running.address[1], nick=nick, channels=("#math",), pace_rate=0))
        session.start()
        started.append(session)
        log = EventLog(session)
        log.wait_for(ev.Joined, nick=nick)
        return session, log

    yield start
    for session in started:
        session.quit(timeout=1)


def test_react_take_back_and_delete_through_the_session(sessions):
    teacher, teacher_log = sessions("teacher")
    masha, masha_log = sessions("masha")
    assert masha.reactions.offers_reactions() and masha.reactions.offers_deleting()
    teacher.send_text("#math", "Is that clear?")
    question = masha_log.wait_for(ev.ChatMessage, text="Is that clear?").msgid
    assert run_input("/react ok", masha, "#math", "en").sent
    changed = teacher_log.wait_for(ev.ReactionsChanged, emoji="👍", added=True)
    assert (changed.msgid, changed.nick, changed.conversation) == (question, "masha", "#math")
    assert teacher.reactions.counts(question) == [("👍", 1)]
    masha_log.wait_for(ev.ReactionsChanged, emoji="👍")  # our own, echoed: now it is ours to take back
    assert masha.reactions.mine(question) == {"👍"}
    run_input("/react 👍", masha, "#math", "en")  # the same again takes it back (+draft/unreact)
    teacher_log.wait_for(ev.ReactionsChanged, emoji="👍", added=False)
    assert teacher.reactions.counts(question) == []
    masha.send_text("#math", "2 + 2 = 5")
    masha_log.wait_for(ev.ChatMessage, text="2 + 2 = 5")
    assert run_input("/delete", masha, "#math", "en").sent
    deleted = teacher_log.wait_for(ev.MessageDeleted)
    assert (deleted.by, deleted.sender, deleted.own) == ("masha", "masha", False)
    assert describe(deleted, "en") == "masha deleted a message"
    assert masha_log.wait_for(ev.MessageDeleted).own
    assert run_input("/delete", masha, "#math", "en").output == ["There is no message of yours here to delete."]
    assert not masha.reactions.may_delete("#math", own=False), "a student deletes only their own"
    assert teacher.reactions.may_delete("#math", own=False), "the channel's operator deletes anyone's"


def test_a_refused_deletion_reads_in_russian(sessions):
    teacher, _ = sessions("teacher")
    masha, masha_log = sessions("masha")
    teacher.send_text("#math", "Задача 1")
    question = masha_log.wait_for(ev.ChatMessage, text="Задача 1").msgid
    masha.reactions.delete("#math", question)
    error = masha_log.wait_for(ev.ErrorReply, code="FAIL")
    assert describe(error, "ru") == ("Ошибка: Это сообщение удалить нельзя: удалить его может только автор "
                                     "(в первые минуты) и учитель.")
    assert run_input("/delete", masha, "#math", "ru").output == ["Здесь нет вашего сообщения, которое можно удалить."]


def test_a_redact_naming_another_conversations_message_is_ignored():
    """The test plays the server: a REDACT that names a message the session saw in another conversation is
    ignored, as the spec asks; the one that names the right conversation deletes it."""
    with scripted_server_session() as (session, log, peer):
        peer.send("@msgid=m1 :petya!p@h PRIVMSG #a :in a")
        log.wait_for(ev.ChatMessage, text="in a")
        peer.send(":petya!p@h REDACT #b m1")
        peer.send(":petya!p@h REDACT #a m1 :wrong channel")
        deleted = log.wait_for(ev.MessageDeleted)
        assert (deleted.conversation, deleted.sender, deleted.reason) == ("#a", "petya", "wrong channel")
        assert [event for event in log.seen if isinstance(event, ev.MessageDeleted)] == [deleted]


# ------------------------------------------------------------------ the CLI

def test_cli_deletes_reacts_and_sums_reactions_up(server_process):
    process = server_process()
    teacher = IRCTestClient(process.address).register("teacher", caps=CAPS)
    teacher.join("#general")
    with tmux_cli("reactions", process.address[1], "--nick", "masha") as session:
        teacher.expect(r":masha!\S+ JOIN #general")
        session.wait_for(r"(?m)^\[#general\]\s*$")
        session.send("2 + 2 = 5")
        sent = teacher.expect(r" PRIVMSG #general :2 \+ 2 = 5").tags["msgid"]
        session.send("/delete")
        assert teacher.expect(r" REDACT ").params == ["#general", sent]
        session.wait_for(r"\d\d:\d\d #general \* masha deleted a message")
        teacher.send("PRIVMSG #general :Is that clear?")
        question = teacher.expect(r"PRIVMSG #general :Is that clear\?").tags["msgid"]
        session.wait_for(r"<teacher> Is that clear\?")
        session.send("/react ok")
        assert teacher.expect(r" TAGMSG #general").tags["+draft/react"] == "👍"
        classmates = [IRCTestClient(process.address).register(f"kid{index}", caps=CAPS) for index in range(3)]
        for index, kid in enumerate(classmates):
            kid.join("#general")
            kid.send(f"@+draft/reply={question};+draft/react={'❓' if index == 2 else '👍'} TAGMSG #general")
        session.wait_for(r"Reactions to teacher's “Is that clear\?”: 👍 3 understood, ❓ 1 lost")
        screen = session.screen()
        assert screen.count("Reactions to teacher's") == 1, screen  # one line for the crowd, not one each
        session.send("/quit")
        assert lines_before_exit(session)[-1] == "Bye."


def test_cli_script_prints_deletions_by_others(server_process):
    process = server_process()
    masha = IRCTestClient(process.address).register("masha", caps=CAPS)
    masha.join("#general")
    with cli_reader(process.address[1]) as reader:
        masha.expect(r":reader!\S+ JOIN #general")
        masha.send("PRIVMSG #general :oops")
        msgid = masha.expect(r"PRIVMSG #general :?oops").tags["msgid"]
        masha.send(f"REDACT #general {msgid}")
        lines = [reader.stdout.readline(), reader.stdout.readline()]
        assert lines[0].rstrip().endswith("#general <masha> oops"), lines
        assert lines[1].rstrip().endswith("#general * masha deleted a message"), lines
        reader.stdin.close()
        assert reader.wait(10) == 0
