"""The command table and the dispatcher: which handler runs each command, how many parameters it needs and
whether it may come before registration (like ergo's ``irc/commands.go``).

``dispatch`` runs with the state lock held and answers the generic errors (421 unknown command, 451 not
registered, 461 not enough parameters), so handlers do not. ``prepare`` runs before the lock is taken,
for the commands whose ``outside_lock`` step is slow on purpose (OPER's password hash).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from common.protocol import numerics as rpl
from common.protocol.message import Message
from common.server.commands.accounts import check_authenticate, create_account, handle_authenticate, handle_register
from common.server.commands.attendance import handle_attendance
from common.server.commands.base import Request, ServerServices, err_need_more_params
from common.server.commands.channels import (handle_invite, handle_join, handle_kick, handle_names, handle_part,
                                             handle_topic)
from common.server.commands.chathistory import handle_chathistory
from common.server.commands.hands import handle_hand
from common.server.commands.listing import handle_list
from common.server.commands.info import handle_help, handle_info, handle_links
from common.server.commands.messages import handle_privmsg, handle_wallops
from common.server.commands.markread import handle_markread
from common.server.commands.redact import handle_redact
from common.server.commands.modes import handle_mode
from common.server.commands.monitor import handle_monitor
from common.server.commands.multiline import handle_batch, takes_line
from common.server.commands.polls import handle_poll, handle_vote
from common.server.commands.operators import (check_oper_login, handle_endlesson, handle_kill, handle_oper,
                                              handle_startlesson)
from common.server.commands.queries import (handle_away, handle_ison, handle_lusers, handle_motd, handle_time,
                                            handle_userhost, handle_version, handle_who, handle_whois)
from common.server.commands.registration import (handle_cap, handle_nick, handle_pass, handle_ping, handle_pong,
                                                 handle_quit, handle_user)
from common.server.commands.rename import handle_rename
from common.server.commands.setname import handle_setname
from common.server.commands.whowas import handle_whowas
from common.server.state import Client


@dataclass(frozen=True)
class CommandSpec:
    handler: Callable[[Request, Message], None]
    min_params: int = 0
    before_registration: bool = False
    # Slow work done before the state lock is taken; its result reaches the handler as ``req.prepared``.
    outside_lock: Callable[[ServerServices, Client, Message], object] | None = None


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
    "INVITE": CommandSpec(handle_invite),
    "KICK": CommandSpec(handle_kick, 2),
    "RENAME": CommandSpec(handle_rename, 2),
    "PRIVMSG": CommandSpec(handle_privmsg),
    "NOTICE": CommandSpec(handle_privmsg),
    "TAGMSG": CommandSpec(handle_privmsg),
    "WALLOPS": CommandSpec(handle_wallops, 1),
    "BATCH": CommandSpec(handle_batch, 1),  # draft/multiline; the lines inside a batch: takes_line
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
    "STARTLESSON": CommandSpec(handle_startlesson),
    "ATTENDANCE": CommandSpec(handle_attendance, 1),
    "MODE": CommandSpec(handle_mode, 1),
    "CHATHISTORY": CommandSpec(handle_chathistory, 1),
    "MARKREAD": CommandSpec(handle_markread),  # its own FAIL NEED_MORE_PARAMS, not 461
    "REDACT": CommandSpec(handle_redact, 2),
    "AUTHENTICATE": CommandSpec(handle_authenticate, 1, before_registration=True, outside_lock=check_authenticate),
    "REGISTER": CommandSpec(handle_register, 3, before_registration=True, outside_lock=create_account),
    "WHOWAS": CommandSpec(handle_whowas),
    "INFO": CommandSpec(handle_info),
    "LINKS": CommandSpec(handle_links),
    "HELP": CommandSpec(handle_help),
    "HELPOP": CommandSpec(handle_help),
    "MONITOR": CommandSpec(handle_monitor, 1),
    "SETNAME": CommandSpec(handle_setname, 1),
    "HAND": CommandSpec(handle_hand, 1),
    "POLL": CommandSpec(handle_poll, 1),
    "VOTE": CommandSpec(handle_vote, 2),
}


def prepare(server: ServerServices, client: Client, msg: Message) -> object:
    """A command's ``outside_lock`` step, if it has one; its result goes into the ``Request``."""
    spec = COMMANDS.get(msg.command)
    if spec is None or spec.outside_lock is None or len(msg.params) < spec.min_params \
            or not (client.registered or spec.before_registration):
        return None
    return spec.outside_lock(server, client, msg)


def dispatch(req: Request, msg: Message) -> None:
    """Run one command. The caller holds the state lock (see ``ChatServer.transaction``)."""
    client = req.client
    if client.registered and (client.multiline is not None or "batch" in msg.tags) and takes_line(req, msg):
        return  # a line of a draft/multiline batch
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
