"""Reactions and deleted messages, as the session knows them (IRCv3 ``+draft/react``, ``+draft/unreact``,
``+draft/reply`` and draft/message-redaction's REDACT): the state, the handling of the lines that carry
them, and what a view may ask and do.

``ReactionBook`` (one per session, in ``ClientState.reactions``, behind a lock of its own) remembers, by
msgid, where a message was and who sent it, and the reactions given to it: for each reaction, who gave it,
in the order given. The receiver thread writes it (``ReactionLines``, the handlers' part for TAGMSG and
REDACT); the views read it (``Reactions``, ``Session.reactions``) when an event tells them something
changed: a ``ReactionsChanged`` names the message, and a view that receives 300 of them in a tick draws
that message's counts once. Everything is bounded: the oldest messages are forgotten first.

Taking a reaction back is the spec's ``+draft/unreact`` (ircv3-specifications PR #568); a REDACT of the
reaction's own TAGMSG takes it back as well. A REDACT that names a message the session knows in another
conversation is ignored, as the redaction spec asks.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from common.client.events import MessageDeleted, ReactionsChanged
from common.client.formatting import parse_server_time
from common.protocol.casemap import casefold, is_channel_name
from common.protocol.message import Message
from common.protocol.params import parse_msgid
from common.protocol.reactions import (CLASS_REACTIONS, REACT_TAG, REDACTION_CAP, REPLY_TAG, UNREACT_TAG,
                                       is_valid_reaction, reaction_of)

MAX_MESSAGES = 10_000  # messages remembered by msgid (where, who): more than a view's scrollback of 5000 lines
MAX_REACTION_IDS = 20_000  # reactions remembered by their own msgid, for a REDACT of one
MAX_EMOJI_PER_MESSAGE = 20  # different reactions on one message; a hostile crowd's 21st is not counted
MAX_REACTORS = 1_000  # people counted for one reaction on one message
EXCERPT_CHARACTERS = 40


@dataclass(frozen=True)
class KnownMessage:
    conversation: str
    sender: str
    excerpt: str
    own: bool


class ReactionBook:
    """Messages by msgid and the reactions on them; thread-safe (one lock, held briefly, no I/O)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: OrderedDict[str, KnownMessage] = OrderedDict()
        # parent msgid → reaction → folded nick → nick, each dict in the order given
        self._reactions: OrderedDict[str, dict[str, dict[str, str]]] = OrderedDict()
        self._reaction_ids: OrderedDict[str, tuple[str, str, str]] = OrderedDict()  # own msgid → parent, emoji, nick
        self._last_own: dict[str, str] = {}  # folded conversation → msgid of our latest message there
        self._last_other: dict[str, str] = {}  # … of the latest message from someone else
        self._last_by: OrderedDict[tuple[str, str], str] = OrderedDict()  # (conversation, nick) folded → msgid

    def note_message(self, conversation: str, msgid: str | None, sender: str, text: str, own: bool) -> None:
        if not msgid:
            return
        text = " ".join(text.split())  # a message of several lines (code) is quoted on one line
        excerpt = text if len(text) <= EXCERPT_CHARACTERS else text[:EXCERPT_CHARACTERS - 1] + "…"
        with self._lock:
            self._messages[msgid] = KnownMessage(conversation, sender, excerpt, own)
            self._messages.move_to_end(msgid)
            (self._last_own if own else self._last_other)[casefold(conversation)] = msgid
            self._last_by[casefold(conversation), casefold(sender)] = msgid
            self._last_by.move_to_end((casefold(conversation), casefold(sender)))
            if len(self._last_by) > MAX_MESSAGES:
                self._last_by.popitem(last=False)
            while len(self._messages) > MAX_MESSAGES:
                forgotten, _ = self._messages.popitem(last=False)
                self._reactions.pop(forgotten, None)

    def apply(self, parent: str, emoji: str, nick: str, added: bool, reaction_msgid: str | None = None) -> bool:
        """Count or uncount one person's reaction; True when the counts changed."""
        folded = casefold(nick)
        with self._lock:
            given = self._reactions.get(parent)
            if given is None:
                if not added:
                    return False
                given = self._reactions[parent] = {}
                while len(self._reactions) > MAX_MESSAGES:
                    self._reactions.popitem(last=False)
            people = given.get(emoji)
            if added:
                if people is None:
                    if len(given) >= MAX_EMOJI_PER_MESSAGE:
                        return False
                    people = given[emoji] = {}
                if folded in people or len(people) >= MAX_REACTORS:
                    return False
                people[folded] = nick
                if reaction_msgid:
                    self._reaction_ids[reaction_msgid] = (parent, emoji, nick)
                    while len(self._reaction_ids) > MAX_REACTION_IDS:
                        self._reaction_ids.popitem(last=False)
                return True
            if people is None or people.pop(folded, None) is None:
                return False
            if not people:
                del given[emoji]
            return True

    def take_back(self, reaction_msgid: str) -> tuple[str, str, str] | None:
        """A REDACT named a reaction we counted: uncount it; (parent, emoji, nick), or None if unknown."""
        with self._lock:
            known = self._reaction_ids.pop(reaction_msgid, None)
        if known is not None:
            self.apply(known[0], known[1], known[2], added=False)
        return known

    def forget(self, msgid: str) -> KnownMessage | None:
        """A message was deleted: forget its reactions, and that it was anyone's latest; what was known of
        it, if anything."""
        with self._lock:
            self._reactions.pop(msgid, None)
            for latest in (self._last_own, self._last_other, self._last_by):
                for key in [key for key, value in latest.items() if value == msgid]:
                    del latest[key]
            return self._messages.get(msgid)

    def message(self, msgid: str) -> KnownMessage | None:
        with self._lock:
            return self._messages.get(msgid)

    def counts(self, msgid: str) -> list[tuple[str, int]]:
        """(reaction, how many) on a message: the classroom's three first, then others as first given."""
        with self._lock:
            given = {emoji: len(people) for emoji, people in self._reactions.get(msgid, {}).items() if people}
        ordered = [emoji for emoji in CLASS_REACTIONS if emoji in given]
        ordered += [emoji for emoji in given if emoji not in CLASS_REACTIONS]
        return [(emoji, given[emoji]) for emoji in ordered]

    def reactors(self, msgid: str, emoji: str) -> list[str]:
        with self._lock:
            return list(self._reactions.get(msgid, {}).get(emoji, {}).values())

    def given_by(self, msgid: str, nick: str) -> set[str]:
        folded = casefold(nick)
        with self._lock:
            return {emoji for emoji, people in self._reactions.get(msgid, {}).items() if folded in people}

    def last(self, conversation: str, own: bool, nick: str | None = None) -> str | None:
        """The msgid of our latest message in a conversation (``own``), of the latest from ``nick``, or of
        the latest from anyone else."""
        with self._lock:
            if nick is not None:
                return self._last_by.get((casefold(conversation), casefold(nick)))
            return (self._last_own if own else self._last_other).get(casefold(conversation))


class ReactionLines:
    """The handlers' part for TAGMSG reactions and REDACT: a mixin of ``handlers.ServerLineHandler``, which
    gives it ``_state``, ``_batches`` and ``_emit``. Runs on the receiver thread."""

    def _conversation_of(self, target: str, sender: str) -> str:
        if is_channel_name(target):
            return target
        return target if self._state.is_me(sender) else sender

    def _on_tagmsg(self, msg: Message) -> None:
        reaction = reaction_of(msg.tags)
        if reaction is None or not msg.params or not msg.source_nick:
            return
        sender = msg.source_nick
        conversation = self._conversation_of(msg.params[0], sender)
        if self._state.reactions.apply(reaction.parent, reaction.emoji, sender, reaction.added, msg.tags.get("msgid")):
            self._emit(ReactionsChanged(conversation, reaction.parent, sender, reaction.emoji, reaction.added,
                                        history=msg.tags.get("batch", "") in self._batches))

    def _on_redact(self, msg: Message) -> None:
        """``:nick!u@h REDACT <target> <msgid> [:reason]``: a message (or a reaction) was deleted."""
        msgid = parse_msgid(msg.param(1))
        if msgid is None or not msg.source_nick:
            return
        by = msg.source_nick
        conversation = self._conversation_of(msg.param(0), by)
        book = self._state.reactions
        known = book.message(msgid)
        if known is not None and casefold(known.conversation) != casefold(conversation):
            return  # a message of another conversation: the spec says to ignore it
        taken_back = book.take_back(msgid)
        if taken_back is not None:
            parent, emoji, nick = taken_back
            self._emit(ReactionsChanged(conversation, parent, nick, emoji, added=False))
            return
        book.forget(msgid)
        self._emit(MessageDeleted(conversation, msgid, by, known.sender if known else None, msg.param(2),
                                  parse_server_time(msg.tags), own=self._state.is_me(by)))


class SessionState(Protocol):
    """What ``Reactions`` reads of ``state.ClientState`` (under its ``lock``); a Protocol, so that this
    module, which the state imports for its ``ReactionBook``, need not import the state."""

    lock: threading.Lock
    caps: set[str]
    channels: dict
    nick: str
    is_oper: bool
    reactions: ReactionBook

    def own_nick(self) -> str: ...


class Sender(Protocol):
    """What ``Reactions`` uses of ``transport.Transport``."""

    def send(self, message: Message) -> bool: ...


class Reactions:
    """What a view asks of reactions and deletions, and does with them (``Session.reactions``); any thread."""

    def __init__(self, state: SessionState, transport: Sender) -> None:
        self._state = state
        self._transport = transport

    @property
    def book(self) -> ReactionBook:
        return self._state.reactions

    def offers_reactions(self) -> bool:
        """Reactions travel as tags: the server must relay them (message-tags)."""
        with self._state.lock:
            return "message-tags" in self._state.caps

    def offers_deleting(self) -> bool:
        with self._state.lock:
            return REDACTION_CAP in self._state.caps

    def may_delete(self, conversation: str, own: bool) -> bool:
        """Whether to offer deleting a message: our own anywhere, anyone's in a channel we moderate (an
        operator there, its teacher, or an IRC operator). The server decides in the end (its time window)."""
        if not self.offers_deleting():
            return False
        if own:
            return True
        if not is_channel_name(conversation):
            return False
        with self._state.lock:
            channel = self._state.channels.get(casefold(conversation))
            prefixes = channel.members().get(self._state.nick, "") if channel else ""
            return self._state.is_oper or "@" in prefixes or "!" in prefixes

    def counts(self, msgid: str) -> list[tuple[str, int]]:
        return self.book.counts(msgid)

    def mine(self, msgid: str) -> set[str]:
        return self.book.given_by(msgid, self._state.own_nick())

    def react(self, conversation: str, msgid: str, emoji: str, added: bool = True) -> bool:
        """Send a reaction (or take it back) to a message; False when not connected or not possible."""
        if not is_valid_reaction(emoji) or parse_msgid(msgid) is None or not self.offers_reactions():
            return False
        tags = {REPLY_TAG: msgid, REACT_TAG if added else UNREACT_TAG: emoji}
        if not self._transport.send(Message("TAGMSG", [conversation], tags=tags)):
            return False
        with self._state.lock:
            echoed = "echo-message" in self._state.caps
        if not echoed:  # the server shows us our own reaction only with echo-message: count it ourselves
            self.book.apply(msgid, emoji, self._state.own_nick(), added)
        return True

    def toggle(self, conversation: str, msgid: str, emoji: str) -> bool:
        """React with ``emoji``, or take it back when we had; False when it could not be sent."""
        return self.react(conversation, msgid, emoji, added=emoji not in self.mine(msgid))

    def delete(self, conversation: str, msgid: str, reason: str = "") -> bool:
        if parse_msgid(msgid) is None:
            return False
        return self._transport.send(Message("REDACT", [conversation, msgid, *([reason] if reason else [])]))

    def last(self, conversation: str, own: bool, nick: str | None = None) -> str | None:
        return self.book.last(conversation, own, nick)
