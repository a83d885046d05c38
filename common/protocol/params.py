"""Parameters of IRC lines, parsed at the edge.

Text from a peer reaches no ``int()``, regular expression or SQL pattern directly: handlers call these,
which say ``None`` for anything out of shape, so a bad parameter becomes an error reply and never an
exception halfway through a command. ``str.isdigit()`` is not enough (it is true for ``'²'``, which
``int()`` refuses), and a thousand-digit number should not even be converted.
"""
from __future__ import annotations

import unicodedata
from datetime import date, datetime, timezone

from common.protocol.casemap import normalize_ban_mask

_ASCII_DIGITS = frozenset("0123456789")
# msgids are ours (decimal or base-32-ish) or another server's: letters, digits, '-', '_', '.', '+', '/', '='
_MSGID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+/=")
MAX_MSGID_LENGTH = 64
MAX_MASK_LENGTH = 200


def parse_count(text: str, low: int, high: int) -> int | None:
    """A whole number written in ASCII digits, within ``low..high``; None otherwise (no sign, no spaces)."""
    if not text or len(text) > len(str(high)) + 1 or not _ASCII_DIGITS.issuperset(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_mask(text: str, max_length: int = MAX_MASK_LENGTH) -> str | None:
    """A wildcard mask for a ban, mute or exception list, completed to ``nick!user@host``; None when it is
    too long or holds a space, comma or control character."""
    if not text or len(text) > max_length or text.startswith(":"):
        return None
    if any(char in " ," or unicodedata.category(char) == "Cc" for char in text):
        return None
    mask = normalize_ban_mask(text)
    return mask if len(mask) <= max_length + 4 else None


def parse_msgid(text: str) -> str | None:
    """A message id as servers write them; None for anything else."""
    if not text or len(text) > MAX_MSGID_LENGTH or not _MSGID_CHARS.issuperset(text):
        return None
    return text


def parse_timestamp(text: str) -> int | None:
    """Milliseconds since the epoch from an ISO 8601 time as IRCv3 writes them (``2026-11-29T13:45:00.000Z``,
    or with an offset); None if it is not one, or out of datetime's range."""
    if not text or len(text) > 40:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return int(moment.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        return None


def parse_date(text: str) -> date | None:
    """A calendar date written ``YYYY-MM-DD`` in ASCII digits (``2026-11-24``); None for anything else: another
    shape, other digits (``２０２６``), a time after it, or no such day (``2026-02-30``)."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    year, month, day = text[:4], text[5:7], text[8:]
    if not all(_ASCII_DIGITS.issuperset(part) for part in (year, month, day)):
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:  # year 0, month 13, February 30th
        return None
