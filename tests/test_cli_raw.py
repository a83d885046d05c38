"""``chat_client_cli.py --raw`` against a real server process: every line sent (→) and received (←) on
standard error, with times and masked passwords; in colour only in a terminal."""
from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import threading
import time

import chat_client_cli
from helpers import IRCTestClient
from test_cli import run_cli, tmux_cli

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
    process = server_process()
    talker = IRCTestClient(process.address).register("talker")
    talker.join("#general")
    with tmux_cli("raw", process.address[1], "--nick", "typist", "--raw") as session:
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


def read_terminal(master: int, expected: str, timeout: float = 5.0) -> str:
    """What the program wrote on the terminal whose master side is ``master``, read until it is ``expected``
    (or the time is up: then what came, for the assertion to show)."""
    data = b""
    deadline = time.monotonic() + timeout
    while data.decode("utf-8", "replace") != expected and (left := deadline - time.monotonic()) > 0:
        if select.select([master], [], [], left)[0]:
            data += os.read(master, 4096)
    return data.decode("utf-8", "replace")


def waiting_in(thread: threading.Thread, function: str) -> bool:
    """Whether ``thread`` is blocked on a condition inside ``function`` right now."""
    frame = sys._current_frames().get(thread.ident)
    names = set()
    while frame is not None:
        names.add(frame.f_code.co_name)
        frame = frame.f_back
    return {function, "wait"} <= names


def test_a_line_printed_while_readline_draws_the_prompt_waits_and_draws_it_again(monkeypatch):
    """readline draws the prompt first and calls its pre-input hook (``prompt_shown``) after: a --raw line
    printed in between erased the prompt, and nothing drew it again (a flaky terminal test on a busy
    machine). Here the raw line comes in exactly then, on a real terminal."""
    master, slave = os.openpty()
    terminal = open(slave, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", terminal)
    try:
        printer = chat_client_cli.Printer("en", colour=False, interactive=True)
        printer.prompt_coming("[#general] ")
        terminal.write("[#general] ")  # readline draws the prompt …
        terminal.flush()
        assert read_terminal(master, "[#general] ") == "[#general] "
        raw = threading.Thread(target=printer.show, args=("← PONG", terminal), name="raw")
        raw.start()  # … a raw line comes …
        deadline = time.monotonic() + 5
        while not waiting_in(raw, "_wait_for_the_prompt") and raw.is_alive() and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        assert waiting_in(raw, "_wait_for_the_prompt"), "the raw line did not wait for the prompt"
        printer.prompt_shown()  # … and readline's hook runs
        raw.join(5)
        assert read_terminal(master, "\r\x1b[2K← PONG\r\n[#general] ") == "\r\x1b[2K← PONG\r\n[#general] "
        printer.input_done()  # Enter: the prompt drawn below a line may be a stale copy, so it goes
        assert read_terminal(master, "\r\x1b[2K") == "\r\x1b[2K"
        printer.show("-- after the line was read", terminal)  # no prompt now: nothing waits, none is drawn
        assert read_terminal(master, "\r\x1b[2K-- after the line was read\r\n") == \
            "\r\x1b[2K-- after the line was read\r\n"
    finally:
        monkeypatch.undo()
        terminal.close()
        os.close(master)
