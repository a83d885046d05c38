"""labeled-response (IRCv3): the replies to a command sent with a ``label`` tag carry that label, so a
client can tell which answer belongs to which request.

One reply gets the label itself, and so does a reply that is one draft/multiline batch (on its ``BATCH +``
line: the echo of a client's batch); several are wrapped in ``BATCH +<ref> labeled-response`` (the batch start
carries the label; lines already inside a batch of their own, such as a chathistory batch, stay in it and
that batch nests); no reply at all becomes ``ACK``. A client gets labels only when it negotiated both
labeled-response and batch, and a label over ``MAX_LABEL_BYTES`` is ignored.

The labeling is done once the command's outbox is complete: at once, under the state lock, for most
commands; for a command answered from the history (CHATHISTORY, a JOIN's replay) by the sequencer, once
the reads have added their answers (``Outbox.after_reads``; an error there is logged and the replies go
out unlabeled). Either way it only rewrites the caller's lines of
that one outbox (``Outbox.rewrite_lines_for``) and reads of the caller only its ``conn``.
"""
from __future__ import annotations

import secrets

from common.protocol.message import Message, parse
from common.protocol.multiline import BATCH_TYPE
from common.server.outbox import Outbox
from common.server.state import Client

MAX_LABEL_BYTES = 64
LABEL_CAPS = frozenset({"labeled-response", "batch"})


def label_replies(out: Outbox, client: Client, msg: Message) -> None:
    """Label what ``out`` sends ``client`` in answer to ``msg``, if ``msg`` has a label the client may use."""
    label = msg.tags.get("label")
    if not label or len(label.encode()) > MAX_LABEL_BYTES or not LABEL_CAPS <= client.caps:
        return
    if not out.history_reads:
        out.rewrite_lines_for(client.conn, lambda lines: labeled(lines, label, out.server_name))
        return

    out.after_reads.append(lambda filled: filled.rewrite_lines_for(
        client.conn, lambda lines: labeled(lines, label, filled.server_name)))


def labeled(lines: list[bytes], label: str, server_name: str) -> list[bytes]:
    """One command's lines for one client, labeled (see the module docstring)."""
    if not lines:
        return [Message("ACK", [], source=server_name, tags={"label": label}).to_bytes()]
    # A piece may hold several lines (``Outbox.fixed_replies``: the MOTD, ISUPPORT): each is a reply.
    messages = [parse(line) for piece in lines for line in piece.decode().split("\r\n") if line]
    if len(messages) == 1 or is_one_multiline_batch(messages):
        first = messages[0]
        first.tags = {"label": label, **first.tags}
        return [message.to_bytes() for message in messages]
    reference = secrets.token_hex(4)
    wrapped = [Message("BATCH", [f"+{reference}", "labeled-response"], source=server_name, tags={"label": label})]
    for message in messages:
        message.tags.setdefault("batch", reference)
        wrapped.append(message)
    wrapped.append(Message("BATCH", [f"-{reference}"], source=server_name))
    return [message.to_bytes() for message in wrapped]


def is_one_multiline_batch(messages: list[Message]) -> bool:
    """Whether a reply is one draft/multiline batch and nothing else (the echo of a client's batch): its
    ``BATCH +`` line takes the label itself, as IRCv3 draft/multiline asks ("Labeled response")."""
    first, last = messages[0], messages[-1]
    if len(messages) < 3 or first.command != "BATCH" or first.param(1) != BATCH_TYPE or last.command != "BATCH":
        return False
    reference = first.param(0)[1:]
    return last.param(0) == f"-{reference}" and all(line.tags.get("batch") == reference for line in messages[1:-1])
