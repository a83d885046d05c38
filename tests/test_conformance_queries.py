"""Conformance of the query commands and the IRCv3 extensions around them, as transcripts over real sockets
to an in-process server: WHOWAS, INFO, LINKS, HELP, WHO and WHOX, SETNAME, bot mode, MONITOR and
extended-monitor, labeled-response, USER's realname, and what CAP LS and ISUPPORT advertise.

Each hostile-input test ends with ``assert_still_served``: a bystander is answered at once and a newcomer
registers.
"""
from __future__ import annotations

import pytest

from common.server.commands import COMMANDS, queries
from common.server.nick_history import NickHistory, PastNick
from helpers import assert_still_served


def client_named(running, nick: str):
    """The server's own ``Client`` for ``nick`` (for the tests that plug an account in)."""
    state = running.server.state
    with state.lock:
        return state.find_client(nick)


# ------------------------------------------------------------------ WHOWAS

def test_whowas_shows_a_user_who_quit(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    bob.send("QUIT :bye")
    bob.expect_closed()
    alice.send("WHOWAS bob")
    user = alice.expect_numeric("314")
    assert user.params[1:] == ["bob", "~bob", "127.0.0.1", "*", "Test user bob"]
    assert alice.expect_numeric("312").params[1:3] == ["bob", "classchat.local"]
    assert alice.expect_numeric("369").params[1] == "bob"


def test_whowas_keeps_the_nick_left_by_a_nick_change(server):
    alice = server.connect("alice")
    alice.send("NICK alicia")
    alice.expect(r" NICK ")
    alice.send("WHOWAS ALICE")
    assert alice.expect_numeric("314").params[1] == "alice"
    alice.expect_numeric("369")


def test_whowas_count_gives_the_newest_entries_first(server):
    watcher = server.connect("watcher")
    for realname in ("first", "second", "third"):
        visitor = server.client()
        visitor.send("NICK sam")
        visitor.send(f"USER sam 0 * :{realname}")
        visitor.expect_numeric("001")
        visitor.send("QUIT")
        visitor.expect_closed()
    watcher.send("WHOWAS sam 2")
    replies = watcher.collect_until("314|312|369", "369")
    assert [r.params[-1] for r in replies if r.command == "314"] == ["third", "second"]


def test_whowas_unknown_nick_gets_406_then_369(server):
    alice = server.connect("alice")
    alice.send("WHOWAS nobody")
    assert alice.expect_numeric("406").params[1] == "nobody"
    assert alice.expect_numeric("369").params[1] == "nobody"


def test_whowas_several_nicks_each_end_with_369(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    bob.send("QUIT")
    bob.expect_closed()
    alice.send("WHOWAS bob,nobody")
    replies = [alice.expect(r" (314|312|406|369) ") for _ in range(5)]
    assert [r.command for r in replies] == ["314", "312", "369", "406", "369"]
    assert [r.params[1] for r in replies if r.command == "369"] == ["bob", "nobody"]


def test_whowas_without_a_nick_gets_431(server):
    alice = server.connect("alice")
    alice.send("WHOWAS")
    alice.expect_numeric("431")
    alice.send("WHOWAS :")
    alice.expect_numeric("431")


def test_whowas_hostile_counts_and_comma_lists(classroom):
    bystander, student = classroom.connect("bystander"), classroom.connect("student")
    for count in ("99999999999999999999", "-5", "²", "0x10", ""):
        student.send(f"WHOWAS student {count}".rstrip())
        student.expect_numeric("406")
        student.expect_numeric("369")
    student.send("WHOWAS " + ",".join(f"n{i}" for i in range(100)))
    assert student.expect_numeric("407").params[1] == "n4"  # TARGMAX WHOWAS:4, one reply for the rest
    ends = [line for line in student.sync() if " 369 " in line]
    assert len(ends) == 4
    student.send("WHOWAS " + "x" * 480)
    assert student.expect_numeric("406").params[1] == "*"  # no 500-byte echo
    assert_still_served(classroom, bystander)


def test_nick_history_is_bounded_overall_and_per_nick():
    history = NickHistory(total=5, per_nick=2)
    for index in range(3):
        history.record(PastNick("sam", "~sam", "h", f"sam{index}"))
    assert [entry.realname for entry in history.find("SAM")] == ["sam2", "sam1"]
    for index in range(5):
        history.record(PastNick(f"n{index}", "~n", "h", "r"))
    assert len(history) == 5
    assert history.find("sam") == [] and len(history.find("n4")) == 1


# ------------------------------------------------------------------ INFO, LINKS

def test_info_lines_end_with_374(server):
    alice = server.connect("alice")
    alice.send("INFO")
    lines = alice.collect_until("371|374", "374")
    assert lines and "classchat" in lines[0].params[-1]
    assert any("classchat-1.0" in line.params[-1] for line in lines)


def test_links_lists_this_server_only(server):
    alice = server.connect("alice")
    alice.send("LINKS")
    link = alice.expect_numeric("364")
    assert link.params[1:] == ["classchat.local", "classchat.local", "0 classchat chat server"]
    assert alice.expect_numeric("365").params[1] == "*"


def test_links_with_a_mask_that_matches_nothing(server):
    alice = server.connect("alice")
    alice.send("LINKS *.example.org")
    assert alice.expect_numeric("365").params[1] == "*.example.org"
    assert not any(" 364 " in line for line in alice.sync())


def test_links_hostile_masks(classroom):
    bystander, student = classroom.connect("bystander"), classroom.connect("student")
    student.send("LINKS " + "*a" * 200 + "*b")
    assert student.expect_numeric("365").params[1] == "*"
    student.send("LINKS :")
    student.expect_numeric("364")
    student.send("LINKS a b c d e")
    student.expect_numeric("365")
    assert_still_served(classroom, bystander)


# ------------------------------------------------------------------ HELP

def test_help_without_a_topic_lists_the_commands(server):
    alice = server.connect("alice")
    alice.send("HELP")
    assert alice.expect_numeric("704").params[1] == "*"
    text = " ".join(line.params[-1] for line in alice.collect_until("705|706", "706"))
    for command in ("JOIN", "PRIVMSG", "WHOWAS", "MONITOR", "SETNAME", "HELP"):
        assert command in text.split()


def test_help_has_a_topic_for_every_command(classroom):
    alice = classroom.connect("alice")
    for command in COMMANDS:
        alice.send(f"HELP {command.lower()}")
        start = alice.expect(r" (704|524) ")
        assert start.command == "704", f"no help for {command}"
        assert start.params[1] == command
        assert alice.collect_until("705|706", "706"), f"no help text for {command}"


def test_help_unknown_topic_gets_524(server):
    alice = server.connect("alice")
    alice.send("HELP FROBNICATE")
    assert alice.expect_numeric("524").params[1] == "FROBNICATE"


def test_helpop_is_help(server):
    alice = server.connect("alice")
    alice.send("HELPOP usermodes")
    assert alice.expect_numeric("704").params[1] == "USERMODES"
    lines = alice.collect_until("705|706", "706")
    assert any(line.params[-1].startswith("B:") for line in lines)


def test_help_hostile_subjects(classroom):
    bystander, student = classroom.connect("bystander"), classroom.connect("student")
    student.send("HELP " + "x" * 490)
    assert student.expect_numeric("524").params[1] == "*"
    student.send("HELP :")
    student.expect_numeric("704")
    student.send("HELP " + ",".join(["JOIN"] * 100))
    student.expect_numeric("524")
    assert_still_served(classroom, bystander)


# ------------------------------------------------------------------ USER

def test_user_with_an_empty_realname_gets_461_and_does_not_register(server):
    client = server.client()
    client.send("NICK alice")
    client.send("USER alice 0 * :")
    assert client.expect_numeric("461").params[1] == "USER"
    assert not any(" 001 " in line for line in client.sync())
    client.send("USER alice 0 * :Alice")
    client.expect_numeric("001")


# ------------------------------------------------------------------ WHO and WHOX

def test_who_names_an_invisible_user_by_exact_nick(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    bob.send("MODE bob +i")
    bob.expect(r" MODE bob :?\+i")
    alice.send("WHO BOB")
    assert alice.expect_numeric("352").params[5] == "bob"
    alice.expect_numeric("315")


def test_who_mask_hides_an_invisible_user(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    bob.send("MODE bob +i")
    bob.expect(r" MODE bob :?\+i")
    alice.send("WHO b*")
    alice.expect_numeric("315")
    assert not any(" 352 " in line for line in alice.sync())


def test_who_mask_answers_at_most_the_budget(server, monkeypatch):
    monkeypatch.setattr(queries, "WHO_LIMIT", 3)
    alice = server.connect("alice")
    for index in range(5):
        server.connect(f"user{index}")
    alice.send("WHO user*")
    assert len(alice.collect_until("352|315", "315")) == 3


def test_who_operators_only_flag(make_server):
    running = make_server(opers={"teacher": "secret"})
    alice, teacher = running.connect("alice"), running.connect("teacher")
    teacher.send("OPER teacher secret")
    teacher.expect_numeric("381")
    alice.send("WHO * o")
    assert [m.params[5] for m in alice.collect_until("352|315", "315")] == ["teacher"]
    alice.send("WHO alice o")
    assert alice.collect_until("352|315", "315") == []


def test_who_hostile_masks(classroom):
    bystander, student = classroom.connect("bystander"), classroom.connect("student")
    student.send("WHO " + "*a" * 240 + "*b")
    assert student.expect_numeric("315").params[1] == "*"
    student.send("WHO :")
    student.expect_numeric("315")
    student.send("WHO * " + "%" * 400)
    student.expect_numeric("315")
    student.send("WHO " + ",".join(["*"] * 200))
    student.expect_numeric("315")
    assert_still_served(classroom, bystander)


def test_whox_gives_the_asked_fields_in_the_standard_order(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    alice.send("WHO #c %rnatcuhsfdlio,42")
    rows = {m.params[7]: m.params for m in alice.collect_until("354|315", "315")}
    assert rows["alice"][1:] == ["42", "#c", "~alice", "127.0.0.1", "127.0.0.1", "classchat.local", "alice", "H@",
                                 "0", rows["alice"][10], "0", "999", "Test user alice"]
    assert rows["bob"][8] == "H" and rows["bob"][12] == "n/a"


def test_whox_account_is_0_without_one_and_read_from_the_client(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.send("WHO bob %na")
    assert alice.expect_numeric("354").params[1:] == ["bob", "0"]
    bob.send("REGISTER * * bobs-password")
    bob.expect(r" REGISTER SUCCESS bob ")
    alice.send("WHO bob %na")
    assert alice.expect_numeric("354").params[1:] == ["bob", "bob"]
    alice.send("WHOIS bob")
    assert alice.expect_numeric("330").params[1:3] == ["bob", "bob"]


def test_whox_hostile_tokens_and_fields(classroom):
    bystander, student = classroom.connect("bystander"), classroom.connect("student")
    student.send("WHO student %tn,99999")
    assert student.expect_numeric("354").params[1:] == ["0", "student"]
    student.send("WHO student %tn,²")
    assert student.expect_numeric("354").params[1:] == ["0", "student"]
    student.send("WHO student %")
    assert student.expect_numeric("354").params == ["student"]
    student.send("WHO student %zzzz" + "n" * 300)
    assert student.expect_numeric("354").params[1:] == ["student"]
    assert_still_served(classroom, bystander)


def test_isupport_advertises_the_new_tokens(server):
    alice = server.client()
    alice.send("NICK alice")
    alice.send("USER alice 0 * :Alice")
    myinfo = alice.expect_numeric("004")
    assert myinfo.params[3] == "Biow"
    tokens = " ".join(" ".join(reply.params[1:-1]) for reply in alice.collect_until("005|251", "251"))
    for token in ("WHOX", "BOT=B", "MONITOR=100", "NAMELEN=128"):
        assert token in tokens.split()
    assert "WHOWAS:4" in tokens


# ------------------------------------------------------------------ SETNAME

def test_setname_changes_the_realname_and_tells_peers_with_the_cap(server):
    alice = server.connect("alice", caps=("setname",))
    bob = server.connect("bob", caps=("setname",))
    carol = server.connect("carol")
    for member in (alice, bob, carol):
        member.join("#c")
    alice.send("SETNAME :Alice Liddell")
    assert alice.expect(r" SETNAME ").params == ["Alice Liddell"]
    change = bob.expect(r" SETNAME ")
    assert change.source == "alice!~alice@127.0.0.1" and change.params == ["Alice Liddell"]
    assert not any("SETNAME" in line for line in carol.sync())
    carol.send("WHOIS alice")
    assert carol.expect_numeric("311").params[-1] == "Alice Liddell"


def test_setname_refuses_an_empty_or_too_long_realname(server):
    alice = server.connect("alice", caps=("setname",))
    alice.send("SETNAME :")
    assert alice.expect(r" FAIL ").params[:2] == ["SETNAME", "INVALID_REALNAME"]
    alice.send("SETNAME :" + "x" * 129)
    assert alice.expect(r" FAIL ").params[:2] == ["SETNAME", "INVALID_REALNAME"]
    alice.send("SETNAME")
    alice.expect_numeric("461")
    alice.send("WHOIS alice")
    assert alice.expect_numeric("311").params[-1] == "Test user alice"


# ------------------------------------------------------------------ bot mode

def test_bot_messages_carry_the_bot_tag(server):
    robot = server.connect("robot")
    tagged = server.connect("tagged", caps=("message-tags",))
    plain = server.connect("plain")
    robot.send("MODE robot +B")
    robot.expect(r" MODE robot :?\+B")
    robot.send("PRIVMSG tagged,plain :beep")
    assert "bot" in tagged.expect(r" PRIVMSG tagged ").tags
    assert plain.expect(r" PRIVMSG plain ").tags == {}


def test_bot_shows_in_whois_and_who(server):
    robot, alice = server.connect("robot"), server.connect("alice")
    robot.send("MODE robot +B")
    robot.expect(r" MODE robot :?\+B")
    alice.send("WHOIS robot")
    assert alice.expect_numeric("335").params[1] == "robot"
    alice.send("WHO robot")
    assert alice.expect_numeric("352").params[6] == "HB"
    robot.send("MODE robot -B")
    robot.expect(r" MODE robot :?-B")
    alice.send("WHOIS robot")
    assert "335" not in [reply.command for reply in alice.collect_until("3..", "318")]


# ------------------------------------------------------------------ MONITOR

def test_monitor_add_tells_who_is_online_and_offline(server):
    alice = server.connect("alice")
    server.connect("bob")
    alice.send("MONITOR + bob,carol")
    assert alice.expect_numeric("730").params[1] == "bob!~bob@127.0.0.1"
    assert alice.expect_numeric("731").params[1] == "carol"


def test_monitor_notifies_when_a_nick_registers_and_quits(server):
    alice = server.connect("alice")
    alice.send("MONITOR + Carol")
    alice.expect_numeric("731")
    carol = server.connect("carol")
    assert alice.expect_numeric("730").params[1] == "carol!~carol@127.0.0.1"
    carol.send("QUIT")
    assert alice.expect_numeric("731").params[1] == "carol"


def test_monitor_notifies_a_nick_change(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.send("MONITOR + bob,robert")
    alice.collect_until("730|731", "731")
    bob.send("NICK robert")
    assert alice.expect_numeric("731").params[1] == "bob"
    assert alice.expect_numeric("730").params[1] == "robert!~bob@127.0.0.1"


def test_monitor_list_remove_and_clear(server):
    alice = server.connect("alice")
    alice.send("MONITOR + bob,carol,dave")
    alice.send("MONITOR - carol")
    alice.send("MONITOR L")
    assert alice.expect_numeric("732").params[1].split(",") == ["bob", "dave"]
    alice.expect_numeric("733")
    alice.send("MONITOR C")
    alice.send("MONITOR L")
    assert alice.collect_until("732|733", "733") == []


def test_monitor_status(server):
    alice = server.connect("alice")
    server.connect("bob")
    alice.send("MONITOR + bob,carol")
    alice.sync()
    alice.send("MONITOR S")
    assert alice.expect_numeric("730").params[1] == "bob!~bob@127.0.0.1"
    assert alice.expect_numeric("731").params[1] == "carol"


def test_monitor_list_is_bounded(classroom):
    bystander, student = classroom.connect("bystander"), classroom.connect("student")
    for start in range(0, 120, 40):
        student.send("MONITOR + " + ",".join(f"n{i}" for i in range(start, start + 40)))
    full = student.expect_numeric("734")
    assert full.params[1] == "100" and full.params[2].startswith("n100,")
    student.send("MONITOR L")
    listed = [nick for reply in student.collect_until("732|733", "733") for nick in reply.params[1].split(",")]
    assert len(listed) == 100
    assert_still_served(classroom, bystander)


def test_monitor_hostile_input(classroom):
    bystander, student = classroom.connect("bystander"), classroom.connect("student")
    student.send("MONITOR + " + ",".join(["x"] * 250))
    assert student.expect_numeric("731").params[1] == "x"
    student.send("MONITOR + " + ",".join(["", "1bad", "*", "a" * 300]))
    student.send("MONITOR +")
    student.expect_numeric("461")
    student.send("MONITOR")
    student.expect_numeric("461")
    student.send("MONITOR X " + "y" * 400)
    student.expect_numeric("400")
    student.send("MONITOR L")
    assert student.expect_numeric("732").params[1] == "x"
    assert_still_served(classroom, bystander)


def test_monitor_lists_are_forgotten_when_the_watcher_leaves(server):
    alice = server.connect("alice")
    alice.send("MONITOR + bob")
    alice.expect_numeric("731")
    alice.send("QUIT")
    alice.expect_closed()
    server.connect("bob")  # registers with nobody to tell
    state = server.server.state
    with state.lock:
        assert state.watchers == {}


def test_extended_monitor_sends_away_of_a_monitored_nick(server):
    alice = server.connect("alice", caps=("away-notify", "extended-monitor"))
    plain = server.connect("plain", caps=("away-notify",))
    bob = server.connect("bob")
    for watcher in (alice, plain):
        watcher.send("MONITOR + bob")
        watcher.expect_numeric("730")
    bob.send("AWAY :lunch")
    bob.expect_numeric("306")
    away = alice.expect(r" AWAY ")
    assert away.source_nick == "bob" and away.params == ["lunch"]
    assert not any(" AWAY " in line for line in plain.sync())


def test_extended_monitor_sends_setname_of_a_monitored_nick(server):
    alice = server.connect("alice", caps=("setname", "extended-monitor"))
    bob = server.connect("bob")
    alice.send("MONITOR + bob")
    alice.expect_numeric("730")
    bob.send("SETNAME :Robert")
    assert alice.expect(r" SETNAME ").params == ["Robert"]


# ------------------------------------------------------------------ labeled-response

LABEL_CAPS = ("labeled-response", "batch")


def test_labeled_command_with_one_reply_gets_the_label(server):
    alice = server.connect("alice", caps=LABEL_CAPS)
    alice.send("@label=abc PING :x")
    pong = alice.expect(r" PONG ")
    assert pong.tags == {"label": "abc"}


def labeled_batch(client, label: str) -> tuple[str, list]:
    """The labeled-response batch that comes next: its reference and the replies inside. Checks that it
    opens with ``label`` and closes with its reference."""
    start = client.expect(r" BATCH \+")
    assert start.tags == {"label": label} and start.params[1] == "labeled-response"
    reference = start.params[0][1:]
    inside = []
    while (line := client.expect(r".")).command != "BATCH":
        inside.append(line)
    assert line.params == [f"-{reference}"]
    return reference, inside


def test_labeled_command_with_several_replies_gets_a_batch(server):
    alice = server.connect("alice", caps=LABEL_CAPS)
    alice.send("@label=w1 WHOIS alice")
    reference, inside = labeled_batch(alice, "w1")
    assert {m.tags.get("batch") for m in inside} == {reference}
    assert [m.command for m in inside][0] == "311" and inside[-1].command == "318"


@pytest.mark.parametrize("command, first, last", [("MOTD", "375", "376"), ("VERSION", "351", "005")])
def test_labeled_command_with_fixed_replies_batches_each_line(server, command, first, last):
    """The MOTD and ISUPPORT are encoded once and sent as one piece: still one labeled reply per line."""
    alice = server.connect("alice", caps=LABEL_CAPS)
    alice.send(f"@label=f1 {command}")
    reference, inside = labeled_batch(alice, "f1")
    assert all(m.tags == {"batch": reference} for m in inside)
    assert inside[0].command == first and inside[-1].command == last
    assert len(inside) >= 3
    alice.send("PING :still")  # and the next command's reply comes after the batch, unlabeled
    assert alice.expect(r" PONG ").tags == {}


def test_labeled_command_without_replies_gets_ack(server):
    alice = server.connect("alice", caps=LABEL_CAPS)
    server.connect("bob")
    alice.send("@label=m1 PRIVMSG bob :hi")
    ack = alice.expect(r" ACK")
    assert ack.tags == {"label": "m1"} and ack.source == "classchat.local"


def test_labeled_echo_message_carries_the_label(server):
    alice = server.connect("alice", caps=(*LABEL_CAPS, "echo-message"))
    bob = server.connect("bob", caps=LABEL_CAPS)
    alice.send("@label=e1 PRIVMSG bob :hi")
    assert alice.expect(r" PRIVMSG bob ").tags.get("label") == "e1"
    assert "label" not in bob.expect(r" PRIVMSG bob ").tags


def test_labeled_chathistory_nests_its_batch(server):
    caps = (*LABEL_CAPS, "server-time", "message-tags", "draft/chathistory")
    alice = server.connect("alice", caps=caps)
    alice.join("#c")
    alice.send("PRIVMSG #c :stored")
    alice.send("@label=h1 CHATHISTORY LATEST #c * 10")
    outer = alice.expect(r"label=h1")
    assert outer.command == "BATCH" and outer.params[1] == "labeled-response"
    inner = alice.expect(r" BATCH \+\S+ chathistory")
    assert inner.tags["batch"] == outer.params[0][1:]
    message = alice.expect(r" PRIVMSG #c ")
    assert message.tags["batch"] == inner.params[0][1:]


def test_labels_need_labeled_response_and_batch(server):
    alice = server.connect("alice", caps=("labeled-response",))
    alice.send("@label=abc PING :x")
    assert "label" not in alice.expect(r" PONG ").tags


def test_hostile_labels(classroom):
    bystander = classroom.connect("bystander")
    student = classroom.connect("student", caps=LABEL_CAPS)
    student.send("@label=" + "x" * 65 + " PING :long")
    assert student.expect(r" PONG ").tags == {}
    student.send("@label=a\\sb\\:c PING :escaped")
    assert student.expect(r" PONG ").tags == {"label": "a b;c"}
    student.send("@label= PING :empty")
    assert student.expect(r" PONG ").tags == {}
    student.send("@label=z FROBNICATE")
    assert student.expect_numeric("421").tags == {"label": "z"}
    assert_still_served(classroom, bystander)


# ------------------------------------------------------------------ CAP

def test_cap_ls_offers_the_new_capabilities(server):
    client = server.client()
    client.send("CAP LS 302")
    caps = set(client.expect(r" CAP \* LS ").params[-1].split())
    assert {"labeled-response", "setname", "extended-monitor", "batch"} <= caps


def test_cap_ls_302_splits_a_long_list(server):
    many = tuple(f"vendor.example/capability-number-{index}" for index in range(40))
    server.server.capabilities = lambda: many
    client = server.client()
    client.send("CAP LS 302")
    lines = []
    while True:
        reply = client.expect(r" CAP \* LS ")
        lines.append(reply)
        if reply.params[2] != "*":
            break
    assert len(lines) > 1
    assert all(len(reply.params) == 4 for reply in lines[:-1]) and len(lines[-1].params) == 3
    assert [cap for reply in lines for cap in reply.params[-1].split()] == list(many)
    assert all(len(f":classchat.local CAP * LS * :{reply.params[-1]}\r\n") <= 512 for reply in lines)
