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

Messages are ordered by (time, id): the server's clock in milliseconds (never decreasing, see
``ChatServer.message_tags``), then the row id for messages in the same millisecond. Row ids grow in the
order the sequencer stored the messages, which is the order the server decided them; ``visible_up_to()``
bounds every read by one, so that a read queued between two messages of one batch sees the first and not
the second.

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
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Iterator, NamedTuple

from common.protocol.casemap import casefold, is_channel_name
from common.protocol.message import action_text
from common.server.attendance import ATTENDANCE_SCHEMA
from common.server.history_log import Filler, HistoryLog, LogInUse, Record
from common.server.logs import run_reporting_end

log = logging.getLogger("classchat.server")
SCHEMA_VERSION = 7
# The writer copies SQLite's write-ahead log (the -wal file) into the database itself only past this many
# pages (a backstop): normally the Checkpointer does it every second from its own connection.
WAL_AUTOCHECKPOINT_PAGES = 16384
# How long a statement waits for a lock held by another connection to the file before it fails.
BUSY_TIMEOUT_MS = 200
# How long a read waits for the filler to catch up before it reads what SQLite has: the longest a locked
# database can hold up a batch with a history read (a replay on JOIN, CHATHISTORY) in the sequencer.
READ_WAIT_SECONDS = BUSY_TIMEOUT_MS / 1000
CLOSE_WAIT_SECONDS = 5.0  # at the end, for what is still waiting; what is left is stored at the next start
SQLITE_INTEGER_MIN, SQLITE_INTEGER_MAX = -2 ** 63, 2 ** 63 - 1  # beyond, binding an int raises OverflowError
ALL_ROWS = SQLITE_INTEGER_MAX  # the row id bound of a read that sees every stored message
# IRCv3 draft/read-marker: how far one person has read one conversation (see ``marker_owner``, ``target_key``).
READ_MARKERS_TABLE = """CREATE TABLE IF NOT EXISTS read_markers (
    owner_key TEXT NOT NULL,
    target_key TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (owner_key, target_key)
)"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    msgid TEXT NOT NULL UNIQUE,
    time_ms INTEGER NOT NULL,
    target_key TEXT NOT NULL,
    target TEXT NOT NULL,
    sender TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    sender_host TEXT NOT NULL,
    recipient_host TEXT NOT NULL DEFAULT '',
    command TEXT NOT NULL,
    text TEXT NOT NULL,
    client_tags TEXT NOT NULL DEFAULT '{}',
    ops_only INTEGER NOT NULL DEFAULT 0,
    recipient_key TEXT NOT NULL DEFAULT '',
    sender_account TEXT,
    recipient_account TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_target ON messages (target_key, time_ms, id);
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (time_ms);
-- Private messages only (recipient_key is empty for channels, so fan-out writes never touch these):
-- the conversations of one person, as sender and as recipient, for CHATHISTORY TARGETS.
CREATE INDEX IF NOT EXISTS private_by_sender ON messages (sender_key, time_ms) WHERE recipient_key <> '';
CREATE INDEX IF NOT EXISTS private_by_recipient ON messages (recipient_key, time_ms) WHERE recipient_key <> '';
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
# mute (+q) list. 3: the recipient of a private message as a key of its own (filled in by _fill_recipient_keys),
# so that TARGETS finds someone's conversations by index instead of a LIKE pattern over every key. 4: the
# accounts of the two sides (casefolded; NULL for a guest), so that private history follows an account.
# 5: the ban exception (+e) and invite exception (+I) lists of a channel. 6: read markers (MARKREAD).
# 7: attendance in class channels (see attendance.py).
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


# A private message is visible to its sender and to its recipient (the other nick of the key): someone logged
# in is that side by their account, from any computer; a guest by nick and the host it sent from or was
# delivered to. An account of NULL (a guest) equals nothing. Parameters: Viewer.private_side_params().
PRIVATE_SIDE = ("((sender_key = ? AND (sender_host = ? OR sender_account = ?))"
                " OR (sender_key <> ? AND (recipient_host = ? OR recipient_account = ?)))")
# Under +U a member's own questions come back to them too, and to nobody else but the operators.
OWN_MESSAGE = "(sender_key = ? AND (sender_host = ? OR sender_account = ?))"


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


@dataclass(frozen=True)
class Cursor:
    """A position in a conversation: messages sort by (time_ms, row_id)."""

    time_ms: int
    row_id: int


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


MESSAGE_COLUMNS = ("msgid, time_ms, target_key, target, sender, sender_key, sender_host, recipient_host, command,"
                   " text, client_tags, ops_only, recipient_key, sender_account, recipient_account")
# Most rows are a guest's message to a channel, without client tags and not a question under +U: the other
# columns keep their defaults ('', '{}', 0, '', NULL, NULL), so such a row binds these alone. Binding is
# a third of SQLite's work for a row (15 columns: 4.8 µs a row, these 9: 3.8, one statement of 50 rows).
PLAIN_COLUMNS = "msgid, time_ms, target_key, target, sender, sender_key, sender_host, command, text"
COLUMNS_BY_WIDTH = {len(columns.split(",")): columns for columns in (MESSAGE_COLUMNS, PLAIN_COLUMNS)}
MAX_ROWS_PER_INSERT = 64  # 960 parameters, well under SQLite's 32,766


@functools.lru_cache(maxsize=None)
def insert_messages_sql(rows: int, width: int) -> str:
    """INSERT of ``rows`` rows of ``width`` values each: every column, or ``PLAIN_COLUMNS``."""
    placeholders = "(" + ", ".join("?" * width) + ")"
    return f"INSERT OR IGNORE INTO messages ({COLUMNS_BY_WIDTH[width]}) VALUES " + ", ".join([placeholders] * rows)


def message_inserts(rows: list[tuple]) -> Iterator[tuple[str, list]]:
    """INSERT statements, with their parameters, that store ``rows`` in order: each holds many rows of one
    width (``HistoryStore._row``).

    Python's sqlite3 hands the GIL to another thread around every statement it runs (and executemany runs
    one per row), and taking it back costs the filler a wait among hundreds of reader threads; one
    statement for many rows costs one. The sizes are 64 and then powers of two, so that a handful of
    statements is ever prepared (the module keeps them in its cache).
    """
    start = 0
    while start < len(rows):
        width = len(rows[start])
        end, limit = start + 1, min(len(rows), start + MAX_ROWS_PER_INSERT)
        while end < limit and len(rows[end]) == width:
            end += 1
        count = 1 << ((end - start).bit_length() - 1)
        chunk = rows[start:start + count]
        yield insert_messages_sql(count, width), [value for row in chunk for value in row]
        start += count


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
            existed = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages'").fetchone()
            if existed:
                for from_version in range(version, SCHEMA_VERSION):
                    for statement in UPGRADES.get(from_version, ()):
                        self._db.execute(statement)
            self._db.executescript(SCHEMA)
            if existed and version < 3:
                self._fill_recipient_keys()
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
        self._filler = Filler(self.log_file, self._apply)
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

    def _fill_recipient_keys(self) -> None:
        """Upgrading to version 3: a private message's recipient is its target, casefolded (in Python,
        since SQLite's lower() knows only ASCII)."""
        rows = self._db.execute("SELECT id, target FROM messages WHERE substr(target_key, 1, 3) = 'dm:'").fetchall()
        self._db.executemany("UPDATE messages SET recipient_key = ? WHERE id = ?",
                             [(casefold(target), row_id) for row_id, target in rows])

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
        """
        message_rows = [self._row(m) for m in messages]
        channel_rows = []
        for c in channels:
            if not all(value is None or fits_sqlite(value) for value in (c.created, c.topic_set_at, c.limit)):
                log.warning("not saving the settings of %s: a number too large for the history database", c.name)
                continue
            channel_rows.append((casefold(c.name), c.name, c.created, c.topic, c.topic_set_by, c.topic_set_at, c.modes,
                                 c.key, c.limit, *(json.dumps(entries, ensure_ascii=False)
                                                   for entries in (c.bans, c.quiets, c.excepts, c.invexes))))
        forget = [(casefold(name),) for name in forget_channels]
        if not (message_rows or channel_rows or forget):
            return
        if self.read_only:
            raise sqlite3.OperationalError("another running server writes this history")
        self._filler.hand_over((message_rows, channel_rows, forget))

    def _apply(self, records: list[Record]) -> None:
        """Put logged records into SQLite, in one transaction on the filler's connection; raises
        ``sqlite3.Error`` (or ``OSError``) when that failed, and then nothing of them is there."""
        db = self._filler_db
        if db.in_transaction:  # a failed ROLLBACK earlier must not make every later BEGIN fail
            db.execute("ROLLBACK")
        db.execute("BEGIN")
        try:
            for insert in message_inserts([row for message_rows, _, _ in records for row in message_rows]):
                db.execute(*insert)
            for _, channel_rows, forget in records:  # in order: a channel forgotten, then made again
                db.executemany(
                    "INSERT OR REPLACE INTO channels (name_key, name, created, topic, topic_set_by, topic_set_at,"
                    " modes, key, member_limit, bans, quiets, excepts, invexes)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", channel_rows)
                db.executemany("DELETE FROM channels WHERE name_key = ?", forget)
            db.execute("COMMIT")  # may fail too (disk full, locked): the transaction is then still open
        except BaseException:
            if db.in_transaction:  # SQLite rolls back by itself on some errors (SQLITE_FULL)
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the next attempt rolls back first; the error that matters is the one raised
            raise

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def _keys(target: str, sender: str) -> tuple[str, str, str, str]:
        """(target key, sender key, sender host, recipient key) for a target and a sender prefix; the same
        few repeat. The recipient key is empty for a channel."""
        nick, _, rest = sender.partition("!")
        recipient_key = "" if is_channel_name(target) else casefold(target)
        return target_key(target, nick), casefold(nick), rest.rpartition("@")[2], recipient_key

    def _row(self, m: StoredMessage) -> tuple:
        """The values of ``m``'s row: for every column, or for ``PLAIN_COLUMNS`` when the rest are defaults."""
        if not fits_sqlite(m.time_ms):
            raise sqlite3.DataError(f"message time {m.time_ms} is out of range for the history database")
        key, sender_key, sender_host, recipient_key = self._keys(m.target, m.sender)
        if not (m.recipient_host or m.client_tags or m.ops_only or recipient_key or m.sender_account
                or m.recipient_account):  # PLAIN_COLUMNS: the others keep their defaults
            return m.msgid, m.time_ms, key, m.target, m.sender, sender_key, sender_host, m.command, m.text
        tags = json.dumps(m.client_tags, ensure_ascii=False) if m.client_tags else "{}"
        return (m.msgid, m.time_ms, key, m.target, m.sender, sender_key, sender_host, m.recipient_host, m.command,
                m.text, tags, int(m.ops_only), recipient_key, casefold(m.sender_account) if m.sender_account else None,
                casefold(m.recipient_account) if m.recipient_account else None)

    def last_row_id(self) -> int:
        """The row id of the newest message stored (0 when there is none)."""
        return self.db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0

    def last_time_ms(self) -> int:
        """The time of the newest message stored (0 when there is none)."""
        return self.db.execute("SELECT max(time_ms) FROM messages").fetchone()[0] or 0

    def row_id(self, msgid: str) -> int | None:
        row = self.db.execute("SELECT id FROM messages WHERE msgid = ?", (msgid,)).fetchone()
        return row[0] if row else None

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
        with self.db:
            return self.db.execute("DELETE FROM messages WHERE time_ms < ?", (time_ms,)).rowcount

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
        rows = self.db.execute("SELECT DISTINCT target FROM messages WHERE target_key NOT LIKE 'dm:%'").fetchall()
        return {row[0] for row in rows}

    def cursor_for_msgid(self, key: str, msgid: str) -> Cursor | None:
        row = self.db.execute("SELECT time_ms, id FROM messages WHERE msgid = ? AND target_key = ? AND id <= ?",
                              (msgid, key, self._last_visible)).fetchone()
        return Cursor(row[0], row[1]) if row else None

    def before(self, key: str, cursor: Cursor | None, limit: int, viewer: Viewer = Viewer(),
               since: Cursor | None = None) -> list[StoredMessage]:
        """The ``limit`` messages just before ``cursor`` (or the latest ones), after ``since``; oldest first."""
        bound = cursor or Cursor(2 ** 62, 2 ** 62)
        condition = "(time_ms < ? OR (time_ms = ? AND id < ?))"
        params: tuple = (bound.time_ms, bound.time_ms, bound.row_id)
        if since is not None:
            condition += " AND (time_ms > ? OR (time_ms = ? AND id > ?))"
            params += (since.time_ms, since.time_ms, since.row_id)
        rows = self._select(key, viewer, condition, params, "DESC", limit)
        return rows[::-1]

    def after(self, key: str, cursor: Cursor, limit: int, viewer: Viewer = Viewer(),
              until: Cursor | None = None) -> list[StoredMessage]:
        """The ``limit`` messages just after ``cursor`` (and before ``until``), oldest first."""
        condition = "(time_ms > ? OR (time_ms = ? AND id > ?))"
        params: tuple = (cursor.time_ms, cursor.time_ms, cursor.row_id)
        if until is not None:
            condition += " AND (time_ms < ? OR (time_ms = ? AND id < ?))"
            params += (until.time_ms, until.time_ms, until.row_id)
        return self._select(key, viewer, condition, params, "ASC", limit)

    def latest_after(self, key: str, cursor: Cursor | None, limit: int,
                     viewer: Viewer = Viewer()) -> list[StoredMessage]:
        """The newest ``limit`` messages, all after ``cursor`` when one is given; oldest first."""
        if cursor is None:
            return self.before(key, None, limit, viewer)
        condition = "(time_ms > ? OR (time_ms = ? AND id > ?))"
        rows = self._select(key, viewer, condition, (cursor.time_ms, cursor.time_ms, cursor.row_id),
                            "DESC", limit)
        return rows[::-1]

    def targets(self, viewer: Viewer, channels: Iterable[str], start_ms: int, end_ms: int,
                limit: int) -> list[tuple[str, int]]:
        """Conversations of the viewer with messages between two times: (target as the viewer names it,
        time of its latest message), oldest activity first (IRCv3 CHATHISTORY TARGETS).

        Every lookup is an index seek: one per channel (the latest message in the window), and the
        viewer's private messages by the two partial indexes, as sender and as recipient. No LIKE: a nick
        such as ``a_`` is a pattern to LIKE, and matched other people's conversations."""
        low, high = min(start_ms, end_ms), max(start_ms, end_ms)
        rows = []
        for channel in channels:
            latest = self.db.execute(
                "SELECT target, time_ms FROM messages WHERE target_key = ? AND time_ms > ? AND time_ms < ? AND id <= ?"
                " ORDER BY time_ms DESC LIMIT 1", (casefold(channel), low, high, self._last_visible)).fetchone()
            if latest is not None:
                rows.append(latest)
        (me, host, account), last = viewer.side(), self._last_visible
        private = self.db.execute(
            "SELECT target_key, MAX(time_ms) FROM ("
            " SELECT target_key, time_ms FROM messages"
            "  WHERE recipient_key <> '' AND sender_key = ? AND (sender_host = ? OR sender_account = ?)"
            "  AND time_ms > ? AND time_ms < ? AND id <= ?"
            " UNION ALL"
            " SELECT target_key, time_ms FROM messages"
            "  WHERE recipient_key <> '' AND recipient_key = ? AND (recipient_host = ? OR recipient_account = ?)"
            "  AND time_ms > ? AND time_ms < ? AND id <= ?"
            ") GROUP BY target_key", (me, host, account, low, high, last, me, host, account, low, high, last)).fetchall()
        for key, latest in private:
            first, second = key[3:].split(":", 1)
            other = second if first == me else first
            rows.append((self._display_nick(key, other), latest))
        rows.sort(key=lambda row: row[1])
        return rows[:limit]

    def export(self, channel: str, since_ms: int = 0) -> list[StoredMessage]:
        """Every message of a channel since a time, oldest first: the teacher's transcript."""
        return self._select(casefold(channel), Viewer(privileged=True), "time_ms >= ?", (since_ms,), "ASC", -1)

    def _display_nick(self, key: str, folded_nick: str) -> str:
        """How a nick in a private conversation was last written (its case), for TARGETS: as the sender
        wrote their own nick, else as the other side addressed them."""
        row = self.db.execute("SELECT sender FROM messages WHERE target_key = ? AND sender_key = ? AND id <= ?"
                              " ORDER BY time_ms DESC LIMIT 1", (key, folded_nick, self._last_visible)).fetchone()
        if row:
            return row[0].split("!", 1)[0]
        row = self.db.execute("SELECT target FROM messages WHERE target_key = ? AND recipient_key = ? AND id <= ?"
                              " ORDER BY time_ms DESC LIMIT 1", (key, folded_nick, self._last_visible)).fetchone()
        return row[0] if row else folded_nick

    def _select(self, key: str, viewer: Viewer, condition: str, params: tuple, order: str,
                limit: int) -> list[StoredMessage]:
        """Messages (reactions, TAGMSG rows, are gathered apart: ``reactions.py``) of one conversation."""
        side = viewer.side()
        if key.startswith("dm:"):
            privacy = f" AND {PRIVATE_SIDE}"
            params = (*params, *side, *side)
        elif viewer.privileged:
            privacy = ""
        else:
            privacy = f" AND (ops_only = 0 OR {OWN_MESSAGE})"
            params = (*params, *side)
        rows = self.db.execute(
            f"SELECT id, msgid, time_ms, target, sender, command, text, recipient_host, client_tags, ops_only"
            f" FROM messages WHERE target_key = ? AND {condition}{privacy} AND command <> 'TAGMSG' AND id <= ?"
            f" ORDER BY time_ms {order}, id {order} LIMIT ?", (key, *params, self._last_visible, limit)).fetchall()
        return [StoredMessage(msgid, time_ms, target, sender, command, text, recipient_host, json.loads(tags),
                              bool(ops_only), row_id)
                for row_id, msgid, time_ms, target, sender, command, text, recipient_host, tags, ops_only in rows]
