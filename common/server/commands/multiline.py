"""IRCv3 draft/multiline, the server's half: a client sends ``BATCH +ref draft/multiline <target>``, its
``@batch=ref PRIVMSG <target> :line`` lines (a line tagged ``draft/multiline-concat`` continues the one
before it) and ``BATCH -ref``; the server collects them and then relays them, and stores them, as ONE
message, whose text is the lines joined by line feeds.

The batch is collected per connection (``Client.multiline``: ``multiline_state.py``) and bounded: at most
``MULTILINE_LIMITS`` (max-bytes, max-lines), every relayed line within 512 bytes, one batch open at a time,
only PRIVMSG lines to the batch's target inside it. Whatever breaks a rule ends the batch with ``FAIL
BATCH <code>`` (MULTILINE_MAX_BYTES, MULTILINE_MAX_LINES, MULTILINE_INVALID_TARGET, MULTILINE_INVALID) and
nothing of it is sent; the rest of its lines are then dropped without further replies, up to its ``BATCH
-ref``. A batch whose client goes on to another command (PING and PONG aside, which keep it open) is
abandoned the same way, and that command then runs as usual. A batch nobody ends costs nothing but its own
bounded memory until the connection closes.

The rules that apply to a PRIVMSG apply to the batch as a whole, when it ends (``messages.message_recipients``):
a channel that is +m, +n, a ban or a mute (+q) refuses it with the same numeric; under +U it reaches the
operators only; a private message gets RPL_AWAY. The target is checked when the batch opens as well, so
that a muted student learns at once instead of after pasting. With echo-message the sender receives its own
batch; with labeled-response the label of ``BATCH +`` comes back on the first line of the reply (the spec's
"Labeled response with echo-message").

Flood control (``server._throttle``) does not count the lines of an open batch one by one: a batch arrives
at once, by design. When it ends, however it ends, it is billed as a whole: ``multiline.flood_cost`` lines
for every line read while it was open and the bytes it held (``take_flood_bill``).

Runs under the state lock, in the sending client's reader thread; ``in_batch`` and ``take_flood_bill`` are
called by that same thread outside the lock, which is safe because only it changes its ``Client.multiline``.
"""
from __future__ import annotations

import time

from common.protocol.casemap import casefold, is_channel_name
from common.protocol.framing import MAX_BODY_BYTES
from common.protocol.message import Message, middle_word
from common.protocol.multiline import BATCH_TYPE, CONCAT_TAG, Piece, added_bytes, flood_cost, join_pieces
from common.server.commands.base import MULTILINE_LIMITS, Request, err_no_such_nick, server_message, user_message
from common.server.commands.messages import (STATUS_PREFIXES, StatusTarget, message_recipients, relayed_length,
                                             sender_tags)
from common.server.history import StoredMessage
from common.server.multiline_relay import BATCH_CAPS, batch_lines, plain_lines, receives_batches
from common.server.multiline_state import MultilineState, OpenBatch
from common.server.state import Channel, Client

MAX_REFERENCE_LENGTH = 64
# Lines other than the batch's own that may come while it is open (PING and PONG): beyond max-lines and these,
# an open batch ends, so that no client keeps lines free of flood control for long.
OTHER_LINES_ALLOWED = 10
MOST_LINES_READ = MULTILINE_LIMITS.max_lines + OTHER_LINES_ALLOWED + 2  # with BATCH + and BATCH -
PASSING_THROUGH = frozenset({"PING", "PONG", "QUIT"})  # run as usual while a batch is open; QUIT ends it anyway
REFUSED_REMEMBERED = 4  # references of ended, refused batches whose late lines are still dropped without a reply


def in_batch(client: Client) -> bool:
    """Whether the connection has a batch open (its reader thread asks before throttling a line)."""
    state = client.multiline
    return state is not None and state.open is not None


def take_flood_bill(client: Client) -> int:
    """The lines' worth of flood control that ended batches still owe; it is owed once."""
    state = client.multiline
    if state is None or not state.flood_bill:
        return 0
    bill, state.flood_bill = state.flood_bill, 0
    return bill


def fail_batch(req: Request, code: str, *context: str, why: str = "") -> None:
    """``FAIL BATCH <code> [context…] :<description>`` (IRCv3 draft/multiline "Errors"): MULTILINE_MAX_BYTES
    and MULTILINE_MAX_LINES name the limit, MULTILINE_INVALID_TARGET the batch's and the line's targets, and
    MULTILINE_INVALID only says ``why`` in its description."""
    descriptions = {
        "MULTILINE_MAX_BYTES": "Multiline batch max-bytes exceeded",
        "MULTILINE_MAX_LINES": "Multiline batch max-lines exceeded",
        "MULTILINE_INVALID_TARGET": "Invalid multiline target",
    }
    description = descriptions.get(code) or f"Invalid multiline batch: {why}"
    req.out.send(req.client, server_message(req, "FAIL", "BATCH", code, *map(middle_word, context), description))


def refuse(req: Request, batch: OpenBatch, code: str, *context: str, why: str = "") -> None:
    """Answer the open batch with FAIL; nothing of it will be sent, and its remaining lines are dropped."""
    fail_batch(req, code, *context, why=why)
    batch.refused = True
    batch.pieces = []


def end_open_batch(state: MultilineState, early: bool = False) -> OpenBatch | None:
    """Close the open batch and bill it; ``early`` (before its ``BATCH -``): remember its reference, so that
    its late lines are dropped without a reply."""
    batch, state.open = state.open, None
    if batch is not None:
        state.flood_bill += flood_cost(batch.lines_read, batch.content_bytes)
        if early:
            remember_refused(state, batch.reference)
    return batch


def remember_refused(state: MultilineState, reference: str) -> None:
    state.refused = [*(known for known in state.refused[-(REFUSED_REMEMBERED - 1):] if known != reference),
                     reference]


def abandon_unread_line(req: Request) -> None:
    """A line that could not be read (too long, not UTF-8, malformed) came while a batch was open: the
    message would silently lack it, so the batch is refused (the server calls this after the line's own error)."""
    state = req.client.multiline
    if state is not None and state.open is not None:
        state.open.lines_read += 1
        if not state.open.refused:
            refuse(req, state.open, "MULTILINE_INVALID", why="a line of it could not be read")


def takes_line(req: Request, msg: Message) -> bool:
    """Called by the dispatcher for a registered client that has batch state or a line with a batch tag:
    True when the line belonged to a batch and is dealt with here; False lets it run as a command."""
    state = req.client.multiline
    reference = msg.tags.get("batch")
    if reference is not None:
        msg.tags.pop("label", None)  # only BATCH + carries the label: no ACK for each line
    batch = state.open if state is not None else None
    if batch is None:
        if reference is not None and (state is None or reference not in state.refused):
            fail_batch(req, "MULTILINE_INVALID", why="no batch is open with that reference")
        return reference is not None
    batch.lines_read += 1
    if batch.lines_read > MOST_LINES_READ:
        if not batch.refused:
            fail_batch(req, "MULTILINE_MAX_LINES", str(MULTILINE_LIMITS.max_lines))
        end_open_batch(state, early=True)
        return reference is not None
    if msg.command == "BATCH":
        return False
    if reference == batch.reference:
        if not batch.refused:
            collect_line(req, batch, msg)
        return True
    if reference is not None:
        if not batch.refused and reference not in state.refused:
            refuse(req, batch, "MULTILINE_INVALID", why="a line of another batch came inside it")
        return True
    if msg.command not in PASSING_THROUGH:  # another command: the batch ends unsent, the command runs
        if not batch.refused:
            fail_batch(req, "MULTILINE_INVALID", why=f"{msg.command[:20]} came before its BATCH -")
        end_open_batch(state, early=True)
    return False


def collect_line(req: Request, batch: OpenBatch, msg: Message) -> None:
    """One line of the open batch, after every check the specification and our limits ask for."""
    if msg.command != "PRIVMSG":
        refuse(req, batch, "MULTILINE_INVALID", why="it may hold PRIVMSG lines only")
        return
    target, text = msg.param(0), msg.param(1)
    if casefold(target) != casefold(batch.target):
        refuse(req, batch, "MULTILINE_INVALID_TARGET", batch.target, target)
        return
    piece = Piece(text, concat=CONCAT_TAG in msg.tags and bool(batch.pieces))
    added = added_bytes(piece, not batch.pieces)
    if CONCAT_TAG in msg.tags and not text:
        refuse(req, batch, "MULTILINE_INVALID", why="a concatenated line must not be blank")
    elif text.startswith("\x01"):
        refuse(req, batch, "MULTILINE_INVALID", why="it cannot carry CTCP (/me)")
    elif relayed_length(req.client.prefix, "PRIVMSG", batch.target, text) > MAX_BODY_BYTES:
        refuse(req, batch, "MULTILINE_INVALID", why=f"a line is too long to relay in {MAX_BODY_BYTES} bytes")
    elif len(batch.pieces) >= MULTILINE_LIMITS.max_lines:
        refuse(req, batch, "MULTILINE_MAX_LINES", str(MULTILINE_LIMITS.max_lines))
    elif batch.content_bytes + added > MULTILINE_LIMITS.max_bytes:
        refuse(req, batch, "MULTILINE_MAX_BYTES", str(MULTILINE_LIMITS.max_bytes))
    else:
        batch.content_bytes += added
        batch.pieces.append(piece)


def handle_batch(req: Request, msg: Message) -> None:
    """BATCH from a client: ``+ref draft/multiline <target>`` opens a batch, ``-ref`` ends it."""
    client = req.client
    state = client.multiline = client.multiline or MultilineState()
    sign, reference = msg.params[0][:1], msg.params[0][1:]
    batch = state.open
    if sign == "-" and batch is not None and reference == batch.reference:
        end_open_batch(state)
        if not batch.refused:
            finish_batch(req, msg, batch)
    elif sign == "-" and reference in state.refused:
        state.refused.remove(reference)  # the end of a batch refused before: it was answered already
    elif sign == "-":
        if batch is not None and not batch.refused:
            refuse(req, batch, "MULTILINE_INVALID", why="BATCH - named another batch than the one open")
        else:
            fail_batch(req, "MULTILINE_INVALID", why="no batch is open with that reference")
    elif sign != "+":
        fail_batch(req, "MULTILINE_INVALID", why="a batch reference starts with + or -")
    elif batch is not None and not batch.refused:  # nested or interleaved: neither goes
        remember_refused(state, reference)
        refuse(req, batch, "MULTILINE_INVALID", why="one batch at a time")
    else:
        end_open_batch(state, early=True)  # a refused batch whose BATCH - never came
        open_batch(req, state, msg, reference)


def open_batch(req: Request, state: MultilineState, msg: Message, reference: str) -> None:
    """Open a batch, or answer why not; one that cannot open still takes its lines, to drop them quietly."""
    if not 0 < len(reference) <= MAX_REFERENCE_LENGTH:
        fail_batch(req, "MULTILINE_INVALID", why=f"a batch reference has 1 to {MAX_REFERENCE_LENGTH} characters")
        return
    target = msg.param(2)
    batch = state.open = OpenBatch(reference, target,
                                   {key: value for key, value in msg.tags.items() if key.startswith("+")}, None)
    if not BATCH_CAPS <= req.client.caps:
        refuse(req, batch, "MULTILINE_INVALID", why="negotiate draft/multiline and batch first")
    elif msg.param(1) != BATCH_TYPE:
        refuse(req, batch, "MULTILINE_INVALID", why="clients may send draft/multiline batches only")
    elif not target or "," in target or target.startswith("$"):
        refuse(req, batch, "MULTILINE_INVALID", why="it goes to one channel or one nick")
    elif not may_send_to(req, target):
        batch.refused = True  # answered with the numeric a PRIVMSG would get (401, 403, 404)
    else:
        batch.label = msg.tags.pop("label", None)


def may_send_to(req: Request, target: str) -> bool:
    """Whether the caller may send to ``target`` now (the check is made again when the batch ends); the
    error numeric otherwise. A private message's RPL_AWAY comes with the message, not here."""
    if is_channel_name(target.lstrip(STATUS_PREFIXES)):
        return message_recipients(req, target, is_notice=False) is not None
    found = req.state.find_client(target)
    if found is None or not found.registered:
        err_no_such_nick(req, target)
        return False
    return True


def finish_batch(req: Request, msg: Message, batch: OpenBatch) -> None:
    """The batch ended well: relay it, and store it, as one message, if its target still takes it."""
    if batch.label is not None:
        msg.tags["label"] = batch.label  # the reply to BATCH - is labeled as if it answered BATCH +
    if not any(piece.text for piece in batch.pieces):
        fail_batch(req, "MULTILINE_INVALID", why="a message must not be blank")
        return
    found = message_recipients(req, batch.target, is_notice=False, grouped=False)  # lines differ by recipient
    if found is None:
        return
    target, recipients = found
    client = req.client
    client.last_spoke = time.monotonic()
    if "echo-message" in client.caps:
        recipients.append(client)
    tags, time_ms = sender_tags(req, batch.client_tags)
    name = target.nick if isinstance(target, Client) else target.name
    deliveries = relay_lines(client, name, batch.pieces, tags, recipients)
    if not req.server.history_enabled or isinstance(target, StatusTarget):
        for receivers, lines in deliveries:
            for line in lines:
                req.out.relay(receivers, line)
        return
    is_channel = isinstance(target, Channel)
    req.out.relay_stored_lines(client, deliveries, StoredMessage(
        tags["msgid"], time_ms, name, client.prefix, "PRIVMSG", join_pieces(batch.pieces),
        recipient_host="" if is_channel else target.host, client_tags=batch.client_tags,
        ops_only=is_channel and target.only_operators_hear(client), sender_account=client.account,
        recipient_account=None if is_channel else target.account))
    if is_channel:
        target.persistent = True


def relay_lines(client: Client, target: str, pieces: list[Piece], tags: dict[str, str],
                recipients: list[Client]) -> list[tuple[list[Client], list[Message]]]:
    """Who gets which lines: a message of one line is an ordinary PRIVMSG for everyone; a longer one is a
    batch for those with the capability and plain lines for the others."""
    if len(pieces) == 1:
        return [(recipients, [user_message(client, "PRIVMSG", target, pieces[0].text, tags=tags)])]
    batched = [recipient for recipient in recipients if receives_batches(recipient)]
    plain = [recipient for recipient in recipients if not receives_batches(recipient)]
    return [(batched, batch_lines(client.prefix, "PRIVMSG", target, pieces, tags)),
            (plain, plain_lines(client.prefix, "PRIVMSG", target, pieces, tags))]
