"""``python chat_client_cli.py`` driven as a person or a script would: pipes, a terminal (tmux), ngircd."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Iterator

import pytest

from helpers import PROJECT_ROOT, IRCTestClient
from test_interop import TmuxSession, require_tool

CLI = str(PROJECT_ROOT / "chat_client_cli.py")


def run_cli(*args: str, stdin: str = "", timeout: float = 30, env: dict[str, str] | None = None):
    return subprocess.run([sys.executable, CLI, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "LANG": "C.UTF-8", **(env or {})})


@contextlib.contextmanager
def cli_reader(port: int, nick: str = "reader") -> Iterator[subprocess.Popen]:
    """The CLI in scripted mode with pipes, to read what it prints while it runs; killed if still running."""
    reader = subprocess.Popen([sys.executable, CLI, "--port", str(port), "--nick", nick],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        yield reader
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
        reader.stdout.close()


def read_until(reader: subprocess.Popen, done, timeout: float = 10) -> list[str]:
    """The lines ``reader`` prints (line ends taken off), read until ``done(lines)`` holds."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while not done(lines):
        assert time.monotonic() < deadline, lines
        lines.append(reader.stdout.readline().rstrip("\n"))
    return lines


def test_scripted_mode_sends_each_line_and_exits_after_acknowledgement(server_process):
    process = server_process()
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#general")
    script = "first line\n/me нажимает кнопку\n/msg watcher private note\n/join #второй\nin the second channel\n"
    result = run_cli("--port", str(process.address[1]), "--nick", "robot", stdin=script)
    assert result.returncode == 0, result.stderr
    assert watcher.expect(r" PRIVMSG #general ").params[1] == "first line"
    assert watcher.expect(r" PRIVMSG #general ").params[1] == "\x01ACTION нажимает кнопку\x01"
    assert watcher.expect(r" PRIVMSG watcher ").params[1] == "private note"
    assert watcher.expect(r":robot!\S+ QUIT").params == ["Quit: Leaving"]
    assert result.stdout == "", "a script's own lines, the welcome and the MOTD are not its output"
    assert result.stderr == ""


def test_verbose_shows_the_rest_on_stderr(server_process):
    process = server_process()
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#general")
    result = run_cli("--port", str(process.address[1]), "--nick", "robot", "--verbose",
                     stdin="first line\n/msg watcher private note\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    shown = result.stderr.splitlines()
    assert "Connected as robot." in shown and "Welcome to classchat, the classroom chat." in shown
    assert "You joined #general" in shown
    assert any(line.endswith("#general <robot> first line") for line in shown)
    assert any(line.endswith(" -> watcher: private note") for line in shown), "whom a private message went to"
    assert "\x1b[" not in result.stderr, "colour codes in piped output"


def test_scripted_output_shows_what_others_say(server_process):
    process = server_process()
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#general")
    with cli_reader(process.address[1]) as reader:
        talker.expect(r":reader!\S+ JOIN #general")
        talker.send("PRIVMSG #general :Hello, reader!")
        read_until(reader, lambda lines: any("<talker> Hello, reader!" in line for line in lines))
        reader.stdin.close()
        assert reader.wait(10) == 0


def test_once_sends_one_message(server_process):
    process = server_process()
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#class")
    result = run_cli("--port", str(process.address[1]), "--nick", "bell", "--channel", "#class",
                     "--once", "Урок начинается через 5 минут")
    assert result.returncode == 0, result.stderr
    assert watcher.expect(r" PRIVMSG #class ").params[1] == "Урок начинается через 5 минут"


def test_wrong_or_missing_password_exits_1_with_one_line(server_process):
    process = server_process("--password", "right")
    result = run_cli("--port", str(process.address[1]), "--password", "wrong", "--once", "x")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "chat_client_cli.py: the server did not accept the password (--password)\n"
    result = run_cli("--port", str(process.address[1]), stdin="x\n")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "chat_client_cli.py: the server needs a password: give it with --password\n"


def test_no_server_exits_2_with_one_line():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound but not listening: connections are refused
        result = run_cli("--port", str(port), "--once", "x")
    assert result.returncode == 2
    assert result.stderr.strip() == f"chat_client_cli.py: could not connect to 127.0.0.1:{port}"
    assert "Traceback" not in result.stderr


def test_russian_interface(server_process):
    process = server_process()
    result = run_cli("--port", str(process.address[1]), "--lang", "ru", "--once", "привет", "--verbose")
    assert "Подключено как" in result.stderr and "Вы вошли в #general" in result.stderr
    assert "Сейчас в сети: 1" in result.stderr, "the user counts are numerics, translated by number"
    result = run_cli("--port", str(process.address[1]), "--once", "hi", "--verbose", env={"LANG": "ru_RU.UTF-8"})
    assert "Подключено как" in result.stderr


@contextlib.contextmanager
def tmux_cli(name: str, port: int, *args: str) -> Iterator[TmuxSession]:
    """The CLI in a tmux pane, as a person runs it; when it ends, the pane shows ``EXIT=<code>``."""
    require_tool("tmux")
    command = " ".join([sys.executable, CLI, "--port", str(port), *args])
    session = TmuxSession(f"classchat-{name}-{os.getpid()}", f"{command}; echo EXIT=$?; read keep_the_pane",
                          {"LANG": "C.UTF-8", "TERM": "xterm-256color"})
    try:
        yield session
    finally:
        session.kill()


def lines_before_exit(session: TmuxSession) -> list[str]:
    session.wait_for(r"EXIT=\d+")
    screen = [line.rstrip() for line in session.screen().splitlines()]
    assert not [line for line in screen if "Traceback" in line], "\n".join(screen)
    return screen[:next(index for index, line in enumerate(screen) if line.startswith("EXIT="))]


@pytest.mark.parametrize("keys, reason, code", [
    ("/quit see you", "Quit: see you", 0), ("C-d", "Quit: Leaving", 0), ("C-c", "Quit: Leaving", 130)])
def test_interactive_exits_with_a_goodbye_and_no_traceback(server_process, keys, reason, code):
    process = server_process()
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#general")
    with tmux_cli(f"leave{code}{len(keys)}", process.address[1], "--nick", "leaver") as session:
        watcher.expect(r":leaver!\S+ JOIN #general")
        session.wait_for(r"(?m)^\[#general\]\s*$")
        if keys.startswith("/"):
            session.send(keys)
        else:
            subprocess.run(["tmux", "send-keys", "-t", session.name, keys], check=True)
        shown = lines_before_exit(session)
        assert session.screen().count(f"EXIT={code}") == 1, session.screen()
        assert shown[-1] == "Bye.", shown[-4:]
        assert not [line for line in shown if "Connection closed" in line or "Error" in line], shown
        assert watcher.expect(r":leaver!\S+ QUIT").params == [reason]


def test_interactive_asks_for_another_nick(server_process):
    process = server_process()
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#general")
    with tmux_cli("nick", process.address[1], "--nick", "bad.nick") as session:
        session.wait_for(r"does not accept the nick bad\.nick")
        session.wait_for(r"(?m)^Another nick:\s*$")
        session.send("good_nick")
        watcher.expect(r":good_nick!\S+ JOIN #general")
        session.wait_for(r"Connected as good_nick\.")
        session.send("/quit")
        assert lines_before_exit(session)[-1] == "Bye."
        assert "EXIT=0" in session.screen()


def test_interactive_prompt_ends_when_the_server_gives_up(server_process):
    """Nobody answers the nick question; the server ends the connection: the prompt ends too, with code 1."""
    process = server_process("--registration-timeout", "1")
    with tmux_cli("timeout", process.address[1], "--nick", "bad.nick") as session:
        session.wait_for(r"(?m)^Another nick:\s*$")
        lines_before_exit(session)
        assert "EXIT=1" in session.screen()


def test_oper_password_is_asked_unseen_and_kept_out_of_the_history(server_process):
    process = server_process("--oper", "teacher:s3cret-word")
    with tmux_cli("oper", process.address[1], "--nick", "teach") as session:
        session.wait_for(r"(?m)^\[#general\]\s*$")
        session.send("hello class")
        session.wait_for(r"<teach> hello class")
        session.send("/oper teacher")
        session.wait_for(r"(?m)^Password:\s*$")
        session.send("s3cret-word")
        session.wait_for(r"You are now signed in as the teacher\.")
        assert "s3cret" not in session.screen()
        session.send("/oper teacher s3cret-word")  # typed in full: shown as typed, but not kept
        session.wait_for(r"(?s)s3cret-word.*signed in as the teacher")
        subprocess.run(["tmux", "send-keys", "-t", session.name, "Up"], check=True)
        session.wait_for(r"(?m)^\[#general\] hello class$")
        subprocess.run(["tmux", "send-keys", "-t", session.name, "Up"], check=True)
        session.wait_for(r"(?m)^\[#general\] hello class$")  # nothing older than it: no /oper line
        assert session.screen().rstrip().splitlines()[-1] == "[#general] hello class"


@pytest.mark.parametrize("mode", [("--once", "x"), ()])
def test_invalid_nick_in_a_script_exits_1_at_once(server_process, mode):
    process = server_process()
    result = run_cli("--port", str(process.address[1]), "--nick", "bad.nick", *mode, stdin="x\n", timeout=15)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("chat_client_cli.py: the server does not accept the nick bad.nick; "
                             "choose another with --nick\n")


def test_taken_nick_without_an_acceptable_alternative_exits_1(server_process):
    process = server_process("--nick-length", "5")
    holder = IRCTestClient(process.address).register("alice")
    result = run_cli("--port", str(process.address[1]), "--nick", "alice", "--once", "x", timeout=15)
    assert not holder.closed
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ("chat_client_cli.py: the nick alice is taken (and so are alice_ and the like); "
                             "choose another with --nick\n")


def test_names_lists_the_members_with_their_prefixes(server_process):
    process = server_process()
    watcher = IRCTestClient(process.address).register("watcher")
    watcher.join("#general")
    result = run_cli("--port", str(process.address[1]), "--nick", "robot", stdin="/names\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "In #general (2): @watcher robot\n"


def test_control_characters_from_others_are_shown_not_obeyed(server_process):
    process = server_process()
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#general")
    reader = subprocess.Popen([sys.executable, CLI, "--port", str(process.address[1]), "--nick", "reader",
                               "--verbose"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, encoding="utf-8")
    try:
        talker.expect(r":reader!\S+ JOIN #general")
        talker.send("TOPIC #general :\x1b]0;pwned\x07Today's topic")
        talker.send("PRIVMSG #general :\x1b[2J\x1b]0;title\x07\x1b]52;c;Zm9v\x07\x1b[1G12:00 <teacher> forged\x9b31m")
        talker.send("PART #general :\x1b[31mred reason")
        talker.send("PRIVMSG reader :done")
        lines: list[str] = []
        deadline = time.monotonic() + 10
        while not lines or "<talker> done" not in lines[-1]:
            assert time.monotonic() < deadline, lines
            lines.append(reader.stdout.readline())
        reader.stdin.close()
        assert reader.wait(10) == 0
        diagnostics = reader.stderr.read()
    finally:
        if reader.poll() is None:
            reader.kill()
        reader.stdout.close()
        reader.stderr.close()
    shown = "".join(lines) + diagnostics
    assert not set(shown) & {"\x1b", "\x07", "\r", "\x9b"}, repr(shown)
    assert "<talker> ^[[2J^[]0;title^G^[]52;c;Zm9v^G^[[1G12:00 <teacher> forgedM-^[31m" in shown
    assert "talker set the topic of #general: ^[]0;pwned^GToday's topic" in diagnostics
    assert "talker left #general (^[[31mred reason)" in diagnostics


def test_printable_shows_controls_as_cat_v_does():
    from common.client.formatting import printable
    assert printable("tab\tkept, bell\x07, esc\x1b[0m, del\x7f, csi\x9b, nul\x00") == \
        "tab\tkept, bell^G, esc^[[0m, del^?, csiM-^[, nul^@"
    assert printable("\x02bold\x02 \x0304,01colour\x03 \x1ditalic\x1d") == "bold colour italic"
    assert printable("right\u202eleft") == "right<U+202E>left"
    assert printable("Привет, 😀") == "Привет, 😀"


def test_bad_option_is_one_line():
    result = run_cli("--port", "abc")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "invalid int value" in result.stderr


def test_interactive_incoming_message_keeps_the_half_typed_line(server_process):
    process = server_process()
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#general")
    with tmux_cli("cli", process.address[1], "--nick", "typist") as session:
        talker.expect(r":typist!\S+ JOIN #general")
        session.wait_for(r"(?m)^\[#general\]\s*$")
        subprocess.run(["tmux", "send-keys", "-t", session.name, "-l", "half-typ"], check=True)
        session.wait_for(r"\[#general\] half-typ")
        talker.send("PRIVMSG #general :\x1b[2J\x1b]0;pwned\x07interrupting you")
        session.wait_for(r"<talker> \^\[\[2J\^\[\]0;pwned\^Ginterrupting you")
        screen = session.screen().rstrip().splitlines()
        assert screen[-1] == "[#general] half-typ", screen[-3:]
        assert any("Connected as typist" in line for line in screen), "the screen was not cleared"
        session.send("ed line")
        assert talker.expect(r" PRIVMSG #general ").params[1] == "half-typed line"
        session.send("/quit bye")
        assert talker.expect(r":typist!\S+ QUIT").params == ["Quit: bye"]


NGIRCD_CONFIG = """[Global]
    Name = ngircd.test
    Info = test server
    Listen = 127.0.0.1
    Ports = {port}
    MotdPhrase = hello from ngircd
    PidFile = {pidfile}
[Limits]
    PingTimeout = 120
[Options]
    Ident = no
    PAM = no
    DNS = no
"""


@pytest.fixture
def ngircd(tmp_path):
    require_tool("ngircd")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "ngircd.conf"
    config.write_text(NGIRCD_CONFIG.format(port=port, pidfile=tmp_path / "ngircd.pid"))
    proc = subprocess.Popen([shutil.which("ngircd"), "--nodaemon", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    pause = threading.Event()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "ngircd did not start"
            pause.wait(0.05)
    yield ("127.0.0.1", port)
    proc.terminate()
    proc.wait(5)


def test_cli_against_ngircd(ngircd):
    watcher = IRCTestClient(ngircd).register("watcher")
    watcher.join("#general")
    result = run_cli("--port", str(ngircd[1]), "--nick", "visitor", "--verbose",
                     stdin="Привет, ngircd!\n/topic Не наш сервер\n")
    assert result.returncode == 0, result.stderr
    assert watcher.expect(r" PRIVMSG #general ").params[1] == "Привет, ngircd!"
    assert watcher.expect(r" TOPIC #general ").params[1] == "Не наш сервер"
    assert "Connected as visitor" in result.stderr
    assert result.stdout == "", "ngircd's welcome is no script's output"
