"""The server's commands, as transcripts over real sockets to an in-process server."""
from __future__ import annotations

import re



def test_registration_burst_advertises_isupport_and_motd(server):
    alice = server.client()
    alice.send("NICK alice")
    alice.send("USER alice 0 * :Alice Liddell")
    welcome = alice.expect_numeric("001")
    assert welcome.params[0] == "alice" and "alice!~alice@127.0.0.1" in welcome.params[1]
    alice.expect_numeric("002")
    alice.expect_numeric("003")
    myinfo = alice.expect_numeric("004")
    assert myinfo.params[1] == "classchat.local"
    isupport = " ".join(" ".join(reply.params) for reply in alice.collect_until("005|251", "251"))
    for token in ("CASEMAPPING=rfc1459", "CHANTYPES=#", "PREFIX=(Yov)!@+", "CHANMODES=beIq,k,l,CimnpstU",
                  "EXTBAN=$,a", "EXCEPTS=e", "INVEX=I", "ELIST=CMNTU", "MAXLIST=b:100,e:100,I:100,q:100",
                  "NICKLEN=30", "CHANNELLEN=50", "TOPICLEN=390", "NETWORK=classchat", "UTF8ONLY"):
        assert token in isupport.split()
    alice.expect_numeric("375")
    assert "Welcome to classchat" in alice.expect_numeric("372").params[1]
    alice.expect_numeric("376")


def test_commands_before_registration_are_refused(server):
    client = server.client()
    client.send("JOIN #general")
    assert client.expect_numeric("451").params[0] == "*"
    client.send("FROBNICATE")
    client.expect_numeric("451")


def test_unknown_command_and_missing_parameters(server):
    alice = server.connect("alice")
    alice.send("FROBNICATE now")
    assert alice.expect_numeric("421").params[1] == "FROBNICATE"
    alice.send("JOIN")
    assert alice.expect_numeric("461").params[1] == "JOIN"
    alice.send("USER a b c :d")
    alice.expect_numeric("462")


def test_nick_errors_and_case_insensitive_cyrillic_nicks(server):
    vasya = server.connect("Вася")
    other = server.client()
    other.send("NICK ВАСЯ")
    assert other.expect_numeric("433").params[1] == "ВАСЯ"
    other.send("NICK 1abc")
    other.expect_numeric("432")
    other.send("NICK")
    other.expect_numeric("431")
    other.send("NICK Петя")
    other.send("USER petya 0 * :Петя")
    other.expect_numeric("001")
    vasya.send("WHOIS петя")
    assert vasya.expect_numeric("311").params[1] == "Петя"


def test_nick_change_is_seen_by_channel_peers(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    alice.send("NICK alicia")
    assert alice.expect(r" NICK ").source == "alice!~alice@127.0.0.1"
    change = bob.expect(r" NICK ")
    assert change.source_nick == "alice" and change.params == ["alicia"]


def test_server_password(make_server):
    running = make_server(password="s3cret")
    wrong = running.client()
    wrong.send("PASS nope")
    wrong.send("NICK mallory")
    wrong.send("USER m 0 * :M")
    wrong.expect_numeric("464")
    assert "Bad password" in wrong.expect(r"^ERROR ").params[0]
    wrong.expect_closed()
    running.connect("alice", password="s3cret")


def test_cap_negotiation_holds_registration(server):
    client = server.client()
    client.send("CAP LS 302")
    client.send("NICK alice")
    client.send("USER alice 0 * :A")
    caps = client.expect(r" CAP \* LS ").params[-1].split()
    assert {"message-tags", "server-time", "echo-message", "multi-prefix", "away-notify", "cap-notify",
            "batch"} <= set(caps)
    assert not any(" 001 " in line for line in client.sync()), "registered during CAP negotiation"
    client.send("CAP REQ :server-time bogus-cap")
    assert client.expect(r" CAP alice NAK ").params[-1] == "server-time bogus-cap"
    client.send("CAP REQ :server-time echo-message")
    client.expect(r" CAP alice ACK :server-time echo-message")
    client.send("CAP LIST")
    assert set(client.expect(r" CAP alice LIST ").params[-1].split()) == {"cap-notify", "echo-message", "server-time"}
    client.send("CAP FOO")
    client.expect_numeric("410")
    client.send("CAP END")
    client.expect_numeric("001")


def test_three_users_chat_in_a_channel(server):
    alice, bob, carol = server.connect("alice"), server.connect("bob"), server.connect("carol")
    alice.send("JOIN #general")
    alice.expect(r":alice!~alice@127.0.0.1 JOIN #general")
    assert alice.expect_numeric("353").params[-1] == "@alice"
    bob.join("#general")
    carol.join("#general")
    alice.expect(r":bob!\S+ JOIN #general")
    alice.send("PRIVMSG #general :Привет всем! 👋")
    for reader in (bob, carol):
        message = reader.expect(r" PRIVMSG #general ")
        assert message.source == "alice!~alice@127.0.0.1" and message.params[1] == "Привет всем! 👋"
    assert not any("PRIVMSG" in line for line in alice.sync()), "sender got its own message without echo-message"
    carol.send("PART #general :bye")
    assert bob.expect(r" PART #general").params == ["#general", "bye"]
    bob.send("NAMES #general")
    assert set(bob.expect_numeric("353").params[-1].split()) == {"@alice", "bob"}


def test_private_messages_and_errors(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.send("PRIVMSG bob :hi bob")
    assert bob.expect(r" PRIVMSG bob ").params[1] == "hi bob"
    alice.send("PRIVMSG nobody :hello?")
    alice.expect_numeric("401")
    alice.send("PRIVMSG #nowhere :hello?")
    alice.expect_numeric("403")
    alice.send("PRIVMSG")
    alice.expect_numeric("411")
    alice.send("PRIVMSG bob")
    alice.expect_numeric("412")
    alice.send("PRIVMSG bob,a,b,c,d :too many")
    assert alice.expect_numeric("407").params[1] == "d"
    assert sum(" 401 " in line for line in alice.sync()) == 3
    alice.send("NOTICE nobody :quiet")
    assert not any(re.search(r" 40\d ", line) for line in alice.sync()), "NOTICE must not get error replies"


def test_source_is_set_by_the_server(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.send(":bob!~bob@127.0.0.1 PRIVMSG bob :I am bob")
    assert bob.expect(r" PRIVMSG bob ").source == "alice!~alice@127.0.0.1"


def test_echo_message_server_time_and_client_tags(server):
    alice = server.connect("alice", caps=("echo-message", "server-time", "message-tags"))
    bob = server.connect("bob", caps=("server-time",))
    carol = server.connect("carol")
    for client in (alice, bob, carol):
        client.join("#c")
    alice.send("@+draft/react=👍;+example.com/x=a\\sb PRIVMSG #c :tagged")
    echo = alice.expect(r" PRIVMSG #c ")
    assert echo.tags["+draft/react"] == "👍" and echo.tags["+example.com/x"] == "a b"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", echo.tags["time"]) and echo.tags["msgid"]
    assert set(bob.expect(r" PRIVMSG #c ").tags) == {"time"}
    assert carol.expect(r" PRIVMSG #c ").tags == {}
    alice.send("@+typing=active TAGMSG #c")
    assert alice.expect(r" TAGMSG #c").tags["+typing"] == "active"
    assert not any("TAGMSG" in line for line in bob.sync()), "TAGMSG went to a client without message-tags"


def test_multi_prefix_names_and_who(server):
    alice = server.connect("alice", caps=("multi-prefix",))
    bob = server.connect("bob")
    alice.join("#c")
    alice.send("MODE #c +v alice")
    alice.expect(r" MODE #c \+v alice")
    alice.send("NAMES #c")
    assert alice.expect_numeric("353").params[-1] == "@+alice"
    bob.send("NAMES #c")
    assert bob.expect_numeric("353").params[-1] == "@alice"
    alice.send("WHO #c")
    who = alice.expect_numeric("352")
    assert who.params[1:7] == ["#c", "~alice", "127.0.0.1", "classchat.local", "alice", "H@+"]
    alice.expect_numeric("315")


def test_away_replies_and_away_notify(server):
    alice = server.connect("alice", caps=("away-notify",))
    bob = server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    bob.send("AWAY :at lunch")
    bob.expect_numeric("306")
    assert alice.expect(r" AWAY ").params == ["at lunch"]
    alice.send("PRIVMSG bob :are you there?")
    assert alice.expect_numeric("301").params[1:] == ["bob", "at lunch"]
    alice.send("WHO #c")
    flags = {m.params[5]: m.params[6] for m in (alice.expect_numeric("352"), alice.expect_numeric("352"))}
    assert flags["bob"] == "G" and flags["alice"] == "H@"
    bob.send("AWAY")
    bob.expect_numeric("305")
    assert alice.expect(r" AWAY$").params == []


def test_topic_lock_and_reply_on_join(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    bob.send("TOPIC #c :bob's topic")
    bob.expect_numeric("482")
    alice.send("TOPIC #c :Урок 1: сокеты")
    assert bob.expect(r" TOPIC #c ").params[1] == "Урок 1: сокеты"
    carol = server.connect("carol")
    carol.send("JOIN #c")
    assert carol.expect_numeric("332").params[2] == "Урок 1: сокеты"
    assert carol.expect_numeric("333").params[2] == "alice"
    carol.send("TOPIC #c")
    carol.expect_numeric("332")
    alice.send("MODE #c -t")
    alice.expect(r" MODE #c -t")
    bob.send("TOPIC #c :now anyone can")
    alice.expect(r" TOPIC #c :now anyone can")


def test_channel_key_limit_and_invite_only(server):
    alice, bob, carol = server.connect("alice"), server.connect("bob"), server.connect("carol")
    alice.join("#c")
    alice.send("MODE #c +kl secret 2")
    alice.expect(r" MODE #c \+kl secret 2")
    bob.send("JOIN #c")
    bob.expect_numeric("475")
    bob.send("JOIN #c wrong")
    bob.expect_numeric("475")
    bob.send("JOIN #c secret")
    bob.expect_numeric("366")
    carol.send("JOIN #c secret")
    carol.expect_numeric("471")
    alice.send("MODE #c -l+i")
    alice.expect(r" MODE #c -l\+i")
    carol.send("JOIN #c secret")
    carol.expect_numeric("473")
    alice.send("INVITE carol #c")
    assert alice.expect_numeric("341").params[1:] == ["carol", "#c"]
    assert carol.expect(r" INVITE carol #c").source_nick == "alice"
    carol.send("JOIN #c secret")
    carol.expect_numeric("366")
    alice.send("MODE #c")
    assert alice.expect_numeric("324").params[2:] == ["+intk", "secret"]
    alice.send("MODE #c +k other")
    alice.expect_numeric("467")


def test_bans_block_joining_and_speaking(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    alice.send("MODE #c +b bob")
    alice.expect(r" MODE #c \+b bob!\*@\*")
    bob.send("PRIVMSG #c :can I talk?")
    bob.expect_numeric("404")
    bob.send("PART #c")
    bob.expect(r" PART #c")
    bob.send("JOIN #c")
    bob.expect_numeric("474")
    alice.send("MODE #c b")
    assert alice.expect_numeric("367").params[2] == "bob!*@*"
    alice.expect_numeric("368")
    alice.send("MODE #c -b BOB!*@*")
    alice.expect(r" MODE #c -b bob!\*@\*")
    bob.join("#c")


def test_moderated_channel_and_voice(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    alice.send("MODE #c +m")
    alice.expect(r" MODE #c \+m")
    bob.send("PRIVMSG #c :hello")
    bob.expect_numeric("404")
    alice.send("MODE #c +v bob")
    bob.expect(r" MODE #c \+v bob")
    bob.send("PRIVMSG #c :hello now")
    alice.expect(r" PRIVMSG #c :hello now")
    outsider = server.connect("outsider")
    outsider.send("PRIVMSG #c :from outside")
    outsider.expect_numeric("404")


def test_mode_errors(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    bob.send("MODE #c +m")
    bob.expect_numeric("482")
    alice.send("MODE #c +o nobody")
    alice.expect_numeric("401")  # no such nick (RFC 2812; 441 is for a nick that exists elsewhere)
    server.connect("carol")
    alice.send("MODE #c +o carol")
    assert alice.expect_numeric("441").params[1:3] == ["carol", "#c"]
    alice.send("MODE #c +Z")
    alice.expect_numeric("472")
    alice.send("MODE #c +l many")
    alice.expect_numeric("696")
    alice.send("MODE #nope +m")
    alice.expect_numeric("403")
    alice.send("MODE bob +i")
    alice.expect_numeric("502")
    alice.send("MODE alice +i")
    alice.expect(r" MODE alice \+i")
    alice.send("MODE alice")
    assert alice.expect_numeric("221").params[1] == "+i"
    alice.send("MODE alice +o")
    assert not any(" MODE alice" in line for line in alice.sync()), "+o granted without OPER"


def test_kick(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    bob.send("KICK #c alice")
    bob.expect_numeric("482")
    alice.send("KICK #c nobody")
    alice.expect_numeric("441")
    alice.send("KICK #c bob :too noisy")
    kick = bob.expect(r" KICK #c bob")
    assert kick.params == ["#c", "bob", "too noisy"] and kick.source_nick == "alice"
    bob.send("PRIVMSG #c :still here?")
    bob.expect_numeric("404")


def test_oper_acts_as_channel_operator_everywhere(make_server):
    running = make_server(opers={"teacher": "pa55"})
    teacher, student = running.connect("teacher"), running.connect("student")
    student.join("#c")
    teacher.send("OPER teacher wrong")
    teacher.expect_numeric("464")
    teacher.send("OPER teacher pa55")
    teacher.expect(r" MODE teacher \+o")
    teacher.expect_numeric("381")
    teacher.send("KICK #c student :lesson over")
    student.expect(r" KICK #c student :lesson over")
    teacher.send("WHOIS teacher")
    teacher.expect_numeric("313")


def test_oper_without_configured_operators(server):
    alice = server.connect("alice")
    alice.send("OPER alice x")
    alice.expect_numeric("491")


def test_queries(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    alice.send("TOPIC #c :maths")
    alice.send("LIST")
    alice.expect_numeric("321")
    assert alice.expect_numeric("322").params[1:] == ["#c", "1", "maths"]
    alice.expect_numeric("323")
    bob.send("WHOIS alice")
    assert bob.expect_numeric("311").params[1:] == ["alice", "~alice", "127.0.0.1", "*", "Test user alice"]
    assert bob.expect_numeric("319").params[-1] == "@#c"
    bob.expect_numeric("312")
    bob.expect_numeric("317")
    bob.expect_numeric("318")
    bob.send("WHOIS nobody")
    bob.expect_numeric("401")
    bob.expect_numeric("318")
    bob.send("ISON alice nobody bob")
    assert bob.expect_numeric("303").params[-1] == "alice bob"
    bob.send("USERHOST alice")
    assert bob.expect_numeric("302").params[-1] == "alice=+~alice@127.0.0.1"
    bob.send("VERSION")
    assert bob.expect_numeric("351").params[1].startswith("classchat")
    bob.expect_numeric("005")
    bob.send("TIME")
    bob.expect_numeric("391")
    bob.send("LUSERS")
    assert bob.expect_numeric("251").params[-1] == "There are 2 users and 0 invisible on 1 servers"
    assert bob.expect_numeric("254").params[1] == "1"
    bob.send("MOTD")
    bob.expect_numeric("376")
    bob.send("WHO alice")
    assert bob.expect_numeric("352").params[5] == "alice"
    bob.send("PING :abc")
    assert bob.expect(r" PONG ").params == ["classchat.local", "abc"]
    bob.send("PING")
    bob.expect_numeric("409")


def test_join_several_channels_with_keys_and_join_zero(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#a")
    alice.send("MODE #a +k ka")
    alice.expect(r" MODE #a \+k ka")
    bob.send("JOIN #a,#b,#в ka")
    for name in ("#a", "#b", "#в"):
        bob.expect(rf" JOIN {name}$")
    bob.send("JOIN 0")
    for name in ("#a", "#b", "#в"):
        bob.expect(rf" PART {name}")
    bob.send("LIST")
    names = [reply.params[1] for reply in bob.collect_until("322|323", end="323")]
    assert names == ["#a"], "empty channels must not be kept"
    bob.send("JOIN bad,#ok")
    bob.expect_numeric("403")
    bob.expect(r" JOIN #ok")


def test_quit_is_relayed_and_names_drop_the_nick(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    alice.join("#c")
    bob.join("#c")
    bob.send("QUIT :see you")
    assert bob.expect(r"^ERROR ").params[0].endswith("(Quit: see you)")
    bob.expect_closed()
    assert alice.expect(r" QUIT ").params == ["Quit: see you"]
    alice.send("NAMES #c")
    assert alice.expect_numeric("353").params[-1] == "@alice"
