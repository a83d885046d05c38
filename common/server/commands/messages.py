"""PRIVMSG, NOTICE and TAGMSG (RFC 2812 §3.3, IRCv3 message-tags): who receives a message, and the
message handed to the sequencer for the history (a TAGMSG only when it is a reaction, ``+draft/react`` or
``+draft/unreact`` with ``+draft/reply``: see ``common.server.reactions``); messages to a channel's
operators or voiced members (``@#chan``, ``+#chan``: ISUPPORT STATUSMSG), which are not stored; and WALLOPS
(RFC 2812 §4.7). A malformed ``+draft/reply``, or a TAGMSG's malformed reaction, refuses the message
(``FAIL <command> INVALID_TAG``).

Runs under the state lock; reads channels and clients, and changes only the sender's ``last_spoke`` and
a channel's ``persistent`` flag once it has a stored message. A message to store is relayed with
``req.out.relay_stored``: the sequencer writes it before anyone receives it, and if it cannot, nobody does
and the sender gets ``FAIL … MESSAGE_NOT_SENT`` (see ``common.server.outbox``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from common.protocol import numerics as rpl
from common.protocol.casemap import is_channel_name
from common.protocol.framing import MAX_BODY_BYTES
from common.protocol.message import Message, middle_word
from common.protocol.reactions import reaction_of, tag_problem
from common.server.commands.base import (MAX_TARGETS, Request, distinct_targets, err_need_more_params,
                                         err_no_privileges, err_no_such_channel, err_no_such_nick, server_message,
                                         user_message)
from common.server.commands.operators import announcement_recipients
from common.server.history import StoredMessage
from common.server.outbox import MESSAGE_TAGS_GATE, ChannelAudience
from common.server.state import MEMBER_PREFIXES, Channel, Client

STATUS_PREFIXES = "".join(MEMBER_PREFIXES.values())  # "!@+": ISUPPORT STATUSMSG
MEMBER_RANKS = {mode: rank for rank, mode in enumerate(MEMBER_PREFIXES)}  # Y 0, o 1, v 2


@dataclass(frozen=True)
class StatusTarget:
    """``@#chan``: the members of ``channel`` with the status ``prefix`` or a higher one."""

    channel: Channel
    prefix: str

    @property
    def name(self) -> str:
        return self.prefix + self.channel.name

    def hears(self, member: Client) -> bool:
        wanted = STATUS_PREFIXES.index(self.prefix)
        modes = self.channel.members.get(member, ())
        return any(MEMBER_RANKS[mode] <= wanted for mode in modes) \
            or (member.is_oper and wanted >= MEMBER_RANKS["o"])


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
    client_tags = {key: value for key, value in msg.tags.items() if key.startswith("+")} if msg.tags else {}
    # +draft/reply names a message; a reaction is one value (a line without client tags has neither)
    problem = tag_problem(client_tags, is_tagmsg) if client_tags else None
    if problem is not None:
        if not is_notice:
            req.out.send(client, server_message(req, "FAIL", command, "INVALID_TAG", middle_word(msg.params[0][:64]),
                                                f"Not sent: {problem}"))
        return
    client.last_spoke = time.monotonic()
    params = [text] if not is_tagmsg else []
    stored_kind = not is_tagmsg or reaction_of(client_tags) is not None  # a reaction is kept like a message
    prefix = client.prefix  # read once: the length check and the stored message use it
    targets = distinct_targets(msg.params[0])
    if len(targets) > MAX_TARGETS and not is_notice:  # one reply for all that are left out
        req.reply(rpl.ERR_TOOMANYTARGETS, targets[MAX_TARGETS], f"Too many targets. The maximum is {MAX_TARGETS}")
    for target_name in targets[:MAX_TARGETS]:
        found = message_recipients(req, target_name, is_notice)
        if found is None:
            continue
        target, recipients = found
        name = target if isinstance(target, str) else target.nick if isinstance(target, Client) else target.name
        if relayed_length(prefix, command, name, text) > MAX_BODY_BYTES:
            req.reply(rpl.ERR_INPUTTOOLONG, f"Message too long to relay to {name} (with your address it would "
                      f"exceed {MAX_BODY_BYTES} bytes); send it in shorter parts")
            continue
        if isinstance(recipients, ChannelAudience):
            if "echo-message" in client.caps:
                recipients = recipients._replace(skip=None)
            if is_tagmsg:
                recipients = recipients._replace(groups={gates: conns for gates, conns in recipients.groups.items()
                                                         if gates[MESSAGE_TAGS_GATE]})
        else:
            if "echo-message" in client.caps:
                recipients.append(client)
            if is_tagmsg:
                recipients = [r for r in recipients if "message-tags" in r.caps]
        tags, time_ms = sender_tags(req, client_tags)
        line = user_message(client, command, name, *params, tags=tags)
        if isinstance(target, str):
            req.out.relay(recipients, line)
            req.server.audit(client, "announce", target, text)
        elif req.server.history_enabled and stored_kind and not isinstance(target, StatusTarget):
            is_channel = isinstance(target, Channel)
            store_message(req, target, recipients, line, StoredMessage(
                tags["msgid"], time_ms, name, prefix, command, text,
                recipient_host="" if is_channel else target.host, client_tags=client_tags,
                ops_only=is_channel and target.only_operators_hear(client), sender_account=client.account,
                recipient_account=None if is_channel else target.account))
        else:
            req.out.relay(recipients, line)


def sender_tags(req: Request, client_tags: dict[str, str]) -> tuple[dict[str, str], int]:
    """The tags of a new message from ``req.client`` and its time: the server's (``message_tags``), then
    ``bot`` (IRCv3 bot-mode, a tag without a value) and ``account`` (IRCv3 account-tag) when they apply."""
    tags, time_ms = req.server.message_tags(client_tags)
    if req.client.is_bot:
        tags["bot"] = ""
    if req.client.account is not None:
        tags["account"] = req.client.account
    return tags, time_ms


def relayed_length(prefix: str, command: str, target: str, text: str) -> int:
    """Bytes of ``:prefix COMMAND target :text\r\n`` as recipients get it, tags aside (RFC 1459's 512 bytes
    count without them). A line the sender could send may not fit once the server adds the prefix: it is
    refused whole rather than cut, since strict clients drop longer lines and a cut line loses words."""
    return len(prefix.encode()) + len(command) + len(target.encode()) + len(text.encode()) + 7


def message_recipients(req: Request, target_name: str, is_notice: bool, grouped: bool = True
                       ) -> tuple[Channel | StatusTarget | Client | str, list[Client] | ChannelAudience] | None:
    """The target of a message and who receives it (without the sender), or None after an error reply.
    The target is a channel, some of its members (STATUSMSG), a user, or a ``$server`` mask (an
    announcement to everyone). Who may send to a channel may send to some of its members. A whole
    channel's members come as its ``ChannelAudience`` when ``grouped``, else as a list of clients (for
    a caller that picks among them or sends them different lines)."""
    client = req.client
    if target_name.startswith("$"):
        return announcement_recipients(req, target_name)
    status = target_name[:1] if target_name[:1] in STATUS_PREFIXES and is_channel_name(target_name[1:]) else ""
    if status:
        found = message_recipients(req, target_name[1:], is_notice, grouped=False)
        if found is None:
            return None
        channel, hearers = found
        status_target = StatusTarget(channel, status)
        return status_target, [member for member in hearers if status_target.hears(member)]
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
        if channel.only_operators_hear(client):
            return channel, [member for member in channel.operators() if member is not client]
        if not grouped:
            return channel, [member for member in channel.members if member is not client]
        return channel, ChannelAudience(channel.audience(), client.conn)
    target = req.state.find_client(target_name)
    if target is None or not target.registered:
        if not is_notice:
            err_no_such_nick(req, target_name)
        return None
    if target.away is not None and not is_notice:
        req.reply(rpl.RPL_AWAY, target.nick, target.away)
    # A message to oneself is delivered once: directly, or as the echo when echo-message is on.
    return target, [target] if target is not client or "echo-message" not in client.caps else []


def store_message(req: Request, target: Channel | Client, recipients: list[Client] | ChannelAudience, line: Message,
                  message: StoredMessage) -> None:
    """Relay ``line`` as a message the history keeps: delivered only once stored (``Outbox.relay_stored``)."""
    req.out.relay_stored(req.client, recipients, line, message)
    if isinstance(target, Channel) and not target.persistent:
        target.persistent = True


def handle_wallops(req: Request, msg: Message) -> None:
    """WALLOPS (RFC 2812 §4.7): a teacher's message to everyone with user mode +w."""
    client, text = req.client, msg.param(0)
    if not client.is_oper:
        err_no_privileges(req)
        return
    if not text:
        err_need_more_params(req, "WALLOPS")
        return
    if relayed_length(client.prefix, "WALLOPS", "", text) > MAX_BODY_BYTES:
        req.reply(rpl.ERR_INPUTTOOLONG, "Message too long to relay; send it in shorter parts")
        return
    req.out.relay(list(req.state.with_user_mode["w"]), user_message(client, "WALLOPS", text))
    req.server.audit(client, "wallops", "*", text)
