"""Message history in SQLite: the messages of channels and private chats, and channel settings.

One ``HistoryStore`` is used by one thread at a time (the server's sequencer while it runs; the export
command on its own). ``write()`` stores a batch by appending it to the history's log (``history_log.py``):
once it returns, the batch survives the process being killed (kill -9), which is what "never lose a
message" needs here; only a power cut can take the last writes with it, as it can the last commits of
SQLite in WAL mode with ``synchronous=NORMAL``, the mode of the database. The filler thread then puts the
batch into SQLite, and every read waits for it first (``db``), so a read sees every message written.

A lock another program holds on the database (a backup, an ``sqlite3`` shell left in a transaction)
holds up only the filler: messages are still delivered, and wait in the log until the lock is gone.
Writes fail (and the sequencer refuses that batch's messages) when the log cannot be written (the disk
is full) or when ``history_log.MAX_WAITING_ROWS`` messages are waiting already. Values SQLite cannot
hold (integers beyond 64 bits) are refused in Python before anything is written, never raised from inside
a transaction.

Messages are ordered by (time, id) (``history_model.py``); they are kept a block per conversation and
batch (``history_blocks.py``). Ids grow in the order the sequencer stored the messages, which is the order
the server decided them; ``visible_up_to()`` bounds every read by one, so that a read queued between two
messages of one batch sees the first and not the second.

A private message is stored once, under a key made of both nicks; it is only ever returned to a client
that is one of the two sides: the sender's nick from the sender's host, or the recipient's nick from the
host it was delivered to. Without accounts, nick and host are the identity a classroom server has;
someone who takes a nick from another computer sees none of its private history.
"""
from __future__ import annotations

import functools
import json
import logging
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

from common.protocol.casemap import casefold
from common.server import history_blocks as blocks
from common.server.attendance import ATTENDANCE_SCHEMA
from common.server.history_blocks import BLOCKS_SCHEMA, INSERT_ALIAS, INSERT_BLOCK, BlockWriter, Keep
from common.server.history_log import Filler, HistoryLog, LogInUse, Record
# dm_key, format_time and marker_owner are used through this module by the commands and the reads.
from common.server.history_model import (SQLITE_INTEGER_MAX, Cursor, StoredMessage, Viewer, dm_key,  # noqa: F401
                                         fits_sqlite, format_time, marker_owner, position, target_key)
from common.server.logs import run_reporting_end
from common.server.transactions import transaction

log = logging.getLogger("classchat.server")
SCHEMA_VERSION = 8
# The writer copies SQLite's write-ahead log (the -wal file) into the database itself only past this many
# pages (a backstop): normally the Checkpointer does it every second from its own connection.
WAL_AUTOCHECKPOINT_PAGES = 16384
# How long a statement waits for a lock held by another connection to the file before it fails.
BUSY_TIMEOUT_MS = 200
# How long a read waits for the filler to catch up before it reads what SQLite has: the longest a locked
# database can hold up a batch with a history read (a replay on JOIN, CHATHISTORY) in the sequencer.
READ_WAIT_SECONDS = BUSY_TIMEOUT_MS / 1000
CLOSE_WAIT_SECONDS = 5.0  # at the end, for what is still waiting; what is left is stored at the next start
ALL_ROWS = SQLITE_INTEGER_MAX  # the row id bound of a read that sees every stored message
# IRCv3 draft/read-marker: how far one person has read one conversation (see ``marker_owner``, ``target_key``).
READ_MARKERS_TABLE = """CREATE TABLE IF NOT EXISTS read_markers (
    owner_key TEXT NOT NULL,
    target_key TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (owner_key, target_key)
)"""
SCHEMA = BLOCKS_SCHEMA + """
CREATE TABLE IF NOT EXISTS channels (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    topic TEXT NOT NULL DEFAULT '',
    topic_set_by TEXT NOT NULL DEFAULT '',
    topic_set_at INTEGER NOT NULL DEFAULT 0,
    modes TEXT NOT NULL DEFAULT 'nt',
    key TEXT,
    member_limit INTEGER,
    bans TEXT NOT NULL DEFAULT '[]',
    quiets TEXT NOT NULL DEFAULT '[]',
    excepts TEXT NOT NULL DEFAULT '[]',
    invexes TEXT NOT NULL DEFAULT '[]'
);
""" + READ_MARKERS_TABLE + ";\n" + "".join(f"{statement};\n" for statement in ATTENDANCE_SCHEMA)
# What each version added, by the version it upgrades from. 2: questions (+U) kept for operators, and the
# mute (+q) list. 3: the recipient of a private message as a key of its own. 4: the accounts of the two sides
# (casefolded; NULL for a guest), so that private history follows an account. 5: the ban exception (+e) and
# invite exception (+I) lists of a channel. 6: read markers (MARKREAD). 7: attendance in class channels (see
# attendance.py). 8: the messages in blocks (``history_blocks.py``): ``_move_messages_into_blocks``.
UPGRADES = {
    1: ("ALTER TABLE messages ADD COLUMN ops_only INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE channels ADD COLUMN quiets TEXT NOT NULL DEFAULT '[]'"),
    2: ("ALTER TABLE messages ADD COLUMN recipient_key TEXT NOT NULL DEFAULT ''",),
    3: ("ALTER TABLE messages ADD COLUMN sender_account TEXT", "ALTER TABLE messages ADD COLUMN recipient_account TEXT"),
    4: ("ALTER TABLE channels ADD COLUMN excepts TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE channels ADD COLUMN invexes TEXT NOT NULL DEFAULT '[]'"),
    5: (READ_MARKERS_TABLE,),
    6: ATTENDANCE_SCHEMA,
}


@dataclass(frozen=True)
class ChannelSnapshot:
    """A channel's lasting settings: what survives a restart with it."""

    name: str
    created: int
    topic: str
    topic_set_by: str
    topic_set_at: int
    modes: str
    key: str | None
    limit: int | None
    bans: tuple[tuple[str, str, int], ...]
    quiets: tuple[tuple[str, str, int], ...] = ()
    excepts: tuple[tuple[str, str, int], ...] = ()
    invexes: tuple[tuple[str, str, int], ...] = ()


class Checkpointer(threading.Thread):
    """Copies SQLite's write-ahead log (the -wal file; not the history's own log, ``history_log.py``) into
    the database file every ``interval`` seconds, from a connection of its own. SQLite would otherwise do it
    inside a commit now and then (with an fsync): measured when the sequencer committed, that was 8 % of the
    storage time and a stall of several milliseconds in delivery. A PASSIVE checkpoint never blocks the
    writer."""

    def __init__(self, path: str, interval: float = 1.0) -> None:
        super().__init__(name="checkpointer")
        self.path = path
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        run_reporting_end(log, "checkpointer", self._checkpoint_every_interval, self._stopping.is_set)

    def _checkpoint_every_interval(self) -> None:
        """One failed checkpoint (locked, disk full, or anything else) is logged and the next is tried; the
        connection is opened again after a failure, in case it was the connection that broke."""
        db: sqlite3.Connection | None = None
        failing = False
        try:
            while not self._stopping.wait(self.interval):
                try:
                    if db is None:
                        db = sqlite3.connect(self.path, isolation_level=None)
                        db.execute("PRAGMA busy_timeout=1000")
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    failing = False
                except Exception as error:
                    if not failing:  # once per incident, not every second
                        log.warning("history checkpoint failed: %s", error,
                                    exc_info=not isinstance(error, (sqlite3.Error, OSError)))
                    failing = True
                    if db is not None:
                        db.close()
                        db = None
        finally:
            if db is not None:
                db.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join()


# The messages table before blocks (schema 7 and older), as ``_move_messages_into_blocks`` reads it.
LEGACY_COLUMNS = ("id, msgid, time_ms, target, sender, recipient_host, command, text, client_tags,"
                  " ops_only, sender_account, recipient_account")
MIGRATION_CHUNK_ROWS = 10_000


def legacy_message(row: tuple) -> StoredMessage:
    """A message of the table before blocks (``LEGACY_COLUMNS`` without the key); tags that no longer
    read as JSON are left out."""
    row_id, msgid, time_ms, target, sender, recipient_host, command, text, tags, ops_only, *accounts = row
    try:
        client_tags = json.loads(tags)
    except (TypeError, ValueError):
        client_tags = {}
    return StoredMessage(msgid, time_ms, target, sender, command, text, recipient_host,
                         client_tags if isinstance(client_tags, dict) else {}, bool(ops_only), row_id, *accounts)


def legacy_log_message(row: tuple) -> StoredMessage:
    """A message row in a history log written before blocks: every column, or the nine plain ones."""
    if len(row) == 9:
        msgid, time_ms, _key, target, sender, _sender_key, _host, command, text = row
        return StoredMessage(msgid, time_ms, target, sender, command, text)
    (msgid, time_ms, _key, target, sender, _sender_key, _host, recipient_host, command, text, tags, ops_only,
     _recipient_key, sender_account, recipient_account) = row
    return legacy_message((0, msgid, time_ms, target, sender, recipient_host, command, text, tags, ops_only,
                           sender_account, recipient_account))


def connect(path: str) -> sqlite3.Connection:
    """A connection to the history database in the modes every writer of it uses."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    return db


class HistoryStore:
    """The history database. Every read sees the messages up to ``visible_up_to()``'s row id (all of
    them unless the sequencer says otherwise).

    The server opens it ``exclusive``: if another server runs on the same database, that raises
    ``LogInUse``. A program that only reads (``--export``) opens it shared: while a server runs, it reads
    what SQLite has and cannot write; otherwise it stores what a crash left in the log first, as the
    server does."""

    def __init__(self, path: str, exclusive: bool = True) -> None:
        self.path = path
        self._last_visible = ALL_ROWS
        self._db = connect(path)
        with self._db:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            before_blocks = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages'").fetchone()
            existed = before_blocks or self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'message_blocks'").fetchone()
            if existed:
                for from_version in range(version, SCHEMA_VERSION):
                    for statement in UPGRADES.get(from_version, ()):
                        self._db.execute(statement)
            self._db.executescript(SCHEMA)
        last_id = self._db.execute("SELECT max(last_id) FROM message_blocks").fetchone()[0] or 0
        self._writer = BlockWriter(last_id, functools.partial(blocks.newest_in_database, self._db))
        if before_blocks:
            self._move_messages_into_blocks()
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        in_memory = path == ":memory:"
        self.read_only = False
        self.log_file: HistoryLog | None = None  # None in memory, or while another server writes
        if not in_memory:  # in memory, the database is gone with the process anyway: no log
            try:
                self.log_file = HistoryLog(path + "-log")
            except LogInUse:
                if exclusive:
                    self._db.close()
                    raise
                self.read_only = True
        # The filler writes on a connection of its own, so that reads never meet its open transaction (an
        # in-memory database has only the one).
        self._filler_db = self._db if in_memory else connect(path)
        # What a crash left in the log is stored before anything else (should the database refuse it now,
        # it waits in the log).
        self._filler = Filler(self.log_file, self._apply, self._taken_from_log)
        left = self._filler.waiting_rows
        if not self.read_only:
            self._filler.start()
        if left and self.wait_until_stored(CLOSE_WAIT_SECONDS):
            log.info("stored %d messages that the history log held from before", left)

    @property
    def filler(self) -> Filler:
        """The thread that puts the log into SQLite (the benchmarks count its CPU time)."""
        return self._filler

    def wait_until_stored(self, timeout: float = READ_WAIT_SECONDS) -> bool:
        """Wait until everything written is in SQLite, at most ``timeout`` seconds; False if not."""
        return self._filler.wait_until_stored(timeout)

    @property
    def db(self) -> sqlite3.Connection:
        """The connection to read with (and to make the few changes that bypass the log: read markers,
        deletions, retention), once everything written is in SQLite: every read goes through here, so
        none misses a message still on its way from the log. If the filler cannot catch up within
        ``READ_WAIT_SECONDS`` (the database locked by another program), the read sees what is stored."""
        self.wait_until_stored()
        return self._db

    def close(self) -> None:
        """Store what is waiting (for at most ``CLOSE_WAIT_SECONDS``), then close."""
        if not self._filler.close(CLOSE_WAIT_SECONDS):
            log.warning("history messages not yet in the database stay in %s; they are stored at the next "
                        "start", self.path + "-log")
        if self._filler.is_alive():
            return  # still inside SQLite: its files stay open until the process ends, never closed under it
        if self._filler_db is not self._db:
            self._filler_db.close()
        if self.log_file is not None:
            self.log_file.close()
        self._db.close()

    def _move_messages_into_blocks(self) -> None:
        """Upgrading to version 8: the table of a row per message becomes blocks (``history_blocks.py``),
        its row ids the messages' ids, in one transaction; then the old table goes."""
        with transaction(self._db) as db:
            after = 0
            while chunk := db.execute(f"SELECT target_key, {LEGACY_COLUMNS} FROM messages WHERE id > ? ORDER BY id"
                                      f" LIMIT {MIGRATION_CHUNK_ROWS}", (after,)).fetchall():
                rows, aliases = self._writer.moved_blocks([(row[0], legacy_message(row[1:])) for row in chunk])
                db.executemany(INSERT_BLOCK, rows)
                db.executemany(INSERT_ALIAS, aliases)
                after = chunk[-1][1]
            moved = db.execute("SELECT count(*) FROM messages").fetchone()[0]
            db.execute("DROP TABLE messages")
        if moved:
            log.info("the history's %d messages are now kept in blocks", moved)

    def _taken_from_log(self, record: Record) -> Record:
        """A record the log holds from before this start, as ``_apply`` takes it: its ids are taken (and a
        record written before blocks is made into blocks here)."""
        if len(record) == 3:  # (message rows, channel rows, forgotten channels): before blocks
            messages = [legacy_log_message(row) for row in record[0]]
            rows, aliases = self._writer.blocks([(m.key, m) for m in messages])
            return len(messages), rows, aliases, record[1], record[2]
        for row in record[1]:
            self._writer.note(row)
        return record

    # ------------------------------------------------------------------ writing

    def write(self, messages: Iterable[StoredMessage], channels: Iterable[ChannelSnapshot] = (),
              forget_channels: Iterable[str] = ()) -> None:
        """Store a batch: after this returns, it survives the process being killed (it is in the log, and
        SQLite gets it shortly after, in one transaction).

        Raises ``OSError`` (the log could not be written) or ``sqlite3.Error`` when the batch could not be
        stored, and then nothing of it is: a message whose time SQLite cannot hold raises
        ``sqlite3.DataError`` before anything is written, and ``sqlite3.OperationalError`` says that
        ``history_log.MAX_WAITING_ROWS`` are waiting already, or that another server writes this history.
        A channel snapshot SQLite cannot hold (a limit beyond 64 bits) is left out with a warning instead,
        since the sequencer retries unsaved snapshots and would otherwise fail every batch after it.

        Each message gets its id here (``history_blocks.BlockWriter``: its ``row_id`` is set). The log's
        record is (how many messages, their block rows, msgid aliases, channel rows, forgotten channels).
        """
        messages = list(messages)
        for m in messages:
            if not fits_sqlite(m.time_ms):
                raise sqlite3.DataError(f"message time {m.time_ms} is out of range for the history database")
        channel_rows = []
        for c in channels:
            if not all(value is None or fits_sqlite(value) for value in (c.created, c.topic_set_at, c.limit)):
                log.warning("not saving the settings of %s: a number too large for the history database", c.name)
                continue
            channel_rows.append((casefold(c.name), c.name, c.created, c.topic, c.topic_set_by, c.topic_set_at, c.modes,
                                 c.key, c.limit, *(json.dumps(entries, ensure_ascii=False)
                                                   for entries in (c.bans, c.quiets, c.excepts, c.invexes))))
        forget = [(casefold(name),) for name in forget_channels]
        if not (messages or channel_rows or forget):
            return
        if self.read_only:
            raise sqlite3.OperationalError("another running server writes this history")
        rows, aliases = self._writer.blocks([(self._key(m.target, m.sender), m) for m in messages])
        self._filler.hand_over((len(messages), rows, aliases, channel_rows, forget))

    def _apply(self, records: list[Record]) -> None:
        """Put logged records into SQLite, in one transaction on the filler's connection; raises
        ``sqlite3.Error`` (or ``OSError``) when that failed, and then nothing of them is there."""
        with transaction(self._filler_db) as db:
            db.executemany(INSERT_BLOCK, [row for record in records for row in record[1]])
            db.executemany(INSERT_ALIAS, [alias for record in records for alias in record[2]])
            for _, _, _, channel_rows, forget in records:  # in order: a channel forgotten, then made again
                db.executemany(
                    "INSERT OR REPLACE INTO channels (name_key, name, created, topic, topic_set_by, topic_set_at,"
                    " modes, key, member_limit, bans, quiets, excepts, invexes)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", channel_rows)
                db.executemany("DELETE FROM channels WHERE name_key = ?", forget)

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def _key(target: str, sender: str) -> str:
        """The conversation key of a message to ``target`` from ``sender`` (a prefix); the same few repeat."""
        return target_key(target, sender.partition("!")[0])

    def last_row_id(self) -> int:
        """The id of the newest message written (0 when there is none); stored, or waiting in the log."""
        return self._writer.last_id

    def last_time_ms(self) -> int:
        """The time of the newest message stored (0 when there is none)."""
        return self.db.execute("SELECT max(max_time) FROM message_blocks").fetchone()[0] or 0

    @contextmanager
    def visible_up_to(self, last_row_id: int | None) -> Iterator["HistoryStore"]:
        """Within the block, reads see only messages with row ids up to ``last_row_id`` (None: all of
        them). The sequencer bounds each history read by the last message decided before it."""
        self._last_visible = ALL_ROWS if last_row_id is None else last_row_id
        try:
            yield self
        finally:
            self._last_visible = ALL_ROWS

    @property
    def last_visible(self) -> int:
        """The row id bound of reads now (see ``visible_up_to``); for the reads outside this class."""
        return self._last_visible

    def save_read_marker(self, owner: str, key: str, time_ms: int) -> int:
        """Move a read marker forward to ``time_ms`` (never back: the later one wins, IRCv3 read-marker) and
        return the one stored. One statement, committed on its own; raises ``sqlite3.Error`` as ``write``."""
        if not fits_sqlite(time_ms):
            raise sqlite3.DataError(f"read marker time {time_ms} is out of range for the history database")
        if self.db.in_transaction:  # a failed ROLLBACK earlier must not leave this statement uncommitted
            self.db.execute("ROLLBACK")
        self.db.execute("INSERT INTO read_markers (owner_key, target_key, time_ms) VALUES (?, ?, ?)"
                        " ON CONFLICT (owner_key, target_key) DO UPDATE SET time_ms = max(time_ms, excluded.time_ms)",
                        (owner, key, time_ms))
        stored = self.read_marker(owner, key)
        return time_ms if stored is None else stored

    def purge_before(self, time_ms: int) -> int:
        """Delete messages older than ``time_ms`` (retention); returns how many."""
        with transaction(self.db, "BEGIN IMMEDIATE") as db:
            return blocks.delete_before(db, time_ms)

    def delete_messages(self, key: str, ids: set[int]) -> int:
        """Delete messages of a conversation by id (REDACT), in one transaction; returns how many there were.
        Raises ``sqlite3.Error`` (or ``OSError``) when that failed, and then nothing is deleted."""
        with transaction(self.db, "BEGIN IMMEDIATE") as db:
            return blocks.delete_ids(db, key, ids)

    # ------------------------------------------------------------------ reading

    def load_channels(self) -> list[ChannelSnapshot]:
        rows = self.db.execute("SELECT name, created, topic, topic_set_by, topic_set_at, modes, key, member_limit,"
                               " bans, quiets, excepts, invexes FROM channels").fetchall()
        return [ChannelSnapshot(*row[:8], *(tuple(tuple(entry) for entry in json.loads(entries))
                                            for entries in row[8:]))
                for row in rows]

    def read_marker(self, owner: str, key: str) -> int | None:
        """The time up to which ``owner`` has read the conversation ``key``; None when they never said."""
        row = self.db.execute("SELECT time_ms FROM read_markers WHERE owner_key = ? AND target_key = ?",
                              (owner, key)).fetchone()
        return row[0] if row else None

    def channels_with_messages(self) -> set[str]:
        rows = self.db.execute("SELECT DISTINCT target FROM message_blocks WHERE party_a IS NULL").fetchall()
        return {row[0] for row in rows}

    def find(self, key: str, msgid: str) -> StoredMessage | None:
        """The message of a conversation with this msgid, if it is stored and visible now."""
        found = blocks.find(self.db, key, msgid)
        return found if found is not None and found.row_id <= self._last_visible else None

    def cursor_for_msgid(self, key: str, msgid: str) -> Cursor | None:
        found = self.find(key, msgid)
        return Cursor(found.time_ms, found.row_id) if found else None

    def before(self, key: str, cursor: Cursor | None, limit: int, viewer: Viewer = Viewer(),
               since: Cursor | None = None) -> list[StoredMessage]:
        """The ``limit`` messages just before ``cursor`` (or the latest ones), after ``since``; oldest first."""
        found = blocks.newest_first(self.db, key, cursor or Cursor(2 ** 62, 2 ** 62), since, limit,
                                    self._page_of(key, viewer))
        return found[::-1]

    def after(self, key: str, cursor: Cursor, limit: int, viewer: Viewer = Viewer(),
              until: Cursor | None = None) -> list[StoredMessage]:
        """The ``limit`` messages just after ``cursor`` (and before ``until``), oldest first."""
        return blocks.oldest_first(self.db, key, cursor, until, limit, self._page_of(key, viewer))

    def latest_after(self, key: str, cursor: Cursor | None, limit: int,
                     viewer: Viewer = Viewer()) -> list[StoredMessage]:
        """The newest ``limit`` messages, all after ``cursor`` when one is given; oldest first."""
        return self.before(key, None, limit, viewer, since=cursor)

    def reactions_after(self, key: str, cursor: Cursor, viewer: Viewer | None,
                        up_to_id: int | None = None) -> list[StoredMessage]:
        """The TAGMSGs (reactions) of a conversation after ``cursor``, oldest first: those ``viewer`` may see
        (None: all of them), with ids up to ``up_to_id`` when given (and up to the read bound)."""
        last = min(self._last_visible, ALL_ROWS if up_to_id is None else up_to_id)

        def wanted(m: StoredMessage) -> bool:
            return m.command == "TAGMSG" and m.row_id <= last and (viewer is None or viewer.may_see(key, m))

        if up_to_id is None:
            return blocks.oldest_first(self.db, key, cursor, None, -1, wanted)
        found = [m for m in blocks.by_ids(self.db, key, cursor.row_id, last) if wanted(m)]
        return sorted(found, key=position)

    def targets(self, viewer: Viewer, channels: Iterable[str], start_ms: int, end_ms: int,
                limit: int) -> list[tuple[str, int]]:
        """Conversations of the viewer with messages between two times: (target as the viewer names it,
        time of its latest message), oldest activity first (IRCv3 CHATHISTORY TARGETS).

        Each channel is a walk back from the window's end to its latest message; the viewer's private
        conversations are found by the blocks' two partial indexes of their sides. No LIKE: a nick such as
        ``a_`` is a pattern to LIKE, and matched other people's conversations."""
        low, high = min(start_ms, end_ms), max(start_ms, end_ms)
        window_end, window_start = Cursor(high, -1), Cursor(low, ALL_ROWS)
        visible = self._visible
        rows = []
        for channel in channels:
            latest = blocks.newest_first(self.db, casefold(channel), window_end, window_start, 1, visible)
            if latest:
                rows.append((latest[0].target, latest[0].time_ms))
        me = casefold(viewer.nick)
        private: dict[str, int] = {}
        for key, m in blocks.in_window(self.db, me, low, high):
            if low < m.time_ms < high and visible(m) and viewer.may_see(key, m):
                private[key] = max(private.get(key, m.time_ms), m.time_ms)
        for key, latest in private.items():
            first, second = key[3:].split(":", 1)
            rows.append((self._display_nick(key, second if first == me else first), latest))
        rows.sort(key=lambda row: row[1])
        return rows[:limit]

    def export(self, channel: str, since_ms: int = 0) -> list[StoredMessage]:
        """Every message of a channel since a time, oldest first: the teacher's transcript."""
        key = casefold(channel)
        return blocks.oldest_first(self.db, key, Cursor(since_ms, -1), None, -1,
                                   self._page_of(key, Viewer(privileged=True)))

    def _display_nick(self, key: str, folded_nick: str) -> str:
        """How a nick in a private conversation was last written (its case), for TARGETS: as the sender
        wrote their own nick, else as the other side addressed them."""
        newest = Cursor(ALL_ROWS, ALL_ROWS)
        sent = blocks.newest_first(self.db, key, newest, None, 1,
                                   lambda m: self._visible(m) and casefold(m.sender_nick) == folded_nick)
        if sent:
            return sent[0].sender_nick
        received = blocks.newest_first(self.db, key, newest, None, 1,
                                       lambda m: self._visible(m) and casefold(m.target) == folded_nick)
        return received[0].target if received else folded_nick

    def _visible(self, m: StoredMessage) -> bool:
        return m.row_id <= self._last_visible

    def _page_of(self, key: str, viewer: Viewer) -> Keep:
        """Which messages a page of history shows ``viewer``: the messages (reactions, TAGMSGs, are gathered
        apart: ``reactions.py``) it may see, up to the read bound."""
        last = self._last_visible
        if key.startswith("dm:") or not viewer.privileged:
            return lambda m: m.row_id <= last and m.command != "TAGMSG" and viewer.may_see(key, m)
        return lambda m: m.row_id <= last and m.command != "TAGMSG"
