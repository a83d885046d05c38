"""The sequencer: the one thread that stores messages and then delivers them, in order.

Every command's ``Outbox`` is handed over while the state lock is still held, so the queue holds them in
the order the server decided them. For each batch the sequencer (1) stores the batch's messages and
channel settings (when history is on: one append to the history's log, which SQLite takes in behind,
see ``history_log.py``), (2) runs the history reads queued in the batch (replay on join, CHATHISTORY),
each bounded by the last message decided before it, so that it sees exactly those (a message decided
after a JOIN in the same batch reaches the joiner live, and only live), and (3) gives the lines to the
connections, then runs the actions queued for after delivery (closing a connection once its last lines
are out).

Durability is a contract: a message is delivered only once it is stored, so after ``kill -9`` and a
restart everything anyone saw is in the history. When a batch cannot be stored (the disk full, too many
messages waiting for a database locked by another program, any ``sqlite3.Error`` or ``OSError``), its
messages reach nobody: each sender gets ``FAIL <command> MESSAGE_NOT_SENT <target>`` instead (see
``outbox.py``), every other line of the batch is delivered, and channel settings that were not saved are
tried again with the next batch. The log says so once per incident (an ERROR, no traceback), and says
when storing works again; nothing else is needed to recover.

The thread survives anything one batch brings: any other exception while storing (the batch is then
refused as above), in one history read, in the delivery to one connection or in one after-delivery
action is logged with its traceback and affects only that part; the next batch is processed as usual.
Should the thread end anyway, the log says so (``logs.run_reporting_end``). (Once, an OverflowError from a channel limit too
large for SQLite ended this thread, and from then on nobody received anything.)

It delivers with history off too, because batching is what makes fan-out fast: the lines of many
messages bound for one connection go out in one send, and one thread sending beats every reader thread
contending to send (measured with bench/chat_bench.py: about 4x the deliveries per second).

The queue is bounded. Thousands of reader threads and one sequencer take turns at Python's GIL, and when
thousands have work at once (a class of 5000 connecting) the sequencer gets one turn in thousands: the
readers queued every welcome before it sent the first, and the memory of that backlog stayed with the
process (bench/idle_scale.py). So a reader whose client sent something waits, before reading it, while
``BACKLOG_LIMIT`` outboxes are queued (``wait_for_room``); it waits on a condition, holding no lock and not
asking for the GIL, and the sequencer wakes as many as it made room for.
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from contextlib import suppress
from typing import Callable

from common.protocol.casemap import casefold
from common.server.connection import Connection, deliver_each, deliver_to_each
from common.server.history import ChannelSnapshot, HistoryStore
from common.server.logs import run_reporting_end
from common.server.outbox import Outbox, Relay, gather_by_connection

log = logging.getLogger("classchat.server")
MAX_BATCH = 512
# Outboxes queued before a reader thread waits to read more (one batch's worth: while the sequencer
# delivers one batch, the readers may decide the next).
BACKLOG_LIMIT = MAX_BATCH
# A connection's lines of one batch are handed over in slices of about this size, each flushed before
# the next: the send queue limit must measure what a client fails to read, never how many messages one
# batch happened to hold.
FLUSH_SLICE_BYTES = 16 * 1024
PURGE_EVERY_SECONDS = 3600.0


def deliver(conn: Connection, lines: list[bytes]) -> None:
    """Hand a connection its pieces of one batch (more than one: see ``Sequencer._deliver_gathered``) and
    send what the kernel takes, joined, or in slices when many."""
    if sum(map(len, lines)) <= FLUSH_SLICE_BYTES:
        conn.deliver(b"".join(lines))
    else:
        piece: list[bytes] = []
        size = 0
        for line in lines:
            piece.append(line)
            size += len(line)
            if size >= FLUSH_SLICE_BYTES:
                conn.deliver(b"".join(piece))
                piece, size = [], 0
        if piece:
            conn.deliver(b"".join(piece))


def delivery_failed(conn: Connection) -> None:
    """Called in an ``except`` block: log the traceback, close that connection, go on with the others."""
    log.exception("could not deliver to %s; closing that connection", conn.host)
    with suppress(Exception):
        conn.close("Server error")


class Sequencer(threading.Thread):
    """The delivery thread. ``monotonic`` and ``wall_clock`` are injectable so that tests can make time
    pass; the first retention purge runs before the first batch, whatever the monotonic clock reads (it
    counts from boot, so a constant "last purge" would skip the first purge on a machine just switched on).
    """

    def __init__(self, store: HistoryStore | None, retention_days: float | None, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time,
                 backlog_limit: int = BACKLOG_LIMIT) -> None:
        super().__init__(name="sequencer")
        self.store = store
        self.retention_days = retention_days
        self._queue: "queue.SimpleQueue[Outbox | None]" = queue.SimpleQueue()
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._last_purge: float | None = None  # None: never purged, so the next check purges
        # Channel settings not yet saved, by casefolded name (None: delete them); kept until a write works.
        self._unsaved_channels: dict[str, ChannelSnapshot | None] = {}
        self._refused_since_failing: int | None = None  # messages refused in the current storage incident
        self._stopped = False
        self.backlog_limit = backlog_limit
        self._room = threading.Condition()  # reader threads waiting for the queue to shorten
        self._waiting_for_room = 0

    def submit(self, out: Outbox) -> None:
        """Queue a command's outbox; call with the state lock held, so the order is the server's."""
        self._queue.put(out)

    @property
    def readers_waiting(self) -> int:
        """How many reader threads wait in ``wait_for_room`` now."""
        return self._waiting_for_room

    def wait_for_room(self) -> None:
        """Called by a reader thread before it reads what its client sent, holding no lock: return at once
        unless ``backlog_limit`` outboxes are queued, else when the sequencer has taken enough of them
        (or has ended). Only reader threads call this, never the sequencer or anything it waits for."""
        if self._queue.qsize() < self.backlog_limit:
            return
        with self._room:
            self._waiting_for_room += 1
            try:
                while self._queue.qsize() >= self.backlog_limit and not self._stopped:
                    self._room.wait()
            finally:
                self._waiting_for_room -= 1

    def _make_room(self) -> None:
        """After taking a batch off the queue: wake as many waiting readers as there is room for. The
        count is read without the lock: a reader that starts waiting just after found the queue full
        once it held the lock, so a later batch, which must come, wakes it."""
        if not self._waiting_for_room:
            return
        room = self.backlog_limit - self._queue.qsize()
        if room > 0:
            with self._room:
                self._room.notify(room)

    def _release_waiting_readers(self) -> None:
        with self._room:
            self._stopped = True
            self._room.notify_all()

    def stop(self, timeout: float) -> None:
        """Deliver what is queued, then end."""
        self._queue.put(None)
        self.join(timeout)

    def run(self) -> None:
        try:
            run_reporting_end(log, "sequencer", self._serve, lambda: self._stopped)
        finally:  # stopped or failed: nobody would ever make room again
            self._release_waiting_readers()

    def _serve(self) -> None:
        self._purge_if_due()
        while not self._stopped:
            batch: list[Outbox] = []
            item = self._queue.get()
            while True:
                if item is None:
                    self._stopped = True
                else:
                    batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._make_room()
            if batch:
                try:
                    self._process(batch)
                except Exception:  # a bug outside the guarded steps: this batch is lost, not the thread
                    log.exception("could not process a batch of %d commands", len(batch))
            self._purge_if_due()

    def _process(self, batch: list[Outbox]) -> None:
        reads = self.store is not None and any(out.history_reads for out in batch)
        horizon = self.store.last_row_id() if reads else None  # the last message stored before the outbox at hand
        stored = self._store(batch) if self.store is not None else True
        relays: list[Relay] = []
        for out in batch:
            if stored and out.stored:
                horizon = out.stored[-1].row_id  # given by the store as it wrote them
            if out.history_reads:
                self._answer_reads(out, horizon)
            relays += out.take_relays(stored)
        if len(relays) == 1 and len(relays[0].data) <= FLUSH_SLICE_BYTES:
            self._deliver_one(relays[0])
        else:
            self._deliver_gathered(gather_by_connection(relays))
        for out in batch:
            for action in out.take_after_delivery():
                try:
                    action()
                except Exception:
                    log.exception("an action after delivery failed")

    @staticmethod
    def _deliver_one(relay: Relay) -> None:
        """One line for some connections (a teacher's message to a class, the paced case): the same
        bytes to each, in the loop that does the least per recipient."""
        deliver_to_each(relay.conns, relay.data, relay.skip, delivery_failed)

    @staticmethod
    def _deliver_gathered(gathered: dict[Connection, list[bytes]]) -> None:
        """Each connection's lines of the batch. A connection with one piece (nearly every one: a run of
        one channel's messages is one piece) is served by one loop over them all; the others, in slices."""
        whole = [(conn, lines[0]) for conn, lines in gathered.items() if len(lines) == 1]
        deliver_each(whole, failed=delivery_failed)
        if len(whole) < len(gathered):
            for conn, lines in gathered.items():
                if len(lines) > 1:
                    Sequencer._deliver_guarded(conn, lines)

    @staticmethod
    def _deliver_guarded(conn: Connection, lines: list[bytes]) -> None:
        try:
            deliver(conn, lines)
        except Exception:
            delivery_failed(conn)

    def _answer_reads(self, out: Outbox, horizon: int | None) -> None:
        """Run an outbox's history reads, each seeing the messages up to the id ``horizon``; a read adds
        its answer to ``out`` only if it completes."""
        for read in out.history_reads:
            answer = Outbox(out.server_name)
            try:
                with self.store.visible_up_to(horizon):
                    read(self.store, answer)
            except Exception:
                log.exception("could not answer a history read")
                continue
            out.take_lines_from(answer)
        for finish in out.after_reads:
            try:
                finish(out)
            except Exception:  # the replies go out as they are; the thread goes on
                log.exception("could not finish a command's replies")

    def _store(self, batch: list[Outbox]) -> bool:
        """Write the batch's messages and the unsaved channel settings; False when that failed."""
        messages = [m for out in batch for m in out.stored]
        unsaved = self._unsaved_channels
        for out in batch:
            for snapshot in out.saved_channels:
                unsaved[casefold(snapshot.name)] = snapshot
            for name in out.forgotten_channels:
                unsaved[casefold(name)] = None
        if not (messages or unsaved):
            return True
        try:
            self.store.write(messages, [snapshot for snapshot in unsaved.values() if snapshot is not None],
                             [name for name, snapshot in unsaved.items() if snapshot is None])
        except (sqlite3.Error, OSError) as error:
            self._storage_failed(len(messages), error)
            return False
        except Exception as error:
            log.exception("could not store %d messages in the history", len(messages))
            unsaved.clear()  # what failed this way may fail every time: do not try it again
            self._storage_failed(len(messages), error, logged=True)
            return False
        unsaved.clear()
        if self._refused_since_failing is not None:
            log.warning("history storage works again (%d messages were refused meanwhile)",
                        self._refused_since_failing)
            self._refused_since_failing = None
        return True

    def _storage_failed(self, count: int, error: Exception, logged: bool = False) -> None:
        """Log the first failure of an incident; later ones only count, until a write works again."""
        if self._refused_since_failing is None:
            self._refused_since_failing = 0
            if not logged:
                log.error("could not store %d messages in the history: %s", count, error)
        self._refused_since_failing += count

    def _purge_if_due(self) -> None:
        if self.store is None or not self.retention_days:
            return
        now = self._monotonic()
        if self._last_purge is not None and now - self._last_purge < PURGE_EVERY_SECONDS:
            return
        self._last_purge = now
        cutoff = int((self._wall_clock() - self.retention_days * 86400) * 1000)
        try:
            removed = self.store.purge_before(cutoff)
        except (sqlite3.Error, OSError) as error:
            log.error("could not delete old history (tried again in an hour): %s", error)
            return
        except Exception:
            log.exception("could not delete old history")
            return
        if removed:
            log.info("retention: deleted %d messages older than %s days", removed, self.retention_days)
