"""``python3 chat_server.py`` as a user runs it: start-up text, signals, and one-line errors."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from helpers import PROJECT_ROOT, IRCTestClient


def run_server(*args: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "chat_server.py"), *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_tells_clients_and_exits_zero_within_two_seconds(server_process, sig):
    process = server_process()
    alice = IRCTestClient(process.address).register("alice")
    bob = IRCTestClient(process.address).register("bob")
    alice.join("#c")
    bob.join("#c")
    alice.send("PRIVMSG #c :hello before shutdown")
    bob.expect(r"hello before shutdown")
    started = time.monotonic()
    assert process.stop(sig) == 0
    assert time.monotonic() - started < 2.0
    for client in (alice, bob):
        assert any("Server shutting down" in line for line in client.expect_closed())


def test_banner_tells_how_to_connect(server_process):
    process = server_process()
    banner = [process.first_line] + [process.proc.stdout.readline() for _ in range(5)]
    text = "".join(banner)
    port = process.address[1]
    assert f"listening on 127.0.0.1:{port}" in text
    gui = re.search(rf"^  (\S+) chat_client_gui.py --host 127.0.0.1 --port {port}$", text, re.M)
    assert gui is not None, text
    assert f"  {gui.group(1)} chat_client_cli.py --host 127.0.0.1 --port {port}" in text
    assert f"irssi -c 127.0.0.1 -p {port}" in text
    # The command shown starts this very interpreter (Debian has no "python", only "python3").
    shown = shutil.which(gui.group(1)) or gui.group(1)
    assert os.path.realpath(shown) == os.path.realpath(sys.executable)


def test_gui_without_tkinter_says_what_to_install_in_one_line():
    """Debian's Python has no tkinter until python3-tk is installed: one clear line, no traceback."""
    hide_tk = ("import runpy, sys; sys.modules['tkinter'] = None; sys.argv = ['chat_client_gui.py']; "
               "runpy.run_path('chat_client_gui.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", hide_tk], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=10, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "python3-tk" in result.stderr and "no tkinter" in result.stderr


def test_lan_mode_lists_addresses_and_accepts_loopback(server_process):
    process = server_process("--host", "0.0.0.0")
    assert process.address[0] == "0.0.0.0"
    assert "Students connect to:" in process.proc.stdout.readline()
    IRCTestClient(("127.0.0.1", process.address[1])).register("alice")


def test_port_in_use_is_one_line_and_nonzero():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        result = run_server("--port", str(taken.getsockname()[1]))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "Address already in use" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--motd", "/nonexistent/motd.txt"], "cannot read MOTD file"),
    (["--port", "70000"], "out of range"),
    (["--oper", "teacher"], "NAME:PASSWORD"),
    (["--bogus"], "unrecognized arguments"),
    (["--max-clients", "lots"], "invalid int value"),
    (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
    (["--nick-length", "0"], "--nick-length must be at least 1"),
    (["--max-per-address", "-1"], "--max-per-address cannot be negative"),
    (["--topic-length", "1000"], "lengths must fit an IRC line"),
    (["--audit-log", "/nonexistent/dir/audit.log"], "cannot open the audit log"),
    (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"],
     "cannot read the TLS certificate /nonexistent/cert.pem"),
    (["--oper-file", "/nonexistent/opers.txt"], "cannot read the operator file /nonexistent/opers.txt"),
    (["--class", "math"], "--class wants a channel name"),
])
def test_bad_options_are_one_clear_line(args, message):
    result = run_server(*args)
    assert result.returncode != 0
    assert message in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_teacher_options():
    result = run_server("--help")
    assert result.returncode == 0
    for option in ("--host", "--port", "--name", "--password", "--oper", "--motd", "--max-clients", "--log-level",
                   "--db", "--oper-file", "--hash-password", "--audit-log", "--tls-cert", "--tls-key", "--tls-port",
                   "--max-per-address", "--connects-per-minute", "--max-channels", "--nick-length",
                   "--channel-length", "--topic-length"):
        assert option in result.stdout


def test_motd_file_and_operators_from_the_command_line(server_process, tmp_path):
    motd = tmp_path / "motd.txt"
    motd.write_text("Добро пожаловать на урок!\nSecond line\n", encoding="utf-8")
    process = server_process("--motd", str(motd), "--oper", "teacher:pa55", "--name", "lab.school")
    teacher = IRCTestClient(process.address)
    teacher.nick = "teacher"
    teacher.send("NICK teacher")
    teacher.send("USER t 0 * :Teacher")
    assert teacher.expect_numeric("372").params[-1] == "- Добро пожаловать на урок!"
    teacher.send("OPER teacher pa55")
    teacher.expect_numeric("381")
    teacher.send("PING :x")
    assert teacher.expect(r" PONG ").source == "lab.school"


def test_password_from_the_command_line(server_process):
    process = server_process("--password", "letmein")
    IRCTestClient(process.address).register("alice", password="letmein")
    stranger = IRCTestClient(process.address)
    stranger.send("NICK eve")
    stranger.send("USER eve 0 * :Eve")
    stranger.expect_numeric("464")


def test_a_taken_port_names_no_tls_files_when_there_are_none():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = run_server("--port", str(taken.getsockname()[1]), "--db", ":memory:")
    assert result.returncode != 0 and "TLS" not in result.stderr, result.stderr


def test_a_database_folder_the_user_named_is_made_and_said(server_process, tmp_path):
    db = tmp_path / "new" / "folder" / "history.sqlite3"
    process = server_process("--db", str(db))
    process.stop()
    assert db.exists()
    assert f"made the folder {db.parent}" in process.stderr_text


def test_export_refuses_a_name_that_is_not_a_channel_or_has_no_history(tmp_path):
    db = str(tmp_path / "h.sqlite3")
    from common.server.history import HistoryStore, StoredMessage
    store = HistoryStore(db)
    store.write([StoredMessage("m1", 1000, "#general", "a!~a@h", "PRIVMSG", "hi")])
    store.close()
    for name, message in (("general", "wants a channel name"), ("#other", "has no channel #other")):
        result = run_server("--db", db, "--export", name)
        assert result.returncode == 1 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert "hi" in run_server("--db", db, "--export", "#GENERAL").stdout
