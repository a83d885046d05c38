"""The attendance thread: it writes presence intervals to the ``attendance`` table and answers reports, so
that neither the state lock's holder nor the sequencer (delivery) ever waits for attendance's SQLite.

Under the state lock, ``ServerState`` only calls ``joined`` / ``left`` here, which read the clock and put a
small tuple on a queue (no I/O). This thread takes everything queued at once and writes it in one
transaction: thirty students joining at the start of a lesson cost thirty queue puts under the lock and one
commit here. It has its own connection to the database file (a second writer beside the sequencer, as the
accounts are; its transactions are short) or, for ``:memory:``, a database of its own.

A report (``ask``) is a job queued behind the presence changes decided before it, so it sees all of them; it
runs here, reads only the table and the values captured with it, and hands its answer (an ``Outbox``) to
``deliver``, which queues it for the sequencer.

Open intervals: every ``heartbeat`` seconds their ``seen_ms`` is moved to now; at the start, intervals a
crashed server left open are closed at their ``seen_ms`` (at most a heartbeat late); at ``stop`` every open
one is closed at the stop's time. A write that fails (the file locked or the disk full) is logged once and
tried again with the next one; the presence changes wait meanwhile, up to ``MAX_WAITING_CHANGES``.
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from typing import Callable, Hashable

from common.protocol.casemap import casefold
from common.server.attendance import AttendanceTable, person_key
from common.server.logs import run_reporting_end
from common.server.outbox import Outbox
from common.server.transactions import transaction

log = logging.getLogger("classchat.server")
HEARTBEAT_SECONDS = 60.0
PURGE_EVERY_SECONDS = 3600.0
MAX_WAITING_CHANGES = 100_000  # presence changes kept while the database refuses writes; then the oldest go
MAX_WAITING_REPORTS = 8  # reports queued at once, server-wide; more are refused (try again)
BUSY_TIMEOUT_MS = 1000

# A presence change: ("join", member, channel, person, name, account, time_ms) or ("leave", member, channel,
# time_ms). ``member`` is any hashable that stands for one connection (the server's ``Client``).
Change = tuple
Job = Callable[[AttendanceTable, int], "Outbox | None"]


class AttendanceRecorder(threading.Thread):
    """Records presence in class channels and answers reports from its own thread; ``stop()`` ends it."""

    def __init__(self, path: str, deliver: Callable[[Outbox], None], *, retention_days: float | None = None,
                 wall_clock: Callable[[], float] = time.time, heartbeat: float = HEARTBEAT_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name="attendance")
        self.path = path
        self._deliver = deliver
        self._retention_days = retention_days
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._heartbeat = heartbeat
        self._queue: "queue.SimpleQueue[Change | Job | None]" = queue.SimpleQueue()
        self._reports_lock = threading.Lock()
        self._reports_waiting = 0
        # This thread's own: the open interval of each (member, casefolded channel), by row id.
        self._open: dict[tuple[Hashable, str], int] = {}
        self._waiting: list[Change] = []  # changes not yet written (a failed write keeps them)
        self._failing = False
        self._stopped = False
        self._stop_time_ms: int | None = None
        self.ready = threading.Event()  # set once the table is open and abandoned intervals are closed

    def now_ms(self) -> int:
        return int(self._wall_clock() * 1000)

    # ------------------------------------------------------------ called under the state lock

    def joined(self, member: Hashable, channel: str, nick: str, account: str | None) -> None:
        self._queue.put(("join", member, channel, person_key(nick, account), nick, account, self.now_ms()))

    def left(self, member: Hashable, channel: str) -> None:
        self._queue.put(("leave", member, channel, self.now_ms()))

    def ask(self, job: Job, done: threading.Event | None = None) -> bool:
        """Queue a report job, run here behind every change queued before it; ``done`` is set once its answer
        is handed over (or it failed). False when too many wait, or the thread has stopped."""
        with self._reports_lock:
            if self._reports_waiting >= MAX_WAITING_REPORTS or self._stop_time_ms is not None:
                return False
            self._reports_waiting += 1
        self._queue.put(job if done is None else (job, done))
        return True

    def stop(self, timeout: float = 2.0) -> None:
        """Write what is queued, close every open interval now, and end."""
        self._stop_time_ms = self.now_ms()
        self._queue.put(None)
        self.join(timeout)

    # ------------------------------------------------------------ the thread

    def run(self) -> None:
        run_reporting_end(log, "attendance", self._serve, lambda: self._stopped)

    def _serve(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # as the history: a commit survives kill -9
            table = AttendanceTable(db)
            table.create()
            closed = table.close_abandoned()
            if closed:
                log.warning("attendance: closed %d presence intervals left open by a server that stopped "
                            "without closing them, at the last time it knew them open", closed)
            self.ready.set()
            self._loop(table)
        finally:
            self.ready.set()
            db.close()

    def _loop(self, table: AttendanceTable) -> None:
        next_beat = self._monotonic() + self._heartbeat
        last_purge: float | None = None
        while not self._stopped:
            if self._retention_days and (last_purge is None or self._monotonic() - last_purge >= PURGE_EVERY_SECONDS):
                last_purge = self._monotonic()  # the first at the start, as the sequencer's
                self._purge(table)
            try:
                item = self._queue.get(timeout=max(0.0, next_beat - self._monotonic()))
            except queue.Empty:
                item = ()  # the heartbeat's turn
            jobs: list[tuple[Job, threading.Event | None]] = []
            while True:
                if item is None:
                    self._stopped = True
                elif callable(item):
                    jobs.append((item, None))
                elif item and isinstance(item[0], str):  # a presence change
                    self._waiting.append(item)
                elif item:  # (job, done)
                    jobs.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            beat = self._monotonic() >= next_beat
            if beat:
                next_beat = self._monotonic() + self._heartbeat
            self._write(table, beat)
            for job, done in jobs:
                try:
                    self._run_job(table, job)
                finally:
                    if done is not None:
                        done.set()
        self._close_everything(table)

    def _write(self, table: AttendanceTable, beat: bool) -> None:
        """Write the waiting changes (and, on a heartbeat, the open intervals' ``seen_ms``) in one transaction."""
        if not self._waiting and not (beat and self._open):
            return
        if len(self._waiting) > MAX_WAITING_CHANGES:
            log.warning("attendance: %d presence changes could not be stored and are dropped",
                        len(self._waiting) - MAX_WAITING_CHANGES)
            del self._waiting[:len(self._waiting) - MAX_WAITING_CHANGES]
        opened = dict(self._open)
        db = table.db
        try:
            with transaction(db):
                for change in self._waiting:
                    self._apply(table, opened, change)
                if beat and opened:
                    table.mark_seen(self.now_ms())
        except Exception as error:
            if not isinstance(error, (sqlite3.Error, OSError)):  # a bug, not the disk: these would fail again
                log.exception("attendance: could not store %d presence changes; they are dropped", len(self._waiting))
                self._waiting = []
                return
            if not self._failing:
                log.error("attendance: could not store %d presence changes (tried again with the next): %s",
                          len(self._waiting), error)
            self._failing = True
            return
        if self._failing:
            log.warning("attendance: storing works again")
            self._failing = False
        self._open = opened
        self._waiting = []

    @staticmethod
    def _apply(table: AttendanceTable, opened: dict[tuple[Hashable, str], int], change: Change) -> None:
        if change[0] == "join":
            _, member, channel, person, name, account, time_ms = change
            key = (member, casefold(channel))
            if key not in opened:
                opened[key] = table.open_interval(channel, person, name, account, time_ms)
        else:
            _, member, channel, time_ms = change
            row_id = opened.pop((member, casefold(channel)), None)
            if row_id is not None:
                table.close_interval(row_id, time_ms)

    def _run_job(self, table: AttendanceTable, job: Job) -> None:
        with self._reports_lock:
            self._reports_waiting -= 1
        try:
            out = job(table, self.now_ms())
        except Exception:
            log.exception("attendance: could not answer a report")
            return
        if out is not None:
            try:
                self._deliver(out)
            except Exception:
                log.exception("attendance: could not hand a report over for delivery")

    def _purge(self, table: AttendanceTable) -> None:
        cutoff = self.now_ms() - int(self._retention_days * 86_400_000)
        try:
            removed = table.purge_before(cutoff)
        except sqlite3.Error as error:
            log.warning("attendance: could not delete old attendance (tried again in an hour): %s", error)
            return
        if removed:
            log.info("retention: deleted %d attendance intervals older than %s days", removed, self._retention_days)

    def _close_everything(self, table: AttendanceTable) -> None:
        """At the stop: every interval still open ends now (the stop's time)."""
        stop_ms = self._stop_time_ms if self._stop_time_ms is not None else self.now_ms()
        try:
            table.close_all(stop_ms)
        except sqlite3.Error as error:
            log.warning("attendance: could not close the open intervals at the stop (the next start closes "
                        "them at the last time they were seen): %s", error)
        self._open.clear()
