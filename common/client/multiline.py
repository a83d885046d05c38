"""IRCv3 draft/multiline in the client: a text of several lines goes as one message when the server offers
the capability, and a batch the server sends becomes one chat line.

Sending (``outgoing_batches``, called by ``Session.send_text`` from any thread): the text is cut into as
few batches as the server's ``max-bytes`` and ``max-lines`` allow (``protocol.multiline.plan_batches``),
each ``BATCH +ref draft/multiline <target>``, its PRIVMSG lines (a line too long for IRC continued with
``draft/multiline-concat``), ``BATCH -ref``. A batch goes to the writer as one unit, so nothing comes
between its lines, and costs the pacing bucket what the server's flood control bills for it
(``protocol.multiline.flood_cost``). Without the capability (another server, or ours before it is
negotiated) ``outgoing_batches`` returns nothing and the session sends the lines one by one, paced.

Receiving (``IncomingBatches``, the receiver thread's alone): the lines of a ``draft/multiline`` batch are
collected until its ``BATCH -``, then handed on as ONE PRIVMSG whose text holds line feeds, with the tags
of the ``BATCH +`` line (msgid, time, account, and ``batch`` when it is nested in a chathistory batch), so
that the handlers treat it like any other message. What a server sends is bounded here: a few batches open
at once, each up to ``MOST_INCOMING_BYTES``; what goes beyond is dropped.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Callable

from common.client.state import ClientState
from common.protocol.message import Message
from common.protocol.multiline import (BATCH_TYPE, CAP, CONCAT_TAG, MultilineLimits, Piece, flood_cost,
                                       is_multiline, join_pieces, plan_batches)

MOST_INCOMING_BYTES = 256 * 1024  # of one batch from a server (ours sends at most 4096 bytes)
MOST_INCOMING_BATCHES = 8  # open at once; a server has no reason to interleave more


@dataclass(frozen=True)
class OutgoingBatch:
    """One message to send: its lines, the pacing it costs beyond its first line, and its text (for the
    session to show as our own when the server does not echo)."""

    lines: list[Message]
    cost: int
    text: str


def offered_limits(state: ClientState) -> MultilineLimits | None:
    """The server's limits when the session negotiated draft/multiline and batch; None otherwise."""
    with state.lock:
        negotiated = CAP in state.caps and "batch" in state.caps
        value = state.cap_values.get(CAP, "")
    return MultilineLimits.parse(value) if negotiated else None


def outgoing_batches(state: ClientState, target: str, text: str, line_budget: int) -> list[OutgoingBatch]:
    """The batches that send ``text`` to ``target`` as one message (several when it exceeds the server's
    limits); empty when the text is one line or the server does not take batches. ``line_budget`` is the
    most bytes of text one relayed line may hold."""
    if not is_multiline(text):
        return []
    limits = offered_limits(state)
    if limits is None:
        return []
    return [batch_of(target, pieces) for pieces in plan_batches(text, limits, line_budget)]


def batch_of(target: str, pieces: list[Piece]) -> OutgoingBatch:
    """The lines of one batch; a message that came out as a single line is an ordinary PRIVMSG."""
    text = join_pieces(pieces)
    if len(pieces) == 1:
        return OutgoingBatch([Message("PRIVMSG", [target, text])], 0, text)
    reference = secrets.token_hex(4)
    lines = [Message("BATCH", [f"+{reference}", BATCH_TYPE, target])]
    for piece in pieces:
        tags = {"batch": reference, CONCAT_TAG: ""} if piece.concat else {"batch": reference}
        lines.append(Message("PRIVMSG", [target, piece.text], tags=tags))
    lines.append(Message("BATCH", [f"-{reference}"]))
    content = len(text.encode("utf-8"))
    return OutgoingBatch(lines, flood_cost(len(pieces) + 2, content), text)


@dataclass
class IncomingBatch:
    start: Message  # the BATCH + line: the sender and the tags of the whole message
    pieces: list[Piece] = field(default_factory=list)
    command: str = "PRIVMSG"
    size: int = 0
    overflowed: bool = False


class IncomingBatches:
    """The draft/multiline batches a server is sending us; ``deliver`` gets each one as a single PRIVMSG
    (or NOTICE) once it ends."""

    def __init__(self, deliver: Callable[[Message], object]) -> None:
        self._deliver = deliver
        self._open: dict[str, IncomingBatch] = {}

    def handle_batch(self, msg: Message) -> bool:
        """A BATCH line: True when it opened or closed a multiline batch (and so needs nothing else)."""
        reference = msg.param(0)
        if reference.startswith("+") and msg.param(1) == BATCH_TYPE and len(msg.params) >= 3:
            if len(self._open) >= MOST_INCOMING_BATCHES:
                self._open.pop(next(iter(self._open)))  # the oldest, which a server left open
            self._open[reference[1:]] = IncomingBatch(msg)
            return True
        batch = self._open.pop(reference[1:], None) if reference.startswith("-") else None
        if batch is None:
            return False
        text = join_pieces(batch.pieces)
        if text.strip() and not batch.overflowed:
            target = batch.start.param(2)
            self._deliver(Message(batch.command, [target, text], source=batch.start.source,
                                  tags=dict(batch.start.tags)))
        return True

    def collect(self, msg: Message) -> bool:
        """A PRIVMSG or NOTICE: True when it is a line of an open multiline batch (then it is kept here)."""
        batch = self._open.get(msg.tags.get("batch", ""))
        if batch is None:
            return False
        text = msg.param(1)
        batch.size += len(text)
        if batch.size > MOST_INCOMING_BYTES:
            batch.overflowed, batch.pieces = True, []
        elif not batch.overflowed:
            if not batch.pieces:
                batch.command = msg.command
            batch.pieces.append(Piece(text, concat=CONCAT_TAG in msg.tags and bool(batch.pieces)))
        return True
