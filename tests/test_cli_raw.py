"""``chat_client_cli.py --raw`` against a real server process: every line sent (→) and received (←) on
standard error, with times and masked passwords; in colour only in a terminal."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from helpers import IRCTestClient
from test_cli import CLI, run_cli
from test_interop import TmuxSession, require_tool

RAW_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} ([→←·]) (.*)$")


def test_raw_shows_registration_and_chat_with_passwords_masked(server_process):
    process = server_process("--password", "s3cret-server")
    watcher = IRCTestClient(process.address).register("watcher", password="s3cret-server")
    watcher.join("#general")
    result = run_cli("--port", str(process.address[1]), "--nick", "robot", "--password", "s3cret-server", "--raw",
                     stdin="hello, raw world\n/register s3cret-account\n")
    assert result.returncode == 0, result.stderr
    assert watcher.expect(r" PRIVMSG #general ").params[1] == "hello, raw world"
    assert result.stdout == ""
    assert "s3cret" not in result.stderr and "\x1b[" not in result.stderr
    shown = [RAW_LINE.match(line) for line in result.stderr.splitlines()]
    assert all(shown), result.stderr
    lines = [f"{match[1]} {match[2]}" for match in shown]
    sent = [line for line in lines if line.startswith("→")]
    assert sent[:4] == ["→ PASS ********", "→ CAP LS 302", "→ NICK robot", "→ USER robot 0 * :classchat user"]
    welcome = next(index for index, line in enumerate(lines) if re.match(r"← :\S+ 001 robot :Welcome", line))
    assert welcome > lines.index("→ USER robot 0 * :classchat user")
    for expected in ("→ JOIN #general", "→ PRIVMSG #general :hello, raw world", "→ REGISTER * * ********",
                     "→ QUIT Leaving"):
        assert expected in lines
    assert any(re.match(r"← :\S+ REGISTER SUCCESS robot :", line) for line in lines), "the account was made"
    assert lines[0].startswith("· connected to 127.0.0.1:") and lines[-1].startswith("· disconnected: ")
    assert lines.index("→ REGISTER * * ********") < lines.index("→ QUIT Leaving")


def test_without_raw_nothing_of_the_protocol_shows(server_process):
    process = server_process()
    result = run_cli("--port", str(process.address[1]), "--nick", "quiet", stdin="hello\n")
    assert result.returncode == 0 and result.stderr == ""


def test_raw_in_a_terminal_is_coloured_and_keeps_the_half_typed_line(server_process):
    require_tool("tmux")
    process = server_process()
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#general")
    session = TmuxSession(f"classchat-raw-{os.getpid()}",
                          f"{sys.executable} {CLI} --port {process.address[1]} --nick typist --raw",
                          {"LANG": "C.UTF-8", "TERM": "xterm-256color"})
    try:
        talker.expect(r":typist!\S+ JOIN #general")
        session.wait_for(r"(?m)^\[#general\]\s*$")
        subprocess.run(["tmux", "send-keys", "-t", session.name, "-l", "half-typ"], check=True)
        session.wait_for(r"\[#general\] half-typ")
        talker.send("PRIVMSG #general :interrupting you")
        session.wait_for(r"← @time=\S+ :talker!\S+ PRIVMSG #general :interrupting you")
        screen = session.screen().rstrip().splitlines()
        assert screen[-1] == "[#general] half-typ", screen[-4:]
        coloured = subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", session.name], capture_output=True,
                                  text=True, check=True).stdout
        row = next(line for line in coloured.splitlines() if "PRIVMSG #general :interrupting you" in line
                   and "←" in line)
        assert row.startswith("\x1b[2m") and "\x1b[34m@time=" in row, repr(row)  # the time dim, a message blue
        session.send("ed line")
        assert talker.expect(r" PRIVMSG #general ").params[1] == "half-typed line"
        session.wait_for(r"→ PRIVMSG #general :half-typed line")
        session.send("/quit bye")
        assert talker.expect(r":typist!\S+ QUIT").params == ["Quit: bye"]
    finally:
        session.kill()
