"""Queries and small settings: WHO, WHOIS, ISON, USERHOST, AWAY, MOTD, LUSERS, VERSION and TIME (RFC 2812
§3.4, §3.6, §4).

Runs under the state lock; reads clients and channels, and changes only the caller's away message.
"""
from __future__ import annotations

import time

from common.protocol import numerics as rpl
from common.protocol.casemap import is_channel_name, mask_matches
from common.protocol.message import Message
from common.server.commands.base import (AWAYLEN, Request, err_no_such_nick, relay_to_peers_with_cap,
                                         send_isupport, send_lusers, send_motd, user_message)
from common.server.state import Channel, Client


def handle_who(req: Request, msg: Message) -> None:
    mask = msg.param(0, "*") or "*"
    state, viewer = req.state, req.client
    rows: list[tuple[Channel | None, Client]] = []
    channel = state.find_channel(mask) if is_channel_name(mask) else None
    if channel is not None:
        in_channel = viewer in channel.members
        rows = [(channel, member) for member in channel.members if in_channel or not member.is_invisible]
    elif not is_channel_name(mask):
        shares = state.peers_of(viewer) | {viewer}
        for client in state.registered_clients():
            if client.is_invisible and client not in shares:
                continue
            if mask in ("*", "0") or mask_matches(mask, client.nick) or mask_matches(mask, client.host) \
                    or mask_matches(mask, client.realname) or mask_matches(mask, client.prefix):
                rows.append((next((c for c in client.channels.values() if viewer in c.members), None), client))
    multi_prefix = "multi-prefix" in viewer.caps
    for shared, client in rows:
        flags = "G" if client.away is not None else "H"
        if client.is_oper:
            flags += "*"
        if shared is not None:
            flags += shared.member_prefix(client, multi_prefix)
        req.reply(rpl.RPL_WHOREPLY, shared.name if shared else "*", client.username, client.host, req.server.config.name,
                  client.nick, flags, f"0 {client.realname}")
    req.reply(rpl.RPL_ENDOFWHO, mask, "End of WHO list")


def handle_whois(req: Request, msg: Message) -> None:
    nick = msg.params[-1] if msg.params else ""
    if not nick:
        req.reply(rpl.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    target = req.state.find_client(nick.split(",")[0])
    if target is None or not target.registered:
        err_no_such_nick(req, nick)
        req.reply(rpl.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
        return
    multi_prefix = "multi-prefix" in req.client.caps
    req.reply(rpl.RPL_WHOISUSER, target.nick, target.username, target.host, "*", target.realname)
    channels = [c.member_prefix(target, multi_prefix) + c.name for c in target.channels.values()]
    if channels:
        req.reply(rpl.RPL_WHOISCHANNELS, target.nick, " ".join(channels))
    req.reply(rpl.RPL_WHOISSERVER, target.nick, req.server.config.name, f"{req.server.config.network} chat server")
    if target.account is not None:
        req.reply(rpl.RPL_WHOISACCOUNT, target.nick, target.account, "is logged in as")
    if target.is_oper:
        req.reply(rpl.RPL_WHOISOPERATOR, target.nick, "is a teacher" if target.is_teacher else "is an IRC operator")
    if target.away is not None:
        req.reply(rpl.RPL_AWAY, target.nick, target.away)
    idle = int(time.monotonic() - target.last_spoke)
    req.reply(rpl.RPL_WHOISIDLE, target.nick, str(idle), str(int(target.signon)), "seconds idle, signon time")
    req.reply(rpl.RPL_ENDOFWHOIS, target.nick, "End of /WHOIS list")


def handle_ison(req: Request, msg: Message) -> None:
    present = []
    for nick in " ".join(msg.params).split():
        client = req.state.find_client(nick)
        if client is not None and client.registered:
            present.append(client.nick)
    req.reply(rpl.RPL_ISON, " ".join(present))


def handle_userhost(req: Request, msg: Message) -> None:
    replies = []
    for nick in msg.params[:5]:
        client = req.state.find_client(nick)
        if client is not None and client.registered:
            oper = "*" if client.is_oper else ""
            away = "-" if client.away is not None else "+"
            replies.append(f"{client.nick}{oper}={away}{client.username}@{client.host}")
    req.reply(rpl.RPL_USERHOST, " ".join(replies))


def handle_away(req: Request, msg: Message) -> None:
    client = req.client
    text = msg.param(0)[:AWAYLEN]
    if text:
        client.away = text
        req.reply(rpl.RPL_NOWAWAY, "You have been marked as being away")
        relay_to_peers_with_cap(req, "away-notify", user_message(client, "AWAY", text))
    else:
        was_away = client.away is not None
        client.away = None
        req.reply(rpl.RPL_UNAWAY, "You are no longer marked as being away")
        if was_away:
            relay_to_peers_with_cap(req, "away-notify", user_message(client, "AWAY"))


def handle_motd(req: Request, msg: Message) -> None:
    send_motd(req)


def handle_lusers(req: Request, msg: Message) -> None:
    send_lusers(req)


def handle_version(req: Request, msg: Message) -> None:
    req.reply(rpl.RPL_VERSION, req.server.version, req.server.config.name, "classchat IRC server")
    send_isupport(req)


def handle_time(req: Request, msg: Message) -> None:
    req.reply(rpl.RPL_TIME, req.server.config.name, time.strftime("%A %B %d %Y -- %H:%M:%S %z"))
