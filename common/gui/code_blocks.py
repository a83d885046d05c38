"""Code in the GUI: a message of several lines shows as one block in a fixed-width font with a Copy button,
a block fenced with ``` inside a message likewise, and `text between backticks` in the fixed-width font;
and a paste of several lines into the input line goes out at once, as one message.

``code_runs`` (no Tk) cuts a message's text into runs to draw. ``CodeBlocks`` draws them into the
``MessageView``'s Text: it returns the segments for the view's one insert, and once the insert is done puts
a Copy button before each new block. A Text holds widgets only as embedded windows, placed at an index, so
each block's place is marked with a tag of its own in the insert and the button goes there afterwards
(``place_buttons``). The Text destroys a button when its line is deleted (scrollback, another conversation
shown); ``forget_deleted`` lets Python forget it too.

Only the Tk main thread calls this, like the rest of ``common/gui``.
"""
from __future__ import annotations

import re
import tkinter as tk
from typing import Callable

from common.gui.theme import Palette
from common.protocol.multiline import is_multiline, text_lines

FENCE = "```"
INLINE_CODE = re.compile(r"```([^`\n]+?)```|`([^`\n]+)`")
Segments = list  # of str and tag tuples, alternating, as tk.Text.insert takes them
CODE_BLOCK, INLINE = "code-block", "code-inline"


def code_runs(text: str) -> list[tuple[str, str]]:
    """A message as runs of ("text", …), ("code", …) for `inline code` and ("block", …) for a block.

    Lines between ``` fences are a block (the word after the opening fence, a language, is not shown; a
    fence never closed runs to the end). A message of several lines without fences is one block: it is
    pasted code. Otherwise the text is plain, with inline code where backticks pair up on a line.
    """
    lines = text_lines(text)
    if any(map(is_fence, lines)):
        return fenced_runs(lines)
    if is_multiline(text):
        return [("block", text.strip("\r\n"))]
    return inline_runs(text)


def is_fence(line: str) -> bool:
    """A line that opens or closes a fenced block: ``` (and a language), but not ```code``` on one line."""
    stripped = line.strip()
    return stripped.startswith(FENCE) and FENCE not in stripped[len(FENCE):]


def fenced_runs(lines: list[str]) -> list[tuple[str, str]]:
    runs: list[tuple[str, str]] = []
    plain: list[str] = []
    block: list[str] | None = None
    for line in lines:
        if is_fence(line) and block is None:
            runs += inline_runs("\n".join(plain).strip("\n")) if plain else []
            plain, block = [], []
        elif is_fence(line) and block is not None:
            runs.append(("block", "\n".join(block)))
            block = None
        elif block is not None:
            block.append(line)
        else:
            plain.append(line)
    if block is not None:
        runs.append(("block", "\n".join(block)))
    runs += inline_runs("\n".join(plain).strip("\n")) if plain else []
    return [(kind, text) for kind, text in runs if text or kind == "block"]


def inline_runs(text: str) -> list[tuple[str, str]]:
    """Plain text with `inline code` (or ```inline code``` on one line) cut out."""
    runs: list[tuple[str, str]] = []
    position = 0
    for match in INLINE_CODE.finditer(text):
        if match.start() > position:
            runs.append(("text", text[position:match.start()]))
        runs.append(("code", match.group(1) or match.group(2)))
        position = match.end()
    if position < len(text):
        runs.append(("text", text[position:]))
    return runs


def line_count(text: str) -> int:
    """How many lines of the Text a chat line with this text takes (``CodeBlocks.segments`` draws a block
    below the line it starts on, one Text line for each of its lines)."""
    runs = code_runs(text)
    count = sum(run.count("\n") + (2 if kind == "block" else 0) for kind, run in runs)
    return count + (0 if runs and runs[-1][0] == "block" else 1)


class CodeBlocks:
    """The code of one message view: its tags, the Copy buttons and their label."""

    def __init__(self, text: tk.Text, font: str, mono_font: str) -> None:
        self.text = text
        self.font = font
        self.label = "Copy"
        self.copied_label = "Copied ✓"
        self.palette: Palette | None = None
        self._buttons: list[tk.Button] = []
        self._waiting: dict[str, str] = {}  # the tag marking where a block's button goes → the block's text
        self._count = 0
        text.tag_configure(CODE_BLOCK, font=mono_font, lmargin1=18, lmargin2=18, rmargin=8, spacing1=0, spacing3=0)
        text.tag_configure(INLINE, font=mono_font)

    def segments(self, text: str, base: tuple[str, ...], plain: Callable[[str, tuple[str, ...]], Segments],
                 note: Segments) -> Segments:
        """What a chat line's text adds to the view, up to and with its line end: ``plain`` draws plain
        text (links), ``note`` goes at the end of the last line that is not code."""
        runs = code_runs(text)
        parts: Segments = []
        for index, (kind, run) in enumerate(runs):
            if kind == "text":
                parts += plain(run, base)
            elif kind == "code":
                parts += [run, (INLINE, *base)]
            else:
                if index == len(runs) - 1:
                    parts += note
                    note = []
                parts += [" ", (self._waiting_tag(run), *base), "\n", base, f"{run}\n", (CODE_BLOCK, *base)]
        if not runs or runs[-1][0] != "block":
            parts += [*note, "\n", base]
        return parts

    def _waiting_tag(self, block: str) -> str:
        self._count += 1
        tag = f"code-copy-{self._count}"
        self._waiting[tag] = block
        return tag

    def place_buttons(self) -> None:
        """Put a Copy button where each block drawn since the last call begins (after the view's insert)."""
        for tag, block in self._waiting.items():
            ranges = self.text.tag_ranges(tag)
            if ranges:
                button = tk.Button(self.text, text=self.label, font=self.font, relief="groove", borderwidth=1,
                                   padx=6, pady=0, highlightthickness=0, cursor="hand2")
                button.configure(command=lambda b=button, code=block: self.copy(b, code))
                self._colour(button)
                self.text.window_create(ranges[0], window=button, padx=2)
                self._buttons.append(button)
            self.text.tag_delete(tag)
        self._waiting.clear()

    def copy(self, button: tk.Button, code: str) -> None:
        """The Copy button: the block's text, exactly as it was sent, goes to the clipboard."""
        self.text.clipboard_clear()
        self.text.clipboard_append(code)
        button.configure(text=self.copied_label)

    @property
    def buttons(self) -> list[tk.Button]:
        return list(self._buttons)

    def forget_deleted(self) -> None:
        """Forget the buttons whose lines the Text deleted (it destroyed them; tkinter still holds them)."""
        kept = []
        for button in self._buttons:
            if button.winfo_exists():
                kept.append(button)
            else:
                button.destroy()  # frees tkinter's own record of it and of its command
        self._buttons = kept

    def set_labels(self, copy: str, copied: str) -> None:
        self.label, self.copied_label = copy, copied
        for button in self._buttons:
            button.configure(text=copy)

    def apply_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.text.tag_configure(CODE_BLOCK, background=palette.panel)
        self.text.tag_configure(INLINE, background=palette.panel)
        for tag in (CODE_BLOCK, INLINE):
            self.text.tag_raise(tag)  # over "own" and "mention", whose backgrounds would hide the code's
        for button in self._buttons:
            self._colour(button)

    def _colour(self, button: tk.Button) -> None:
        palette = self.palette
        if palette is not None:
            button.configure(background=palette.selection, foreground=palette.text,
                             activebackground=palette.thumb, activeforeground=palette.text)


def send_pasted_lines(entry: tk.Entry, submit: Callable[[], None]) -> None:
    """Make a paste of several lines into ``entry`` go out at once as one message, with what was typed
    around it (a paste of one line goes into the line as usual). Tk's Entry would keep the line feeds but
    show one long line; the message keeps them."""

    def paste(_event: tk.Event) -> str | None:
        try:
            pasted = entry.clipboard_get()
        except tk.TclError:  # nothing on the clipboard, or nothing that is text
            return None
        if not is_multiline(pasted):
            return None
        typed = entry.get()
        if entry.selection_present():
            start, end = entry.index("sel.first"), entry.index("sel.last")
        else:
            start = end = entry.index("insert")
        entry.delete(0, "end")
        entry.insert(0, typed[:start] + pasted + typed[end:])
        submit()
        return "break"

    entry.bind("<<Paste>>", paste)
