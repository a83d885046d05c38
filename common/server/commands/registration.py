"""Registration and connection upkeep: PASS, NICK, USER, CAP, PING, PONG and QUIT (RFC 2812 §3.1, IRCv3
capability negotiation), and ``try_register``, which sends the welcome burst once NICK and USER are in.

Runs under the state lock; touches the calling client, the nick table (``ServerState.rename``,
``register``) and the client's channels' peers (a NICK change is relayed to them).
"""
from __future__ import annotations

import hmac

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_valid_nick
from common.protocol.params import parse_count
from common.protocol.message import Message
from common.server.commands.accounts import announce_teacher
from common.server.commands.base import (CAP_VALUES, CHANMODES, NAMELEN, USER_MODES, USERLEN, Request,
                                         err_need_more_params, packed, send_isupport, send_lusers, send_motd,
                                         server_message, user_message)
from common.server.commands.monitor import announce_nick_change, announce_online
from common.server.outbox import tag_gates


def handle_pass(req: Request, msg: Message) -> None:
    if req.client.registered:
        req.reply(rpl.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    req.client.password = msg.params[0]


def handle_nick(req: Request, msg: Message) -> None:
    client = req.client
    nick = msg.param(0)
    if not nick:
        req.reply(rpl.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    if not is_valid_nick(nick, req.server.config.nick_length):
        req.reply(rpl.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
        req.server.log_event(f"refused: nick {nick!r}", client)
        return
    holder = req.state.find_client(nick)
    if holder is not None and holder is not client:
        req.reply(rpl.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return
    if client.registered and reserved_for_another(req, nick):
        req.reply(rpl.ERR_NICKNAMEINUSE, nick, "Nickname is reserved for an account: log in to use it")
        return
    if nick == client.nick:
        return
    silenced_in = next((channel for channel in client.channels.values() if not channel.is_privileged(client)
                        and (channel.is_banned(client) or channel.is_quieted(client))), None)
    if client.registered and silenced_in is not None and casefold(nick) != casefold(client.nick):
        req.reply(rpl.ERR_BANNICKCHANGE, silenced_in.name,
                  "Cannot change nickname while banned or muted on channel")
        return
    if client.registered:
        change = user_message(client, "NICK", nick)
        req.out.relay([client, *req.state.peers_of(client)], change)
    old_nick = client.nick
    req.state.rename(client, nick)
    if client.registered:
        announce_nick_change(req.out, req.state, client, old_nick)
    try_register(req)


def handle_user(req: Request, msg: Message) -> None:
    client = req.client
    if client.registered:
        req.reply(rpl.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    if not msg.params[3]:  # "USER u 0 * :" (modern.ircdocs.horse: the realname must not be empty)
        err_need_more_params(req, "USER")
        return
    username = "".join(char for char in msg.params[0] if char.isalnum() or char in "-_.")[:USERLEN - 1]
    client.username = "~" + (username or "user")
    client.realname = msg.params[3][:NAMELEN]
    try_register(req)


def handle_cap(req: Request, msg: Message) -> None:
    cap_command(req, msg)
    gates = tag_gates(req.client.caps)
    if gates != req.client.tag_gates:
        req.client.tag_gates = gates
        for channel in req.client.channels.values():
            channel.members_changed()


def cap_command(req: Request, msg: Message) -> None:
    client = req.client
    subcommand = msg.params[0].upper()
    if subcommand == "LS":
        version = parse_count(msg.param(1, "0"), 0, 9999) or 0  # not a version we know of: plain CAP LS
        client.cap_version = max(client.cap_version, version)
        if client.cap_version >= 302:
            client.caps = client.caps | {"cap-notify"}
        if not client.registered:
            client.cap_negotiating = True
        offered = [f"{cap}={CAP_VALUES[cap]}" if cap in CAP_VALUES and client.cap_version >= 302 else cap
                   for cap in req.server.capabilities()]
        send_cap_list(req, "LS", offered)
    elif subcommand == "LIST":
        send_cap_list(req, "LIST", sorted(client.caps))
    elif subcommand == "REQ":
        if not client.registered:
            client.cap_negotiating = True
        requested = msg.param(1).split()
        names = [name.lstrip("-") for name in requested]
        if not requested or any(name not in req.server.capabilities() for name in names):
            req.out.send(client, server_message(req, "CAP", client.nick, "NAK", msg.param(1)))
            return
        for item in requested:
            if item.startswith("-"):
                client.caps = client.caps - {item[1:]}
            else:
                client.caps = client.caps | {item}
        req.out.send(client, server_message(req, "CAP", client.nick, "ACK", msg.param(1)))
    elif subcommand == "END":
        if not client.registered:
            client.cap_negotiating = False
            try_register(req)
    else:
        req.reply(rpl.ERR_INVALIDCAPCMD, msg.params[0], "Invalid CAP command")


def send_cap_list(req: Request, subcommand: str, caps: list[str]) -> None:
    """CAP LS or CAP LIST in lines of at most 512 bytes: every line but the last has a ``*`` before its list
    (``CAP * LS * :…``, IRCv3 capability negotiation 3.2)."""
    client = req.client
    head = f":{req.server.config.name} CAP {client.nick} {subcommand} * :"
    pieces = packed(caps, 510 - len(head.encode())) or [""]
    for index, piece in enumerate(pieces):
        more = ["*"] if index < len(pieces) - 1 else []
        req.out.send(client, server_message(req, "CAP", client.nick, subcommand, *more, piece))


def try_register(req: Request) -> None:
    """Finish registration once NICK and USER are in and CAP negotiation (if any) has ended."""
    client = req.client
    if client.registered or client.nick == "*" or not client.username or client.cap_negotiating:
        return
    config = req.server.config
    if config.password is not None and not hmac.compare_digest(
        (client.password or "").encode(), config.password.encode()
    ):
        missing = client.password is None
        req.reply(rpl.ERR_PASSWDMISMATCH, "This server needs a password (PASS)" if missing else "Password incorrect")
        req.server.log_event("refused: " + ("no server password" if missing else "wrong server password"), client)
        req.server.disconnect_later(client, "Password required" if missing else "Bad password")
        return
    if reserved_for_another(req, client.nick):
        # Checked only now, so that a client can log in with SASL between NICK and CAP END.
        req.reply(rpl.ERR_NICKNAMEINUSE, client.nick, "Nickname is reserved for an account: log in to use it")
        req.state.unset_nick(client)
        return
    req.state.register(client)
    announce_online(req.out, req.state, client)
    server = req.server
    req.reply(rpl.RPL_WELCOME, f"Welcome to the {config.network} IRC Network {client.prefix}")
    req.out.fixed_replies(client, server.fixed_replies("welcome", lambda: [
        (rpl.RPL_YOURHOST, f"Your host is {config.name}, running version {server.version}"),
        (rpl.RPL_CREATED, f"This server was created {server.created_text}"),
        (rpl.RPL_MYINFO, config.name, server.version, USER_MODES, "".join(sorted("".join(CHANMODES) + "ov")),
         "bkloqv")]))  # the channel modes that take a parameter (Y is given on joining, never set)
    send_isupport(req)
    send_lusers(req)
    send_motd(req)
    if client.is_teacher:
        announce_teacher(req)
    server.log_event("registered", client)


def reserved_for_another(req: Request, nick: str) -> bool:
    """Whether ``nick`` is the name of an account the caller is not logged in to."""
    accounts = req.server.accounts
    client = req.client
    return accounts is not None and accounts.is_reserved(nick) and casefold(client.account or "") != casefold(nick)


def handle_ping(req: Request, msg: Message) -> None:
    if not msg.params or not msg.params[0]:
        req.reply(rpl.ERR_NOORIGIN, "No origin specified")
        return
    name = req.server.config.name
    req.out.send(req.client, Message("PONG", [name, msg.params[0]], source=name))


def handle_pong(req: Request, msg: Message) -> None:
    """Any line already counts as a sign of life (the reader records it); PONG needs nothing more."""


def handle_quit(req: Request, msg: Message) -> None:
    reason = msg.param(0)
    req.server.disconnect_later(req.client, f"Quit: {reason}" if reason else "Quit")
