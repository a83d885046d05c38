"""What one command sends: collected while the state lock is held, delivered by the sequencer after it.

A relayed message is encoded once per tag variant (the tags a recipient negotiated decide which it
gets) and the same bytes object goes to every recipient of that variant. Lines bound for one connection
are joined, so each connection gets one ``send()`` per command.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterable

from common.message import Message

if TYPE_CHECKING:
    from common.connection import Connection
    from common.history import ChannelSnapshot, HistoryStore, StoredMessage
    from common.server_state import Client

# Which capability lets a client receive each server tag; client-only (+) and other tags need message-tags.
TAG_CAPABILITIES = {"time": "server-time", "batch": "batch"}


def tag_allowed(tag: str, caps: set[str]) -> bool:
    return TAG_CAPABILITIES.get(tag, "message-tags") in caps


def tags_for(client: "Client", tags: dict[str, str]) -> dict[str, str]:
    """The subset of ``tags`` that ``client`` negotiated a capability for."""
    return {key: value for key, value in tags.items() if tag_allowed(key, client.caps)}


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
        if message.tags:
            message = replace(message, tags=tags_for(client, message.tags))
        self._lines.setdefault(client.conn, []).append(message.to_bytes())

    def numeric(self, client: "Client", code: str, *params: str) -> None:
        """A numeric reply from the server, addressed to the client's nick (``*`` before it has one)."""
        self.send(client, Message(code, [client.nick, *params], source=self.server_name))

    def relay(self, recipients: Iterable["Client"], message: Message) -> None:
        """The same message to many clients: one encoding per tag variant, shared by its recipients."""
        encoded: dict[frozenset[str], bytes] = {}
        for client in recipients:
            allowed = frozenset(key for key in message.tags if tag_allowed(key, client.caps))
            data = encoded.get(allowed)
            if data is None:
                variant = replace(message, tags={key: message.tags[key] for key in message.tags if key in allowed})
                data = encoded[allowed] = variant.to_bytes()
            self._lines.setdefault(client.conn, []).append(data)

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
