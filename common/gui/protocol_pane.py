"""The protocol pane (View → Show the protocol): every raw IRC line the window's session sends (→) and
receives (←), with times to the millisecond, coloured by the kind of command, passwords masked
(``common/client/raw_lines.py``, the same rule as the CLI's ``--raw``).

It is a section below the chat in the window's vertical paned window, not a window of its own: at
1366x768 a student sees the button they click, the line it sends and the answer together, and nothing
hides behind anything. While shown, a tick on the Tk loop every ``TICK_MS`` takes what the session's
``RawLineLog`` recorded since its last look (at most ``MAX_LINES_PER_TICK``) and draws it with one insert;
the pane keeps the last ``KEPT_LINES`` lines, trimming the oldest in chunks. Hidden, it has no tick and
costs nothing: the log alone keeps the session's last lines, so a pane opened later starts with the
registration burst. It follows the end unless the user scrolled up to read.
"""
from __future__ import annotations

import tkinter as tk
from tkinter import ttk
from typing import Callable

from common.client.raw_lines import KINDS, NOTE, SENT, RawLineLog, ShownLine, shown
from common.client.texts import tr
from common.gui.theme import Palette
from common.gui.widgets import NamedFont, tk_safe

TICK_MS = 50
MAX_LINES_PER_TICK = 1000
KEPT_LINES = 5000
TRIM_CHUNK = 500  # lines trimmed at once once KEPT_LINES is passed by this many
SHOWN_SHARE = 0.4  # of the window's height, when the pane opens
MIN_HEIGHT = 140
DEFAULT_HEIGHT = 220  # when the window's height is not known yet

# The colour of each kind of line (raw_lines.kind_of) and of the times, on light and on dark backgrounds:
# each at least 4.5:1 (WCAG AA) against the theme's background and against a sent line's (tests check it).
KIND_COLOURS = {
    "light": {"message": "#0b57a4", "membership": "#1b7030", "mode": "#0d6b63", "numeric": "#6b3fb8",
              "ping": "#5f6773", "cap": "#8a4b00", "error": "#b3261e", "other": "#1d2330", "note": "#5f6773",
              "time": "#5f6773"},
    "dark": {"message": "#79c0ff", "membership": "#7ee787", "mode": "#56d4dd", "numeric": "#d2a8ff",
             "ping": "#9aa3ad", "cap": "#e3b341", "error": "#ff7b72", "other": "#dcdfe4", "note": "#9aa3ad",
             "time": "#9aa3ad"},
}


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""
    channels = (int(colour[index:index + 2], 16) / 255 for index in (1, 3, 5))
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def kind_colours(palette: Palette) -> dict[str, str]:
    """The colours for a theme: the dark set on a dark background, whatever the theme is called."""
    return KIND_COLOURS["dark" if relative_luminance(palette.background) < 0.2 else "light"]


class ProtocolPane(ttk.Frame):
    """The pane, a child of the window's vertical ``tk.PanedWindow`` (its ``master``), which it adds
    itself to when shown (``set_shown``). ``log_of()`` is the current session's log: when the window
    connects anew, the pane notices the new log and goes on with it. Its × ("Hide") generates
    ``<<ProtocolPaneClosed>>``; ``close()`` when the window goes. ``menu_variable`` names the Tcl variable
    of the menu's check mark: a plain Tcl variable, not a ``tk.BooleanVar``, whose ``__del__`` would call
    Tcl from whichever thread the collector runs in."""

    def __init__(self, master: tk.PanedWindow, log_of: Callable[[], RawLineLog | None], size: int,
                 label_font: str, lang: str) -> None:
        super().__init__(master)
        self.paned = master
        self.log_of = log_of
        self.lang = lang
        self.shown = False
        self._log: RawLineLog | None = None
        self._seq = 0
        self._after_id: str | None = None
        self.following = True
        self.menu_variable = f"classchat-protocol-shown{self}"
        self.setvar(self.menu_variable, 0)
        self._sized = False
        self.paned.bind("<Configure>", self._on_paned_resized, add=True)
        self.font = NamedFont(self, "DejaVu Sans Mono", size)
        self.bold_font = NamedFont(self, "DejaVu Sans Mono", size, weight="bold")
        header = ttk.Frame(self, padding=(8, 3))
        header.pack(fill="x")
        self.close_button = ttk.Button(header, command=lambda: self.event_generate("<<ProtocolPaneClosed>>"))
        self.clear_button = ttk.Button(header, command=self.clear)
        self.title = ttk.Label(header, font=label_font)
        self.hint = ttk.Label(header)
        self.close_button.pack(side="right")
        self.clear_button.pack(side="right", padx=6)
        self.title.pack(side="left")
        self.hint.pack(side="left", padx=12)  # packed last: on a narrow window it is cut, not the buttons
        body = ttk.Frame(self)
        body.pack(fill="both", expand=True)
        self.text = tk.Text(body, wrap="char", state="disabled", font=self.font.name, borderwidth=0,
                            highlightthickness=0, padx=8, pady=4, cursor="arrow", width=20, height=4)
        self.scrollbar = ttk.Scrollbar(body, command=self._scroll_bar_moved)
        self.text.configure(yscrollcommand=self.scrollbar.set)
        self.scrollbar.pack(side="right", fill="y")
        self.text.pack(side="left", fill="both", expand=True)
        self.text.bind("<Configure>", lambda _e: self.following and self.text.see("end"))
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>", "<Key>", "<ButtonRelease-1>"):
            self.text.bind(sequence, lambda _e: self.after_idle(self._user_scrolled), add=True)
        self.text.tag_configure("arrow", font=self.bold_font.name)
        self._set_margin()
        self.set_language(lang)

    # ------------------------------------------------------------------ shown or hidden

    def set_shown(self, shown: bool) -> None:
        """Show the pane below the chat (about ``SHOWN_SHARE`` of the height, the sash can move it) and
        start its tick, or take it away and stop the tick."""
        if shown == self.shown:
            return
        self.shown = shown
        self.setvar(self.menu_variable, int(shown))
        if shown:
            self.paned.add(self, stretch="never", height=self._share_of(self.paned.winfo_height()),
                           minsize=MIN_HEIGHT // 2)
            # Before the window is mapped (opened with the pane remembered as shown) its height is not
            # known: the first real size sets the pane's share.
            self._sized = self.paned.winfo_ismapped()
            self.following = True
            self._tick()
        else:
            self._cancel_tick()
            self.paned.forget(self)

    def menu_ticked(self) -> bool:
        """Whether the menu's check mark is on (the menu sets it before it calls its command)."""
        return bool(self.getboolean(self.getvar(self.menu_variable)))

    def _share_of(self, height: int) -> int:
        return max(MIN_HEIGHT, int(height * SHOWN_SHARE)) if height > 2 * MIN_HEIGHT else DEFAULT_HEIGHT

    def _on_paned_resized(self, event: tk.Event) -> None:
        if self.shown and not self._sized and event.height > 2 * MIN_HEIGHT:
            self._sized = True
            self.paned.paneconfigure(self, height=self._share_of(event.height))

    def close(self) -> None:
        """The window is going: no more ticks, and the fonts go (on the Tk thread, see ``NamedFont``)."""
        self._cancel_tick()
        self.tk.call("unset", "-nocomplain", self.menu_variable)
        self.font.delete()
        self.bold_font.delete()

    def _cancel_tick(self) -> None:
        if self._after_id is not None:
            self.after_cancel(self._after_id)
            self._after_id = None

    def _tick(self) -> None:
        """Draw what the log recorded since the last tick, then look again in ``TICK_MS``."""
        self._after_id = None
        log = self.log_of()
        if log is not self._log:
            self._log, self._seq = log, 0  # a new session: its log starts at 1
        if log is not None:
            records, missed = log.since(self._seq)
            records = records[:MAX_LINES_PER_TICK]  # the rest next tick
            if records:
                self._seq = records[-1].seq
            self.append([shown(record, self._describe_note) for record in records], missed)
        self._after_id = self.after(TICK_MS, self._tick)

    def _describe_note(self, key: str, values: dict[str, str]) -> str:
        return tr(key, self.lang, **values)

    # ------------------------------------------------------------------ drawing

    def append(self, lines: list[ShownLine], missed: int = 0) -> None:
        """Add lines with one insert (``missed``: lines dropped before the pane could read them); trim the
        oldest past ``KEPT_LINES``; keep showing the end if the user was there."""
        if not lines and not missed:
            return
        segments: list[str | tuple[str, ...]] = []
        if missed:
            segments += [f"{tr('raw_skipped', self.lang, count=missed)}\n", ("note", "line")]
        for line in lines:
            side = "sent" if line.direction == SENT else "note" if line.direction == NOTE else "received"
            segments += [f"{line.clock} ", ("time", side, "line"), f"{line.direction} ", ("arrow", side, "line"),
                         f"{tk_safe(line.text)}\n", (line.kind, side, "line")]
        self.text.configure(state="normal")
        self.text.insert("end", *segments)
        excess = int(self.text.index("end-1c").split(".")[0]) - 1 - KEPT_LINES
        if excess >= TRIM_CHUNK:
            self.text.delete("1.0", f"{excess + 1}.0")
        self.text.configure(state="disabled")
        if self.following:
            self.text.see("end")

    def lines(self) -> list[str]:
        """The lines shown, as text (for tests and for copying)."""
        return self.text.get("1.0", "end-1c").splitlines()

    def clear(self) -> None:
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.configure(state="disabled")
        self.following = True

    def _scroll_bar_moved(self, *how: str) -> None:
        self.text.yview(*how)
        self._user_scrolled()

    def _user_scrolled(self) -> None:
        """Reading older lines stops following the end; scrolling back to the end follows again."""
        self.following = self.text.yview()[1] >= 0.999

    # ------------------------------------------------------------------ looks and language

    def apply_palette(self, palette: Palette) -> None:
        colours = kind_colours(palette)
        text = self.text
        text.configure(background=palette.background, foreground=palette.text, selectbackground=palette.selection,
                       insertbackground=palette.text)
        for kind in KINDS:
            text.tag_configure(kind, foreground=colours[kind])
        text.tag_configure("time", foreground=colours["time"])
        text.tag_configure("sent", background=palette.own_background)
        text.tag_configure("arrow", foreground=palette.text)
        self.hint.configure(foreground=colours["note"])

    def set_font_size(self, size: int) -> None:
        self.font.set_size(size)
        self.bold_font.set_size(size)
        self._set_margin()

    def _set_margin(self) -> None:
        """A wrapped line goes on under its text, not under the time: "14:03:27.512 → " is 15 characters."""
        indent = int(self.tk.call("font", "measure", self.font.name, "0" * 15))
        self.text.tag_configure("line", lmargin2=indent)

    def set_language(self, lang: str) -> None:
        self.lang = lang
        self.title.configure(text=tr("protocol_title", lang))
        self.hint.configure(text=tr("protocol_hint", lang))
        self.clear_button.configure(text=tr("protocol_clear", lang))
        self.close_button.configure(text=f"✕ {tr('protocol_close', lang)}")
