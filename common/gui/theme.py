"""The GUI's looks without Tk: light and dark palettes, and the colours of nicks.

A nick's colour starts from a hash of its casefolded name, the same in every window and run; when someone
sharing a channel with it already has that colour (alice and bob hash alike), ``NickColours`` gives it the
next free one instead, and a nick keeps the colour it got, so nothing changes colour under a reader's eyes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from common.protocol.casemap import casefold


@dataclass(frozen=True)
class Palette:
    background: str
    text: str
    muted: str
    panel: str
    selection: str
    own_background: str
    mention_background: str
    error: str
    link: str
    banner: str
    banner_text: str
    announce: str
    announce_text: str
    unread: str
    thumb: str  # a scroll bar's handle
    border: str  # lines around panels, scroll bars and menus
    teacher: str  # the teacher's badge and row in the member list
    teacher_text: str  # the word on the badge
    nicks: tuple[str, ...]


THEMES = {
    "light": Palette(
        background="#ffffff", text="#1d2330", muted="#7a8294", panel="#eef1f6", selection="#cfe0fc",
        own_background="#f1f6ff", mention_background="#fff3c4", error="#b3261e", link="#1a5fd0",
        banner="#ffd7a8", banner_text="#4a2800", announce="#cfe0fc", announce_text="#0b2a5c", unread="#1a5fd0",
        thumb="#c3c9d4", border="#c9ced8", teacher="#17703a", teacher_text="#ffffff",
        nicks=("#c0392b", "#1e8449", "#2471a3", "#8e44ad", "#b9770e", "#148f77", "#a93279", "#5d6d7e",
               "#d35400", "#117a65", "#6c3483", "#2e4053"),
    ),
    "dark": Palette(
        background="#1e2127", text="#dcdfe4", muted="#8b929e", panel="#272b33", selection="#3a4a66",
        own_background="#242a35", mention_background="#4a3f1c", error="#ff7b72", link="#6cb6ff",
        banner="#6b3a00", banner_text="#ffe3c2", announce="#1f3b63", announce_text="#dbe9ff", unread="#6cb6ff",
        thumb="#4a5160", border="#3a3f4a", teacher="#6fdc8c", teacher_text="#0f1f14",
        nicks=("#ff7b72", "#7ee787", "#79c0ff", "#d2a8ff", "#ffa657", "#56d4dd", "#f778ba", "#a5d6ff",
               "#e3b341", "#8ddb8c", "#bc8cff", "#ffb3a6"),
    ),
}


def preferred_colour_index(nick: str, count: int) -> int:
    """The nick's own colour among ``count``: the same in every window and run, and in any letter case."""
    return hashlib.md5(casefold(nick).encode()).digest()[0] % count


class NickColours:
    """Which of a palette's ``count`` nick colours each nick gets in one window.

    ``assign(members)`` gives every member of a channel that has no colour yet its preferred one, or, if a
    member already has that, the next one no member has (while the colours last); ``index(nick)`` is a
    nick's colour, assigning the preferred one to a nick met outside any member list. Both take the
    casefolded nick, so "Alice" and "alice" share a colour.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self._assigned: dict[str, int] = {}

    def assign(self, members: Iterable[str]) -> None:
        folded = [casefold(nick) for nick in members]
        taken = {self._assigned[nick] for nick in folded if nick in self._assigned}
        for nick in sorted(set(folded)):  # sorted: windows that meet the same members at once agree
            if nick in self._assigned:
                continue
            index = preferred_colour_index(nick, self.count)
            free = [(index + step) % self.count for step in range(self.count)
                    if (index + step) % self.count not in taken]
            self._assigned[nick] = free[0] if free else index
            taken.add(self._assigned[nick])

    def index(self, nick: str) -> int:
        return self._assigned.setdefault(casefold(nick), preferred_colour_index(nick, self.count))

    def colour(self, nick: str, palette: Palette) -> str:
        return palette.nicks[self.index(nick) % len(palette.nicks)]
