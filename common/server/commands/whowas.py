"""WHOWAS (RFC 2812 §3.6.3, modern.ircdocs.horse "WHOWAS"): who used a nick before.

Runs under the state lock and only reads ``ServerState.nick_history``, the bounded ring that
``ServerState.rename`` and ``ServerState.remove`` fill when a registered client changes its nick or leaves.
Like ergo, each nick asked about ends with its own 369; a nick never seen gets 406 first.
"""
from __future__ import annotations

import time

from common.protocol import numerics as rpl
from common.protocol.casemap import is_valid_nick
from common.protocol.message import Message
from common.protocol.params import parse_count
from common.server.commands.base import MAX_TARGETS, Request, distinct_targets
from common.server.nick_history import WHOWAS_PER_NICK


def handle_whowas(req: Request, msg: Message) -> None:
    """WHOWAS <nick>{,<nick>} [<count> [<server>]]: at most ``count`` entries per nick, newest first; a count
    of 0, a negative one or one that is not a number means all that are kept (RFC 2812)."""
    nicks = distinct_targets(msg.param(0))
    if not nicks:
        req.reply(rpl.ERR_NONICKNAMEGIVEN, "No nickname given")
        return
    count = parse_count(msg.param(1), 1, WHOWAS_PER_NICK) or 0
    if len(nicks) > MAX_TARGETS:  # one reply for all that are left out, as for PRIVMSG (TARGMAX WHOWAS)
        req.reply(rpl.ERR_TOOMANYTARGETS, nicks[MAX_TARGETS], f"Too many targets. The maximum is {MAX_TARGETS}")
    config = req.server.config
    for nick in nicks[:MAX_TARGETS]:
        entries = req.state.nick_history.find(nick, count)
        shown = nick if is_valid_nick(nick, config.nick_length) else "*"  # never echo a 500-byte "nick"
        if not entries:
            req.reply(rpl.ERR_WASNOSUCHNICK, shown, "There was no such nickname")
        for entry in entries:
            req.reply(rpl.RPL_WHOWASUSER, entry.nick, entry.username, entry.host, "*", entry.realname)
            left = time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(entry.left_at))
            req.reply(rpl.RPL_WHOISSERVER, entry.nick, config.name, left)
        req.reply(rpl.RPL_ENDOFWHOWAS, shown, "End of WHOWAS")
