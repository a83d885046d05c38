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

Reading the reactions of a page looks at the messages stored after the page's first message, those with
the next ``REACTION_SCAN_ROWS`` ids (whatever their conversation: a bounded read on the sequencer thread
however deep in the history the page is), and sends at most ``REACTIONS_PER_PAGE``: a reaction
given more than that many stored messages after the message it names is not shown with that page. A
deletion finds every reaction to its message, however late (``reaction_row_ids``).
"""
from __future__ import annotations

from typing import Iterable

from common.protocol.casemap import casefold
from common.protocol.reactions import reaction_of
from common.server.history import Cursor, HistoryStore, StoredMessage, Viewer

REACTION_SCAN_ROWS = 20_000
REACTIONS_PER_PAGE = 1_000  # about 130 KB of TAGMSG lines: well within a client's send queue


def reaction_rows(store: HistoryStore, key: str, after: Cursor, viewer: Viewer | None) -> list[StoredMessage]:
    """The TAGMSGs of a conversation after ``after``, oldest first: for a page, those ``viewer`` may see
    among the next ``REACTION_SCAN_ROWS`` ids; for a deletion (``viewer`` None), all of them."""
    return store.reactions_after(key, after, viewer, None if viewer is None else after.row_id + REACTION_SCAN_ROWS)


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
    return list(standing.values())[-REACTIONS_PER_PAGE:]  # over the budget, the newest messages' reactions


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
    rows = reaction_rows(store, key, Cursor(parent.time_ms, parent.row_id), None)
    return [row.row_id for row in rows if (reaction := reaction_of(row.client_tags)) and reaction.parent == parent.msgid]
