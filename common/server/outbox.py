"""What one command sends: collected while the state lock is held, delivered by the sequencer after it.

A relayed message is encoded once per tag variant (the tags a recipient negotiated decide which it
gets; the line after the tags is encoded once for all of them, see ``TagVariants``) and the same bytes
object goes to every recipient of that variant. The outbox keeps (connections, bytes) pairs in order;
the sequencer gathers the pairs of a whole batch of commands per connection, so each connection gets
one ``send()`` per batch, however many messages the batch held.

A message that is stored in the history is relayed with ``relay_stored()``: its lines are kept apart
(each line marked with the message it carries, and the message with its sender), because it may be delivered only once it is stored. When the
sequencer could not store the batch, ``take_relays(stored=False)`` leaves those lines out and
gives each sender, in their place, ``FAIL <command> MESSAGE_NOT_SENT <target> :…`` (IRCv3 standard
replies; MESSAGE_NOT_SENT is classchat's own code: the message reached nobody and is not in the history,
so the client may send it again). Every other line of the batch is delivered as usual.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Callable, Iterable, NamedTuple, Sequence

from common.protocol.message import Message, format_line, format_untagged, middle_word, tag_section
from common.server.connection import SMALL_BYTES

if TYPE_CHECKING:
    from common.server.connection import Connection
    from common.server.history import ChannelSnapshot, HistoryStore, StoredMessage
    from common.server.state import Client

# Which capability lets a client receive each server tag; client-only (+) and other tags need message-tags.
# draft/multiline-concat goes only into the lines of a multiline batch, to clients that negotiated batch too.
TAG_CAPABILITIES = {"time": "server-time", "batch": "batch", "account": "account-tag",
                    "draft/multiline-concat": "batch"}
TAG_GATES = ("server-time", "batch", "message-tags", "account-tag")  # every capability deciding a tag variant
MESSAGE_TAGS_GATE = TAG_GATES.index("message-tags")
NOT_STORED = "MESSAGE_NOT_SENT"
NOT_STORED_TEXT = "Your message was not sent: the server could not save it"


class ChannelAudience(NamedTuple):
    """A channel's members as recipients (``Channel.audience()``), but ``skip``: the sender, unless it
    asked for its own messages back (echo-message)."""

    groups: dict[tuple[bool, ...], tuple["Connection", ...]]
    skip: "Connection | None"


class Relay(NamedTuple):
    """Bytes for some connections. ``stored``: which stored message they carry (an index into the
    outbox's senders), or None. ``skip``: a connection among ``conns`` that does not get them. ``family``:
    the channel audience ``conns`` is one group of (its groups never share a connection), or None."""

    conns: Sequence["Connection"]
    data: bytes
    stored: int | None = None
    skip: "Connection | None" = None
    family: object = None


def tag_allowed(tag: str, caps: set[str] | frozenset[str]) -> bool:
    return TAG_CAPABILITIES.get(tag, "message-tags") in caps


def tag_gates(caps: set[str]) -> tuple[bool, ...]:
    """Which tag variant a client with these capabilities gets (kept on the client, see ``Client``)."""
    return tuple(cap in caps for cap in TAG_GATES)


def numeric_line(server_name: str, code: str, nick: str, params: Sequence[str]) -> str:
    """A numeric reply to ``nick`` as one line (no tags, no CRLF). Replies often echo what the client sent
    (a channel name, a nick); a word that cannot stand in the middle of a line (empty, with a space, or
    starting with ':') is shown as ``*`` instead. A comprehension, not ``map(middle_word, ...)``: that would
    run the interpreter once more on the reader thread's C stack (see ``Outbox.numeric_with``)."""
    *middle, last = [nick, *params]
    return format_line(code, [middle_word(word) for word in middle] + [last], server_name)


class FixedReplies:
    """Numeric replies whose text never changes (ISUPPORT, the MOTD, 002-004), encoded once: each client
    gets them as a few pieces with its nick put in. A welcome is nineteen numerics, most of them these, and
    formatting each for every arrival was most of a registration's cost (bench/idle_scale.py). A piece
    holds as many whole lines as fit in ``SMALL_BYTES`` (see connection.py) with a nick of ``nick_length``
    characters of four UTF-8 bytes each, the most a character takes."""

    def __init__(self, server_name: str, replies: list[tuple[str, ...]], nick_length: int) -> None:
        max_nick_bytes = 4 * nick_length
        # Per piece, its lines as (":server CODE ", " params…\r\n"): the nick goes between.
        self._pieces: list[list[tuple[bytes, bytes]]] = []
        size = 0  # of the last piece, with the longest nick
        for code, *params in replies:
            head = f":{server_name} {code} "
            line = numeric_line(server_name, code, "*", params)
            parts = (head.encode(), (line[len(head) + 1:] + "\r\n").encode())
            line_bytes = len(parts[0]) + max_nick_bytes + len(parts[1])
            if not self._pieces or size + line_bytes > SMALL_BYTES:
                self._pieces.append([])
                size = 0
            self._pieces[-1].append(parts)
            size += line_bytes

    def for_nick(self, nick: str) -> list[bytes]:
        word = nick.encode()
        return [b"".join([head + word + rest for head, rest in piece]) for piece in self._pieces]


class Outbox:
    """Collects lines and their connections; the sequencer stores what it carries, then takes the lines
    with ``take_relays()``.

    With history on, it also carries what to store (``stored``, ``saved_channels``) and what to read
    from the history once that is stored (``history_reads``); the sequencer does both before committing,
    then runs ``after_delivery``. ``stored`` is filled by ``relay_stored()``, which also records which
    lines carry each stored message.
    """

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        self._relays: list[Relay] = []
        self._stored_senders: list[tuple["Client", "StoredMessage"]] = []  # who sent each stored message
        self._storing: int | None = None  # set while relay_stored() relays
        self.stored: list["StoredMessage"] = []
        self.saved_channels: list["ChannelSnapshot"] = []
        self.forgotten_channels: list[str] = []
        self.history_reads: list[Callable[["HistoryStore", "Outbox"], None]] = []
        # Run by the sequencer once the history reads have added their answers (labeled-response).
        self.after_reads: list[Callable[["Outbox"], None]] = []
        self.after_delivery: list[Callable[[], None]] = []  # e.g. closing a socket after its last lines

    def send(self, client: "Client", message: Message) -> None:
        """One message to one client, tags filtered by what it negotiated."""
        self.relay((client,), message)

    def numeric(self, client: "Client", code: str, *params: str) -> None:
        """A numeric reply from the server, addressed to the client's nick (``*`` before it has one); see
        ``numeric_line`` for how its parameters are written."""
        self.numeric_with(client, code, params)

    def numeric_with(self, client: "Client", code: str, params: Sequence[str]) -> None:
        """``numeric()`` for a caller that holds the parameters as one sequence already: passing them on
        as ``*params`` would run the interpreter once more on the reader thread's C stack (Python 3.11
        calls with ``*`` through C), and the deepest call a thread makes sets the stack pages it keeps."""
        self._send_bytes(client, (numeric_line(self.server_name, code, client.nick, params) + "\r\n").encode())

    def fixed_replies(self, client: "Client", replies: FixedReplies) -> None:
        """``numeric()`` for each of ``replies``, in order, in a few pieces."""
        for piece in replies.for_nick(middle_word(client.nick)):
            self._send_bytes(client, piece)

    def _send_bytes(self, client: "Client", data: bytes) -> None:
        """Lines already encoded, without tags, to one client."""
        self._relays.append(Relay((client.conn,), data, self._storing))

    def relay(self, recipients: "Iterable[Client] | ChannelAudience", message: Message) -> None:
        """The same message to many clients: one encoding per tag variant, shared by its recipients.

        A recipient's variant depends only on which of ``TAG_GATES`` it negotiated (``Client.tag_gates``),
        so recipients are grouped by that; a message without tags has a single variant. This runs for
        every delivery, so it does no more per recipient than one lookup and one append; to a channel's
        audience (grouped already, and kept by the channel) it does nothing per recipient at all.
        """
        if isinstance(recipients, ChannelAudience):
            self._relay_to_audience(recipients, message)
            return
        variants = TagVariants(message)
        if not message.tags:
            self._relays.append(Relay([client.conn for client in recipients], variants.untagged, self._storing))
            return
        groups: dict[tuple[bool, ...], list["Connection"]] = {}
        for client in recipients:
            conns = groups.get(client.tag_gates)
            if conns is None:
                groups[client.tag_gates] = [client.conn]
            else:
                conns.append(client.conn)
        for gates, conns in groups.items():
            self._relays.append(Relay(conns, variants.for_gates(gates), self._storing))

    def _relay_to_audience(self, audience: ChannelAudience, message: Message) -> None:
        variants = TagVariants(message)
        for gates, conns in audience.groups.items():
            self._relays.append(Relay(conns, variants.for_gates(gates), self._storing, audience.skip, audience.groups))

    def relay_stored(self, sender: "Client", recipients: "Iterable[Client] | ChannelAudience", message: Message,
                     stored: "StoredMessage") -> None:
        """Relay a message that goes into the history: it is stored before anyone receives it, and if
        storing fails, nobody does and ``sender`` is told (see the module docstring)."""
        self.relay_stored_lines(sender, ((recipients, (message,)),), stored)

    def relay_stored_lines(self, sender: "Client",
                           deliveries: Iterable[tuple["Iterable[Client] | ChannelAudience", Sequence[Message]]],
                           stored: "StoredMessage") -> None:
        """``relay_stored`` for a message that takes several lines, which differ by recipient (a multiline
        batch to some, its lines one by one to others): each (recipients, lines) pair is relayed, and every
        one of those lines stands or falls with the one stored message."""
        self.stored.append(stored)
        self._stored_senders.append((sender, stored))
        self._storing = len(self._stored_senders) - 1
        try:
            for recipients, lines in deliveries:
                if not isinstance(recipients, ChannelAudience):
                    recipients = list(recipients)
                for line in lines:
                    self.relay(recipients, line)
        finally:
            self._storing = None

    def take_lines_from(self, other: "Outbox") -> None:
        """Append another outbox's lines to this one's (a history read's answer, once it is complete)."""
        self._relays.extend(other._relays)
        other._relays = []

    def rewrite_lines_for(self, conn: "Connection", rewrite: Callable[[list[bytes]], list[bytes]]) -> None:
        """Replace the lines bound for ``conn`` so far by ``rewrite(lines)`` (labeled-response wraps one
        command's replies: see ``commands/labels.py``). Their order is kept; other connections' lines are
        untouched, and the rewritten ones go after them, which no connection can tell. If one of them
        carried a stored message, the rewritten lines stand or fall with it."""
        lines: list[bytes] = []
        carried: int | None = None
        kept: list[Relay] = []
        for relay in self._relays:
            conns = relay.conns
            if relay.skip is not conn and conn in conns:
                lines.append(relay.data)
                carried = relay.stored if carried is None else carried
                conns = [other for other in conns if other is not conn]
            if conns:
                kept.append(relay._replace(conns=conns, family=None) if conns is not relay.conns else relay)
        self._relays = kept + [Relay([conn], data, carried) for data in rewrite(lines)]

    def take_relays(self, stored: bool = True) -> list[Relay]:
        """This command's lines, in order, for the sequencer (``gather_by_connection``). ``stored=False``:
        the batch's messages could not be stored; their lines become FAILs to the senders."""
        if not stored and self._stored_senders:
            self._refuse_stored_messages()
        relays, self._relays = self._relays, []
        return relays

    def _refuse_stored_messages(self) -> None:
        """Leave out every line that carries a stored message; where the first of a message's lines stood,
        its sender gets the FAIL instead."""
        relays: list[Relay] = []
        refused: set[int] = set()
        for relay in self._relays:
            if relay.stored is None:
                relays.append(relay)
            elif relay.stored not in refused:
                refused.add(relay.stored)
                relays.append(self._not_stored(relay.stored))
        # A message that had no recipient at all (nobody else in the channel) is refused all the same.
        relays.extend(self._not_stored(index) for index in range(len(self._stored_senders)) if index not in refused)
        self._relays = relays
        self._stored_senders = []

    def _not_stored(self, index: int) -> Relay:
        sender, message = self._stored_senders[index]
        fail = Message("FAIL", [message.command, NOT_STORED, middle_word(message.target), NOT_STORED_TEXT],
                       source=self.server_name)
        return Relay([sender.conn], fail.to_bytes())

    def take_after_delivery(self) -> list[Callable[[], None]]:
        """The actions to run once this outbox's lines are handed to the sockets (the sequencer runs them)."""
        actions, self.after_delivery = self.after_delivery, []
        return actions


class TagVariants:
    """One message's bytes for each tag variant: the line after the tags (``:source COMMAND params``) is
    formatted and encoded once, and each variant only puts the tags its clients negotiated before it. In a
    class where some use an IRCv3 client (server-time, message-tags) and some an older one, every message
    has two or three variants (measured with ``bench/chat_bench.py --caps``)."""

    __slots__ = ("tags", "untagged")

    def __init__(self, message: Message) -> None:
        self.tags = message.tags
        self.untagged = (format_untagged(message.command, message.params, message.source) + "\r\n").encode()

    def for_gates(self, gates: tuple[bool, ...]) -> bytes:
        """The bytes for clients with these ``TAG_GATES`` (``Client.tag_gates``)."""
        if not self.tags:
            return self.untagged
        allowed = _gated_caps(gates)
        if not allowed:  # a client without IRCv3 capabilities gets no tag at all
            return self.untagged
        tags = {key: value for key, value in self.tags.items() if tag_allowed(key, allowed)}
        return tag_section(tags).encode() + self.untagged if tags else self.untagged


@functools.lru_cache(maxsize=None)  # at most 2 ** len(TAG_GATES) entries
def _gated_caps(gates: tuple[bool, ...]) -> frozenset[str]:
    return frozenset(cap for cap, present in zip(TAG_GATES, gates) if present)


def gather_by_connection(relays: list[Relay]) -> dict["Connection", list[bytes]]:
    """Each connection's lines of a batch, in order, as few pieces as possible.

    Consecutive relays to one channel (the same ``family``) are gathered: each group of the channel
    gets the lines of all of them joined into one bytes object, shared by its members, and only a
    member that some of them skip (a sender without echo-message) gets a piece of its own. Since a
    channel's groups share no connection, no connection's order changes. So a batch of fifty messages
    to a channel of a hundred costs a hundred appends here, not five thousand.
    """
    pending: dict["Connection", list[bytes]] = {}
    start, count = 0, len(relays)
    while start < count:
        family = relays[start].family
        end = start + 1
        if family is not None:
            while end < count and relays[end].family is family:
                end += 1
        by_group: dict[int, list[Relay]] = {}
        for relay in relays[start:end]:
            by_group.setdefault(id(relay.conns), []).append(relay)
        for run in by_group.values():
            _add_run(pending, run)
        start = end
    return pending


def _add_run(pending: dict["Connection", list[bytes]], run: list[Relay]) -> None:
    """Relays to one group (or one relay): everyone gets them joined; a skipped member gets the ones it is
    not skipped by (nothing, for one relay)."""
    joined = run[0].data if len(run) == 1 else b"".join(relay.data for relay in run)
    skipped = {relay.skip for relay in run if relay.skip is not None}
    for conn in run[0].conns:
        data = b"".join(relay.data for relay in run if relay.skip is not conn) if conn in skipped else joined
        if not data:
            continue
        lines = pending.get(conn)
        if lines is None:
            pending[conn] = [data]
        else:
            lines.append(data)
