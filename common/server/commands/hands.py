"""HAND: raised hands in a channel (classchat's own; capability ``classchat.org/classroom``).

    HAND <#channel> [UP|DOWN|LIST]          any member: raise (the default) or lower one's hand, or see the queue
    HAND <#channel> CALL <nick>             a channel operator calls on a member: their hand goes down and, in a
                                            moderated (+m) channel, they get voice (+v, announced as a MODE)
    HAND <#channel> LOWER <nick> | CLEAR    a channel operator lowers one hand, or every hand

Hands are no messages: raising one works without voice in a moderated channel, and when muted, which is
the point of it. After every change, members with the capability get the queue, oldest first, with the
time each hand went up (``:server HANDS #c [*] :masha=<ms> petya=<ms>``; a long queue takes several lines,
each but the last with ``*``), then the change itself as the actor's line (``:masha!u@h HAND #c UP``).
Members without it get a NOTICE from the server that says it in words ("masha raised a hand (2 hands
up)"). A joining member gets the queue too (see ``classroom.send_classroom_on_join``). A hand goes down
without any HAND line when its owner leaves (PART, KICK, QUIT: that line says it), and follows its
owner's nick change (the NICK line says it): clients apply both themselves.

Runs under the state lock; changes only ``Channel.classroom`` (and a member's +v on CALL).
"""
from __future__ import annotations

from typing import Iterable

from common.protocol import numerics as rpl
from common.protocol.classroom import CLASSROOM_CAP, format_entries
from common.protocol.message import Message, middle_word
from common.server.commands.base import (Request, ServerServices, err_need_more_params, member_channel, packed,
                                         relay_to_channel, server_message, user_message)
from common.server.history import format_time
from common.server.state import Channel, Client

MEMBER_VERBS = ("UP", "DOWN", "LIST")
OPERATOR_VERBS = ("CALL", "LOWER", "CLEAR")
LINE_BUDGET = 510  # bytes of a line without its CRLF and tags (RFC 1459 §2.3)


# ------------------------------------------------------------------ shared by HAND, POLL and VOTE

ECHO_LIMIT = 50  # characters of what the client sent (a word, a nick) that a FAIL repeats back


def classroom_fail(req: Request, command: str, code: str, *context_and_text: str) -> None:
    """``FAIL <command> <code> [<context>…] :<text>`` (IRCv3 standard replies) to the caller. What the
    client sent is repeated back cut to ``ECHO_LIMIT`` characters, so that the reply fits in a line."""
    *context, text = context_and_text
    words = [middle_word(word[:ECHO_LIMIT]) for word in context]
    req.out.send(req.client, server_message(req, "FAIL", command, code, *words, text))


def split_by_cap(clients: Iterable[Client]) -> tuple[list[Client], list[Client]]:
    """(those with the classroom capability, those without): the first get lines, the others NOTICEs."""
    with_cap, plain = [], []
    for client in clients:
        (with_cap if CLASSROOM_CAP in client.caps else plain).append(client)
    return with_cap, plain


def server_line(server: ServerServices, command: str, *params: str) -> Message:
    """A line from the server with its time (``server-time``: clients reckon how long a hand has been up
    and how long a poll has left from it, not from their own clock)."""
    return Message(command, list(params), source=server.config.name, tags={"time": format_time(server.now_ms())})


def server_notice(server: ServerServices, target: str, text: str) -> Message:
    return Message("NOTICE", [target, text], source=server.config.name)


def packed_lines(server: ServerServices, command: str, params: list[str], items: list[str]) -> list[Message]:
    """``command params [*] :items…`` in as many lines as the items need; every line but the last has ``*``
    (as CAP LS does), and an empty list is one line with an empty last parameter."""
    head = " ".join([f":{server.config.name}", command, *params, "*", ":"])
    pieces = packed(items, LINE_BUDGET - len(head.encode())) or [""]
    return [server_line(server, command, *params, *(["*"] if index < len(pieces) - 1 else []), piece)
            for index, piece in enumerate(pieces)]


def duration_text(milliseconds: int) -> str:
    """How long, for a NOTICE: "5 s", "1 min 20 s", "1 h 5 min"."""
    seconds = max(0, milliseconds // 1000)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


# ------------------------------------------------------------------ what members see of the queue

def count_text(count: int) -> str:
    return "no hands up" if count == 0 else "1 hand up" if count == 1 else f"{count} hands up"


def hands_lines(server: ServerServices, channel: Channel) -> list[Message]:
    return packed_lines(server, "HANDS", [channel.name], format_entries(channel.classroom.queue()))


def queue_notices(server: ServerServices, channel: Channel, target: str) -> list[Message]:
    """The queue in words, for a member without the capability: "2 hands up in #math: masha (1 min), …"."""
    queue = channel.classroom.queue()
    head = f"{count_text(len(queue)).capitalize()} in {channel.name}"
    if not queue:
        return [server_notice(server, target, head)]
    now = server.now_ms()
    items = [f"{index}. {nick} ({duration_text(now - raised_at)})" for index, (nick, raised_at) in
             enumerate(queue, 1)]
    room = LINE_BUDGET - len(f":{server.config.name} NOTICE {target} :{head}: ".encode())
    return [server_notice(server, target, f"{head}: {piece}") for piece in packed(items, room, ", ")]


def announce_hands(req: Request, channel: Channel, action: Message, words: str, queue_changed: bool = True) -> None:
    """A change of the queue: the new queue and the change to members with the capability, the change in
    words to the others."""
    with_cap, plain = split_by_cap(channel.members)
    if queue_changed:
        for line in hands_lines(req.server, channel):
            req.out.relay(with_cap, line)
    req.out.relay(with_cap, action)
    req.out.relay(plain, server_notice(req.server, channel.name, words))


def tell_queue(req: Request, channel: Channel, words: str = "") -> None:
    """The queue as it is, to the caller alone (HAND LIST, or a change that changed nothing)."""
    if CLASSROOM_CAP in req.client.caps:
        for line in hands_lines(req.server, channel):
            req.out.send(req.client, line)
        return
    if words:
        req.out.send(req.client, server_notice(req.server, req.client.nick, words))
    for line in queue_notices(req.server, channel, req.client.nick):
        req.out.send(req.client, line)


def hand_line(req: Request, channel: Channel, verb: str, *args: str) -> Message:
    return user_message(req.client, "HAND", channel.name, verb, *args,
                        tags={"time": format_time(req.server.now_ms())})


# ------------------------------------------------------------------ the command

def handle_hand(req: Request, msg: Message) -> None:
    verb = msg.param(1, "UP").upper()
    if verb not in MEMBER_VERBS and verb not in OPERATOR_VERBS:
        classroom_fail(req, "HAND", "UNKNOWN_SUBCOMMAND", msg.params[0], verb,
                       "HAND <#channel> UP|DOWN|LIST, or for operators CALL <nick>|LOWER <nick>|CLEAR")
        return
    channel = member_channel(req, msg.params[0], operator=verb in OPERATOR_VERBS)
    if channel is None:
        return
    if verb in ("CALL", "LOWER") and len(msg.params) < 3:
        err_need_more_params(req, "HAND")
        return
    HAND_VERBS[verb](req, channel, msg.param(2))


def raise_hand(req: Request, channel: Channel, _nick: str) -> None:
    client, classroom = req.client, channel.classroom
    if client in classroom.hands:
        tell_queue(req, channel, f"Your hand is already up in {channel.name}")
        return
    now = req.server.now_ms()
    if not classroom.may_raise(client, now):
        classroom_fail(req, "HAND", "TOO_FAST", channel.name, "You raised your hand too often; wait a minute")
        return
    classroom.hands[client] = now
    announce_hands(req, channel, hand_line(req, channel, "UP"),
                   f"{client.nick} raised a hand ({count_text(len(classroom.hands))})")


def lower_own_hand(req: Request, channel: Channel, _nick: str) -> None:
    client, classroom = req.client, channel.classroom
    if classroom.hands.pop(client, None) is None:
        tell_queue(req, channel, f"Your hand is not up in {channel.name}")
        return
    announce_hands(req, channel, hand_line(req, channel, "DOWN"),
                   f"{client.nick} lowered their hand ({count_text(len(classroom.hands))})")


def list_hands(req: Request, channel: Channel, _nick: str) -> None:
    tell_queue(req, channel)


def call_on(req: Request, channel: Channel, nick: str) -> None:
    """The teacher calls on a member: their hand goes down (if it was up) and, when the channel is
    moderated and they have no voice, they get it, so that they may answer."""
    target = req.state.find_client(nick)
    if target is None or target not in channel.members:
        req.reply(rpl.ERR_USERNOTINCHANNEL, nick, channel.name, "They aren't on that channel")
        return
    classroom = channel.classroom
    had_hand = classroom.hands.pop(target, None) is not None
    announce_hands(req, channel, hand_line(req, channel, "CALL", target.nick),
                   f"{req.client.nick} called on {target.nick} ({count_text(len(classroom.hands))})",
                   queue_changed=had_hand)
    if "m" in channel.modes and not channel.is_privileged(target):
        channel.members[target].add("v")
        relay_to_channel(req, channel, user_message(req.client, "MODE", channel.name, "+v", target.nick))
        req.server.audit(req.client, "mode", channel.name, f"+v {target.nick}")
    req.server.audit(req.client, "call on", f"{channel.name} {target.nick}")


def lower_hand_of(req: Request, channel: Channel, nick: str) -> None:
    target = req.state.find_client(nick)
    classroom = channel.classroom
    if target is None or classroom.hands.pop(target, None) is None:
        classroom_fail(req, "HAND", "NOT_RAISED", channel.name, nick,
                       f"{nick[:ECHO_LIMIT]} has no hand up in {channel.name}")
        return
    announce_hands(req, channel, hand_line(req, channel, "LOWER", target.nick),
                   f"{req.client.nick} lowered {target.nick}'s hand ({count_text(len(classroom.hands))})")


def clear_hands(req: Request, channel: Channel, _nick: str) -> None:
    classroom = channel.classroom
    if not classroom.hands:
        tell_queue(req, channel)
        return
    classroom.hands.clear()
    announce_hands(req, channel, hand_line(req, channel, "CLEAR"), f"{req.client.nick} lowered every hand")
    req.server.audit(req.client, "lower every hand", channel.name)


HAND_VERBS = {"UP": raise_hand, "DOWN": lower_own_hand, "LIST": list_hands, "CALL": call_on,
              "LOWER": lower_hand_of, "CLEAR": clear_hands}
