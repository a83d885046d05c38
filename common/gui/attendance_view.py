"""The teacher's attendance window: who was present in a class channel, a row per person per day, in a
``ttk.Treeview`` table, with a since-day field and "Save as CSV…".

The Channel menu's "Attendance…" (shown to a teacher in a class channel when the server offers it, see
``menus.py``) opens one window per channel through ``AttendanceWindows``, which the chat window owns. The
window asks with ``Session.request_attendance``; the answer arrives on the chat window's event queue as an
``AttendanceReport`` (or an error), which the chat window hands over with ``AttendanceWindows.take`` on the
Tk thread. The since-day is checked before asking (``parse_date``), and the file is written by
``common.client.attendance.save_csv``, both without Tk.
"""
from __future__ import annotations

import tkinter as tk
from datetime import date
from tkinter import ttk
from typing import Callable

from common.client import events as ev
from common.client.attendance import save_csv
from common.client.session import Session
from common.client.texts import tr
from common.gui.theme import Palette
from common.gui.widgets import ask_save_path
from common.protocol import numerics as rpl
from common.protocol.attendance import AttendanceRow
from common.protocol.casemap import casefold
from common.protocol.params import parse_date

# (column, its text's key, width in pixels, anchor)
COLUMNS = (("name", "attendance_name", 170, "w"), ("account", "attendance_account", 140, "w"),
           ("day", "attendance_day", 100, "w"), ("first", "attendance_first", 95, "center"),
           ("last", "attendance_last", 95, "center"), ("minutes", "attendance_minutes", 75, "e"))
REFUSALS = (rpl.ERR_NOSUCHCHANNEL, rpl.ERR_CHANOPRIVSNEEDED, rpl.ERR_NOPRIVILEGES)


def csv_file_name(channel: str, since: str | None) -> str:
    """``attendance-math-2026-11-24.csv``: the channel without its '#', and the day asked from (or today)."""
    stem = "".join(char for char in channel.lstrip("#&") if char.isalnum() or char in "-_") or "channel"
    return f"attendance-{stem}-{since or date.today().isoformat()}.csv"


class AttendanceWindow:
    """One channel's attendance: ``show(report)`` fills the table (the latest lesson on top), ``refused(text)``
    says why it could not."""

    def __init__(self, master: tk.Misc, session: Session, channel: str, lang: str, palette: Palette,
                 on_close: Callable[["AttendanceWindow"], None]) -> None:
        self.session = session
        self.channel = channel
        self.lang = lang
        self.rows: tuple[AttendanceRow, ...] = ()
        self.since: str | None = None
        self.waiting = False
        self._on_close = on_close
        self.top = tk.Toplevel(master)
        self.top.title(tr("attendance_title", lang, channel=channel))
        self.top.configure(background=palette.panel, highlightthickness=1, highlightbackground=palette.border)
        self.top.minsize(520, 260)
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self._build(palette)
        self.ask()

    def _build(self, palette: Palette) -> None:
        lang = self.lang
        style = ttk.Style(self.top)
        style.configure("Attendance.Treeview", background=palette.background, fieldbackground=palette.background,
                        foreground=palette.text, bordercolor=palette.border, rowheight=22)
        style.configure("Attendance.Treeview.Heading", background=palette.panel, foreground=palette.text)
        style.map("Attendance.Treeview", background=[("selected", palette.selection)],
                  foreground=[("selected", palette.text)])
        bar = ttk.Frame(self.top, padding=(10, 8))
        bar.pack(side="top", fill="x")
        ttk.Label(bar, text=tr("attendance_since", lang)).pack(side="left")
        self.since_entry = ttk.Entry(bar, width=12)
        self.since_entry.pack(side="left", padx=(6, 6))
        self.since_entry.bind("<Return>", lambda _event: self.ask())
        self.show_button = ttk.Button(bar, text=tr("attendance_show", lang), command=self.ask)
        self.show_button.pack(side="left")
        footer = ttk.Frame(self.top, padding=(10, 6))
        footer.pack(side="bottom", fill="x")
        self.close_button = ttk.Button(footer, text=tr("attendance_close", lang), command=self.close)
        self.close_button.pack(side="right")
        self.save_button = ttk.Button(footer, text=tr("attendance_save", lang), command=self.save, state="disabled")
        self.save_button.pack(side="right", padx=(0, 6))
        self.status = ttk.Label(footer, anchor="w")
        self.status.pack(side="left", fill="x", expand=True)
        table = ttk.Frame(self.top, padding=(10, 0))
        table.pack(side="top", fill="both", expand=True)
        self.tree = ttk.Treeview(table, columns=[name for name, *_ in COLUMNS], show="headings",
                                 style="Attendance.Treeview", selectmode="browse")
        for name, key, width, anchor in COLUMNS:
            self.tree.heading(name, text=tr(key, lang), anchor=anchor)
            self.tree.column(name, width=width, anchor=anchor, stretch=name == "name")
        scroll = ttk.Scrollbar(table, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        scroll.pack(side="right", fill="y")
        self.tree.pack(side="left", fill="both", expand=True)

    def ask(self) -> None:
        """Ask the server for the rows from the day in the field (all of them when it is empty)."""
        text = self.since_entry.get().strip()
        if text and parse_date(text) is None:
            self.status.configure(text=tr("attendance_bad_date", self.lang))
            return
        if not self.session.request_attendance(self.channel, text or None):
            self.status.configure(text=tr("attendance_offline", self.lang))
            return
        self.since = text or None
        self.waiting = True
        self.status.configure(text=tr("attendance_loading", self.lang))

    def show(self, report: ev.AttendanceReport) -> None:
        self.waiting = False
        self.rows = report.rows
        self.tree.delete(*self.tree.get_children())
        newest_day_first = sorted(report.rows, key=lambda row: row.day, reverse=True)  # stable: names stay sorted
        for row in newest_day_first:
            self.tree.insert("", "end", values=(
                row.name, row.account or tr("attendance_guest", self.lang), row.day, row.first_join,
                row.last_leave or tr("attendance_present", self.lang), row.minutes))
        status = tr("attendance_rows", self.lang, count=len(report.rows))
        if report.left_out:
            status += tr("attendance_left_out", self.lang, count=report.left_out)
        self.status.configure(text=status)
        self.save_button.configure(state="normal" if report.rows else "disabled")

    def refused(self, text: str) -> None:
        self.waiting = False
        self.status.configure(text=tr("attendance_refused", self.lang, text=text))

    def save(self) -> None:
        """Save the rows shown as CSV, to a file the user chooses."""
        path = ask_save_path(self.top, csv_file_name(self.channel, self.since))
        if not path:
            return
        try:
            save_csv(path, self.rows)
        except OSError as error:
            self.status.configure(text=tr("attendance_save_failed", self.lang, path=path,
                                          error=error.strerror or error))
            return
        self.status.configure(text=tr("attendance_saved", self.lang, path=path))

    def close(self) -> None:
        self.top.destroy()
        self._on_close(self)


class AttendanceWindows:
    """The chat window's attendance windows, one per channel; ``take`` routes the session's answers to them."""

    def __init__(self, master: tk.Misc) -> None:
        self.master = master
        self.open: dict[str, AttendanceWindow] = {}

    def show_for(self, session: Session, channel: str, lang: str, palette: Palette) -> AttendanceWindow:
        """Open the channel's window, or bring it to the front and ask again."""
        window = self.open.get(casefold(channel))
        if window is not None and window.session is session:
            window.top.deiconify()
            window.top.lift()
            window.ask()
            return window
        if window is not None:
            window.close()  # from a session that was replaced: it would never get its answers
        window = AttendanceWindow(self.master, session, channel, lang, palette, self._forget)
        self.open[casefold(channel)] = window
        return window

    def take(self, event: ev.Event) -> None:
        """Give a report, or an answer refusing one, to the window waiting for it."""
        if isinstance(event, ev.AttendanceReport):
            window = self.open.get(casefold(event.channel))
            if window is not None:
                window.show(event)
        elif isinstance(event, ev.ErrorReply):
            for window in self.open.values():
                about_it = (event.code == "FAIL" and event.params[:1] == ("ATTENDANCE",)) or (
                    event.code in REFUSALS and casefold(event.target or "") == casefold(window.channel))
                if window.waiting and about_it:
                    window.refused(event.text)

    def close_all(self) -> None:
        for window in list(self.open.values()):
            window.close()

    def _forget(self, window: AttendanceWindow) -> None:
        if self.open.get(casefold(window.channel)) is window:
            del self.open[casefold(window.channel)]
