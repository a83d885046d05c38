"""IRC messages: the one parser and formatter in classchat.

A line is ``[@tags] [:source] COMMAND [params...] [:trailing]`` (RFC 1459 §2.3.1, RFC 2812 §2.3.1 and
modern.ircdocs.horse "Messages"). Tags follow the IRCv3 message-tags specification, including its value
escaping. Framing (bytes into lines) is a separate layer: see ``framing.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class ProtocolError(Exception):
    """A line that cannot be accepted. ``command`` is what could be read of its command, else ``*``.

    The connection loop maps each subclass to one reply; the connection itself stays open.
    """

    def __init__(self, reason: str, command: str = "*") -> None:
        super().__init__(reason)
        self.reason = reason
        self.command = command


class LineTooLong(ProtocolError):
    """Over the byte limits of RFC 1459 (512 with CRLF) or of message-tags (4096 of tags from a client)."""


class InvalidUTF8(ProtocolError):
    """The line is not UTF-8 (we advertise UTF8ONLY, so it is refused, never relayed)."""


class MalformedLine(ProtocolError):
    """Well framed, but not an IRC message: no command, a NUL byte, a broken tag."""


_TAG_ESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_TAG_ESCAPE_TABLE = str.maketrans(_TAG_ESCAPES)


def escape_tag_value(value: str) -> str:
    """Escape a tag value for the wire (message-tags "Escaping values"). Most values (a time, a msgid)
    need nothing, and looking for the five characters costs a seventh of translating."""
    if ";" in value or " " in value or "\\" in value or "\r" in value or "\n" in value:
        return value.translate(_TAG_ESCAPE_TABLE)
    return value


def unescape_tag_value(raw: str) -> str:
    """Undo ``escape_tag_value``. An unknown escape drops its backslash; a trailing lone backslash is dropped."""
    if "\\" not in raw:
        return raw
    chars: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\":
            index += 1
            if index < len(raw):
                escaped = raw[index]
                chars.append(_TAG_UNESCAPES.get(escaped, escaped))
        else:
            chars.append(char)
        index += 1
    return "".join(chars)


def parse_tags(raw: str) -> dict[str, str]:
    """Parse the tag section (without its leading ``@``). A tag with no value maps to ``""``."""
    tags: dict[str, str] = {}
    for item in raw.split(";"):
        if not item:
            continue
        key, _, value = item.partition("=")
        if not key or key == "+":
            raise MalformedLine("empty tag name")
        tags[key] = unescape_tag_value(value)
    return tags


def format_tags(tags: dict[str, str]) -> str:
    """Format tags for the wire; an empty value is sent as the bare key (message-tags allows both)."""
    return ";".join([f"{key}={escape_tag_value(value)}" if value else key for key, value in tags.items()])


ACTION_PREFIX = "\x01ACTION "  # CTCP ACTION, what /me sends: "\x01ACTION waves\x01"


def make_action(text: str) -> str:
    return f"{ACTION_PREFIX}{text}\x01"


def action_text(text: str) -> str | None:
    """The text of a CTCP ACTION (``/me``), or None when ``text`` is not one."""
    if text.startswith(ACTION_PREFIX):
        return text[len(ACTION_PREFIX):].removesuffix("\x01")
    return None


def split_source(source: str) -> tuple[str, str | None, str | None]:
    """Split ``nick!user@host`` into its parts; a server name comes back as ``(name, None, None)``."""
    nick, _, rest = source.partition("!")
    user, at, host = rest.partition("@")
    if not at:
        nick_only, at, host_only = nick.partition("@")
        if at:
            return nick_only, None, host_only
        return nick, user or None, None
    return nick, user or None, host


@dataclass
class Message:
    """One IRC message. ``params`` holds every parameter, the trailing one included, without its ``:``."""

    command: str
    params: list[str] = field(default_factory=list)
    source: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def source_nick(self) -> str:
        """The nick (or server name) part of the source, ``""`` when there is no source."""
        return split_source(self.source)[0] if self.source else ""

    def param(self, index: int, default: str = "") -> str:
        return self.params[index] if index < len(self.params) else default

    def format(self) -> str:
        """The line without CRLF. Raises ``ValueError`` for params that no line can carry."""
        return format_line(self.command, self.params, self.source, self.tags)

    def to_bytes(self) -> bytes:
        """The wire form: UTF-8 with CRLF."""
        return (self.format() + "\r\n").encode("utf-8")


def format_line(command: str, params: list[str], source: str | None = None, tags: dict[str, str] | None = None
                ) -> str:
    """``Message(command, params, source, tags).format()`` without making the Message: numeric replies,
    nineteen of them in a welcome, are formatted straight from their parts (``Outbox.numeric``)."""
    line = format_untagged(command, params, source)
    return tag_section(tags) + line if tags else line


def format_untagged(command: str, params: list[str], source: str | None = None) -> str:
    """The line after its tags (``:source COMMAND params``): one message relayed with different tags to
    different clients is formatted this far once (``common.server.outbox.TagVariants``)."""
    parts: list[str] = []
    if source:
        parts.append(":" + source)
    parts.append(command)
    if params:
        *middle, last = params
        for param in middle:
            if not param or " " in param or param.startswith(":"):
                raise ValueError(f"middle parameter {param!r} needs the trailing position")
            parts.append(param)
        if not last or " " in last or last.startswith(":"):
            last = ":" + last
        parts.append(last)
    return without_line_breaks(" ".join(parts))


def tag_section(tags: dict[str, str]) -> str:
    """``@key=value;key `` as it starts a line, the space included."""
    return without_line_breaks(f"@{format_tags(tags)} ")


def without_line_breaks(text: str) -> str:
    """``text`` itself, or ValueError if it holds CR, LF or NUL, which would end or break the line."""
    if "\r" in text or "\n" in text or "\0" in text:
        raise ValueError("CR, LF and NUL cannot be sent inside an IRC line")
    return text


def middle_word(word: str) -> str:
    """``word`` when it can stand before the last parameter, else ``*``: for replies that echo what a
    client sent (an empty target, a CTCP text where a channel was expected)."""
    return word if word and " " not in word and not word.startswith(":") else "*"


def parse(line: str) -> Message:
    """Parse one line (with or without its line ending) into a ``Message``.

    Raises ``MalformedLine`` for what cannot be a message. Several spaces between parameters are
    accepted as one, as modern servers do; the command is upper-cased.
    """
    line = line.rstrip("\r\n")
    if "\0" in line:
        raise MalformedLine("NUL byte in line")
    if "\r" in line or "\n" in line:
        raise MalformedLine("CR or LF inside a line")
    tags: dict[str, str] = {}
    rest = line.lstrip(" ")
    if rest.startswith("@"):
        raw_tags, _, rest = rest[1:].partition(" ")
        tags = parse_tags(raw_tags)
        rest = rest.lstrip(" ")
    source = None
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
        if not source:
            raise MalformedLine("empty source")
    middle, has_trailing, trailing = rest.partition(" :")
    if rest.startswith(":"):
        raise MalformedLine("no command")
    words = [word for word in middle.split(" ") if word]  # only ASCII space separates (not tab, not U+00A0)
    if not words:
        raise MalformedLine("no command")
    command = words[0].upper()
    if not (command.isascii() and command.isalnum()):
        raise MalformedLine("command is not a word or a numeric", command="*")
    params = words[1:]
    if has_trailing:
        params.append(trailing)
    return Message(command=command, params=params, source=source, tags=tags)
