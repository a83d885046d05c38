"""MONITOR (IRCv3 monitor, modern.ircdocs.horse "MONITOR"): a client names nicks it wants to know about
and is told when each comes online (730) or goes offline (731), with no polling.

Runs under the state lock. ``handle_monitor`` changes only the caller's list (``Client.monitoring`` and
``ServerState.watchers``, at most ``MONITOR_LIMIT`` nicks); the ``announce_*`` functions are called where a
nick appears or disappears (registration, NICK, a disconnect) and only fill an outbox. The watchers that
negotiated extended-monitor also get AWAY and SETNAME of the nicks they monitor: see
``base.relay_to_peers_with_cap``.
"""
from __future__ import annotations

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_valid_nick
from common.protocol.message import Message
from common.server.commands.base import (MONITOR_LIMIT, Request, distinct_targets, err_need_more_params, packed,
                                         reply_packed)
from common.server.outbox import Outbox
from common.server.state import Client, ServerState


def handle_monitor(req: Request, msg: Message) -> None:
    """MONITOR + targets, MONITOR - targets, MONITOR C (clear), MONITOR L (list), MONITOR S (status)."""
    subcommand = msg.params[0].upper()
    if subcommand in ("+", "-") and not msg.param(1):
        err_need_more_params(req, "MONITOR")
    elif subcommand == "+":
        add_targets(req, msg.params[1])
    elif subcommand == "-":
        for nick in distinct_targets(msg.params[1]):
            req.state.unmonitor(req.client, casefold(nick))
    elif subcommand == "C":
        for folded in list(req.client.monitoring):
            req.state.unmonitor(req.client, folded)
    elif subcommand == "L":
        reply_packed(req, rpl.RPL_MONLIST, list(req.client.monitoring.values()), ",")
        req.reply(rpl.RPL_ENDOFMONLIST, "End of MONITOR list")
    elif subcommand == "S":
        send_status(req, list(req.client.monitoring.values()))
    else:
        req.reply(rpl.ERR_UNKNOWNERROR, "MONITOR", "Unknown MONITOR subcommand")


def add_targets(req: Request, text: str) -> None:
    """Add the valid nicks of a comma list until the list is full (734 names those left out), then tell the
    status of those added. A nick already on the list counts once; an invalid nick is skipped."""
    client = req.client
    nick_length = req.server.config.nick_length
    targets = [nick for nick in distinct_targets(text) if is_valid_nick(nick, nick_length)]
    added: list[str] = []
    for index, nick in enumerate(targets):
        if casefold(nick) not in client.monitoring and len(client.monitoring) >= MONITOR_LIMIT:
            left_out = packed(targets[index:], 300, ",")[0]  # as many as fit in the reply
            req.reply(rpl.ERR_MONLISTFULL, str(MONITOR_LIMIT), left_out, "Monitor list is full")
            break
        req.state.monitor(client, nick)
        added.append(nick)
    send_status(req, added)


def send_status(req: Request, nicks: list[str]) -> None:
    """730 for the nicks online (as nick!user@host), 731 for the others, packed into lines of 512 bytes."""
    online: list[str] = []
    offline: list[str] = []
    for nick in nicks:
        holder = req.state.find_client(nick)
        if holder is not None and holder.registered:
            online.append(holder.prefix)
        else:
            offline.append(nick)
    reply_packed(req, rpl.RPL_MONONLINE, online, ",")
    reply_packed(req, rpl.RPL_MONOFFLINE, offline, ",")


def announce_online(out: Outbox, state: ServerState, client: Client) -> None:
    """``client`` has just registered or taken its nick: tell those who monitor the nick (730)."""
    for watcher in state.watchers_of(client.nick):
        out.numeric(watcher, rpl.RPL_MONONLINE, client.prefix)


def announce_offline(out: Outbox, state: ServerState, nick: str) -> None:
    """``nick`` is no longer used (its client left or changed nick): tell those who monitor it (731)."""
    for watcher in state.watchers_of(nick):
        out.numeric(watcher, rpl.RPL_MONOFFLINE, nick)


def announce_nick_change(out: Outbox, state: ServerState, client: Client, old_nick: str) -> None:
    """A registered client went from ``old_nick`` to its current nick (nothing to say for a change of case)."""
    if casefold(old_nick) != casefold(client.nick):
        announce_offline(out, state, old_nick)
        announce_online(out, state, client)
