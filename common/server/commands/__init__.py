"""The server's IRC commands: one dispatch table and a ``handle_<command>`` function for each.

Every handler runs with the state lock held (``ChatServer.transaction``) and only changes state and fills
the request's ``Outbox``; the sending happens after the lock is released. The dispatcher answers the
generic errors (421 unknown command, 451 not registered, 461 not enough parameters) so handlers do not.
Numerics follow RFC 2812 and modern.ircdocs.horse.
"""
from __future__ import annotations

import hmac
import itertools
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_channel_name, is_valid_channel, is_valid_nick, mask_matches, normalize_ban_mask
from common.server.history import Cursor, HistoryStore, StoredMessage, Viewer, dm_key, format_time, parse_time
from common.protocol.message import Message, middle_word
from common.server.outbox import Outbox, tag_gates
from common.server.passwords import verify_password
from common.server.state import Ban, Channel, Client

if TYPE_CHECKING:
    from common.server.server import ChatServer

# Capabilities we offer (CAP LS 302). cap-notify is implied by 302 but may be requested too.
CAPABILITIES = ("away-notify", "batch", "cap-notify", "echo-message", "message-tags", "multi-prefix", "server-time")
CHATHISTORY_CAP = "draft/chathistory"  # offered only when the server keeps history
CHATHISTORY_LIMIT = 100
_batch_ids = itertools.count(1)

KICKLEN = 390
AWAYLEN = 390
USERLEN = 16
MAX_TARGETS = 4
MAX_MODES = 4
MAX_BANS = 100
# CHANMODES groups: A (list), B (always a parameter), C (a parameter when set), D (flags).
# U is "questions to the teacher" (InspIRCd's opmoderated, ergo's op-moderated): what an ordinary member
# says reaches only the channel operators. q is the mute list of solanum/charybdis.
CHANMODES = ("bq", "k", "l", "imntU")
USER_MODES = "io"


@dataclass
class Request:
    """One command being handled: the server, the client that sent it and what will be sent back."""

    server: "ChatServer"
    client: Client
    out: Outbox
    prepared: object = None  # what the command's ``outside_lock`` step found, if it has one

    @property
    def state(self):
        return self.server.state

    def reply(self, code: str, *params: str) -> None:
        self.out.numeric(self.client, code, *params)


# ---------------------------------------------------------------- replies shared by many commands

def err_need_more_params(req: Request, command: str) -> None:
    req.reply(rpl.ERR_NEEDMOREPARAMS, command, "Not enough parameters")


def err_no_such_nick(req: Request, name: str) -> None:
    req.reply(rpl.ERR_NOSUCHNICK, name, "No such nick/channel")


def err_no_such_channel(req: Request, name: str) -> None:
    req.reply(rpl.ERR_NOSUCHCHANNEL, name, "No such channel")


def err_not_on_channel(req: Request, channel_name: str) -> None:
    req.reply(rpl.ERR_NOTONCHANNEL, channel_name, "You're not on that channel")


def err_chanop_needed(req: Request, channel_name: str) -> None:
    req.reply(rpl.ERR_CHANOPRIVSNEEDED, channel_name, "You're not channel operator")
    req.server.log_event(f"refused: not a channel operator in {channel_name}", req.client)


def err_no_privileges(req: Request) -> None:
    req.reply(rpl.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
    req.server.log_event("refused: an operator command from a non-operator", req.client)


def server_message(req: Request, command: str, *params: str) -> Message:
    return Message(command, list(params), source=req.server.config.name)


def user_message(client: Client, command: str, *params: str, tags: dict[str, str] | None = None) -> Message:
    return Message(command, list(params), source=client.prefix, tags=tags or {})


def send_names(req: Request, channel: Channel) -> None:
    """RPL_NAMREPLY lines that each fit in 512 bytes, then RPL_ENDOFNAMES."""
    viewer = req.client
    multi_prefix = "multi-prefix" in viewer.caps
    in_channel = viewer in channel.members
    names = [
        channel.member_prefix(member, multi_prefix) + member.nick
        for member in channel.members
        if in_channel or not member.is_invisible
    ]
    head = f":{req.server.config.name} {rpl.RPL_NAMREPLY} {viewer.nick} = {channel.name} :"
    budget = 510 - len(head.encode())
    line: list[str] = []
    used = 0
    for name in names:
        size = len(name.encode()) + 1
        if line and used + size > budget:
            req.reply(rpl.RPL_NAMREPLY, "=", channel.name, " ".join(line))
            line, used = [], 0
        line.append(name)
        used += size
    if line:
        req.reply(rpl.RPL_NAMREPLY, "=", channel.name, " ".join(line))
    req.reply(rpl.RPL_ENDOFNAMES, channel.name, "End of /NAMES list")


def send_topic(req: Request, channel: Channel) -> None:
    if channel.topic:
        req.reply(rpl.RPL_TOPIC, channel.name, channel.topic)
        req.reply(rpl.RPL_TOPICWHOTIME, channel.name, channel.topic_set_by, str(channel.topic_set_at))
    else:
        req.reply(rpl.RPL_NOTOPIC, channel.name, "No topic is set")


def send_motd(req: Request) -> None:
    lines = req.server.motd_lines()
    if not lines:
        req.reply(rpl.ERR_NOMOTD, "MOTD File is missing")
        return
    req.reply(rpl.RPL_MOTDSTART, f"- {req.server.config.name} Message of the day - ")
    for line in lines:
        req.reply(rpl.RPL_MOTD, f"- {line}")
    req.reply(rpl.RPL_ENDOFMOTD, "End of /MOTD command.")


def send_isupport(req: Request) -> None:
    """RPL_ISUPPORT, at most 13 tokens a line (modern.ircdocs.horse "RPL_ISUPPORT")."""
    tokens = req.server.isupport_tokens()
    for start in range(0, len(tokens), 13):
        req.reply(rpl.RPL_ISUPPORT, *tokens[start:start + 13], "are supported by this server")


def send_lusers(req: Request) -> None:
    state = req.state
    registered = len(state.registered)
    invisible = len(state.with_user_mode["i"])
    unknown = len(state.clients) - registered
    count, peak = str(registered), str(state.max_registered)
    req.reply(rpl.RPL_LUSERCLIENT, f"There are {registered - invisible} users and {invisible} invisible on 1 servers")
    req.reply(rpl.RPL_LUSEROP, str(len(state.with_user_mode["o"])), "operator(s) online")
    req.reply(rpl.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    req.reply(rpl.RPL_LUSERCHANNELS, str(len(state.channels)), "channels formed")
    req.reply(rpl.RPL_LUSERME, f"I have {registered} clients and 0 servers")
    req.reply(rpl.RPL_LOCALUSERS, count, peak, f"Current local users {count}, max {peak}")
    req.reply(rpl.RPL_GLOBALUSERS, count, peak, f"Current global users {count}, max {peak}")


def relay_to_channel(req: Request, channel: Channel, message: Message, include_self: bool = True) -> None:
    recipients = channel.members.keys() if include_self else [m for m in channel.members if m is not req.client]
    req.out.relay(recipients, message)


def relay_to_peers_with_cap(req: Request, cap: str, message: Message) -> None:
    req.out.relay([peer for peer in req.state.peers_of(req.client) if cap in peer.caps], message)


# ---------------------------------------------------------------- registration

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
    req.state.rename(client, nick)
    try_register(req)


def handle_user(req: Request, msg: Message) -> None:
    client = req.client
    if client.registered:
        req.reply(rpl.ERR_ALREADYREGISTERED, "You may not reregister")
        return
    username = "".join(char for char in msg.params[0] if char.isalnum() or char in "-_.")[:USERLEN - 1]
    client.username = "~" + (username or "user")
    client.realname = msg.params[3]
    try_register(req)


def handle_cap(req: Request, msg: Message) -> None:
    cap_command(req, msg)
    req.client.tag_gates = tag_gates(req.client.caps)


def cap_command(req: Request, msg: Message) -> None:
    client = req.client
    subcommand = msg.params[0].upper()
    if subcommand == "LS":
        version = int(msg.param(1, "0")) if msg.param(1, "0").isdigit() else 0
        client.cap_version = max(client.cap_version, version)
        if client.cap_version >= 302:
            client.caps.add("cap-notify")
        if not client.registered:
            client.cap_negotiating = True
        req.out.send(client, server_message(req, "CAP", client.nick, "LS", " ".join(req.server.capabilities())))
    elif subcommand == "LIST":
        req.out.send(client, server_message(req, "CAP", client.nick, "LIST", " ".join(sorted(client.caps))))
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
                client.caps.discard(item[1:])
            else:
                client.caps.add(item)
        req.out.send(client, server_message(req, "CAP", client.nick, "ACK", msg.param(1)))
    elif subcommand == "END":
        if not client.registered:
            client.cap_negotiating = False
            try_register(req)
    else:
        req.reply(rpl.ERR_INVALIDCAPCMD, msg.params[0], "Invalid CAP command")


def try_register(req: Request) -> None:
    """Finish registration once NICK and USER are in and CAP negotiation (if any) has ended."""
    client = req.client
    if client.registered or client.nick == "*" or not client.username or client.cap_negotiating:
        return
    config = req.server.config
    if config.password is not None and not hmac.compare_digest(
        (client.password or "").encode(), config.password.encode()
    ):
        req.reply(rpl.ERR_PASSWDMISMATCH, "Password incorrect")
        req.server.log_event("refused: wrong server password", client)
        req.server.disconnect_later(client, "Bad password")
        return
    req.state.register(client)
    server = req.server
    req.reply(rpl.RPL_WELCOME, f"Welcome to the {config.network} IRC Network {client.prefix}")
    req.reply(rpl.RPL_YOURHOST, f"Your host is {config.name}, running version {server.version}")
    req.reply(rpl.RPL_CREATED, f"This server was created {server.created_text}")
    req.reply(rpl.RPL_MYINFO, config.name, server.version, USER_MODES, "".join(sorted("".join(CHANMODES) + "ov")),
              "bkloqv")
    send_isupport(req)
    send_lusers(req)
    send_motd(req)
    server.log_event("registered", client)


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


# ---------------------------------------------------------------- channels

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
        req.reply(rpl.ERR_NOSUCHCHANNEL, name, "Invalid channel name")
        req.server.log_event(f"refused: channel name {name!r}", client)
        return
    channel = state.find_channel(name)
    if channel is not None and client in channel.members:
        return
    if len(client.channels) >= config.max_channels_per_user:
        req.reply(rpl.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
        req.server.log_event(f"refused: JOIN {name}, already in {len(client.channels)} channels", client)
        return
    if channel is None:
        channel = Channel(name=name)
    elif not client.is_oper and not may_enter(req, channel, key):
        return
    state.join(client, channel)
    relay_to_channel(req, channel, user_message(client, "JOIN", channel.name))
    if client.away is not None:
        away = user_message(client, "AWAY", client.away)
        req.out.relay([m for m in channel.members if m is not client and "away-notify" in m.caps], away)
    if channel.topic:
        send_topic(req, channel)
    send_names(req, channel)
    if req.server.history_enabled and req.server.config.replay > 0 and CHATHISTORY_CAP not in client.caps:
        limit, name, privileged = req.server.config.replay, channel.name, channel.is_operator(client)
        req.out.history_reads.append(lambda store, out: replay(store, out, client, name, limit, privileged))


def may_enter(req: Request, channel: Channel, key: str) -> bool:
    """The checks of RFC 2812 §3.2.1 in their usual order; an invitation lifts +i, +l and bans."""
    client = req.client
    invited = casefold(client.nick) in channel.invited
    if "i" in channel.modes and not invited:
        req.reply(rpl.ERR_INVITEONLYCHAN, channel.name, "Cannot join channel (+i)")
        return False
    if channel.is_banned(client) and not invited:
        req.reply(rpl.ERR_BANNEDFROMCHAN, channel.name, "Cannot join channel (+b)")
        return False
    if channel.key is not None and not hmac.compare_digest(key.encode(), channel.key.encode()):
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
    if not msg.params:
        for channel in list(req.client.channels.values()):
            send_names(req, channel)
        return
    for name in filter(None, msg.params[0].split(",")):
        channel = req.state.find_channel(name)
        if channel is None:
            req.reply(rpl.RPL_ENDOFNAMES, name, "End of /NAMES list")
        else:
            send_names(req, channel)


def handle_list(req: Request, msg: Message) -> None:
    state = req.state
    if msg.params and msg.params[0]:
        channels = [c for c in map(state.find_channel, msg.params[0].split(",")) if c is not None]
    else:
        channels = sorted(state.channels.values(), key=lambda channel: casefold(channel.name))
    req.reply(rpl.RPL_LISTSTART, "Channel", "Users  Name")
    for channel in channels:
        req.reply(rpl.RPL_LIST, channel.name, str(len(channel.members)), channel.topic)
    req.reply(rpl.RPL_LISTEND, "End of /LIST")


def handle_invite(req: Request, msg: Message) -> None:
    client = req.client
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


def handle_kick(req: Request, msg: Message) -> None:
    client = req.client
    channel = req.state.find_channel(msg.params[0])
    if channel is None:
        err_no_such_channel(req, msg.params[0])
        return
    if client not in channel.members and not client.is_oper:
        err_not_on_channel(req, channel.name)
        return
    if not channel.is_operator(client):
        err_chanop_needed(req, channel.name)
        return
    reason = (msg.param(2) or client.nick)[:KICKLEN]
    for nick in filter(None, msg.params[1].split(",")[:MAX_TARGETS]):
        target = req.state.find_client(nick)
        if target is None or target not in channel.members:
            req.reply(rpl.ERR_USERNOTINCHANNEL, nick, channel.name, "They aren't on that channel")
            continue
        relay_to_channel(req, channel, user_message(client, "KICK", channel.name, target.nick, reason))
        req.state.part(target, channel)
        req.server.audit(client, "kick", f"{channel.name} {target.nick}", reason)


# ---------------------------------------------------------------- messages

def handle_privmsg(req: Request, msg: Message) -> None:
    """PRIVMSG, NOTICE and TAGMSG (RFC 2812 §3.3, message-tags). NOTICE never gets an error reply."""
    command = msg.command
    is_notice = command == "NOTICE"
    is_tagmsg = command == "TAGMSG"
    if not msg.params or not msg.params[0]:
        if not is_notice:
            req.reply(rpl.ERR_NORECIPIENT, f"No recipient given ({command})")
        return
    text = msg.param(1)
    if not is_tagmsg and not text:
        if not is_notice:
            req.reply(rpl.ERR_NOTEXTTOSEND, "No text to send")
        return
    client = req.client
    client.last_spoke = time.monotonic()
    params = [text] if not is_tagmsg else []
    client_tags = {key: value for key, value in msg.tags.items() if key.startswith("+")}
    targets = msg.params[0].split(",")
    for target_name in targets[MAX_TARGETS:]:
        if not is_notice:
            req.reply(rpl.ERR_TOOMANYTARGETS, target_name, f"Too many targets. The maximum is {MAX_TARGETS}")
    for target_name in filter(None, targets[:MAX_TARGETS]):
        found = message_recipients(req, target_name, is_notice)
        if found is None:
            continue
        target, recipients = found
        if "echo-message" in client.caps:
            recipients.append(client)
        if is_tagmsg:
            recipients = [r for r in recipients if "message-tags" in r.caps]
        tags, time_ms = req.server.message_tags(client_tags)
        name = target if isinstance(target, str) else target.name if isinstance(target, Channel) else target.nick
        req.out.relay(recipients, user_message(client, command, name, *params, tags=tags))
        if isinstance(target, str):
            req.server.audit(client, "announce", target, text)
        elif req.server.history_enabled and not is_tagmsg:
            is_channel = isinstance(target, Channel)
            store_message(req, target, StoredMessage(
                tags["msgid"], time_ms, name, client.prefix, command, text,
                recipient_host="" if is_channel else target.host, client_tags=client_tags,
                ops_only=is_channel and target.only_operators_hear(client)))


def message_recipients(req: Request, target_name: str,
                       is_notice: bool) -> tuple[Channel | Client | str, list[Client]] | None:
    """The target of a message and who receives it (without the sender), or None after an error reply.
    The target is a channel, a user, or a ``$server`` mask (an announcement to everyone)."""
    client = req.client
    if target_name.startswith("$"):
        return announcement_recipients(req, target_name)
    if is_channel_name(target_name):
        channel = req.state.find_channel(target_name)
        if channel is None:
            if not is_notice:
                err_no_such_channel(req, target_name)
            return None
        silenced = channel.why_silenced(client)
        if silenced is not None:
            if not is_notice:
                req.reply(rpl.ERR_CANNOTSENDTOCHAN, channel.name, f"Cannot send to channel: {silenced}")
            return None
        hearers = channel.operators() if channel.only_operators_hear(client) else channel.members
        return channel, [member for member in hearers if member is not client]
    target = req.state.find_client(target_name)
    if target is None or not target.registered:
        if not is_notice:
            err_no_such_nick(req, target_name)
        return None
    if target.away is not None and not is_notice:
        req.reply(rpl.RPL_AWAY, target.nick, target.away)
    # A message to oneself is delivered once: directly, or as the echo when echo-message is on.
    return target, [target] if target is not client or "echo-message" not in client.caps else []


def announcement_recipients(req: Request, mask: str) -> tuple[str, list[Client]] | None:
    """``$mask`` (RFC 2812 §3.3.1): everyone on a server whose name matches; operators only. A student
    gets 481 even for a NOTICE: being refused is worth knowing."""
    if not req.client.is_oper:
        err_no_privileges(req)
        return None
    if not mask_matches(mask[1:], req.server.config.name):
        err_no_such_nick(req, mask)
        return None
    return mask, [client for client in req.state.registered if client is not req.client]


def disconnect_user(req: Request, target: Client, reason: str) -> None:
    """End another user's connection with ``reason`` once this command's replies are out; its reader
    thread then tells its channels (QUIT) as for any disconnect."""
    req.out.after_delivery.append(lambda: target.conn.close(reason, tell_client=True))


def handle_kill(req: Request, msg: Message) -> None:
    """KILL (RFC 2812 §3.7.1): an operator disconnects one user."""
    client = req.client
    if not client.is_oper:
        err_no_privileges(req)
        return
    target = req.state.find_client(msg.params[0])
    if target is None or not target.registered:
        err_no_such_nick(req, msg.params[0])
        return
    reason = msg.param(1) or "No reason given"
    disconnect_user(req, target, f"Killed ({client.nick} ({reason}))")
    req.server.audit(client, "kill", target.nick, reason)


def handle_endlesson(req: Request, msg: Message) -> None:
    """ENDLESSON [:message] (classchat): the teacher ends the lesson. Everyone but the operators is told
    why and disconnected; the server keeps running for the next lesson."""
    client = req.client
    if not client.is_oper:
        err_no_privileges(req)
        return
    reason = f"The lesson has ended: {msg.param(0)}" if msg.param(0) else "The lesson has ended"
    students = [other for other in req.state.clients if not other.is_oper]
    for student in students:
        disconnect_user(req, student, reason)
    req.out.send(client, server_message(req, "NOTICE", client.nick,
                                        f"Lesson ended: {len(students)} user(s) disconnected"))
    req.server.audit(client, "endlesson", f"{len(students)} users", msg.param(0))


# ---------------------------------------------------------------- queries

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
    if target.is_oper:
        req.reply(rpl.RPL_WHOISOPERATOR, target.nick, "is an IRC operator")
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


def check_oper_login(server: "ChatServer", msg: Message) -> bool:
    """OPER's password check, run before the state lock is taken: a hashed password costs tens of
    milliseconds on purpose, and nobody else's messages should wait for it."""
    stored = server.config.opers.get(msg.params[0])
    return stored is not None and verify_password(stored, msg.params[1])


def handle_oper(req: Request, msg: Message) -> None:
    client = req.client
    if not req.server.config.opers:
        req.reply(rpl.ERR_NOOPERHOST, "No O-lines for your host")
        return
    if not req.prepared:
        req.reply(rpl.ERR_PASSWDMISMATCH, "Password incorrect")
        req.server.log_event(f"refused: OPER as {msg.params[0]} with a wrong password", client)
        return
    if not client.is_oper:
        req.state.set_user_mode(client, "o", True)
        req.out.send(client, user_message(client, "MODE", client.nick, "+o"))
    req.reply(rpl.RPL_YOUREOPER, "You are now an IRC operator")
    req.server.audit(client, "oper", msg.params[0])


# ---------------------------------------------------------------- modes

def handle_mode(req: Request, msg: Message) -> None:
    target = msg.params[0]
    if is_channel_name(target):
        channel = req.state.find_channel(target)
        if channel is None:
            err_no_such_channel(req, target)
        else:
            channel_mode(req, channel, msg.params[1:])
    else:
        user_mode(req, target, msg.params[1:])


def user_mode(req: Request, nick: str, args: list[str]) -> None:
    client = req.client
    if casefold(nick) != casefold(client.nick):
        if req.state.find_client(nick) is None:
            err_no_such_nick(req, nick)
        else:
            req.reply(rpl.ERR_USERSDONTMATCH, "Can't change mode for other users")
        return
    if not args:
        req.reply(rpl.RPL_UMODEIS, "+" + "".join(sorted(client.modes)))
        return
    adding, applied = True, []
    unknown = False
    for letter in args[0]:
        if letter in "+-":
            adding = letter == "+"
        elif letter == "i":
            if adding != ("i" in client.modes):
                req.state.set_user_mode(client, "i", adding)
                applied.append(("+" if adding else "-") + "i")
        elif letter == "o":
            if not adding and client.is_oper:  # +o only through OPER
                req.state.set_user_mode(client, "o", False)
                applied.append("-o")
        else:
            unknown = True
    if unknown:
        req.reply(rpl.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
    if applied:
        req.out.send(client, user_message(client, "MODE", client.nick, compact_modes(applied)))


def compact_modes(changes: list[str]) -> str:
    """["+o", "+v", "-k"] → "+ov-k"."""
    result, sign = "", ""
    for change in changes:
        if change[0] != sign:
            sign = change[0]
            result += sign
        result += change[1]
    return result


def channel_mode(req: Request, channel: Channel, args: list[str]) -> None:
    client = req.client
    if not args:
        req.reply(rpl.RPL_CHANNELMODEIS, channel.name, *channel.mode_string(client in channel.members))
        req.reply(rpl.RPL_CREATIONTIME, channel.name, str(channel.created))
        return
    modestring, mode_args = args[0], list(args[1:])
    if modestring.lstrip("+") in ("b", "q", "") and not mode_args:
        send_mask_list(req, channel, modestring.lstrip("+") or "b")
        return
    if not channel.is_operator(client):
        err_chanop_needed(req, channel.name)
        return
    applied: list[str] = []
    applied_args: list[str] = []
    adding = True
    param_changes = 0
    for letter in modestring:
        if letter in "+-":
            adding = letter == "+"
            continue
        takes_param = letter in "ovbqk" or (letter == "l" and adding)
        if takes_param:
            if letter in CHANMODES[0] and not mode_args:
                send_mask_list(req, channel, letter)
                continue
            if not mode_args:
                if letter == "k" and not adding:
                    mode_args.append("*")
                else:
                    continue
            param_changes += 1
            if param_changes > MAX_MODES:
                break
            arg = mode_args.pop(0)
        else:
            arg = ""
        result = apply_channel_mode(req, channel, adding, letter, arg)
        if result is not None:
            applied.append(("+" if adding else "-") + letter)
            if result:
                applied_args.append(result)
    if applied:
        change = user_message(client, "MODE", channel.name, compact_modes(applied), *applied_args)
        relay_to_channel(req, channel, change)
        if any(item[1] not in "ov" for item in applied):
            remember_channel(req, channel)
        req.server.audit(client, "mode", channel.name, " ".join([compact_modes(applied), *applied_args]))


def apply_channel_mode(req: Request, channel: Channel, adding: bool, letter: str, arg: str) -> str | None:
    """Apply one change; return the parameter to show ("" for none), or None when nothing changed."""
    if letter in "ov":
        target = req.state.find_client(arg)
        if target is None or target not in channel.members:
            req.reply(rpl.ERR_USERNOTINCHANNEL, arg, channel.name, "They aren't on that channel")
            return None
        member_modes = channel.members[target]
        if adding == (letter in member_modes):
            return None
        (member_modes.add if adding else member_modes.discard)(letter)
        return target.nick
    if letter in CHANMODES[0]:
        return change_mask_list(req, channel, letter, adding, arg)
    if letter == "k":
        if not adding:
            if channel.key is None:
                return None
            channel.key = None
            return "*"
        if not arg or any(char in arg for char in " ,:") or len(arg) > 32:
            req.reply(rpl.ERR_INVALIDMODEPARAM, channel.name, "k", arg, "Invalid key")
            return None
        if channel.key is not None and channel.key != arg:
            req.reply(rpl.ERR_KEYSET, channel.name, "Channel key already set")
            return None
        channel.key = arg
        return arg
    if letter == "l":
        if not adding:
            if channel.limit is None:
                return None
            channel.limit = None
            return ""
        if not arg.isdigit() or int(arg) < 1:
            req.reply(rpl.ERR_INVALIDMODEPARAM, channel.name, "l", arg, "Invalid limit")
            return None
        channel.limit = int(arg)
        return str(channel.limit)
    if letter in CHANMODES[3]:
        if adding == (letter in channel.modes):
            return None
        (channel.modes.add if adding else channel.modes.discard)(letter)
        return ""
    req.reply(rpl.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
    return None


def change_mask_list(req: Request, channel: Channel, letter: str, adding: bool, arg: str) -> str | None:
    """Add a mask to, or take it from, the ban (+b) or mute (+q) list."""
    masks = channel.mask_list(letter)
    mask = normalize_ban_mask(arg)
    existing = next((entry for entry in masks if casefold(entry.mask) == casefold(mask)), None)
    if adding:
        if existing is not None:
            return None
        if len(masks) >= MAX_BANS:
            req.reply(rpl.ERR_BANLISTFULL, channel.name, mask, "Channel list is full")
            return None
        masks.append(Ban(mask, req.client.prefix, int(time.time())))
        return mask
    if existing is None:
        return None
    masks.remove(existing)
    return existing.mask


def send_mask_list(req: Request, channel: Channel, letter: str) -> None:
    if letter == "b":
        for ban in channel.bans:
            req.reply(rpl.RPL_BANLIST, channel.name, ban.mask, ban.set_by, str(ban.set_at))
        req.reply(rpl.RPL_ENDOFBANLIST, channel.name, "End of channel ban list")
    else:
        for quiet in channel.quiets:
            req.reply(rpl.RPL_QUIETLIST, channel.name, "q", quiet.mask, quiet.set_by, str(quiet.set_at))
        req.reply(rpl.RPL_ENDOFQUIETLIST, channel.name, "q", "End of channel mute list")


# ---------------------------------------------------------------- history

def store_message(req: Request, target: Channel | Client, message: StoredMessage) -> None:
    req.out.stored.append(message)
    if isinstance(target, Channel) and not target.persistent:
        target.persistent = True


def remember_channel(req: Request, channel: Channel) -> None:
    """Keep a channel's settings across restarts (and keep the channel when it empties)."""
    if req.server.history_enabled:
        channel.persistent = True
        req.out.saved_channels.append(channel.snapshot())


def history_line(message: StoredMessage, tags: dict[str, str]) -> Message:
    """A stored message as it was first relayed, with its original time and msgid."""
    all_tags = {**tags, "time": format_time(message.time_ms), "msgid": message.msgid, **message.client_tags}
    return Message(message.command, [message.target, message.text], source=message.sender, tags=all_tags)


def send_history_batch(out: Outbox, client: Client, batch_type: str, params: list[str],
                       lines: list[Message]) -> None:
    """Lines inside a BATCH when the client has batch (IRCv3 batch), plain otherwise."""
    if "batch" not in client.caps:
        for line in lines:
            out.send(client, line)
        return
    reference = f"h{next(_batch_ids)}"
    out.send(client, Message("BATCH", [f"+{reference}", batch_type, *params], source=out.server_name))
    for line in lines:
        line.tags["batch"] = reference
        out.send(client, line)
    out.send(client, Message("BATCH", [f"-{reference}"], source=out.server_name))


def replay(store: HistoryStore, out: Outbox, client: Client, channel: str, limit: int, privileged: bool) -> None:
    """The last messages of a channel for a client that just joined it (run by the sequencer).

    With server-time the client gets the messages themselves with their original times (in a chathistory
    batch when it also has batch); a plain client gets notices that carry the time in their text.
    """
    messages = store.before(casefold(channel), None, limit, Viewer(privileged=privileged))
    if not messages:
        return
    if "server-time" in client.caps:
        send_history_batch(out, client, "chathistory", [channel], [history_line(m, {}) for m in messages])
        return
    for message in messages:
        stamp = datetime.fromtimestamp(message.time_ms / 1000).strftime("%Y-%m-%d %H:%M")
        out.send(client, Message("NOTICE", [channel, f"[{stamp}] {message.transcript_line()}"],
                                 source=out.server_name))


def fail_chathistory(req: Request, code: str, *context: str) -> None:
    descriptions = {
        "INVALID_PARAMS": "Invalid parameters", "INVALID_TARGET": "You cannot see the history of that target",
        "NEED_MORE_PARAMS": "Not enough parameters", "UNKNOWN_COMMAND": "Unknown CHATHISTORY subcommand",
    }
    context_words = [middle_word(word) for word in context]
    req.out.send(req.client, server_message(req, "FAIL", "CHATHISTORY", code, *context_words, descriptions[code]))


def parse_msgref(ref: str) -> tuple[str, str | int] | None:
    """``timestamp=…`` → ("timestamp", ms); ``msgid=…`` → ("msgid", id); anything else None."""
    kind, _, value = ref.partition("=")
    if kind == "timestamp":
        moment = parse_time(value)
        return ("timestamp", moment) if moment is not None else None
    if kind == "msgid" and value:
        return ("msgid", value)
    return None


def handle_chathistory(req: Request, msg: Message) -> None:
    """IRCv3 draft/chathistory: LATEST, BEFORE, AFTER, AROUND, BETWEEN and TARGETS."""
    if not req.server.history_enabled:
        req.reply(rpl.ERR_UNKNOWNCOMMAND, "CHATHISTORY", "Unknown command")
        return
    subcommand = msg.params[0].upper()
    arity = {"LATEST": 4, "BEFORE": 4, "AFTER": 4, "AROUND": 4, "BETWEEN": 5, "TARGETS": 4}
    if subcommand not in arity:
        fail_chathistory(req, "UNKNOWN_COMMAND", msg.params[0])
        return
    if len(msg.params) < arity[subcommand]:
        fail_chathistory(req, "NEED_MORE_PARAMS", subcommand)
        return
    limit_text = msg.params[arity[subcommand] - 1]
    if not limit_text.isdigit() or int(limit_text) < 1:
        fail_chathistory(req, "INVALID_PARAMS", subcommand, limit_text)
        return
    limit = min(int(limit_text), CHATHISTORY_LIMIT)
    client = req.client
    viewer = Viewer(client.nick, client.host)
    if subcommand == "TARGETS":
        bounds = [parse_msgref(ref) for ref in msg.params[1:3]]
        if any(bound is None or bound[0] != "timestamp" for bound in bounds):
            fail_chathistory(req, "INVALID_PARAMS", subcommand, "timestamp")
            return
        channels = [channel.name for channel in client.channels.values()]
        start, end = (bound[1] for bound in bounds)
        req.out.history_reads.append(lambda store, out: send_targets(store, out, client, viewer, channels, start,
                                                                      end, limit))
        return
    target_name = msg.params[1]
    if is_channel_name(target_name):
        channel = req.state.find_channel(target_name)
        if channel is None or (client not in channel.members and not client.is_oper):
            fail_chathistory(req, "INVALID_TARGET", subcommand, target_name)
            return
        key, shown_target = casefold(channel.name), channel.name
        viewer = viewer._replace(privileged=channel.is_operator(client))
    else:
        if not is_valid_nick(target_name, req.server.config.nick_length):
            fail_chathistory(req, "INVALID_TARGET", subcommand, target_name)
            return
        key, shown_target = dm_key(client.nick, target_name), target_name
    refs = []
    for ref in msg.params[2:arity[subcommand] - 1]:
        parsed = ("latest", 0) if ref == "*" and subcommand == "LATEST" else parse_msgref(ref)
        if parsed is None:
            fail_chathistory(req, "INVALID_PARAMS", subcommand, ref)
            return
        refs.append(parsed)
    request = HistoryRequest(subcommand, key, shown_target, refs, limit, viewer)
    req.out.history_reads.append(lambda store, out: request.answer(store, out, client))


@dataclass(frozen=True)
class HistoryRequest:
    """One CHATHISTORY query, checked under the state lock and answered by the sequencer."""

    subcommand: str
    key: str
    target: str
    refs: list[tuple[str, str | int]]
    limit: int
    viewer: Viewer

    def cursor(self, store: HistoryStore, ref: tuple[str, str | int], after: bool) -> Cursor | None:
        """Where a reference points. A timestamp excludes messages at that exact time on the side asked."""
        kind, value = ref
        if kind == "latest":
            return None
        if kind == "timestamp":
            return Cursor(int(value), 2 ** 62 if after else -1)
        return store.cursor_for_msgid(self.key, str(value))

    def answer(self, store: HistoryStore, out: Outbox, client: Client) -> None:
        messages = self.query(store)
        send_history_batch(out, client, "chathistory", [self.target], [history_line(m, {}) for m in messages])

    def query(self, store: HistoryStore) -> list[StoredMessage]:
        first = self.refs[0]
        if self.subcommand == "LATEST":
            cursor = self.cursor(store, first, after=True)
            if first[0] != "latest" and cursor is None:
                return []
            return store.latest_after(self.key, cursor, self.limit, self.viewer)
        cursor = self.cursor(store, first, after=self.subcommand == "AFTER")
        if cursor is None:
            return []  # an unknown msgid: nothing around it to show
        if self.subcommand == "BEFORE":
            return store.before(self.key, cursor, self.limit, self.viewer)
        if self.subcommand == "AFTER":
            return store.after(self.key, cursor, self.limit, self.viewer)
        if self.subcommand == "AROUND":
            if first[0] == "msgid":
                centre = store.after(self.key, Cursor(cursor.time_ms, cursor.row_id - 1), 1, self.viewer)
                earlier = store.before(self.key, cursor, (self.limit - 1) // 2, self.viewer)
                later = store.after(self.key, cursor, self.limit - 1 - len(earlier), self.viewer)
                return earlier + centre + later
            earlier = store.before(self.key, Cursor(cursor.time_ms, 2 ** 62), self.limit // 2, self.viewer)
            return earlier + store.after(self.key, Cursor(cursor.time_ms, 2 ** 62), self.limit - len(earlier),
                                         self.viewer)
        # BETWEEN: from the first reference towards the second, both excluded; always oldest first.
        second = self.cursor(store, self.refs[1], after=False)
        if second is None:
            return []
        if (cursor.time_ms, cursor.row_id) <= (second.time_ms, second.row_id):
            start = self.cursor(store, first, after=True)
            end = self.cursor(store, self.refs[1], after=False)
            return store.after(self.key, start, self.limit, self.viewer, until=end)
        start = self.cursor(store, self.refs[1], after=True)
        end = self.cursor(store, first, after=False)
        return store.before(self.key, end, self.limit, self.viewer, since=start)


def send_targets(store: HistoryStore, out: Outbox, client: Client, viewer: Viewer, channels: list[str],
                 start: int, end: int, limit: int) -> None:
    rows = store.targets(viewer, channels, start, end, limit)
    lines = [Message("CHATHISTORY", ["TARGETS", target, f"timestamp={format_time(latest)}"],
                     source=out.server_name) for target, latest in rows]
    send_history_batch(out, client, "draft/chathistory-targets", [], lines)


# ---------------------------------------------------------------- dispatch

@dataclass(frozen=True)
class CommandSpec:
    handler: Callable[[Request, Message], None]
    min_params: int = 0
    before_registration: bool = False
    # Slow work done before the state lock is taken; its result reaches the handler as ``req.prepared``.
    outside_lock: Callable[["ChatServer", Message], object] | None = None

    def prepare(self, server: "ChatServer", client: Client, msg: Message) -> object:
        runs = self.outside_lock is not None and len(msg.params) >= self.min_params \
            and (client.registered or self.before_registration)
        return self.outside_lock(server, msg) if runs else None


COMMANDS: dict[str, CommandSpec] = {
    "PASS": CommandSpec(handle_pass, 1, before_registration=True),
    "NICK": CommandSpec(handle_nick, 0, before_registration=True),
    "USER": CommandSpec(handle_user, 4, before_registration=True),
    "CAP": CommandSpec(handle_cap, 1, before_registration=True),
    "PING": CommandSpec(handle_ping, 0, before_registration=True),
    "PONG": CommandSpec(handle_pong, 0, before_registration=True),
    "QUIT": CommandSpec(handle_quit, 0, before_registration=True),
    "JOIN": CommandSpec(handle_join, 1),
    "PART": CommandSpec(handle_part, 1),
    "TOPIC": CommandSpec(handle_topic, 1),
    "NAMES": CommandSpec(handle_names),
    "LIST": CommandSpec(handle_list),
    "INVITE": CommandSpec(handle_invite, 2),
    "KICK": CommandSpec(handle_kick, 2),
    "PRIVMSG": CommandSpec(handle_privmsg),
    "NOTICE": CommandSpec(handle_privmsg),
    "TAGMSG": CommandSpec(handle_privmsg),
    "WHO": CommandSpec(handle_who),
    "WHOIS": CommandSpec(handle_whois),
    "ISON": CommandSpec(handle_ison, 1),
    "USERHOST": CommandSpec(handle_userhost, 1),
    "AWAY": CommandSpec(handle_away),
    "MOTD": CommandSpec(handle_motd),
    "LUSERS": CommandSpec(handle_lusers),
    "VERSION": CommandSpec(handle_version),
    "TIME": CommandSpec(handle_time),
    "OPER": CommandSpec(handle_oper, 2, outside_lock=check_oper_login),
    "KILL": CommandSpec(handle_kill, 1),
    "ENDLESSON": CommandSpec(handle_endlesson),
    "MODE": CommandSpec(handle_mode, 1),
    "CHATHISTORY": CommandSpec(handle_chathistory, 1),
}


def prepare(server: "ChatServer", client: Client, msg: Message) -> object:
    """A command's ``outside_lock`` step, if it has one; its result goes into the ``Request``."""
    spec = COMMANDS.get(msg.command)
    return spec.prepare(server, client, msg) if spec is not None else None


def dispatch(req: Request, msg: Message) -> None:
    """Run one command. The caller holds the state lock (see ``ChatServer.transaction``)."""
    spec = COMMANDS.get(msg.command)
    if spec is None:
        if req.client.registered:
            req.reply(rpl.ERR_UNKNOWNCOMMAND, msg.command, "Unknown command")
        else:
            req.reply(rpl.ERR_NOTREGISTERED, "You have not registered")
    elif not req.client.registered and not spec.before_registration:
        req.reply(rpl.ERR_NOTREGISTERED, "You have not registered")
    elif len(msg.params) < spec.min_params:
        err_need_more_params(req, msg.command)
    else:
        spec.handler(req, msg)
