"""The slash-command table, run through a real session against the in-process server."""
from __future__ import annotations

import pytest

from common.client import events as ev
from common.client.slash_commands import (SLASH_COMMANDS, help_lines, is_secret_command, mask_secrets, needs_secret,
                                          run_input)
from common.client.session import Session, SessionConfig
from common.client.texts import CATALOGUE, describe, tr
from helpers import EventLog


@pytest.fixture
def alice(server):
    session = Session(SessionConfig(host="127.0.0.1", port=server.address[1], nick="alice", channels=("#c",),
                                    pace_rate=0))
    session.start()
    log = EventLog(session)
    log.wait_for(ev.Joined, own=True)
    yield session, log
    session.quit()


def test_help_is_written_from_the_dispatch_table():
    for lang in ("en", "ru"):
        lines = help_lines(lang)
        assert len(lines) == len(SLASH_COMMANDS) + 1
        for name in SLASH_COMMANDS:
            assert any(line.strip().startswith(f"/{name} ") for line in lines)
            assert f"help_{name}" in CATALOGUE


def test_issue_commands_are_all_there():
    chat = {"join", "part", "msg", "query", "me", "nick", "topic", "names", "list", "whois", "away", "invite",
            "kick", "mode", "op", "deop", "voice", "quote", "quit", "help"}
    teacher = {"devoice", "mute", "unmute", "ban", "unban", "oper", "announce", "endlesson", "startlesson",
               "classchannel", "kill", "attendance"}
    accounts = {"register"}
    code = {"code"}  # issue #18: code blocks
    classroom = {"hand", "vote", "call", "poll", "endpoll"}
    message_actions = {"react", "delete"}  # reactions and deleting messages
    assert set(SLASH_COMMANDS) == chat | teacher | accounts | code | classroom | message_actions


def test_teacher_commands(make_server):
    running = make_server(opers={"teacher": "secret pass"})
    session = Session(SessionConfig(host="127.0.0.1", port=running.address[1], nick="teacher", channels=("#c",),
                                    pace_rate=0))
    session.start()
    log = EventLog(session)
    try:
        log.wait_for(ev.Joined, own=True)
        bob = running.connect("bob")
        bob.join("#c")
        run_input("/oper teacher wrong", session, "#c", "en")
        assert describe(log.wait_for(ev.ErrorReply, code="464"), "en") == "Error: Wrong password"
        run_input("/oper teacher secret pass", session, "#c", "en")
        welcome = log.wait_for(ev.ServerReply, code="381")
        assert describe(welcome, "en") == "You are now signed in as the teacher."
        assert describe(welcome, "ru") == "Вы вошли как учитель."
        assert session.is_oper
        run_input("/mute bob", session, "#c", "en")
        assert bob.expect(r" MODE #c \+q ").params[2] == "bob!*@*"
        assert log.wait_for(ev.ModeChanged, modes="+q bob!*@*").changes == (("+q", "bob!*@*"),)
        assert session.is_muted("#c", "bob")
        run_input("/unmute bob", session, "#c", "en")
        bob.expect(r" MODE #c -q bob!\*@\*")
        run_input("/devoice bob", session, "#c", "en")  # bob had no voice: nothing to change
        run_input("/ban #c *!*@evil.example", session, "#c", "en")
        bob.expect(r" MODE #c \+b \*!\*@evil.example")
        run_input("/unban *!*@evil.example", session, "#c", "en")
        bob.expect(r" MODE #c -b ")
        run_input("/announce Тишина, пожалуйста", session, "#c", "en")
        assert bob.expect(r" NOTICE \$\* ").params[1] == "Тишина, пожалуйста"
        event = log.wait_for(ev.Announcement)
        assert (event.sender, event.text) == ("teacher", "Тишина, пожалуйста")
        run_input("/kill bob too loud", session, "#c", "en")
        assert any("Killed (teacher (too loud))" in line for line in bob.expect_closed())
        carol = running.connect("carol")
        run_input("/endlesson", session, "#c", "en")
        assert any("The lesson has ended)" in line for line in carol.expect_closed())
    finally:
        session.quit()


def test_plain_text_goes_to_the_current_conversation(server, alice):
    session, log = alice
    bob = server.connect("bob")
    bob.join("#c")
    assert run_input("hello #c", session, "#c", "en").sent
    assert bob.expect(r" PRIVMSG #c ").params[1] == "hello #c"
    assert run_input("//not a command", session, "#c", "en").sent
    assert bob.expect(r" PRIVMSG #c ").params[1] == "/not a command"
    result = run_input("nowhere to go", session, None, "en")
    assert not result.sent and "/join" in result.output[0]


def test_channel_and_user_commands(server, alice):
    session, log = alice
    bob = server.connect("bob")
    bob.join("#c")
    run_input("/me смеётся", session, "#c", "ru")
    assert bob.expect(r" PRIVMSG #c ").params[1] == "\x01ACTION смеётся\x01"
    run_input("/msg bob secret words", session, "#c", "en")
    assert bob.expect(r" PRIVMSG bob ").params[1] == "secret words"
    result = run_input("/query bob hi there", session, "#c", "en")
    assert result.switch_to == "bob"
    assert bob.expect(r" PRIVMSG bob ").params[1] == "hi there"
    run_input("/topic Новая тема", session, "#c", "en")
    assert bob.expect(r" TOPIC #c ").params[1] == "Новая тема"
    run_input("/op bob", session, "#c", "en")
    bob.expect(r" MODE #c \+o bob")
    run_input("/deop bob", session, "#c", "en")
    bob.expect(r" MODE #c -o bob")
    run_input("/voice bob", session, "#c", "en")
    bob.expect(r" MODE #c \+v bob")
    run_input("/mode +m", session, "#c", "en")
    bob.expect(r" MODE #c \+m")
    run_input("/invite bob #c2", session, "#c", "en")
    bob.expect(r" INVITE bob #c2")
    run_input("/kick bob out you go", session, "#c", "en")
    assert bob.expect(r" KICK #c bob").params[2] == "out you go"
    run_input("/quote PRIVMSG bob :raw line", session, "#c", "en")
    assert bob.expect(r" PRIVMSG bob ").params[1] == "raw line"
    run_input("/whois bob", session, "#c", "en")
    assert "bob is ~bob@127.0.0.1" in log.wait_for(ev.ServerReply, code="311").text
    result = run_input("/join #второй", session, "#c", "en")
    assert result.switch_to == "#второй"
    log.wait_for(ev.Joined, channel="#второй", own=True)
    result = run_input("/part #второй пока", session, "#второй", "en")
    assert result.close == "#второй"
    log.wait_for(ev.Parted, channel="#второй", own=True)
    run_input("/nick alicia", session, "#c", "en")
    log.wait_for(ev.NickChanged, new="alicia", own=True)
    run_input("/away back soon", session, "#c", "en")
    log.wait_for(ev.ServerReply, code="306")
    assert run_input("/quit bye", session, "#c", "en").quit


def test_bad_input_gets_usage_or_an_error(alice):
    session, _ = alice
    assert "Usage: /join" in run_input("/join", session, "#c", "en").output[0]
    assert "Использование: /msg" in run_input("/msg bob", session, "#c", "ru").output[0]
    assert "/help" in run_input("/frobnicate", session, "#c", "en").output[0]
    assert "/help" in help_lines("en")[-1]
    assert not run_input("   ", session, "#c", "en").sent


def test_help_rows_keep_a_space_between_usage_and_text():
    for lang in ("en", "ru"):
        rows = help_lines(lang)[1:]
        for name, row in zip(SLASH_COMMANDS, rows):
            text = tr(f"help_{name}", lang)
            assert row.endswith(text) and row[:-len(text)].endswith("  "), row
        assert len({len(row) - len(tr(f"help_{name}", lang)) for name, row in zip(SLASH_COMMANDS, rows)}) == 1


def test_every_numeric_a_client_shows_is_worded_in_both_languages():
    """By number: the server's English text is only the fallback for numerics no table here knows."""
    from common.client.handlers import _SILENT_NUMERICS
    from common.client.numeric_texts import NUMERIC_TEXTS
    from common.protocol import numerics as rpl
    codes = {value for name, value in vars(rpl).items() if name.startswith(("RPL_", "ERR_"))}
    own_events = {rpl.RPL_TOPIC, rpl.RPL_NOTOPIC}  # TopicChanged, in the catalogue's words
    servers_words = {rpl.RPL_MOTD}  # the message of the day is what the teacher wrote
    shown = codes - _SILENT_NUMERICS - own_events - servers_words
    assert not [code for code in shown if set(NUMERIC_TEXTS.get(code, ())) != {"en", "ru"}]


def test_numerics_read_in_russian_and_without_jargon(server, alice):
    session, log = alice
    owner = server.connect("owner")
    owner.join("#locked")
    owner.send("MODE #locked +k sesame")
    owner.expect(r" MODE #locked \+k")
    owner.join("#owned")
    bob = server.connect("bob")
    bob.join("#c")

    def error_after(line: str, code: str, lang: str = "ru") -> str:
        run_input(line, session, "#c", lang)
        return describe(log.wait_for(ev.ErrorReply, code=code), lang)

    assert error_after("/join #locked", "475") == "Ошибка: Нельзя войти в #locked: нужен ключ (/join #locked КЛЮЧ)"
    assert error_after("/join #" + "x" * 60, "403").endswith(": нет такого канала или недопустимое имя канала")
    run_input("/join #owned", session, "#c", "ru")
    log.wait_for(ev.Joined, channel="#owned", own=True)
    assert error_after("/kick #owned owner", "482") == "Ошибка: Это могут только операторы #owned"
    assert error_after("/kill bob", "481") == "Ошибка: Это может только учитель"
    assert error_after("/kill bob", "481", "en") == "Error: Only the teacher can do that"
    assert error_after("/msg nobody hi", "401") == "Ошибка: Здесь нет nobody (нет такого ника или канала)"
    run_input("/whois bob", session, "#c", "ru")
    assert describe(log.wait_for(ev.ServerReply, code="311"), "ru") == "bob — это ~bob@127.0.0.1 (Test user bob)"
    assert describe(log.wait_for(ev.ServerReply, code="319"), "ru") == "bob в каналах: #c"
    run_input("/quote LUSERS", session, "#c", "ru")
    assert describe(log.wait_for(ev.ServerReply, code="265"), "ru").startswith("Сейчас в сети: 3 "), "alice, owner and bob"
    unknown = ev.ServerReply("999", "Some server's own words", ("Some server's own words",))
    assert describe(unknown, "ru") == "Some server's own words", "an unknown numeric keeps the server's text"


def test_names_reply_lists_members_operators_first(server, alice):
    session, log = alice
    for nick in ("zed", "bob"):
        server.connect(nick).join("#c")
    assert run_input("/names", session, "#c", "en").sent
    names = log.wait_for(ev.NamesList, channel="#c")
    assert names.members == (("@", "alice"), ("", "bob"), ("", "zed"))
    assert describe(names, "ru") == "В #c (3): @alice bob zed"


def test_secret_lines_are_recognised_and_masked():
    assert is_secret_command("/oper teacher secret pass") and is_secret_command("/OPER teacher")
    assert mask_secrets("/oper teacher secret pass") == "/oper teacher ********"
    assert needs_secret("/oper teacher") and not needs_secret("/oper teacher pw") and not needs_secret("/oper")
    assert mask_secrets("/quote PASS hunter2") == "/quote PASS ********"
    assert mask_secrets("/msg NickServ IDENTIFY hunter2") == "/msg NickServ IDENTIFY ********"
    assert is_secret_command("/register alice@example.org hunter2"), "a later /register is covered too"
    for harmless in ("/msg bob the password is on the board", "oper teacher", "//oper x y", "/join #oper"):
        assert not is_secret_command(harmless) and mask_secrets(harmless) == harmless
