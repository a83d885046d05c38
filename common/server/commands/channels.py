"""Channel commands: JOIN, PART, TOPIC, NAMES, INVITE and KICK (RFC 2812 §3.2); LIST is in ``listing``.

Runs under the state lock; touches channels and their members through ``req.state``. The replay a JOIN
asks for is only queued here (``Outbox.history_reads``): the sequencer runs it, see ``history_reads``.
"""
from __future__ import annotations

import hmac
import time

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_valid_channel
from common.protocol.message import Message
from common.server.commands.base import (CHATHISTORY_CAP, KICKLEN, MAX_KEY_LENGTH, MAX_TARGETS, Request,
                                         channel_for_operator, distinct_targets, err_chanop_needed,
                                         err_need_more_params, err_no_such_channel, err_no_such_nick,
                                         err_not_on_channel, relay_to_channel, remember_channel, send_names,
                                         send_topic, user_message)
from common.server.commands.classroom import send_classroom_on_join
from common.server.commands.markread import queue_marker_after_join, wants_marker_on_join
from common.server.history import Viewer
from common.server.history_reads import replay
from common.server.state import Channel


def handle_join(req: Request, msg: Message) -> None:
    client = req.client
    if msg.params[0] == "0":
        for channel in list(client.channels.values()):
            relay_to_channel(req, channel, user_message(client, "PART", channel.name, "Left all channels"))
            req.state.part(client, channel)
        return
    keys = msg.param(1).split(",")
    for index, name in enumerate(msg.params[0].split(",")):
        if name:
            join_one(req, name, keys[index] if index < len(keys) else "")


def join_one(req: Request, name: str, key: str) -> None:
    client, state, config = req.client, req.state, req.server.config
    if not is_valid_channel(name, config.channel_length):
        if req.reply(rpl.ERR_NOSUCHCHANNEL, name, "Invalid channel name"):
            req.server.log_event(f"refused: channel name {name!r}", client)
        return
    channel = state.find_channel(name)
    if channel is not None and client in channel.members:
        return
    if len(client.channels) >= config.max_channels_per_user:
        if req.reply(rpl.ERR_TOOMANYCHANNELS, name, "You have joined too many channels"):
            req.server.log_event(f"refused: JOIN {name}, already in {len(client.channels)} channels", client)
        return
    if channel is None:
        channel = new_channel(req, name)
        if channel is None:
            return
    elif not client.is_oper and not may_enter(req, channel, key):
        return
    state.join(client, channel)
    # IRCv3 extended-join: who asked for it also learns the joiner's account ("*": none) and real name.
    extended = [member for member in channel.members if "extended-join" in member.caps]
    plain = [member for member in channel.members if "extended-join" not in member.caps]
    req.out.relay(extended, user_message(client, "JOIN", channel.name, client.account or "*", client.realname))
    req.out.relay(plain, user_message(client, "JOIN", channel.name))
    if client.away is not None:
        away = user_message(client, "AWAY", client.away)
        req.out.relay([m for m in channel.members if m is not client and "away-notify" in m.caps], away)
    if channel.topic:
        send_topic(req, channel)
    marker = wants_marker_on_join(req)
    send_names(req, channel, end=not marker)
    if marker:  # the marker, then the 366 it must precede; before the replay: the client knows what it read
        queue_marker_after_join(req, channel.name)
    send_classroom_on_join(req, channel)  # raised hands and the open poll
    if req.server.history_enabled and req.server.config.replay > 0 and CHATHISTORY_CAP not in client.caps:
        limit, name = req.server.config.replay, channel.name
        viewer = Viewer(client.nick, client.host, channel.is_operator(client), client.account)
        req.out.history_reads.append(lambda store, out: replay(store, out, client, name, limit, viewer))


def new_channel(req: Request, name: str) -> Channel | None:
    """A channel the caller makes by joining it, or None (told why) when the students of its address already
    made ``max_channels_made`` channels that still exist: one student cannot fill the server with channels."""
    client, config = req.client, req.server.config
    address = client.conn.address[0]
    if client.is_oper or address in config.limit_exempt:
        return Channel(name=name)
    if req.state.channels_made_from(address) >= config.max_channels_made:
        if req.reply(rpl.ERR_TOOMANYCHANNELS, name, f"Your computer has made {config.max_channels_made} channels "
                     "already; join one of them or ask the teacher"):
            req.server.log_event(f"refused: making {name}, too many channels made", client)
        return None
    return Channel(name=name, creator_address=address)


def may_enter(req: Request, channel: Channel, key: str) -> bool:
    """The checks of RFC 2812 §3.2.1 in their usual order; an invitation lifts +i, +l and bans, an invite
    exception (+I) lifts +i, and a ban exception (+e) lifts a ban (``Channel.is_banned``)."""
    client = req.client
    invited = casefold(client.nick) in channel.invited
    if "i" in channel.modes and not invited and not channel.is_invite_excepted(client):
        why = "the lesson has ended; the teacher will open the channel again" if channel.is_class else "invite only"
        req.reply(rpl.ERR_INVITEONLYCHAN, channel.name, f"Cannot join channel (+i): {why}")
        return False
    if channel.is_banned(client) and not invited:
        req.reply(rpl.ERR_BANNEDFROMCHAN, channel.name, "Cannot join channel (+b)")
        return False
    # A key longer than any key MODE +k accepts is wrong without comparing it (and is never repeated back).
    if channel.key is not None and (len(key) > MAX_KEY_LENGTH
                                    or not hmac.compare_digest(key.encode(), channel.key.encode())):
        req.reply(rpl.ERR_BADCHANNELKEY, channel.name, "Cannot join channel (+k)")
        return False
    if channel.limit is not None and len(channel.members) >= channel.limit and not invited:
        req.reply(rpl.ERR_CHANNELISFULL, channel.name, "Cannot join channel (+l)")
        return False
    return True


def handle_part(req: Request, msg: Message) -> None:
    client = req.client
    reason = msg.param(1)
    for name in filter(None, msg.params[0].split(",")):
        channel = req.state.find_channel(name)
        if channel is None:
            err_no_such_channel(req, name)
        elif client not in channel.members:
            err_not_on_channel(req, channel.name)
        else:
            params = [channel.name, reason] if reason else [channel.name]
            relay_to_channel(req, channel, user_message(client, "PART", *params))
            req.state.part(client, channel)


def handle_topic(req: Request, msg: Message) -> None:
    client = req.client
    channel = req.state.find_channel(msg.params[0])
    if channel is None:
        err_no_such_channel(req, msg.params[0])
        return
    if len(msg.params) < 2:
        send_topic(req, channel)
        return
    if client not in channel.members and not client.is_oper:
        err_not_on_channel(req, channel.name)
        return
    if "t" in channel.modes and not channel.is_operator(client):
        err_chanop_needed(req, channel.name)
        return
    channel.topic = msg.params[1][:req.server.config.topic_length]
    channel.topic_set_by = client.nick
    channel.topic_set_at = int(time.time())
    relay_to_channel(req, channel, user_message(client, "TOPIC", channel.name, channel.topic))
    remember_channel(req, channel)
    if channel.is_operator(client):
        req.server.audit(client, "topic", channel.name, channel.topic)


def handle_names(req: Request, msg: Message) -> None:
    """NAMES for each channel of a comma list (RFC 2812 §3.2.5): its 353s and a 366 each, a 366 alone for a
    channel that does not exist or is hidden from the caller. At most ``MAX_TARGETS`` channels (TARGMAX)."""
    if not msg.params or not msg.params[0]:
        for channel in list(req.client.channels.values()):
            send_names(req, channel)
        return
    names = distinct_targets(msg.params[0])
    if len(names) > MAX_TARGETS:
        req.reply(rpl.ERR_TOOMANYTARGETS, names[MAX_TARGETS], f"Too many targets. The maximum is {MAX_TARGETS}")
    for name in names[:MAX_TARGETS]:
        channel = req.state.find_channel(name)
        if channel is None:
            req.reply(rpl.RPL_ENDOFNAMES, name, "End of /NAMES list")
        else:
            send_names(req, channel)


def handle_invite(req: Request, msg: Message) -> None:
    client = req.client
    if not msg.params:
        list_invitations(req)
        return
    if len(msg.params) < 2:
        err_need_more_params(req, "INVITE")
        return
    nick, channel_name = msg.params[0], msg.params[1]
    target = req.state.find_client(nick)
    if target is None or not target.registered:
        err_no_such_nick(req, nick)
        return
    channel = req.state.find_channel(channel_name)
    if channel is not None:
        if client not in channel.members and not client.is_oper:
            err_not_on_channel(req, channel.name)
            return
        if target in channel.members:
            req.reply(rpl.ERR_USERONCHANNEL, target.nick, channel.name, "is already on channel")
            return
        if "i" in channel.modes and not channel.is_operator(client):
            err_chanop_needed(req, channel.name)
            return
        channel.invited.add(casefold(target.nick))
        channel_name = channel.name
    req.reply(rpl.RPL_INVITING, target.nick, channel_name)
    req.out.send(target, user_message(client, "INVITE", target.nick, channel_name))
    if target.away is not None:
        req.reply(rpl.RPL_AWAY, target.nick, target.away)


def list_invitations(req: Request) -> None:
    """INVITE without parameters: the channels the caller is invited to and has not joined yet
    (modern.ircdocs.horse "INVITE message", RPL_INVITELIST)."""
    folded = casefold(req.client.nick)
    for channel in list(req.state.channels.values()):
        if folded in channel.invited:
            req.reply(rpl.RPL_INVITELIST, channel.name)
    req.reply(rpl.RPL_ENDOFINVITELIST, "End of /INVITE list")


def handle_kick(req: Request, msg: Message) -> None:
    """KICK (RFC 2812 §3.2.8): one channel and several users, or as many channels as users, paired in
    order. At most ``MAX_TARGETS`` users a line (TARGMAX KICK); the rest are ignored."""
    channel_names = msg.params[0].split(",")
    nicks = msg.params[1].split(",")
    if len(channel_names) != 1 and len(channel_names) != len(nicks):
        err_need_more_params(req, "KICK")
        return
    reason = (msg.param(2) or req.client.nick)[:KICKLEN]
    for index, nick in enumerate(nicks[:MAX_TARGETS]):
        name = channel_names[index if len(channel_names) > 1 else 0]
        if nick and name:
            kick_one(req, name, nick, reason)


def kick_one(req: Request, channel_name: str, nick: str, reason: str) -> None:
    client = req.client
    channel = channel_for_operator(req, channel_name)
    if channel is None:
        return
    target = req.state.find_client(nick)
    if target is None or target not in channel.members:
        req.reply(rpl.ERR_USERNOTINCHANNEL, nick, channel.name, "They aren't on that channel")
        return
    relay_to_channel(req, channel, user_message(client, "KICK", channel.name, target.nick, reason))
    req.state.part(target, channel)
    req.server.audit(client, "kick", f"{channel.name} {target.nick}", reason)
