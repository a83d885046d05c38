"""The GUI's looks without Tk: light and dark palettes, and a stable colour for every nick."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
    nicks: tuple[str, ...]


THEMES = {
    "light": Palette(
        background="#ffffff", text="#1d2330", muted="#7a8294", panel="#eef1f6", selection="#cfe0fc",
        own_background="#f1f6ff", mention_background="#fff3c4", error="#b3261e", link="#1a5fd0",
        banner="#ffd7a8", banner_text="#4a2800", announce="#cfe0fc", announce_text="#0b2a5c", unread="#1a5fd0",
        nicks=("#c0392b", "#1e8449", "#2471a3", "#8e44ad", "#b9770e", "#148f77", "#a93279", "#5d6d7e",
               "#d35400", "#117a65", "#6c3483", "#2e4053"),
    ),
    "dark": Palette(
        background="#1e2127", text="#dcdfe4", muted="#8b929e", panel="#272b33", selection="#3a4a66",
        own_background="#242a35", mention_background="#4a3f1c", error="#ff7b72", link="#6cb6ff",
        banner="#6b3a00", banner_text="#ffe3c2", announce="#1f3b63", announce_text="#dbe9ff", unread="#6cb6ff",
        nicks=("#ff7b72", "#7ee787", "#79c0ff", "#d2a8ff", "#ffa657", "#56d4dd", "#f778ba", "#a5d6ff",
               "#e3b341", "#8ddb8c", "#bc8cff", "#ffb3a6"),
    ),
}


def nick_colour(nick: str, palette: Palette) -> str:
    """The same colour for the same nick in every window and every run (and in any letter case)."""
    digest = hashlib.md5(casefold(nick).encode()).digest()
    return palette.nicks[digest[0] % len(palette.nicks)]
