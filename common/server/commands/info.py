"""About the server: INFO, LINKS (RFC 2812 §3.4.5, §3.4.10) and HELP/HELPOP (modern.ircdocs.horse "HELP",
704-706 and 524 as solanum and ergo send them).

Runs under the state lock and reads nothing but the server's settings and the texts of
``common.server.help_texts``.
"""
from __future__ import annotations

from common.protocol import numerics as rpl
from common.protocol.casemap import mask_matches
from common.protocol.message import Message
from common.protocol.params import MAX_MASK_LENGTH
from common.server.commands.base import Request, packed
from common.server.help_texts import HELP_TOPICS, INDEX_FOOTER, INDEX_HEADER, INFO_LINES, TOPIC_NAMES

MAX_SUBJECT_ECHO = 32  # a HELP subject longer than any topic is not echoed back


def handle_info(req: Request, msg: Message) -> None:
    for line in INFO_LINES:
        req.reply(rpl.RPL_INFO, line)
    req.reply(rpl.RPL_INFO, f"Version {req.server.version}, running since {req.server.created_text}.")
    req.reply(rpl.RPL_ENDOFINFO, "End of /INFO list")


def handle_links(req: Request, msg: Message) -> None:
    """LINKS [[<remote server>] <server mask>]: a network of one server lists itself, hop count 0."""
    mask = msg.params[-1] if msg.params and msg.params[-1] else "*"
    name = req.server.config.name
    if mask_matches(mask, name):
        req.reply(rpl.RPL_LINKS, name, name, f"0 {req.server.config.network} chat server")
    req.reply(rpl.RPL_ENDOFLINKS, mask if len(mask) <= MAX_MASK_LENGTH else "*", "End of /LINKS list")


def handle_help(req: Request, msg: Message) -> None:
    """HELP [<subject>] (and HELPOP): the index of commands, or one topic; 524 for an unknown subject."""
    subject = msg.param(0).upper()
    if not subject:
        commands = sorted(name for name in HELP_TOPICS if name not in TOPIC_NAMES)
        req.reply(rpl.RPL_HELPSTART, "*", INDEX_HEADER)
        for line in packed(commands, 72):
            req.reply(rpl.RPL_HELPTXT, "*", line)
        req.reply(rpl.RPL_HELPTXT, "*", INDEX_FOOTER)
        req.reply(rpl.RPL_ENDOFHELP, "*", "End of /HELP")
        return
    topic = HELP_TOPICS.get(subject)
    if topic is None:
        shown = subject if len(subject) <= MAX_SUBJECT_ECHO else "*"
        req.reply(rpl.ERR_HELPNOTFOUND, shown, "No help available on this topic")
        return
    syntax, *lines = topic
    req.reply(rpl.RPL_HELPSTART, subject, syntax)
    for line in lines:
        req.reply(rpl.RPL_HELPTXT, subject, line)
    req.reply(rpl.RPL_ENDOFHELP, subject, "End of /HELP")
