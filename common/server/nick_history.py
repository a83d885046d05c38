"""The nicks that were: what WHOWAS answers from (RFC 2812 §3.6.3).

A bounded ring: at most ``total`` entries overall and ``per_nick`` for one (casefolded) nick, the oldest
dropped first, so a client cycling through nicks or connections cannot grow it. An entry is recorded when
a registered client changes its nick or leaves (``ServerState.rename`` and ``ServerState.remove``). Like
the rest of the state it is read and changed only with the state lock held.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from common.protocol.casemap import casefold

WHOWAS_TOTAL = 1000
WHOWAS_PER_NICK = 10


@dataclass(frozen=True)
class PastNick:
    """Who used a nick, as WHOWAS shows it (314 RPL_WHOWASUSER, 312 RPL_WHOISSERVER)."""

    nick: str
    username: str
    host: str
    realname: str
    account: str | None = None
    left_at: float = field(default_factory=time.time)


class NickHistory:
    """A bounded record of past nicks, newest first per nick."""

    def __init__(self, total: int = WHOWAS_TOTAL, per_nick: int = WHOWAS_PER_NICK) -> None:
        self.total = total
        self.per_nick = per_nick
        self._order: deque[tuple[str, PastNick]] = deque()  # every entry kept, oldest first
        self._by_nick: dict[str, deque[PastNick]] = {}

    def __len__(self) -> int:
        return len(self._order)

    def record(self, entry: PastNick) -> None:
        folded = casefold(entry.nick)
        entries = self._by_nick.setdefault(folded, deque(maxlen=self.per_nick))
        entries.append(entry)  # past per_nick, this nick's oldest entry falls out here
        self._order.append((folded, entry))
        while len(self._order) > self.total:
            old_folded, old_entry = self._order.popleft()
            old_entries = self._by_nick.get(old_folded)
            if old_entries and old_entries[0] is old_entry:
                old_entries.popleft()
            if not old_entries:
                self._by_nick.pop(old_folded, None)

    def find(self, nick: str, count: int = 0) -> list[PastNick]:
        """The entries of ``nick``, newest first; at most ``count`` of them (0: all that are kept)."""
        entries = list(reversed(self._by_nick.get(casefold(nick), ())))
        return entries[:count] if count > 0 else entries
