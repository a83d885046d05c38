"""Which text of a ``MessageView`` belongs to which message (by msgid), and the line of reactions under a
message: what lets the window change one message in place (a deletion's placeholder, new reaction counts)
without drawing the conversation again.

Each message drawn with a msgid gets two Tk text marks: ``msgstart<n>`` where its first line starts, and
``msgend<n>`` on the newline that ends its last line. Its reaction line, when it has one, is the line after
that newline, tagged ``reactions``: inserted there, after ``msgend<n>``, it leaves both marks where they are,
and the start mark of the next message moves on after it (marks keep right gravity, Tk's default, so a
mark at the point of an insert goes after the inserted text). Marks follow every insert and delete Tk
makes, so they stay right while lines are appended, older lines are cut from the top (``forget_cut``) or a
line in the middle changes; a message may span several lines (the positions come from counting the
newlines of its segments). The marks of a batch are set once the batch is inserted (``place``): the view
inserts a whole batch with one call, so the line where each message starts is the first line plus the
newlines before it.

Only the Tk main thread uses this, through ``MessageView``; it knows nothing of IRC or the session. What a
reaction line says comes from ``reaction_line`` (set by the window): segments, or none for no reactions.
"""
from __future__ import annotations

import itertools
import tkinter as tk
from collections import OrderedDict
from typing import Callable, Iterable

REACTIONS_TAG = "reactions"
MESSAGE_KINDS = ("message", "action", "notice")
START, END = "msgstart", "msgend"  # no "+" or "-" in a mark name: Tk would read it as an offset
Segments = list  # alternating text and tag tuples, as ``Text.insert`` takes them


def newlines_in(segments: Iterable[object]) -> int:
    return sum(item.count("\n") for item in segments if isinstance(item, str))


class MessageMarks:
    """The msgid → text range map of one ``tk.Text`` (see the module docstring)."""

    def __init__(self, text: tk.Text) -> None:
        self.text = text
        self._numbers = itertools.count(1)
        self._marked: OrderedDict[str, int] = OrderedDict()  # msgid → n, in the order drawn
        self._msgids: dict[int, str] = {}
        self._pending: list[tuple[str, int, int]] = []  # (msgid, first line offset, lines) of the batch being built
        self._offset = 0  # lines of the batch being built so far
        self.reaction_line: Callable[[str], Segments] = lambda _msgid: []

    def __contains__(self, msgid: str) -> bool:
        return msgid in self._marked

    def segments_for(self, msgid: str | None, kind: str, segments: Segments) -> Segments:
        """Note a line of the batch being built (its segments as drawn); return what goes under it: the
        reaction line of a message that has reactions."""
        lines = newlines_in(segments)
        reactions: Segments = []
        if msgid and kind in MESSAGE_KINDS:
            self._pending.append((msgid, self._offset, lines))
            reactions = self.reaction_line(msgid)
        self._offset += lines + newlines_in(reactions)
        return reactions

    def reaction_lines(self, msgid: str | None) -> int:
        """How many Text lines a message's reaction line takes (0 without reactions)."""
        return newlines_in(self.reaction_line(msgid)) if msgid else 0

    def place(self, first_line: int) -> None:
        """The batch noted since the last call is in the text from ``first_line`` on: mark its messages."""
        text = self.text
        for msgid, offset, lines in self._pending:
            self._unmark(msgid)  # drawn again (a reconnection's history): the newest drawing is the one kept
            number = next(self._numbers)
            start = first_line + offset
            text.mark_set(f"{START}{number}", f"{start}.0")
            text.mark_set(f"{END}{number}", f"{start + lines}.0 -1c")
            self._marked[msgid] = number
            self._msgids[number] = msgid
        self._pending.clear()
        self._offset = 0

    def forget_cut(self) -> None:
        """After lines were cut from the top: forget the messages that went with them (their end marks
        fell back to the very start; a message's own end mark is past its time and nick)."""
        while self._marked:
            msgid, number = next(iter(self._marked.items()))
            if self.text.compare(f"{END}{number}", ">", "1.0"):
                return
            self._unmark(msgid)

    def clear(self) -> None:
        """The view was emptied: forget every mark."""
        names = [f"{kind}{number}" for number in self._marked.values() for kind in (START, END)]
        if names:
            self.text.mark_unset(*names)
        self._marked.clear()
        self._msgids.clear()
        self._pending.clear()
        self._offset = 0

    def _unmark(self, msgid: str) -> None:
        number = self._marked.pop(msgid, None)
        if number is not None:
            self.text.mark_unset(f"{START}{number}", f"{END}{number}")
            del self._msgids[number]

    def msgid_at(self, index: str) -> str | None:
        """The message drawn at a text index (its reaction line included), if any."""
        text = self.text
        mark = text.mark_previous(f"{index}+1c")
        for _ in range(64):  # marks of other kinds may lie between: "insert", "current", an end mark…
            if mark is None:
                return None
            if mark.startswith(START) and mark[len(START):].isdigit():
                number = int(mark[len(START):])
                msgid = self._msgids.get(number)
                if msgid is None:
                    return None
                end = self._reaction_end(number) or f"{END}{number} +1c"
                return msgid if text.compare(index, "<", end) else None
            mark = text.mark_previous(mark)
        return None

    def _reaction_end(self, number: int) -> str | None:
        """Where the message's reaction line ends, when it has one."""
        after = f"{END}{number} +1c"
        if REACTIONS_TAG in self.text.tag_names(after):
            return f"{after} +1 line linestart"
        return None

    def set_reactions(self, msgid: str, segments: Segments) -> bool:
        """Draw a message's reaction line anew (none: ``segments`` empty); False when it is not drawn."""
        number = self._marked.get(msgid)
        if number is None:
            return False
        text = self.text
        line_start = text.index(f"{END}{number} +1c")  # a fixed index: the next message's mark moves on
        old_end = self._reaction_end(number)
        if old_end is None and not segments:
            return True
        text.configure(state="normal")
        if old_end is not None:
            text.delete(line_start, old_end)
        if segments:
            text.insert(line_start, *segments)
        text.configure(state="disabled")
        return True

    def replace(self, msgid: str, segments: Segments) -> bool:
        """Put ``segments`` (one line) where a message and its reactions were, and forget the message:
        what stands there now is no message (a deletion's placeholder). False when it is not drawn."""
        number = self._marked.get(msgid)
        if number is None:
            return False
        text = self.text
        start = text.index(f"{START}{number}")
        end = self._reaction_end(number) or f"{END}{number} +1c"
        text.configure(state="normal")
        text.delete(start, end)
        text.insert(start, *segments)
        text.configure(state="disabled")
        self._unmark(msgid)
        return True
