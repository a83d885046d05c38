"""The session's connection: connecting (TCP or TLS, with an optional certificate pin), the two threads that
read and write the socket, reconnecting, and the pacing of what is sent.

Two threads run here. The receiver thread connects, has the ``LineHandler`` register, reads and frames
lines, parses them with the protocol module and hands each to ``LineHandler.handle`` (``handlers.py``), and
reconnects with backoff (1 s doubling to 30 s, with jitter) when the connection drops. The writer thread is
the only one that writes to the socket: it sends the queued lines in order, paced like irssi's command
queue so that a long paste never trips a server's flood limit. Any thread may queue a line (``send``,
``send_protocol``); ``waits_for_pacing`` alone decides which lines wait for the pacing bucket.

It touches the socket, its own queue, and of the ``ClientState`` only ``registered``, ``refused`` and the
reset at each new connection, which it does under the state's lock together with the switch to the new
socket, so that no thread sees a new connection with the old one's channels. It puts only
``ConnectionState`` events on the queue.
"""
from __future__ import annotations

import queue
import random
import select
import socket
import ssl
import threading
import time
from typing import Protocol

from common.client.events import ConnectionState, Event
from common.client.state import ClientState
from common.protocol import tls
from common.protocol.framing import LineFramer
from common.protocol.message import Message, ProtocolError, parse

# The commands the session sends on its own that go at once; see waits_for_pacing.
SENT_AT_ONCE = frozenset({"PASS", "CAP", "NICK", "USER", "PONG", "PING", "JOIN", "AWAY", "MODE", "CHATHISTORY",
                          "QUIT"})


def waits_for_pacing(message: Message, asked_by_user: bool) -> bool:
    """Whether a line waits for the pacing bucket (``pace_burst`` lines, then ``pace_rate`` a second): the
    one place that decides it. The writer sends every line in the order it was queued; a line that goes
    at once only neither waits for nor spends a token.

    Paced: everything the user asks for through the ``Session`` (``asked_by_user``), whatever its command.
      PRIVMSG, NOTICE (``send_text``), JOIN, PART, NICK, AWAY, CHATHISTORY BEFORE (``request_older``), the
      PING of ``flush``, and what a slash command or ``/quote`` sends (MODE, TOPIC, KICK, WHOIS, …): a
      person, a paste or a script can produce these in bulk, and the bucket keeps them under the server's
      flood limit. ``flush``'s PING is counted like the lines it follows.
    Paced: NOTICE sent by the session itself, a CTCP answer (VERSION, PING, TIME). Anyone can ask for one,
      so a flood of CTCP queries must not make us flood ourselves off the server.
    At once, the lines the session sends on its own (``SENT_AT_ONCE``):
      PASS, CAP LS, NICK, USER at registration; CAP REQ and END while negotiating; NICK with "_" added
        when the nick is taken before registration: the server waits for them before anything else can
        happen, and it gives registration a time limit.
      PONG: a server that gets no answer to its PING drops us.
      PING ``classchat-idle``: the keepalive after ``idle_ping_after`` seconds of silence; its answer
        decides whether the connection is dead, so it must not wait for tokens.
      JOIN of the channels we were in, and AWAY with our away message, right after 001 on a reconnect:
        they restore what the user already had, once per connection, one line per channel.
      MODE <channel> and CHATHISTORY LATEST after our own JOIN: what the session needs to show the channel
        (its modes, its recent messages), one of each per join the server confirmed.
      QUIT from ``Session.quit()``: the session is closing and shuts the socket down right after it.
    A command the session sends on its own that is not in ``SENT_AT_ONCE`` waits, which is the safe side.
    """
    return asked_by_user or message.command not in SENT_AT_ONCE


class ConnectionSettings(Protocol):
    """What the transport reads of a ``SessionConfig``."""

    host: str
    port: int
    tls: bool
    tls_verify: bool
    tls_pin: str | None
    reconnect: bool
    connect_timeout: float
    idle_ping_after: float
    pace_burst: int
    pace_rate: float
    backoff_first: float
    backoff_max: float


class LineHandler(Protocol):
    """What the receiver thread calls: ``register()`` once connected, ``handle()`` for every line read,
    which returns a reason to disconnect (the text of an ERROR) or None."""

    def register(self) -> None: ...

    def handle(self, msg: Message) -> str | None: ...


class Transport:
    """One connection at a time to the configured server, and the threads that run it. ``start()`` starts
    both threads; ``close()`` says goodbye and joins them. ``stopping`` is set once the session ends."""

    def __init__(self, config: ConnectionSettings, state: ClientState, events: "queue.Queue[Event]") -> None:
        self.config = config
        self.events = events
        self.stopping = threading.Event()
        self._state = state
        self._lines: LineHandler | None = None
        self._tls_io = threading.Lock()  # one TLS read or write at a time (see _receive)
        self._quit_requested = False
        self._sock: socket.socket | None = None
        self._generation = 0
        self._outgoing: "queue.Queue[tuple[int, bytes, bool] | None]" = queue.Queue()
        self._receiver = threading.Thread(target=self._run, name="session-receiver", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="session-writer", daemon=True)

    def start(self, lines: LineHandler) -> None:
        self._lines = lines
        self._receiver.start()
        self._writer.start()

    def send(self, message: Message) -> bool:
        """Queue a line the user asked for. Returns False when not connected or the line cannot be sent."""
        return self._enqueue(message, waits_for_pacing(message, asked_by_user=True))

    def send_protocol(self, message: Message) -> bool:
        """Queue a line the session sends on its own (registration, answers, follow-ups, the goodbye)."""
        return self._enqueue(message, waits_for_pacing(message, asked_by_user=False))

    def close(self, goodbye: Message, timeout: float) -> None:
        """Send ``goodbye`` (a QUIT) when registered, stop reconnecting, and wait for both threads to end."""
        self._quit_requested = True
        if self._sock is not None and self._state.registered.is_set():
            self.send_protocol(goodbye)
            self._outgoing.put(None)
            self._writer.join(timeout)
            # The server answers QUIT by closing the connection; give it the chance to read our QUIT first.
            if self._receiver is not threading.current_thread():
                self._receiver.join(timeout)
        self.stopping.set()
        self._outgoing.put(None)
        self._shutdown_socket()
        for thread in (self._receiver, self._writer):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)

    # ------------------------------------------------------------------ sending (the writer thread)

    def _enqueue(self, message: Message, paced: bool) -> bool:
        if self.stopping.is_set() or self._sock is None:
            return False
        try:
            data = message.to_bytes()
        except ValueError:
            return False
        self._outgoing.put((self._generation, data, paced))
        return True

    def _write_loop(self) -> None:
        tokens = float(self.config.pace_burst)
        refilled = time.monotonic()
        while True:
            item = self._outgoing.get()
            if item is None:
                if self.stopping.is_set() or self._quit_requested:
                    return
                continue
            generation, data, paced = item
            if generation != self._generation:
                continue  # queued for a connection that is gone
            if paced and self.config.pace_rate > 0:
                now = time.monotonic()
                tokens = min(float(self.config.pace_burst), tokens + (now - refilled) * self.config.pace_rate)
                refilled = now
                if tokens < 1:
                    if self.stopping.wait((1 - tokens) / self.config.pace_rate):
                        return
                    tokens, refilled = 1.0, time.monotonic()
                tokens -= 1
            sock = self._sock
            if sock is None:
                continue
            try:
                with self._tls_io:
                    sock.sendall(data)
            except OSError:
                continue  # the receiver notices the broken connection and reconnects

    # ------------------------------------------------------------------ the receiver thread

    def _emit(self, event: Event) -> None:
        self.events.put(event)

    def _run(self) -> None:
        delay = self.config.backoff_first
        ever_registered = False
        while not self.stopping.is_set():
            self._emit(ConnectionState("connecting", f"{self.config.host}:{self.config.port}"))
            try:
                self._connect()
            except (OSError, ssl.SSLError) as error:
                detail = getattr(error, "strerror", None) or str(error)
                if not ever_registered or not self.config.reconnect:
                    self._emit(ConnectionState("failed", detail))
                    break
            else:
                self._lines.register()
                detail = self._read_until_closed()
                if self._state.registered.is_set():
                    ever_registered = True
                    delay = self.config.backoff_first
                self._state.registered.clear()
            if self.stopping.is_set() or self._quit_requested:
                break
            if self._state.refused:
                self._emit(ConnectionState("refused", detail))
                break
            if not self.config.reconnect or not ever_registered:
                self._emit(ConnectionState("disconnected", detail))
                break
            wait = delay * random.uniform(0.8, 1.2)
            self._emit(ConnectionState("reconnecting", detail, retry_in=wait))
            if self.stopping.wait(wait):
                break
            delay = min(delay * 2, self.config.backoff_max)
        self.stopping.set()
        self._outgoing.put(None)
        self._emit(ConnectionState("closed"))

    def _connect(self) -> None:
        sock = socket.create_connection((self.config.host, self.config.port), timeout=self.config.connect_timeout)
        if self.config.tls or self.config.tls_pin:
            sock = self._start_tls(sock)
        sock.settimeout(self.config.idle_ping_after)
        with self._state.lock:
            self._generation += 1
            self._sock = sock
            self._state.start_connection()

    def _start_tls(self, sock: socket.socket) -> socket.socket:
        """Wrap the socket in TLS: the certificate is verified as usual, or, with a pin, must be exactly
        the pinned one (a classroom server's self-signed certificate)."""
        pin = self.config.tls_pin
        context = ssl.create_default_context()
        if pin or not self.config.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            wrapped = context.wrap_socket(sock, server_hostname=self.config.host)
        except (OSError, ssl.SSLError):
            sock.close()
            raise
        if pin and not tls.matches_pin(wrapped.getpeercert(binary_form=True), pin):
            presented = tls.fingerprint(wrapped.getpeercert(binary_form=True) or b"")
            wrapped.close()
            raise ssl.SSLCertVerificationError(
                ssl.SSL_ERROR_SSL, f"the server's certificate (SHA-256 {presented}) is not the pinned one")
        return wrapped

    def _read_until_closed(self) -> str:
        """Read and handle lines until the connection ends; returns why it ended."""
        sock = self._sock
        framer = LineFramer.for_client()
        awaiting_pong = False
        reason = "Connection closed"
        try:
            while not self.stopping.is_set():
                try:
                    data = self._receive(sock)
                except socket.timeout:
                    if awaiting_pong:
                        return "Connection timed out"
                    awaiting_pong = True
                    self.send_protocol(Message("PING", ["classchat-idle"]))
                    continue
                if not data:
                    return reason
                awaiting_pong = False
                for raw in framer.feed(data):
                    try:
                        message = parse(raw.decode(errors="replace"))
                    except ProtocolError:
                        continue  # not an IRC line: nothing a user could act on
                    handled = self._lines.handle(message)
                    if handled:
                        reason = handled
        except (OSError, ssl.SSLError) as error:
            return getattr(error, "strerror", None) or str(error)
        finally:
            with self._state.lock:
                self._sock = None
                self._generation += 1
            try:
                sock.close()
            except OSError:
                pass  # already closed
        return reason

    def _receive(self, sock: socket.socket) -> bytes:
        """One read; ``socket.timeout`` after ``idle_ping_after`` seconds without data.

        A TLS connection must not be read and written at once (OpenSSL's rule for one connection: a
        session ticket read while a line is written can corrupt a record). So for TLS the reader waits
        for data without the lock, then reads without blocking while holding it; the writer sends with
        it. A read that finds only part of a record, or a TLS message with no text, goes back to waiting.
        """
        if not isinstance(sock, ssl.SSLSocket):
            return sock.recv(65536)
        deadline = time.monotonic() + self.config.idle_ping_after
        while True:
            if not sock.pending():
                remaining = deadline - time.monotonic()
                try:
                    readable, _, _ = select.select([sock], [], [], max(0.0, remaining))
                except (ValueError, OSError):
                    return b""  # closed by quit() meanwhile
                if not readable:
                    raise socket.timeout
            with self._tls_io:
                sock.setblocking(False)
                try:
                    return sock.recv(65536)
                except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                    continue
                finally:
                    sock.settimeout(self.config.idle_ping_after)

    def _shutdown_socket(self) -> None:
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already disconnected
