"""A server that stays safe on a classroom network: TLS, limits at their edges, operator secrets kept off
the command line, and logs that no client can forge."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from common.client.events import ConnectionState
from common.client.session import Session, SessionConfig
from common.protocol.tls import certificate_fingerprint
from helpers import PROJECT_ROOT, EventLog, IRCTestClient, trusting


# ---------------------------------------------------------------- TLS

@pytest.fixture
def tls_server(make_server, certificate):
    cert, key = certificate
    return make_server(tls_cert=cert, tls_key=key)


def test_tls_and_plain_clients_talk_to_each_other(tls_server, certificate):
    alice = IRCTestClient(tls_server.server.tls_address, tls=trusting(certificate[0])).register("alice")
    bob = tls_server.connect("bob")
    alice.join("#class")
    bob.join("#class")
    alice.send("PRIVMSG #class :зашифровано " + "ж" * 200)
    assert bob.expect(r" PRIVMSG #class ").params[1] == "зашифровано " + "ж" * 200
    bob.send("PRIVMSG #class :plain reply")
    alice.expect("plain reply")
    alice.send("QUIT :bye")
    assert any("Closing Link" in line for line in alice.expect_closed())


def test_session_pins_a_self_signed_certificate(tls_server, certificate):
    address = tls_server.server.tls_address
    pin = certificate_fingerprint(certificate[0])
    session = Session(SessionConfig(host=address[0], port=address[1], nick="alice", tls_pin=pin,
                                    channels=("#class",), reconnect=False))
    session.start()
    try:
        assert session.wait_joined("#class", 5)
        bob = tls_server.connect("bob")
        bob.join("#class")
        session.send_text("#class", "привет по TLS")
        assert bob.expect(r" PRIVMSG #class ").params[1] == "привет по TLS"
    finally:
        session.quit("done")

    wrong = "AA" * 32
    rejected = Session(SessionConfig(host=address[0], port=address[1], nick="mallory", tls_pin=wrong,
                                     reconnect=False))
    rejected_log = EventLog(rejected)
    rejected.start()
    failed = rejected_log.wait_for(ConnectionState, state="failed")
    assert "is not the pinned one" in failed.detail and pin in failed.detail
    rejected.quit()

    unverified = Session(SessionConfig(host=address[0], port=address[1], nick="eve", tls=True, reconnect=False))
    unverified_log = EventLog(unverified)
    unverified.start()
    assert "CERTIFICATE_VERIFY_FAILED" in unverified_log.wait_for(ConnectionState, state="failed").detail
    unverified.quit()


def test_plain_text_on_the_tls_port_is_dropped_cleanly(tls_server):
    raw = socket.create_connection(tls_server.server.tls_address, timeout=5)
    raw.sendall(b"NICK plain\r\nUSER plain 0 * :plain\r\n")
    raw.settimeout(5)
    received = b""
    while chunk := raw.recv(4096):
        received += chunk
    raw.close()
    assert b"001" not in received
    survivor = tls_server.connect("survivor")
    survivor.send("PING alive")
    survivor.expect("alive")


def test_tls_client_that_closes_mid_handshake(tls_server, certificate):
    raw = socket.create_connection(tls_server.server.tls_address, timeout=5)
    raw.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # the start of a ClientHello, then nothing
    raw.close()
    alice = IRCTestClient(tls_server.server.tls_address, tls=trusting(certificate[0])).register("alice")
    alice.send("PING ok")
    alice.expect(" PONG ")


def test_unusable_certificate_is_one_clear_line(tmp_path):
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "chat_server.py"), "--port", "0", "--tls-port", "0",
                             "--tls-cert", str(bogus), "--tls-key", str(bogus), "--db", ":memory:"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("chat_server.py: error: cannot use the TLS certificate")
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- limits

def test_connections_per_address_at_the_edge(make_server):
    running = make_server(max_per_address=2, connects_per_minute=0)
    first = running.client(source_address="127.0.0.2").register("first")
    second = running.client(source_address="127.0.0.2").register("second")
    third = running.client(source_address="127.0.0.2")
    closing = third.expect_closed()
    assert closing == ["ERROR :Closing Link: 127.0.0.2 (Too many connections from your address (at most 2))"]
    other_computer = running.client(source_address="127.0.0.3").register("other")
    teacher_machine = [running.connect(f"local{i}") for i in range(3)]  # 127.0.0.1 is not limited
    first.send("QUIT")
    first.expect_closed()
    fourth = running.client(source_address="127.0.0.2")
    fourth.send("PING room-again")  # a slot is free again
    fourth.expect("room-again")
    for client in (second, other_computer, *teacher_machine):
        client.send("PING still")
        client.expect("still")


def test_connection_rate_per_address(make_server):
    running = make_server(connects_per_minute=3)
    for index in range(3):
        client = running.client(source_address="127.0.0.4")
        client.send(f"PING burst{index}")
        client.expect(f"burst{index}")
        client.close()
    refused = running.client(source_address="127.0.0.4")
    assert refused.expect_closed() == [
        "ERROR :Closing Link: 127.0.0.4 (Connecting too often from your address; wait a minute)"]
    running.client(source_address="127.0.0.5").register("neighbour")


def test_length_limits_at_the_edge(make_server):
    running = make_server(nick_length=9, channel_length=10, topic_length=12, max_channels_per_user=2)
    alice = running.connect("alice")
    alice.send("NICK ninechars")
    alice.expect(r" NICK :?ninechars")
    alice.send("NICK tenletters")
    assert alice.expect_numeric("432").params[1] == "tenletters"
    alice.send("JOIN #ninechar")  # 9 characters with the '#', within 10
    alice.expect_numeric("366")
    alice.send("JOIN #elevenchars")
    alice.expect_numeric("403")
    alice.send("TOPIC #ninechar :exactly12chr and more")
    assert alice.expect(r" TOPIC ").params[1] == "exactly12chr"
    alice.send("JOIN #second")
    alice.expect_numeric("366")
    alice.send("JOIN #third")
    assert alice.expect_numeric("405").params[1] == "#third"
    alice.send("VERSION")
    tokens = " ".join(line for line in alice.sync() if " 005 " in line)
    for token in ("NICKLEN=9", "CHANNELLEN=10", "TOPICLEN=12", "CHANLIMIT=#:2"):
        assert token in tokens


# ---------------------------------------------------------------- the server program

def run_server_tool(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "chat_server.py"), *args], input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_hashed_operator_password_and_audit_log(server_process, tmp_path):
    made = run_server_tool("--hash-password", "teacher", stdin="s3cret passphrase\n")
    assert made.returncode == 0 and made.stdout.startswith("teacher scrypt$")
    assert "s3cret" not in made.stdout
    oper_file, audit = tmp_path / "opers.txt", tmp_path / "audit.log"
    oper_file.write_text(made.stdout, encoding="utf-8")
    process = server_process("--oper-file", str(oper_file), "--audit-log", str(audit))
    teacher = IRCTestClient(process.address).register("teacher")
    teacher.send("OPER teacher s3cret")
    teacher.expect_numeric("464")
    teacher.send("OPER teacher :s3cret passphrase")
    teacher.expect_numeric("381")
    student = IRCTestClient(process.address).register("student")
    student.join("#class")
    teacher.send("KICK #class student :line1\x1b[31m\x07 forged")
    student.expect(" KICK ")
    teacher.send("KILL student :bye")
    student.expect_closed()
    teacher.send("QUIT")
    teacher.expect_closed()
    assert process.stop() == 0
    lines = audit.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3, lines
    assert lines[0].endswith("oper teacher!~teacher@127.0.0.1 oper teacher")
    assert lines[1].endswith(r"oper teacher!~teacher@127.0.0.1 kick #class student (line1\x1b[31m\x07 forged)")
    assert lines[2].endswith("oper teacher!~teacher@127.0.0.1 kill student (bye)")
    assert lines[0][:4].isdigit(), "each entry starts with its time"


def test_server_log_escapes_control_characters(server_process):
    process = server_process("--log-level", "INFO")
    client = IRCTestClient(process.address).register("mallory")
    client.send("QUIT :bye\x1b[2J\x08\x08 2026-01-01 INFO fake entry")
    client.expect_closed()
    process.stop()
    log = process.stderr_text
    entries = [line for line in log.splitlines() if "disconnected" in line]
    assert entries and entries[0].endswith(r"(Quit: bye\x1b[2J\x08\x08 2026-01-01 INFO fake entry)")
    assert "\x1b" not in log


def test_operator_file_errors_are_one_line(tmp_path):
    broken = tmp_path / "opers"
    broken.write_text("teacher plaintext\n")
    result = run_server_tool("--oper-file", str(broken), "--port", "0", "--db", ":memory:")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"chat_server.py: error: cannot use the operator file: {broken}:1: expected "
                                     "'NAME scrypt$…' as --hash-password prints it")
    empty = run_server_tool("--hash-password", "teacher", stdin="\n")
    assert empty.returncode == 1 and "empty password" in empty.stderr
