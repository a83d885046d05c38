"""How the history keeps messages in SQLite: a row per conversation and batch, a "block".

Why: a row per message cost SQLite about 4.5 µs of CPU (a row and the three indexes a channel message
touched) on a thread of its own, while the whole fan-out of a message to a hundred members costs about 28:
history on cost a third of the fan-out throughput. The sequencer stores a batch at a time anyway (its
log record, ``history_log.py``), so the messages of one conversation in one batch become one row: their
values in one ``marshal`` value, with what reads look blocks up by (the conversation, the first and last
message number, the earliest and latest time). SQLite's work is then per block, whatever the block holds.

Order: messages sort by (time, id) (``history_model``). Ids grow in the order written, and a running
server's times never decrease, so the blocks of a conversation follow each other: a block whose earliest
time is not before the latest of every block written before it in its conversation is ``in_order``.
Reads walk those by an index on (conversation, earliest time), a block at a time, and stop once they have
enough: the blocks before hold only earlier messages. A block that breaks the order (a message dated
before one stored earlier: a restored clock, a test's made-up times) is stored with ``in_order`` 0, and
every read of its conversation takes such blocks as well (a partial index finds them; normally none).

A message's id is the number its msgid ends in (``make_msgid``) whenever that is higher than every id
before, as it is for every message of a running server; a msgid from elsewhere (a test, a history from
before blocks) gets the next free id, and the pair goes to ``message_aliases``. Looking a msgid up is
then an index seek to the block that would hold the number, and a check that the message there has this
msgid, else the aliases.
"""
from __future__ import annotations

import marshal
import sqlite3
from typing import Callable, Iterator

from common.protocol.casemap import casefold
from common.server.history_model import SQLITE_INTEGER_MIN, Cursor, StoredMessage, message_number, position

BLOCKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS message_blocks (
    id INTEGER PRIMARY KEY,
    target_key TEXT NOT NULL,
    target TEXT NOT NULL,  -- as the first message of the block named it
    party_a TEXT,  -- a private conversation's two nicks (casefolded); NULL for a channel
    party_b TEXT,
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    min_time INTEGER NOT NULL,
    max_time INTEGER NOT NULL,
    count INTEGER NOT NULL,
    in_order INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_in_order ON message_blocks (target_key, min_time) WHERE in_order;
CREATE INDEX IF NOT EXISTS blocks_out_of_order ON message_blocks (target_key) WHERE NOT in_order;
CREATE UNIQUE INDEX IF NOT EXISTS blocks_by_id ON message_blocks (target_key, last_id);
CREATE INDEX IF NOT EXISTS blocks_by_time ON message_blocks (min_time);
CREATE INDEX IF NOT EXISTS private_blocks_a ON message_blocks (party_a, max_time) WHERE party_a IS NOT NULL;
CREATE INDEX IF NOT EXISTS private_blocks_b ON message_blocks (party_b, max_time) WHERE party_b IS NOT NULL;
CREATE TABLE IF NOT EXISTS message_aliases (msgid TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
"""
BLOCK_COLUMNS = "target_key, target, party_a, party_b, first_id, last_id, min_time, max_time, count, in_order, body"
# Applying a log record twice (a crash between the commit and emptying the log) changes nothing: the
# unique (conversation, last id) ignores the block the second time.
INSERT_BLOCK = f"INSERT OR IGNORE INTO message_blocks ({BLOCK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_ALIAS = "INSERT OR IGNORE INTO message_aliases (msgid, id) VALUES (?, ?)"
COUNT, ID_RANGE = 8, slice(4, 6)  # positions in a block row
MIGRATION_BLOCK_MESSAGES = 256  # the messages of a history from before blocks, this many to a block at most

Keep = Callable[[StoredMessage], bool]


def message_values(m: StoredMessage) -> tuple:
    """``m`` as a block holds it: the seven values every message has, and the rest only when one of them is
    not its default (a guest's untagged message to a channel has them all at their defaults)."""
    values = (m.row_id, m.msgid, m.time_ms, m.target, m.sender, m.command, m.text)
    if m.recipient_host or m.client_tags or m.ops_only or m.sender_account or m.recipient_account:
        return (*values, m.recipient_host, m.client_tags, m.ops_only,
                casefold(m.sender_account) if m.sender_account else None,
                casefold(m.recipient_account) if m.recipient_account else None)
    return values


def messages_in(body: bytes) -> list[StoredMessage]:
    """A block's messages, in the order stored."""
    return [StoredMessage(v[1], v[2], v[3], v[4], v[5], v[6], row_id=v[0]) if len(v) == 7 else
            StoredMessage(v[1], v[2], v[3], v[4], v[5], v[6], v[7], dict(v[8]), v[9], v[0], v[10], v[11])
            for v in marshal.loads(body)]


def block_row(key: str, values: list[tuple], in_order: bool) -> tuple:
    """The row of a block holding ``values`` (``message_values``) of the conversation ``key``."""
    parties = key[3:].split(":", 1) if key.startswith("dm:") else (None, None)
    times = [v[2] for v in values]
    return (key, values[0][3], *parties, values[0][0], values[-1][0], min(times), max(times), len(values),
            int(in_order), marshal.dumps(values))


class BlockWriter:
    """Gives messages their ids and makes their blocks, on the one thread that writes the history.

    ``newest_in_database(key)`` says the latest time of a conversation in the database; the writer asks
    once per conversation, adds what waits in the log from before (``note``), and keeps count after that."""

    def __init__(self, last_id: int, newest_in_database: Callable[[str], int | None]) -> None:
        self.last_id = last_id
        self._newest_in_database = newest_in_database
        self._newest: dict[str, int | None] = {}
        self._waiting: dict[str, int] = {}  # the latest time of blocks in the log from before, not yet asked

    def note(self, row: tuple) -> None:
        """A block waiting in the log from before: its ids are taken and its time counts."""
        key, max_time = row[0], row[7]
        self.last_id = max(self.last_id, row[5])
        if key in self._newest:
            self._newest[key] = max(self._newest[key] or max_time, max_time)
        else:
            self._waiting[key] = max(self._waiting.get(key, max_time), max_time)

    def blocks(self, keyed: list[tuple[str, StoredMessage]]) -> tuple[list[tuple], list[tuple[str, int]]]:
        """Block rows for messages and their conversation keys, in order (one block per conversation), and
        the aliases of msgids that are not their id's (``make_msgid``). Sets each message's ``row_id``."""
        by_key: dict[str, list[tuple]] = {}
        aliases: list[tuple[str, int]] = []
        last_id = self.last_id
        for key, m in keyed:
            number = message_number(m.msgid)
            if number is None or number <= last_id:
                number = last_id + 1
                aliases.append((m.msgid, number))
            m.row_id = last_id = number
            values = message_values(m)
            if key in by_key:
                by_key[key].append(values)
            else:
                by_key[key] = [values]
        self.last_id = last_id
        return [self._block(key, values) for key, values in by_key.items()], aliases

    def moved_blocks(self, keyed: list[tuple[str, StoredMessage]]) -> tuple[list[tuple], list[tuple[str, int]]]:
        """As ``blocks``, for the messages of a history from before blocks: they keep the ids they have
        (their row ids, in order), and a conversation's run of them is split into blocks of
        ``MIGRATION_BLOCK_MESSAGES``."""
        by_key: dict[str, list[tuple]] = {}
        aliases = [(m.msgid, m.row_id) for _, m in keyed if message_number(m.msgid) != m.row_id]
        for key, m in keyed:
            by_key.setdefault(key, []).append(message_values(m))
            self.last_id = max(self.last_id, m.row_id)
        size = MIGRATION_BLOCK_MESSAGES
        return [self._block(key, values[start:start + size])
                for key, values in by_key.items() for start in range(0, len(values), size)], aliases

    def _block(self, key: str, values: list[tuple]) -> tuple:
        if key not in self._newest:
            known = [t for t in (self._newest_in_database(key), self._waiting.pop(key, None)) if t is not None]
            self._newest[key] = max(known) if known else None
        newest = self._newest[key]
        row = block_row(key, values, in_order=newest is None or min(v[2] for v in values) >= newest)
        self._newest[key] = row[7] if newest is None else max(newest, row[7])
        return row


def newest_in_database(db: sqlite3.Connection, key: str) -> int | None:
    """The latest time of a conversation's blocks: the last in order (each begins where those before end),
    or one out of order."""
    row = db.execute("SELECT max_time FROM message_blocks WHERE target_key = ? AND in_order"
                     " ORDER BY min_time DESC, id DESC LIMIT 1", (key,)).fetchone()
    other = db.execute("SELECT max(max_time) FROM message_blocks WHERE target_key = ? AND NOT in_order",
                       (key,)).fetchone()[0]
    known = [t for t in (row[0] if row else None, other) if t is not None]
    return max(known) if known else None


# ---------------------------------------------------------------------------------------------- reading

def out_of_order(db: sqlite3.Connection, key: str) -> list[StoredMessage]:
    """The messages of a conversation's blocks that break the order (normally none)."""
    rows = db.execute("SELECT body FROM message_blocks WHERE target_key = ? AND NOT in_order", (key,))
    return [m for (body,) in rows for m in messages_in(body)]


def newest_first(db: sqlite3.Connection, key: str, below: Cursor, above: Cursor | None, limit: int,
                 keep: Keep) -> list[StoredMessage]:
    """The ``limit`` latest messages (all when negative) between two positions (both excluded; ``above``
    None: from the first) that ``keep`` accepts, newest first."""
    high, low = (below.time_ms, below.row_id), (above.time_ms, above.row_id) if above else None

    def wanted(m: StoredMessage) -> bool:
        return low < position(m) < high if low else position(m) < high

    found: list[StoredMessage] = []
    rows = db.execute("SELECT max_time, body FROM message_blocks WHERE target_key = ? AND in_order AND min_time <= ?"
                      " ORDER BY min_time DESC, id DESC", (key, below.time_ms))
    for max_time, body in rows:
        if above is not None and max_time < above.time_ms:
            break  # this block and every one before it are all earlier
        found += [m for m in messages_in(body) if wanted(m) and keep(m)]
        if 0 <= limit <= len(found):
            break  # every block before holds earlier messages only
    found += [m for m in out_of_order(db, key) if wanted(m) and keep(m)]
    found.sort(key=position, reverse=True)
    return found if limit < 0 else found[:limit]


def oldest_first(db: sqlite3.Connection, key: str, above: Cursor, below: Cursor | None, limit: int,
                 keep: Keep) -> list[StoredMessage]:
    """The ``limit`` earliest messages (all when negative) between two positions (both excluded; ``below``
    None: up to the last) that ``keep`` accepts, oldest first."""
    low, high = (above.time_ms, above.row_id), (below.time_ms, below.row_id) if below else None

    def wanted(m: StoredMessage) -> bool:
        return low < position(m) < high if high else low < position(m)

    # The blocks that begin before ``above``'s time hold nothing after it, but for the last of them.
    start = db.execute("SELECT min_time FROM message_blocks WHERE target_key = ? AND in_order AND min_time < ?"
                       " ORDER BY min_time DESC LIMIT 1", (key, above.time_ms)).fetchone()
    rows = db.execute("SELECT min_time, body FROM message_blocks WHERE target_key = ? AND in_order AND min_time >= ?"
                      " ORDER BY min_time, id", (key, start[0] if start else SQLITE_INTEGER_MIN))
    found: list[StoredMessage] = []
    for min_time, body in rows:
        if below is not None and min_time > below.time_ms:
            break
        found += [m for m in messages_in(body) if wanted(m) and keep(m)]
        if 0 <= limit <= len(found):
            break
    found += [m for m in out_of_order(db, key) if wanted(m) and keep(m)]
    found.sort(key=position)
    return found if limit < 0 else found[:limit]


def by_ids(db: sqlite3.Connection, key: str, after_id: int, up_to_id: int) -> list[StoredMessage]:
    """The messages of a conversation with ids after ``after_id`` up to ``up_to_id``, in id order. The
    blocks of one conversation hold ranges of ids that follow each other."""
    found: list[StoredMessage] = []
    rows = db.execute("SELECT first_id, body FROM message_blocks WHERE target_key = ? AND last_id > ?"
                      " ORDER BY last_id", (key, after_id))
    for first_id, body in rows:
        if first_id > up_to_id:
            break
        found += [m for m in messages_in(body) if after_id < m.row_id <= up_to_id]
    return found


def find(db: sqlite3.Connection, key: str, msgid: str) -> StoredMessage | None:
    """The message of a conversation with this msgid, if it is stored."""
    numbers = [number] if (number := message_number(msgid)) is not None else []
    alias = db.execute("SELECT id FROM message_aliases WHERE msgid = ?", (msgid,)).fetchone()
    if alias is not None:
        numbers.append(alias[0])
    for number in numbers:
        row = block_holding(db, key, number)
        for m in messages_in(row[2]) if row else ():
            if m.row_id == number and m.msgid == msgid:
                return m
    return None


def block_holding(db: sqlite3.Connection, key: str, number: int) -> tuple[int, int, bytes] | None:
    """(id, in_order, body) of the block of a conversation that holds the message ``number`` if any does:
    the first whose last id is not below it (a conversation's blocks hold ranges of ids that follow each
    other)."""
    return db.execute("SELECT id, in_order, body FROM message_blocks WHERE target_key = ? AND last_id >= ?"
                      " ORDER BY last_id LIMIT 1", (key, number)).fetchone()


def in_window(db: sqlite3.Connection, party: str, low_ms: int, high_ms: int) -> Iterator[tuple[str, StoredMessage]]:
    """(key, message) of the private conversations of the nick ``party`` with blocks between two times."""
    rows = db.execute("SELECT target_key, body FROM message_blocks WHERE party_a = ? AND max_time > ? AND min_time < ?"
                      " UNION ALL SELECT target_key, body FROM message_blocks WHERE party_b = ? AND max_time > ?"
                      " AND min_time < ?", (party, low_ms, high_ms, party, low_ms, high_ms))
    for key, body in rows:
        for m in messages_in(body):
            yield key, m


# ---------------------------------------------------------------------------------------------- deleting

def delete_ids(db: sqlite3.Connection, key: str, ids: set[int]) -> int:
    """Take the messages with these ids out of a conversation's blocks (in the caller's transaction);
    returns how many there were. A block left empty goes; the others are written again without them."""
    holding = {row[0]: row for number in ids if (row := block_holding(db, key, number)) is not None}
    return sum(rewrite(db, block_id, key, in_order, messages_in(body), lambda m: m.row_id not in ids)
               for block_id, in_order, body in holding.values())


def delete_before(db: sqlite3.Connection, time_ms: int) -> int:
    """Take every message older than ``time_ms`` out (retention); returns how many there were."""
    deleted = 0
    rows = db.execute("SELECT id, target_key, in_order, max_time, count, body FROM message_blocks WHERE min_time < ?",
                      (time_ms,)).fetchall()
    for block_id, key, in_order, max_time, count, body in rows:
        if max_time < time_ms:
            db.execute("DELETE FROM message_blocks WHERE id = ?", (block_id,))
            deleted += count
        else:
            deleted += rewrite(db, block_id, key, in_order, messages_in(body), lambda m: m.time_ms >= time_ms)
    # An alias below every id still stored names a message that is gone.
    db.execute("DELETE FROM message_aliases WHERE id < (SELECT coalesce(min(first_id), 1 << 62) FROM message_blocks)")
    return deleted


def rewrite(db: sqlite3.Connection, block_id: int, key: str, in_order: int, messages: list[StoredMessage],
            kept: Keep) -> int:
    """Write a block again with the messages ``kept`` accepts (or delete it when none is left); returns how
    many were left out. Its order stays as it was: what is left lies within what was there."""
    left: list[StoredMessage] = []
    gone: list[StoredMessage] = []
    for m in messages:
        (left if kept(m) else gone).append(m)
    if not gone:
        return 0
    db.executemany("DELETE FROM message_aliases WHERE msgid = ? AND id = ?", [(m.msgid, m.row_id) for m in gone])
    if not left:
        db.execute("DELETE FROM message_blocks WHERE id = ?", (block_id,))
    else:
        row = block_row(key, [message_values(m) for m in left], bool(in_order))
        db.execute(f"UPDATE message_blocks SET ({BLOCK_COLUMNS}) = (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = ?",
                   (*row, block_id))
    return len(gone)
