"""SETNAME (IRCv3 setname): a registered client changes its realname.

Runs under the state lock and changes only the caller's ``realname``. The change goes to the caller and to
the peers that negotiated ``setname`` (and to those monitoring the caller with extended-monitor); a client
without the capability learns realnames from WHO and WHOIS as before. An empty realname, or one longer
than ``NAMELEN``, is refused with ``FAIL SETNAME INVALID_REALNAME`` and nothing changes.
"""
from __future__ import annotations

from common.protocol.message import Message
from common.server.commands.base import NAMELEN, Request, relay_to_peers_with_cap, send_fail, user_message


def handle_setname(req: Request, msg: Message) -> None:
    realname = msg.params[0]
    if not realname or len(realname) > NAMELEN:
        send_fail(req, "SETNAME", "INVALID_REALNAME", f"Realname must be 1 to {NAMELEN} characters")
        return
    client = req.client
    client.realname = realname
    change = user_message(client, "SETNAME", realname)
    if "setname" in client.caps:
        req.out.send(client, change)
    relay_to_peers_with_cap(req, "setname", change)
