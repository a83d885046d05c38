"""What one command sends: collected while the state lock is held, delivered by the sequencer after it.

A relayed message is encoded once per tag variant (the tags a recipient negotiated decide which it
gets) and the same bytes object goes to every recipient of that variant. The outbox keeps (connections,
bytes) pairs in order; the sequencer gathers the pairs of a whole batch of commands per connection, so
each connection gets one ``send()`` per batch, however many messages the batch held.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from common.protocol.message import Message, middle_word

if TYPE_CHECKING:
    from common.server.connection import Connection
    from common.server.history import ChannelSnapshot, HistoryStore, StoredMessage
    from common.server.state import Client

# Which capability lets a client receive each server tag; client-only (+) and other tags need message-tags.
TAG_CAPABILITIES = {"time": "server-time", "batch": "batch"}
TAG_GATES = ("server-time", "batch", "message-tags")  # every capability that decides a tag variant


def tag_allowed(tag: str, caps: set[str] | frozenset[str]) -> bool:
    return TAG_CAPABILITIES.get(tag, "message-tags") in caps


def tag_gates(caps: set[str]) -> tuple[bool, ...]:
    """Which tag variant a client with these capabilities gets (kept on the client, see ``Client``)."""
    return tuple(cap in caps for cap in TAG_GATES)


class Outbox:
    """Collects lines and their connections; the sequencer stores what it carries, then takes the lines
    with ``commit_into()``.

    With history on, it also carries what to store (``stored``, ``saved_channels``) and what to read
    from the history once that is stored (``history_reads``); the sequencer does both before committing.
    """

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        self._relays: list[tuple[list["Connection"], bytes]] = []
        self.stored: list["StoredMessage"] = []
        self.saved_channels: list["ChannelSnapshot"] = []
        self.forgotten_channels: list[str] = []
        self.history_reads: list[Callable[["HistoryStore", "Outbox"], None]] = []
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
            self._relays.append(([client.conn for client in recipients], message.to_bytes()))
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
            self._relays.append((conns, Message(message.command, message.params, message.source, tags).to_bytes()))

    def rewrite_lines_for(self, conn: "Connection", rewrite: Callable[[list[bytes]], list[bytes]]) -> None:
        """Replace the lines bound for ``conn`` so far by ``rewrite(lines)`` (labeled-response wraps one
        command's replies: see ``commands/labels.py``). Their order is kept; other connections' lines are
        untouched, and the rewritten ones go after them, which no connection can tell."""
        lines: list[bytes] = []
        kept: list[tuple[list["Connection"], bytes]] = []
        for conns, data in self._relays:
            if conn in conns:
                lines.append(data)
                conns = [other for other in conns if other is not conn]
            if conns:
                kept.append((conns, data))
        self._relays = kept + [([conn], data) for data in rewrite(lines)]

    def commit_into(self, pending: dict["Connection", list[bytes]]) -> None:
        """Add this command's lines to each connection's list, in order (the sequencer's per-batch lists)."""
        for conns, data in self._relays:
            for conn in conns:
                lines = pending.get(conn)
                if lines is None:
                    pending[conn] = [data]
                else:
                    lines.append(data)
        self._relays.clear()

    def run_after_delivery(self) -> None:
        actions, self.after_delivery = self.after_delivery, []
        for action in actions:
            action()
