"""Text in and out of IRC lines, with no state: how an informational numeric reads, how what the user
types is cut to fit a line, whether a message names someone, and how text from others is made safe to
print on a terminal.

Pure functions: the receiver thread calls ``format_numeric``, ``mentions_nick`` and ``parse_server_time``
while it handles a line, any thread calls ``split_text`` when it sends, a view calls ``printable``. They
touch nothing but their arguments.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from common.client.numeric_texts import numeric_text
from common.protocol.casemap import casefold
from common.protocol.message import Message
from common.protocol.multiline import split_line, text_lines


def split_text(text: str, max_bytes: int) -> list[str]:
    """Split text into pieces of at most ``max_bytes`` UTF-8 bytes, on character boundaries.

    Each piece ends just after the last space that fits when there is one, so words stay whole; a word
    longer than a line is cut between characters, never inside a Cyrillic letter or an emoji. The pieces
    of a line join back to it exactly (``multiline.split_line``). Every line of a multi-line text is split
    on its own; blank lines are dropped (IRC cannot send an empty message).
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one character")
    pieces: list[str] = []
    for line in text_lines(text):
        if line.strip():
            pieces.extend(split_line(line, max_bytes))
    return pieces


# IRC formatting (bold \x02, colour \x03 with its digits, hex colour \x04, reset \x0f, monospace \x11,
# reverse \x16, italic \x1d, strike \x1e, underline \x1f): modern.ircdocs.horse "Formatting".
_IRC_FORMATTING = re.compile(r"\x03(?:\d{1,2}(?:,\d{1,2})?)?|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
                             r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]")
# Control characters as ``cat -v`` shows them: C0 as ^@ … ^_ (tab and newline kept), DEL as ^?, the C1
# controls U+0080-U+009F (CSI is U+009B) as M-^@ …; and the bidirectional overrides and isolates, which can
# make a line read backwards, as <U+202E>.
_VISIBLE = {code: f"^{chr(code + 64)}" for code in range(32) if code not in (9, 10)}
_VISIBLE[127] = "^?"
_VISIBLE.update({code: f"M-^{chr(code - 128 + 64)}" for code in range(128, 160)})
_VISIBLE.update({code: f"<U+{code:04X}>" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def strip_formatting(text: str) -> str:
    """``text`` without IRC's formatting codes (bold, colours, italics, …)."""
    return _IRC_FORMATTING.sub("", text)


def visible_controls(text: str) -> str:
    """``text`` with every control character shown as ``cat -v`` does (ESC as ``^[``), so that what others
    send can neither move the cursor, clear a screen, set a title or the clipboard, nor forge a line."""
    return text.translate(_VISIBLE)


def printable(text: str) -> str:
    """Text from the server made safe for a terminal: formatting dropped, control characters made visible."""
    return visible_controls(strip_formatting(text))


def mentions_nick(text: str, nick: str) -> bool:
    """Whether ``text`` names ``nick`` as a word ("alice:" and "hi Alice!" do, "also" does not name "al")."""
    pattern = rf"(?<![\w\-\[\]\\`^{{|}}]){re.escape(casefold(nick))}(?![\w\-\[\]\\`^{{|}}])"
    return re.search(pattern, casefold(text)) is not None


def format_numeric(msg: Message) -> str:
    """Readable English text for a numeric (``numeric_texts``), else its last parameter: the text a
    ``ServerReply`` carries, which the views translate again by number (``texts.describe``)."""
    params = msg.params[1:]
    return numeric_text(msg.command, params, "en") or (params[-1] if params else "")


def parse_server_time(tags: dict[str, str]) -> datetime:
    """When the server says it sent a line (IRCv3 ``server-time``), else now by our clock."""
    value = tags.get("time")
    if value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass  # a malformed time tag: fall back to our clock
    return datetime.now(timezone.utc)
