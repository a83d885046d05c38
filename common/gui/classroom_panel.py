"""The classroom strip of the chat window, above the messages of a channel: raised hands and the poll.

Everyone sees how many hands are up. A student has the "✋ Raise hand" toggle and, while a poll is open,
its answer buttons; a channel operator (the teacher) has "New poll…", the queue of hands (``HandsQueue``)
and the live chart of the poll (``PollChart``), kept after it closes for its CSV until hidden. The strip
shows only in a channel of a server that offers ``classchat.org/classroom``.

The window feeds it: ``note(event)`` for every session event (cheap: it only marks the strip out of date),
``refresh(channel)`` once per drawing tick, ``apply_palette`` and ``retranslate``. Its own ``after`` runs
every second to move the durations and the countdown on, only while the teacher's queue or a poll with a
time limit shows; it and the chart's drawing are cancelled when the strip is destroyed with its window. Actions go to the session directly, for the strip's channel.
"""
from __future__ import annotations

import logging
import tkinter as tk
from tkinter import ttk
from typing import Callable

from common.client import events as ev
from common.client.classroom import ClassroomEvent, ClassroomView, PollRequest, write_poll_csv
from common.client.session import Session
from common.client.texts import tr
from common.protocol.casemap import casefold
from common.gui.hands_panel import HandsQueue, hands_count_text
from common.gui.poll_view import PollBallot, PollChart, PollDialog
from common.gui.theme import Palette
from common.gui.widgets import ask_save_path

log = logging.getLogger("classchat.gui")
TICK_MS = 1000


def shown(widget: tk.Misc, visible: bool, **pack: object) -> None:
    """Pack or forget ``widget`` only when that changes (packing again would move it)."""
    if visible and not widget.winfo_manager():
        widget.pack(**pack)
    elif not visible and widget.winfo_manager():
        widget.pack_forget()


class ClassroomPanel(ttk.Frame):
    """Hands and the poll of the window's current channel; ``session()`` is the window's session of now."""

    def __init__(self, master: tk.Misc, before: tk.Misc, font: str, bold_font: str,
                 session: Callable[[], Session]) -> None:
        super().__init__(master, padding=(6, 2))
        self.before = before
        self.session = session
        self.lang = "en"
        self.channel: str | None = None
        self.is_teacher = False
        self.view = ClassroomView()
        self.hidden_poll: int | None = None  # the number of the poll whose chart the teacher hid
        self.dialog: PollDialog | None = None
        self._dirty = True
        bar = ttk.Frame(self)
        bar.pack(fill="x")
        self.hand_button = ttk.Button(bar, command=self.toggle_hand)
        self.count_label = ttk.Label(bar, anchor="w", font=font)
        self.poll_button = ttk.Button(bar, command=self.ask_poll)
        self.count_label.pack(side="left", padx=(4, 0))
        self.body = ttk.Frame(self)
        self.queue = HandsQueue(self.body, font, bold_font, on_call=self.call_on, on_lower=self.lower_hand,
                                on_clear=self.clear_hands)
        self.chart = PollChart(self.body, font, bold_font, on_close=self.close_poll, on_save=self.ask_save,
                               on_hide=self.hide_chart)
        self.ballot = PollBallot(self.body, bold_font, on_vote=self.vote)
        self._tick_id: str | None = None
        self.bind("<Destroy>", self._stop, add="+")

    # ------------------------------------------------------------------ fed by the window

    def note(self, event: ev.Event) -> None:
        """Mark the strip out of date when ``event`` may change it."""
        if isinstance(event, (ClassroomEvent, ev.MembersChanged)):
            self._dirty |= self.channel is not None and casefold(event.channel) == casefold(self.channel)
        elif isinstance(event, (ev.ConnectionState, ev.ModeChanged)):
            self._dirty = True

    def refresh(self, channel: str | None) -> None:
        """Show ``channel``'s hands and poll (None: not a channel), if anything changed since last time."""
        if channel != self.channel:
            self.channel, self._dirty = channel, True
        if not self._dirty:
            return
        self._dirty = False
        session = self.session()
        visible = channel is not None and session.has_classroom and session.is_joined(channel)
        shown(self, visible, fill="x", before=self.before)
        if not visible:
            self._keep_ticking(False)
            return
        self.view = view = session.classroom(channel)
        self.is_teacher = session.is_operator(channel) or session.is_oper
        now = view.server_now_ms()
        raised = view.hand_of(session.nick)
        self.hand_button.configure(text=tr("hand_lower_button" if raised else "hand_raise_button", self.lang))
        shown(self.hand_button, not self.is_teacher, side="left", before=self.count_label)
        shown(self.poll_button, self.is_teacher, side="right")
        self.count_label.configure(text=hands_count_text(len(view.hands), self.lang))
        poll = view.poll
        with_queue = self.is_teacher and bool(view.hands)
        with_chart = self.is_teacher and poll is not None and poll.number != self.hidden_poll
        with_ballot = not self.is_teacher and poll is not None and not poll.closed
        if with_queue:
            self.queue.show(view.hands, now)
        if with_chart:
            self.chart.show(poll, view.voters, now)
        if with_ballot:
            self.ballot.show(poll, now, self.lang)
        shown(self.queue, with_queue, side="left", fill="y")
        shown(self.chart, with_chart, side="left", fill="both", expand=True)
        shown(self.ballot, with_ballot, fill="x")
        shown(self.body, with_queue or with_chart or with_ballot, fill="x", pady=(2, 0))
        counting_down = poll is not None and not poll.closed and bool(poll.closes_at)
        self._keep_ticking(with_queue or (counting_down and (with_chart or with_ballot)))

    def apply_palette(self, palette: Palette) -> None:
        style = ttk.Style(self)
        style.configure("Chosen.TButton", background=palette.link, foreground=palette.background)
        style.map("Chosen.TButton", background=[("active", palette.link)])
        self.queue.apply_palette(palette)
        self.chart.apply_palette(palette)

    def retranslate(self, lang: str) -> None:
        self.lang = lang
        self.poll_button.configure(text=tr("poll_new_button", lang))
        self.queue.retranslate(lang)
        self.chart.retranslate(lang)
        self._dirty = True

    def _keep_ticking(self, needed: bool) -> None:
        """Arm the one-second tick when something shown has a time to move on; cancel it when nothing has."""
        if needed and self._tick_id is None:
            self._tick_id = self.after(TICK_MS, self._tick)
        elif not needed and self._tick_id is not None:
            self.after_cancel(self._tick_id)
            self._tick_id = None

    def _tick(self) -> None:
        """Every second: how long each hand has been up, and how long the poll has left."""
        self._tick_id = self.after(TICK_MS, self._tick)
        now = self.view.server_now_ms()
        if self.queue.winfo_manager():
            self.queue.tick(now)
        if self.chart.winfo_manager():
            self.chart.tick(now)
        if self.ballot.winfo_manager():
            self.ballot.tick(now)

    def _stop(self, event: tk.Event) -> None:
        if event.widget is self and self._tick_id is not None:
            self.after_cancel(self._tick_id)
            self._tick_id = None

    # ------------------------------------------------------------------ what the user does

    def _send(self, *params: str, command: str = "HAND") -> None:
        if self.channel is not None:
            self.session().command(command, self.channel, *params)

    def toggle_hand(self) -> None:
        self._send("DOWN" if self.view.hand_of(self.session().nick) else "UP")

    def call_on(self, nick: str) -> None:
        self._send("CALL", nick)

    def lower_hand(self, nick: str) -> None:
        self._send("LOWER", nick)

    def clear_hands(self) -> None:
        self._send("CLEAR")

    def vote(self, number: int) -> None:
        poll = self.view.poll
        if poll is not None and not poll.closed:
            self._send(str(number), str(poll.number), command="VOTE")

    def ask_poll(self) -> None:
        """The "New poll…" dialog (one at a time); the poll it gives opens in the strip's channel."""
        if self.dialog is not None and self.dialog.top.winfo_exists():
            self.dialog.top.lift()
            return
        if self.channel is not None:
            self.dialog = PollDialog(self._root(), self.channel, self.lang, self.open_poll)

    def open_poll(self, request: PollRequest) -> None:
        if self.channel is not None:
            self.hidden_poll = None
            self.session().command("POLL", *request.params(self.channel))

    def close_poll(self) -> None:
        self._send("CLOSE", command="POLL")

    def hide_chart(self) -> None:
        if self.view.poll is not None:
            self.hidden_poll = self.view.poll.number
            self._dirty = True
            self.refresh(self.channel)

    def ask_save(self) -> None:
        poll = self.view.poll
        if poll is None or self.channel is None:
            return
        name = f"poll-{self.channel.lstrip('#')}-{poll.number}.csv"
        path = ask_save_path(self, name)
        if path:
            self.save_csv(path)

    def save_csv(self, path: str) -> bool:
        """Write the poll's result (its counts, and in a named poll who chose what) to ``path``; what
        happened shows under the chart."""
        poll = self.view.poll
        if poll is None or self.channel is None:
            return False
        try:
            with open(path, "w", newline="", encoding="utf-8") as stream:
                write_poll_csv(stream, self.channel, poll, self.view.voters)
        except OSError as error:
            log.warning("could not save %s: %s", path, error)
            self.chart.note = tr("poll_save_failed", self.lang, path=path, reason=error.strerror or error)
            saved = False
        else:
            self.chart.note = tr("poll_saved", self.lang, path=path)
            saved = True
        self.chart.tick(self.view.server_now_ms())
        return saved

