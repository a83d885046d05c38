"""IRCv3 draft/read-marker (MARKREAD), as transcripts over real sockets to an in-process server with its
history in a real SQLite file: asking and setting a marker, the later one winning, the marker after JOIN,
a logged-in student's marker on another computer, a guest's marker kept from a namesake elsewhere, a
restart, and hostile input (which ends with ``assert_still_served``)."""
from __future__ import annotations

import base64

import pytest

from common.protocol.message import parse
from helpers import IRCTestClient, assert_still_served

CAP = "draft/read-marker"
REPLY = r"^:\S+ MARKREAD "  # not a FAIL MARKREAD
EARLY, LATE = "2026-01-05T09:00:00.000Z", "2026-01-05T10:30:00.250Z"


@pytest.fixture
def db(tmp_path) -> str:
    """A history database holding the student account ("masha", "masha-password")."""
    from common.server.accounts import AccountStore

    path = str(tmp_path / "h.sqlite3")
    store = AccountStore(path)
    store.create("masha", "masha-password")
    store.close()
    return path


@pytest.fixture
def running(make_server, db):
    return make_server(db_path=db, login_delay=0.01)


def log_in(running, nick: str, account: str, password: str, address: str | None = None) -> IRCTestClient:
    """Register with SASL PLAIN and the read-marker capability, from ``address`` (another computer)."""
    client = running.client(**({"source_address": address} if address else {}))
    client.nick = nick
    client.send("CAP LS 302")
    client.send(f"NICK {nick}")
    client.send(f"USER {nick} 0 * :{nick}")
    client.expect(r" CAP \S+ LS ")
    client.send(f"CAP REQ :sasl {CAP}")
    client.expect(r" CAP \S+ ACK ")
    client.send("AUTHENTICATE PLAIN")
    client.expect(r"^AUTHENTICATE \+")
    client.send("AUTHENTICATE " + base64.b64encode(f"\0{account}\0{password}".encode()).decode())
    client.expect(r" 903 ")
    client.send("CAP END")
    client.expect_numeric("376|422")
    return client


def guest(running, nick: str, address: str | None = None) -> IRCTestClient:
    return running.client(**({"source_address": address} if address else {})).register(nick, caps=(CAP,))


def join(client: IRCTestClient, channel: str) -> list[str]:
    """JOIN a channel; the parameters of the MARKREAD that comes with it, just before its 366."""
    client.send(f"JOIN {channel}")
    lines = client.lines_until(r" 366 ")
    return parse(next(line for line in reversed(lines) if " MARKREAD " in line)).params


def marker(client: IRCTestClient, target: str) -> list[str]:
    client.send(f"MARKREAD {target}")
    return client.expect(REPLY).params


def test_the_capability_is_offered_with_history_only(make_server, running):
    for server, offered in ((running, True), (make_server(history=False), False)):
        client = server.client()
        client.send("CAP LS 302")
        assert (CAP in client.expect(r" CAP \S+ LS ").params[-1].split()) is offered


def test_set_then_get_a_marker(running):
    alice = guest(running, "alice")
    assert marker(alice, "bob") == ["bob", "*"]
    alice.send(f"MARKREAD bob timestamp={EARLY}")
    assert alice.expect(REPLY).params == ["bob", f"timestamp={EARLY}"]
    assert marker(alice, "BOB") == ["BOB", f"timestamp={EARLY}"]


def test_a_later_marker_wins_and_an_earlier_one_is_refused(running):
    alice = guest(running, "alice")
    assert join(alice, "#room") == ["#room", "*"]
    alice.send(f"MARKREAD #room timestamp={LATE}")
    assert alice.expect(REPLY).params == ["#room", f"timestamp={LATE}"]
    alice.send(f"MARKREAD #room timestamp={EARLY}")
    assert alice.expect(REPLY).params == ["#room", f"timestamp={LATE}"]
    assert marker(alice, "#ROOM") == ["#room", f"timestamp={LATE}"]


def test_the_marker_comes_after_join_before_the_end_of_names(running):
    """read-marker: "The command MUST be sent before the RPL_ENDOFNAMES reply for that channel following
    the JOIN"."""
    alice = guest(running, "alice")
    alice.send("JOIN #room")
    lines = alice.lines_until(r" 366 ")
    assert any(" JOIN #room" in line for line in lines) and lines[-2].endswith("MARKREAD #room *"), lines
    alice.send(f"MARKREAD #room timestamp={EARLY}")
    alice.expect(REPLY)
    alice.send("PART #room")
    alice.expect(r" PART #room")
    alice.send("JOIN #room")
    lines = alice.lines_until(r" 366 ")
    assert lines[-2].endswith(f"MARKREAD #room timestamp={EARLY}"), lines
    plain = running.connect("plain")  # without the capability: no MARKREAD at all
    plain.send("JOIN #room")
    plain.send("MARKREAD #room")
    assert plain.expect(r" 421 ").params[1] == "MARKREAD"
    assert not any("MARKREAD #room" in line for line in plain.sync())


def test_an_account_marker_follows_the_student_to_another_computer(running):
    first = log_in(running, "masha", "masha", "masha-password")
    other = log_in(running, "masha_", "masha", "masha-password", address="127.0.0.2")
    assert join(first, "#math") == ["#math", "*"]
    first.send(f"MARKREAD #math timestamp={LATE}")
    assert first.expect(REPLY).params == ["#math", f"timestamp={LATE}"]
    # Every connection of the account with the capability is told.
    assert other.expect(REPLY).params == ["#math", f"timestamp={LATE}"]
    assert join(other, "#math") == ["#math", f"timestamp={LATE}"]
    first.send("QUIT")
    first.expect_closed()
    later = log_in(running, "masha", "masha", "masha-password", address="127.0.0.3")
    assert marker(later, "#math") == ["#math", f"timestamp={LATE}"]


def test_a_guest_marker_does_not_leak_to_a_namesake_on_another_computer(running):
    kid = guest(running, "kid")
    join(kid, "#room")
    kid.send(f"MARKREAD #room timestamp={EARLY}")
    kid.expect(rf" MARKREAD #room timestamp={EARLY}")
    kid.send("QUIT")
    kid.expect_closed()
    namesake = guest(running, "kid", address="127.0.0.2")
    assert join(namesake, "#room") == ["#room", "*"]
    namesake.send("QUIT")
    namesake.expect_closed()
    back = guest(running, "kid")  # the same nick from the same computer: the same guest
    assert join(back, "#room") == ["#room", f"timestamp={EARLY}"]


def test_markers_survive_a_restart(make_server, db):
    first = make_server(db_path=db, login_delay=0.01)
    alice = guest(first, "alice")
    alice.send(f"MARKREAD bob timestamp={EARLY}")
    alice.expect(REPLY)
    masha = log_in(first, "masha", "masha", "masha-password")
    join(masha, "#math")
    masha.send(f"MARKREAD #math timestamp={LATE}")
    masha.expect(REPLY)
    first.stop()
    second = make_server(db_path=db, login_delay=0.01)
    assert marker(guest(second, "alice"), "bob") == ["bob", f"timestamp={EARLY}"]
    masha = log_in(second, "masha", "masha", "masha-password", address="127.0.0.2")
    assert join(masha, "#math") == ["#math", f"timestamp={LATE}"]


def test_one_row_per_person_and_conversation(running, db):
    import sqlite3

    alice = guest(running, "alice")
    for second in range(5):
        alice.send(f"MARKREAD #room timestamp=2026-01-05T09:00:0{second}.000Z")
    join(alice, "#room")
    for second in range(5):
        alice.send(f"MARKREAD #room timestamp=2026-01-05T09:00:0{second}.000Z")
        alice.expect(REPLY)
    with sqlite3.connect(db) as check:
        assert check.execute("SELECT count(*) FROM read_markers").fetchone()[0] == 1


@pytest.mark.parametrize("line, reply", [
    ("MARKREAD", "FAIL MARKREAD NEED_MORE_PARAMS :"),
    ("MARKREAD #room timestamp=yesterday", "FAIL MARKREAD INVALID_PARAMS #room :"),
    ("MARKREAD #room timestamp=", "FAIL MARKREAD INVALID_PARAMS #room :"),
    ("MARKREAD #room 2026-01-05T09:00:00.000Z", "FAIL MARKREAD INVALID_PARAMS #room :"),
    ("MARKREAD #room timestamp=99999-01-01T00:00:00Z", "FAIL MARKREAD INVALID_PARAMS #room :"),
    ("MARKREAD #room timestamp=0001-01-01T00:00:00Z", "FAIL MARKREAD INVALID_PARAMS #room :"),
    ("MARKREAD #room timestamp=²⁰²⁶-01-05T09:00:00Z", "FAIL MARKREAD INVALID_PARAMS #room :"),
    ("MARKREAD #nowhere", "FAIL MARKREAD INVALID_PARAMS #nowhere :"),
    ("MARKREAD " + "x" * 400, "FAIL MARKREAD INVALID_PARAMS " + "x" * 64 + " :"),
    ("MARKREAD #" + "y" * 400 + " timestamp=" + EARLY, "FAIL MARKREAD INVALID_PARAMS #" + "y" * 63 + " :"),
    ("MARKREAD :has space", "FAIL MARKREAD INVALID_PARAMS * :"),
    ("MARKREAD ::colon", "FAIL MARKREAD INVALID_PARAMS * :"),
    ("MARKREAD 1digit", "FAIL MARKREAD INVALID_PARAMS 1digit :"),
])
def test_hostile_markread_is_refused_and_the_server_goes_on(running, line, reply):
    bystander = running.connect("bystander")
    mallory = guest(running, "mallory")
    join(mallory, "#room")
    mallory.send(line)
    assert reply in mallory.lines_until(r" FAIL MARKREAD ")[-1]
    assert_still_served(running, bystander)
