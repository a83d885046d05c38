"""Text in and out of IRC lines, with no state: how an informational numeric reads, how what the user
types is cut to fit a line, and whether a message names someone.

Pure functions: the receiver thread calls ``format_numeric`` and ``mentions_nick`` while it handles a line,
any thread calls ``split_text`` when it sends. They touch nothing but their arguments.
"""
from __future__ import annotations

import re

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold
from common.protocol.message import Message


def split_text(text: str, max_bytes: int) -> list[str]:
    """Split text into pieces of at most ``max_bytes`` UTF-8 bytes, on character boundaries.

    Each piece ends just after the last space that fits when there is one, so words stay whole; a word
    longer than a line is cut between characters, never inside a Cyrillic letter or an emoji. The pieces
    of a line join back to it exactly. Every line of a multi-line text is split on its own; blank lines
    are dropped (IRC cannot send an empty message).
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one character")
    pieces: list[str] = []
    # Only CR and LF end lines: str.splitlines() would also split at IRC formatting codes such as \x1d.
    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            continue
        while len(line.encode("utf-8")) > max_bytes:
            cut = _fitting_prefix_length(line, max_bytes)
            space = line.rfind(" ", 0, cut)
            end = space + 1 if space > 0 else cut
            pieces.append(line[:end])
            line = line[end:]
        if line:
            pieces.append(line)
    return pieces


def _fitting_prefix_length(text: str, max_bytes: int) -> int:
    """The largest number of characters of ``text`` whose UTF-8 encoding fits in ``max_bytes``."""
    encoded = text.encode("utf-8")[:max_bytes]
    return len(encoded.decode("utf-8", "ignore"))


def mentions_nick(text: str, nick: str) -> bool:
    """Whether ``text`` names ``nick`` as a word ("alice:" and "hi Alice!" do, "also" does not name "al")."""
    pattern = rf"(?<![\w\-\[\]\\`^{{|}}]){re.escape(casefold(nick))}(?![\w\-\[\]\\`^{{|}}])"
    return re.search(pattern, casefold(text)) is not None


def format_numeric(msg: Message) -> str:
    """Readable text for an informational numeric: its layout where it has one, else its last parameter."""
    layout = _NUMERIC_LAYOUTS.get(msg.command)
    params = msg.params[1:]
    if layout is not None:
        try:
            return layout.format(*params)
        except IndexError:
            pass  # a server that sends fewer parameters than RFC 2812 says: show what it sent
    return params[-1] if params else ""


_NUMERIC_LAYOUTS = {
    rpl.RPL_AWAY: "{0} is away: {1}",
    rpl.RPL_WHOISUSER: "{0} is {1}@{2} ({4})",
    rpl.RPL_WHOISSERVER: "{0} is connected to {1} ({2})",
    rpl.RPL_WHOISOPERATOR: "{0} {1}",
    rpl.RPL_WHOISIDLE: "{0} has been idle {1} s",
    rpl.RPL_WHOISCHANNELS: "{0} is on {1}",
    rpl.RPL_LIST: "{0} ({1}): {2}",
    rpl.RPL_CHANNELMODEIS: "{0} modes: {1}",
    rpl.RPL_INVITING: "Inviting {0} to {1}",
    rpl.RPL_WHOREPLY: "{0} {5} {6} {2}@{3} ({7})",
    rpl.RPL_BANLIST: "{0} ban {1} (by {2})",
    rpl.RPL_ISON: "Online: {0}",
    rpl.RPL_UMODEIS: "Your modes: {0}",
    rpl.RPL_LUSEROP: "{0} {1}",
    rpl.RPL_LUSERUNKNOWN: "{0} {1}",
    rpl.RPL_LUSERCHANNELS: "{0} {1}",
}
