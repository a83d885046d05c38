"""IRCv3 ``draft/multiline`` (ircv3.net/specs/extensions/multiline): one message of several lines, sent as a
batch of PRIVMSG lines. This module holds what both ends need, with no I/O: the names, the limits a server
advertises in its capability value, how a text is cut into the lines of a batch and joined back, and what a
batch costs against flood control.

A batch's content is its lines joined by a line feed, except that a line tagged ``draft/multiline-concat``
is joined to the one before it directly: that is how a line too long for IRC's 512 bytes travels. The
content counts against ``max-bytes`` with one byte for each line feed that joins two lines.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

CAP = "draft/multiline"
BATCH_TYPE = "draft/multiline"
CONCAT_TAG = "draft/multiline-concat"
# The flood cost of a batch, as ergo bills it (irc/client.go EndMultilineBatch): a line's worth for every
# 512 bytes of content, or about 60 bytes per line of protocol around each line, whichever is more.
LINE_BYTES = 512
LINE_OVERHEAD_BYTES = 60
LINE_ENDS = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Piece:
    """One PRIVMSG line of a batch: its text, and whether it continues the line before it (``concat``)."""

    text: str
    concat: bool = False


@dataclass(frozen=True)
class MultilineLimits:
    """What a server takes in one batch: ``max_bytes`` of content (required by the specification) and at
    most ``max_lines`` lines (recommended; None when the server gives no limit)."""

    max_bytes: int
    max_lines: int | None = None

    def cap_value(self) -> str:
        """The capability's value in CAP LS 302: ``max-bytes=4096,max-lines=100``."""
        lines = f",max-lines={self.max_lines}" if self.max_lines is not None else ""
        return f"max-bytes={self.max_bytes}{lines}"

    @classmethod
    def parse(cls, value: str) -> "MultilineLimits | None":
        """The limits in a capability value; None when it has no usable ``max-bytes`` (then a client must not
        send batches). Unknown keys are ignored, as the specification asks."""
        found: dict[str, int] = {}
        for token in value.split(","):
            key, _, number = token.partition("=")
            if key in ("max-bytes", "max-lines") and number.isascii() and number.isdigit() and len(number) <= 9:
                found.setdefault(key, int(number))
        max_bytes = found.get("max-bytes", 0)
        if max_bytes <= 0:
            return None
        max_lines = found.get("max-lines")
        return cls(max_bytes, max_lines if max_lines else None)


def text_lines(text: str) -> list[str]:
    """The lines of a text, cut at CR LF, CR or LF (not at the other characters ``str.splitlines`` takes,
    such as IRC's italics code \\x1d)."""
    return LINE_ENDS.split(text)


def is_multiline(text: str) -> bool:
    """Whether a text has more than one line once its blank first and last lines are left out."""
    return len(trimmed_lines(text)) > 1


def trimmed_lines(text: str) -> list[str]:
    """The lines of a text without the blank ones before the first and after the last that has something
    (a paste often ends with a line feed)."""
    lines = text_lines(text)
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def split_line(line: str, max_bytes: int) -> list[str]:
    """One line cut into pieces of at most ``max_bytes`` UTF-8 bytes that join back to it exactly.

    Each piece ends just after the last space that fits when there is one (the specification's advice:
    the space stays at the end of a piece, so a client that shows the pieces as lines shows whole words);
    a word longer than a piece is cut between characters, never inside a Cyrillic letter or an emoji.
    """
    if max_bytes < 4:
        raise ValueError("max_bytes must hold at least one character")
    pieces: list[str] = []
    while len(line.encode("utf-8")) > max_bytes:
        cut = len(line.encode("utf-8")[:max_bytes].decode("utf-8", "ignore"))
        space = line.rfind(" ", 0, cut)
        end = space + 1 if space > 0 else cut
        pieces.append(line[:end])
        line = line[end:]
    if line:
        pieces.append(line)
    return pieces


def pieces_of(lines: Iterable[str], max_line_bytes: int) -> list[Piece]:
    """The batch lines for text lines: a blank line stays one blank piece; a line longer than
    ``max_line_bytes`` becomes a piece and continuations tagged concat."""
    pieces: list[Piece] = []
    for line in lines:
        parts = split_line(line, max_line_bytes) or [""]
        pieces.extend(Piece(part, concat=index > 0) for index, part in enumerate(parts))
    return pieces


def join_pieces(pieces: Iterable[Piece]) -> str:
    """The message a batch carries: its lines joined by line feeds, concat lines without one."""
    text: list[str] = []
    for index, piece in enumerate(pieces):
        if index and not piece.concat:
            text.append("\n")
        text.append(piece.text)
    return "".join(text)


def added_bytes(piece: Piece, first: bool) -> int:
    """What one more line adds to a batch's content: its text, and the line feed before it unless it is
    the first or a concat line."""
    return len(piece.text.encode("utf-8")) + (0 if first or piece.concat else 1)


def plan_batches(text: str, limits: MultilineLimits, max_line_bytes: int, most_lines: int = 1000) -> list[list[Piece]]:
    """A text cut into batches that each fit ``limits`` (and at most ``most_lines`` lines, when the server
    sets no line limit), for a client to send one after the other. Blank lines at the start and end of
    the text (and lines of spaces there), and empty lines where one batch ends and the next begins, are
    left out: no batch starts or ends with an empty line, and none starts with a concat line."""
    lines_limit = min(limits.max_lines or most_lines, most_lines)
    pieces = pieces_of(trimmed_lines(text), max(4, min(max_line_bytes, limits.max_bytes)))
    batches: list[list[Piece]] = []
    batch: list[Piece] = []
    used = 0
    for piece in pieces:
        cost = added_bytes(piece, not batch)
        if batch and (used + cost > limits.max_bytes or len(batch) >= lines_limit):
            batches.append(batch)
            batch, used = [], 0
        if not batch:
            if not piece.text:
                continue  # a blank line where a batch begins: the gap between two messages shows it
            piece = Piece(piece.text)
            cost = added_bytes(piece, True)
        batch.append(piece)
        used += cost
    if batch:
        batches.append(batch)
    for batch in batches:
        while batch and not batch[-1].text:
            batch.pop()
    return [batch for batch in batches if batch]


def flood_cost(lines: int, content_bytes: int) -> int:
    """The lines' worth of flood control a batch costs once it ends, beyond its ``BATCH +`` line."""
    return max(content_bytes // LINE_BYTES + 1, lines * LINE_OVERHEAD_BYTES // LINE_BYTES)
