"""MODE (RFC 2812 §3.1.5 user modes, RFC 2811 §4 channel modes): user modes, channel modes and the mask
lists: bans (+b), mutes (+q), ban exceptions (+e) and invite exceptions (+I).

Runs under the state lock; changes the caller's user modes and a channel's modes, member modes and mask
lists. A change to the channel's own settings is also queued for the history (``remember_channel``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from common.protocol import numerics as rpl
from common.protocol.casemap import ACCOUNT_EXTBAN, casefold, is_channel_name, is_valid_nick, normalize_ban_mask
from common.protocol.message import Message
from common.protocol.params import parse_count, parse_mask
from common.server.commands.base import (CHANMODES, MAX_BANS, MAX_KEY_LENGTH, MAX_MODES, Request, err_chanop_needed,
                                         err_no_such_channel, err_no_such_nick, relay_to_channel,
                                         remember_channel, user_message)
from common.server.state import Ban, Channel

MAX_MEMBER_LIMIT = 100_000


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
        elif letter in "iBw":  # invisible; a bot (IRCv3 bot-mode); hears WALLOPS
            if adding != (letter in client.modes):
                req.state.set_user_mode(client, letter, adding)
                applied.append(("+" if adding else "-") + letter)
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


@dataclass(frozen=True)
class ModeChange:
    """One channel mode change of a MODE line, its parameter already checked."""

    adding: bool
    letter: str
    arg: str = ""


class BadModeParameter(ValueError):
    """A parameter that no change could take (ERR_INVALIDMODEPARAM): the whole line is refused."""

    def __init__(self, letter: str, arg: str, reason: str) -> None:
        super().__init__(reason)
        self.letter, self.arg, self.reason = letter, arg, reason


def read_channel_modes(modestring: str, mode_args: list[str]) -> tuple[list[ModeChange], list[str], list[str]]:
    """Read a MODE line's changes without changing anything: (changes, list modes asked for, unknown letters).

    Every parameter is checked here, so that a bad one refuses the line before anything is applied
    (``BadModeParameter``). A change or a list query counts toward ``MAX_MODES`` (the MODES token of
    ISUPPORT); what is beyond it is ignored, as modern servers do, so one line costs a bounded amount."""
    args = list(mode_args)
    changes: list[ModeChange] = []
    queries: list[str] = []
    unknown: list[str] = []
    adding = True
    for letter in modestring:
        if letter in "+-":
            adding = letter == "+"
            continue
        if len(changes) + len(queries) >= MAX_MODES:
            break
        if letter in CHANMODES[0]:  # b, e, I, q: a mask to add or remove, or without one, the list
            if not args:
                if letter not in queries:
                    queries.append(letter)
                continue
            changes.append(ModeChange(adding, letter, checked_mask(letter, args.pop(0))))
        elif letter in "ov":
            if args:
                changes.append(ModeChange(adding, letter, checked_word(letter, args.pop(0))))
        elif letter == "k":
            if adding and not args:
                continue
            key = args.pop(0) if args else "*"
            changes.append(ModeChange(adding, letter, checked_key(key) if adding else key))
        elif letter == "l":
            if not adding:
                changes.append(ModeChange(False, letter))
            elif args:
                changes.append(ModeChange(True, letter, checked_limit(args.pop(0))))
        elif letter in CHANMODES[3]:
            changes.append(ModeChange(adding, letter))
        elif letter not in unknown:
            unknown.append(letter)
    return changes, queries, unknown


def checked_word(letter: str, arg: str) -> str:
    """A parameter must stand in the middle of the relayed line: no space, and not starting with ':'."""
    if not arg or " " in arg or arg.startswith(":"):
        raise BadModeParameter(letter, arg, "Invalid parameter")
    return arg


def checked_mask(letter: str, arg: str) -> str:
    """A mask, or an account (``$a:name``), or a bare nick, which ``by_identity`` turns into one of them."""
    word = checked_word(letter, arg)
    if word.startswith(ACCOUNT_EXTBAN):
        if not is_valid_nick(word[len(ACCOUNT_EXTBAN):], 100):
            raise BadModeParameter(letter, arg, "Invalid account")
        return word
    if is_bare_nick(word):
        return word
    mask = parse_mask(word)
    if mask is None:
        raise BadModeParameter(letter, arg, "Invalid mask")
    return mask


def is_bare_nick(word: str) -> bool:
    return not any(char in word for char in "!@$*?")


def by_identity(req: Request, mask: str) -> str:
    """A bare nick in a ban or mute names that person, not that nick: a logged-in user by their account
    (``$a:name``), so a new nick does not escape it; a guest by their computer's address (``*!*@host``).
    A nick nobody uses now, or a guest on this very computer (whose address every window here shares, as in
    the lab demonstration), is ``nick!*@*``, as every server completes a nick."""
    if not is_bare_nick(mask):
        return mask
    target = req.state.find_client(mask)
    if target is None:
        return normalize_ban_mask(mask)
    if target.account is not None:
        return ACCOUNT_EXTBAN + target.account
    if target.conn.address[0] in req.server.config.limit_exempt:  # this computer: 127.0.0.1, ::1
        return f"{target.nick}!*@*"
    return f"*!*@{target.host}"


def checked_key(arg: str) -> str:
    if not arg or any(char in arg for char in " ,:") or len(arg) > MAX_KEY_LENGTH:
        raise BadModeParameter("k", arg, "Invalid key")
    return arg


def checked_limit(arg: str) -> str:
    limit = parse_count(arg, 1, MAX_MEMBER_LIMIT)
    if limit is None:
        raise BadModeParameter("l", arg, f"Invalid limit (a number from 1 to {MAX_MEMBER_LIMIT})")
    return str(limit)


def channel_mode(req: Request, channel: Channel, args: list[str]) -> None:
    client = req.client
    if not args:
        req.reply(rpl.RPL_CHANNELMODEIS, channel.name, *channel.mode_string(client in channel.members))
        req.reply(rpl.RPL_CREATIONTIME, channel.name, str(channel.created))
        return
    try:
        changes, queries, unknown = read_channel_modes(args[0], args[1:])
    except BadModeParameter as bad:  # a refused key is not repeated back: it may be a password, or 400 bytes
        shown = "*" if bad.letter == "k" else bad.arg[:64]
        req.reply(rpl.ERR_INVALIDMODEPARAM, channel.name, bad.letter, shown, bad.reason)
        return
    for letter in unknown:
        req.reply(rpl.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
    for letter in queries:
        send_mask_list(req, channel, letter)
    if not changes:
        return
    if not channel.is_operator(client):
        if channel.is_class:
            req.reply(rpl.ERR_CHANOPRIVSNEEDED, channel.name, "Only a teacher changes a class channel")
        else:
            err_chanop_needed(req, channel.name)
        return
    applied: list[str] = []
    applied_args: list[str] = []
    for change in changes:
        result = apply_channel_mode(req, channel, change)
        if result is not None:
            applied.append(("+" if change.adding else "-") + change.letter)
            if result:
                applied_args.append(result)
    if applied:
        line = user_message(client, "MODE", channel.name, compact_modes(applied), *applied_args)
        relay_to_channel(req, channel, line)
        if any(item[1] not in "ov" for item in applied):
            remember_channel(req, channel)
        req.server.audit(client, "mode", channel.name, " ".join([compact_modes(applied), *applied_args]))


def apply_channel_mode(req: Request, channel: Channel, change: ModeChange) -> str | None:
    """Apply one checked change; return the parameter to show ("" for none), or None when nothing changed
    (told to the client when it is an error: no such nick, not in the channel, a full list, a key set)."""
    adding, letter, arg = change.adding, change.letter, change.arg
    if letter == "C" and not req.client.is_oper:
        req.reply(rpl.ERR_CHANOPRIVSNEEDED, channel.name, "Only a teacher makes or unmakes a class channel")
        return None
    if letter == "o" and channel.is_class and not req.client.is_oper:
        req.reply(rpl.ERR_CHANOPRIVSNEEDED, channel.name, "Only a teacher gives operator status in a class channel")
        return None
    if letter in "ov":
        target = req.state.find_client(arg)
        if target is None:
            err_no_such_nick(req, arg)
            return None
        if target not in channel.members:
            req.reply(rpl.ERR_USERNOTINCHANNEL, target.nick, channel.name, "They aren't on that channel")
            return None
        member_modes = channel.members[target]
        if adding == (letter in member_modes):
            return None
        (member_modes.add if adding else member_modes.discard)(letter)
        return target.nick
    if letter in CHANMODES[0]:
        return change_mask_list(req, channel, letter, adding, by_identity(req, arg))
    if letter == "k":
        if not adding:
            if channel.key is None:
                return None
            channel.key = None
            return "*"
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
        channel.limit = int(arg)  # checked by checked_limit: ASCII digits within bounds
        return arg
    if adding == (letter in channel.modes):
        return None
    (channel.modes.add if adding else channel.modes.discard)(letter)
    if letter == "C":
        req.state.class_mode_changed(channel)  # attendance begins or ends for those present
    return ""


def change_mask_list(req: Request, channel: Channel, letter: str, adding: bool, mask: str) -> str | None:
    """Add a (checked, completed) mask to, or take it from, a list mode's list (+b, +e, +I, +q)."""
    masks = channel.mask_list(letter)
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


# Each list mode's replies: (entry numeric, end numeric, what the end line calls the list). The mute list's
# numerics (solanum's 728/729) also carry the mode letter after the channel.
MASK_LIST_REPLIES = {
    "b": (rpl.RPL_BANLIST, rpl.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": (rpl.RPL_EXCEPTLIST, rpl.RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    "I": (rpl.RPL_INVEXLIST, rpl.RPL_ENDOFINVEXLIST, "End of channel invite exception list"),
    "q": (rpl.RPL_QUIETLIST, rpl.RPL_ENDOFQUIETLIST, "End of channel mute list"),
}


def send_mask_list(req: Request, channel: Channel, letter: str) -> None:
    entry_code, end_code, end_text = MASK_LIST_REPLIES[letter]
    letter_param = [letter] if letter == "q" else []
    for entry in channel.mask_list(letter):
        req.reply(entry_code, channel.name, *letter_param, entry.mask, entry.set_by, str(entry.set_at))
    req.reply(end_code, channel.name, *letter_param, end_text)
