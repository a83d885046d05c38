"""Conformance of the channel commands, as transcripts over real sockets to an in-process server: secret and
private channels, NAMES of several channels, KICK with several channels and users, channel keys,
userhost-in-names, ban and invite exceptions, INVITE's list, LIST's ELIST conditions, STATUSMSG and WALLOPS.

Each hostile-input test ends with ``assert_still_served``: a bystander is answered at once and a newcomer
registers.
"""
from __future__ import annotations

import pytest

from helpers import IRCTestClient, assert_still_served


def listed(client: IRCTestClient, command: str = "LIST") -> list[str]:
    client.send(command)
    return [reply.params[1] for reply in client.collect_until("321|322|323", "323") if reply.command == "322"]


# ------------------------------------------------------------------ +s, +p

def test_names_of_a_secret_channel_has_the_at_type(server):
    alice = server.connect("alice")
    alice.join("#hideout")
    alice.send("MODE #hideout +s")
    alice.expect(r" MODE #hideout \+s")
    alice.send("NAMES #hideout")
    assert alice.expect_numeric("353").params[1:] == ["@", "#hideout", "@alice"]


def test_names_of_a_private_channel_has_the_star_type(server):
    alice = server.connect("alice")
    alice.join("#study")
    alice.send("MODE #study +p")
    alice.expect(r" MODE #study \+p")
    alice.send("NAMES #study")
    assert alice.expect_numeric("353").params[1:3] == ["*", "#study"]


def test_a_secret_channel_is_hidden_from_outsiders_list_names_whois_and_who(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#hideout")
    alice.join("#open")
    alice.send("MODE #hideout +s")
    alice.expect(r" MODE #hideout \+s")
    assert listed(bob) == ["#open"]
    assert listed(alice) == ["#hideout", "#open"]
    bob.send("NAMES #hideout")
    assert bob.expect(r" 353 | 366 ").command == "366"
    bob.send("WHOIS alice")
    assert bob.expect_numeric("319").params[-1] == "@#open"
    bob.send("WHO #hideout")
    assert bob.collect_until("352|315", "315") == []


def test_secret_mode_survives_a_restart(make_server, tmp_path):
    db = str(tmp_path / "secret.sqlite3")
    first = make_server(db_path=db)
    alice = first.connect("alice")
    alice.join("#hideout")
    alice.send("MODE #hideout +se alice!*@*")
    alice.expect(r" MODE #hideout \+se ")
    alice.sync()
    first.stop()
    bob = make_server(db_path=db).connect("bob")
    assert listed(bob) == []
    bob.join("#hideout")
    bob.send("MODE #hideout")
    assert "s" in bob.expect_numeric("324").params[2]
    bob.send("MODE #hideout e")
    assert bob.expect_numeric("348").params[2] == "alice!*@*"


# ------------------------------------------------------------------ NAMES

def test_names_of_several_channels_answers_each_with_its_own_end(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#a")
    bob.join("#b")
    alice.send("NAMES #a,#b,#nowhere")
    replies = [alice.expect(r" (353|366) ") for _ in range(5)]
    assert [(r.command, r.params[-2] if r.command == "353" else r.params[1]) for r in replies] == [
        ("353", "#a"), ("366", "#a"), ("353", "#b"), ("366", "#b"), ("366", "#nowhere")]


def test_names_with_a_huge_list_answers_four_channels(classroom):
    student, bystander = classroom.connect("student"), classroom.connect("bystander")
    student.send("NAMES " + ",".join(f"#c{index}" for index in range(80)) + ",,,")
    assert student.expect_numeric("407").params[1] == "#c4"
    lines = student.sync()
    assert sum(" 366 " in line for line in lines) == 4
    assert_still_served(classroom, bystander)


# ------------------------------------------------------------------ KICK

def test_kick_one_channel_several_users(server):
    alice, bob, carol = server.connect("alice"), server.connect("bob"), server.connect("carol")
    for client in (alice, bob, carol):
        client.join("#room")
    alice.send("KICK #room bob,carol :enough")
    assert alice.expect(r" KICK ").params == ["#room", "bob", "enough"]
    assert alice.expect(r" KICK ").params == ["#room", "carol", "enough"]


def test_kick_pairs_channels_with_users(server):
    alice, bob, carol = server.connect("alice"), server.connect("bob"), server.connect("carol")
    alice.join("#one")
    alice.join("#two")
    bob.join("#one")
    carol.join("#two")
    alice.send("KICK #one,#two bob,carol")
    assert alice.expect(r" KICK ").params[:2] == ["#one", "bob"]
    assert alice.expect(r" KICK ").params[:2] == ["#two", "carol"]


def test_kick_with_unequal_channels_and_users_is_refused(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#one")
    bob.join("#one")
    alice.send("KICK #one,#two bob,carol,dave")
    assert alice.expect_numeric("461").params[1] == "KICK"
    assert not any(" KICK " in line for line in bob.sync())


def test_kick_with_a_huge_list_kicks_at_most_four(classroom):
    teacher, bystander = classroom.connect("teacher"), classroom.connect("bystander")
    teacher.join("#room")
    bystander.join("#room")
    teacher.send("KICK #room " + ",".join(["ghost"] * 70 + ["bystander"]))
    lines = teacher.sync()
    assert sum(" 441 " in line for line in lines) == 3  # four tried, repeated errors collapsed to three
    assert not any(" KICK " in line for line in lines)
    assert_still_served(classroom, bystander)


# ------------------------------------------------------------------ keys

def test_an_overlong_key_is_refused_without_being_echoed(classroom):
    alice, bystander = classroom.connect("alice"), classroom.connect("bystander")
    alice.join("#locked")
    key = "k" * 400
    alice.send(f"MODE #locked +k {key}")
    refused = alice.expect_numeric("696")
    assert refused.params[2:4] == ["k", "*"] and key[:10] not in " ".join(refused.params)
    assert_still_served(classroom, bystander)


def test_an_overlong_join_key_is_refused_without_being_echoed(classroom):
    alice, bystander = classroom.connect("alice"), classroom.connect("bystander")
    alice.join("#locked")
    alice.send("MODE #locked +k secret")
    alice.expect(r" MODE #locked \+k ")
    bystander.send("JOIN #locked " + "k" * 400)
    refused = bystander.expect_numeric("475")
    assert "kkkkkkkkkk" not in " ".join(refused.params)
    assert_still_served(classroom, alice)


# ------------------------------------------------------------------ userhost-in-names

def test_userhost_in_names_is_acked_and_shows_full_addresses(server):
    alice = server.connect("alice", caps=("multi-prefix", "userhost-in-names"))
    bob = server.connect("bob")
    alice.join("#room")
    bob.join("#room")
    alice.send("NAMES #room")
    assert set(alice.expect_numeric("353").params[-1].split()) == {"@alice!~alice@127.0.0.1", "bob!~bob@127.0.0.1"}
    bob.send("NAMES #room")
    assert set(bob.expect_numeric("353").params[-1].split()) == {"@alice", "bob"}


# ------------------------------------------------------------------ +e, +I

def test_a_ban_exception_lifts_a_ban(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#room")
    alice.send("MODE #room +be *!*@* bob!*@*")
    alice.expect(r" MODE #room \+be ")
    bob.join("#room")
    carol = server.connect("carol")
    carol.send("JOIN #room")
    carol.expect_numeric("474")


def test_an_account_ban_exception_matches_by_account(server):
    alice = server.connect("alice")
    alice.join("#room")
    alice.send("MODE #room +e $a:masha")
    assert alice.expect(r" MODE #room \+e ").params[-1] == "$a:masha"
    alice.send("MODE #room e")
    assert alice.expect_numeric("348").params[1:3] == ["#room", "$a:masha"]
    assert alice.expect_numeric("349").params[1] == "#room"


def test_an_invite_exception_lifts_invite_only(server):
    alice, bob, carol = server.connect("alice"), server.connect("bob"), server.connect("carol")
    alice.join("#room")
    alice.send("MODE #room +iI bob!*@*")
    alice.expect(r" MODE #room \+iI ")
    bob.join("#room")
    carol.send("JOIN #room")
    carol.expect_numeric("473")
    alice.send("MODE #room I")
    assert alice.expect_numeric("346").params[2] == "bob!*@*"
    alice.expect_numeric("347")


def test_exception_lists_are_bounded_and_refuse_pathological_masks(classroom):
    alice, bystander = classroom.connect("alice"), classroom.connect("bystander")
    alice.join("#room")
    for start in range(0, 104, 4):
        alice.send(f"MODE #room +eeee " + " ".join(f"m{index}!*@*" for index in range(start, start + 4)))
    assert any(" 478 " in line for line in alice.sync())
    alice.send("MODE #room +I " + "*a" * 99 + "b" + "!" * 60)
    alice.expect_numeric("696")
    alice.send("MODE #room +e :")
    alice.expect_numeric("696")
    alice.send("MODE #room e")
    assert len(alice.collect_until("348|349", "349")) == 100
    assert_still_served(classroom, bystander)


def test_invite_without_parameters_lists_pending_invitations(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#room")
    alice.send("INVITE bob #room")
    bob.expect(r" INVITE bob #room")
    bob.send("INVITE")
    assert bob.expect_numeric("336").params[1] == "#room"
    bob.expect_numeric("337")
    bob.join("#room")
    bob.send("INVITE")
    assert bob.expect(r" (336|337) ").command == "337"


# ------------------------------------------------------------------ ELIST

def test_list_filters_by_mask_and_negative_mask(server):
    alice = server.connect("alice")
    for name in ("#python", "#pygame", "#math"):
        alice.join(name)
    assert listed(alice, "LIST #py*") == ["#pygame", "#python"]
    assert listed(alice, "LIST !#py*") == ["#math"]


def test_list_filters_by_user_count(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#busy")
    alice.join("#quiet")
    bob.join("#busy")
    assert listed(alice, "LIST >1") == ["#busy"]
    assert listed(alice, "LIST <2") == ["#quiet"]


def test_list_filters_by_creation_and_topic_time(server):
    alice = server.connect("alice")
    alice.join("#new")
    alice.send("TOPIC #new :fresh")
    alice.expect(r" TOPIC #new ")
    assert listed(alice, "LIST C<5") == ["#new"]
    assert listed(alice, "LIST C>5") == []
    assert listed(alice, "LIST T<5") == ["#new"]
    assert listed(alice, "LIST T>5") == []


@pytest.mark.parametrize("conditions", ["<99999999999999999999", ">²", "C<-1", "T>", ",".join(["#a"] * 3 + [
    f"#c{index}" for index in range(50)]), "*a" * 99 + "b", ""])
def test_list_with_hostile_conditions_stays_bounded(classroom, conditions):
    student, bystander = classroom.connect("student"), classroom.connect("bystander")
    bystander.join("#aaaa")
    student.send(f"LIST {conditions}")
    student.expect(r" (400|407|323) ")
    assert_still_served(classroom, bystander)


# ------------------------------------------------------------------ STATUSMSG, WALLOPS

def test_statusmsg_to_operators_reaches_only_operators(server):
    alice, bob, carol = server.connect("alice"), server.connect("bob"), server.connect("carol")
    for client in (alice, bob, carol):
        client.join("#room")
    alice.send("MODE #room +v bob")
    alice.expect(r" MODE #room \+v ")
    carol.send("PRIVMSG @#room :for the teacher")
    assert alice.expect(r" PRIVMSG ").params == ["@#room", "for the teacher"]
    carol.send("PRIVMSG +#room :for the helpers")
    assert bob.expect(r" PRIVMSG ").params == ["+#room", "for the helpers"]
    assert alice.expect(r" PRIVMSG ").params[0] == "+#room"
    assert not any("PRIVMSG" in line for line in carol.sync())


def test_statusmsg_advertised_and_refused_to_outsiders(classroom):
    alice, outsider = classroom.connect("alice"), classroom.connect("outsider")
    alice.join("#room")
    outsider.send("PRIVMSG @#room :let me in")
    outsider.expect_numeric("404")
    outsider.send("PRIVMSG @#nowhere,+#,@,!# :x")
    outsider.expect_numeric("403")
    outsider.send("VERSION")
    outsider.send("PING :end")
    assert any("STATUSMSG=!@+" in line for line in outsider.lines_until(r" PONG "))
    assert_still_served(classroom, alice)


def test_wallops_reaches_users_with_mode_w_and_only_operators_send(make_server):
    running = make_server(opers={"teacher": "secret"}, flood_rate=0)
    teacher, alice, bob = running.connect("teacher"), running.connect("alice"), running.connect("bob")
    teacher.send("OPER teacher secret")
    teacher.expect_numeric("381")
    alice.send("MODE alice +w")
    alice.expect(r" MODE alice \+w")
    bob.send("WALLOPS :hello")
    bob.expect_numeric("481")
    teacher.send("WALLOPS :the test starts in five minutes")
    assert alice.expect(r" WALLOPS ").params == ["the test starts in five minutes"]
    assert not any("WALLOPS" in line for line in bob.sync())
    teacher.send("WALLOPS :" + "x" * 600)
    teacher.send("WALLOPS")
    teacher.expect_numeric("461")
    assert_still_served(running, bob)


# ------------------------------------------------------------------ RENAME

def test_rename_tells_clients_with_the_cap_and_rejoins_the_others(server):
    alice = server.connect("alice", caps=("draft/channel-rename",))
    bob = server.connect("bob")
    alice.join("#old")
    bob.join("#old")
    alice.send("RENAME #old #new :a better name")
    assert alice.expect(r" RENAME ").params == ["#old", "#new", "a better name"]
    assert bob.expect(r" PART ").params[0] == "#old"
    assert bob.expect(r" JOIN ").params[0] == "#new"
    assert set(bob.expect_numeric("353").params[-1].split()) == {"@alice", "bob"}
    bob.send("PRIVMSG #new :still here")
    assert alice.expect(r" PRIVMSG ").params == ["#new", "still here"]
    bob.send("NAMES #old")
    assert bob.expect(r" (353|366) ").command == "366"


def test_rename_needs_a_channel_operator(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#old")
    bob.join("#old")
    bob.send("RENAME #old #mine")
    bob.expect_numeric("482")


def test_rename_refuses_a_name_in_use_and_hostile_names(classroom):
    alice, bystander = classroom.connect("alice"), classroom.connect("bystander")
    alice.join("#old")
    bystander.join("#taken")
    alice.send("RENAME #old #taken")
    assert alice.expect(r" FAIL RENAME ").params[1:4] == ["CHANNEL_NAME_IN_USE", "#old", "#taken"]
    for hostile in ("#" + "x" * 400, "nochannel", "#a,b", ":", "::x"):
        alice.send(f"RENAME #old {hostile}")
        assert alice.expect(r" FAIL RENAME | 461 ").command in ("FAIL", "461")
    alice.send("RENAME #OLD #Old")
    assert alice.expect(r" PART | JOIN ").params[0] in ("#old", "#Old")
    assert_still_served(classroom, bystander)
