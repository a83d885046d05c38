"""Deleting a message from the history and telling everyone who saw it (IRCv3 draft/message-redaction): the
part of REDACT that the sequencer thread runs, among the history reads of its batch (``history_reads.py``),
once every message decided before the REDACT is stored.

``commands/redact.py`` checks the command under the state lock and captures what this part needs in a
``Redaction``: who asks and with what rights, who is in the conversation now, the REDACT line to relay.
Here the message is looked up in that conversation's history; its sender may delete it within
``ServerConfig.redact_window``, a channel operator or the teacher whenever (``may_delete``). The message and
every reaction given to it go in one transaction, on the store's own connection (this thread is its only
user); only once that is committed does anyone receive the REDACT, so no client hides a message that a
replay still brings back. If the delete fails, the caller gets ``FAIL REDACT INTERNAL_ERROR`` and nobody
anything else.

Who is told: in a channel, its members (only the operators and the sender, for a question asked under +U,
which only they saw); in a private chat, both sides. Those with the capability get the REDACT line (the
caller too, as its echo); those without it a NOTICE from the server saying who deleted whose message and
how long ago (the spec's "Fallback"), never the deleted text. The deletion of a reaction (a TAGMSG) is not
announced to them: they never saw the reaction.
"""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass

from common.protocol.casemap import casefold, is_channel_name
from common.protocol.message import Message, middle_word
from common.protocol.reactions import REDACTION_CAP
from common.server.history import HistoryStore, StoredMessage
from common.server.outbox import Outbox
from common.server.reactions import reaction_row_ids
from common.server.state import Client

log = logging.getLogger("classchat.server")
audit_log = logging.getLogger("classchat.audit")
FAIL_TEXTS = {
    "UNKNOWN_MSGID": "This message does not exist or is too old",
    "REDACT_FORBIDDEN": "You are not authorised to delete this message",
    "REDACT_WINDOW_EXPIRED": "You can no longer delete this message",
    "INTERNAL_ERROR": "The message could not be deleted",
}


@dataclass(frozen=True)
class Redaction:
    """One REDACT, checked under the state lock, for the sequencer to carry out."""

    caller: Client
    side: tuple[str, str, str | None]  # the caller as the history knows senders: folded nick, host, folded account
    moderator: bool  # a channel operator or the teacher: any message of the channel, whenever
    key: str  # the conversation's key in the history
    target: str  # as the REDACT line names it
    msgid: str
    line: Message  # the REDACT to relay, with a time and msgid of its own
    hearers: tuple[tuple[str, Client], ...]  # (folded nick, client) of everyone in the conversation now
    operators: frozenset[Client]  # who also hears the questions asked under +U
    now_ms: int
    window_ms: int
    actor: str  # "chanop nick!user@host" for the audit log


@dataclass(frozen=True)
class FoundMessage:
    """The stored message a REDACT names, and what decides who may delete it."""

    stored: StoredMessage

    @property
    def sender_key(self) -> str:
        return casefold(self.stored.sender_nick)

    def is_from(self, side: tuple[str, str, str | None]) -> bool:
        """Sent by this person: the same account, or for a guest the same nick from the same host (the
        history keeps accounts casefolded, as ``side`` has them)."""
        nick, host, account = side
        if account is not None and self.stored.sender_account is not None:
            return account == self.stored.sender_account
        return nick == self.sender_key and host == self.stored.sender_host


def find_message(store: HistoryStore, key: str, msgid: str) -> FoundMessage | None:
    stored = store.find(key, msgid)
    return FoundMessage(stored) if stored is not None else None


def refusal(redaction: Redaction, found: FoundMessage | None) -> tuple[str, ...] | None:
    """Why the caller may not delete the message, as the FAIL code and its context; None if it may. A
    question asked under +U is unknown to anyone but its sender and the operators, as it is in replays."""
    own = found is not None and found.is_from(redaction.side)
    if found is None or (found.stored.ops_only and not own and not redaction.moderator):
        return ("UNKNOWN_MSGID",)
    if redaction.moderator:
        return None
    if not own:
        return ("REDACT_FORBIDDEN",)
    if redaction.now_ms - found.stored.time_ms > redaction.window_ms:
        return ("REDACT_WINDOW_EXPIRED", str(redaction.window_ms // 1000))
    return None


def delete_message(store: HistoryStore, redaction: Redaction, found: FoundMessage) -> None:
    """Delete the message and the reactions given to it, in one transaction; raises ``sqlite3.Error`` (or
    ``OSError``) when that failed, and then nothing is deleted."""
    ids = {found.stored.row_id}
    if found.stored.command != "TAGMSG":
        ids.update(reaction_row_ids(store, redaction.key, found.stored))
    store.delete_messages(redaction.key, ids)


def apply_redaction(store: HistoryStore, out: Outbox, redaction: Redaction) -> None:
    """Look the message up, decide, delete, then tell (see the module docstring)."""
    found = find_message(store, redaction.key, redaction.msgid)
    refused = refusal(redaction, found)
    if refused is not None:
        fail(out, redaction, *refused)
        return
    try:
        delete_message(store, redaction, found)
    except (sqlite3.Error, OSError):
        log.warning("could not delete message %s from the history", redaction.msgid, exc_info=True)
        fail(out, redaction, "INTERNAL_ERROR")
        return
    if not found.is_from(redaction.side):
        audit_log.info("%s redact %s (a message from %s)", redaction.actor, redaction.line.params[0],
                       found.stored.sender_nick)
    hearers = [client for nick, client in redaction.hearers
               if not found.stored.ops_only or client in redaction.operators or nick == found.sender_key]
    out.relay([client for client in hearers if REDACTION_CAP in client.caps], redaction.line)
    plain = [client for client in hearers if REDACTION_CAP not in client.caps]
    if found.stored.command == "TAGMSG" or not plain:
        return
    if is_channel_name(redaction.target):
        out.relay(plain, fallback_notice(out.server_name, redaction, found, redaction.target))
        return
    for client in plain:  # a private chat: each side reads it addressed to themselves
        out.send(client, fallback_notice(out.server_name, redaction, found, client.nick))


def fail(out: Outbox, redaction: Redaction, code: str, *context: str) -> None:
    words = [middle_word(word[:64]) for word in (redaction.target, redaction.msgid, *context)]
    out.send(redaction.caller, Message("FAIL", ["REDACT", code, *words, FAIL_TEXTS[code]], source=out.server_name))


def fallback_notice(server_name: str, redaction: Redaction, found: FoundMessage, target: str) -> Message:
    """What a client without the capability reads instead of the REDACT: who deleted whose message, when it
    was sent, and the reason given; never the deleted text. ``target``: the channel, or the reader's nick."""
    who = redaction.caller.nick
    age = ago(redaction.now_ms - found.stored.time_ms)
    if found.is_from(redaction.side):
        text = f"{who} deleted a message they sent {age}"
    else:
        text = f"{who} deleted a message {found.stored.sender_nick} sent {age}"
    reason = redaction.line.param(2)
    text += f": {reason}" if reason else ""
    return Message("NOTICE", [target, text], source=server_name)


def ago(milliseconds: int) -> str:
    """"12 seconds ago", "1 minute ago", "3 hours ago", "2 days ago" (relative, as the spec suggests)."""
    seconds = max(0, milliseconds // 1000)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return f"{seconds} second{'s' if seconds != 1 else ''} ago"
