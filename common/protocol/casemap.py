"""IRC names: which nicks and channel names are valid, and how they compare.

classchat uses one casemapping everywhere (nicks, channels, ban masks): ``rfc1459`` as ISUPPORT
advertises it (A-Z = a-z and ``[]\\~`` = ``{}|^``), extended to every Unicode letter by Unicode
lower-casing after NFC normalisation, so that ``Вася`` and ``вася`` are one nick. Clients that only know
rfc1459 still agree with us on every ASCII name.
"""
from __future__ import annotations

import functools
import unicodedata

CASEMAPPING = "rfc1459"
NICK_SPECIALS = "[]\\`_^{|}-"
CHANNEL_PREFIXES = "#"

_RFC1459_UPPER_SPECIALS = str.maketrans("[]\\~", "{}|^")


def casefold(name: str) -> str:
    """The form under which two names are the same name. (Most names hold none of ``[]\\~``, and looking
    for them costs a fifth of translating: every message folds its target and its sender.)"""
    folded = unicodedata.normalize("NFC", name).lower()
    if "[" in folded or "]" in folded or "\\" in folded or "~" in folded:
        return folded.translate(_RFC1459_UPPER_SPECIALS)
    return folded


def is_valid_nick(nick: str, max_length: int) -> bool:
    """Letters (any script), digits and the RFC 2812 specials; not starting with a digit or '-'."""
    if not nick or len(nick) > max_length:
        return False
    first = nick[0]
    if first.isdigit() or first == "-":
        return False
    return all(char.isalnum() or char in NICK_SPECIALS for char in nick)


def is_channel_name(name: str) -> bool:
    """Whether a target names a channel (by its prefix), valid or not."""
    return bool(name) and name[0] in CHANNEL_PREFIXES


def is_valid_channel(name: str, max_length: int) -> bool:
    """RFC 2812 §1.3: a prefix, then no space, comma, BEL or colon; plus no control characters at all."""
    if not is_channel_name(name) or len(name) < 2 or len(name) > max_length:
        return False
    return not any(char in " ,:\x07" or unicodedata.category(char) == "Cc" for char in name)


def normalize_ban_mask(mask: str) -> str:
    """Complete a ban mask as servers do: ``nick`` → ``nick!*@*``, ``user@host`` → ``*!user@host``."""
    if "!" not in mask and "@" not in mask:
        return f"{mask}!*@*"
    if "!" not in mask:
        return f"*!{mask}"
    if "@" not in mask:
        return f"{mask}@*"
    return mask


@functools.lru_cache(maxsize=1024)
def _mask_segments(mask: str) -> tuple[str, ...]:
    """The casefolded mask cut at its stars: ``a*b?c*`` -> ``("a", "b?c", "")``."""
    return tuple(casefold(mask).split("*"))


def _segment_at(segment: str, text: str, start: int) -> bool:
    """Whether ``segment`` (``?`` matching any one character) stands in ``text`` at ``start``."""
    if "?" not in segment:
        return text.startswith(segment, start)
    if start + len(segment) > len(text):
        return False
    return all(want == "?" or want == got for want, got in zip(segment, text[start:start + len(segment)]))


def _find_segment(segment: str, text: str, start: int, end: int) -> int:
    """The leftmost place at or after ``start`` where ``segment`` fits before ``end``, or -1.

    A literal segment is a ``str.find``. One with ``?`` is found by the bit-parallel Shift-And scan: bit
    ``k`` of ``state`` says "the first k+1 characters of the segment end here", so each character of the
    text costs a shift and two masks, however long the segment is."""
    if "?" not in segment:
        return text.find(segment, start, end)
    any_char = 0
    by_char: dict[str, int] = {}
    for index, char in enumerate(segment):
        if char == "?":
            any_char |= 1 << index
        else:
            by_char[char] = by_char.get(char, 0) | 1 << index
    done = 1 << (len(segment) - 1)
    state = 0
    for position in range(start, end):
        state = ((state << 1) | 1) & (by_char.get(text[position], 0) | any_char)
        if state & done:
            return position - len(segment) + 1
    return -1


def mask_matches(mask: str, hostmask: str) -> bool:
    """Whether ``nick!user@host`` matches a wildcard mask (``*`` and ``?``), under our casemapping.

    No regular expression: a mask comes from users, and ``*a*a*a*a*b`` makes a backtracking matcher
    take exponential time. The mask is cut at its stars; the first piece must start the text, the last
    must end it, and each piece between is placed at its leftmost fit after the previous one (placing
    it further right can never help the pieces after it). So the work is a few ``str.find`` calls per
    piece, linear in the text for literal pieces."""
    segments = _mask_segments(mask)
    text = casefold(hostmask)
    if len(segments) == 1:
        return len(text) == len(segments[0]) and _segment_at(segments[0], text, 0)
    first, last = segments[0], segments[-1]
    end = len(text) - len(last)
    if end < len(first) or not _segment_at(first, text, 0) or not _segment_at(last, text, end):
        return False
    position = len(first)
    for segment in segments[1:-1]:
        if segment:
            found = _find_segment(segment, text, position, end)
            if found < 0:
                return False
            position = found + len(segment)
    return True


ACCOUNT_EXTBAN = "$a:"  # a list entry that names an account: "$a:masha" names whoever is logged in as masha


def entry_names(entry: str, hostmask: str, account: str | None) -> bool:
    """Whether a ban, mute or exception entry names someone: by account (``$a:name``, ISUPPORT EXTBAN=$,a)
    when the entry is one, else by matching the mask against ``nick!user@host``. Server and clients judge
    entries the same way with it (a client knows others' accounts and hosts only as far as it has seen them)."""
    if entry.startswith(ACCOUNT_EXTBAN):
        return account is not None and casefold(account) == casefold(entry[len(ACCOUNT_EXTBAN):])
    return mask_matches(entry, hostmask)
