"""What the GUI shows, without Tk: conversations with capped scrollback and unread counts, and where
each session event goes. The Tk widgets (``widgets.py``) only draw this, so it tests without a display.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from common.client import events as ev
from common.client.classroom import ClassroomEvent
from common.protocol.casemap import casefold, is_channel_name
from common.client.texts import describe, tr

SCROLLBACK_LINES = 5000
SERVER_TAB = "*"  # the conversation that holds server text (MOTD, connection states)
URL_PATTERN = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
# Numerics that belong to the server tab rather than the conversation the user is looking at.
SERVER_TAB_CODES = {"002", "003", "004", "251", "252", "253", "254", "255", "265", "266", "372", "375", "376", "422"}


@dataclass(frozen=True)
class DisplayLine:
    """One line of a conversation. ``kind``: message, action, notice, system, error or divider. ``teacher``:
    the sender is the channel's teacher (a badge after the nick); ``question``: our own message in questions
    mode (+U), which only the teachers see (a note after it)."""

    kind: str
    text: str
    nick: str = ""
    time: datetime | None = None
    own: bool = False
    mention: bool = False
    msgid: str | None = None
    teacher: bool = False
    question: bool = False


def chat_line(message: ev.ChatMessage) -> DisplayLine:
    return DisplayLine(message.kind, message.text, message.sender, message.time, message.own, message.mentions_me,
                       message.msgid)


class Conversation:
    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: deque[DisplayLine] = deque(maxlen=SCROLLBACK_LINES)
        self.unread = 0
        self.mentioned = False

    @property
    def is_channel(self) -> bool:
        return is_channel_name(self.name)


class ConversationBook:
    """The conversations of one window in the order they were opened, and which one is shown."""

    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {casefold(SERVER_TAB): Conversation(SERVER_TAB)}
        self.current = SERVER_TAB

    def __iter__(self):
        return iter(self._conversations.values())

    def find(self, name: str) -> Conversation | None:
        return self._conversations.get(casefold(name))

    def open(self, name: str) -> Conversation:
        conversation = self.find(name)
        if conversation is None:
            conversation = self._conversations[casefold(name)] = Conversation(name)
        return conversation

    def close(self, name: str) -> None:
        if casefold(name) == casefold(SERVER_TAB):
            return
        self._conversations.pop(casefold(name), None)
        if casefold(self.current) == casefold(name):
            self.current = next(reversed(self._conversations.values())).name

    def rename(self, old: str, new: str) -> None:
        conversation = self._conversations.pop(casefold(old), None)
        if conversation is not None:
            conversation.name = new
            self._conversations[casefold(new)] = conversation
            if casefold(self.current) == casefold(old):
                self.current = new

    def select(self, name: str) -> Conversation:
        conversation = self.open(name)
        self.current = conversation.name
        conversation.unread = 0
        conversation.mentioned = False
        return conversation

    def add(self, name: str, line: DisplayLine) -> Conversation:
        """Append a line; someone else's chat line in a conversation not shown counts as unread (what the
        user sent, say with /msg from another conversation, is read already)."""
        conversation = self.open(name)
        conversation.lines.append(line)
        if casefold(conversation.name) != casefold(self.current) and line.kind in ("message", "action", "notice") \
                and not line.own:
            conversation.unread += 1
            conversation.mentioned |= line.mention or not conversation.is_channel
        return conversation

    def prepend(self, name: str, lines: list[DisplayLine]) -> int:
        """Put older lines above a conversation's; as many as the scrollback has room for. Returns how many."""
        conversation = self.open(name)
        room = SCROLLBACK_LINES - len(conversation.lines)
        kept = lines[-room:] if room > 0 else []
        conversation.lines.extendleft(reversed(kept))
        return len(kept)

    def oldest_msgid(self, name: str) -> str | None:
        conversation = self.find(name)
        return next((line.msgid for line in conversation.lines if line.msgid), None) if conversation else None

    @property
    def total_unread(self) -> int:
        return sum(conversation.unread for conversation in self)


def route(event: ev.Event, lang: str, book: ConversationBook) -> list[tuple[str, DisplayLine]]:
    """Which conversations an event adds a line to, and the line. A quit or a nick change also goes to
    the private chat with that person, when one is open."""
    current = book.current
    if isinstance(event, ev.ChatMessage):
        return [(event.conversation, chat_line(event))]
    if isinstance(event, ev.HistoryBatch):
        if event.older or not event.messages:
            return []  # older pages go above what is shown: the window puts them there
        lines = [chat_line(message) for message in event.messages]
        divider = DisplayLine("divider", tr("history_divider", lang))
        return [(event.conversation, line) for line in (*lines, divider)]
    if isinstance(event, ClassroomEvent) and event.minor:
        return []  # a raised hand, a vote: the window's classroom panel shows them
    text = describe(event, lang)
    if text is None:
        return []
    when = getattr(event, "time", None)
    if isinstance(event, (ev.Joined, ev.Parted, ev.TopicChanged, ClassroomEvent)):
        return [(event.channel, DisplayLine("system", text, time=when))]
    if isinstance(event, ev.MessageDeleted):  # one the window does not show (gui/message_actions.py), in an open chat
        return [(event.conversation, DisplayLine("system", text, time=when))] if book.find(event.conversation) else []
    if isinstance(event, (ev.Quit, ev.NickChanged)):
        nicks = (event.nick,) if isinstance(event, ev.Quit) else (event.new, event.old)
        private = next((book.find(nick).name for nick in nicks if book.find(nick)), None)
        names = (*event.channels, private) if private else event.channels
        return [(name, DisplayLine("system", text, time=when)) for name in names]
    if isinstance(event, ev.ModeChanged):
        target = event.target if is_channel_name(event.target) else SERVER_TAB
        return [(target, DisplayLine("system", text, time=when))]
    if isinstance(event, ev.ErrorReply):
        return [(current, DisplayLine("error", text))]
    if isinstance(event, ev.ServerReply):
        return [(SERVER_TAB if event.code in SERVER_TAB_CODES else current, DisplayLine("system", text))]
    if isinstance(event, ev.ConnectionState):
        return [(SERVER_TAB, DisplayLine("system", text))]
    return [(current, DisplayLine("system", text, time=when))]


def split_links(text: str) -> list[tuple[str, bool]]:
    """Text cut into (piece, is_link) runs, for clickable links."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in URL_PATTERN.finditer(text):
        if match.start() > position:
            pieces.append((text[position:match.start()], False))
        pieces.append((match.group(0), True))
        position = match.end()
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces
