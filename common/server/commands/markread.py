"""MARKREAD (IRCv3 draft/read-marker), the part that runs under the state lock: the target and timestamp are
checked, the marker's owner and conversation are turned into keys, and the read or the update is queued in
``req.out.history_reads`` for the sequencer, which reads and writes the ``read_markers`` table
(``common.server.history_reads``).

A marker belongs to a person and a conversation: someone logged in by their account, so that it follows
them to another computer; a guest by nick and host (``history.marker_owner``). The conversation is keyed as
the history keys it (``history.target_key``): a channel by its casefolded name, a private chat by both nicks.
"""
from __future__ import annotations

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_channel_name, is_valid_channel, is_valid_nick
from common.protocol.message import Message, middle_word
from common.protocol.params import parse_timestamp
from common.server.commands.base import READ_MARKER_CAP, Request, server_message
from common.server.history import dm_key, fits_sqlite, marker_owner
from common.server.history_reads import save_read_marker, send_read_marker
from common.server.state import Client

SHOWN_TARGET_LENGTH = 64  # of a refused target echoed in a FAIL


def fail_markread(req: Request, code: str, *context: str) -> None:
    descriptions = {"NEED_MORE_PARAMS": "Not enough parameters",
                    "INVALID_PARAMS": "Invalid target or timestamp"}
    words = [middle_word(word[:SHOWN_TARGET_LENGTH]) for word in context]
    req.out.send(req.client, server_message(req, "FAIL", "MARKREAD", code, *words, descriptions[code]))


def owner_of(client: Client) -> str:
    return marker_owner(client.nick, client.host, client.account)


def conversation(req: Request, target: str) -> tuple[str, str] | None:
    """(key, target as shown) of a conversation the caller may mark: a channel that exists and that they
    are in or may see, or a valid nick (a private chat); None otherwise."""
    config = req.server.config
    if is_channel_name(target):
        if not is_valid_channel(target, config.channel_length):
            return None
        channel = req.state.find_channel(target)
        if channel is None or not channel.visible_to(req.client):
            return None
        return casefold(channel.name), channel.name
    if not is_valid_nick(target, config.nick_length):
        return None
    return dm_key(req.client.nick, target), target


def marker_recipients(req: Request) -> list[Client]:
    """Every connection of the caller's person that negotiated the capability: all those logged in to the
    same account, or for a guest the caller alone (a nick is held by one connection)."""
    client = req.client
    if client.account is None:
        return [client]
    account = casefold(client.account)
    return [other for other in req.state.registered
            if other.account is not None and casefold(other.account) == account and READ_MARKER_CAP in other.caps]


def handle_markread(req: Request, msg: Message) -> None:
    """``MARKREAD <target>`` asks for the marker; ``MARKREAD <target> timestamp=…`` moves it forward."""
    client = req.client
    if not req.server.history_enabled or READ_MARKER_CAP not in client.caps:
        req.reply(rpl.ERR_UNKNOWNCOMMAND, "MARKREAD", "Unknown command")
        return
    if not msg.params:
        fail_markread(req, "NEED_MORE_PARAMS")
        return
    target = msg.params[0]
    found = conversation(req, target)
    if found is None:
        fail_markread(req, "INVALID_PARAMS", target)
        return
    key, shown = found
    owner = owner_of(client)
    if len(msg.params) == 1:
        req.out.history_reads.append(lambda store, out: send_read_marker(store, out, client, owner, key, shown))
        return
    kind, _, value = msg.params[1].partition("=")
    time_ms = parse_timestamp(value) if kind == "timestamp" else None
    if time_ms is None or time_ms < 0 or not fits_sqlite(time_ms):
        fail_markread(req, "INVALID_PARAMS", target)
        return
    recipients = marker_recipients(req)
    req.out.history_reads.append(lambda store, out: save_read_marker(store, out, client, recipients, owner, key,
                                                                     shown, time_ms))


def wants_marker_on_join(req: Request) -> bool:
    return req.server.history_enabled and READ_MARKER_CAP in req.client.caps


def queue_marker_after_join(req: Request, channel_name: str) -> None:
    """IRCv3 read-marker: a client with the capability learns a channel's marker when it joins it, before
    the RPL_ENDOFNAMES of that JOIN (the spec says so), so this read sends both: the caller's NAMES left
    the 366 out (``send_names(…, end=False)``)."""
    client = req.client
    owner, key = owner_of(client), casefold(channel_name)

    def marker_then_end_of_names(store, out) -> None:
        send_read_marker(store, out, client, owner, key, channel_name)
        out.numeric(client, rpl.RPL_ENDOFNAMES, channel_name, "End of /NAMES list")

    req.out.history_reads.append(marker_then_end_of_names)
