"""MODE (RFC 2812 §3.1.5 user modes, RFC 2811 §4 channel modes): user modes, channel modes and the ban (+b)
and mute (+q) mask lists.

Runs under the state lock; changes the caller's user modes and a channel's modes, member modes and mask
lists. A change to the channel's own settings is also queued for the history (``remember_channel``).
"""
from __future__ import annotations

import time

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_channel_name, normalize_ban_mask
from common.protocol.message import Message
from common.server.commands.base import (CHANMODES, MAX_BANS, MAX_MODES, Request, err_chanop_needed,
                                         err_no_such_channel, err_no_such_nick, relay_to_channel,
                                         remember_channel, user_message)
from common.server.state import Ban, Channel


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
        elif letter == "i":
            if adding != ("i" in client.modes):
                req.state.set_user_mode(client, "i", adding)
                applied.append(("+" if adding else "-") + "i")
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


def channel_mode(req: Request, channel: Channel, args: list[str]) -> None:
    client = req.client
    if not args:
        req.reply(rpl.RPL_CHANNELMODEIS, channel.name, *channel.mode_string(client in channel.members))
        req.reply(rpl.RPL_CREATIONTIME, channel.name, str(channel.created))
        return
    modestring, mode_args = args[0], list(args[1:])
    if modestring.lstrip("+") in ("b", "q", "") and not mode_args:
        send_mask_list(req, channel, modestring.lstrip("+") or "b")
        return
    if not channel.is_operator(client):
        err_chanop_needed(req, channel.name)
        return
    applied: list[str] = []
    applied_args: list[str] = []
    adding = True
    param_changes = 0
    for letter in modestring:
        if letter in "+-":
            adding = letter == "+"
            continue
        takes_param = letter in "ovbqk" or (letter == "l" and adding)
        if takes_param:
            if letter in CHANMODES[0] and not mode_args:
                send_mask_list(req, channel, letter)
                continue
            if not mode_args:
                if letter == "k" and not adding:
                    mode_args.append("*")
                else:
                    continue
            param_changes += 1
            if param_changes > MAX_MODES:
                break
            arg = mode_args.pop(0)
        else:
            arg = ""
        result = apply_channel_mode(req, channel, adding, letter, arg)
        if result is not None:
            applied.append(("+" if adding else "-") + letter)
            if result:
                applied_args.append(result)
    if applied:
        change = user_message(client, "MODE", channel.name, compact_modes(applied), *applied_args)
        relay_to_channel(req, channel, change)
        if any(item[1] not in "ov" for item in applied):
            remember_channel(req, channel)
        req.server.audit(client, "mode", channel.name, " ".join([compact_modes(applied), *applied_args]))


def apply_channel_mode(req: Request, channel: Channel, adding: bool, letter: str, arg: str) -> str | None:
    """Apply one change; return the parameter to show ("" for none), or None when nothing changed."""
    if letter in "ov":
        target = req.state.find_client(arg)
        if target is None or target not in channel.members:
            req.reply(rpl.ERR_USERNOTINCHANNEL, arg, channel.name, "They aren't on that channel")
            return None
        member_modes = channel.members[target]
        if adding == (letter in member_modes):
            return None
        (member_modes.add if adding else member_modes.discard)(letter)
        return target.nick
    if letter in CHANMODES[0]:
        return change_mask_list(req, channel, letter, adding, arg)
    if letter == "k":
        if not adding:
            if channel.key is None:
                return None
            channel.key = None
            return "*"
        if not arg or any(char in arg for char in " ,:") or len(arg) > 32:
            req.reply(rpl.ERR_INVALIDMODEPARAM, channel.name, "k", arg, "Invalid key")
            return None
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
        if not arg.isdigit() or int(arg) < 1:
            req.reply(rpl.ERR_INVALIDMODEPARAM, channel.name, "l", arg, "Invalid limit")
            return None
        channel.limit = int(arg)
        return str(channel.limit)
    if letter in CHANMODES[3]:
        if adding == (letter in channel.modes):
            return None
        (channel.modes.add if adding else channel.modes.discard)(letter)
        return ""
    req.reply(rpl.ERR_UNKNOWNMODE, letter, "is unknown mode char to me")
    return None


def change_mask_list(req: Request, channel: Channel, letter: str, adding: bool, arg: str) -> str | None:
    """Add a mask to, or take it from, the ban (+b) or mute (+q) list."""
    masks = channel.mask_list(letter)
    mask = normalize_ban_mask(arg)
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


def send_mask_list(req: Request, channel: Channel, letter: str) -> None:
    if letter == "b":
        for ban in channel.bans:
            req.reply(rpl.RPL_BANLIST, channel.name, ban.mask, ban.set_by, str(ban.set_at))
        req.reply(rpl.RPL_ENDOFBANLIST, channel.name, "End of channel ban list")
    else:
        for quiet in channel.quiets:
            req.reply(rpl.RPL_QUIETLIST, channel.name, "q", quiet.mask, quiet.set_by, str(quiet.set_at))
        req.reply(rpl.RPL_ENDOFQUIETLIST, channel.name, "q", "End of channel mute list")
