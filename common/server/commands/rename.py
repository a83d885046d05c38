"""RENAME (IRCv3 draft/channel-rename): a channel operator gives the channel a new name, keeping its members,
modes, lists and topic.

Runs under the state lock. Members with the ``draft/channel-rename`` capability get ``RENAME``; the others
see the channel left (``PART``) and the new one joined (``JOIN``, topic and NAMES), as the specification
asks. The settings move to the new name in the history; stored messages stay under the old one.
"""
from __future__ import annotations

from common.protocol.casemap import is_valid_channel
from common.protocol.message import Message
from common.server.commands.base import (KICKLEN, Request, channel_for_operator, remember_channel, send_names,
                                         send_topic, server_message, user_message)
from common.server.state import Channel

RENAME_CAP = "draft/channel-rename"


def handle_rename(req: Request, msg: Message) -> None:
    client, state = req.client, req.state
    old_name, new_name = msg.params[0], msg.params[1]
    reason = msg.param(2)[:KICKLEN]
    channel = channel_for_operator(req, old_name)
    if channel is None:
        return
    if not is_valid_channel(new_name, req.server.config.channel_length):
        fail(req, "CANNOT_RENAME", channel.name, "*", "The new name is not a valid channel name")
        return
    holder = state.find_channel(new_name)
    if holder is not None and holder is not channel:
        fail(req, "CHANNEL_NAME_IN_USE", channel.name, holder.name, "A channel with that name already exists")
        return
    old_name = channel.name
    same_key = holder is channel  # a change of case only
    state.rename_channel(channel, new_name)
    with_cap = [member for member in channel.members if RENAME_CAP in member.caps]
    req.out.relay(with_cap, user_message(client, "RENAME", old_name, channel.name, reason))
    why = f"Channel renamed to {channel.name}" + (f": {reason}" if reason else "")
    part = user_message(client, "PART", old_name, why)
    for member in channel.members:
        if RENAME_CAP not in member.caps:
            show_as_rejoined(Request(req.server, member, req.out), channel, part)
    if channel.persistent and req.server.history_enabled:
        if not same_key:
            req.out.forgotten_channels.append(old_name)
        remember_channel(req, channel)
    req.server.audit(client, "rename", old_name, f"{channel.name} {reason}".strip())


def fail(req: Request, code: str, old_name: str, new_name: str, description: str) -> None:
    """``FAIL RENAME <code> <old> <new> :<description>`` (the specification's standard replies)."""
    req.out.send(req.client, server_message(req, "FAIL", "RENAME", code, old_name, new_name, description))


def show_as_rejoined(member_req: Request, channel: Channel, part: Message) -> None:
    """What a member without the capability sees: it left the old name and joined the new one."""
    member = member_req.client
    member_req.out.send(member, part)
    extended = [member.account or "*", member.realname] if "extended-join" in member.caps else []
    member_req.out.send(member, user_message(member, "JOIN", channel.name, *extended))
    if channel.topic:
        send_topic(member_req, channel)
    send_names(member_req, channel)
