"""The chat window's context-dependent menus: what can be done to a member, and to the current channel.

Both are filled anew each time they open, from what the session knows then: whether this user is an
operator of the channel or the teacher (``Session.is_oper``), the channel's modes, the member's prefix
and mutes. Each item sends what the matching ``/command`` sends, through the callbacks the window gives:
the menus hold no state of their own.
"""
from __future__ import annotations

import tkinter as tk
from typing import Callable

from common.client.session import Session
from common.client.texts import tr
from common.gui.theme import Palette
from common.protocol.casemap import is_channel_name

# Channel flag modes with a switch in the Channel menu: moderation, questions to the teacher, the topic lock.
MODE_SWITCHES = ("m", "U", "t")
CLASS_CHANNEL_MODE = "C"


def colour_menu(menu: tk.Menu, palette: Palette) -> None:
    menu.configure(background=palette.panel, foreground=palette.text, activebackground=palette.selection,
                   activeforeground=palette.text, disabledforeground=palette.muted, selectcolor=palette.text,
                   activeborderwidth=0)


def fill_member_menu(menu: tk.Menu, session: Session, channel: str, nick: str, lang: str,
                     open_private: Callable[[str], None], run: Callable[[str], None]) -> None:
    """What can be done to a member: a private chat and WHOIS for everyone; for an operator of the
    channel (or the teacher) also operator status, voice, mute, kick and ban. Mute and ban name the nick
    (``/mute nick``): the server makes it ``$a:account`` for a logged-in student, else a host mask."""
    menu.delete(0, "end")
    menu.add_command(label=tr("member_query", lang), command=lambda: open_private(nick))
    menu.add_command(label=tr("member_whois", lang), command=lambda: session.command("WHOIS", nick))
    if not session.is_operator(channel) and not session.is_oper:
        return
    prefix = session.members(channel).get(nick, "")
    actions = [
        ("member_deop", "deop") if "@" in prefix else ("member_op", "op"),
        ("member_devoice", "devoice") if "+" in prefix else ("member_voice", "voice"),
        ("member_unmute", "unmute") if session.is_muted(channel, nick) else ("member_mute", "mute"),
        ("member_kick", "kick"),
    ]
    menu.add_separator()
    for key, command in actions:
        menu.add_command(label=tr(key, lang), command=lambda command=command: run(f"/{command} {channel} {nick}"))
    menu.add_command(label=tr("member_ban", lang),
                     command=lambda: (run(f"/ban {channel} {nick}"), run(f"/kick {channel} {nick}")))


def fill_channel_menu(menu: tk.Menu, session: Session, channel: str, lang: str,
                      prefill: Callable[[str], None], run: Callable[[str], None],
                      open_attendance: Callable[[str], None] | None = None) -> None:
    """The Channel menu: switches for the current channel's modes when this user may change them; for
    the teacher (an IRC operator) also the class channel switch, the attendance of a class channel (when
    the server keeps it), the announcement and the lesson's start and end."""
    menu.delete(0, "end")
    in_channel = is_channel_name(channel)
    modes = session.channel_modes(channel) if in_channel else frozenset()
    if in_channel and (session.is_operator(channel) or session.is_oper):
        for letter in MODE_SWITCHES:
            on = letter in modes
            menu.add_command(label=tr(f"channel_{letter}_{'off' if on else 'on'}", lang),
                             command=lambda sign="-" if on else "+", letter=letter:
                             run(f"/mode {channel} {sign}{letter}"))
    else:
        menu.add_command(label=tr("channel_not_operator", lang), state="disabled")
    if not session.is_oper:
        return
    menu.add_separator()
    if in_channel:
        is_class = CLASS_CHANNEL_MODE in modes
        menu.add_command(label=tr("channel_C_off" if is_class else "channel_C_on", lang),
                         command=lambda: run(f"/classchannel {channel}{' off' if is_class else ''}"))
        if is_class and open_attendance is not None and session.offers_attendance:
            menu.add_command(label=tr("channel_attendance", lang), command=lambda: open_attendance(channel))
    menu.add_command(label=tr("channel_start_lesson", lang), command=lambda: run("/startlesson"))
    menu.add_command(label=tr("channel_announce", lang), command=lambda: prefill("/announce "))
    menu.add_command(label=tr("channel_end_lesson", lang), command=lambda: prefill("/endlesson "))
