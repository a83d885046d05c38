"""Turning server lines into state changes and events: one handler per command, found in one table.

``ServerLineHandler.handle`` runs on the transport's receiver thread, one parsed line at a time. A handler
changes the ``ClientState`` under its lock, then, with the lock released, puts events on the queue and
queues the lines the protocol calls for (PONG, CAP, the rejoin after the MOTD, CTCP answers, …) with
``Transport.send_protocol``, where ``outgoing.lane_for`` decides how each goes. It registers on each new
connection. Nothing here reads or writes the socket, and nothing here knows about a user interface.
"""
from __future__ import annotations

import base64
import queue
import time
from datetime import datetime, timezone
from typing import Callable, Protocol

from common.client.attendance import MAX_ROWS, report_from_batch, row_from_line
from common.client.classroom import classroom_events
from common.client.events import (Announcement, AwayChanged, ChatMessage, ConnectionState, ErrorReply, Event,
                                  HistoryBatch, Invited, Joined, MembersChanged, ModeChanged, NamesList,
                                  NickChanged, NickRefused, Notice, Parted, Quit, ServerReply, TopicChanged)
from common.client.formatting import format_numeric, mentions_nick, parse_server_time
from common.client.multiline import IncomingBatches
from common.client.reactions import ReactionLines
from common.client.state import ChannelState, ClientState, signed_letters
from common.client.transport import Transport
from common.protocol import numerics as rpl
from common.protocol.attendance import ATTENDANCE_BATCH, CLASSROOM_CAP
from common.protocol.casemap import casefold, is_channel_name
from common.protocol.classroom import CLASSROOM_CAP
from common.protocol.message import Message

# Capabilities the session asks for when the server offers them.
WANTED_CAPS = ("server-time", "echo-message", "message-tags", "batch", "multi-prefix", "away-notify",
               "cap-notify", "draft/chathistory", "chathistory", "account-tag", "extended-join", "account-notify",
               CLASSROOM_CAP, "draft/multiline", "draft/message-redaction")
SASL_CHUNK = 400  # AUTHENTICATE carries base64 in pieces of 400 bytes (IRCv3 sasl-3.1)
# ERROR reasons after which a teacher sent us away: the session says why and does not reconnect.
SENT_AWAY = ("Killed", "lesson has ended", "Too many failed operator logins")
CLIENT_VERSION = "classchat 1.0"
NICK_ATTEMPTS = 3  # "nick_", "nick__", "nick___": then the user chooses
LINE_BYTES = 512  # RFC 1459 §2.3: a line with its CRLF
DEFAULT_JOIN_TARGETS = 10  # channels in one JOIN when the server's TARGMAX does not say


def rejoin_lines(channels: list[tuple[str, str]], targmax: str | None) -> list[Message]:
    """JOIN lines for (channel, key) pairs, as few as fit: comma lists of at most the server's TARGMAX
    for JOIN ("JOIN:" alone means no limit; no TARGMAX: 10) within 512 bytes. Keyed channels come first,
    as RFC 2812 §3.2.1 pairs keys with the channels in order."""
    limit = DEFAULT_JOIN_TARGETS
    for item in (targmax.split(",") if targmax is not None else ()):
        command, _, value = item.partition(":")
        if command.upper() == "JOIN":
            if not value:
                limit = 10_000  # no limit but the line's length
            elif value.isascii() and value.isdigit() and len(value) <= 4 and int(value) > 0:
                limit = int(value)
    ordered = sorted(channels, key=lambda pair: not pair[1])
    lines: list[Message] = []
    batch: list[tuple[str, str]] = []
    for pair in ordered:
        candidate = batch + [pair]
        if batch and (len(candidate) > limit or len(_join_line(candidate).to_bytes()) > LINE_BYTES):
            lines.append(_join_line(batch))
            candidate = [pair]
        batch = candidate
    if batch:
        lines.append(_join_line(batch))
    return lines


def _join_line(batch: list[tuple[str, str]]) -> Message:
    names = ",".join(name for name, _ in batch)
    keys = [key for _, key in batch if key]
    return Message("JOIN", [names, ",".join(keys)] if keys else [names])


class CtcpLimiter:
    """How many CTCP requests we answer: ``per_sender`` answers in ``window`` seconds to one nick, and a
    table of at most ``senders`` nicks (a crowd of new ones gets no answer until the window passes).
    The receiver thread's alone."""

    def __init__(self, per_sender: int = 2, window: float = 10.0, senders: int = 64) -> None:
        self.per_sender, self.window, self.senders = per_sender, window, senders
        self._answered: dict[str, list[float]] = {}  # folded nick → when we answered, oldest first

    def allow(self, nick: str) -> bool:
        now = time.monotonic()
        folded = casefold(nick)
        recent = [at for at in self._answered.get(folded, ()) if now - at < self.window]
        if len(recent) >= self.per_sender:
            return False
        if folded not in self._answered and len(self._answered) >= self.senders:
            self._answered = {who: times for who, times in self._answered.items() if now - times[-1] < self.window}
            if len(self._answered) >= self.senders:
                return False
        self._answered[folded] = recent + [now]
        return True


class HandlerSettings(Protocol):
    """What the handlers read of a ``SessionConfig``."""

    nick: str
    username: str | None
    realname: str
    password: str | None
    history_on_join: int


class ServerLineHandler(ReactionLines):
    """The receiver thread's half of the session: it keeps ``state`` up to date and reports on ``events``.
    Open IRCv3 batches (``_batches``) are its own, read and written by that thread alone. Reactions and
    deletions (TAGMSG, REDACT) are handled by ``reactions.ReactionLines``."""

    def __init__(self, config: HandlerSettings, state: ClientState, events: "queue.Queue[Event]",
                 transport: Transport) -> None:
        self.config = config
        self.events = events
        self._state = state
        self._transport = transport
        self._batches: dict[str, tuple[str, list[str], list]] = {}  # reference → type, params, messages or rows
        self._multiline = IncomingBatches(self._on_privmsg)  # draft/multiline batches: one message each
        self._ctcp = CtcpLimiter()

    @property
    def username(self) -> str:
        """The user name we register with: the configured one, else the nick's ASCII letters and digits."""
        config = self.config
        return config.username or "".join(c for c in config.nick if c.isascii() and c.isalnum()) or "user"

    def _emit(self, event: Event) -> None:
        self.events.put(event)

    def register(self) -> None:
        """Introduce ourselves on a new connection (RFC 2812 3.1; CAP LS 302 first, as IRCv3 asks)."""
        config = self.config
        if config.password:
            self._transport.send_protocol(Message("PASS", [config.password]))
        self._transport.send_protocol(Message("CAP", ["LS", "302"]))
        self._transport.send_protocol(Message("NICK", [self._state.own_nick()]))
        self._transport.send_protocol(Message("USER", [self.username, "0", "*", config.realname]))

    def handle(self, msg: Message) -> str | None:
        """Update state and emit events for one line; returns a disconnect reason for ERROR."""
        handler = _HANDLERS.get(msg.command)
        if handler is not None:
            return handler(self, msg)
        if msg.command.isdigit():
            self._on_numeric(msg)
        return None

    def _on_ping(self, msg: Message) -> None:
        self._transport.send_protocol(Message("PONG", msg.params[-1:] or [""]))

    def _on_pong(self, msg: Message) -> None:
        token = msg.params[-1] if msg.params else ""
        with self._state.lock:
            answered = self._state.pongs.get(token)
        if answered is not None:
            answered.set()

    def _on_error(self, msg: Message) -> str:
        text = msg.param(0, "Closing link")
        if not self._state.registered.is_set() or any(reason in text for reason in SENT_AWAY):
            self._state.refused = True  # turned away, or sent away by the teacher: no reconnect
        return text

    def _on_cap(self, msg: Message) -> None:
        subcommand = msg.param(1).upper()
        if subcommand in ("LS", "NEW"):
            more = len(msg.params) > 3 and msg.params[2] == "*"
            offered = dict(item.partition("=")[::2] for item in msg.params[-1].split())
            with self._state.lock:
                self._state.cap_offered |= offered.keys()
                self._state.cap_values.update(offered)
                wanted = [cap for cap in WANTED_CAPS if cap in self._state.cap_offered and cap not in self._state.caps]
                if self._wants_sasl() and "sasl" in self._state.cap_offered and "sasl" not in self._state.caps:
                    wanted.append("sasl")
            if more:
                return
            if "chathistory" in wanted and "draft/chathistory" in wanted:
                wanted.remove("draft/chathistory")
            if wanted:
                self._transport.send_protocol(Message("CAP", ["REQ", " ".join(wanted)]))
            elif subcommand == "LS":
                self._transport.send_protocol(Message("CAP", ["END"]))
        elif subcommand in ("ACK", "NAK"):
            starts_sasl = False
            if subcommand == "ACK":
                with self._state.lock:
                    for item in msg.params[-1].split():
                        if item.startswith("-"):
                            self._state.caps.discard(item[1:])
                        else:
                            self._state.caps.add(item)
                    starts_sasl = "sasl" in msg.params[-1].split() and self._wants_sasl()
                    self._state.sasl_pending = starts_sasl
            if starts_sasl:
                self._transport.send_protocol(Message("AUTHENTICATE", ["PLAIN"]))
            elif not self._state.registered.is_set():
                self._transport.send_protocol(Message("CAP", ["END"]))
        elif subcommand == "DEL":
            with self._state.lock:
                for item in msg.params[-1].split():
                    self._state.caps.discard(item)
                    self._state.cap_offered.discard(item)

    def _wants_sasl(self) -> bool:
        config = self.config
        return bool(config.account and config.account_password and not config.create_account)

    def _on_authenticate(self, msg: Message) -> None:
        """SASL PLAIN (RFC 4616): ``NUL account NUL password``, base64, in pieces of 400 bytes."""
        if msg.param(0) != "+" or not self._wants_sasl():
            return
        payload = base64.b64encode(f"\0{self.config.account}\0{self.config.account_password}".encode()).decode()
        pieces = [payload[index:index + SASL_CHUNK] for index in range(0, len(payload), SASL_CHUNK)]
        if len(payload) % SASL_CHUNK == 0:
            pieces.append("+")
        for piece in pieces:
            self._transport.send_protocol(Message("AUTHENTICATE", [piece]))

    def _on_sasl_result(self, msg: Message) -> None:
        """903 (logged in) or 904-908 (refused): end CAP negotiation either way. A refused login stops the
        session (it would only be refused again): the user is told why and gives another password."""
        with self._state.lock:
            ending = self._state.sasl_pending
            self._state.sasl_pending = False
        if msg.command != rpl.RPL_SASLSUCCESS:
            self._state.refused = True
            self._emit(Notice("login_failed", {"account": self.config.account or "", "reason": msg.param(-1)}))
            self._transport.send_protocol(Message("QUIT", ["Login failed"]))
            return
        if ending and not self._state.registered.is_set():
            self._transport.send_protocol(Message("CAP", ["END"]))

    def _on_logged_in(self, msg: Message) -> None:
        account = msg.param(2)
        with self._state.lock:
            self._state.account = account
        self._emit(Notice("logged_in", {"account": account}))

    def _on_register_reply(self, msg: Message) -> None:
        """``REGISTER SUCCESS <account> :…`` (IRCv3 account-registration): we made our account."""
        if msg.param(0) == "SUCCESS":
            self._emit(Notice("account_created", {"account": msg.param(1)}))

    def _on_account(self, msg: Message) -> None:
        """account-notify: someone logged in (``ACCOUNT name``) or out (``ACCOUNT *``)."""
        name = msg.param(0)
        with self._state.lock:
            self._state.note_identity(msg.source_nick, account=None if name == "*" else name,
                                      logged_out=name == "*")

    def _on_welcome(self, msg: Message) -> None:
        nick = msg.param(0, self.config.nick)
        words = msg.params[-1].split()
        with self._state.lock:
            self._state.nick = nick
            if words and words[-1].startswith(f"{nick}!"):
                self._state.note_own_source(words[-1])
        self._state.registered.set()
        self._emit(ConnectionState("registered", nick))
        config = self.config
        if config.create_account and config.account_password:  # "Create an account": REGISTER as our nick
            self._transport.send_protocol(Message("REGISTER", [config.account or "*", "*",
                                                               config.account_password]))

    def _on_end_of_motd(self, msg: Message) -> None:
        """376 or 422 ends the welcome (RFC 2812 §5.1): ISUPPORT is known, so rejoin the channels we were
        in, in as few JOIN lines as the server allows, and restore the away message; once per connection."""
        with self._state.lock:
            if self._state.rejoined or not self._state.registered.is_set():
                return
            self._state.rejoined = True
            rejoin = [(name, self._state.channel_keys.get(folded, ""))
                      for folded, name in self._state.wanted_channels.items()]
            away = self._state.away
        for line in rejoin_lines(rejoin, self._state.isupport.get("TARGMAX")):
            self._transport.send_protocol(line)
        if away:
            self._transport.send_protocol(Message("AWAY", [away]))

    def _on_isupport(self, msg: Message) -> None:
        with self._state.lock:
            for token in msg.params[1:-1]:
                key, _, value = token.partition("=")
                self._state.isupport[key.upper()] = value

    def _on_nick_in_use(self, msg: Message) -> None:
        """433 before registration: try "nick_", "nick__", … (``NICK_ATTEMPTS``), then ask the user."""
        if self._state.registered.is_set():
            self._on_numeric(msg)
            return
        with self._state.lock:
            self._state.nick_attempt += 1
            taken = msg.param(1, self._state.nick)
            preferred = self._state.preferred_nick
            new_nick = preferred + "_" * self._state.nick_attempt
            if self._state.nick_attempt <= NICK_ATTEMPTS:
                self._state.nick = new_nick
        if self._state.nick_attempt > NICK_ATTEMPTS:
            self._emit(NickRefused(preferred, taken=True))
            return
        self._emit(Notice("nick_taken", {"nick": taken, "new": new_nick}))
        self._transport.send_protocol(Message("NICK", [new_nick]))

    def _on_erroneous_nick(self, msg: Message) -> None:
        """432 before registration: the nick we chose is refused (or the "nick_" we tried for a taken one,
        which is too long): nothing happens until the user chooses another."""
        if self._state.registered.is_set():
            self._on_numeric(msg)
            return
        with self._state.lock:
            tried_alternative = self._state.nick_attempt > 0
            preferred = self._state.preferred_nick
        self._emit(NickRefused(preferred if tried_alternative else msg.param(1, preferred), taken=tried_alternative))

    def _on_privmsg(self, msg: Message) -> None:
        if self._multiline.collect(msg):
            return
        sender = msg.source_nick
        if not msg.params or (msg.command != "TAGMSG" and len(msg.params) < 2):
            return
        target, text = msg.params[0], msg.param(1)
        own = self._state.is_me(sender)
        with self._state.lock:
            if own:
                self._state.note_own_source(msg.source or "")
            elif msg.source and "!" in msg.source:
                self._state.note_identity(sender, host=msg.source.rpartition("@")[2], account=msg.tags.get("account"))
        if target.startswith("$") and msg.command != "TAGMSG":
            self._emit(Announcement(sender, text, parse_server_time(msg.tags)))
            return
        from_server = not msg.source or "!" not in msg.source
        if from_server and not is_channel_name(target):
            self._emit(ServerReply(msg.command, text, welcome=not self._state.rejoined))
            return
        kind = "notice" if msg.command == "NOTICE" else "message"
        if text.startswith("\x01"):
            ctcp = text.strip("\x01")
            verb, _, rest = ctcp.partition(" ")
            if verb.upper() == "ACTION":
                kind, text = "action", rest
            else:
                self._answer_ctcp(sender, verb.upper(), rest, kind)
                return
        conversation = target if is_channel_name(target) else (target if own else sender)
        batch = self._batches.get(msg.tags.get("batch", ""))
        mentions = not own and mentions_nick(text, self._state.own_nick()) and batch is None
        message = ChatMessage(conversation, sender, text, parse_server_time(msg.tags), kind=kind, own=own,
                              mentions_me=mentions, msgid=msg.tags.get("msgid"), history=batch is not None)
        self._state.reactions.note_message(conversation, message.msgid, sender, text, own)
        if batch is not None:
            batch[2].append(message)
        else:
            self._emit(message)

    def _on_batch(self, msg: Message) -> None:
        """IRCv3 batch: a chathistory batch becomes one HistoryBatch event when it ends; a draft/multiline
        batch one message (``IncomingBatches``)."""
        if self._multiline.handle_batch(msg):
            return
        reference = msg.param(0)
        if reference.startswith("+") and len(msg.params) >= 2:
            self._batches[reference[1:]] = (msg.params[1], msg.params[2:], [])
            return
        batch = self._batches.pop(reference[1:], None)
        if batch is None:
            return
        batch_type, params, messages = batch
        if batch_type in ("chathistory", "draft/chathistory") and params:
            conversation = params[0]
            with self._state.lock:
                older = casefold(conversation) in self._state.older_requested
                self._state.older_requested.discard(casefold(conversation))
            self._emit(HistoryBatch(conversation, tuple(messages), older=older))
        elif batch_type == ATTENDANCE_BATCH and (report := report_from_batch(params, messages)) is not None:
            self._emit(report)

    def _on_attendance(self, msg: Message) -> None:
        """A row of an attendance batch (see ``common.client.attendance``); outside one, nothing."""
        batch = self._batches.get(msg.tags.get("batch", ""))
        if batch is not None and batch[0] == ATTENDANCE_BATCH and len(batch[2]) < MAX_ROWS \
                and (row := row_from_line(msg)) is not None:
            batch[2].append(row)

    def _answer_ctcp(self, sender: str, verb: str, rest: str, kind: str) -> None:
        """Answer VERSION, PING and TIME, a few times per sender (``CtcpLimiter``); the answers wait in a
        bounded lane of their own behind what the user types (``outgoing.Lane.CTCP_REPLY``)."""
        if kind == "notice":
            return  # a CTCP reply: nothing to answer
        replies = {"VERSION": CLIENT_VERSION, "PING": rest[:64],
                   "TIME": datetime.now().astimezone().isoformat()}
        if verb in replies and not self._state.is_me(sender) and self._ctcp.allow(sender):
            self._transport.send_protocol(Message("NOTICE", [sender, f"\x01{verb} {replies[verb]}\x01"]))

    def _on_join(self, msg: Message) -> None:
        channel, nick = msg.param(0), msg.source_nick
        own = self._state.is_me(nick)
        with self._state.lock:
            folded = casefold(channel)
            if own:
                self._state.note_own_source(msg.source or "")
                self._state.channels[folded] = ChannelState(channel)
                self._state.wanted_channels[folded] = channel
                self._state.mode_queries.add(folded)
            state = self._state.channels.get(folded)
            if state is not None:
                state.add(nick)
            account = msg.param(1) if len(msg.params) >= 3 and msg.param(1) != "*" else None  # extended-join
            self._state.note_identity(nick, host=(msg.source or "").rpartition("@")[2] or None, account=account)
        self._emit(Joined(channel, nick, own, parse_server_time(msg.tags)))
        self._emit(MembersChanged(channel))
        # What the session needs to show the channel: its modes (moderated, questions, …) and its last
        # messages. They are follow-ups, paced behind what the user types (``outgoing.Lane.FOLLOW_UP``).
        if own:
            self._transport.send_protocol(Message("MODE", [channel]))
        if own and self._state.has_chathistory() and self.config.history_on_join > 0:
            self._transport.send_protocol(
                Message("CHATHISTORY", ["LATEST", channel, "*", str(self.config.history_on_join)]))

    def _on_part(self, msg: Message) -> None:
        self._remove_member(msg.param(0), msg.source_nick, msg.param(1), msg.tags, kicked_by=None)

    def _on_kick(self, msg: Message) -> None:
        self._remove_member(msg.param(0), msg.param(1), msg.param(2), msg.tags, kicked_by=msg.source_nick)

    def _remove_member(self, channel: str, nick: str, reason: str, tags: dict, kicked_by: str | None) -> None:
        own = self._state.is_me(nick)
        with self._state.lock:
            folded = casefold(channel)
            state = self._state.channels.get(folded)
            if own:
                self._state.channels.pop(folded, None)
                if kicked_by is None:
                    self._state.wanted_channels.pop(folded, None)
            elif state is not None:
                state.remove(nick)
        self._emit(Parted(channel, nick, reason, own, parse_server_time(tags), kicked_by=kicked_by))
        self._emit(MembersChanged(channel))

    def _on_quit(self, msg: Message) -> None:
        nick = msg.source_nick
        with self._state.lock:
            left = [state.name for state in self._state.channels.values() if state.remove(nick)]
        self._emit(Quit(nick, msg.param(0), tuple(left), parse_server_time(msg.tags)))
        for channel in left:
            self._emit(MembersChanged(channel))

    def _on_nick(self, msg: Message) -> None:
        old, new = msg.source_nick, msg.param(0)
        own = self._state.is_me(old)
        with self._state.lock:
            if own:
                self._state.nick = self._state.preferred_nick = new
            channels = [state.name for state in self._state.channels.values() if state.rename(old, new)]
            identity = self._state.identities.pop(casefold(old), None)
            if identity is not None:  # the same person: a mute of the account or host still names them
                self._state.identities[casefold(new)] = identity
        self._emit(NickChanged(old, new, own, tuple(channels), parse_server_time(msg.tags)))
        for channel in channels:
            self._emit(MembersChanged(channel))

    def _on_topic(self, msg: Message) -> None:
        channel, topic = msg.param(0), msg.param(1)
        with self._state.lock:
            state = self._state.channels.get(casefold(channel))
            if state is not None:
                state.topic = topic
        self._emit(TopicChanged(channel, topic, msg.source_nick, parse_server_time(msg.tags)))

    def _on_topic_reply(self, msg: Message) -> None:
        channel = msg.param(1)
        topic = msg.param(2) if msg.command == rpl.RPL_TOPIC else ""
        with self._state.lock:
            state = self._state.channels.get(casefold(channel))
            if state is not None:
                state.topic = topic
        self._emit(TopicChanged(channel, topic, None, datetime.now(timezone.utc), on_join=True))

    def _on_names(self, msg: Message) -> None:
        channel = msg.params[-2] if len(msg.params) >= 3 else ""
        prefixes = self._state.prefix_symbols()
        with self._state.lock:
            names = self._state.pending_names.setdefault(casefold(channel), {})
            for item in msg.params[-1].split():
                nick = item.lstrip(prefixes)
                names[nick.split("!")[0]] = item[: len(item) - len(nick)]

    def _on_end_of_names(self, msg: Message) -> None:
        channel = msg.param(1)
        order = self._state.prefix_symbols()
        with self._state.lock:
            folded = casefold(channel)
            names = self._state.pending_names.pop(folded, None)
            state = self._state.channels.get(folded)
            if state is not None and names is not None:
                state.replace(names)
            asked = folded in self._state.names_requested
            self._state.names_requested.discard(folded)
        if state is not None:
            self._emit(MembersChanged(state.name))
        if asked:
            def rank(item: tuple[str, str]) -> tuple[int, str]:
                nick, prefixes = item
                return (order.index(prefixes[0]) if prefixes and prefixes[0] in order else len(order), casefold(nick))
            members = tuple((prefixes, nick) for nick, prefixes in sorted((names or {}).items(), key=rank))
            self._emit(NamesList(state.name if state is not None else channel, members))

    def _on_mode(self, msg: Message) -> None:
        target = msg.param(0)
        modes = " ".join(msg.params[1:])
        changes: list[tuple[str, str]] = []
        if is_channel_name(target):
            changes = self._state.apply_channel_modes(target, msg.params[1:])
            self._emit(MembersChanged(target))
        elif self._state.is_me(target):
            with self._state.lock:
                for adding, letter in signed_letters(msg.param(1)):
                    if letter == "o":
                        self._state.is_oper = adding
        self._emit(ModeChanged(target, msg.source_nick, modes, parse_server_time(msg.tags), tuple(changes)))

    def _on_channel_mode_is(self, msg: Message) -> None:
        """RPL_CHANNELMODEIS: the modes of a channel; shown unless it answers our own query after a join."""
        channel = msg.param(1)
        self._state.apply_channel_modes(channel, msg.params[2:], replace=True)
        with self._state.lock:
            asked_by_us = casefold(channel) in self._state.mode_queries
            self._state.mode_queries.discard(casefold(channel))
        if asked_by_us:
            self._emit(MembersChanged(channel))
        else:
            self._emit(ServerReply(msg.command, format_numeric(msg), tuple(msg.params[1:])))

    def _on_youreoper(self, msg: Message) -> None:
        with self._state.lock:
            self._state.is_oper = True
        self._on_numeric(msg)

    def _on_away(self, msg: Message) -> None:
        self._emit(AwayChanged(msg.source_nick, msg.param(0) or None))

    def _on_invite(self, msg: Message) -> None:
        self._emit(Invited(msg.param(1), msg.source_nick))

    def _on_visible_host(self, msg: Message) -> None:
        """396: the host others see for us changed (a cloak): it is part of what the server puts before our lines."""
        with self._state.lock:
            self._state.own_host = msg.param(1) or self._state.own_host
        self._on_numeric(msg)

    def _on_classroom(self, msg: Message) -> None:
        """HAND, HANDS and POLL (raised hands and polls): see ``classroom.py``."""
        for event in classroom_events(self._state, msg):
            self._emit(event)

    def _on_fail(self, msg: Message) -> None:
        self._emit(ErrorReply(msg.command, " ".join(msg.params[1:]), params=tuple(msg.params)))  # [0]: the command

    def _on_numeric(self, msg: Message) -> None:
        code = msg.command
        params = tuple(msg.params[1:])
        if code in _SILENT_NUMERICS:
            return
        if code.startswith(("4", "5")):
            registered = self._state.registered.is_set()
            if not registered and code in (rpl.ERR_PASSWDMISMATCH, rpl.ERR_YOUREBANNEDCREEP):
                self._state.refused = True  # the ERROR that follows ends the connection: do not reconnect
            if not registered and code == rpl.ERR_PASSWDMISMATCH:
                self._emit(Notice("password_wrong" if self.config.password else "password_needed"))
                return
            target = msg.params[1] if len(msg.params) > 2 else None
            self._emit(ErrorReply(code, " ".join(params), target, params))
        else:
            self._emit(ServerReply(code, format_numeric(msg), params, welcome=not self._state.rejoined))


# Numerics the session digests itself, that only repeat what events already say, or whose only content is
# the server's English prose (002, 003, 251, 255: the counts come again in 252-254 and 265-266).
_SILENT_NUMERICS = {rpl.RPL_WELCOME, rpl.RPL_YOURHOST, rpl.RPL_CREATED, rpl.RPL_ISUPPORT, rpl.RPL_MYINFO,
                    rpl.RPL_LUSERCLIENT, rpl.RPL_LUSERME, rpl.RPL_NAMREPLY, rpl.RPL_ENDOFNAMES,
                    rpl.RPL_TOPICWHOTIME, rpl.RPL_CREATIONTIME, rpl.RPL_ENDOFWHO, rpl.RPL_ENDOFWHOIS,
                    rpl.RPL_LISTSTART, rpl.RPL_ENDOFMOTD, rpl.ERR_NOMOTD,
                    rpl.RPL_LOGGEDIN, rpl.RPL_SASLSUCCESS}

_HANDLERS: dict[str, Callable[[ServerLineHandler, Message], str | None]] = {
    "PING": ServerLineHandler._on_ping,
    "PONG": ServerLineHandler._on_pong,
    "ERROR": ServerLineHandler._on_error,
    "CAP": ServerLineHandler._on_cap,
    "AUTHENTICATE": ServerLineHandler._on_authenticate,
    "ACCOUNT": ServerLineHandler._on_account,
    "REGISTER": ServerLineHandler._on_register_reply,
    rpl.RPL_LOGGEDIN: ServerLineHandler._on_logged_in,
    rpl.RPL_SASLSUCCESS: ServerLineHandler._on_sasl_result,
    rpl.ERR_SASLFAIL: ServerLineHandler._on_sasl_result,
    rpl.ERR_SASLTOOLONG: ServerLineHandler._on_sasl_result,
    rpl.ERR_SASLABORTED: ServerLineHandler._on_sasl_result,
    "PRIVMSG": ServerLineHandler._on_privmsg,
    "NOTICE": ServerLineHandler._on_privmsg,
    "TAGMSG": ServerLineHandler._on_tagmsg,
    "REDACT": ServerLineHandler._on_redact,
    "JOIN": ServerLineHandler._on_join,
    "PART": ServerLineHandler._on_part,
    "KICK": ServerLineHandler._on_kick,
    "QUIT": ServerLineHandler._on_quit,
    "NICK": ServerLineHandler._on_nick,
    "TOPIC": ServerLineHandler._on_topic,
    "MODE": ServerLineHandler._on_mode,
    "AWAY": ServerLineHandler._on_away,
    "INVITE": ServerLineHandler._on_invite,
    "BATCH": ServerLineHandler._on_batch,
    "ATTENDANCE": ServerLineHandler._on_attendance,
    "FAIL": ServerLineHandler._on_fail,
    "HAND": ServerLineHandler._on_classroom,
    "HANDS": ServerLineHandler._on_classroom,
    "POLL": ServerLineHandler._on_classroom,
    rpl.RPL_WELCOME: ServerLineHandler._on_welcome,
    rpl.RPL_CHANNELMODEIS: ServerLineHandler._on_channel_mode_is,
    rpl.RPL_YOUREOPER: ServerLineHandler._on_youreoper,
    rpl.RPL_ISUPPORT: ServerLineHandler._on_isupport,
    rpl.ERR_NICKNAMEINUSE: ServerLineHandler._on_nick_in_use,
    rpl.ERR_ERRONEUSNICKNAME: ServerLineHandler._on_erroneous_nick,
    rpl.RPL_ENDOFMOTD: ServerLineHandler._on_end_of_motd,
    rpl.ERR_NOMOTD: ServerLineHandler._on_end_of_motd,
    rpl.RPL_VISIBLEHOST: ServerLineHandler._on_visible_host,
    rpl.RPL_TOPIC: ServerLineHandler._on_topic_reply,
    rpl.RPL_NOTOPIC: ServerLineHandler._on_topic_reply,
    rpl.RPL_NAMREPLY: ServerLineHandler._on_names,
    rpl.RPL_ENDOFNAMES: ServerLineHandler._on_end_of_names,
}
