"""The chat window and the connect dialog.

A ``ChatWindow`` owns one ``Session``. The session's receiver thread fills its ``queue.Queue``; the Tk
main thread drains it every ``POLL_MS`` with ``get_nowait()``, at most ``MAX_EVENTS_PER_TICK`` events a
tick, each handled in its own try/log, and draws the lines of a tick with one insert. So a flood of
messages never freezes the window, and no other thread ever touches a widget.
"""
from __future__ import annotations

import logging
import queue
import tkinter as tk
from tkinter import ttk
from typing import Callable

from common.client import events as ev
from common.protocol.casemap import casefold, is_channel_name
from common.client.slash_commands import run_input
from common.gui.model import SERVER_TAB, ConversationBook, DisplayLine, chat_line, route
from common.gui.settings import (MAX_FONT, MIN_FONT, Settings, save_settings, session_config,
                                 validate_connect_form)
from common.gui.theme import THEMES
from common.gui.widgets import Banner, ConversationList, InputLine, MemberList, MessageView, NamedFont
from common.client.session import Session, SessionConfig
from common.client.texts import LANGUAGES, tr
from common.protocol.tls import normalize_fingerprint

log = logging.getLogger("classchat.gui")
POLL_MS = 30
MAX_EVENTS_PER_TICK = 300


class ChatWindow:
    """One chat window over one session. ``top`` is its Toplevel; ``close()`` ends both."""

    def __init__(self, top: tk.Toplevel | tk.Tk, config: SessionConfig, settings: Settings, lang: str,
                 on_closed: Callable[["ChatWindow"], None] | None = None, save: bool = True) -> None:
        self.top = top
        self.settings = settings
        self.lang = lang
        self.on_closed = on_closed
        self.save = save
        self.server_text = f"{config.host}:{config.port}"
        self.state_key = "state_connecting"
        self.first_channel = config.channels[0] if config.channels else None
        self.book = ConversationBook()
        self.session = Session(config)
        self.closing = False
        self._after_id: str | None = None
        self._members_dirty = True
        self._list_dirty = True
        self._pending_lines: list[DisplayLine] = []  # lines of the shown conversation, drawn once a tick
        self._asked_older: dict[str, str] = {}  # conversation → the msgid we last asked history before
        self._build()
        self.apply_theme(settings.theme)
        self.retranslate()
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self.session.start()
        self._after_id = self.top.after(POLL_MS, self._poll)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        size = self.settings.font_size
        self.font = NamedFont(self.top, "DejaVu Sans", size)
        self.bold_font = NamedFont(self.top, "DejaVu Sans", size, weight="bold")
        self.top.minsize(560, 360)
        self.status = ttk.Label(self.top, anchor="w", padding=(8, 3))
        self.status.pack(side="bottom", fill="x")
        panes = ttk.PanedWindow(self.top, orient="horizontal")
        panes.pack(fill="both", expand=True)
        self.conversation_list = ConversationList(panes, self.font.name)
        centre = ttk.Frame(panes)
        self.member_list = MemberList(panes, self.font.name)
        panes.add(self.conversation_list, weight=0)
        panes.add(centre, weight=1)
        panes.add(self.member_list, weight=0)
        self.topic = ttk.Label(centre, anchor="w", padding=(8, 6), font=self.bold_font.name)
        self.topic.pack(fill="x")
        self.input = InputLine(centre, self.font.name, self._completions)
        self.input.pack(side="bottom", fill="x", padx=6, pady=6)
        self.view = MessageView(centre, self.font.name, self.bold_font.name)
        self.view.pack(fill="both", expand=True)
        self.banner = Banner(centre, before=self.view)
        self.announcement = Banner(centre, before=self.view, kind="announce")
        self.announcement.bind("<Button-1>", lambda _e: self.announcement.hide())
        centre.bind("<Configure>", lambda event: self.announcement.fit(event.width))
        self.member_menu = tk.Menu(self.top, tearoff=False)
        self.conversation_list.bind("<<ConversationSelected>>", self._on_conversation_selected)
        self.member_list.bind("<<MemberOpen>>", lambda _e: self.open_conversation(self.member_list.clicked))
        self.member_list.bind("<<MemberMenu>>", self._on_member_menu)
        self.input.bind("<<InputSubmitted>>", self._on_input)
        self.view.bind("<<ReachedTop>>", self._on_reached_top)
        self.input.entry.focus_set()

    def _build_menu(self) -> None:
        menubar = tk.Menu(self.top)
        chat = tk.Menu(menubar, tearoff=False)
        chat.add_command(label=tr("menu_close_conversation", self.lang), command=self.close_current)
        chat.add_separator()
        chat.add_command(label=tr("menu_quit", self.lang), command=self.close)
        view = tk.Menu(menubar, tearoff=False)
        view.add_command(label=tr("menu_light", self.lang), command=lambda: self.apply_theme("light"))
        view.add_command(label=tr("menu_dark", self.lang), command=lambda: self.apply_theme("dark"))
        view.add_separator()
        view.add_command(label=tr("menu_bigger", self.lang), command=lambda: self.change_font_size(1))
        view.add_command(label=tr("menu_smaller", self.lang), command=lambda: self.change_font_size(-1))
        language = tk.Menu(menubar, tearoff=False)
        language.add_command(label="English", command=lambda: self.set_language("en"))
        language.add_command(label="Русский", command=lambda: self.set_language("ru"))
        self.channel_menu = tk.Menu(menubar, tearoff=False, postcommand=self.fill_channel_menu)
        menubar.add_cascade(label=tr("menu_chat", self.lang), menu=chat)
        menubar.add_cascade(label=tr("menu_channel", self.lang), menu=self.channel_menu)
        menubar.add_cascade(label=tr("menu_view", self.lang), menu=view)
        menubar.add_cascade(label=tr("menu_language", self.lang), menu=language)
        self.top.configure(menu=menubar)
        self.menubar = menubar

    # ------------------------------------------------------------------ looks and language

    def apply_theme(self, name: str) -> None:
        self.settings.theme = name if name in THEMES else "light"
        self.palette = THEMES[self.settings.theme]
        style = ttk.Style(self.top)
        if "clam" in style.theme_names():
            style.theme_use("clam")
        palette = self.palette
        style.configure(".", background=palette.panel, foreground=palette.text)
        style.configure("TLabel", background=palette.panel, foreground=palette.text)
        style.configure("TFrame", background=palette.panel)
        style.configure("TButton", background=palette.selection, foreground=palette.text)
        self.top.configure(background=palette.panel)
        for widget in (self.view, self.conversation_list, self.member_list, self.input):
            widget.apply_palette(palette)
        for banner in (self.banner, self.announcement):
            banner.recolour(palette)
        self._list_dirty = True
        self._refresh()
        self._persist()

    def change_font_size(self, step: int) -> None:
        size = min(MAX_FONT, max(MIN_FONT, self.settings.font_size + step))
        self.settings.font_size = size
        self.font.set_size(size)
        self.bold_font.set_size(size)
        self._persist()

    def set_language(self, lang: str) -> None:
        if lang in LANGUAGES:
            self.lang = self.settings.lang = lang
            self.retranslate()
            self._persist()

    def retranslate(self) -> None:
        self._build_menu()
        self.input.button.configure(text=tr("send", self.lang))
        self.conversation_list.title.configure(text=tr("conversations", self.lang))
        self._list_dirty = self._members_dirty = True
        self._refresh()

    def _persist(self) -> None:
        if self.save:
            save_settings(self.settings)

    # ------------------------------------------------------------------ the event queue

    def _poll(self) -> None:
        """Drain a bounded batch of session events, then draw once."""
        self._after_id = None
        handled = False
        for _ in range(MAX_EVENTS_PER_TICK):
            try:
                event = self.session.events.get_nowait()
            except queue.Empty:
                break
            handled = True
            try:
                self._apply(event)
            except Exception:  # one bad event must not stop the window; it is logged and shown nowhere
                log.exception("could not show %r", event)
        if handled:  # an idle tick draws nothing
            self.view.append(self._pending_lines)
            self._pending_lines = []
            self._refresh()
        if not self.closing:
            self._after_id = self.top.after(POLL_MS, self._poll)

    def _apply(self, event: ev.Event) -> None:
        current = self.book.current
        if isinstance(event, ev.ConnectionState):
            self._on_connection_state(event)
        elif isinstance(event, ev.Joined) and event.own:
            self.book.open(event.channel)
            if self.first_channel is None or casefold(event.channel) == casefold(self.first_channel) \
                    or casefold(current) == casefold(event.channel):
                self._select(event.channel)
                current = self.book.current
                self.first_channel = None
        elif isinstance(event, ev.NickChanged) and not event.own and self.book.find(event.old):
            self.book.rename(event.old, event.new)
        elif isinstance(event, ev.MembersChanged):
            self._members_dirty |= casefold(event.channel) == casefold(current)
        elif isinstance(event, ev.ChatMessage) and event.mentions_me and self.top.focus_displayof() is None:
            self.top.bell()
        elif isinstance(event, ev.Announcement):
            self.announcement.show(tr("announcement_banner", self.lang, nick=event.sender, text=event.text),
                                   self.palette)
            self.top.bell()
        elif isinstance(event, ev.HistoryBatch) and event.older:
            added = self.book.prepend(event.conversation, [chat_line(m) for m in event.messages])
            if added and casefold(event.conversation) == casefold(current):
                self._select(current)
                self.view.keep_position_after_prepend(added)
        for name, line in route(event, self.lang, self.book):
            self._add_line(name, line)

    def _add_line(self, name: str, line: DisplayLine) -> None:
        """Add a line to a conversation; draw it this tick if that conversation is shown."""
        conversation = self.book.add(name, line)
        if conversation.name == self.book.current:
            self._pending_lines.append(line)
        self._list_dirty = True

    def _on_connection_state(self, event: ev.ConnectionState) -> None:
        keys = {"connecting": "state_connecting", "registered": "state_registered",
                "reconnecting": "state_reconnecting"}
        self.state_key = keys.get(event.state, "state_offline")
        if event.state == "registered":
            self.banner.hide()
        elif event.state == "reconnecting":
            self.banner.show(tr("banner_lost", self.lang, detail=event.detail,
                                seconds=f"{event.retry_in or 0:.0f}"), self.palette)
        elif event.state in ("failed", "refused", "disconnected"):
            self.banner.show(tr("banner_ended", self.lang, detail=event.detail), self.palette)

    # ------------------------------------------------------------------ drawing

    def _refresh(self) -> None:
        conversation = self.book.find(self.book.current)
        if self._list_dirty:
            self.conversation_list.show(self.book, self.book.current, tr("server_tab", self.lang), self.palette)
            self._list_dirty = False
        if self._members_dirty:
            members = self.session.members(self.book.current) if conversation and conversation.is_channel else {}
            muted = frozenset(nick for nick in members if self.session.is_muted(self.book.current, nick))
            self.member_list.show(members, tr("members", self.lang, count=len(members)), muted,
                                  tr("member_muted_mark", self.lang))
            self._members_dirty = False
        topic = self.session.topic(self.book.current) if conversation and conversation.is_channel else ""
        heading = self.book.current if self.book.current != SERVER_TAB else tr("server_tab", self.lang)
        self.topic.configure(text=f"{heading}  {topic}".strip())
        self.status.configure(text=tr("status", self.lang, server=self.server_text, nick=self.session.nick,
                                      state=tr(self.state_key, self.lang)))
        unread = self.book.total_unread
        key = "title_unread" if unread else "title"
        self.top.title(tr(key, self.lang, nick=self.session.nick, count=unread))

    def _select(self, name: str) -> None:
        conversation = self.book.select(name)
        self._pending_lines = []  # show() draws every line of the conversation, these included
        self.view.show(conversation.lines)
        self._list_dirty = self._members_dirty = True

    # ------------------------------------------------------------------ user actions

    def open_conversation(self, name: str | None) -> None:
        if name:
            self._select(name)
            self._refresh()
            self.input.entry.focus_set()

    def close_current(self) -> None:
        name = self.book.current
        if is_channel_name(name) and self.session.is_joined(name):
            self.session.part(name)
        self.book.close(name)
        self._select(self.book.current)
        self._refresh()

    def _on_reached_top(self, _event: tk.Event) -> None:
        """The user scrolled to the top: load the page of history before the oldest line (once per line)."""
        name = self.book.current
        oldest = self.book.oldest_msgid(name)
        if oldest and self._asked_older.get(name) != oldest and self.session.request_older(name, oldest):
            self._asked_older[name] = oldest

    def _on_conversation_selected(self, _event: tk.Event) -> None:
        self.open_conversation(self.conversation_list.selected)

    def _on_input(self, _event: tk.Event | None = None) -> None:
        text = self.input.value
        current = None if self.book.current == SERVER_TAB else self.book.current
        result = run_input(text, self.session, current, self.lang)
        for line in result.output:
            self._add_line(self.book.current, DisplayLine("system", line))
        if result.sent or (text.startswith("/") and not result.output):
            self.input.sent()  # what was not sent stays in the line, to send again
        if result.switch_to:
            self._select(result.switch_to)
        if result.close:
            self.book.close(result.close)
            self._select(self.book.current)
        if result.quit:
            self.close()
            return
        self.view.append(self._pending_lines)
        self._pending_lines = []
        self._refresh()

    def _completions(self) -> list[str]:
        names = list(self.session.members(self.book.current))
        if self.book.current != SERVER_TAB and not is_channel_name(self.book.current):
            names.append(self.book.current)
        return names

    def _on_member_menu(self, _event: tk.Event) -> None:
        self.fill_member_menu(self.member_list.clicked)
        x, y = self.member_list.click_position
        self.member_menu.tk_popup(x, y)
        self.member_menu.grab_release()

    def fill_member_menu(self, nick: str) -> None:
        """What can be done to a member: a private chat and WHOIS for everyone; for an operator of the
        channel (or the teacher) also operator status, voice, mute, kick and ban."""
        channel = self.book.current
        menu = self.member_menu
        menu.delete(0, "end")
        menu.add_command(label=tr("member_query", self.lang), command=lambda: self.open_conversation(nick))
        menu.add_command(label=tr("member_whois", self.lang), command=lambda: self.session.command("WHOIS", nick))
        if not self.session.is_operator(channel) and not self.session.is_oper:
            return
        prefix = self.session.members(channel).get(nick, "")
        # Mute (+q) and ban (+b) name the nick: the server completes it to the mask nick!*@*.
        actions = [
            ("member_deop", "-o") if "@" in prefix else ("member_op", "+o"),
            ("member_devoice", "-v") if "+" in prefix else ("member_voice", "+v"),
            ("member_unmute", "-q") if self.session.is_muted(channel, nick) else ("member_mute", "+q"),
        ]
        menu.add_separator()
        for key, mode in actions:
            menu.add_command(label=tr(key, self.lang),
                             command=lambda mode=mode: self.session.command("MODE", channel, mode, nick))
        menu.add_command(label=tr("member_kick", self.lang),
                         command=lambda: self.session.command("KICK", channel, nick))
        menu.add_command(label=tr("member_ban", self.lang), command=lambda: (
            self.session.command("MODE", channel, "+b", nick), self.session.command("KICK", channel, nick)))

    def fill_channel_menu(self) -> None:
        """The Channel menu, rebuilt each time it opens: switches for the current channel's modes when this
        user may change them, and the teacher's announcement and end of lesson when an operator."""
        menu = self.channel_menu
        menu.delete(0, "end")
        channel = self.book.current
        may_change = is_channel_name(channel) and (self.session.is_operator(channel) or self.session.is_oper)
        if may_change:
            modes = self.session.channel_modes(channel)
            for letter in ("m", "U", "t"):
                on = letter in modes
                key = f"channel_{letter}_{'off' if on else 'on'}"
                menu.add_command(label=tr(key, self.lang),
                                 command=lambda sign="-" if on else "+", letter=letter:
                                 self.session.command("MODE", channel, sign + letter))
        else:
            menu.add_command(label=tr("channel_not_operator", self.lang), state="disabled")
        if self.session.is_oper:
            menu.add_separator()
            menu.add_command(label=tr("channel_announce", self.lang), command=lambda: self.prefill("/announce "))
            menu.add_command(label=tr("channel_end_lesson", self.lang), command=lambda: self.prefill("/endlesson "))

    def prefill(self, text: str) -> None:
        """Put a command into the input line for the user to finish and send with Enter."""
        self.input.entry.delete(0, "end")
        self.input.entry.insert(0, text)
        self.input.entry.icursor("end")
        self.input.entry.focus_set()

    def close(self) -> None:
        """Quit the session, stop polling, and destroy the window."""
        if self.closing:
            return
        self.closing = True
        if self._after_id is not None:
            self.top.after_cancel(self._after_id)
            self._after_id = None
        self.session.quit("Leaving")
        self.top.destroy()
        self.font.delete()
        self.bold_font.delete()
        if self.on_closed is not None:
            self.on_closed(self)


class ConnectDialog:
    """Asks where to connect; calls ``on_connect(config)`` or ``on_cancel()``; remembers the values."""

    def __init__(self, top: tk.Toplevel | tk.Tk, settings: Settings, lang: str,
                 on_connect: Callable[[SessionConfig], None], on_cancel: Callable[[], None]) -> None:
        self.top = top
        self.settings = settings
        self.lang = lang
        self.on_connect = on_connect
        self.on_cancel = on_cancel
        top.title(tr("connect_title", lang))
        top.resizable(False, False)
        frame = ttk.Frame(top, padding=16)
        frame.pack(fill="both", expand=True)
        # Plain entries read with get(): no tkinter Variable, whose __del__ would call Tcl from any thread.
        initial = {"host": settings.host, "port": str(settings.port), "nick": settings.nick, "password": "",
                   "channel": settings.channel, "tls_pin": settings.tls_pin}
        self.entries: dict[str, ttk.Entry] = {}
        labels = [("host", "connect_server"), ("port", "connect_port"), ("nick", "connect_nick"),
                  ("password", "connect_password"), ("channel", "connect_channel"), ("tls_pin", "connect_tls_pin")]
        for row, (name, key) in enumerate(labels):
            ttk.Label(frame, text=tr(key, lang)).grid(row=row, column=0, sticky="w", pady=3, padx=(0, 10))
            entry = ttk.Entry(frame, width=28, show="•" if name == "password" else "")
            entry.insert(0, initial[name])
            entry.grid(row=row, column=1, sticky="ew", pady=3)
            self.entries[name] = entry
        self.tls = ttk.Checkbutton(frame, text=tr("connect_tls", lang))
        self.tls.state(["!alternate", "selected" if settings.tls else "!selected"])
        self.tls.grid(row=len(labels), column=1, sticky="w", pady=3)
        self.problems = ttk.Label(frame, foreground="#b3261e", wraplength=320, justify="left")
        self.problems.grid(row=len(labels) + 1, column=0, columnspan=2, sticky="w")
        buttons = ttk.Frame(frame)
        buttons.grid(row=len(labels) + 2, column=0, columnspan=2, sticky="e", pady=(10, 0))
        ttk.Button(buttons, text=tr("cancel_button", lang), command=self.cancel).pack(side="right")
        self.connect_button = ttk.Button(buttons, text=tr("connect_button", lang), command=self.submit)
        self.connect_button.pack(side="right", padx=(0, 6))
        top.bind("<Return>", lambda _e: self.submit())
        top.bind("<Escape>", lambda _e: self.cancel())
        top.protocol("WM_DELETE_WINDOW", self.cancel)
        self.entries["nick" if not settings.nick else "host"].focus_set()

    def values(self) -> dict[str, str]:
        return {name: entry.get() for name, entry in self.entries.items()}

    def set_value(self, name: str, value: str) -> None:
        self.entries[name].delete(0, "end")
        self.entries[name].insert(0, value)

    def submit(self) -> None:
        values = self.values()
        problems = validate_connect_form(values["host"], values["port"], values["nick"], values["channel"], self.lang,
                                         values["tls_pin"])
        if problems:
            self.problems.configure(text="\n".join(problems))
            return
        settings = self.settings
        settings.host, settings.port = values["host"].strip(), int(values["port"])
        settings.nick, settings.channel = values["nick"].strip(), values["channel"].strip()
        settings.tls = self.tls.instate(["selected"])
        settings.tls_pin = normalize_fingerprint(values["tls_pin"]) if values["tls_pin"].strip() else ""
        save_settings(settings)
        config = session_config(settings, settings.nick, values["password"] or None)
        self.top.destroy()
        self.on_connect(config)

    def cancel(self) -> None:
        self.top.destroy()
        self.on_cancel()

