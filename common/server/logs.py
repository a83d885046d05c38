"""The server's log: lines a client cannot forge, written by a thread of their own; and
``run_reporting_end``, which makes a long-lived server thread's end show in the log.

Nicks, reasons and messages reach the log as the client typed them; escaping control characters keeps
one record on one line. And no thread that serves clients ever writes a log line itself: records go
through a bounded queue to one writer thread (``start_log_writer``), so a stalled stderr costs log lines,
never the class's messages.
"""
from __future__ import annotations

import logging
import logging.handlers
import queue
import threading
import unicodedata
from typing import Callable


def escape_for_log(text: str) -> str:
    """Control characters (CR, LF, ESC, …) become visible escapes, so a client cannot forge log lines."""
    return "".join(f"\\x{ord(char):02x}" if unicodedata.category(char) == "Cc" else char for char in text)


class EscapingFormatter(logging.Formatter):
    """Formats a record as usual, then escapes control characters in the line: whatever a nick, a reason
    or a message holds, one record is one line of the log. (A traceback, added after, keeps its lines.)"""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_for_log(super().formatMessage(record))


class DroppingQueueHandler(logging.handlers.QueueHandler):
    """Hands records to the log writer thread through a bounded queue, and never waits.

    The server logs while it holds its state lock; a handler that writes to stderr would stop every client
    whenever stderr stops taking bytes (a pipe nobody reads, a terminal paused with Ctrl+S). Here the
    calling thread only puts the record on a queue. When the writer has fallen that far behind, records
    are dropped and counted, and the next record that fits says how many were lost."""

    def __init__(self, capacity: int = 10_000) -> None:
        super().__init__(queue.Queue(maxsize=capacity))
        self.dropped = 0
        self._dropped_lock = threading.Lock()

    def enqueue(self, record: logging.LogRecord) -> None:
        with self._dropped_lock:
            dropped, self.dropped = self.dropped, 0
        try:
            if dropped:
                self.queue.put_nowait(logging.makeLogRecord({
                    "name": "classchat.server", "levelno": logging.WARNING, "levelname": "WARNING",
                    "msg": "%d log lines were dropped: the log output was not being read", "args": (dropped,)}))
            self.queue.put_nowait(record)
        except queue.Full:
            with self._dropped_lock:
                self.dropped += dropped + 1


def start_log_writer(handlers: list[logging.Handler], level: int | str,
                     capacity: int = 10_000) -> logging.handlers.QueueListener:
    """Route every log record through a ``DroppingQueueHandler`` to one writer thread that runs the real
    ``handlers`` (stderr, the audit file). Call ``stop()`` on the result before exiting: it writes what
    is still queued."""
    writer = DroppingQueueHandler(capacity)
    root = logging.getLogger()
    root.setLevel(level)
    root.handlers[:] = [writer]
    listener = logging.handlers.QueueListener(writer.queue, *handlers, respect_handler_level=True)
    listener.start()
    return listener


def run_reporting_end(log: logging.Logger, name: str, loop: Callable[[], None],
                      stopped: Callable[[], bool]) -> None:
    """Run a long-lived thread's loop, and log if it ever ends without having been asked to.

    The loop catches what one batch or one connection throws; this is the last line of defence. A thread
    that died silently (once, the sequencer: from then on nobody received anything) is worse than one
    that dies loudly, so an escaping exception is logged as CRITICAL with its traceback, and so is a loop
    that returns while nobody stopped it.
    """
    try:
        loop()
    except BaseException:
        log.critical("the %s thread stopped on an unexpected error", name, exc_info=True)
        return
    if not stopped():
        log.critical("the %s thread ended though nobody stopped it", name)
