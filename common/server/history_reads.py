"""History reads, run by the sequencer thread after it has stored the batch they came with.

A command that wants the history (JOIN's replay, CHATHISTORY) decides everything under the state lock and
queues a read in ``Outbox.history_reads``; the sequencer (``sequencer.py``) runs it once the batch's
messages are in the ``HistoryStore``, with the store bounded (``HistoryStore.visible_up_to``) by the last
message decided before the read: the answer holds every message decided before it and none decided
after it, which the asking client receives live (a replay would otherwise hold them twice). The state
lock is not held then, so this code reads only the store and the immutable values captured in the request
(channel names, keys, limits, a ``Viewer``, a ``HistoryRequest``), never ``ServerState`` or a ``Channel``.
Of the asking ``Client`` it reads what delivery needs: its ``caps`` (to choose between a batch and plain
lines) and, in ``Outbox.send``, its ``tag_gates`` and ``conn``. It answers only by filling the outbox it
is given, which the sequencer delivers only if the read completes (one that raises is logged and sends
nothing, not half an answer).

A page of messages brings the reactions standing on them along (``reactions.py``), after them, for a
client with message-tags. Two kinds of reads also write, here because this thread is the store's only user
and the answer must show what is stored: REDACT's deletes a message (``redactions.py``), and MARKREAD's
moves a read marker forward, a single statement of its own (``HistoryStore.save_read_marker``). A marker
that cannot be read or saved is answered with ``FAIL MARKREAD INTERNAL_ERROR`` instead of nothing.
"""
from __future__ import annotations

import itertools
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from common.protocol.casemap import casefold
from common.protocol.message import Message, middle_word
from common.server.history import Cursor, HistoryStore, StoredMessage, Viewer, format_time
from common.server.multiline_relay import stored_lines, transcript_lines
from common.server.outbox import Outbox
from common.server.reactions import reactions_to
from common.server.state import Client

log = logging.getLogger("classchat.server")
_batch_ids = itertools.count(1)


def history_line(message: StoredMessage, tags: dict[str, str]) -> Message:
    """A stored message (or reaction, a TAGMSG) as it was first relayed, with its original time and msgid."""
    all_tags = {**tags, "time": format_time(message.time_ms), "msgid": message.msgid, **message.client_tags}
    params = [message.target] if message.command == "TAGMSG" else [message.target, message.text]
    return Message(message.command, params, source=message.sender, tags=all_tags)


def with_reactions(store: HistoryStore, client: Client, key: str, messages: list[StoredMessage],
                   viewer: Viewer) -> list[StoredMessage]:
    """A page of messages, then the reactions standing on them for a client that reads tags (message-tags)."""
    if "message-tags" not in client.caps:
        return messages
    return messages + reactions_to(store, key, messages, viewer)


def history_lines(messages: list[StoredMessage], client: Client) -> list[Message]:
    """Stored messages as ``client`` receives them from the history: one line each, and a message of
    several lines (draft/multiline) as a batch or as its lines (``multiline_relay.stored_lines``)."""
    lines: list[Message] = []
    for message in messages:
        if "\n" in message.text:
            lines.extend(stored_lines(message, client, history_line(message, {}).tags))
        else:
            lines.append(history_line(message, {}))
    return lines


def send_history_batch(out: Outbox, client: Client, batch_type: str, params: list[str],
                       lines: list[Message]) -> None:
    """Lines inside a BATCH when the client has batch (IRCv3 batch), plain otherwise."""
    if "batch" not in client.caps:
        for line in lines:
            out.send(client, line)
        return
    reference = f"h{next(_batch_ids)}"
    out.send(client, Message("BATCH", [f"+{reference}", batch_type, *params], source=out.server_name))
    for line in lines:
        line.tags.setdefault("batch", reference)  # the lines of a multiline batch nested in it keep their own
        out.send(client, line)
    out.send(client, Message("BATCH", [f"-{reference}"], source=out.server_name))


def replay(store: HistoryStore, out: Outbox, client: Client, channel: str, limit: int, viewer: Viewer) -> None:
    """The last messages of a channel for a client that just joined it (run by the sequencer).

    With server-time the client gets the messages themselves with their original times (in a chathistory
    batch when it also has batch); a plain client gets notices that carry the time in their text.
    """
    messages = store.before(casefold(channel), None, limit, viewer)
    if not messages:
        return
    if "server-time" in client.caps:
        lines = history_lines(with_reactions(store, client, casefold(channel), messages, viewer), client)
        send_history_batch(out, client, "chathistory", [channel], lines)
        return
    for message in messages:
        stamp = datetime.fromtimestamp(message.time_ms / 1000).strftime("%Y-%m-%d %H:%M")
        for line in transcript_lines(message):
            out.send(client, Message("NOTICE", [channel, f"[{stamp}] {line}"], source=out.server_name))


@dataclass(frozen=True)
class HistoryRequest:
    """One CHATHISTORY query, checked under the state lock and answered by the sequencer."""

    subcommand: str
    key: str
    target: str
    refs: list[tuple[str, str | int]]
    limit: int
    viewer: Viewer

    def cursor(self, store: HistoryStore, ref: tuple[str, str | int], after: bool) -> Cursor | None:
        """Where a reference points. A timestamp excludes messages at that exact time on the side asked."""
        kind, value = ref
        if kind == "latest":
            return None
        if kind == "timestamp":
            return Cursor(int(value), 2 ** 62 if after else -1)
        return store.cursor_for_msgid(self.key, str(value))

    def answer(self, store: HistoryStore, out: Outbox, client: Client) -> None:
        messages = with_reactions(store, client, self.key, self.query(store), self.viewer)
        send_history_batch(out, client, "chathistory", [self.target], history_lines(messages, client))

    def query(self, store: HistoryStore) -> list[StoredMessage]:
        first = self.refs[0]
        if self.subcommand == "LATEST":
            cursor = self.cursor(store, first, after=True)
            if first[0] != "latest" and cursor is None:
                return []
            return store.latest_after(self.key, cursor, self.limit, self.viewer)
        cursor = self.cursor(store, first, after=self.subcommand == "AFTER")
        if cursor is None:
            return []  # an unknown msgid: nothing around it to show
        if self.subcommand == "BEFORE":
            return store.before(self.key, cursor, self.limit, self.viewer)
        if self.subcommand == "AFTER":
            return store.after(self.key, cursor, self.limit, self.viewer)
        if self.subcommand == "AROUND":
            if first[0] == "msgid":
                centre = store.after(self.key, Cursor(cursor.time_ms, cursor.row_id - 1), 1, self.viewer)
                earlier = store.before(self.key, cursor, (self.limit - 1) // 2, self.viewer)
                later = store.after(self.key, cursor, self.limit - 1 - len(earlier), self.viewer)
                return earlier + centre + later
            earlier = store.before(self.key, Cursor(cursor.time_ms, 2 ** 62), self.limit // 2, self.viewer)
            return earlier + store.after(self.key, Cursor(cursor.time_ms, 2 ** 62), self.limit - len(earlier),
                                         self.viewer)
        # BETWEEN: from the first reference towards the second, both excluded; always oldest first.
        second = self.cursor(store, self.refs[1], after=False)
        if second is None:
            return []
        if (cursor.time_ms, cursor.row_id) <= (second.time_ms, second.row_id):
            start = self.cursor(store, first, after=True)
            end = self.cursor(store, self.refs[1], after=False)
            return store.after(self.key, start, self.limit, self.viewer, until=end)
        start = self.cursor(store, self.refs[1], after=True)
        end = self.cursor(store, first, after=False)
        return store.before(self.key, end, self.limit, self.viewer, since=start)


def send_targets(store: HistoryStore, out: Outbox, client: Client, viewer: Viewer, channels: list[str],
                 start: int, end: int, limit: int) -> None:
    rows = store.targets(viewer, channels, start, end, limit)
    lines = [Message("CHATHISTORY", ["TARGETS", target, f"timestamp={format_time(latest)}"],
                     source=out.server_name) for target, latest in rows]
    send_history_batch(out, client, "draft/chathistory-targets", [], lines)


def read_marker_line(server_name: str, target: str, time_ms: int | None) -> Message:
    """``MARKREAD <target> timestamp=…``, or ``MARKREAD <target> *`` when no marker is stored."""
    return Message("MARKREAD", [target, "*" if time_ms is None else f"timestamp={format_time(time_ms)}"],
                   source=server_name)


def marker_failed(out: Outbox, client: Client, target: str) -> None:
    log.warning("could not read or save a read marker", exc_info=True)
    out.send(client, Message("FAIL", ["MARKREAD", "INTERNAL_ERROR", middle_word(target),
                                      "The read marker could not be read or saved"], source=out.server_name))


def send_read_marker(store: HistoryStore, out: Outbox, client: Client, owner: str, key: str, target: str) -> None:
    """The stored read marker of one conversation, to the client that asked or joined (IRCv3 read-marker)."""
    try:
        time_ms = store.read_marker(owner, key)
    except (sqlite3.Error, OSError):
        marker_failed(out, client, target)
        return
    out.send(client, read_marker_line(out.server_name, target, time_ms))


def save_read_marker(store: HistoryStore, out: Outbox, client: Client, recipients: list[Client], owner: str,
                     key: str, target: str, time_ms: int) -> None:
    """Move a read marker forward, then tell every connection of its owner that has the capability where it
    stands now (the stored one, which is not ``time_ms`` when that was earlier)."""
    try:
        stored = store.save_read_marker(owner, key, time_ms)
    except (sqlite3.Error, OSError):
        marker_failed(out, client, target)
        return
    out.relay(recipients, read_marker_line(out.server_name, target, stored))
