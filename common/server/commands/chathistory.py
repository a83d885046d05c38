"""CHATHISTORY (IRCv3 draft/chathistory), the part that runs under the state lock: the subcommand and its
parameters are checked, the caller's right to see the target is decided, and the query is captured in
immutable values (a ``HistoryRequest``, a ``Viewer``) for the sequencer to answer.

Touches nothing: it reads the caller and the channel it asks about, and queues the read in
``req.out.history_reads``. The answering, which reads the history, is in ``common.server.history_reads``.
"""
from __future__ import annotations

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_channel_name, is_valid_nick
from common.protocol.message import Message, middle_word
from common.server.commands.base import CHATHISTORY_LIMIT, Request, server_message
from common.protocol.params import parse_count, parse_msgid, parse_timestamp
from common.server.history import Viewer, dm_key
from common.server.history_reads import HistoryRequest, send_targets


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
        moment = parse_timestamp(value)
        return ("timestamp", moment) if moment is not None else None
    if kind == "msgid" and parse_msgid(value) is not None:
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
    asked = parse_count(limit_text, 1, 1_000_000)
    if asked is None:
        fail_chathistory(req, "INVALID_PARAMS", subcommand, limit_text[:32])
        return
    limit = min(asked, CHATHISTORY_LIMIT)
    client = req.client
    viewer = Viewer(client.nick, client.host, account=client.account)
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
            fail_chathistory(req, "INVALID_PARAMS", subcommand, ref[:64])
            return
        refs.append(parsed)
    request = HistoryRequest(subcommand, key, shown_target, refs, limit, viewer)
    req.out.history_reads.append(lambda store, out: request.answer(store, out, client))
