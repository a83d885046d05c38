"""The history's write-ahead log: a batch is stored once it is in this file, and SQLite catches up behind.

Why: committing every batch to SQLite before delivering it put SQLite on the delivery path. A lone message
(a teacher's line to a class of 500, one every few seconds) was a transaction of its own, 14 system calls and
about 190 µs of the sequencer's time before the first student got it. Now the sequencer appends a batch to
this file in one ``write()`` and delivers; the ``Filler`` thread puts what was appended into SQLite, in
transactions as large as what has gathered, on a connection of its own. Measured (README, "Where the time
went"): the paced case costs less CPU per delivery and has a lower latency; fan-out on two cores is level,
since SQLite's work per row is the same, only on another thread.

The durability contract is unchanged: a message is delivered only once it is stored, where stored means
appended here. ``write()`` returning means the bytes are in the kernel's page cache, which survives the
process being killed (kill -9) exactly as a commit in SQLite's WAL mode with ``synchronous=NORMAL`` does;
only a power cut can take the last of either. At the next start ``HistoryStore`` applies what the file
holds before anything else (applying a record twice changes nothing: a block's conversation and last id
are unique, channel settings are replaced), then empties it. The file is emptied whenever the filler has
caught up.

Records: a header (payload length, CRC-32 of the payload) and the payload, ``marshal`` of a tuple of rows
(strings, integers, bytes and None: ``HistoryStore.write`` says which). marshal is fast (0.17 µs a row
against json's 0.9) and this file is written and read by the server alone, with the database's
permissions; a record cut short by a crash in the middle of a write, or damaged, ends the reading there,
with a warning.

One process writes a history at a time: the server holds an exclusive ``flock`` on this file while it
runs. Another program that opens the database meanwhile (``--export``) reads what SQLite has, which is
at most about ``GATHER_SECONDS`` behind.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import marshal
import os
import sqlite3
import struct
import threading
import zlib
from typing import Callable

from common.server.logs import run_reporting_end

log = logging.getLogger("classchat.server")
HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
# The filler gathers what is appended for this long (from the first record it sees), or until this many
# message rows wait, or until someone reads the history: one transaction then takes them all. A lone
# message is a transaction of its own otherwise (the paced scenario, in turns with the code before the log:
# 4.35 µs of server CPU per delivery before, 4.75 with a transaction per message behind the log, medians of
# five pairs; 4.25 before and 4.08 with this gathering, medians of four).
GATHER_SECONDS = 1.0
GATHER_ROWS = 1024
# The log is emptied whenever the filler has caught up. Under a load that never lets it (a stress test),
# or a writer faster than SQLite, the writer waits for the filler to catch up (at most CATCH_UP_SECONDS)
# once this many rows wait or the log is this large: the log stays bounded, and so does what a restart
# after a crash has to store again. Not while the database fails: then the writer refuses at
# MAX_WAITING_ROWS instead of waiting every time.
CATCH_UP_ROWS = 8 * GATHER_ROWS
LOG_LIMIT_BYTES = 8 * 1024 * 1024
CATCH_UP_SECONDS = 0.2
# Message rows appended and not yet in SQLite, at most: beyond, ``hand_over`` refuses (the database has
# been locked or full for a while; at 50 messages a second, this is nearly seven minutes of them).
MAX_WAITING_ROWS = 20_000
# After a failed attempt, the filler waits this long before the next, doubling up to the longest.
RETRY_FIRST_SECONDS = 0.05
RETRY_LONGEST_SECONDS = 1.0

# (message count, block rows, msgid aliases, channel rows, forgotten channel keys): see HistoryStore.write
Record = tuple
# Errors that one record brings with it, so that trying again cannot help: that record is left out (and
# logged), the others are stored. Any other error (the database locked, the disk full) is tried again.
RECORD_ERRORS = (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, sqlite3.ProgrammingError,
                 TypeError, ValueError, OverflowError)


def rows_in(records: list[Record]) -> int:
    """How many messages ``records`` hold."""
    return sum(record[0] for record in records)


class LogInUse(OSError):
    """Another process (a running server) holds the log: this one may read the database, not write it."""


class HistoryLog:
    """The log file of one database: ``path`` is the database's path with ``-log`` added."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise LogInUse(errno.EAGAIN, "in use by another running server", path) from None
        self.size = os.fstat(self._fd).st_size

    def records(self) -> list[Record]:
        """Every complete, intact record in the file, in the order written. A torn end is cut off, so that
        what is appended after it can be read again."""
        data = os.pread(self._fd, self.size, 0)
        found, offset = [], 0
        while offset + HEADER.size <= len(data):
            length, crc = HEADER.unpack_from(data, offset)
            payload = data[offset + HEADER.size:offset + HEADER.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            try:
                found.append(marshal.loads(payload))
            except (ValueError, EOFError, TypeError):
                break
            offset += HEADER.size + length
        if offset < len(data):
            log.warning("the history log %s ends in %d bytes that are no complete record (a crash while "
                        "writing?); they are left out", self.path, len(data) - offset)
            os.ftruncate(self._fd, offset)
            self.size = offset
        return found

    @staticmethod
    def encode(record: Record) -> bytes:
        """``record`` as it is appended: header and payload."""
        payload = marshal.dumps(record)
        return HEADER.pack(len(payload), zlib.crc32(payload)) + payload

    def append(self, data: bytes) -> None:
        """Add an encoded record; raises ``OSError`` (disk full, file too large) and then the file is as
        before."""
        try:
            written = os.write(self._fd, data)
        except OSError:
            self._cut_back()
            raise
        if written != len(data):  # the disk filled up in the middle: no half record stays behind
            self._cut_back()
            raise OSError(errno.ENOSPC, "the history log could not be written whole", self.path)
        self.size += written

    def _cut_back(self) -> None:
        try:
            os.ftruncate(self._fd, self.size)
        except OSError:
            pass  # a torn record at the end is left out when the file is read, with a warning

    def clear(self) -> None:
        """Empty the file: everything in it is in SQLite."""
        os.ftruncate(self._fd, 0)
        self.size = 0

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        os.close(self._fd)  # and the lock with it


class Filler(threading.Thread):
    """Puts what was appended to the log into SQLite (``apply`` of the records that have gathered, one
    transaction), then empties the log when nothing more is waiting. It gathers for ``GATHER_SECONDS``
    (or ``GATHER_ROWS``), so SQLite is about a second behind the log at most, and a reader of the
    history makes it store what is waiting at once (``wait_until_stored``).

    ``hand_over`` and ``wait_until_stored`` are called by the one thread that writes the history (the
    sequencer). A failed transaction (the database locked by another program, the disk full) is logged
    once per incident and tried again, first after ``RETRY_FIRST_SECONDS``, then less often; the records
    stay in the log meanwhile, so a crash loses nothing either. A record that SQLite refuses for what it
    holds (``RECORD_ERRORS``: a bug, since ``HistoryStore.write`` checks what it can) must not hold up the
    rest forever: the records are then tried one by one, and that one is left out, with its traceback."""

    def __init__(self, history_log: HistoryLog | None, apply: Callable[[list[Record]], None],
                 taken_from_log: Callable[[Record], Record] = lambda record: record) -> None:
        super().__init__(name="history-filler", daemon=True)
        self._log = history_log
        self._apply = apply
        self._changed = threading.Condition()
        # Waiting first: what the log holds from before (a crash), in the order written, each as
        # ``taken_from_log`` makes it (the store takes its ids, or upgrades a record of an older format).
        found = history_log.records() if history_log is not None else []
        self._waiting: list[Record] = [taken_from_log(record) for record in found]
        self.waiting_rows = rows_in(self._waiting)  # message rows waiting (the writer waits, then refuses)
        self._closing = False
        self._wanted = False  # someone waits for what is waiting: no more gathering
        self._failing = False

    def hand_over(self, record: Record) -> None:
        """Append ``record`` to the log and queue it; raises ``OSError`` if the log cannot take it, or
        ``sqlite3.OperationalError`` when ``MAX_WAITING_ROWS`` wait already, and then it is not queued
        either. The lock is held across the append so that the filler cannot empty the log between the
        append and the queueing (that record would then be lost in a crash)."""
        rows = record[0]
        data = HistoryLog.encode(record) if self._log is not None else b""
        with self._changed:
            if not self._failing and (self.waiting_rows >= CATCH_UP_ROWS
                                      or (self._log is not None and self._log.size > LOG_LIMIT_BYTES)):
                self._wanted = True
                self._changed.notify_all()
                self._changed.wait_for(lambda: not self._waiting, CATCH_UP_SECONDS)
            if self.waiting_rows + rows > MAX_WAITING_ROWS:
                raise sqlite3.OperationalError(f"{self.waiting_rows} messages are still waiting for the history "
                                               f"database (locked or full?)")
            if self._log is not None:
                self._log.append(data)
            self._waiting.append(record)
            self.waiting_rows += rows
            if len(self._waiting) == 1 or self.waiting_rows >= GATHER_ROWS:
                self._changed.notify_all()

    def wait_until_stored(self, timeout: float) -> bool:
        """Wait until everything handed over is in SQLite, at most ``timeout`` seconds; False if not. Every
        read of the history asks, so the usual answer (nothing waits) takes no lock."""
        if not self._waiting:
            return True
        with self._changed:
            if self._waiting:
                self._wanted = True
                self._changed.notify_all()
            return self._changed.wait_for(lambda: not self._waiting, timeout)

    def close(self, timeout: float) -> bool:
        """Store what is waiting (at most ``timeout`` seconds), then end; False if some was left in the
        log, to be stored at the next start."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self.is_alive():
            self.join(timeout)
        return not self._waiting

    def run(self) -> None:
        run_reporting_end(log, "history filler", self._fill, lambda: self._closing)

    def _fill(self) -> None:
        delay = RETRY_FIRST_SECONDS
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._waiting or self._closing)
                if not self._waiting or (self._closing and self._failing):
                    return  # at a stop, a database that fails keeps the rest in the log
                self._changed.wait_for(lambda: self.waiting_rows >= GATHER_ROWS or self._wanted or self._closing
                                       or self._failing, GATHER_SECONDS)  # failing: the retry delay instead
                records = list(self._waiting)
            done = self._store(records)
            if done:
                self._stored(done)
                delay = RETRY_FIRST_SECONDS
            else:
                with self._changed:  # before the next attempt; a stop ends the wait
                    self._changed.wait_for(lambda: self._closing, delay)
                delay = min(delay * 2, RETRY_LONGEST_SECONDS)

    def _store(self, records: list[Record]) -> list[Record]:
        """Apply ``records`` in one transaction; returns those done: all of them, none after a failure, or
        after an error of one record those done one by one."""
        try:
            self._apply(records)
        except RECORD_ERRORS:
            return self._apply_one_by_one(records)
        except Exception as error:
            self._failed(error, records)
            return []
        return records

    def _apply_one_by_one(self, records: list[Record]) -> list[Record]:
        """Store each record in a transaction of its own, leaving out those SQLite refuses; returns the
        ones done (stored or left out), up to the first that failed otherwise."""
        done = []
        for record in records:
            try:
                self._apply([record])
            except RECORD_ERRORS:
                log.exception("a batch of %d messages could not be stored and is left out of the history",
                              record[0])
            except Exception as error:
                self._failed(error, [record])
                break
            done.append(record)
        return done

    def _stored(self, records: list[Record]) -> None:
        if self._failing:
            log.warning("the history database works again; the messages waiting in its log are stored")
            self._failing = False
        with self._changed:
            del self._waiting[:len(records)]
            self.waiting_rows -= rows_in(records)
            self._wanted = self._wanted and bool(self._waiting)
            if not self._waiting and self._log is not None:
                try:
                    self._log.clear()
                except OSError as error:  # the records are stored; the next clear tries again
                    log.warning("could not empty the history log: %s", error)
            self._changed.notify_all()

    def _failed(self, error: Exception, records: list[Record]) -> None:
        if not self._failing:
            rows = rows_in(records)
            log.error("could not store %d messages in the history database: %s (they are kept in its log "
                      "and stored once it works)", rows, error,
                      exc_info=not isinstance(error, (sqlite3.Error, OSError)))
        self._failing = True
