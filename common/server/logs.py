"""Log lines a client cannot forge: the formatter ``chat_server.py`` puts on the server's log handlers.

Nicks, reasons and messages reach the log as the client typed them; escaping control characters keeps
one record on one line.
"""
from __future__ import annotations

import logging
import unicodedata


def escape_for_log(text: str) -> str:
    """Control characters (CR, LF, ESC, …) become visible escapes, so a client cannot forge log lines."""
    return "".join(f"\\x{ord(char):02x}" if unicodedata.category(char) == "Cc" else char for char in text)


class EscapingFormatter(logging.Formatter):
    """Formats a record as usual, then escapes control characters in the line: whatever a nick, a reason
    or a message holds, one record is one line of the log. (A traceback, added after, keeps its lines.)"""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_for_log(super().formatMessage(record))
