"""A quick poll in the window: the teacher's live bar chart (a ``tk.Canvas``), the students' one-click
answer buttons, and the teacher's dialog that opens a poll.

Each widget draws what it is given (a ``PollView`` of the session's, with the voters of a named poll) and
reports what the user does through the callbacks it was made with; none of them talks to the session.
The chart is redrawn at most ``DRAWS_PER_SECOND`` times a second however many votes arrive: ``show()``
only notes the poll and schedules a drawing if none is due, so three hundred votes in one tick of the
window cost one drawing. Checking a poll's fields is ``classroom.make_poll_request``'s, without Tk.
"""
from __future__ import annotations

import time
import tkinter as tk
from tkinter import ttk
from typing import Callable

from common.client.classroom import PollRequest, PollView, make_poll_request
from common.client.classroom_texts import minutes_seconds, votes_text
from common.client.texts import tr
from common.gui.theme import Palette
from common.gui.widgets import AppToplevel, elide, tk_safe

DRAWS_PER_SECOND = 4
PAD = 10
COUNT_ROOM = 96  # pixels right of the bars for "12 (40%)"
MAX_LABEL_ROOM = 240  # pixels for an option's text left of its bar
MAX_VOTERS_SHOWN = 12  # names under a bar of a named poll; then "+N"


def status_text(poll: PollView, now_ms: int, lang: str, with_votes: bool) -> str:
    """"12 votes · closes in 0:42", "closed", "closes in 0:42 · your vote: 2"."""
    parts = [votes_text(poll.total, lang, tr)] if with_votes else []
    if poll.closed:
        parts.append(tr("poll_closed_state", lang))
    elif poll.closes_at:
        parts.append(tr("poll_left", lang, time=minutes_seconds(poll.closes_at - now_ms)))
    if not with_votes and poll.my_vote:
        parts.append(tr("poll_your_vote", lang, number=poll.my_vote))
    return " · ".join(parts)


def voters_text(voters: tuple[tuple[str, int], ...], option: int) -> str:
    names = [nick for nick, choice in voters if choice == option]
    shown = ", ".join(names[:MAX_VOTERS_SHOWN])
    return shown + (f", +{len(names) - MAX_VOTERS_SHOWN}" if len(names) > MAX_VOTERS_SHOWN else "")


class PollChart(ttk.Frame):
    """The teacher's view of a poll: a bar per option with its count and share (in a named poll, who chose
    it), the state under it, and Close poll / Save as CSV… / Hide. Canvas items are tagged ``bar<n>``,
    ``count<n>`` and ``voters<n>`` (n from 1)."""

    def __init__(self, master: tk.Misc, font: str, bold_font: str, on_close: Callable[[], None],
                 on_save: Callable[[], None], on_hide: Callable[[], None]) -> None:
        super().__init__(master, padding=(6, 4))
        self.font, self.bold_font = font, bold_font
        self.canvas = tk.Canvas(self, height=120, highlightthickness=0, borderwidth=0)
        self.canvas.pack(fill="both", expand=True)
        below = ttk.Frame(self)
        below.pack(fill="x", pady=(4, 0))
        self.status = ttk.Label(below, anchor="w")
        self.status.pack(side="left", fill="x", expand=True)
        self.hide_button = ttk.Button(below, command=on_hide)
        self.save_button = ttk.Button(below, command=on_save)
        self.close_button = ttk.Button(below, command=on_close)
        for button in (self.hide_button, self.save_button, self.close_button):
            button.pack(side="right", padx=(6, 0))
        self.poll: PollView | None = None
        self.voters: tuple[tuple[str, int], ...] = ()
        self.palette: Palette | None = None
        self.lang = "en"
        self.note = ""  # said after the state (where the CSV went), until another poll shows
        self.draws = 0  # how many times the canvas was drawn (the bench reports it)
        self._draw_id: str | None = None
        self._drawn_at = 0.0
        self.canvas.bind("<Configure>", lambda _e: self.request_draw())
        self.bind("<Destroy>", self._cancel, add="+")

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        self.hide_button.configure(text=tr("poll_hide_button", lang))
        self.save_button.configure(text=tr("poll_csv_button", lang))
        self.close_button.configure(text=tr("poll_close_button", lang))

    def apply_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.canvas.configure(background=palette.background)
        self.request_draw()

    def show(self, poll: PollView, voters: tuple[tuple[str, int], ...], now_ms: int) -> None:
        """Note the poll as it is now; the canvas follows within 1/DRAWS_PER_SECOND of a second."""
        changed = poll != self.poll or voters != self.voters
        if self.poll is None or poll.number != self.poll.number:
            self.note = ""
        self.poll, self.voters = poll, voters
        self.tick(now_ms)
        if poll.closed:
            self.close_button.pack_forget()
        elif not self.close_button.winfo_manager():
            self.close_button.pack(side="right", padx=(6, 0), before=self.save_button)
        if changed:
            self.request_draw()

    def tick(self, now_ms: int) -> None:
        """The line under the chart: votes, and the time left (the window's one-second tick)."""
        if self.poll is not None:
            text = status_text(self.poll, now_ms, self.lang, with_votes=True)
            self.status.configure(text=f"{text}   {self.note}" if self.note else text)

    def request_draw(self) -> None:
        if self._draw_id is not None:
            return
        wait = max(0.0, 1 / DRAWS_PER_SECOND - (time.monotonic() - self._drawn_at))
        self._draw_id = self.after(int(wait * 1000), self._draw)

    def _cancel(self, _event: tk.Event | None = None) -> None:
        if self._draw_id is not None:
            self.after_cancel(self._draw_id)
            self._draw_id = None

    def _measure(self, font: str) -> Callable[[str], int]:
        return lambda text: int(self.tk.call("font", "measure", font, text))

    def _draw(self) -> None:
        self._draw_id = None
        self._drawn_at = time.monotonic()
        poll, palette, canvas = self.poll, self.palette, self.canvas
        if poll is None or palette is None:
            return
        self.draws += 1
        canvas.delete("all")
        width = max(canvas.winfo_width(), 200)
        line = int(self.tk.call("font", "metrics", self.font, "-linespace"))
        row = line + 10 + (line if poll.named else 0)
        title = elide(tk_safe(poll.question), width - 2 * PAD, self._measure(self.bold_font))
        canvas.create_text(PAD, PAD, text=title, anchor="nw", font=self.bold_font, fill=palette.text, tags="question")
        labels = [tk_safe(f"{number}) {option}") for number, option in enumerate(poll.options, 1)]
        measure = self._measure(self.font)
        label_room = min(MAX_LABEL_ROOM, max(map(measure, labels)), width // 3)
        left, right = PAD + label_room + 10, width - PAD - COUNT_ROOM
        most = max(poll.counts, default=0) or 1
        for index, (label, count) in enumerate(zip(labels, poll.counts or (0,) * len(labels)), 1):
            top = PAD + line + 10 + (index - 1) * row
            middle = top + line // 2
            canvas.create_text(PAD, middle, text=elide(label, label_room, measure), anchor="w", font=self.font,
                               fill=palette.text, tags=f"label{index}")
            canvas.create_rectangle(left, top + 2, right, top + line - 2, fill=palette.panel, outline="",
                                    tags=f"track{index}")
            end = left + (right - left) * count / most
            canvas.create_rectangle(left, top + 2, max(left + 1, end), top + line - 2, fill=palette.link,
                                    outline="", tags=("bar", f"bar{index}"))
            share = round(100 * count / poll.total) if poll.total else 0
            canvas.create_text(right + 8, middle, text=f"{count} ({share}%)", anchor="w", font=self.font,
                               fill=palette.text, tags=f"count{index}")
            if poll.named:
                names = elide(tk_safe(voters_text(self.voters, index)), right - left, measure)
                canvas.create_text(left, top + line + 2, text=names, anchor="nw", font=self.font,
                                   fill=palette.muted, tags=f"voters{index}")
        height = PAD + line + 10 + len(labels) * row
        if int(canvas.cget("height")) != height:
            canvas.configure(height=height)

    def bar_width(self, number: int) -> float:
        """How long option ``number``'s bar is drawn (pixels): what a test reads off the canvas."""
        x0, _y0, x1, _y1 = self.canvas.coords(f"bar{number}")
        return x1 - x0


class PollBallot(ttk.Frame):
    """A student's view of the open poll: the question and a button per option; one click votes (again:
    changes the vote). The chosen option's button is marked."""

    COLUMNS = 3

    def __init__(self, master: tk.Misc, bold_font: str, on_vote: Callable[[int], None]) -> None:
        super().__init__(master, padding=(8, 4))
        self.question = ttk.Label(self, anchor="w", font=bold_font, justify="left")
        self.question.pack(fill="x")
        self.grid_frame = ttk.Frame(self)
        self.grid_frame.pack(fill="x", pady=(4, 0))
        self.status = ttk.Label(self, anchor="w")
        self.status.pack(fill="x", pady=(2, 0))
        self.on_vote = on_vote
        self.buttons: list[ttk.Button] = []
        self.poll: PollView | None = None
        self.lang = "en"
        self.question.bind("<Configure>", lambda e: self.question.configure(wraplength=max(200, e.width - 4)))

    def show(self, poll: PollView, now_ms: int, lang: str) -> None:
        self.lang = lang
        if self.poll is None or (poll.number, poll.options) != (self.poll.number, self.poll.options):
            self.question.configure(text=tk_safe(poll.question))
            for button in self.buttons:
                button.destroy()
            self.buttons = []
            for index, option in enumerate(poll.options):
                button = ttk.Button(self.grid_frame, text=tk_safe(f"{index + 1}. {option}"),
                                    command=lambda number=index + 1: self.on_vote(number))
                button.grid(row=index // self.COLUMNS, column=index % self.COLUMNS, sticky="ew", padx=2, pady=2)
                self.grid_frame.columnconfigure(index % self.COLUMNS, weight=1, uniform="options")
                self.buttons.append(button)
        for index, button in enumerate(self.buttons, 1):
            button.configure(style="Chosen.TButton" if index == poll.my_vote else "TButton")
        self.poll = poll
        self.tick(now_ms)

    def tick(self, now_ms: int) -> None:
        if self.poll is not None:
            self.status.configure(text=status_text(self.poll, now_ms, self.lang, with_votes=False))


class PollDialog:
    """The teacher's "New poll…": a question, up to six options (empty ones are left out), whether the
    teacher sees who voted what, and a time limit; ``on_open(request)`` gets the poll once it is valid."""

    def __init__(self, root: tk.Misc, channel: str, lang: str, on_open: Callable[[PollRequest], None]) -> None:
        self.top = top = AppToplevel(root)
        self.lang = lang
        self.on_open = on_open
        top.title(f"{tr('poll_dialog_title', lang)} — {channel}")
        top.resizable(False, False)
        frame = ttk.Frame(top, padding=16)
        frame.pack(fill="both", expand=True)
        ttk.Label(frame, text=tr("poll_question", lang)).grid(row=0, column=0, sticky="w", pady=3, padx=(0, 10))
        self.question = ttk.Entry(frame, width=48)
        self.question.grid(row=0, column=1, sticky="ew", pady=3)
        self.options: list[ttk.Entry] = []
        for index in range(6):
            ttk.Label(frame, text=tr("poll_option", lang, number=index + 1)).grid(row=index + 1, column=0, sticky="w")
            entry = ttk.Entry(frame, width=48)
            entry.grid(row=index + 1, column=1, sticky="ew", pady=2)
            self.options.append(entry)
        self.named = ttk.Checkbutton(frame, text=tr("poll_named", lang))
        self.named.state(["!alternate", "!selected"])
        self.named.grid(row=7, column=1, sticky="w", pady=(6, 2))
        ttk.Label(frame, text=tr("poll_seconds", lang)).grid(row=8, column=0, sticky="w", padx=(0, 10))
        self.seconds = ttk.Entry(frame, width=8)
        self.seconds.insert(0, "0")
        self.seconds.grid(row=8, column=1, sticky="w", pady=3)
        self.problems = ttk.Label(frame, foreground="#b3261e", wraplength=420, justify="left")
        self.problems.grid(row=9, column=0, columnspan=2, sticky="w")
        buttons = ttk.Frame(frame)
        buttons.grid(row=10, column=0, columnspan=2, sticky="e", pady=(10, 0))
        ttk.Button(buttons, text=tr("cancel_button", lang), command=top.destroy).pack(side="right")
        self.open_button = ttk.Button(buttons, text=tr("poll_open_button", lang), command=self.submit)
        self.open_button.pack(side="right", padx=(0, 6))
        top.bind("<Return>", lambda _e: self.submit())
        top.bind("<Escape>", lambda _e: top.destroy())
        self.question.focus_set()

    def fill(self, question: str, options: list[str], named: bool = False, seconds: str = "0") -> None:
        """Fill the fields in (as a teacher types them)."""
        for entry, text in zip([self.question, *self.options, self.seconds],
                               [question, *options, *[""] * (6 - len(options)), seconds]):
            entry.delete(0, "end")
            entry.insert(0, text)
        self.named.state(["selected" if named else "!selected"])

    def submit(self) -> None:
        request = make_poll_request(self.question.get(), [entry.get() for entry in self.options],
                                    self.named.instate(["selected"]), self.seconds.get())
        if isinstance(request, str):
            self.problems.configure(text=tr(request, self.lang))
            return
        self.top.destroy()
        self.on_open(request)
