"""Code blocks in the GUI, with real windows under Xvfb and the real server: a pasted snippet goes out as one
message and shows in the other window as one fixed-width block whose Copy button puts it on the clipboard;
`inline code` and ``` fences; the buttons come and go with their lines."""
from __future__ import annotations

import pytest

from common.gui.code_blocks import CODE_BLOCK, INLINE, code_runs
from helpers import IRCTestClient
from test_gui import open_window, pump_until, view_text  # noqa: F401  (open_window is a fixture)

SNIPPET = "def greet(name):\n    print(f'Привет, {name}!')\ngreet('Маша')"


def tagged(window, tag: str) -> list[str]:
    """The runs of text under a tag in a window's view."""
    ranges = window.view.text.tag_ranges(tag)
    return [window.view.text.get(start, end) for start, end in zip(ranges[::2], ranges[1::2])]


def paste(window, text: str) -> None:
    """Ctrl+V in the input line: the clipboard holds ``text``."""
    window.top.clipboard_clear()
    window.top.clipboard_append(text)
    window.input.entry.event_generate("<<Paste>>")


def test_a_pasted_snippet_arrives_as_one_block_and_copy_puts_it_on_the_clipboard(server_process, open_window,
                                                                                  tk_root):
    process = server_process()
    watcher = IRCTestClient(process.address).register("watcher", caps=("draft/multiline", "batch"))
    watcher.join("#general")
    alice = open_window(process.address, "alice")
    bob = open_window(process.address, "bob")
    paste(alice, SNIPPET)
    assert alice.input.value == "", "the paste went out at once"
    pump_until(tk_root, lambda: "greet('Маша')" in view_text(bob), what="the snippet in bob's window")
    assert watcher.expect(r" BATCH \+\S+ draft/multiline #general").source.startswith("alice!")
    assert tagged(bob, CODE_BLOCK) == [SNIPPET + "\n"], "one block, every line of it"
    assert [line.text for line in bob.book.find("#general").lines if line.nick == "alice"] == [SNIPPET]
    (button,) = bob.view.code_blocks.buttons
    assert button.winfo_ismapped() and button.cget("text") == "Copy"
    button.invoke()
    assert bob.top.clipboard_get() == SNIPPET
    assert button.cget("text") == "Copied ✓"
    pump_until(tk_root, lambda: tagged(alice, CODE_BLOCK) == [SNIPPET + "\n"], what="alice's own block")
    bob.set_language("ru")
    assert button.cget("text") == "Копировать"


def test_what_was_typed_goes_with_the_paste_and_one_line_pastes_as_usual(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    bob = open_window(process.address, "bob")
    alice.input.entry.insert(0, "Вот: ")
    paste(alice, "x = 1\ny = 2\n")
    pump_until(tk_root, lambda: "y = 2" in view_text(bob), what="the paste in bob's window")
    assert [line.text for line in bob.book.find("#general").lines if line.nick == "alice"] == ["Вот: x = 1\ny = 2"]
    paste(alice, "one line only")
    assert alice.input.value == "one line only", "a paste of one line waits in the input line for Enter"


def test_inline_code_and_fenced_blocks(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    teacher = IRCTestClient(process.address).register("teacher", caps=("draft/multiline", "batch"))
    teacher.join("#general")
    teacher.send("PRIVMSG #general :Use `len(items)` here")
    teacher.send("BATCH +f draft/multiline #general")
    for line in ("Try this:", "```python", "for item in items:", "    print(item)", "```", "Then `run` it."):
        teacher.send(f"@batch=f PRIVMSG #general :{line}")
    teacher.send("BATCH -f")
    pump_until(tk_root, lambda: "Then " in view_text(alice), what="the fenced message")
    assert tagged(alice, INLINE) == ["len(items)", "run"]
    assert tagged(alice, CODE_BLOCK) == ["for item in items:\n    print(item)\n"]
    assert "```" not in view_text(alice) and "Try this:" in view_text(alice)
    (button,) = alice.view.code_blocks.buttons
    button.invoke()
    assert alice.top.clipboard_get() == "for item in items:\n    print(item)"


def test_copy_buttons_come_and_go_with_their_lines(server_process, open_window, tk_root):
    process = server_process()
    alice = open_window(process.address, "alice")
    alice.session.join("#other")
    pump_until(tk_root, lambda: alice.book.find("#other") is not None, what="#other")
    alice.open_conversation("#general")
    teacher = IRCTestClient(process.address).register("teacher", caps=("draft/multiline", "batch"))
    teacher.join("#general")
    for number in range(2):
        teacher.send(f"BATCH +b{number} draft/multiline #general")
        teacher.send(f"@batch=b{number} PRIVMSG #general :block {number}")
        teacher.send(f"@batch=b{number} PRIVMSG #general :second line")
        teacher.send(f"BATCH -b{number}")
    pump_until(tk_root, lambda: len(alice.view.code_blocks.buttons) == 2, what="two Copy buttons")
    alice.open_conversation("#other")
    assert alice.view.code_blocks.buttons == [], "the buttons went with the lines of the other conversation"
    alice.open_conversation("#general")
    assert len(alice.view.code_blocks.buttons) == 2


@pytest.mark.parametrize("text, runs", [
    ("plain", [("text", "plain")]),
    ("a `b` c", [("text", "a "), ("code", "b"), ("text", " c")]),
    ("one ```x = 1``` line", [("text", "one "), ("code", "x = 1"), ("text", " line")]),
    ("an `unpaired backtick", [("text", "an `unpaired backtick")]),
    ("line 1\n  line 2", [("block", "line 1\n  line 2")]),
    ("see:\n```\ncode\n```\nafter `x`", [("text", "see:"), ("block", "code"), ("text", "after "), ("code", "x")]),
    ("```py\nnever closed\nstill code", [("block", "never closed\nstill code")]),
])
def test_code_runs(text, runs):
    assert code_runs(text) == runs


def test_the_view_knows_how_many_text_lines_a_code_block_takes(tk_root):
    """An older page of history goes in above what is shown, and the view keeps its place by counting the
    Text lines of what went in: a block takes one per line of code and one for its Copy button."""
    from common.gui.model import DisplayLine
    from common.gui.theme import THEMES, NickColours
    from common.gui.widgets import MessageView

    view = MessageView(tk_root, "TkDefaultFont", "TkDefaultFont", NickColours(12))
    view.apply_palette(THEMES["light"])
    texts = ["one line", SNIPPET, "see:\n```\na\nb\n```\nand `c`", "```\nto the end", "`x`"]
    lines = [DisplayLine("message", text, "alice") for text in texts] + [DisplayLine("system", "joined")]
    for line in lines:
        view.show([line])
        assert int(view.text.index("end-1c").split(".")[0]) - 1 == view.text_lines([line]), line.text
    view.show(lines)
    assert int(view.text.index("end-1c").split(".")[0]) - 1 == view.text_lines(lines)
    assert len(view.code_blocks.buttons) == 3
    view.destroy()
