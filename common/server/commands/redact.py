"""REDACT (IRCv3 draft/message-redaction), the part that runs under the state lock: the target is checked
and the caller's rights in it decided, the REDACT line to relay is made (with a time and msgid of its own),
and everything the sequencer needs is captured in a ``Redaction``.

Touches nothing: whether the message exists, whose it is and when it was sent are in the history, which is
read only by the sequencer thread; it looks the message up, deletes it and tells the conversation
(``common.server.redactions``). Offered only when the server keeps history: without it there is no
message to look up (REDACT is then an unknown command, as CHATHISTORY is).

Who may delete what: in a channel, its operators and the teacher (a server operator) any message, at any
time; everyone their own messages (and reactions) within ``ServerConfig.redact_window`` seconds; in a
private chat, each side their own, within the same window. A client without the capability may send
REDACT too (``/quote REDACT #math <msgid>``); it then learns the outcome from the fallback NOTICE.
"""
from __future__ import annotations

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_channel_name, is_valid_nick
from common.protocol.framing import MAX_BODY_BYTES
from common.protocol.message import Message, middle_word
from common.protocol.params import parse_msgid
from common.server.commands.base import Request, server_message, user_message
from common.server.history import dm_key
from common.server.redactions import FAIL_TEXTS, Redaction, apply_redaction

SHOWN_WORD_LENGTH = 64  # of a refused target or msgid echoed in a FAIL
INVALID_TARGET_TEXT = "You cannot delete messages from {target}"


def fail_redact(req: Request, code: str, *context: str) -> None:
    words = [middle_word(word[:SHOWN_WORD_LENGTH]) for word in context]
    text = INVALID_TARGET_TEXT.format(target=words[0]) if code == "INVALID_TARGET" else FAIL_TEXTS[code]
    req.out.send(req.client, server_message(req, "FAIL", "REDACT", code, *words, text))


def conversation(req: Request, target: str):
    """(history key, target as relayed, everyone in it as (folded nick, client), its operators, whether the
    caller moderates it) for a channel the caller is in (or the teacher sees) or a private chat; else None."""
    client = req.client
    if is_channel_name(target):
        channel = req.state.find_channel(target)
        if channel is None or (client not in channel.members and not client.is_oper):
            return None
        hearers = [(casefold(member.nick), member) for member in channel.members]
        if client not in channel.members:
            hearers.append((casefold(client.nick), client))
        return (casefold(channel.name), channel.name, hearers, frozenset(channel.operators()),
                channel.is_operator(client))
    if not is_valid_nick(target, req.server.config.nick_length):
        return None
    other = req.state.find_client(target)
    hearers = [(casefold(client.nick), client)]
    if other is not None and other.registered and other is not client:
        hearers.append((casefold(other.nick), other))
    return dm_key(client.nick, target), target, hearers, frozenset(), False


def handle_redact(req: Request, msg: Message) -> None:
    """``REDACT <target> <msgid> [:reason]``: checked here, carried out by the sequencer."""
    client = req.client
    if not req.server.history_enabled:
        req.reply(rpl.ERR_UNKNOWNCOMMAND, "REDACT", "Unknown command")
        return
    target, msgid_text, reason = msg.params[0], msg.params[1], msg.param(2)
    found = conversation(req, target)
    if found is None:
        fail_redact(req, "INVALID_TARGET", target)
        return
    key, shown, hearers, operators, moderator = found
    msgid = parse_msgid(msgid_text)
    if msgid is None:
        fail_redact(req, "UNKNOWN_MSGID", shown, msgid_text)
        return
    reason_params = [reason] if reason else []
    if len(f":{client.prefix} REDACT {shown} {msgid} :{reason}\r\n".encode()) > MAX_BODY_BYTES:
        req.reply(rpl.ERR_INPUTTOOLONG, "The reason is too long to relay; give a shorter one")
        return
    tags, now_ms = req.server.message_tags({})
    if client.account is not None:
        tags["account"] = client.account  # IRCv3 account-tag, as on the messages themselves
    line = user_message(client, "REDACT", shown, msgid, *reason_params, tags=tags)
    redaction = Redaction(
        caller=client, side=(casefold(client.nick), client.host, casefold(client.account) if client.account else None),
        moderator=moderator, key=key, target=shown, msgid=msgid, line=line, hearers=tuple(hearers),
        operators=operators, now_ms=now_ms, window_ms=int(req.server.config.redact_window * 1000),
        actor=f"{'oper' if client.is_oper else 'chanop'} {client.prefix}")
    req.out.history_reads.append(lambda store, out: apply_redaction(store, out, redaction))
