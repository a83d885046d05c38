"""The CLI and messages of several lines, end to end against the real server process: ``/code`` sends the
lines that follow as one message, from a script and at the prompt; a message of several lines prints as its
header, then its lines indented."""
from __future__ import annotations

from helpers import IRCTestClient
from test_cli import cli_reader, read_until, run_cli, tmux_cli

CODE = ["def twice(x):", "    return 2 * x", "", "print(twice('ура'))"]


def test_a_script_sends_code_as_one_message(server_process):
    process = server_process()
    capable = IRCTestClient(process.address).register("capable", caps=("draft/multiline", "batch"))
    plain = IRCTestClient(process.address).register("plain")
    for watcher in (capable, plain):
        watcher.join("#general")
    script = "\n".join(["before", "/code", *CODE, ".", "/code", "a = 1", "b = 2", "```", "after", "/code", "tail 1",
                        "tail 2"]) + "\n"
    result = run_cli("--port", str(process.address[1]), "--nick", "robot", stdin=script)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert capable.expect(r" PRIVMSG #general ").params[1] == "before"
    for lines in (CODE, ["a = 1", "b = 2"]):
        start = capable.expect(r" BATCH \+\S+ draft/multiline #general")
        assert [capable.expect(rf"batch={start.params[0][1:]}").params[1] for _ in lines] == lines
    assert capable.expect(r" PRIVMSG #general ").params[1] == "after"
    start = capable.expect(r" BATCH \+\S+ draft/multiline #general")  # the end of the input ends a block too
    assert [capable.expect(rf"batch={start.params[0][1:]}").params[1] for _ in range(2)] == ["tail 1", "tail 2"]
    received = [plain.expect(r" PRIVMSG #general ").params[1] for _ in range(9)]
    assert received == ["before", *[line for line in CODE if line], "a = 1", "b = 2", "after", "tail 1", "tail 2"]


def test_a_message_of_several_lines_prints_as_a_header_and_indented_lines(server_process):
    process = server_process()
    talker = IRCTestClient(process.address).register("talker", caps=("draft/multiline", "batch"))
    talker.join("#general")
    with cli_reader(process.address[1]) as reader:
        talker.expect(r":reader!\S+ JOIN #general")
        talker.send("BATCH +c draft/multiline #general")
        for line in ["for i in range(2):", "    print(i, '\x1b[2J')"]:
            talker.send(f"@batch=c PRIVMSG #general :{line}")
        talker.send("BATCH -c")
        lines = read_until(reader, lambda lines: bool(lines) and lines[-1].startswith("        print"))
        assert lines[-3].endswith(" #general <talker>")
        assert lines[-2:] == ["    for i in range(2):", "        print(i, '^[[2J')"], "indented, controls shown"
        reader.stdin.close()
        assert reader.wait(10) == 0


def test_code_at_the_prompt(server_process):
    process = server_process()
    watcher = IRCTestClient(process.address).register("watcher", caps=("draft/multiline", "batch"))
    watcher.join("#general")
    with tmux_cli("code", process.address[1], "--nick", "coder") as session:
        watcher.expect(r":coder!\S+ JOIN #general")
        session.wait_for(r"(?m)^\[#general\]\s*$")
        session.send("/code")
        session.wait_for(r"a line with only \. or ``` sends them")
        for line in ["x = [1, 2, 3]", "print(sum(x))", "."]:
            session.send(line)
        start = watcher.expect(r" BATCH \+\S+ draft/multiline #general")
        texts = [watcher.expect(rf"batch={start.params[0][1:]}").params[1] for _ in range(2)]
        assert texts == ["x = [1, 2, 3]", "print(sum(x))"]
        session.wait_for(r"(?m)<coder>\s*\n    x = \[1, 2, 3\]\s*\n    print\(sum\(x\)\)")
        session.send("/quit")
        assert watcher.expect(r":coder!\S+ QUIT").params == ["Quit: Leaving"]
