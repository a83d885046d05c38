"""Raised hands in the window: the teacher's queue (who, in order, and for how long) with Call on / Lower
/ Lower all, and the student's raise-hand toggle with the count everyone sees.

The widgets draw what they are given and report clicks through callbacks; the durations are recomputed
by ``tick()``, which the strip's one-second ``after`` calls while hands are up: it only rewrites one cell per hand, never
rebuilds the list, so it costs next to nothing on the Tk loop.
"""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Callable

from common.client.classroom_texts import count_text, minutes_seconds
from common.client.texts import tr
from common.gui.theme import Palette
from common.gui.widgets import tk_safe

QUEUE_ROWS = 5  # rows the queue shows at once; more scroll
HAND = "✋"


def hands_count_text(count: int, lang: str) -> str:
    return f"{HAND} {count_text(count, lang, tr)}"


class HandsQueue(ttk.Frame):
    """The queue of raised hands, the first raised on top: position, nick, how long the hand has been up.
    The selected row (else the first) is the one Call on and Lower act on; a double click calls on."""

    def __init__(self, master: tk.Misc, font: str, bold_font: str, on_call: Callable[[str], None],
                 on_lower: Callable[[str], None], on_clear: Callable[[], None]) -> None:
        super().__init__(master, padding=(6, 4))
        self.title = ttk.Label(self, anchor="w", font=bold_font)
        self.title.pack(fill="x")
        self.tree = ttk.Treeview(self, columns=("position", "nick", "up"), show="headings", height=QUEUE_ROWS,
                                 selectmode="browse", style="Hands.Treeview")
        for column, width, anchor in (("position", 34, "e"), ("nick", 150, "w"), ("up", 64, "e")):
            self.tree.column(column, width=width, minwidth=width // 2, anchor=anchor, stretch=column == "nick")
        self.tree.pack(fill="both", expand=True, pady=(2, 4))
        buttons = ttk.Frame(self)
        buttons.pack(fill="x")
        self.call_button = ttk.Button(buttons, command=lambda: self._act(on_call))
        self.lower_button = ttk.Button(buttons, command=lambda: self._act(on_lower))
        self.clear_button = ttk.Button(buttons, command=on_clear)
        for button in (self.call_button, self.lower_button, self.clear_button):
            button.pack(side="left", padx=(0, 6))
        self.tree.bind("<Double-Button-1>", lambda _e: self._act(on_call))
        self.font = font
        self.hands: tuple[tuple[str, int], ...] = ()
        self.lang = "en"

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        self.title.configure(text=f"{tr('hands_title', lang)} ({len(self.hands)})")
        self.tree.heading("position", text="#")
        self.tree.heading("nick", text=tr("hands_who", lang), anchor="w")
        self.tree.heading("up", text=tr("hands_up_for", lang), anchor="e")
        self.call_button.configure(text=tr("hands_call_button", lang))
        self.lower_button.configure(text=tr("hands_lower_button", lang))
        self.clear_button.configure(text=tr("hands_clear_button", lang))

    def apply_palette(self, palette: Palette) -> None:
        style = ttk.Style(self)
        style.configure("Hands.Treeview", background=palette.background, fieldbackground=palette.background,
                        foreground=palette.text, font=self.font, rowheight=int(self.tk.call(
                            "font", "metrics", self.font, "-linespace")) + 6, borderwidth=0)
        style.map("Hands.Treeview", background=[("selected", palette.selection)],
                  foreground=[("selected", palette.text)])
        style.configure("Hands.Treeview.Heading", background=palette.panel, foreground=palette.muted)

    @property
    def nicks(self) -> list[str]:
        return [nick for nick, _ in self.hands]

    def selected(self) -> str | None:
        """The nick the buttons act on: the selected row's, else the first in the queue."""
        chosen = self.tree.selection()
        if chosen and chosen[0] in self.tree.get_children():
            return self.tree.set(chosen[0], "nick")
        return self.hands[0][0] if self.hands else None

    def _act(self, action: Callable[[str], None]) -> None:
        nick = self.selected()
        if nick is not None:
            action(nick)

    def show(self, hands: tuple[tuple[str, int], ...], now_ms: int) -> None:
        """The queue as it is now; the rows are made anew only when who is in it, or their order, changed."""
        if [nick for nick, _ in hands] != self.nicks:
            chosen = self.selected() if self.tree.selection() else None
            self.tree.delete(*self.tree.get_children())
            for position, (nick, _raised_at) in enumerate(hands, 1):
                self.tree.insert("", "end", iid=f"hand{position}", values=(position, tk_safe(nick), ""))
            rows = {self.tree.set(item, "nick"): item for item in self.tree.get_children()}
            if chosen in rows:
                self.tree.selection_set(rows[chosen])
        self.hands = hands
        self.title.configure(text=f"{tr('hands_title', self.lang)} ({len(hands)})")
        self.tick(now_ms)

    def tick(self, now_ms: int) -> None:
        for item, (_nick, raised_at) in zip(self.tree.get_children(), self.hands):
            self.tree.set(item, "up", minutes_seconds(now_ms - raised_at))

    def up_for(self, nick: str) -> str:
        """The duration shown for ``nick`` (what a test reads)."""
        for item in self.tree.get_children():
            if self.tree.set(item, "nick") == nick:
                return self.tree.set(item, "up")
        return ""
