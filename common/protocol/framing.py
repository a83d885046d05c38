"""Framing: a TCP byte stream into complete, capped IRC lines.

Framing is separate from parsing (``message.py``): it only finds line ends (CRLF, or the bare LF that
RFC 1459 §8 asks servers to accept), caps how much it buffers, and decodes a line only once it is
complete, so a Cyrillic letter split across two ``recv()`` calls survives. An overlong line is not
buffered: it is skipped up to its line end and reported once, as ``LineTooLong``.
"""
from __future__ import annotations

from typing import NamedTuple

from common.protocol.message import InvalidUTF8, LineTooLong

# RFC 1459 §2.3: 512 bytes with CRLF for everything but the tags.
MAX_BODY_BYTES = 512
# message-tags: a client sends at most 4094 bytes of tag data, 4096 with '@' and the space.
MAX_CLIENT_TAG_BYTES = 4096
# What a server may send: 8191 bytes in all (message-tags "Size limit").
MAX_SERVER_LINE_BYTES = 8191


class RawLine(NamedTuple):
    """One complete line as received, without its line end. ``decode()`` checks limits and encoding.
    (A named tuple: one is made for every line received, and a frozen dataclass costs three times as much.)"""

    data: bytes
    too_long: bool = False
    body_limit: int | None = MAX_BODY_BYTES
    tag_limit: int | None = MAX_CLIENT_TAG_BYTES

    def decode(self, errors: str = "strict") -> str:
        """The line as text. Raises ``LineTooLong`` or, with ``errors="strict"``, ``InvalidUTF8``.

        With ``errors="replace"`` undecodable bytes become U+FFFD: clients use that for servers that
        do not promise UTF-8.
        """
        if self.too_long:
            raise LineTooLong("Input line was too long", command=self._command_guess())
        self._check_sections()
        try:
            return self.data.decode("utf-8", errors)
        except UnicodeDecodeError:
            raise InvalidUTF8("line is not valid UTF-8", command=self._command_guess()) from None

    def _check_sections(self) -> None:
        tags, body = b"", self.data
        if self.data.startswith(b"@"):
            tags, _, body = self.data.partition(b" ")
            tags += b" "
        if self.tag_limit is not None and len(tags) > self.tag_limit:
            raise LineTooLong("Input line was too long", command=self._command_guess())
        # The body limit counts the CRLF that framing removed.
        if self.body_limit is not None and len(body) + 2 > self.body_limit:
            raise LineTooLong("Input line was too long", command=self._command_guess())

    def _command_guess(self) -> str:
        """The command word, when one can be read, for error replies such as ``FAIL PRIVMSG …``."""
        words = self.data[:600].split()
        while words and (words[0].startswith(b"@") or words[0].startswith(b":")):
            words.pop(0)
        if words and words[0].isalnum() and words[0].isascii():
            return words[0].decode("ascii").upper()
        return "*"


class LineFramer:
    """Accumulates received bytes and hands back complete lines; never buffers more than ``max_line_bytes``.
    One per connection, in slots."""

    __slots__ = ("max_line_bytes", "body_limit", "tag_limit", "_buffer", "_skipping", "_skipped_head")

    def __init__(
        self,
        max_line_bytes: int = MAX_CLIENT_TAG_BYTES + MAX_BODY_BYTES,
        body_limit: int | None = MAX_BODY_BYTES,
        tag_limit: int | None = MAX_CLIENT_TAG_BYTES,
    ) -> None:
        self.max_line_bytes = max_line_bytes
        self.body_limit = body_limit
        self.tag_limit = tag_limit
        self._buffer = bytearray()
        self._skipping = False
        self._skipped_head = b""

    @classmethod
    def for_client(cls) -> "LineFramer":
        """A framer for lines from a server: its 8191-byte lines, and no body limit (servers exceed it)."""
        return cls(max_line_bytes=MAX_SERVER_LINE_BYTES * 2, body_limit=None, tag_limit=None)

    @property
    def pending_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[RawLine]:
        """Add received bytes; return the lines they complete (empty lines are ignored)."""
        lines: list[RawLine] = []
        self._buffer += data
        if b"\n" in data:  # what was held before ``data`` had no line end: every complete line was taken
            *complete, rest = bytes(self._buffer).split(b"\n")  # in C: one read can bring hundreds of lines
            self._buffer = bytearray(rest)
            for line in complete:
                if self._skipping:
                    self._skipping = False
                    lines.append(self._line(self._skipped_head, too_long=True))
                    continue
                if line.endswith(b"\r"):
                    line = line[:-1]
                if len(line) + 2 > self.max_line_bytes:
                    lines.append(self._line(line[:600], too_long=True))
                elif line.strip(b" \r"):
                    lines.append(self._line(line))
        if len(self._buffer) + 2 > self.max_line_bytes:
            # Drop what we hold of an overlong line and skip the rest of it up to its LF.
            if not self._skipping:
                self._skipping = True
                self._skipped_head = bytes(self._buffer[:600])
            del self._buffer[:]
        return lines

    def _line(self, data: bytes, too_long: bool = False) -> RawLine:
        return RawLine(data, too_long=too_long, body_limit=self.body_limit, tag_limit=self.tag_limit)
