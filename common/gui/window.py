"""The chat window.

A ``ChatWindow`` owns one ``Session`` at a time. The session's receiver thread fills its ``queue.Queue``; the Tk
main thread drains it every ``POLL_MS`` with ``get_nowait()``, at most ``MAX_EVENTS_PER_TICK`` events a
tick, each handled in its own try/log, and draws the lines of a tick with one insert. So a flood of
messages never freezes the window, and no other thread ever touches a widget. Closing destroys the
window at once and runs ``Session.quit`` (which waits on the network) in a thread of its own, polled from
the Tk loop, so the other windows stay alive meanwhile.

A window outlives its sessions: when the first connection fails, it tries again with a new session
(1 s doubling to 30 s, like the session's own reconnecting after a drop); when the server sends the user
away (a wrong login, the teacher's KILL, the end of a lesson) it says why and offers "Connect again…",
which brings the connect dialog (``connect_dialog.py``) back; its menus are in ``menus.py``.
"""
from __future__ import annotations

import dataclasses
import itertools
import logging
import queue
import threading
import time
import tkinter as tk
from tkinter import ttk
from typing import Callable, Iterator

from common.client import events as ev
from common.protocol.casemap import casefold, is_channel_name
from common.client.slash_commands import is_secret_command, run_input
from common.gui.attendance_view import AttendanceWindows
from common.gui.classroom_panel import ClassroomPanel
from common.gui.connect_dialog import ConnectDialog
from common.gui.menus import colour_menu, fill_channel_menu, fill_member_menu
from common.gui.message_actions import MessageActions
from common.gui.model import SERVER_TAB, ConversationBook, DisplayLine, chat_line, route
from common.gui.protocol_pane import ProtocolPane
from common.gui.settings import MAX_FONT, MIN_FONT, Settings, dialog_settings, remember_connection, save_settings
from common.gui.theme import THEMES, NickColours
from common.gui.widgets import (AppToplevel, Banner, ConversationList, ElidedLabel, InputLine, MemberList,
                                MessageView, NamedFont)
from common.client.session import Session, SessionConfig
from common.client.texts import LANGUAGES, tr

log = logging.getLogger("classchat.gui")
POLL_MS = 30
MAX_EVENTS_PER_TICK = 300
QUIT_WAIT_SECONDS = 10.0  # how long a closing window waits for its session's goodbye before it goes anyway
MIN_WIDTH, MIN_HEIGHT = 360, 300
COMPACT_FONT = 9  # the smallest text fit_width() goes down to
LIST_WIDTHS = ((13, 12), (11, 10), (10, 8))  # the side lists' widths in characters (conversations, members)


class ChatWindow:
    """One chat window over one session. ``top`` is its Toplevel; ``close()`` ends both."""

    def __init__(self, top: tk.Toplevel | tk.Tk, config: SessionConfig, settings: Settings, lang: str,
                 on_closed: Callable[["ChatWindow"], None] | None = None, save: bool = True) -> None:
        self.top = top
        self._root = top._root()  # outlives the window: it polls the closing session
        self.settings = settings
        self.lang = lang
        self.on_closed = on_closed
        self.save = save
        self.book = ConversationBook()
        self.nick_colours = NickColours(len(THEMES["light"].nicks))
        self.closing = False
        self.closed = False
        self._quitters: list[threading.Thread] = []  # sessions saying goodbye: the replaced ones, the last one
        self._quit_deadline = 0.0
        self._retry_id: str | None = None  # the after() that tries the first connection again
        self._retry_delay = config.backoff_first
        self.dialog: ConnectDialog | None = None  # the connect dialog this window brought back, while open
        self._member_panel_shown = True
        self._member_width: int | None = None  # pixels, once known
        self._after_id: str | None = None
        self._members_dirty = True
        self._list_dirty = True
        self._pending_lines: list[DisplayLine] = []  # lines of the shown conversation, drawn once a tick
        self._asked_older: dict[str, str] = {}  # conversation → the msgid we last asked history before
        self.attendance = AttendanceWindows(top)  # the teacher's attendance windows, one per channel
        self._start_session(config)  # its events wait in its queue for the first _poll()
        self._build()
        self.apply_theme(settings.theme)
        self.retranslate()
        self.show_protocol(settings.show_protocol)
        self.top.protocol("WM_DELETE_WINDOW", self.close)
        self._after_id = self.top.after(POLL_MS, self._poll)

    def _start_session(self, config: SessionConfig) -> None:
        """Connect with a new session; the one it replaces, if any, quits in a thread of its own."""
        old = getattr(self, "session", None)
        self.session = Session(config)
        self.server_text = f"{config.host}:{config.port}"
        self.state_key = "state_connecting"
        self._ever_registered = False
        self._login_failed = False
        # Channels to show once the server says we joined them: the first one, then those the user /joins.
        self._select_on_join = {casefold(channel) for channel in config.channels[:1]}
        self.session.start()
        if old is not None:
            self._quit_in_background(old)
        self._members_dirty = self._list_dirty = True

    def _quit_in_background(self, session: Session) -> None:
        quitter = threading.Thread(target=session.quit, args=("Leaving",), name="session-quit")
        quitter.start()
        self._quitters = [*(other for other in self._quitters if other.is_alive()), quitter]

    def connect(self, config: SessionConfig) -> None:
        """Connect this window anew ("Connect again…", another server, a retry): its conversations stay."""
        self._cancel_retry()
        self.banner.hide()
        self._start_session(config)
        self._refresh()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        size = self.settings.font_size
        self.font = NamedFont(self.top, "DejaVu Sans", size)
        self.bold_font = NamedFont(self.top, "DejaVu Sans", size, weight="bold")
        self.mono_font = NamedFont(self.top, "DejaVu Sans Mono", size)  # code (code_blocks.py)
        self.top.minsize(MIN_WIDTH, MIN_HEIGHT)
        self.status = ttk.Label(self.top, anchor="w", padding=(8, 3))
        self.status.pack(side="bottom", fill="x")
        # The chat above, the protocol pane below it while shown (View → Show the protocol).
        self.outer = tk.PanedWindow(self.top, orient="vertical", sashwidth=4, borderwidth=0)
        self.outer.pack(fill="both", expand=True)
        # Tk's own panedwindow: ttk's cannot be told a pane's width, which fit_width() needs.
        self.panes = panes = tk.PanedWindow(self.outer, orient="horizontal", sashwidth=4, borderwidth=0)
        self.outer.add(panes, stretch="always")
        self.protocol = ProtocolPane(self.outer, lambda: self.session.raw_lines, size, self.bold_font.name, self.lang)
        self.protocol.bind("<<ProtocolPaneClosed>>", lambda _e: self.show_protocol(False))
        self.conversation_list = ConversationList(panes, self.font.name)
        self.centre = centre = ttk.Frame(panes)
        self.member_list = MemberList(panes, self.font.name)
        panes.add(self.conversation_list, stretch="never")
        panes.add(centre, stretch="always")
        panes.add(self.member_list, stretch="never")
        self.topic = ElidedLabel(centre, self.bold_font.name, padding=(8, 6))
        self.topic.pack(fill="x")
        self.input = InputLine(centre, self.font.name, self._completions, is_secret=is_secret_command)
        self.input.pack(side="bottom", fill="x", padx=6, pady=6)
        self.view = MessageView(centre, self.font.name, self.bold_font.name, self.nick_colours, self.mono_font.name)
        self.view.pack(fill="both", expand=True)
        self.classroom = ClassroomPanel(centre, self.view, self.font.name, self.bold_font.name, lambda: self.session)
        self.banner = Banner(centre, before=self.view)
        self.announcement = Banner(centre, before=self.view, kind="announce")
        self.announcement.bind("<<BannerClicked>>", lambda _e: self.announcement.hide())
        centre.bind("<Configure>", lambda event: self.announcement.fit(event.width))
        self.member_menu = tk.Menu(self.top, tearoff=False)
        self.conversation_list.bind("<<ConversationSelected>>", self._on_conversation_selected)
        self.member_list.bind("<<MemberOpen>>", lambda _e: self.open_conversation(self.member_list.clicked))
        self.member_list.bind("<<MemberMenu>>", self._on_member_menu)
        self.input.bind("<<InputSubmitted>>", self._on_input)
        self.view.bind("<<ReachedTop>>", self._on_reached_top)
        self.message_actions = MessageActions(self)  # deleting messages, reactions: message_actions.py
        self.view.marks.reaction_line = self.message_actions.reaction_line
        self.view.bind("<<MessageMenu>>", lambda _e: self.message_actions.open_menu())
        self.input.entry.focus_set()

    def _build_menu(self) -> None:
        """The menu bar, made anew for a language or a theme (a Tk menu bar takes its colours when made)."""
        old = getattr(self, "menubar", None)
        menubar = tk.Menu(self.top)
        chat = tk.Menu(menubar, tearoff=False)
        chat.add_command(label=tr("menu_connect_other", self.lang), command=self.ask_connect)
        chat.add_command(label=tr("menu_close_conversation", self.lang), command=self.close_current)
        chat.add_separator()
        chat.add_command(label=tr("menu_quit", self.lang), command=self.close)
        view = tk.Menu(menubar, tearoff=False)
        view.add_command(label=tr("menu_light", self.lang), command=lambda: self.apply_theme("light"))
        view.add_command(label=tr("menu_dark", self.lang), command=lambda: self.apply_theme("dark"))
        view.add_separator()
        view.add_command(label=tr("menu_bigger", self.lang), command=lambda: self.change_font_size(1))
        view.add_command(label=tr("menu_smaller", self.lang), command=lambda: self.change_font_size(-1))
        view.add_separator()
        view.add_checkbutton(label=tr("menu_protocol", self.lang), variable=self.protocol.menu_variable,
                             command=lambda: self.show_protocol(self.protocol.menu_ticked()))
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
        for menu in self._menus():
            colour_menu(menu, self.palette)
        if old is not None:
            old.destroy()

    def _menus(self) -> Iterator[tk.Menu]:
        yield self.member_menu
        yield self.message_actions.menu
        yield self.menubar
        yield from self.menubar.winfo_children()  # its cascades

    # ------------------------------------------------------------------ looks and language

    def apply_theme(self, name: str) -> None:
        self.settings.theme = name if name in THEMES else "light"
        self.palette = THEMES[self.settings.theme]
        style = ttk.Style(self.top)
        if "clam" in style.theme_names() and style.theme_use() != "clam":
            style.theme_use("clam")
        palette = self.palette
        style.configure(".", background=palette.panel, foreground=palette.text, bordercolor=palette.border,
                        troughcolor=palette.background, lightcolor=palette.panel, darkcolor=palette.panel)
        style.map(".", background=[("disabled", palette.panel), ("active", palette.selection)])
        style.configure("TLabel", background=palette.panel, foreground=palette.text)
        style.configure("TFrame", background=palette.panel)
        style.configure("TButton", background=palette.selection, foreground=palette.text)
        style.map("TButton", background=[("pressed", palette.thumb), ("active", palette.selection)])
        # clam draws a scroll bar with a light gradient unless its colours are given here
        style.configure("Vertical.TScrollbar", background=palette.thumb, troughcolor=palette.background,
                        bordercolor=palette.border, arrowcolor=palette.muted, lightcolor=palette.thumb,
                        darkcolor=palette.thumb, gripcount=0)
        style.map("Vertical.TScrollbar", background=[("active", palette.muted)])
        self.top.configure(background=palette.panel)
        self.panes.configure(background=palette.border)  # the colour of its sashes
        self.outer.configure(background=palette.border)
        for widget in (self.view, self.conversation_list, self.member_list, self.input, self.protocol, self.classroom):
            widget.apply_palette(palette)
        for banner in (self.banner, self.announcement):
            banner.recolour(palette)
        if getattr(self, "menubar", None) is not None:
            self._build_menu()
        self._list_dirty = self._members_dirty = True  # their rows' colours (unread, the teacher) are per row
        self._refresh()
        self._persist()

    def change_font_size(self, step: int) -> None:
        size = min(MAX_FONT, max(MIN_FONT, self.font.size + step))
        self.settings.font_size = size
        self._set_font_size(size)
        self._persist()

    def _set_font_size(self, size: int) -> None:
        for font in (self.font, self.bold_font, self.mono_font):
            font.set_size(size)
        self.protocol.set_font_size(size)

    def fit_width(self, width: int) -> None:
        """Make the window's layout, with its member list shown, fit in ``width`` pixels: narrower side
        lists first, then a point smaller text at a time down to COMPACT_FONT; the side lists get the
        widths they ask for and the conversation the rest. The window's minimum size never exceeds
        ``width``. For windows tiled side by side (the demo)."""
        sizes = range(self.font.size, min(COMPACT_FONT, self.font.size) - 1, -1)
        for size, (conversations, members) in itertools.product(sizes, LIST_WIDTHS):
            self._set_font_size(size)
            self.conversation_list.set_width(conversations)
            self.member_list.set_width(members)
            if self._needed_width() <= width:
                break
        self.panes.paneconfigure(self.conversation_list, width=self.conversation_list.winfo_reqwidth())
        self._member_width = self.member_list.winfo_reqwidth()
        if self._member_panel_shown:
            self.panes.paneconfigure(self.member_list, width=self._member_width)
        self.top.minsize(min(MIN_WIDTH, width), MIN_HEIGHT)

    def _needed_width(self) -> int:
        """What the three panels ask for, side by side, with the sashes between them."""
        self.top.update_idletasks()
        sash = int(self.panes.cget("sashwidth")) + 2 * int(self.panes.cget("sashpad"))
        panels = (self.conversation_list, self.centre, self.member_list)
        return sum(panel.winfo_reqwidth() for panel in panels) + sash * (len(panels) - 1)

    def _show_member_panel(self, shown: bool) -> None:
        """The member list is for channels: a private chat and the server's tab have none. It comes back
        as wide as it was (or as fit_width() made it)."""
        if shown == self._member_panel_shown:
            return
        if shown:
            self.panes.add(self.member_list, stretch="never",
                           **({"width": self._member_width} if self._member_width else {}))
        else:
            if self.member_list.winfo_ismapped():
                self._member_width = self.member_list.winfo_width()
            self.panes.forget(self.member_list)
        self._member_panel_shown = shown

    def show_protocol(self, shown: bool) -> None:
        """View → Show the protocol: the raw lines below the chat (``protocol_pane.py``), remembered."""
        self.protocol.set_shown(shown)
        if self.settings.show_protocol != shown:
            self.settings.show_protocol = shown
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
        self.view.set_labels(tr("teacher_badge", self.lang), tr("question_note", self.lang))
        self.protocol.set_language(self.lang)
        self.view.code_blocks.set_labels(tr("copy", self.lang), tr("copied", self.lang))
        self.classroom.retranslate(self.lang)
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
            self.message_actions.after_draw()
            self._refresh()
        if not self.closing:
            self._after_id = self.top.after(POLL_MS, self._poll)

    def _apply(self, event: ev.Event) -> None:
        current = self.book.current
        self.attendance.take(event)
        self.classroom.note(event)  # raised hands and the poll
        if self.message_actions.note(event):
            return  # drawn in place, once a tick
        if isinstance(event, ev.ConnectionState):
            self._on_connection_state(event)
        elif isinstance(event, ev.Joined) and event.own:
            self.book.open(event.channel)
            folded = casefold(event.channel)
            if folded in self._select_on_join or casefold(current) == folded:
                self._select_on_join.discard(folded)
                self._select(event.channel)
                current = self.book.current
        elif isinstance(event, ev.NickChanged) and not event.own and self.book.find(event.old):
            self.book.rename(event.old, event.new)
        elif isinstance(event, ev.MembersChanged):
            self.nick_colours.assign(self.session.members(event.channel))
            self._members_dirty |= casefold(event.channel) == casefold(current)
        elif isinstance(event, ev.ChatMessage) and event.mentions_me and self.top.focus_displayof() is None:
            self.top.bell()
        elif isinstance(event, ev.Announcement):
            self.announcement.show(tr("announcement_banner", self.lang, nick=event.sender, text=event.text),
                                   self.palette)
            self.top.bell()
        elif isinstance(event, ev.Notice) and event.key == "login_failed":
            self._login_failed = True
            self.ask_connect(tr("login_failed", self.lang, **event.values))
        elif isinstance(event, ev.HistoryBatch) and event.older:
            lines = [self._marked(event.conversation, chat_line(m)) for m in event.messages]
            added = self.book.prepend(event.conversation, lines)
            if added and casefold(event.conversation) == casefold(current):
                self._select(current)
                self.view.keep_position_after_prepend(self.view.text_lines(lines[len(lines) - added:]))
        for name, line in route(event, self.lang, self.book):
            self._add_line(name, line)

    def _marked(self, name: str, line: DisplayLine) -> DisplayLine:
        """A chat line in a channel with the classroom's marks: the teacher's badge on the teacher's lines
        (the prefix ``!``), and the note on our own in questions mode (+U) when we have no prefix."""
        if line.kind not in ("message", "action", "notice") or not is_channel_name(name):
            return line
        if self.session.is_teacher(name, line.nick):
            return dataclasses.replace(line, teacher=True)
        if line.own and "U" in self.session.channel_modes(name) \
                and not self.session.members(name).get(self.session.nick, ""):
            return dataclasses.replace(line, question=True)
        return line

    def _add_line(self, name: str, line: DisplayLine) -> None:
        """Add a line to a conversation; draw it this tick if that conversation is shown."""
        line = self._marked(name, line)
        conversation = self.book.add(name, line)
        if conversation.name == self.book.current:
            self._pending_lines.append(line)
        self._list_dirty = True

    def _on_connection_state(self, event: ev.ConnectionState) -> None:
        """The banner and the status for the session's state. A first connection that fails is tried again
        by a new session; a session the server ended on purpose ("refused") is not: the banner says why and
        offers the connect dialog."""
        keys = {"connecting": "state_connecting", "registered": "state_registered",
                "reconnecting": "state_reconnecting"}
        if event.state == "closed":
            return  # after the state that said why
        self.state_key = keys.get(event.state, "state_offline")
        again = (tr("connect_again", self.lang), self.ask_connect)
        if event.state == "registered":
            self.banner.hide()
            self._ever_registered = True
            self._retry_delay = self.session.config.backoff_first
            if self.save:
                remember_connection(self.settings, self.session.config)
                save_settings(self.settings)
        elif event.state == "reconnecting":
            self.banner.show(tr("banner_lost", self.lang, detail=event.detail,
                                seconds=f"{event.retry_in or 0:.0f}"), self.palette)
        elif event.state == "refused":
            if not self._login_failed:  # a refused login said why already (ask_connect)
                key = "banner_sent_away" if self._ever_registered else "refused"
                self.banner.show(tr(key, self.lang, detail=event.detail), self.palette, again)
        elif event.state in ("failed", "disconnected") and self.session.config.reconnect:
            self.state_key = "state_reconnecting"
            self.banner.show(tr("banner_retry", self.lang, where=self.server_text, detail=event.detail,
                                seconds=f"{self._retry_delay:.0f}"), self.palette,
                             (tr("menu_connect_other", self.lang), self.ask_connect))
            self._retry_id = self.top.after(int(self._retry_delay * 1000), self._retry)
            self._retry_delay = min(self._retry_delay * 2, self.session.config.backoff_max)
        elif event.state in ("failed", "disconnected"):
            self.banner.show(tr("banner_ended", self.lang, detail=event.detail), self.palette, again)

    def _retry(self) -> None:
        self._retry_id = None
        self._start_session(self.session.config)

    def _cancel_retry(self) -> None:
        if self._retry_id is not None:
            self.top.after_cancel(self._retry_id)
            self._retry_id = None

    def ask_connect(self, message: str = "") -> None:
        """Bring the connect dialog back, filled in from this window's connection (the account too, never a
        password); what it gives connects this window anew. One dialog at a time."""
        if message:
            self.banner.show(message, self.palette, (tr("connect_again", self.lang), self.ask_connect))
        if self.dialog is not None and self.dialog.top.winfo_exists():
            self.dialog.top.lift()
            return
        self.dialog = ConnectDialog(AppToplevel(self._root), dialog_settings(self.settings, self.session.config),
                                    self.lang, on_connect=self._connect_from_dialog, on_cancel=self._dialog_closed,
                                    message=message)

    def _connect_from_dialog(self, config: SessionConfig) -> None:
        self.dialog = None
        if not self.closing:
            self.connect(config)

    def _dialog_closed(self) -> None:
        self.dialog = None

    # ------------------------------------------------------------------ drawing

    def _refresh(self) -> None:
        conversation = self.book.find(self.book.current)
        if self._list_dirty:
            self.conversation_list.show(self.book, self.book.current, tr("server_tab", self.lang), self.palette)
            self._list_dirty = False
        in_channel = conversation is not None and conversation.is_channel
        if self._members_dirty:
            self._show_member_panel(in_channel)
            members = self.session.members(self.book.current) if in_channel else {}
            muted = frozenset(nick for nick in members if self.session.is_muted(self.book.current, nick))
            self.member_list.show(members, tr("members", self.lang, count=len(members)), muted,
                                  tr("member_muted_mark", self.lang), tr("teacher_badge", self.lang))
            self._members_dirty = False
        self.classroom.refresh(self.book.current if in_channel else None)
        topic = self.session.topic(self.book.current) if in_channel else ""
        heading = self.book.current if self.book.current != SERVER_TAB else tr("server_tab", self.lang)
        self.topic.set_text(f"{heading}  {topic}".strip())
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
            self.input.sent()
        else:
            self.input.keep()  # to send again, or to type over
        if result.switch_to and is_channel_name(result.switch_to) and not self.session.is_joined(result.switch_to):
            self._select_on_join.add(casefold(result.switch_to))  # shown once joined: a refused join leaves nothing
        elif result.switch_to:
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
        fill_member_menu(self.member_menu, self.session, self.book.current, nick, self.lang,
                         self.open_conversation, self.run_command)

    def fill_channel_menu(self) -> None:
        """The Channel menu, rebuilt each time it opens."""
        fill_channel_menu(self.channel_menu, self.session, self.book.current, self.lang, self.prefill,
                          self.run_command, self.open_attendance)

    def open_attendance(self, channel: str) -> None:
        self.attendance.show_for(self.session, channel, self.lang, self.palette)

    def run_command(self, line: str) -> None:
        """Run a ``/command`` for a menu item, as if typed; what it says shows in the current conversation."""
        current = None if self.book.current == SERVER_TAB else self.book.current
        for text in run_input(line, self.session, current, self.lang).output:
            self._add_line(self.book.current, DisplayLine("system", text))
        self.view.append(self._pending_lines)
        self._pending_lines = []

    def prefill(self, text: str) -> None:
        """Put a command into the input line for the user to finish and send with Enter."""
        self.input.entry.delete(0, "end")
        self.input.entry.insert(0, text)
        self.input.entry.icursor("end")
        self.input.entry.focus_set()

    def close(self) -> None:
        """Stop drawing and retrying, destroy the window (and a connect dialog it brought back), and quit
        the session in a thread of its own; ``on_closed`` comes once every quit is over, or after
        QUIT_WAIT_SECONDS.

        The window goes first, not withdrawn to wait for the quit: Tk 8.6 keeps a dangling focus pointer
        to a toplevel withdrawn and then destroyed, and a later focus change in the process crashes it.
        """
        if self.closing:
            return
        self.closing = True
        if self._after_id is not None:
            self.top.after_cancel(self._after_id)
        self._cancel_retry()
        if self.dialog is not None and self.dialog.top.winfo_exists():
            self.dialog.top.destroy()
        self.protocol.close()
        self.top.destroy()
        for font in (self.font, self.bold_font, self.mono_font):
            font.delete()
        self._quit_in_background(self.session)
        self._quit_deadline = time.monotonic() + QUIT_WAIT_SECONDS
        self._after_id = self._root.after(POLL_MS, self._finish_closing)

    @property
    def quitting(self) -> bool:
        """Whether a session is still saying goodbye, after ``close()``."""
        return any(quitter.is_alive() for quitter in self._quitters)

    def _finish_closing(self) -> None:
        """An ``after`` tick of the root: the bounded, non-blocking join of the quitting thread."""
        self._after_id = None
        if self.quitting and time.monotonic() < self._quit_deadline:
            self._after_id = self._root.after(POLL_MS, self._finish_closing)
            return
        if self.quitting:
            log.warning("%s: the session did not finish quitting in %.0f s", self.session.nick, QUIT_WAIT_SECONDS)
        self.closed = True
        if self.on_closed is not None:
            self.on_closed(self)
