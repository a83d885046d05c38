"""The chat window's part for deleted messages and reactions: the right-click menu of a message (👍 ✅ ❓ and
Delete, each shown only when the server offers it and the user may), the placeholder that replaces a
deleted message in place ("message deleted by the teacher"), and the reaction counts under a message
("👍 12 understood   ❓ 3 lost"), updated in place.

Events come in ``note()`` while the window drains its queue; the view changes once per tick, in
``after_draw()``, after the tick's new lines are drawn: three hundred ``ReactionsChanged`` for one message
in a tick redraw its reaction line once. A deletion changes the conversation's lines (``ConversationBook``)
at once, so that the conversation shows the placeholder when it is drawn again, and the view in
``after_draw()``. Only the Tk main thread uses this.
"""
from __future__ import annotations

import tkinter as tk
from typing import Protocol

from common.client import events as ev
from common.client.reaction_texts import REACTION_LABELS, placeholder_text
from common.client.session import Session
from common.client.texts import tr
from common.gui.message_marks import REACTIONS_TAG, Segments
from common.gui.model import ConversationBook, DisplayLine
from common.gui.widgets import MessageView
from common.protocol.casemap import casefold, is_channel_name
from common.protocol.reactions import CLASS_REACTIONS

CHIP_SEPARATOR = "   "


class WindowParts(Protocol):
    """What this uses of ``window.ChatWindow``; a Protocol, so that the window imports this module and not
    the reverse."""

    top: tk.Misc
    session: Session
    book: ConversationBook
    view: MessageView
    lang: str


class MessageActions:
    """Deletions and reactions for one ``ChatWindow`` (its session, conversations and view)."""

    def __init__(self, window: WindowParts) -> None:
        self.window = window
        self.menu = tk.Menu(window.top, tearoff=False)
        self._reactions_changed: set[str] = set()  # msgids whose counts changed this tick
        self._deleted: dict[str, DisplayLine] = {}  # msgid → its placeholder, to draw this tick

    # ------------------------------------------------------------------ events

    def note(self, event: ev.Event) -> bool:
        """Take in an event; True when it is all done here (nothing for the window to add as a line). A
        deletion of a message the window does not show still reads as a line ("masha deleted a message")."""
        if isinstance(event, ev.ReactionsChanged):
            self._reactions_changed.add(event.msgid)
            return True
        if isinstance(event, ev.MessageDeleted):
            return self._delete(event)
        return False

    def _delete(self, event: ev.MessageDeleted) -> bool:
        """Replace the message in its conversation's lines by the placeholder; the view follows."""
        window = self.window
        conversation = window.book.find(event.conversation)
        if conversation is None:
            return False
        lines = conversation.lines
        for index, line in enumerate(lines):
            if line.msgid == event.msgid and line.kind in ("message", "action", "notice"):
                placeholder = DisplayLine("system", self._placeholder(event, line), time=line.time)
                lines[index] = placeholder
                if casefold(conversation.name) == casefold(window.book.current):
                    self._deleted[event.msgid] = placeholder
                return True
        return False

    def _placeholder(self, event: ev.MessageDeleted, line: DisplayLine) -> str:
        """"message deleted by the teacher" when a teacher or operator of the channel deleted someone
        else's message, else "message deleted by <nick>"."""
        session = self.window.session
        sender = event.sender or line.nick
        prefixes = session.members(event.conversation).get(event.by, "") if is_channel_name(event.conversation) else ""
        return placeholder_text(event.by, sender, "!" in prefixes or "@" in prefixes, self.window.lang)

    # ------------------------------------------------------------------ drawing

    def after_draw(self) -> None:
        """Change the view once for what the tick brought: placeholders, then reaction lines."""
        view = self.window.view
        for msgid, placeholder in self._deleted.items():
            view.replace_message(msgid, placeholder)
        self._deleted.clear()
        for msgid in self._reactions_changed:
            if msgid in view.marks:
                view.marks.set_reactions(msgid, self.reaction_line(msgid))
        self._reactions_changed.clear()

    def reaction_line(self, msgid: str) -> Segments:
        """The line under a message: "👍 12 understood   ❓ 3 lost", our own reactions in the link colour;
        nothing when it has none."""
        reactions = self.window.session.reactions
        counts = reactions.counts(msgid)
        if not counts:
            return []
        mine = reactions.mine(msgid)
        lang = self.window.lang
        segments: Segments = []
        for index, (emoji, count) in enumerate(counts):
            label = tr(REACTION_LABELS[emoji], lang) if emoji in REACTION_LABELS else ""
            chip = f"{emoji} {count} {label}".rstrip()
            tags = (REACTIONS_TAG, "reaction-mine") if emoji in mine else (REACTIONS_TAG,)
            segments += [CHIP_SEPARATOR if index else "", (REACTIONS_TAG,), chip, tags]
        return segments + ["\n", (REACTIONS_TAG,)]

    # ------------------------------------------------------------------ the menu

    def open_menu(self) -> None:
        """The right-click menu of the message under the pointer, when there is something to offer."""
        view = self.window.view
        msgid = view.clicked_msgid
        line = self._line(msgid)
        if line is None or not self.fill_menu(msgid, line):
            return
        x, y = view.click_position
        self.menu.tk_popup(x, y)
        self.menu.grab_release()

    def _line(self, msgid: str | None) -> DisplayLine | None:
        conversation = self.window.book.find(self.window.book.current)
        if msgid is None or conversation is None:
            return None
        return next((line for line in reversed(conversation.lines) if line.msgid == msgid), None)

    def fill_menu(self, msgid: str, line: DisplayLine) -> bool:
        """Fill the menu for one message; False when it would be empty."""
        window = self.window
        reactions, name, lang = window.session.reactions, window.book.current, window.lang
        menu = self.menu
        menu.delete(0, "end")
        if reactions.offers_reactions() and not line.own:
            mine = reactions.mine(msgid)
            for emoji in CLASS_REACTIONS:
                key = "menu_unreact" if emoji in mine else "menu_react"
                menu.add_command(label=tr(key, lang, emoji=emoji, label=tr(REACTION_LABELS[emoji], lang)),
                                 command=lambda emoji=emoji: self.toggle(name, msgid, emoji))
        if reactions.may_delete(name, line.own):
            if menu.index("end") is not None:
                menu.add_separator()
            menu.add_command(label=tr("menu_delete", lang), command=lambda: reactions.delete(name, msgid))
        return menu.index("end") is not None

    def toggle(self, conversation: str, msgid: str, emoji: str) -> None:
        if self.window.session.reactions.toggle(conversation, msgid, emoji):
            self._reactions_changed.add(msgid)  # without echo-message no event comes back for our own reaction
            self.after_draw()
