"""Deleting messages (IRCv3 draft/message-redaction, REDACT) and reactions (+draft/react, +draft/unreact with
+draft/reply), as transcripts over real sockets to an in-process server whose history is a real SQLite file
and whose clock the test moves: a student's own message within the window and after it, someone else's,
the teacher's deletion, unknown, malformed and misplaced msgids, private chats, questions under +U, what
plain clients read (irssi too), and the history (CHATHISTORY, the replay on JOIN) without the deleted message;
reactions relayed, kept, taken back and replayed; and hostile input, each case ending with
``assert_still_served``."""
from __future__ import annotations

import base64
import logging
import re
import sqlite3

import pytest

from common.protocol.message import parse
from helpers import IRCTestClient, assert_still_served, take_logged

CAP = "draft/message-redaction"
FULL = ("message-tags", "echo-message", CAP, "server-time", "batch", "draft/chathistory")
START = 1_800_000_000.0  # the server's clock, in seconds since the epoch, at the start of each test


class Clock:
    """The server's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "history.sqlite3")


@pytest.fixture
def running(make_server, db, clock):
    """A school: the class channel #math, history in ``db``, flood control off, the test's clock."""
    return make_server(db_path=db, class_channels=("#math",), login_delay=0.01, flood_rate=0, wall_clock=clock)


@pytest.fixture
def school(make_server, db, clock):
    """The same, with the teacher's account ("teacher", "chalk-and-board") in ``db``; see ``teacher()``."""
    from common.server.accounts import AccountStore

    store = AccountStore(db)
    store.create("teacher", "chalk-and-board", teacher=True)
    store.close()
    return make_server(db_path=db, class_channels=("#math",), login_delay=0.01, flood_rate=0, wall_clock=clock)


def teacher(running, caps: tuple[str, ...] = FULL) -> IRCTestClient:
    """The teacher, logged in with SASL PLAIN (a teacher's account makes the connection an IRC operator)."""
    client = running.client()
    client.nick = "teacher"
    client.send("CAP LS 302")
    client.send("NICK teacher")
    client.send("USER teacher 0 * :teacher")
    client.expect(r" CAP \S+ LS ")
    client.send("CAP REQ :" + " ".join(("sasl", *caps)))
    client.expect(r" CAP \S+ ACK ")
    client.send("AUTHENTICATE PLAIN")
    client.expect(r"^AUTHENTICATE \+")
    client.send("AUTHENTICATE " + base64.b64encode(b"\0teacher\0chalk-and-board").decode())
    client.expect(r" 903 ")
    client.send("CAP END")
    client.expect_numeric("376|422")
    return client


def student(running, nick: str, caps: tuple[str, ...] = FULL, channel: str = "#math") -> IRCTestClient:
    client = running.connect(nick, caps=caps)
    if channel:
        client.join(channel)
    return client


def say(client: IRCTestClient, target: str, text: str) -> str:
    """Send a message (the client has echo-message); its msgid."""
    client.send(f"PRIVMSG {target} :{text}")
    return client.expect(rf" PRIVMSG {target} :?{re.escape(text)}$").tags["msgid"]


def history(client: IRCTestClient, target: str, limit: int = 50) -> list:
    """CHATHISTORY LATEST: the lines of the batch (messages, then reactions)."""
    client.send(f"CHATHISTORY LATEST {target} * {limit}")
    client.expect(r" BATCH \+\S+ chathistory ")
    lines = client.lines_until(r" BATCH -")
    return [parse(line) for line in lines[:-1]]


def texts(lines) -> list[str]:
    return [line.params[-1] for line in lines if line.command == "PRIVMSG"]


def test_the_capability_is_offered_with_history_only(make_server, running):
    for server, offered in ((running, True), (make_server(history=False), False)):
        client = server.client()
        client.send("CAP LS 302")
        assert (CAP in client.expect(r" CAP \S+ LS ").params[-1].split()) is offered


def test_a_student_deletes_their_own_message_within_the_window(running, clock):
    classmate = student(running, "vova")
    masha = student(running, "masha")
    plain = student(running, "petya", caps=())
    msgid = say(masha, "#math", "2 + 2 = 5")
    classmate.expect(r"2 \+ 2 = 5")
    clock.now += 240  # four minutes later: within the five of the default window
    masha.send(f"REDACT #math {msgid} :typo")
    echo = masha.expect(r" REDACT ")
    assert echo.source.startswith("masha!") and echo.params == ["#math", msgid, "typo"]
    assert echo.tags["msgid"] != msgid and echo.tags["time"].startswith("2027-01-15T08:04:00")
    assert classmate.expect(r" REDACT ").params == ["#math", msgid, "typo"]
    notice = plain.expect(r" NOTICE #math :")
    assert notice.params[-1] == "masha deleted a message they sent 4 minutes ago: typo"
    assert "2 + 2 = 5" not in notice.params[-1]
    assert "2 + 2 = 5" not in texts(history(classmate, "#math"))


def test_after_the_window_only_the_teacher_may(school, clock):
    boss = teacher(school)
    boss.join("#math")
    masha = student(school, "masha")
    msgid = say(masha, "#math", "an answer")
    clock.now += 301
    masha.send(f"REDACT #math {msgid}")
    fail = masha.expect(r"^:\S+ FAIL REDACT ")
    assert fail.params[1:5] == ["REDACT_WINDOW_EXPIRED", "#math", msgid, "300"]
    assert texts(history(boss, "#math")) == ["an answer"]
    boss.send(f"REDACT #math {msgid} :off topic")
    assert masha.expect(r" REDACT ").source.startswith("teacher!")
    assert texts(history(boss, "#math")) == []


def test_a_student_may_not_delete_a_classmates_message(running):
    masha = student(running, "masha")
    petya = student(running, "petya")
    msgid = say(masha, "#math", "mine")
    petya.expect(" PRIVMSG #math :?mine")
    petya.send(f"REDACT #math {msgid}")
    fail = petya.expect(r" FAIL REDACT ")
    assert fail.params[1:4] == ["REDACT_FORBIDDEN", "#math", msgid]
    assert texts(history(masha, "#math")) == ["mine"]
    assert not [line for line in masha.sync() if " REDACT " in line]
    assert_still_served(running, masha)


def test_the_teacher_deletes_a_students_message_and_it_is_audited(school, caplog):
    boss = teacher(school, caps=(*FULL, "account-tag"))
    boss.join("#math")
    masha = student(school, "masha")
    msgid = say(masha, "#math", "something rude")
    boss.send(f"REDACT #math {msgid}")
    redact = masha.expect(r" REDACT ")
    assert redact.source.startswith("teacher!") and redact.params == ["#math", msgid]
    assert boss.expect(r" REDACT ").tags["account"] == "teacher"
    assert take_logged(caplog, logging.INFO, f"redact #math (a message from masha)")
    assert texts(history(masha, "#math")) == []


def test_unknown_malformed_and_misplaced_msgids(running):
    boss = student(running, "anna")
    boss.join("#art")
    msgid = say(boss, "#art", "in art")
    for target, given, code in (("#math", msgid, "UNKNOWN_MSGID"),  # another channel's message
                                ("#math", "00000000-99", "UNKNOWN_MSGID"),
                                ("#math", "x" * 300, "UNKNOWN_MSGID"),
                                ("#math", "1'OR'1'='1", "UNKNOWN_MSGID"),
                                ("#nowhere", msgid, "INVALID_TARGET"),
                                ("bad,nick", msgid, "INVALID_TARGET")):
        boss.send(f"REDACT {target} {given}")
        fail = boss.expect(r" FAIL REDACT ")
        assert fail.params[1] == code, (target, given, fail)
        assert all(len(word) <= 64 for word in fail.params[2:-1])
    assert texts(history(boss, "#art")) == ["in art"]
    assert_still_served(running, boss)


def test_not_a_member_may_not_delete_in_a_channel(running):
    masha = student(running, "masha")
    msgid = say(masha, "#math", "hello")
    outsider = student(running, "outsider", channel="")
    outsider.send(f"REDACT #math {msgid}")
    assert outsider.expect(r" FAIL REDACT ").params[1:3] == ["INVALID_TARGET", "#math"]


def test_private_messages_are_deleted_by_their_sender_only(running):
    masha = student(running, "masha", channel="")
    petya = student(running, "petya", channel="")
    msgid = say(masha, "petya", "psst")
    petya.expect(" PRIVMSG petya :?psst")
    petya.send(f"REDACT masha {msgid}")
    assert petya.expect(r" FAIL REDACT ").params[1] == "REDACT_FORBIDDEN"
    masha.send(f"REDACT petya {msgid}")
    assert petya.expect(r" REDACT ").params == ["petya", msgid]
    assert masha.expect(r" REDACT ").params == ["petya", msgid]
    assert texts(history(petya, "masha")) == []


def test_a_plain_client_in_a_private_chat_reads_a_notice(running, clock):
    masha = student(running, "masha", channel="")
    plain = student(running, "petya", caps=(), channel="")
    msgid = say(masha, "petya", "wrong person")
    plain.expect(" PRIVMSG petya :wrong person")
    clock.now += 3
    masha.send(f"REDACT petya {msgid}")
    notice = plain.expect(r" NOTICE petya :")
    assert notice.params[-1] == "masha deleted a message they sent 3 seconds ago"


def test_the_replay_on_join_no_longer_holds_it(running):
    masha = student(running, "masha")
    kept = say(masha, "#math", "kept")
    gone = say(masha, "#math", "gone")
    masha.send(f"REDACT #math {gone}")
    masha.expect(r" REDACT ")
    late = running.connect("late")  # no chathistory: the server replays on JOIN, as notices
    late.send("JOIN #math")
    lines = late.lines_until(r" 366 ") + late.sync()  # the replay follows the NAMES
    assert any("<masha> kept" in line for line in lines) and not any("gone" in line for line in lines), lines
    assert kept


def test_a_question_under_plus_u_stays_hidden(school):
    boss = teacher(school)
    boss.join("#math")
    boss.send("MODE #math +U")
    masha = student(school, "masha")
    petya = student(school, "petya")
    plain = student(school, "vova", caps=())
    question = say(masha, "#math", "what is a socket?")
    boss.expect("what is a socket")
    petya.send(f"REDACT #math {question}")
    assert petya.expect(r" FAIL REDACT ").params[1] == "UNKNOWN_MSGID"  # as if it did not exist
    boss.send(f"REDACT #math {question}")
    assert masha.expect(r" REDACT ").params == ["#math", question]
    assert not [line for line in petya.sync() if " REDACT " in line]
    assert not [line for line in plain.sync() if " NOTICE #math" in line]


def test_without_history_redact_is_unknown(make_server):
    server = make_server(history=False)
    client = server.connect("alice", caps=("message-tags",))
    client.send("REDACT #math abc")
    assert client.expect_numeric("421").params[1] == "REDACT"


def test_reactions_are_relayed_kept_and_replayed(school):
    students = [student(school, f"s{index}") for index in range(3)]
    plain = student(school, "plain", caps=())
    boss = teacher(school)
    boss.join("#math")
    question = say(boss, "#math", "Is that clear?")
    for index, client in enumerate(students):
        client.send(f"@+draft/reply={question};+draft/react={'👍' if index else '❓'} TAGMSG #math")
    for _ in students:
        reaction = boss.expect(r" TAGMSG #math")
        assert reaction.tags["+draft/reply"] == question and reaction.tags["msgid"]
    assert not [line for line in plain.sync() if "TAGMSG" in line]
    students[1].send(f"@+draft/reply={question};+draft/unreact=👍 TAGMSG #math")  # took it back
    boss.expect(r"\+draft/unreact=👍")
    boss.close()  # the teacher reloads, and sees the counts as they stand
    boss = teacher(school)
    boss.join("#math")
    lines = history(boss, "#math")
    assert texts(lines) == ["Is that clear?"]
    reactions = [(line.source.split("!")[0], line.tags["+draft/react"]) for line in lines if line.command == "TAGMSG"]
    assert sorted(reactions) == [("s0", "❓"), ("s2", "👍")]
    assert all(line.params == ["#math"] for line in lines if line.command == "TAGMSG")


def test_many_reactions_do_not_push_messages_out_of_a_page(running):
    boss = student(running, "anna")
    first = say(boss, "#math", "first")
    second = say(boss, "#math", "second")
    crowd = [student(running, f"r{index}") for index in range(20)]
    for index, client in enumerate(crowd):
        for emoji in ("👍", "✅", "❓"):
            client.send(f"@+draft/reply={second if index % 2 else first};+draft/react={emoji} TAGMSG #math")
    for client in crowd:
        client.sync()
    lines = history(boss, "#math", limit=2)
    assert texts(lines) == ["first", "second"]
    assert len([line for line in lines if line.command == "TAGMSG"]) == 60


def test_deleting_a_message_deletes_its_reactions(running, db):
    masha = student(running, "masha")
    petya = student(running, "petya")
    msgid = say(masha, "#math", "typo here")
    petya.send(f"@+draft/reply={msgid};+draft/react=✅ TAGMSG #math")
    masha.expect("TAGMSG")
    masha.send(f"REDACT #math {msgid}")
    masha.expect(" REDACT ")
    assert history(petya, "#math") == []
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT coalesce(sum(count), 0) FROM message_blocks").fetchone()[0] == 0


def test_a_reaction_is_taken_back_with_redact_too(running):
    masha = student(running, "masha")
    petya = student(running, "petya")
    msgid = say(masha, "#math", "vote")
    petya.send(f"@+draft/reply={msgid};+draft/react=👍 TAGMSG #math")
    reaction = petya.expect(r"TAGMSG #math").tags["msgid"]
    petya.send(f"REDACT #math {reaction}")
    assert masha.expect(r" REDACT ").params == ["#math", reaction]
    lines = history(masha, "#math")
    assert texts(lines) == ["vote"] and not [line for line in lines if line.command == "TAGMSG"]


@pytest.mark.parametrize("tags, why", [
    ("+draft/reply=not%20an%20id;+draft/react=👍", "must name a message id"),
    ("+draft/react=👍", "needs +draft/reply"),
    ("+draft/reply=abc-1;+draft/react=" + "👍" * 20, "at most 32 bytes"),
    ("+draft/reply=abc-1;+draft/react=a\\sb", "no spaces"),
    ("+draft/reply=abc-1;+draft/react=👍;+draft/unreact=👍", "one +draft/react"),
])
def test_malformed_reply_and_reaction_tags_are_refused(running, tags, why):
    masha = student(running, "masha")
    petya = student(running, "petya")
    masha.send(f"@{tags.replace('%20', chr(92) + 's')} TAGMSG #math")
    fail = masha.expect(r" FAIL TAGMSG ")
    assert fail.params[1:3] == ["INVALID_TAG", "#math"] and why in fail.params[-1]
    if "not%20an%20id" in tags:  # a reply that names no message refuses a PRIVMSG too
        masha.send(f"@{tags.replace('%20', chr(92) + 's')} PRIVMSG #math :with text")
        assert masha.expect(r" FAIL PRIVMSG ").params[1] == "INVALID_TAG"
    assert not [line for line in petya.sync() if "TAGMSG" in line or "with text" in line]
    assert history(petya, "#math") == []
    assert_still_served(running, petya)


def test_hostile_redacts(running):
    masha = student(running, "masha")
    msgid = say(masha, "#math", "hello")
    masha.send("REDACT #math")
    masha.expect_numeric("461")
    masha.send(f"REDACT #math {msgid} :" + "x" * 480)
    masha.expect_numeric("417")
    for _ in range(50):  # a burst of deletions of what is not there
        masha.send("REDACT #math 12345678-999")
    for _ in range(50):
        masha.expect(r" FAIL REDACT UNKNOWN_MSGID")
    stranger = running.client()
    stranger.send(f"REDACT #math {msgid}")
    stranger.expect_numeric("451")
    assert texts(history(masha, "#math")) == ["hello"]
    assert_still_served(running, masha)


def test_a_reaction_in_a_private_chat_stays_between_the_two(running):
    masha = student(running, "masha", channel="")
    petya = student(running, "petya", channel="")
    msgid = say(masha, "petya", "homework?")
    petya.send(f"@+draft/reply={msgid};+draft/react=✅ TAGMSG masha")
    assert masha.expect(r" TAGMSG masha").tags["+draft/react"] == "✅"
    lines = history(masha, "petya")
    assert [line.command for line in lines] == ["PRIVMSG", "TAGMSG"] and lines[1].source.startswith("petya!")
    assert [line.command for line in history(petya, "masha")] == ["PRIVMSG", "TAGMSG"]
    vova = student(running, "vova", channel="")
    assert history(vova, "masha") == [] and history(vova, "petya") == []


def test_irssi_reads_who_deleted_what(server, tmp_path):
    """A real plain client (irssi, no capabilities) reads the fallback NOTICE in the channel."""
    from test_interop import start_irssi

    session = start_irssi(server, tmp_path, "irssiuser")
    try:
        masha = server.connect("masha", caps=FULL)
        masha.join("#class")
        session.wait_for(r"Welcome to the classchat IRC Network")
        session.send("/join #class")
        masha.expect(r":irssiuser!\S+ JOIN #class")
        msgid = say(masha, "#class", "a typo here")
        session.wait_for(r"a typo here")
        masha.send(f"REDACT #class {msgid} :typo")
        session.wait_for(r"masha deleted a message they sent \d+ seconds? ago: typo")
    finally:
        session.kill()
