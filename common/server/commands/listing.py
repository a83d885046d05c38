"""LIST (RFC 2812 §3.2.6) with the ELIST conditions of modern.ircdocs.horse ("ELIST" token): ``M`` masks
(``#py*``), ``N`` negative masks (``!#py*``), ``U`` user counts (``<n``, ``>n``), ``C`` creation and
``T`` topic times in minutes ago (``C<n``, ``C>n``, ``T<n``, ``T>n``). ISUPPORT advertises ELIST=CMNTU.

Runs under the state lock and only reads. A LIST costs at most ``MAX_CONDITIONS`` conditions per channel,
each a comparison or a linear-time mask match (``mask_matches``), and lists each channel once. Secret and
private channels are listed only to their members (and to the teacher).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold, is_channel_name, mask_matches
from common.protocol.message import Message
from common.protocol.params import MAX_MASK_LENGTH, parse_count
from common.server.commands.base import Request, distinct_targets
from common.server.state import Channel

MAX_CONDITIONS = 8  # conditions (or channel names) one LIST may give; more are refused
MAX_CONDITION_NUMBER = 100_000_000  # users, or minutes (190 years)


@dataclass
class ListFilter:
    """The ELIST conditions of one LIST: a channel is listed when it matches one of ``masks`` (if any),
    none of ``negative_masks``, and every comparison (``(what, '<' or '>', number)``)."""

    masks: list[str] = field(default_factory=list)
    negative_masks: list[str] = field(default_factory=list)
    comparisons: list[tuple[str, str, int]] = field(default_factory=list)

    def admits(self, channel: Channel, now: int) -> bool:
        folded = channel.folded_name
        if self.masks and not any(mask_matches(mask, folded) for mask in self.masks):
            return False
        if any(mask_matches(mask, folded) for mask in self.negative_masks):
            return False
        for what, sign, number in self.comparisons:
            value = len(channel.members) if what == "U" else \
                (now - (channel.created if what == "C" else channel.topic_set_at)) // 60
            if not (value < number if sign == "<" else value > number):
                return False
        return True


def read_condition(text: str, into: ListFilter) -> bool:
    """Add one ELIST condition to ``into``; False when it is not one (nothing added)."""
    what = text[0] if text[:1] in ("C", "T") else "U"
    rest = text[1:] if what in "CT" else text
    if rest[:1] in ("<", ">"):
        number = parse_count(rest[1:], 0, MAX_CONDITION_NUMBER)
        if number is None:
            return False
        into.comparisons.append((what, rest[0], number))
        return True
    negative = text.startswith("!")
    mask = text[1:] if negative else text
    if not mask or len(mask) > MAX_MASK_LENGTH:
        return False
    (into.negative_masks if negative else into.masks).append(casefold(mask))
    return True


def handle_list(req: Request, msg: Message) -> None:
    state, client = req.state, req.client
    items = distinct_targets(msg.params[0]) if msg.params else []
    if len(items) > MAX_CONDITIONS:
        req.reply(rpl.ERR_TOOMANYTARGETS, items[MAX_CONDITIONS], f"Too many conditions. The maximum is "
                  f"{MAX_CONDITIONS}")
        return
    if items and all(is_channel_name(item) and not any(char in item for char in "*?") for item in items):
        channels = [channel for channel in map(state.find_channel, items) if channel is not None]
    else:
        conditions = ListFilter()
        refused = next((item for item in items if not read_condition(item, conditions)), None)
        if refused is not None:
            req.reply(rpl.ERR_UNKNOWNERROR, "LIST", f"Not a channel or an ELIST condition: {refused[:64]}")
            return
        now = int(time.time())
        channels = sorted((channel for channel in state.channels.values() if conditions.admits(channel, now)),
                          key=lambda channel: channel.folded_name)
    req.reply(rpl.RPL_LISTSTART, "Channel", "Users  Name")
    for channel in channels:
        if channel.visible_to(client):
            req.reply(rpl.RPL_LIST, channel.name, str(len(channel.members)), channel.topic)
    req.reply(rpl.RPL_LISTEND, "End of /LIST")
