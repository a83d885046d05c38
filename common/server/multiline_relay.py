"""How a message of several lines goes out (IRCv3 draft/multiline): as a ``draft/multiline`` batch to clients
that negotiated it and ``batch``, as plain lines to everyone else.

Used live, under the state lock, by ``commands/multiline.py`` (a client's batch, relayed), and by the
sequencer thread in ``history_reads.py`` (a stored message of several lines, replayed); it reads only its
arguments and a recipient's ``caps``, and builds ``Message`` objects.

A batch carries the message's tags (time, msgid, account, the client's own ``+`` tags) on its ``BATCH +``
line, and each line only ``batch`` and, for a continued line, ``draft/multiline-concat``. The plain lines
keep the sender's line composition (a concat line stays a line of its own), leave out blank lines, which
plain clients must never get, and carry every tag on the first line only, the msgid too; the later ones
repeat the time and the account (the specification's "Fallback").
"""
from __future__ import annotations

import itertools
from dataclasses import replace

from common.protocol.framing import MAX_BODY_BYTES
from common.protocol.message import Message
from common.protocol.multiline import BATCH_TYPE, CAP, CONCAT_TAG, Piece, pieces_of, text_lines
from common.server.history import StoredMessage
from common.server.state import Client

BATCH_CAPS = frozenset({CAP, "batch"})
REPEATED_TAGS = ("time", "account", "bot")  # what the plain lines after the first carry again
_batch_ids = itertools.count(1)


def receives_batches(client: Client) -> bool:
    """Whether a client gets a multiline message as a batch: the specification needs ``batch`` with it."""
    return BATCH_CAPS <= client.caps


def batch_lines(source: str, command: str, target: str, pieces: list[Piece], tags: dict[str, str]) -> list[Message]:
    """``BATCH +ref draft/multiline <target>``, one line per piece, ``BATCH -ref``. The reference is new for
    every batch, so it never clashes with another batch open on the same connection (a chathistory batch
    around it, a labeled-response batch)."""
    reference = f"ml{next(_batch_ids)}"
    lines = [Message("BATCH", [f"+{reference}", BATCH_TYPE, target], source=source, tags=dict(tags))]
    for piece in pieces:
        line_tags = {"batch": reference, CONCAT_TAG: ""} if piece.concat else {"batch": reference}
        lines.append(Message(command, [target, piece.text], source=source, tags=line_tags))
    lines.append(Message("BATCH", [f"-{reference}"], source=source))
    return lines


def plain_lines(source: str, command: str, target: str, pieces: list[Piece], tags: dict[str, str]) -> list[Message]:
    """The lines of a multiline message one by one, for clients without the capability."""
    repeated = {key: value for key, value in tags.items() if key in REPEATED_TAGS}
    lines = []
    for piece in pieces:
        if piece.text:
            lines.append(Message(command, [target, piece.text], source=source, tags=dict(repeated if lines else tags)))
    return lines


def line_budget(source: str, command: str, target: str) -> int:
    """The most bytes of text one relayed line of this sender to this target can hold (RFC 1459's 512)."""
    return MAX_BODY_BYTES - len(f":{source} {command} {target} :\r\n".encode())


def stored_pieces(message: StoredMessage) -> list[Piece]:
    """The lines of a stored message: its text cut at its line feeds, and a line too long for one relayed
    line (it came with concat lines) cut again, at spaces where it can be."""
    return pieces_of(text_lines(message.text), max(4, line_budget(message.sender, message.command, message.target)))


def stored_lines(message: StoredMessage, client: Client, tags: dict[str, str]) -> list[Message]:
    """A stored message of several lines as ``client`` receives it from the history: a batch (which the
    caller may nest in a chathistory batch) or plain lines."""
    pieces = stored_pieces(message)
    build = batch_lines if receives_batches(client) else plain_lines
    return build(message.sender, message.command, message.target, pieces, tags)


def transcript_lines(message: StoredMessage) -> list[str]:
    """``<alice> line`` for each line that is not blank: how a replay reads to a client without server-time."""
    return [replace(message, text=line).transcript_line() for line in text_lines(message.text) if line.strip()]
