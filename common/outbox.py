"""What one command sends: collected while the state lock is held, delivered by the sequencer after it.

A relayed message is encoded once per tag variant (the tags a recipient negotiated decide which it
gets) and the same bytes object goes to every recipient of that variant. Lines bound for one connection
are joined, so each connection gets one ``send()`` per command.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from common.message import Message, middle_word

if TYPE_CHECKING:
    from common.connection import Connection
    from common.history import ChannelSnapshot, HistoryStore, StoredMessage
    from common.server_state import Client

# Which capability lets a client receive each server tag; client-only (+) and other tags need message-tags.
TAG_CAPABILITIES = {"time": "server-time", "batch": "batch"}
TAG_GATES = ("server-time", "batch", "message-tags")  # every capability that decides a tag variant


def tag_allowed(tag: str, caps: set[str] | frozenset[str]) -> bool:
    return TAG_CAPABILITIES.get(tag, "message-tags") in caps


class Outbox:
    """Collects lines per connection; the sequencer stores what it carries, then ``commit()``s the lines.

    With history on, it also carries what to store (``stored``, ``saved_channels``) and what to read
    from the history once that is stored (``history_reads``); the sequencer does both before ``commit()``.
    """

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        self._lines: dict["Connection", list[bytes]] = {}
        self._committed: list["Connection"] = []
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

        A recipient's variant depends only on which of ``TAG_GATES`` it negotiated, so that is the key; a
        message without tags has a single variant.
        """
        lines = self._lines
        if not message.tags:
            data = message.to_bytes()
            for client in recipients:
                lines.setdefault(client.conn, []).append(data)
            return
        encoded: dict[tuple[bool, ...], bytes] = {}
        for client in recipients:
            caps = client.caps
            gates = tuple(cap in caps for cap in TAG_GATES)
            data = encoded.get(gates)
            if data is None:
                allowed = {cap for cap, present in zip(TAG_GATES, gates) if present}
                tags = {key: value for key, value in message.tags.items() if tag_allowed(key, allowed)}
                data = encoded[gates] = Message(message.command, message.params, message.source, tags).to_bytes()
            lines.setdefault(client.conn, []).append(data)

    def commit(self) -> None:
        """Move the lines into the connections' buffers (the sequencer does, in the server's order)."""
        for conn, lines in self._lines.items():
            conn.enqueue(lines[0] if len(lines) == 1 else b"".join(lines))
            self._committed.append(conn)
        self._lines.clear()

    def take_committed(self) -> list["Connection"]:
        """The connections that ``commit()`` gave lines to (each once), forgetting them."""
        committed, self._committed = self._committed, []
        return committed

    def run_after_delivery(self) -> None:
        actions, self.after_delivery = self.after_delivery, []
        for action in actions:
            action()
