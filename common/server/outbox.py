"""What one command sends: collected while the state lock is held, delivered by the sequencer after it.

A relayed message is encoded once per tag variant (the tags a recipient negotiated decide which it
gets) and the same bytes object goes to every recipient of that variant. The outbox keeps (connections,
bytes) pairs in order; the sequencer gathers the pairs of a whole batch of commands per connection, so
each connection gets one ``send()`` per batch, however many messages the batch held.

A message that is stored in the history is relayed with ``relay_stored()``: its lines are kept apart
(each line marked with the message it carries, and the message with its sender), because it may be delivered only once it is stored. When the
sequencer could not store the batch, ``commit_into(pending, stored=False)`` leaves those lines out and
gives each sender, in their place, ``FAIL <command> MESSAGE_NOT_SENT <target> :…`` (IRCv3 standard
replies; MESSAGE_NOT_SENT is classchat's own code: the message reached nobody and is not in the history,
so the client may send it again). Every other line of the batch is delivered as usual.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from common.protocol.message import Message, middle_word

if TYPE_CHECKING:
    from common.server.connection import Connection
    from common.server.history import ChannelSnapshot, HistoryStore, StoredMessage
    from common.server.state import Client

# Which capability lets a client receive each server tag; client-only (+) and other tags need message-tags.
# draft/multiline-concat goes only into the lines of a multiline batch, to clients that negotiated batch too.
TAG_CAPABILITIES = {"time": "server-time", "batch": "batch", "account": "account-tag",
                    "draft/multiline-concat": "batch"}
TAG_GATES = ("server-time", "batch", "message-tags", "account-tag")  # every capability deciding a tag variant
NOT_STORED = "MESSAGE_NOT_SENT"
NOT_STORED_TEXT = "Your message was not sent: the server could not save it"


def tag_allowed(tag: str, caps: set[str] | frozenset[str]) -> bool:
    return TAG_CAPABILITIES.get(tag, "message-tags") in caps


def tag_gates(caps: set[str]) -> tuple[bool, ...]:
    """Which tag variant a client with these capabilities gets (kept on the client, see ``Client``)."""
    return tuple(cap in caps for cap in TAG_GATES)


class Outbox:
    """Collects lines and their connections; the sequencer stores what it carries, then takes the lines
    with ``commit_into()``.

    With history on, it also carries what to store (``stored``, ``saved_channels``) and what to read
    from the history once that is stored (``history_reads``); the sequencer does both before committing,
    then runs ``after_delivery``. ``stored`` is filled by ``relay_stored()``, which also records which
    lines carry each stored message.
    """

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        # (connections, bytes, which stored message they carry: an index into _stored_senders, or None)
        self._relays: list[tuple[list["Connection"], bytes, int | None]] = []
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
        """A numeric reply from the server, addressed to the client's nick (``*`` before it has one).

        Replies often echo what the client sent (a channel name, a nick); a word that cannot stand in the
        middle of a line (empty, with a space, or starting with ':') is shown as ``*`` instead."""
        *middle, last = [client.nick, *params]
        self.send(client, Message(code, [*map(middle_word, middle), last], source=self.server_name))

    def relay(self, recipients: Iterable["Client"], message: Message) -> None:
        """The same message to many clients: one encoding per tag variant, shared by its recipients.

        A recipient's variant depends only on which of ``TAG_GATES`` it negotiated (``Client.tag_gates``),
        so recipients are grouped by that; a message without tags has a single variant. This runs for
        every delivery, so it does no more per recipient than one lookup and one append.
        """
        if not message.tags:
            self._relays.append(([client.conn for client in recipients], message.to_bytes(), self._storing))
            return
        groups: dict[tuple[bool, ...], list["Connection"]] = {}
        for client in recipients:
            conns = groups.get(client.tag_gates)
            if conns is None:
                groups[client.tag_gates] = [client.conn]
            else:
                conns.append(client.conn)
        for gates, conns in groups.items():
            allowed = {cap for cap, present in zip(TAG_GATES, gates) if present}
            tags = {key: value for key, value in message.tags.items() if tag_allowed(key, allowed)}
            self._relays.append((conns, Message(message.command, message.params, message.source, tags).to_bytes(),
                                 self._storing))

    def relay_stored(self, sender: "Client", recipients: Iterable["Client"], message: Message,
                     stored: "StoredMessage") -> None:
        """Relay a message that goes into the history: it is stored before anyone receives it, and if
        storing fails, nobody does and ``sender`` is told (see the module docstring)."""
        self.relay_stored_lines(sender, [(recipients, [message])], stored)

    def relay_stored_lines(self, sender: "Client", deliveries: Iterable[tuple[Iterable["Client"], list[Message]]],
                           stored: "StoredMessage") -> None:
        """``relay_stored`` for a message that takes several lines, which differ by recipient (a multiline
        batch to some, its lines one by one to others): each (recipients, lines) pair is relayed, and every
        one of those lines stands or falls with the one stored message."""
        self.stored.append(stored)
        self._stored_senders.append((sender, stored))
        self._storing = len(self._stored_senders) - 1
        try:
            for recipients, lines in deliveries:
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
        kept: list[tuple[list["Connection"], bytes, int | None]] = []
        for conns, data, stored in self._relays:
            if conn in conns:
                lines.append(data)
                carried = stored if carried is None else carried
                conns = [other for other in conns if other is not conn]
            if conns:
                kept.append((conns, data, stored))
        self._relays = kept + [([conn], data, carried) for data in rewrite(lines)]

    def commit_into(self, pending: dict["Connection", list[bytes]], stored: bool = True) -> None:
        """Add this command's lines to each connection's list, in order (the sequencer's per-batch lists).
        ``stored=False``: the batch's messages could not be stored; their lines become FAILs to the senders."""
        if not stored and self._stored_senders:
            self._refuse_stored_messages()
        for conns, data, _stored in self._relays:
            for conn in conns:
                lines = pending.get(conn)
                if lines is None:
                    pending[conn] = [data]
                else:
                    lines.append(data)
        self._relays.clear()

    def _refuse_stored_messages(self) -> None:
        """Leave out every line that carries a stored message; where the first of a message's lines stood,
        its sender gets the FAIL instead."""
        relays: list[tuple[list["Connection"], bytes, int | None]] = []
        refused: set[int] = set()
        for conns, data, stored in self._relays:
            if stored is None:
                relays.append((conns, data, None))
            elif stored not in refused:
                refused.add(stored)
                relays.append(self._not_stored(stored))
        # A message that had no recipient at all (nobody else in the channel) is refused all the same.
        relays.extend(self._not_stored(index) for index in range(len(self._stored_senders)) if index not in refused)
        self._relays = relays
        self._stored_senders = []

    def _not_stored(self, index: int) -> tuple[list["Connection"], bytes, None]:
        sender, message = self._stored_senders[index]
        fail = Message("FAIL", [message.command, NOT_STORED, middle_word(message.target), NOT_STORED_TEXT],
                       source=self.server_name)
        return [sender.conn], fail.to_bytes(), None

    def take_after_delivery(self) -> list[Callable[[], None]]:
        """The actions to run once this outbox's lines are handed to the sockets (the sequencer runs them)."""
        actions, self.after_delivery = self.after_delivery, []
        return actions
