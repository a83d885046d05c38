"""Queries and small settings: WHO (with WHOX), WHOIS, ISON, USERHOST, AWAY, MOTD, LUSERS, VERSION and
TIME (RFC 2812 §3.4, §3.6, §4; WHOX as ircv3.net and modern.ircdocs.horse describe it).

Runs under the state lock; reads clients and channels, and changes only the caller's away message.
"""
from __future__ import annotations

import time

from common.protocol import numerics as rpl
from common.protocol.casemap import is_channel_name, mask_matches
from common.protocol.message import Message
from common.protocol.params import MAX_MASK_LENGTH, parse_count
from common.server.commands.base import (AWAYLEN, Request, err_no_such_nick, relay_to_peers_with_cap,
                                         send_isupport, send_lusers, send_motd, user_message)
from common.server.state import Channel, Client


# At most this many users answer one WHO mask (a channel's WHO lists all its visible members).
WHO_LIMIT = 200
# WHOX fields (ircv3.net "WHOX", modern.ircdocs.horse "WHO"): 354 gives the asked ones in this order.
WHOX_FIELDS = "tcuihsnfdlaor"


def handle_who(req: Request, msg: Message) -> None:
    """WHO <mask> [o] or WHOX: WHO <mask> [o]%<fields>[,<token>]. +i hides a user from masks and channels the
    caller is not in, never from a query naming its nick (modern.ircdocs.horse "WHO")."""
    mask = msg.param(0, "*") or "*"
    flags, whox, fields_and_token = msg.param(1).partition("%")
    fields, _, token = fields_and_token.partition(",")
    fields = "".join(field for field in WHOX_FIELDS if field in fields)
    token = token if parse_count(token, 0, 999) is not None else "0"
    multi_prefix = "multi-prefix" in req.client.caps
    for shared, client in who_rows(req, mask, opers_only="o" in flags):
        if whox:
            values = whox_values(req, shared, client, multi_prefix, token)
            req.reply(rpl.RPL_WHOSPCRPL, *(values[field] for field in fields))
        else:
            req.reply(rpl.RPL_WHOREPLY, shared.name if shared else "*", client.username, client.host,
                      req.server.config.name, client.nick, who_flags(shared, client, multi_prefix),
                      f"0 {client.realname}")
    req.reply(rpl.RPL_ENDOFWHO, mask if len(mask) <= MAX_MASK_LENGTH else "*", "End of WHO list")


def who_rows(req: Request, mask: str, opers_only: bool) -> list[tuple[Channel | None, Client]]:
    """Who a WHO mask names (only the operators with ``opers_only``), each with a channel it shares with the
    caller (or None)."""
    state, viewer = req.state, req.client
    if is_channel_name(mask):
        channel = state.find_channel(mask)
        if channel is None:
            return []
        in_channel = viewer in channel.members
        if not channel.visible_to(viewer):
            return []
        return [(channel, member) for member in channel.members
                if (in_channel or not member.is_invisible) and (member.is_oper or not opers_only)]
    named = state.find_client(mask)
    if named is not None and named.registered:
        return [(shared_channel(viewer, named), named)] if named.is_oper or not opers_only else []
    rows: list[tuple[Channel | None, Client]] = []
    shares = state.peers_of(viewer) | {viewer}
    for client in state.registered_clients():
        if (client.is_invisible and client not in shares) or (opers_only and not client.is_oper):
            continue
        if mask in ("*", "0") or mask_matches(mask, client.nick) or mask_matches(mask, client.host) \
                or mask_matches(mask, client.realname) or mask_matches(mask, client.prefix):
            rows.append((shared_channel(viewer, client), client))
            if len(rows) >= WHO_LIMIT:
                break
    return rows


def shared_channel(viewer: Client, client: Client) -> Channel | None:
    return next((channel for channel in client.channels.values() if viewer in channel.members), None)


def who_flags(shared: Channel | None, client: Client, multi_prefix: bool) -> str:
    """H (here) or G (gone, away), * for an operator, the member prefix, B for a bot (IRCv3 bot-mode)."""
    flags = "G" if client.away is not None else "H"
    if client.is_oper:
        flags += "*"
    if shared is not None:
        flags += shared.member_prefix(client, multi_prefix)
    return flags + ("B" if client.is_bot else "")


def whox_values(req: Request, shared: Channel | None, client: Client, multi_prefix: bool,
                token: str) -> dict[str, str]:
    """Every WHOX field of one row. The account (``a``) is ``0`` when there is none; the op level (``o``)
    is ircu's and solanum's: 999 for a channel operator, n/a otherwise."""
    return {
        "t": token, "c": shared.name if shared else "*", "u": client.username, "i": client.host,
        "h": client.host, "s": req.server.config.name, "n": client.nick,
        "f": who_flags(shared, client, multi_prefix), "d": "0",
        "l": str(int(time.monotonic() - client.last_spoke)), "a": client.account or "0",
        "o": "999" if shared is not None and shared.is_operator(client) else "n/a", "r": client.realname,
    }


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
    channels = [c.member_prefix(target, multi_prefix) + c.name for c in target.channels.values()
                if c.visible_to(req.client)]
    if channels:
        req.reply(rpl.RPL_WHOISCHANNELS, target.nick, " ".join(channels))
    req.reply(rpl.RPL_WHOISSERVER, target.nick, req.server.config.name, f"{req.server.config.network} chat server")
    if target.account is not None:
        req.reply(rpl.RPL_WHOISACCOUNT, target.nick, target.account, "is logged in as")
    if target.is_oper:
        req.reply(rpl.RPL_WHOISOPERATOR, target.nick, "is a teacher" if target.is_teacher else "is an IRC operator")
    if target.is_bot:
        req.reply(rpl.RPL_WHOISBOT, target.nick, f"is a bot on {req.server.config.network}")
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
