"""The history's values: a stored message, who reads it, where a read starts, and the keys conversations
are stored under. Shared by the store (``history.py``), its blocks (``history_blocks.py``) and the reads.

Messages are ordered by (time, id): the server's clock in milliseconds (never decreasing, see
``ChatServer.message_tags``), then the message's id, a number the store gives each message in the order
written, which is the order the server decided them.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

from common.protocol.casemap import casefold, is_channel_name
from common.protocol.message import action_text

SQLITE_INTEGER_MIN, SQLITE_INTEGER_MAX = -2 ** 63, 2 ** 63 - 1  # beyond, binding an int raises OverflowError


class Viewer(NamedTuple):
    """Who asks for history: a private chat needs them to be one side (their account, or for a guest their
    nick and host); ``privileged`` (a channel operator or the teacher) also sees every question sent under
    +U, where anyone sees their own."""

    nick: str = ""
    host: str = ""
    privileged: bool = False
    account: str | None = None

    def side(self) -> tuple[str, str, str | None]:
        """(nick key, host, account key) as the privacy conditions take them."""
        return casefold(self.nick), self.host, casefold(self.account) if self.account else None

    def may_see(self, key: str, message: "StoredMessage") -> bool:
        """Whether this viewer sees ``message`` of the conversation ``key``: a private message only as one of
        its two sides (someone logged in by their account, from any computer; a guest by nick and the host
        it sent from or was delivered to), a question asked under +U only as its sender or privileged."""
        if key.startswith("dm:"):
            me = casefold(self.nick)
            if casefold(message.sender_nick) == me:
                return self._is_sender(message, me)
            return message.recipient_host == self.host or self._same_account(message.recipient_account)
        return self.privileged or not message.ops_only or self._is_sender(message, casefold(self.nick))

    def _is_sender(self, message: "StoredMessage", me: str) -> bool:
        return casefold(message.sender_nick) == me and (message.sender_host == self.host
                                                         or self._same_account(message.sender_account))

    def _same_account(self, folded_account: str | None) -> bool:
        """Stored accounts are casefolded; a guest (None) is no account, and equals none."""
        return self.account is not None and folded_account is not None and casefold(self.account) == folded_account


def fits_sqlite(number: int) -> bool:
    """Whether an SQLite INTEGER holds ``number`` (binding one that does not raises OverflowError)."""
    return SQLITE_INTEGER_MIN <= number <= SQLITE_INTEGER_MAX


def dm_key(nick_a: str, nick_b: str) -> str:
    """The key of the private conversation between two nicks, the same from either side."""
    first, second = sorted((casefold(nick_a), casefold(nick_b)))
    return f"dm:{first}:{second}"


def target_key(target: str, sender_nick: str) -> str:
    return casefold(target) if is_channel_name(target) else dm_key(sender_nick, target)


def marker_owner(nick: str, host: str, account: str | None) -> str:
    """Whose read marker it is: someone logged in by their account (it follows them to any computer), a
    guest by nick and host, as private history knows them. A nick holds no '!', so neither kind of key can
    be made to look like another."""
    return f"account:{casefold(account)}" if account else f"guest:{casefold(nick)}!{host}"


def format_time(time_ms: int) -> str:
    """IRCv3 server-time format: 2026-11-24T10:15:00.123Z."""
    return _format_second(time_ms // 1000) + f"{time_ms % 1000:03d}Z"


@functools.lru_cache(maxsize=8)
def _format_second(seconds: int) -> str:
    """The part of a time tag before the milliseconds; the same second repeats for every message in it."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")


@dataclass(slots=True)
class StoredMessage:
    """A PRIVMSG or NOTICE as it was relayed. ``target`` is the channel, or the nick it was sent to.
    (Not frozen: one is made for every message under the state lock, and a frozen dataclass costs three
    times as much to make.)"""

    msgid: str
    time_ms: int
    target: str
    sender: str  # nick!user@host
    command: str
    text: str
    recipient_host: str = ""
    client_tags: dict[str, str] = field(default_factory=dict)
    ops_only: bool = False  # a question under +U: only the channel's operators saw it
    row_id: int = 0
    sender_account: str | None = None
    recipient_account: str | None = None

    @property
    def sender_nick(self) -> str:
        return self.sender.split("!", 1)[0]

    @property
    def sender_host(self) -> str:
        return self.sender.rsplit("@", 1)[-1]

    @property
    def key(self) -> str:
        return target_key(self.target, self.sender_nick)

    @property
    def kind_and_text(self) -> tuple[str, str]:
        """("action", text without the CTCP wrapping), ("notice", text) or ("message", text)."""
        action = action_text(self.text)
        if action is not None:
            return "action", action
        return ("notice" if self.command == "NOTICE" else "message"), self.text

    def transcript_line(self) -> str:
        """How the message reads in a plain transcript: ``<alice> hi``, ``* alice waves``, ``-alice- note``."""
        kind, text = self.kind_and_text
        nick = self.sender_nick
        return {"action": f"* {nick} {text}", "notice": f"-{nick}- {text}"}.get(kind, f"<{nick}> {text}")


@dataclass(frozen=True)
class Cursor:
    """A position in a conversation: messages sort by (time_ms, row_id)."""

    time_ms: int
    row_id: int


def position(message: StoredMessage) -> tuple[int, int]:
    """Where a message sorts in its conversation."""
    return message.time_ms, message.row_id


def make_msgid(prefix: str, number: int) -> str:
    """A server's msgid: a prefix of its own and the number the message will be stored under."""
    return f"{prefix}-{number}"


def message_number(msgid: str) -> int | None:
    """The number a msgid made by ``make_msgid`` ends in; None for any other msgid (a client may name
    anything). Only a hint: the store checks that the message with that number has this msgid."""
    prefix, _, digits = msgid.rpartition("-")
    if prefix and digits.isascii() and digits.isdigit() and len(digits) <= 18:
        return int(digits)
    return None
