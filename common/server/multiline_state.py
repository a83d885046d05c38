"""What a connection holds of the draft/multiline batch it is sending: plain data, kept on ``Client.multiline``
and changed only by ``commands/multiline.py``, in that connection's reader thread. A module of its own so
that ``state.py`` can name the type without importing the commands."""
from __future__ import annotations

from dataclasses import dataclass, field

from common.protocol.multiline import Piece


@dataclass(slots=True)
class OpenBatch:
    """The batch a connection is sending. A ``refused`` one has been answered with FAIL (or the numeric of
    its target): it stays until its ``BATCH -`` so that its remaining lines are dropped without a reply
    and, like those of any open batch, without counting one by one against flood control."""

    reference: str
    target: str
    client_tags: dict[str, str]
    label: str | None  # the labeled-response label of BATCH +: it labels the reply to BATCH -
    pieces: list[Piece] = field(default_factory=list)
    content_bytes: int = 0
    lines_read: int = 1  # every line read while it is open, BATCH + included: what flood control bills
    refused: bool = False


@dataclass(slots=True)
class MultilineState:
    """One connection's multiline batches: the one open, the references of refused ones that ended early
    (their late lines are dropped quietly), and the flood control still to bill for batches that ended."""

    open: OpenBatch | None = None
    refused: list[str] = field(default_factory=list)
    flood_bill: int = 0
