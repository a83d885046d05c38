"""The server's shared state: clients, nicks and channels, guarded by one lock.

``ServerState`` is the single owner. Every read and every change of a ``Client`` or ``Channel`` happens
with ``ServerState.lock`` held, registration included; command handlers run entirely under it and only
compute what to send (see ``outbox.py``). No socket I/O happens while the lock is held.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from common.protocol.casemap import casefold, entry_names
from common.server.classroom import Classroom
from common.server.history import ChannelSnapshot
from common.server.multiline_state import MultilineState
from common.server.nick_history import NickHistory, PastNick

if TYPE_CHECKING:
    from common.server.connection import Connection

# Channel membership prefixes, highest first (ISUPPORT PREFIX=(Yov)!@+). Y marks the teacher in a class
# channel (given on joining, never by MODE); like InspIRCd's "official join", it shows as "!".
MEMBER_PREFIXES = {"Y": "!", "o": "@", "v": "+"}


class PresenceLog(Protocol):
    """Told, under the lock, of every arrival in and departure from a class channel: the attendance
    (``attendance_recorder.AttendanceRecorder``), which only queues them."""

    def joined(self, member: "Client", channel: str, nick: str, account: str | None) -> None: ...

    def left(self, member: "Client", channel: str) -> None: ...


def entry_matches(mask: str, client: "Client") -> bool:
    """Whether a ban, mute or exception entry names ``client``: by account (``$a:name``), else by mask."""
    return entry_names(mask, client.prefix, client.account)


@dataclass(eq=False, slots=True)
class Client:
    """One connection's IRC identity. ``registered`` turns true after NICK, USER, PASS and CAP END."""

    conn: "Connection"
    nick: str = "*"
    username: str = ""
    realname: str = ""
    registered: bool = False
    password: str | None = None
    # Capabilities and user modes are replaced, never changed in place: a frozenset is shared while empty (an
    # empty set is 216 bytes, and most clients have no user mode), and a thread reading them meanwhile sees
    # the old value or the new one.
    caps: frozenset[str] = frozenset()
    tag_gates: tuple[bool, ...] = (False, False, False, False)  # outbox.tag_gates(caps), kept current by CAP
    cap_negotiating: bool = False
    cap_version: int = 0
    modes: frozenset[str] = frozenset()
    away: str | None = None
    channels: dict[str, "Channel"] = field(default_factory=dict)
    signon: float = field(default_factory=time.time)
    last_spoke: float = field(default_factory=time.monotonic)
    failed_logins: int = 0  # wrong OPER passwords on this connection (see commands/operators.py)
    account: str | None = None  # the account logged in to (SASL or REGISTER), as its owner spells it
    is_teacher: bool = False  # logged in to a teacher's account (and so an operator)
    # The SASL exchange under way: touched only by this client's reader thread (commands/accounts.py).
    sasl_mechanism: str | None = None
    sasl_buffer: str = ""
    monitoring: dict[str, str] = field(default_factory=dict)  # MONITOR list: casefolded nick -> nick as given
    # draft/multiline: the batch this connection is sending (commands/multiline.py), made at its first BATCH;
    # touched only by its own reader thread (which also reads it, without the lock, for flood control).
    multiline: MultilineState | None = None

    @property
    def host(self) -> str:
        return self.conn.host

    @property
    def prefix(self) -> str:
        """``nick!user@host``. Reads ``conn.host`` itself: a property that reads another one runs the
        interpreter once more on the C stack (Python 3.11), and the deepest call a reader thread ever
        makes decides how many stack pages it keeps for good (the welcome's 001 made it three, not two)."""
        return f"{self.nick}!{self.username}@{self.conn.host}"

    @property
    def is_oper(self) -> bool:
        return "o" in self.modes

    @property
    def is_invisible(self) -> bool:
        return "i" in self.modes

    @property
    def is_bot(self) -> bool:
        """User mode +B (IRCv3 bot-mode, ISUPPORT ``BOT=B``)."""
        return "B" in self.modes

    def past_nick(self) -> PastNick:
        return PastNick(self.nick, self.username, self.host, self.realname, self.account)


@dataclass
class Ban:
    mask: str
    set_by: str
    set_at: int


@dataclass(eq=False)
class Channel:
    """A channel and its members; ``members`` maps each client to its member modes ('o', 'v')."""

    name: str
    created: int = field(default_factory=lambda: int(time.time()))
    topic: str = ""
    topic_set_by: str = ""
    topic_set_at: int = 0
    modes: set[str] = field(default_factory=lambda: {"n", "t"})
    key: str | None = None
    limit: int | None = None
    bans: list[Ban] = field(default_factory=list)
    quiets: list[Ban] = field(default_factory=list)  # +q: these masks may stay but not speak (muted)
    excepts: list[Ban] = field(default_factory=list)  # +e: ban exceptions, a match lifts +b
    invexes: list[Ban] = field(default_factory=list)  # +I: invite exceptions, a match lifts +i
    invited: set[str] = field(default_factory=set)
    members: dict[Client, set[str]] = field(default_factory=dict)
    persistent: bool = False  # has stored history or settings: kept when empty, and across restarts
    lesson_roster: set[str] = field(default_factory=set)  # students ENDLESSON walked out (casefolded nicks)
    creator_address: str | None = None  # where a student who made it connects from (None: a teacher, restored)
    empty_since: float | None = None  # monotonic time it was left empty, for expiry (see ServerState)
    classroom: Classroom = field(default_factory=Classroom)  # raised hands and the open poll
    # The members' connections by tag variant (see ``audience()``); None until asked for after a change.
    _audience: "dict[tuple[bool, ...], tuple[Connection, ...]] | None" = field(default=None, repr=False)

    def audience(self) -> "dict[tuple[bool, ...], tuple[Connection, ...]]":
        """Every member's connection, grouped by the tag variant it receives (``Client.tag_gates``): what a
        message to the channel is relayed to. Kept from one message to the next and made again only after
        the membership or a member's capabilities change (``members_changed``), so a message costs nothing
        per member on the way in; the sequencer also recognises the same groups in consecutive messages
        and sends each member their lines of a batch as one piece (``outbox.gather_by_connection``)."""
        if self._audience is None:
            groups: dict[tuple[bool, ...], list[Connection]] = {}
            for member in self.members:
                groups.setdefault(member.tag_gates, []).append(member.conn)
            self._audience = {gates: tuple(conns) for gates, conns in groups.items()}
        return self._audience

    def members_changed(self) -> None:
        self._audience = None

    @property
    def folded_name(self) -> str:
        return casefold(self.name)

    def snapshot(self) -> ChannelSnapshot:
        return ChannelSnapshot(self.name, self.created, self.topic, self.topic_set_by, self.topic_set_at,
                               "".join(sorted(self.modes)), self.key, self.limit,
                               tuple((ban.mask, ban.set_by, ban.set_at) for ban in self.bans),
                               *(tuple((entry.mask, entry.set_by, entry.set_at) for entry in self.mask_list(letter))
                                 for letter in "qeI"))

    @classmethod
    def from_snapshot(cls, snapshot: ChannelSnapshot) -> "Channel":
        return cls(name=snapshot.name, created=snapshot.created, topic=snapshot.topic,
                   topic_set_by=snapshot.topic_set_by, topic_set_at=snapshot.topic_set_at, modes=set(snapshot.modes),
                   key=snapshot.key, limit=snapshot.limit, bans=[Ban(*ban) for ban in snapshot.bans],
                   quiets=[Ban(*quiet) for quiet in snapshot.quiets],
                   excepts=[Ban(*entry) for entry in snapshot.excepts],
                   invexes=[Ban(*entry) for entry in snapshot.invexes], persistent=True)

    def is_banned(self, client: Client) -> bool:
        """On the ban list (+b) and not on the exception list (+e)."""
        return any(entry_matches(ban.mask, client) for ban in self.bans) \
            and not any(entry_matches(entry.mask, client) for entry in self.excepts)

    def is_invite_excepted(self, client: Client) -> bool:
        """On the invite exception list (+I): enters a +i channel without an invitation."""
        return any(entry_matches(entry.mask, client) for entry in self.invexes)

    @property
    def is_hidden(self) -> bool:
        """Secret (+s) or private (+p): LIST, WHOIS and WHO show it to its members only."""
        return "s" in self.modes or "p" in self.modes

    def visible_to(self, client: Client) -> bool:
        return not self.is_hidden or client in self.members or client.is_oper

    @property
    def names_type(self) -> str:
        """RPL_NAMREPLY's channel type (RFC 2812 §5.1): "@" secret, "*" private, "=" public."""
        return "@" if "s" in self.modes else "*" if "p" in self.modes else "="

    def is_quieted(self, client: Client) -> bool:
        return any(entry_matches(quiet.mask, client) for quiet in self.quiets)

    @property
    def is_class(self) -> bool:
        """A class channel (+C): nobody is operator by joining first; teachers are, on joining."""
        return "C" in self.modes

    def mask_list(self, letter: str) -> list[Ban]:
        """The list behind a list mode: +b bans, +q mutes, +e ban exceptions, +I invite exceptions."""
        return {"b": self.bans, "q": self.quiets, "e": self.excepts, "I": self.invexes}[letter]

    def is_privileged(self, client: Client) -> bool:
        """Voiced, operator, or the teacher: speaks whatever the channel's restrictions."""
        return bool(self.members.get(client)) or client.is_oper

    def is_operator(self, client: Client) -> bool:
        """Channel operator, or a server operator (the teacher acts as operator in every channel)."""
        member_modes = self.members.get(client, ())
        return "o" in member_modes or "Y" in member_modes or client.is_oper

    def why_silenced(self, client: Client) -> str | None:
        """Why ``client`` may not speak here, in words for the 404 reply, or None if it may: RFC 2812 §3.3.1
        with +n (no outside messages), +m (moderated), bans and mutes (+q)."""
        if self.is_privileged(client):
            return None
        if client not in self.members and "n" in self.modes:
            return "you are not in the channel (+n)"
        if "m" in self.modes:
            return "only voiced members may speak now (+m)"
        if self.is_quieted(client):
            return "you are muted (+q)"
        if self.is_banned(client):
            return "you are banned (+b)"
        return None

    def only_operators_hear(self, client: Client) -> bool:
        """Under +U ("questions to the teacher"), what an ordinary member says reaches the operators only."""
        return "U" in self.modes and not self.is_privileged(client)

    def operators(self) -> list[Client]:
        return [member for member in self.members if self.is_operator(member)]

    def member_prefix(self, client: Client, multi_prefix: bool) -> str:
        member_modes = self.members.get(client, ())
        prefixes = "".join(symbol for mode, symbol in MEMBER_PREFIXES.items() if mode in member_modes)
        return prefixes if multi_prefix else prefixes[:1]

    def mode_string(self, show_key: bool) -> list[str]:
        """The channel's modes as MODE parameters, for RPL_CHANNELMODEIS."""
        letters = "+" + "".join(sorted(self.modes))
        params: list[str] = []
        if self.key is not None:
            letters += "k"
            params.append(self.key if show_key else "*")
        if self.limit is not None:
            letters += "l"
            params.append(str(self.limit))
        return [letters, *params]


class ServerState:
    """All clients, nicks and channels. Hold ``lock`` for any access; never do I/O while holding it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: set[Client] = set()
        self.per_address: dict[str, int] = {}  # open connections from each peer address
        self.nicks: dict[str, Client] = {}
        self.channels: dict[str, Channel] = {}
        self.registered: set[Client] = set()
        # Clients by user mode, so LUSERS counts without scanning everyone at every registration.
        self.with_user_mode: dict[str, set[Client]] = {"i": set(), "o": set(), "w": set()}
        self.max_registered = 0
        self.made_from: dict[str, int] = {}  # address -> channels made from it by students that exist now
        self.nick_history = NickHistory()  # WHOWAS
        self.watchers: dict[str, set[Client]] = {}  # MONITOR: casefolded nick -> the clients monitoring it
        # Told of every arrival in and departure from a class channel (None: attendance is not kept).
        self.attendance: PresenceLog | None = None

    def add_client(self, client: Client) -> None:
        self.clients.add(client)
        address = client.conn.address[0]
        self.per_address[address] = self.per_address.get(address, 0) + 1

    def connections_from(self, address: str) -> int:
        return self.per_address.get(address, 0)

    def find_client(self, nick: str) -> Client | None:
        return self.nicks.get(casefold(nick))

    def find_channel(self, name: str) -> Channel | None:
        return self.channels.get(casefold(name))

    def registered_clients(self) -> list[Client]:
        return list(self.registered)

    def register(self, client: Client) -> None:
        client.registered = True
        self.registered.add(client)
        self.max_registered = max(self.max_registered, len(self.registered))

    def set_user_mode(self, client: Client, letter: str, on: bool) -> None:
        client.modes = client.modes | {letter} if on else client.modes - {letter}
        if letter in self.with_user_mode:
            (self.with_user_mode[letter].add if on else self.with_user_mode[letter].discard)(client)

    def peers_of(self, client: Client) -> set[Client]:
        """Everyone who shares a channel with ``client``, not counting ``client``."""
        peers: set[Client] = set()
        for channel in client.channels.values():
            peers.update(channel.members)
        peers.discard(client)
        return peers

    def unset_nick(self, client: Client) -> None:
        """Take back a nick given before registration (a reserved one): the client must choose again."""
        if client.nick != "*":
            self.nicks.pop(casefold(client.nick), None)
        client.nick = "*"

    def rename(self, client: Client, new_nick: str) -> None:
        if client.registered:
            self.nick_history.record(client.past_nick())
        if client.nick != "*":
            self.nicks.pop(casefold(client.nick), None)
        client.nick = new_nick
        self.nicks[casefold(new_nick)] = client

    def add_channel(self, channel: Channel) -> Channel:
        self.channels[channel.folded_name] = channel
        if channel.creator_address is not None:
            self.made_from[channel.creator_address] = self.made_from.get(channel.creator_address, 0) + 1
        return channel

    def drop_channel(self, channel: Channel) -> None:
        if self.channels.pop(channel.folded_name, None) is not None and channel.creator_address is not None:
            remaining = self.made_from.get(channel.creator_address, 1) - 1
            if remaining > 0:
                self.made_from[channel.creator_address] = remaining
            else:
                self.made_from.pop(channel.creator_address, None)

    def rename_channel(self, channel: Channel, new_name: str) -> None:
        """Give ``channel`` a new name (draft/channel-rename); the caller checked that no other has it."""
        old = channel.folded_name
        if channel.is_class and self.attendance is not None:  # the record under the old name ends
            for member in channel.members:
                self.attendance.left(member, channel.name)
        self.channels.pop(old, None)
        for member in channel.members:
            member.channels.pop(old, None)
        channel.name = new_name
        self.channels[channel.folded_name] = channel
        for member in channel.members:
            member.channels[channel.folded_name] = channel
        if channel.is_class:
            self.class_mode_changed(channel)  # and one under the new name begins

    def class_mode_changed(self, channel: Channel) -> None:
        """A channel became a class channel (its members' attendance begins) or stopped being one (it ends)."""
        if self.attendance is None:
            return
        for member in channel.members:
            if channel.is_class:
                self.attendance.joined(member, channel.name, member.nick, member.account)
            else:
                self.attendance.left(member, channel.name)

    def channels_made_from(self, address: str) -> int:
        """How many of the channels that exist now students made from ``address``."""
        return self.made_from.get(address, 0)

    def expired_channels(self, now: float, after: float) -> list[Channel]:
        """Channels left empty for ``after`` seconds that are not class channels: forgotten, with their
        settings (their messages stay in the history). Class channels are the teacher's and are kept."""
        return [channel for channel in self.channels.values() if not channel.members and not channel.is_class
                and channel.empty_since is not None and now - channel.empty_since > after]

    def join(self, client: Client, channel: Channel) -> None:
        if self.channels.get(channel.folded_name) is not channel:
            self.add_channel(channel)
        channel.members[client] = self.modes_on_joining(client, channel)
        channel.members_changed()
        channel.invited.discard(casefold(client.nick))
        channel.empty_since = None
        client.channels[channel.folded_name] = channel
        if channel.is_class and self.attendance is not None:
            self.attendance.joined(client, channel.name, client.nick, client.account)

    @staticmethod
    def modes_on_joining(client: Client, channel: Channel) -> set[str]:
        """In a class channel a teacher (or operator) gets Y and o, everyone else nothing; elsewhere whoever
        makes the channel by joining it first is its operator (RFC 2811 §4.2.1)."""
        if channel.is_class:
            return {"Y", "o"} if client.is_oper else set()
        return {"o"} if not channel.members else set()

    def part(self, client: Client, channel: Channel) -> None:
        if channel.is_class and self.attendance is not None and client in channel.members:
            self.attendance.left(client, channel.name)
        channel.members.pop(client, None)
        channel.members_changed()
        channel.classroom.forget(client)  # a hand goes down when its owner leaves
        client.channels.pop(channel.folded_name, None)
        if not channel.members:
            if channel.persistent:
                channel.empty_since = time.monotonic()  # kept, with its history or settings, for a while
            else:
                # An empty channel goes away (RFC 2812 §1.3), unless it has history or settings to keep.
                self.drop_channel(channel)

    def remove(self, client: Client) -> set[Client]:
        """Forget a client entirely; returns the peers that must see its QUIT."""
        peers = self.peers_of(client)
        for channel in list(client.channels.values()):
            self.part(client, channel)
        if client in self.clients:
            self.clients.discard(client)
            address = client.conn.address[0]
            remaining = self.per_address.get(address, 1) - 1
            if remaining > 0:
                self.per_address[address] = remaining
            else:
                self.per_address.pop(address, None)
        if client in self.registered:
            self.nick_history.record(client.past_nick())
        for folded in list(client.monitoring):
            self.unmonitor(client, folded)
        self.registered.discard(client)
        for holders in self.with_user_mode.values():
            holders.discard(client)
        if client.nick != "*" and self.nicks.get(casefold(client.nick)) is client:
            del self.nicks[casefold(client.nick)]
        return peers

    def watchers_of(self, nick: str) -> set[Client]:
        """The clients monitoring ``nick`` (MONITOR)."""
        return self.watchers.get(casefold(nick), set())

    def monitor(self, client: Client, nick: str) -> None:
        folded = casefold(nick)
        client.monitoring.setdefault(folded, nick)
        self.watchers.setdefault(folded, set()).add(client)

    def unmonitor(self, client: Client, folded: str) -> None:
        client.monitoring.pop(folded, None)
        watchers = self.watchers.get(folded)
        if watchers is not None:
            watchers.discard(client)
            if not watchers:
                del self.watchers[folded]
