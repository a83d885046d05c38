"""What the session knows about the server and its own place on it: the channels it is in (members, topic,
modes, mutes), its nick, the capabilities granted, the server's ISUPPORT tokens, its own modes.

One ``ClientState`` per session, with one lock. The receiver thread (``handlers.py``) changes it while it
handles a line; the transport resets it when a connection starts; the views read it through the
``Session``'s accessors, from their own thread. Fields are written under ``lock`` (all but ``registered``,
an ``Event``, and ``refused``, the receiver thread's alone), and read under it from any other thread than
the receiver, which reads ``isupport``, written only by itself, without. Nothing does I/O or puts an event on
a queue while holding the lock. This module does no I/O at all.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterator

from common.client.classroom import ChannelClassroom
from common.client.reactions import ReactionBook
from common.protocol.casemap import casefold


@dataclass
class ChannelState:
    """A joined channel as the session knows it. Members are keyed by casefolded nick, so every lookup
    (part, quit, nick change, mode) is one dictionary access under the server's case rules."""

    name: str
    topic: str = ""
    modes: set[str] = field(default_factory=set)  # flag modes (m, t, U, …) as far as the session has seen
    mutes: set[str] = field(default_factory=set)  # +q masks
    classroom: ChannelClassroom = field(default_factory=ChannelClassroom)  # raised hands and the poll
    _members: dict[str, tuple[str, str]] = field(default_factory=dict)  # folded nick → (nick, prefixes)

    def members(self) -> dict[str, str]:
        """Nick → prefix symbols, highest first."""
        return dict(self._members.values())

    def add(self, nick: str, prefixes: str = "") -> None:
        self._members.setdefault(casefold(nick), (nick, prefixes))

    def replace(self, members: dict[str, str]) -> None:
        self._members = {casefold(nick): (nick, prefixes) for nick, prefixes in members.items()}

    def remove(self, nick: str) -> bool:
        self.classroom.drop_hand(nick)  # as the server does when someone leaves
        return self._members.pop(casefold(nick), None) is not None

    def rename(self, old: str, new: str) -> bool:
        self.classroom.rename(old, new)
        entry = self._members.pop(casefold(old), None)
        if entry is not None:
            self._members[casefold(new)] = (new, entry[1])
        return entry is not None

    def set_prefix(self, nick: str, symbol: str, on: bool, order: str) -> None:
        """Give or take one prefix symbol; ``order`` is the server's PREFIX order, highest first."""
        entry = self._members.get(casefold(nick))
        if entry is not None:
            symbols = set(entry[1])
            (symbols.add if on else symbols.discard)(symbol)
            self._members[casefold(nick)] = (entry[0], "".join(s for s in order if s in symbols))


def signed_letters(modestring: str) -> Iterator[tuple[bool, str]]:
    """"+ov-k" → (True, "o"), (True, "v"), (False, "k"): each mode letter with whether it is set."""
    adding = True
    for letter in modestring:
        if letter in "+-":
            adding = letter == "+"
        else:
            yield adding, letter



class ClientState:
    """The session's state, behind ``lock``. ``registered`` is an ``Event`` of its own so that any thread
    can wait for registration; ``refused`` (the server turned us away) is written only by the receiver
    thread and read by it."""

    def __init__(self, nick: str, channels: tuple[str, ...]) -> None:
        self.lock = threading.Lock()
        self.registered = threading.Event()
        self.refused = False
        self.nick = nick
        self.preferred_nick = nick
        # Our "user" and "host" as others see them in "nick!user@host", once the server has shown them
        # (001, 396, the echo of our own JOIN or message); until then own_prefix_bytes() assumes the longest.
        self.own_user: str | None = None
        self.own_host: str | None = None
        self.channels: dict[str, ChannelState] = {}
        self.wanted_channels: dict[str, str] = {casefold(c): c for c in channels}
        self.channel_keys: dict[str, str] = {}  # folded channel → the key it was joined with (+k)
        self.rejoined = False  # this connection has sent the JOINs for wanted_channels
        self.names_requested: set[str] = set()  # channels whose NAMES reply the user asked to see
        self.caps: set[str] = set()
        self.cap_offered: set[str] = set()
        self.cap_values: dict[str, str] = {}  # what CAP LS 302 showed after a capability's name (draft/multiline)
        self.isupport: dict[str, str] = {}
        self.pending_names: dict[str, dict[str, str]] = {}
        self.away: str | None = None
        self.is_oper = False
        self.mode_queries: set[str] = set()  # channels whose 324 reply we asked for ourselves
        self.nick_attempt = 0
        self.pongs: dict[str, threading.Event] = {}  # PING tokens of flush() → set when the PONG comes
        self.older_requested: set[str] = set()  # conversations whose next history batch goes above
        self.account: str | None = None  # logged in to (900), or None
        self.sasl_pending = False  # CAP END waits for the end of the SASL exchange
        # What the session has seen of others: folded nick → (host, account), for judging host and account
        # masks (a mute of $a:masha). Forgotten with the connection.
        self.identities: dict[str, tuple[str | None, str | None]] = {}
        # Messages by msgid and the reactions on them, behind a lock of their own; kept across reconnections.
        self.reactions = ReactionBook()

    def start_connection(self) -> None:
        """Forget what belonged to the last connection (call with ``lock`` held): nick back to the preferred
        one, no channels, no capabilities. The wanted channels and the away message stay, to be restored."""
        self.nick = self.preferred_nick
        self.nick_attempt = 0
        self.own_user = self.own_host = None
        self.rejoined = False
        self.names_requested.clear()
        self.is_oper = False
        self.mode_queries.clear()
        self.channels.clear()
        self.caps.clear()
        self.cap_offered.clear()
        self.cap_values.clear()
        self.account = None
        self.sasl_pending = False
        self.identities.clear()

    def note_identity(self, nick: str, host: str | None = None, account: str | None = None,
                      logged_out: bool = False) -> None:
        """Remember what a line showed of someone (call with ``lock`` held); None keeps what was known."""
        key = casefold(nick)
        known_host, known_account = self.identities.get(key, (None, None))
        self.identities[key] = (host or known_host, None if logged_out else account or known_account)

    def own_nick(self) -> str:
        with self.lock:
            return self.nick

    def own_prefix_bytes(self, username: str) -> int:
        """Bytes of our "nick!user@host" as the server will put it before what we send (call with ``lock``
        held). What the server has not shown yet is assumed at its longest: the user name we sent with
        "~" before it (at least USERLEN, else 10), and a 63-byte host (RFC 1035's longest label)."""
        user = self.own_user
        if user is None:
            userlen = self.isupport.get("USERLEN", "")
            longest = int(userlen) if userlen.isascii() and userlen.isdigit() and len(userlen) <= 3 else 10
            user_bytes = max(longest, 1 + len(username.encode()))
        else:
            user_bytes = len(user.encode())
        host_bytes = len(self.own_host.encode()) if self.own_host is not None else 63
        return len(self.nick.encode()) + 1 + user_bytes + 1 + host_bytes

    def note_own_source(self, source: str) -> None:
        """Remember our user and host from a line the server shows as ours ("nick!user@host"); with ``lock``."""
        nick, _, rest = source.partition("!")
        user, at, host = rest.partition("@")
        if at and user and host:
            self.own_user, self.own_host = user, host

    def is_me(self, nick: str) -> bool:
        with self.lock:
            return casefold(nick) == casefold(self.nick)

    def has_chathistory(self) -> bool:
        with self.lock:
            caps = frozenset(self.caps)
        return "draft/chathistory" in caps or "chathistory" in caps

    def apply_channel_modes(self, channel: str, params: list[str], replace: bool = False) -> list[tuple[str, str]]:
        """Track a channel's modes: +o/+v (and any PREFIX mode) in the member list, flag modes and the
        mute list in its state. Returns the single changes."""
        mode_to_symbol = self.prefix_modes()
        chanmodes = self.isupport.get("CHANMODES", "b,k,l,imnt").split(",")
        always_param = set("".join(chanmodes[:2])) | set(mode_to_symbol)
        set_param = set(chanmodes[2]) if len(chanmodes) > 2 else set()
        flags = set(chanmodes[3]) if len(chanmodes) > 3 else set()
        args = list(params[1:])
        changes: list[tuple[str, str]] = []
        with self.lock:
            state = self.channels.get(casefold(channel))
            if state is not None and replace:
                state.modes.clear()
            for adding, letter in signed_letters(params[0] if params else ""):
                takes = letter in always_param or (adding and letter in set_param)
                arg = (args.pop(0) if args else "") if takes else ""
                changes.append((("+" if adding else "-") + letter, arg))
                if state is None:
                    continue
                if letter in mode_to_symbol and arg:
                    state.set_prefix(arg, mode_to_symbol[letter], adding, "".join(mode_to_symbol.values()))
                elif letter == "q" and arg:
                    (state.mutes.add if adding else state.mutes.discard)(arg)
                elif letter in flags:
                    (state.modes.add if adding else state.modes.discard)(letter)
        return changes

    def prefix_modes(self) -> dict[str, str]:
        prefix = self.isupport.get("PREFIX", "(ov)@+")
        if prefix.startswith("(") and ")" in prefix:
            modes, symbols = prefix[1:].split(")", 1)
            return dict(zip(modes, symbols))
        return {"o": "@", "v": "+"}

    def prefix_symbols(self) -> str:
        return "".join(self.prefix_modes().values()) or "@+"
