"""The classchat IRC server: a listener, one reader thread per connection, and shared state.

The split follows ``socketserver``: ``ChatServer`` owns the listening socket, the state and every thread;
``serve_forever()`` accepts until ``shutdown()`` (from another thread) or ``request_stop()`` (safe in a
signal handler); ``server_close()`` tells every client, closes the sockets and joins the threads.

Threads: the accepting thread, one reader per connection (it parses and runs that client's commands), one
``Flusher`` that finishes writes the kernel could not take at once, and one housekeeping thread for
PINGs and timeouts. Command handling takes the single state lock; sending happens after it is released
(see ``outbox.py`` and ``connection.py``). The commands (``commands/``) see this server only as
``commands.ServerServices``: this module imports them, never the reverse.
"""
from __future__ import annotations

import _thread
import functools
import itertools
import logging
import os
import select
import selectors
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator, TypeVar

from common.protocol import numerics as rpl
from common.protocol.casemap import CASEMAPPING, CHANNEL_PREFIXES
from common.server.accounts import AccountStore
from common.server.attendance_recorder import AttendanceRecorder
from common.server.config import ServerConfig
from common.server.connection import Connection, Flusher, closing_link, recv_waiting
from common.protocol.framing import LineFramer, RawLine
from common.server.history import Checkpointer, HistoryStore, format_time
from common.server.history_model import make_msgid
from common.server.limits import ArrivalThrottle, FloodGate
from common.protocol.message import InvalidUTF8, LineTooLong, Message, ProtocolError, parse
from common.server.outbox import FixedReplies, Outbox
from common.server import commands
from common.protocol import tls
from common.server.sequencer import Sequencer
from common.server.state import MEMBER_PREFIXES, Channel, Client, ServerState

VERSION = "classchat-1.0"
T = TypeVar("T")
ACCEPT_BATCH = 1024  # connections taken off the listen queue before any of them is started
log = logging.getLogger("classchat.server")
audit_log = logging.getLogger("classchat.audit")


class ReaderThreads:
    """The connections' reader threads, one per connection, counted so that shutdown can wait for them.

    They are started with ``_thread.start_new_thread``, not as ``threading.Thread`` objects: a Thread
    carries an Event, a Condition and three locks (about 4 KiB per idle client), and ``Thread.start()``
    waits until the new thread runs, so the accepting thread handed over the GIL for every arrival
    (measured: about 500 µs per start on a busy 2-core machine against 60 µs; bench/idle_scale.py).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.running = 0

    def start(self, target: Callable[[T], None], arg: T) -> None:
        """Run ``target(arg)`` on a new thread; raises RuntimeError when no thread can be started."""
        with self._changed:
            self.running += 1
        try:
            _thread.start_new_thread(self._run, (target, arg))
        except BaseException:
            self._ended()
            raise

    def _run(self, target: Callable[[T], None], arg: T) -> None:
        try:
            target(arg)  # not target(*args): a call with * would run the interpreter once more on the C stack
        finally:
            self._ended()

    def _ended(self) -> None:
        with self._changed:
            self.running -= 1
            if not self.running:
                self._changed.notify_all()

    def wait_all(self, timeout: float) -> bool:
        """Wait until every reader thread has ended, at most ``timeout`` seconds; False if some had not."""
        with self._changed:
            return self._changed.wait_for(lambda: self.running == 0, timeout)


class ChatServer:
    """A threaded IRC server. Use as a context manager, or call ``server_close()`` when done.

    The commands see it as ``commands.ServerServices``, which lists what of it they may use. ``wall_clock``
    (seconds since the epoch) is injectable so that a test can step it back, as NTP may."""

    def __init__(self, config: ServerConfig, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._wall_clock = wall_clock
        self._last_time_ms = 0  # of the latest message: message times never decrease
        self.state = ServerState()
        self.version = VERSION
        self.created_text = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        self._fixed_replies: dict[str, FixedReplies] = {}  # see fixed_replies()
        self.tls_context = tls.server_context(config.tls_cert, config.tls_key) if config.tls_cert else None
        self.listener = self._listen(config.port)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.tls_listener: socket.socket | None = None
        self.tls_address: tuple[str, int] | None = None
        if self.tls_context is not None:
            try:
                self.tls_listener = self._listen(config.tls_port)
            except OSError:
                self.listener.close()
                raise
            self.tls_address = self.tls_listener.getsockname()[:2]
        self._arrivals = ArrivalThrottle(config.connects_per_minute)
        self._stop_requested = False
        self._stopping = threading.Event()
        self._served = threading.Event()  # set while serve_forever() is not running
        self._served.set()
        self._closed = False
        self.failed = False  # set when the server stopped because a thread it needs died
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_writer.setblocking(False)
        self.readers = ReaderThreads()
        # Log records carry no thread name: asking threading for the name of a reader thread (not a
        # threading.Thread, see ReaderThreads) would leave a dummy Thread object behind for each one that logs.
        logging.logThreads = False
        self._msgid_prefix = os.urandom(4).hex()
        self.store: HistoryStore | None = None
        self._checkpointer: Checkpointer | None = None
        if config.history:
            try:
                self.store = HistoryStore(config.db_path)
                # After a restart too: the clock may have stepped back while the server was down.
                self._last_time_ms = self.store.last_time_ms()
                self._load_channels(self.store)
                self._make_class_channels(self.store)
            except Exception:
                self._close_listeners()
                if self.store is not None:
                    self.store.close()
                raise
        else:
            self._make_class_channels(None)
        # A msgid ends in the id its message is stored under (history_blocks.py), after every one stored.
        self._msgids = itertools.count((self.store.last_row_id() if self.store is not None else 0) + 1)
        if self.store is not None and config.db_path != ":memory:":
            self._checkpointer = Checkpointer(config.db_path)
            self._checkpointer.start()
        try:
            self.accounts: AccountStore | None = AccountStore(config.db_path, config.nick_length,
                                                              delay_base=config.login_delay)
        except sqlite3.Error:
            self._close_listeners()
            raise
        self.sequencer = Sequencer(self.store, config.history_days or None, wall_clock=wall_clock)
        self.sequencer.start()
        self.attendance: AttendanceRecorder | None = None  # kept with the history, in its database
        if self.store is not None:
            self.attendance = AttendanceRecorder(config.db_path, self._deliver_later, wall_clock=wall_clock,
                                                 retention_days=config.history_days or None)
            self.state.attendance = self.attendance
            self.attendance.start()
        self.flusher = Flusher()
        self.flusher.start()
        self._housekeeper = threading.Thread(target=self._housekeeping, name="housekeeping")
        self._housekeeper.start()

    # ------------------------------------------------------------ life cycle

    def _listen(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        # The longest queue the kernel allows (net.core.somaxconn): a burst of arrivals waits there for the
        # accepting thread instead of being dropped, which would cost the client a one-second SYN retry.
        listener = socket.create_server((self.config.host, port), family=family, backlog=socket.SOMAXCONN)
        listener.setblocking(False)
        return listener

    def _close_listeners(self) -> None:
        self.listener.close()
        if self.tls_listener is not None:
            self.tls_listener.close()

    def __enter__(self) -> "ChatServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server_close()

    def serve_forever(self) -> None:
        """Accept connections until a stop is requested."""
        self._served.clear()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.listener, selectors.EVENT_READ)
                if self.tls_listener is not None:
                    selector.register(self.tls_listener, selectors.EVENT_READ)
                selector.register(self._wake_reader, selectors.EVENT_READ)
                while not self._stop_requested:
                    for key, _ in selector.select():
                        if key.fileobj is not self._wake_reader and not self._stop_requested:
                            self._accept_pending(key.fileobj)
        finally:
            self._served.set()

    def request_stop(self) -> None:
        """Make ``serve_forever()`` return soon. Safe to call from a signal handler."""
        self._stop_requested = True
        try:
            self._wake_writer.send(b"x")
        except OSError:
            pass  # already woken, or already closed

    def shutdown(self) -> None:
        """Stop ``serve_forever()`` (running in another thread) and wait until it has returned."""
        self.request_stop()
        self._served.wait()

    def server_close(self) -> None:
        """Tell every client, close every socket and join every thread (within about two seconds)."""
        if self._closed:
            return
        self._closed = True
        self.request_stop()
        self._stopping.set()
        self._close_listeners()
        if self.sequencer.is_alive():  # each client's ERROR after the lines queued before it
            with self.transaction() as out:
                for client in self.state.clients:
                    out.after_delivery.append(functools.partial(client.conn.close, "Server shutting down", True))
        else:
            with self.state.lock:
                clients = list(self.state.clients)
            for client in clients:
                client.conn.close("Server shutting down", tell_client=True)
        deadline = time.monotonic() + 2.0
        if not self.readers.wait_all(max(0.0, deadline - time.monotonic())):
            log.warning("%d connection threads had not ended when the server stopped", self.readers.running)
        self._housekeeper.join(max(0.0, deadline - time.monotonic()))
        if self.attendance is not None:  # after the readers: their departures are recorded first
            self.attendance.stop(max(0.1, deadline - time.monotonic()))
        self.sequencer.stop(max(0.1, deadline - time.monotonic()))
        if self._checkpointer is not None:
            self._checkpointer.stop()
        if self.store is not None and not self.sequencer.is_alive():
            self.store.close()
        if self.accounts is not None:
            self.accounts.close()
        self.flusher.stop()
        self.flusher.join(max(0.0, deadline - time.monotonic()))
        self._wake_reader.close()
        self._wake_writer.close()

    # ------------------------------------------------------------ connections

    def _accept_pending(self, listener: socket.socket) -> None:
        """Take every connection waiting (up to ``ACCEPT_BATCH``) off the listen queue, then start them.

        Accepting is cheap and starting a connection (its objects, its thread) is not, so the queue is
        emptied first: a class that connects at once (5000 clients in a quarter of a second, in
        bench/idle_scale.py) would otherwise fill it while threads start, and the kernel drops what does
        not fit, which costs that client a one-second SYN retry. One accept per wake-up would also cap
        arrivals near 200/s: this thread may wait up to the interpreter's switch interval for the GIL."""
        arrivals: list[tuple[socket.socket, tuple]] = []
        for _ in range(ACCEPT_BATCH):
            try:
                arrivals.append(listener.accept())
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                # Out of file descriptors, for example: wait a little instead of spinning on the listener.
                log.warning("accept failed: %s", error)
                self._stopping.wait(0.1)
                break
        for sock, address in arrivals:
            self._start_connection(sock, address, listener is self.tls_listener)

    def _start_connection(self, sock: socket.socket, address: tuple, use_tls: bool) -> None:
        # ``sock`` is blocking already (accept4() without SOCK_NONBLOCK; Python gives it no timeout): no
        # setblocking(True) here, a call that hands the GIL over and cost the accepting thread about 180 µs
        # per arrival while reader threads were busy (bench/idle_scale.py).
        # Nagle's algorithm stays on (no TCP_NODELAY), as in ngircd and the seed: with it off, every line to
        # every client was a TCP segment of its own, and a teacher's message to 500 students cost 13.5 µs of
        # server CPU per delivery instead of 6.0 (bench/chat_bench.py --scenario paced), with no better
        # latency (p99 13.5 ms against 12.9). A line still leaves at once when nothing is unacknowledged.
        tls_channel = tls.TLSChannel(self.tls_context) if use_tls and self.tls_context is not None else None
        conn = Connection(sock, address, self.config.sendq_bytes, self.flusher, tls_channel)
        host = conn.host
        client = Client(conn=conn)
        limited = address[0] not in self.config.limit_exempt
        refusal = None
        if limited and not self._arrivals.admit(address[0]):
            refusal = "Connecting too often from your address; wait a minute"
        else:
            with self.state.lock:
                refusal = self._admission_refusal(address[0], limited)
                if refusal is None:
                    self.state.add_client(client)
        if refusal is not None:
            log.warning("refused %s: %s", host, refusal)
            if tls_channel is None:  # a TLS client would not understand plain text before its handshake
                conn.close(refusal, tell_client=True)
            conn.release()
            return
        log.info("connection from %s", host)
        try:
            self.readers.start(self._serve_connection, client)
        except RuntimeError as error:  # "can't start new thread": out of memory or of threads
            self._refuse_unstarted(client, error)

    def _refuse_unstarted(self, client: Client, error: Exception) -> None:
        """A connection whose reader thread could not start: tell it, forget it, and go on serving."""
        log.error("could not start a thread for %s (%s): connection refused", client.conn.host, error)
        conn = client.conn
        with self.transaction() as out:
            self.state.remove(client)
            # Released by the sequencer, after any lines it has for this connection (see connection.py).
            out.after_delivery.append(lambda: (conn.close("Server is out of resources; try again later",
                                                          tell_client=True), conn.release()))

    def _admission_refusal(self, address: str, limited: bool) -> str | None:
        """Why a new connection from ``address`` may not stay, or None. Called with the state lock held."""
        if len(self.state.clients) >= self.config.max_clients:
            return "Server is full"
        per_address = self.config.max_per_address
        if limited and per_address and self.state.connections_from(address) >= per_address:
            return f"Too many connections from your address (at most {per_address})"
        return None

    def _serve_connection(self, client: Client) -> None:
        """The reader thread of one connection: frame, parse, throttle, dispatch; then clean up."""
        conn = client.conn
        framer = LineFramer()
        gate = FloodGate(self.config.flood_burst, self.config.flood_rate, self.config.flood_max_excess)
        # An idle connection waits in poll(), not in recv(): a blocking recv() holds its buffer for as
        # long as it waits, which was most of an idle client's memory (see also connection.SMALL_BYTES).
        readable = select.poll()
        readable.register(conn.sock, select.POLLIN)
        try:
            if conn.tls is not None and not self._tls_handshake(conn):
                return
            while conn.close_reason is None:
                if not self._read_and_handle(client, readable, framer, gate):
                    break
        except Exception:  # a bug outside any one command: this connection ends, the server goes on
            log.exception("%s: the connection's thread failed", client.prefix)
            conn.request_close("Internal error")
        finally:
            self._disconnect(client)

    def _read_and_handle(self, client: Client, readable: select.poll, framer: LineFramer, gate: FloodGate) -> bool:
        """Wait for the client's next bytes and run the lines they complete; False once the connection ended.

        A method of its own so that what it read is freed before the thread waits again: an idle
        connection keeps none of its last lines."""
        conn = client.conn
        try:
            readable.poll()
            self.sequencer.wait_for_room()  # reads only while the sequencer keeps up (see sequencer.py)
            received = recv_waiting(conn.sock)
            data = conn.receive(received)
        except OSError as error:
            conn.request_close(error.strerror or "Connection error")
            return False
        except tls.TLSClosed as error:
            conn.request_close(str(error))
            return False
        if not received:
            conn.request_close("Remote host closed the connection")
            return False
        conn.last_received = time.monotonic()
        conn.ping_sent_at = None
        for raw in framer.feed(data):
            if not self._throttle(conn, gate, client):
                break
            self._handle_line(client, raw)
            gate.charge(commands.take_flood_bill(client))  # a multiline batch that ended, as a whole
            if conn.close_reason is not None:
                break
        return True

    def _tls_handshake(self, conn: Connection) -> bool:
        try:
            conn.tls.handshake(conn.sock, self.config.registration_timeout)
        except (OSError, tls.TLSClosed) as error:
            reason = f"TLS handshake failed: {error}"
            conn.request_close(reason)
            log.info("%s: %s", conn.host, reason)
            return False
        return True

    def _throttle(self, conn: Connection, gate: FloodGate, client: Client) -> bool:
        """Wait as flood control says before the next line; False when the connection is to end. The lines
        of a multiline batch come at once and are billed when it ends (``take_flood_bill``)."""
        if commands.in_batch(client):
            return conn.close_reason is None
        delay = gate.delay_for_line()
        if delay is None:
            conn.request_close("Excess Flood")
            return False
        if delay > 0 and self._stopping.wait(delay):
            return False
        return conn.close_reason is None

    def _handle_line(self, client: Client, raw: RawLine) -> None:
        try:
            message = parse(raw.decode())
        except ProtocolError as error:
            self._refuse_line(client, error)
            if commands.in_batch(client):  # the multiline batch would lack this line: it fails instead
                with self.transaction() as out:
                    commands.abandon_unread_line(commands.Request(self, client, out))
        else:
            self._run_command(client, message)

    def _refuse_line(self, client: Client, error: ProtocolError) -> None:
        """The reply to a line that is no IRC message: 417 too long, FAIL … INVALID_UTF8, 400 malformed."""
        if isinstance(error, LineTooLong):
            self.reply(client, rpl.ERR_INPUTTOOLONG, "Input line was too long")
        elif isinstance(error, InvalidUTF8):
            with self.transaction() as out:
                out.send(client, Message("FAIL", [error.command, "INVALID_UTF8",
                                                  "Message rejected, your IRC software MUST use UTF-8 encoding "
                                                  "on this network"], source=self.config.name))
        else:
            self.reply(client, rpl.ERR_UNKNOWNERROR, error.command, f"Malformed line: {error.reason}")

    def _run_command(self, client: Client, message: Message) -> None:
        """Run one command as a unit: what it decided is sent, or, if it raised, nothing it decided is, and
        the client is told. Handlers check everything before they change anything (see commands/), so a
        bug shows as one traceback in the log and one error reply, never as a dead thread."""
        try:
            prepared = commands.prepare(self, client, message)  # before the lock: see CommandSpec.outside_lock
        except Exception:
            log.exception("%s: %s failed before it ran", client.prefix, message.command)
            self.reply(client, rpl.ERR_UNKNOWNERROR, message.command, "Could not handle the command")
            return
        out = Outbox(self.config.name)
        request = commands.Request(self, client, out, prepared)
        with self.state.lock:
            try:
                commands.dispatch(request, message)
                commands.label_replies(out, client, message)  # labeled-response, once the outbox is complete
            except Exception:
                log.exception("%s: %s failed", client.prefix, message.command)
                request.after_lock = None
                out = Outbox(self.config.name)
                out.numeric(client, rpl.ERR_UNKNOWNERROR, message.command, "Could not handle the command")
            self.sequencer.submit(out)
        if request.after_lock is not None:
            request.after_lock()

    def _disconnect(self, client: Client) -> None:
        conn = client.conn
        reason = conn.close_reason or "Connection closed"
        with self.transaction() as out:
            peers = self.state.remove(client)
            if client.registered and not self._stopping.is_set():
                out.relay(peers, Message("QUIT", [reason], source=client.prefix))
                commands.announce_offline(out, self.state, client.nick)  # MONITOR
            out.send(client, closing_link(client.host, reason))
            # Close only once the lines above (and any reply before them) have been handed to the socket.
            out.after_delivery.append(lambda: (conn.close(reason), conn.release()))
        log.info("%s disconnected (%s)", client.prefix, reason)

    def pause(self, seconds: float) -> None:
        """Make the calling reader thread wait (a wrong password's delay); a shutdown ends the wait."""
        self._stopping.wait(seconds)

    def disconnect_later(self, client: Client, reason: str) -> None:
        """End ``client``'s connection once its current line is handled (it is the calling reader)."""
        client.conn.request_close(reason)

    # ------------------------------------------------------------ helpers for handlers

    @contextmanager
    def transaction(self) -> Iterator[Outbox]:
        """Hold the state lock while the body runs and fills the outbox, and queue the outbox for the
        sequencer before releasing it: that fixes the order; the sequencer stores, then sends."""
        out = Outbox(self.config.name)
        with self.state.lock:
            yield out
            self.sequencer.submit(out)

    def _deliver_later(self, out: Outbox) -> None:
        """Queue an outbox made outside any command (an attendance report) for the sequencer, in order."""
        with self.state.lock:
            self.sequencer.submit(out)

    def reply(self, client: Client, code: str, *params: str) -> None:
        with self.transaction() as out:
            out.numeric_with(client, code, params)

    def message_tags(self, client_tags: dict[str, str]) -> tuple[dict[str, str], int]:
        """Tags for a new message and its time in milliseconds: server tags first (message-tags asks for
        that), then the client-only (+) tags to relay. Every message gets its own msgid.

        Called with the state lock held, so in the order messages are delivered and stored: a message's
        time is never before the previous one's, even when the wall clock steps back (NTP), so that the
        history's order (time, then id) stays the order everyone received them in. The msgid's number is
        the id the history stores the message under (``make_msgid``)."""
        time_ms = max(int(self._wall_clock() * 1000), self._last_time_ms)
        self._last_time_ms = time_ms
        msgid = make_msgid(self._msgid_prefix, next(self._msgids))
        tags = {"time": format_time(time_ms), "msgid": msgid, **client_tags}
        return tags, time_ms

    def now_ms(self) -> int:
        """The server's clock (injectable, see ``wall_clock``) in milliseconds: raised hands, poll deadlines."""
        return int(self._wall_clock() * 1000)

    @property
    def history_enabled(self) -> bool:
        return self.store is not None

    def capabilities(self) -> tuple[str, ...]:
        if self.history_enabled:
            return tuple(sorted((*commands.CAPABILITIES, commands.CHATHISTORY_CAP, commands.READ_MARKER_CAP,
                                 commands.REDACTION_CAP)))
        return commands.CAPABILITIES

    def _load_channels(self, store: HistoryStore) -> None:
        """Channels with stored settings or messages come back after a restart, empty, as they were."""
        for snapshot in store.load_channels():
            self.state.add_channel(Channel.from_snapshot(snapshot))
        for name in store.channels_with_messages():
            channel = self.state.find_channel(name) or self.state.add_channel(Channel(name=name))
            channel.persistent = True
        now = time.monotonic()
        for channel in self.state.channels.values():
            channel.empty_since = now  # empty until someone joins; forgotten after channel_expiry

    def _make_class_channels(self, store: HistoryStore | None) -> None:
        """``--class '#name'``: each is a class channel (+C) from the start, kept across restarts."""
        made = []
        for name in self.config.class_channels:
            channel = self.state.find_channel(name) or self.state.add_channel(Channel(name=name))
            channel.modes.add("C")
            channel.persistent = True
            made.append(channel.snapshot())
        if store is not None and made:
            store.write([], made)

    def isupport_tokens(self) -> list[str]:
        return [
            f"AWAYLEN={commands.AWAYLEN}",
            f"BOT={commands.BOT_MODE}",
            f"CASEMAPPING={CASEMAPPING}",
            f"CHANLIMIT={CHANNEL_PREFIXES}:{self.config.max_channels_per_user}",
            "CHANMODES=" + ",".join(commands.CHANMODES),
            f"CHANNELLEN={self.config.channel_length}",
            f"CHANTYPES={CHANNEL_PREFIXES}",
            f"KICKLEN={commands.KICKLEN}",
            "EXCEPTS=e",
            "INVEX=I",
            "ELIST=CMNTU",
            "MAXLIST=" + ",".join(f"{letter}:{commands.MAX_BANS}" for letter in commands.CHANMODES[0]),
            f"MAXTARGETS={commands.MAX_TARGETS}",
            f"MODES={commands.MAX_MODES}",
            f"MONITOR={commands.MONITOR_LIMIT}",
            f"NAMELEN={commands.NAMELEN}",
            f"NETWORK={self.config.network}",
            f"NICKLEN={self.config.nick_length}",
            "PREFIX=(" + "".join(MEMBER_PREFIXES) + ")" + "".join(MEMBER_PREFIXES.values()),
            "EXTBAN=$,a",
            "STATUSMSG=" + "".join(MEMBER_PREFIXES.values()),
            f"TARGMAX=PRIVMSG:{commands.MAX_TARGETS},NOTICE:{commands.MAX_TARGETS},TAGMSG:{commands.MAX_TARGETS},"
            f"KICK:{commands.MAX_TARGETS},JOIN:,PART:,NAMES:{commands.MAX_TARGETS},LIST:,WHOIS:1,"
            f"WHOWAS:{commands.MAX_TARGETS}",
            f"TOPICLEN={self.config.topic_length}",
            f"USERLEN={commands.USERLEN}",
            "UTF8ONLY",
            "WHOX",
            *([f"CHATHISTORY={commands.CHATHISTORY_LIMIT}", "MSGREFTYPES=timestamp,msgid"]
              if self.history_enabled else []),
        ]

    def fixed_replies(self, key: str, make: Callable[[], list[tuple[str, ...]]]) -> FixedReplies:
        replies = self._fixed_replies.get(key)
        if replies is None:  # called with the state lock held: no other thread makes it meanwhile
            replies = self._fixed_replies[key] = FixedReplies(self.config.name, make(), self.config.nick_length)
        return replies

    def motd_lines(self) -> list[str]:
        return self.config.motd + ([self.logging_notice()] if self.history_enabled else [])

    def logging_notice(self) -> str:
        """What every user is told about the history: that the chat is logged, and for how long."""
        if self.config.history_days:
            return f"This chat is logged: messages are kept for {self.config.history_days:g} days."
        return "This chat is logged: messages are kept until the teacher deletes them."

    def log_event(self, what: str, client: Client) -> None:
        log.info("%s: %s", client.prefix, what)

    def audit(self, client: Client, action: str, target: str, detail: str = "") -> None:
        """Record an operator's action (the teacher's or a channel operator's): who, what, to whom. The
        log line's time comes from the formatter; ``--audit-log`` keeps these lines in a file as well."""
        role = "oper" if client.is_oper else "chanop"
        audit_log.info("%s %s %s %s%s", role, client.prefix, action, target, f" ({detail})" if detail else "")

    # ------------------------------------------------------------ housekeeping

    def _expire_channels(self, now: float, out: Outbox) -> None:
        """Forget channels that have stayed empty too long (their settings; the history keeps the messages).
        Called by housekeeping within its transaction."""
        for channel in self.state.expired_channels(now, self.config.channel_expiry):
            self.state.drop_channel(channel)
            out.forgotten_channels.append(channel.name)

    def _a_delivery_thread_died(self) -> bool:
        """If the sequencer or the flusher has died (they survive any one batch or connection, so this is a
        bug), nobody would receive anything any more: stop the server cleanly instead of running deaf.
        ``failed`` tells ``chat_server.py`` to exit non-zero, so that whatever restarts it does."""
        dead = [thread.name for thread in (self.sequencer, self.flusher) if not thread.is_alive()]
        if not dead or self._stopping.is_set():
            return False
        log.critical("the %s thread has died: the server stops, since it can no longer deliver", " and ".join(dead))
        self.failed = True
        self.request_stop()
        return True

    def _housekeeping(self) -> None:
        """PING idle clients, drop the silent and the never-registered (one thread for all timeouts).

        PINGs and closes go through the sequencer like every other line, so a closing ERROR comes after
        whatever was queued for that client before it (the close runs once those lines are handed over)."""
        ping = Message("PING", [self.config.name])
        while not self._stopping.wait(self.config.housekeeping_interval):
            if self._a_delivery_thread_died():
                return
            now = time.monotonic()
            with self.transaction() as out:
                for client in self.state.clients:
                    conn = client.conn
                    reason = None
                    if not client.registered:
                        if now - conn.connected_at > self.config.registration_timeout:
                            reason = "Registration timed out"
                    elif conn.ping_sent_at is not None:
                        if now - conn.ping_sent_at > self.config.ping_timeout:
                            reason = f"Ping timeout: {int(now - conn.last_received)} seconds"
                    elif now - conn.last_received > self.config.ping_interval:
                        conn.ping_sent_at = now
                        out.send(client, ping)
                    if reason is not None:
                        out.after_delivery.append(functools.partial(conn.close, reason, True))
                self._expire_channels(now, out)
                commands.close_due_polls(self, out, self.now_ms())
