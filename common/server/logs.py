"""Log lines a client cannot forge: the formatter ``chat_server.py`` puts on the server's log handlers;
and ``run_reporting_end``, which makes a long-lived server thread's end show in the log.

Nicks, reasons and messages reach the log as the client typed them; escaping control characters keeps
one record on one line.
"""
from __future__ import annotations

import logging
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
