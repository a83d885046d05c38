"""What every command module builds on: the ``Request`` a handler gets, ``ServerServices`` (what a handler
may ask of the server), the limits and capabilities the server advertises, and the replies many commands
share: the named ``err_*`` helpers, NAMES, TOPIC, MOTD, ISUPPORT and LUSERS, and the relays.

Like every handler, this code runs with the state lock held; it reads and changes the state through
``req.state`` and sends only by filling ``req.out``. The server is seen only through ``ServerServices``,
which ``ChatServer`` satisfies, so this package never imports ``common.server.server`` (that module
imports this package, not the reverse).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from common.protocol import numerics as rpl
from common.protocol.casemap import casefold
from common.protocol.classroom import CLASSROOM_CAP
from common.protocol.message import Message
from common.protocol.multiline import MultilineLimits
from common.protocol.reactions import REDACTION_CAP  # offered with history only: REDACT reads and deletes there
from common.server.accounts import AccountStore
from common.server.attendance_recorder import AttendanceRecorder
from common.server.config import ServerConfig
from common.server.outbox import FixedReplies, Outbox
from common.server.state import Channel, Client, ServerState

# Capabilities we offer (CAP LS 302). cap-notify is implied by 302 but may be requested too.
CAPABILITIES = ("account-notify", "account-tag", "away-notify", "batch", "cap-notify", CLASSROOM_CAP,
                "draft/account-registration", "draft/channel-rename", "draft/multiline", "echo-message",
                "extended-join", "extended-monitor", "labeled-response", "message-tags", "multi-prefix", "sasl",
                "server-time", "setname", "userhost-in-names")
# draft/multiline: a batch holds at most 4096 bytes of text in 100 lines (ergo's defaults). Relayed as plain
# lines, with each line's prefix and tags, that is at most about 25 KiB per recipient, well within --sendq.
MULTILINE_LIMITS = MultilineLimits(max_bytes=4096, max_lines=100)
# What CAP LS 302 shows after a capability's name (IRCv3 capability values).
CAP_VALUES = {"sasl": "PLAIN", "draft/account-registration": "before-connect,custom-account-name",
              "draft/multiline": MULTILINE_LIMITS.cap_value()}
CHATHISTORY_CAP = "draft/chathistory"  # offered only when the server keeps history
READ_MARKER_CAP = "draft/read-marker"  # likewise: the markers are kept in the history database
CHATHISTORY_LIMIT = 100

KICKLEN = 390
AWAYLEN = 390
USERLEN = 16
NAMELEN = 128  # realnames (USER, SETNAME), as InspIRCd advertises it
MONITOR_LIMIT = 100  # nicks on one client's MONITOR list (ISUPPORT MONITOR)
MAX_TARGETS = 4
MAX_MODES = 4
MAX_BANS = 100
MAX_KEY_LENGTH = 32  # a channel key (+k)
# CHANMODES groups: A (list), B (always a parameter), C (a parameter when set), D (flags).
# e and I are the ban and invite exceptions (ISUPPORT EXCEPTS, INVEX); s secret and p private (RFC 2811 §4.2.6).
# U is "questions to the teacher" (InspIRCd's opmoderated, ergo's op-moderated): what an ordinary member
# says reaches only the channel operators. q is the mute list of solanum/charybdis. C makes a class channel
# (only a teacher sets it): see ServerState.modes_on_joining.
CHANMODES = ("beIq", "k", "l", "CimnpstU")
BOT_MODE = "B"  # the bot user mode (IRCv3 bot-mode, ISUPPORT BOT=B)
USER_MODES = "Biow"  # w: receives WALLOPS (RFC 2812 §3.1.5)


class ServerServices(Protocol):
    """What the commands use of the server (``ChatServer`` provides it): the state and the settings, what
    the server advertises, its logs, and the one way to end the calling client's connection. Everything is
    called with the state lock held, except a command's ``outside_lock`` step, which reads ``config``, uses
    ``accounts`` (None when the server keeps none) and may ``pause`` its own thread."""

    config: ServerConfig
    state: ServerState
    version: str
    created_text: str
    accounts: AccountStore | None
    attendance: AttendanceRecorder | None  # None when the server keeps no history (and so no attendance)

    def pause(self, seconds: float) -> None: ...

    @property
    def history_enabled(self) -> bool: ...

    def capabilities(self) -> tuple[str, ...]: ...

    def isupport_tokens(self) -> list[str]: ...

    def motd_lines(self) -> list[str]: ...

    def fixed_replies(self, key: str, make: Callable[[], list[tuple[str, ...]]]) -> FixedReplies:
        """The replies ``make()`` gives, encoded the first time ``key`` is asked for and kept."""

    def message_tags(self, client_tags: dict[str, str]) -> tuple[dict[str, str], int]: ...

    def now_ms(self) -> int: ...

    def log_event(self, what: str, client: Client) -> None: ...

    def audit(self, client: Client, action: str, target: str, detail: str = "") -> None: ...

    def disconnect_later(self, client: Client, reason: str) -> None: ...


# One line draws at most this many replies with the same error numeric; the rest are dropped. A line such
# as "JOIN x,x,x,…" or "PRIVMSG a,b,c,…" would otherwise buy hundreds of replies (and log lines).
SAME_ERROR_LIMIT = 3


def is_error_numeric(code: str) -> bool:
    return code[:1] in "45" or code == rpl.ERR_INVALIDMODEPARAM


@dataclass
class Request:
    """One command being handled: the server, the client that sent it and what will be sent back."""

    server: ServerServices
    client: Client
    out: Outbox
    prepared: object = None  # what the command's ``outside_lock`` step found, if it has one
    errors_sent: dict[str, int] | None = None  # error numerics sent so far, by code (made at the first)
    # Run by the caller's reader thread once the lock is released, before its next line: a wait for an answer
    # made on another thread (ATTENDANCE), so that it reaches the client before the replies to later lines.
    after_lock: Callable[[], object] | None = None

    @property
    def state(self):
        return self.server.state

    def reply(self, code: str, *params: str) -> bool:
        """Send a numeric to the caller; False when it was an error repeated past ``SAME_ERROR_LIMIT``
        (and so dropped: the caller should not log it either)."""
        if is_error_numeric(code):
            if self.errors_sent is None:
                self.errors_sent = {}
            count = self.errors_sent.get(code, 0) + 1
            self.errors_sent[code] = count
            if count > SAME_ERROR_LIMIT:
                return False
        self.out.numeric_with(self.client, code, params)
        return True


def distinct_targets(text: str) -> list[str]:
    """The comma-separated targets of a command, each once (under our casemapping), empty ones dropped."""
    if "," not in text:  # one target, as nearly every message has
        return [text] if text else []
    seen: set[str] = set()
    targets = []
    for name in text.split(","):
        folded = casefold(name)
        if name and folded not in seen:
            seen.add(folded)
            targets.append(name)
    return targets


def err_need_more_params(req: Request, command: str) -> None:
    req.reply(rpl.ERR_NEEDMOREPARAMS, command, "Not enough parameters")


def err_no_such_nick(req: Request, name: str) -> None:
    req.reply(rpl.ERR_NOSUCHNICK, name, "No such nick/channel")


def err_no_such_channel(req: Request, name: str) -> None:
    req.reply(rpl.ERR_NOSUCHCHANNEL, name, "No such channel")


def err_not_on_channel(req: Request, channel_name: str) -> None:
    req.reply(rpl.ERR_NOTONCHANNEL, channel_name, "You're not on that channel")


def err_chanop_needed(req: Request, channel_name: str) -> None:
    req.reply(rpl.ERR_CHANOPRIVSNEEDED, channel_name, "You're not channel operator")
    req.server.log_event(f"refused: not a channel operator in {channel_name}", req.client)


def err_no_privileges(req: Request) -> None:
    req.reply(rpl.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
    req.server.log_event("refused: an operator command from a non-operator", req.client)


def channel_for_operator(req: Request, name: str) -> Channel | None:
    """The channel ``name`` if the caller may act on it as a channel operator (KICK, RENAME, POLL OPEN); else
    None, after the error reply (403, 442 or 482)."""
    return member_channel(req, name, operator=True)


def member_channel(req: Request, name: str, operator: bool = False) -> Channel | None:
    """The channel ``name`` if the caller is a member (HAND, VOTE), and for ``operator`` a channel operator
    (a teacher may act from outside); else None, after the error reply (403, 442 or 482)."""
    channel = req.state.find_channel(name)
    if channel is None:
        err_no_such_channel(req, name)
        return None
    if req.client not in channel.members and not (operator and req.client.is_oper):
        err_not_on_channel(req, channel.name)
        return None
    if operator and not channel.is_operator(req.client):
        err_chanop_needed(req, channel.name)
        return None
    return channel


def server_message(req: Request, command: str, *params: str) -> Message:
    return Message(command, list(params), source=req.server.config.name)


def send_fail(req: Request, command: str, code: str, description: str) -> None:
    """An IRCv3 standard reply: ``FAIL <command> <code> :<description>``."""
    req.out.send(req.client, server_message(req, "FAIL", command, code, description))


def user_message(client: Client, command: str, *params: str, tags: dict[str, str] | None = None) -> Message:
    return Message(command, list(params), source=client.prefix, tags=tags or {})


def packed(items: list[str], budget: int, separator: str = " ") -> list[str]:
    """``items`` joined by ``separator`` into as few pieces as possible of at most ``budget`` bytes each (an
    item longer than the budget gets a piece of its own): the last parameter of NAMES, MONITOR or CAP LS
    lines, each of which must fit in 512 bytes."""
    pieces: list[str] = []
    piece: list[str] = []
    used = 0
    for item in items:
        size = len(item.encode()) + len(separator)
        if piece and used + size > budget + len(separator):
            pieces.append(separator.join(piece))
            piece, used = [], 0
        piece.append(item)
        used += size
    if piece:
        pieces.append(separator.join(piece))
    return pieces


def reply_packed(req: Request, code: str, items: list[str], separator: str = " ", *params: str) -> None:
    """As many numerics ``code`` as it takes to list ``items`` in their last parameter within 512 bytes."""
    head = " ".join([f":{req.server.config.name}", code, req.client.nick, *params, ":"])
    for piece in packed(items, 510 - len(head.encode()), separator):
        req.reply(code, *params, piece)


def send_names(req: Request, channel: Channel, end: bool = True) -> None:
    """RPL_NAMREPLY lines that each fit in 512 bytes, then RPL_ENDOFNAMES (unless ``end`` is False: a JOIN
    whose read marker must come first sends it later). A secret or private channel shows its members to its
    members only; with userhost-in-names each entry is ``nick!user@host``."""
    viewer = req.client
    multi_prefix = "multi-prefix" in viewer.caps
    full = "userhost-in-names" in viewer.caps
    in_channel = viewer in channel.members
    if channel.visible_to(viewer):
        names = [
            channel.member_prefix(member, multi_prefix) + (member.prefix if full else member.nick)
            for member in channel.members
            if in_channel or not member.is_invisible
        ]
        reply_packed(req, rpl.RPL_NAMREPLY, names, " ", channel.names_type, channel.name)
    if end:
        req.reply(rpl.RPL_ENDOFNAMES, channel.name, "End of /NAMES list")


def send_topic(req: Request, channel: Channel) -> None:
    if channel.topic:
        req.reply(rpl.RPL_TOPIC, channel.name, channel.topic)
        req.reply(rpl.RPL_TOPICWHOTIME, channel.name, channel.topic_set_by, str(channel.topic_set_at))
    else:
        req.reply(rpl.RPL_NOTOPIC, channel.name, "No topic is set")


def send_motd(req: Request) -> None:
    req.out.fixed_replies(req.client, req.server.fixed_replies("motd", lambda: motd_replies(req.server)))


def motd_replies(server: ServerServices) -> list[tuple[str, ...]]:
    lines = server.motd_lines()
    if not lines:
        return [(rpl.ERR_NOMOTD, "MOTD File is missing")]
    return [(rpl.RPL_MOTDSTART, f"- {server.config.name} Message of the day - "),
            *((rpl.RPL_MOTD, f"- {line}") for line in lines),
            (rpl.RPL_ENDOFMOTD, "End of /MOTD command.")]


def send_isupport(req: Request) -> None:
    req.out.fixed_replies(req.client, req.server.fixed_replies("isupport", lambda: isupport_replies(req.server)))


def isupport_replies(server: ServerServices) -> list[tuple[str, ...]]:
    """RPL_ISUPPORT, at most 13 tokens a line (modern.ircdocs.horse "RPL_ISUPPORT")."""
    tokens = server.isupport_tokens()
    return [(rpl.RPL_ISUPPORT, *tokens[start:start + 13], "are supported by this server")
            for start in range(0, len(tokens), 13)]


def send_lusers(req: Request) -> None:
    state = req.state
    registered = len(state.registered)
    invisible = len(state.with_user_mode["i"])
    unknown = len(state.clients) - registered
    count, peak = str(registered), str(state.max_registered)
    req.reply(rpl.RPL_LUSERCLIENT, f"There are {registered - invisible} users and {invisible} invisible on 1 servers")
    req.reply(rpl.RPL_LUSEROP, str(len(state.with_user_mode["o"])), "operator(s) online")
    req.reply(rpl.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)")
    req.reply(rpl.RPL_LUSERCHANNELS, str(len(state.channels)), "channels formed")
    req.reply(rpl.RPL_LUSERME, f"I have {registered} clients and 0 servers")
    req.reply(rpl.RPL_LOCALUSERS, count, peak, f"Current local users {count}, max {peak}")
    req.reply(rpl.RPL_GLOBALUSERS, count, peak, f"Current global users {count}, max {peak}")


def relay_to_channel(req: Request, channel: Channel, message: Message, include_self: bool = True) -> None:
    recipients = channel.members.keys() if include_self else [m for m in channel.members if m is not req.client]
    req.out.relay(recipients, message)


def relay_to_peers_with_cap(req: Request, cap: str, message: Message) -> None:
    """A change of the caller (AWAY, SETNAME) to those who share a channel with it and negotiated ``cap``,
    and to those who monitor its nick with extended-monitor and ``cap`` (IRCv3 extended-monitor)."""
    client = req.client
    recipients = {peer for peer in req.state.peers_of(client) if cap in peer.caps}
    recipients.update(watcher for watcher in req.state.watchers_of(client.nick)
                      if watcher is not client and cap in watcher.caps and "extended-monitor" in watcher.caps)
    req.out.relay(recipients, message)


def remember_channel(req: Request, channel: Channel) -> None:
    """Keep a channel's settings across restarts (and keep the channel when it empties)."""
    if req.server.history_enabled:
        channel.persistent = True
        req.out.saved_channels.append(channel.snapshot())
