"""The chat window and the connect dialog.

A ``ChatWindow`` owns one ``Session``. The session's receiver thread fills its ``queue.Queue``; the Tk
main thread drains it every ``POLL_MS`` with ``get_nowait()``, at most ``MAX_EVENTS_PER_TICK`` events a
tick, each handled in its own try/log, and draws the lines of a tick with one insert. So a flood of
messages never freezes the window, and no other thread ever touches a widget. Closing destroys the
window at once and runs ``Session.quit`` (which waits on the network) in a thread of its own, polled from
the Tk loop, so the other windows stay alive meanwhile.
"""
from __future__ import annotations

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
from common.client.slash_commands import run_input
from common.gui.model import SERVER_TAB, ConversationBook, DisplayLine, chat_line, route
from common.gui.settings import (MAX_FONT, MIN_FONT, Settings, save_settings, session_config,
                                 validate_connect_form)
from common.gui.theme import THEMES, NickColours, Palette
from common.gui.widgets import (Banner, ConversationList, ElidedLabel, InputLine, MemberList, MessageView,
                                NamedFont)
from common.client.session import Session, SessionConfig
from common.client.texts import LANGUAGES, tr
from common.protocol.tls import normalize_fingerprint

log = logging.getLogger("classchat.gui")
POLL_MS = 30
MAX_EVENTS_PER_TICK = 300
QUIT_WAIT_SECONDS = 10.0  # how long a closing window waits for its session's goodbye before it goes anyway
MIN_WIDTH, MIN_HEIGHT = 360, 300
COMPACT_FONT = 9  # the smallest text fit_width() goes down to
LIST_WIDTHS = ((13, 12), (11, 10), (10, 8))  # the side lists' widths in characters (conversations, members)
APP_NAME = "classchat"


class AppToplevel(tk.Toplevel):
    """A top-level window whose WM_CLASS is ("classchat", "Classchat"), like the Tk root's
    (``Tk(className="classchat")``), so that a taskbar groups classchat's windows under one program.

    Tk takes the WM_CLASS instance name from the last part of the window's path, which siblings cannot
    share: each window is therefore the child of a frame of its own, never shown, destroyed with it.
    """

    def __init__(self, root: tk.Misc) -> None:
        self.holder = tk.Frame(root)
        super().__init__(self.holder, name=APP_NAME, class_=APP_NAME.capitalize())

    def destroy(self) -> None:
        super().destroy()
        self.holder.destroy()


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
        self.server_text = f"{config.host}:{config.port}"
        self.state_key = "state_connecting"
        # Channels to show once the server says we joined them: the first one, then those the user /joins.
        self._select_on_join = {casefold(channel) for channel in config.channels[:1]}
        self.book = ConversationBook()
        self.session = Session(config)
        self.nick_colours = NickColours(len(THEMES["light"].nicks))
        self.closing = False
        self.closed = False
        self._quitter: threading.Thread | None = None
        self._quit_deadline = 0.0
        self._member_panel_shown = True
        self._member_width: int | None = None  # pixels, once known
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
        self.top.minsize(MIN_WIDTH, MIN_HEIGHT)
        self.status = ttk.Label(self.top, anchor="w", padding=(8, 3))
        self.status.pack(side="bottom", fill="x")
        # Tk's own panedwindow: ttk's cannot be told a pane's width, which fit_width() needs.
        self.panes = panes = tk.PanedWindow(self.top, orient="horizontal", sashwidth=4, borderwidth=0)
        panes.pack(fill="both", expand=True)
        self.conversation_list = ConversationList(panes, self.font.name)
        self.centre = centre = ttk.Frame(panes)
        self.member_list = MemberList(panes, self.font.name)
        panes.add(self.conversation_list, stretch="never")
        panes.add(centre, stretch="always")
        panes.add(self.member_list, stretch="never")
        self.topic = ElidedLabel(centre, self.bold_font.name, padding=(8, 6))
        self.topic.pack(fill="x")
        self.input = InputLine(centre, self.font.name, self._completions)
        self.input.pack(side="bottom", fill="x", padx=6, pady=6)
        self.view = MessageView(centre, self.font.name, self.bold_font.name, self.nick_colours)
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
        """The menu bar, made anew for a language or a theme (a Tk menu bar takes its colours when made)."""
        old = getattr(self, "menubar", None)
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
        for menu in self._menus():
            self._colour_menu(menu, self.palette)
        if old is not None:
            old.destroy()

    def _menus(self) -> Iterator[tk.Menu]:
        yield self.member_menu
        yield self.menubar
        yield from self.menubar.winfo_children()  # its cascades

    @staticmethod
    def _colour_menu(menu: tk.Menu, palette: Palette) -> None:
        menu.configure(background=palette.panel, foreground=palette.text, activebackground=palette.selection,
                       activeforeground=palette.text, disabledforeground=palette.muted, selectcolor=palette.text,
                       activeborderwidth=0)

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
        for widget in (self.view, self.conversation_list, self.member_list, self.input):
            widget.apply_palette(palette)
        for banner in (self.banner, self.announcement):
            banner.recolour(palette)
        if getattr(self, "menubar", None) is not None:
            self._build_menu()
        self._list_dirty = True
        self._refresh()
        self._persist()

    def change_font_size(self, step: int) -> None:
        size = min(MAX_FONT, max(MIN_FONT, self.font.size + step))
        self.settings.font_size = size
        self._set_font_size(size)
        self._persist()

    def _set_font_size(self, size: int) -> None:
        self.font.set_size(size)
        self.bold_font.set_size(size)

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
        in_channel = conversation is not None and conversation.is_channel
        if self._members_dirty:
            self._show_member_panel(in_channel)
            members = self.session.members(self.book.current) if in_channel else {}
            muted = frozenset(nick for nick in members if self.session.is_muted(self.book.current, nick))
            self.member_list.show(members, tr("members", self.lang, count=len(members)), muted,
                                  tr("member_muted_mark", self.lang))
            self._members_dirty = False
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
        """Stop drawing, destroy the window, and quit the session in a thread of its own; ``on_closed``
        comes once the quit is over, or after QUIT_WAIT_SECONDS.

        The window goes first, not withdrawn to wait for the quit: Tk 8.6 keeps a dangling focus pointer
        to a toplevel withdrawn and then destroyed, and a later focus change in the process crashes it.
        """
        if self.closing:
            return
        self.closing = True
        if self._after_id is not None:
            self.top.after_cancel(self._after_id)
        self.top.destroy()
        self.font.delete()
        self.bold_font.delete()
        self._quitter = threading.Thread(target=self.session.quit, args=("Leaving",), name="session-quit")
        self._quitter.start()
        self._quit_deadline = time.monotonic() + QUIT_WAIT_SECONDS
        self._after_id = self._root.after(POLL_MS, self._finish_closing)

    @property
    def quitting(self) -> bool:
        """Whether the session is still saying goodbye, after ``close()``."""
        return self._quitter is not None and self._quitter.is_alive()

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

