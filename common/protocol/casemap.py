"""IRC names: which nicks and channel names are valid, and how they compare.

classchat uses one casemapping everywhere (nicks, channels, ban masks): ``rfc1459`` as ISUPPORT
advertises it (A-Z = a-z and ``[]\\~`` = ``{}|^``), extended to every Unicode letter by Unicode
lower-casing after NFC normalisation, so that ``Вася`` and ``вася`` are one nick. Clients that only know
rfc1459 still agree with us on every ASCII name.
"""
from __future__ import annotations

import functools
import re
import unicodedata

CASEMAPPING = "rfc1459"
NICK_SPECIALS = "[]\\`_^{|}-"
CHANNEL_PREFIXES = "#"

_RFC1459_UPPER_SPECIALS = str.maketrans("[]\\~", "{}|^")


def casefold(name: str) -> str:
    """The form under which two names are the same name."""
    return unicodedata.normalize("NFC", name).lower().translate(_RFC1459_UPPER_SPECIALS)


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
def _mask_pattern(mask: str) -> re.Pattern[str]:
    pattern = "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in casefold(mask))
    return re.compile(pattern, re.DOTALL)


def mask_matches(mask: str, hostmask: str) -> bool:
    """Whether ``nick!user@host`` matches a wildcard mask (``*`` and ``?``), under our casemapping."""
    return _mask_pattern(mask).fullmatch(casefold(hostmask)) is not None
