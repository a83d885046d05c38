"""The sequencer: the one thread that stores messages and then delivers them, in order.

Every command's ``Outbox`` is handed over while the state lock is still held, so the queue holds them in
the order the server decided them. For each batch the sequencer (1) writes the batch's messages and
channel settings to SQLite in one transaction (when history is on), (2) runs the history reads queued
behind them (replay on join, CHATHISTORY), which therefore see every message decided before them, and
(3) gives the lines to the connections. So no client ever receives a message that is not yet stored —
after ``kill -9`` and a restart, everything anyone saw is in the history — and the writes cost one commit
per batch rather than one per message.

It delivers with history off too, because batching is what makes fan-out fast: the lines of many
messages bound for one connection go out in one send, and one thread sending beats every reader thread
contending to send (measured with bench/chat_bench.py: about 4x the deliveries per second).
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from typing import Callable

from common.server.connection import Connection
from common.server.history import HistoryStore
from common.server.outbox import Outbox

log = logging.getLogger("classchat.server")
MAX_BATCH = 512
# A connection's lines of one batch are handed over in slices of about this size, each flushed before
# the next: the send queue limit must measure what a client fails to read, never how many messages one
# batch happened to hold.
FLUSH_SLICE_BYTES = 16 * 1024
PURGE_EVERY_SECONDS = 3600.0


def deliver(conn: Connection, lines: list[bytes]) -> None:
    """Hand a connection its lines of one batch and send what the kernel takes, in slices when many."""
    if len(lines) == 1:
        conn.enqueue(lines[0])
    elif sum(map(len, lines)) <= FLUSH_SLICE_BYTES:
        conn.enqueue(b"".join(lines))
    else:
        piece: list[bytes] = []
        size = 0
        for line in lines:
            piece.append(line)
            size += len(line)
            if size >= FLUSH_SLICE_BYTES:
                conn.enqueue(b"".join(piece))
                conn.flush()
                piece, size = [], 0
        if piece:
            conn.enqueue(b"".join(piece))
    conn.flush()


class Sequencer(threading.Thread):
    """The delivery thread. ``monotonic`` and ``wall_clock`` are injectable so that tests can make time
    pass; the first retention purge runs before the first batch, whatever the monotonic clock reads (it
    counts from boot, so a constant "last purge" would skip the first purge on a machine just switched on).
    """

    def __init__(self, store: HistoryStore | None, retention_days: float | None, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        super().__init__(name="sequencer")
        self.store = store
        self.retention_days = retention_days
        self._queue: "queue.SimpleQueue[Outbox | None]" = queue.SimpleQueue()
        self._monotonic = monotonic
        self._wall_clock = wall_clock
        self._last_purge: float | None = None  # None: never purged, so the next check purges

    def submit(self, out: Outbox) -> None:
        """Queue a command's outbox; call with the state lock held, so the order is the server's."""
        self._queue.put(out)

    def stop(self, timeout: float) -> None:
        """Deliver what is queued, then end."""
        self._queue.put(None)
        self.join(timeout)

    def run(self) -> None:
        self._purge_if_due()
        stopping = False
        while not stopping:
            batch: list[Outbox] = []
            item = self._queue.get()
            while True:
                if item is None:
                    stopping = True
                else:
                    batch.append(item)
                if len(batch) >= MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._process(batch)
            self._purge_if_due()

    def _process(self, batch: list[Outbox]) -> None:
        if self.store is not None:
            self._store(batch)
        pending: dict[Connection, list[bytes]] = {}
        for out in batch:
            for read in out.history_reads:
                try:
                    read(self.store, out)
                except sqlite3.Error:
                    log.exception("could not read the history")
            out.commit_into(pending)
        for conn, lines in pending.items():
            deliver(conn, lines)
        for out in batch:
            out.run_after_delivery()

    def _store(self, batch: list[Outbox]) -> None:
        try:
            self.store.write([m for out in batch for m in out.stored],
                             [s for out in batch for s in out.saved_channels],
                             [name for out in batch for name in out.forgotten_channels])
        except sqlite3.Error:
            # The messages still reach everyone; only the history misses them. Say so loudly.
            log.exception("could not store %d messages in the history", sum(len(out.stored) for out in batch))

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
        except sqlite3.Error:
            log.exception("could not delete old history")
            return
        if removed:
            log.info("retention: deleted %d messages older than %s days", removed, self.retention_days)
