"""Reactions in the history (IRCv3 ``+draft/react`` and ``+draft/unreact``): which of them come along with
a page of messages. Runs on the sequencer thread, inside its history reads (``history_reads.py``).

A reaction is stored as it was relayed, a TAGMSG row whose ``client_tags`` hold the reaction and
``+draft/reply`` (``commands/messages.py`` stores it like a message: stored before anyone receives it). A
page of history (a JOIN's replay, CHATHISTORY) holds messages only (``HistoryStore._select`` leaves TAGMSG
rows out), so that three hundred reactions never push the messages out of a page; the reactions to the
messages of the page follow them in the same batch and do not count towards its limit, as the redaction
spec lets REDACT lines follow. An unreact takes back what the same person gave before, so only the
reactions still standing are sent: for each person, message and reaction, the TAGMSG that gave it.
A teacher who joins late, or reloads, sees the counts as they stand.

Reading reactions scans the TAGMSG rows of the conversation from the oldest message of the page on
(the ``messages_by_target`` index keeps that a range), at most ``REACTION_SCAN_ROWS`` of them, and sends
at most ``REACTIONS_PER_PAGE``.
"""
from __future__ import annotations

import json
from typing import Iterable

from common.protocol.casemap import casefold
from common.protocol.reactions import reaction_of
from common.server.history import ALL_ROWS, OWN_MESSAGE, PRIVATE_SIDE, Cursor, HistoryStore, StoredMessage, Viewer

REACTION_SCAN_ROWS = 20_000
REACTIONS_PER_PAGE = 4_096


def reaction_rows(store: HistoryStore, key: str, after: Cursor, viewer: Viewer | None,
                  limit: int = REACTION_SCAN_ROWS, up_to: int | None = None) -> list[StoredMessage]:
    """The TAGMSG rows of a conversation after ``after``, oldest first, that ``viewer`` may see (None: all
    of them, for deleting), up to the row id ``up_to`` (None: the store's current read bound)."""
    params: tuple = (key, after.time_ms, after.time_ms, after.row_id)
    privacy = ""
    if viewer is not None:
        side = viewer.side()
        if key.startswith("dm:"):
            privacy, params = f" AND {PRIVATE_SIDE}", (*params, *side, *side)
        elif not viewer.privileged:
            privacy, params = f" AND (ops_only = 0 OR {OWN_MESSAGE})", (*params, *side)
    bound = store.last_visible if up_to is None else up_to
    rows = store.db.execute(
        "SELECT id, msgid, time_ms, target, sender, client_tags, ops_only FROM messages"
        " WHERE target_key = ? AND (time_ms > ? OR (time_ms = ? AND id > ?)) AND command = 'TAGMSG'"
        f"{privacy} AND id <= ? ORDER BY time_ms, id LIMIT ?", (*params, bound, limit)).fetchall()
    return [StoredMessage(msgid, time_ms, target, sender, "TAGMSG", "", client_tags=json.loads(tags),
                          ops_only=bool(ops_only), row_id=row_id)
            for row_id, msgid, time_ms, target, sender, tags, ops_only in rows]


def standing_reactions(rows: Iterable[StoredMessage], parents: set[str]) -> list[StoredMessage]:
    """Of reaction rows in the order they were given, those still standing on one of ``parents``: a
    person's second identical reaction adds nothing, an unreact takes the reaction back. In the order given."""
    standing: dict[tuple[str, str, str], StoredMessage] = {}
    for row in rows:
        reaction = reaction_of(row.client_tags)
        if reaction is None or reaction.parent not in parents:
            continue
        who = (reaction.parent, casefold(row.sender_nick), reaction.emoji)
        if reaction.added:
            standing.setdefault(who, row)
        else:
            standing.pop(who, None)
    return list(standing.values())[:REACTIONS_PER_PAGE]


def reactions_to(store: HistoryStore, key: str, messages: list[StoredMessage], viewer: Viewer) -> list[StoredMessage]:
    """The reactions standing on a page of messages (oldest first), as ``viewer`` may see them."""
    if not messages:
        return []
    first = messages[0]
    rows = reaction_rows(store, key, Cursor(first.time_ms, first.row_id), viewer)
    return standing_reactions(rows, {message.msgid for message in messages})


def reaction_row_ids(store: HistoryStore, key: str, parent: StoredMessage) -> list[int]:
    """The row ids of every reaction and unreact given to ``parent``, whoever may see them and whenever
    they were stored (also after the read bound: they go with the message they name)."""
    rows = reaction_rows(store, key, Cursor(parent.time_ms, parent.row_id), None, limit=-1, up_to=ALL_ROWS)
    return [row.row_id for row in rows if (reaction := reaction_of(row.client_tags)) and reaction.parent == parent.msgid]
