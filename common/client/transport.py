"""The session's connection: connecting (TCP or TLS, with an optional certificate pin), the two threads that
read and write the socket, reconnecting, and the pacing of what is sent.

Two threads run here. The receiver thread connects, has the ``LineHandler`` register, reads and frames
lines, parses them with the protocol module and hands each to ``LineHandler.handle`` (``handlers.py``), and
reconnects with backoff (1 s doubling to 30 s, with jitter) when the connection drops. The writer thread is
the only one that writes to the socket: it sends what ``OutgoingLines`` (``outgoing.py``) hands it, whose
lanes and pacing bucket decide the order and the pace, so that a long paste never trips a server's flood
limit and a PONG never waits behind one. Any thread may queue a line (``send``, ``send_protocol``,
``send_behind``); ``outgoing.lane_for`` alone decides how each goes.

Both threads also record every line in the session's ``RawLineLog`` (``raw_lines.py``) when it has one:
the writer each line just before it goes, the receiver each line it frames, with a note when a connection
starts or ends; the protocol pane and the CLI's ``--raw`` show them.

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
from common.client.outgoing import Lane, OutgoingLine, OutgoingLines, lane_for
from common.client.raw_lines import RECEIVED, SENT, RawLineLog
from common.client.state import ClientState
from common.protocol import tls
from common.protocol.framing import LineFramer
from common.protocol.message import Message, ProtocolError, parse

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

    def __init__(self, config: ConnectionSettings, state: ClientState, events: "queue.Queue[Event]",
                 raw_lines: RawLineLog | None = None) -> None:
        self.config = config
        self.events = events
        self.raw_lines = raw_lines
        self.stopping = threading.Event()
        self._state = state
        self._lines: LineHandler | None = None
        self._tls_io = threading.Lock()  # one TLS read or write at a time (see _receive)
        self._quit_requested = False
        self._sock: socket.socket | None = None
        self._generation = 0
        self._closing = False
        self._outgoing = OutgoingLines(config.pace_burst, config.pace_rate)
        self._receiver = threading.Thread(target=self._run, name="session-receiver", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="session-writer", daemon=True)

    def start(self, lines: LineHandler) -> None:
        self._lines = lines
        self._receiver.start()
        self._writer.start()

    def send(self, message: Message) -> bool:
        """Queue a line the user asked for (paced). Returns False when not connected or the line cannot be
        sent."""
        return self._enqueue(message, Lane.TYPED)

    def send_unit(self, messages: list[Message], cost: int) -> bool:
        """Queue lines the user asked for that go together, nothing between them (a multiline batch), paced
        as one line and ``cost`` more."""
        if self.stopping.is_set() or self._sock is None:
            return False
        try:
            data = b"".join(message.to_bytes() for message in messages)
        except ValueError:
            return False
        return self._outgoing.put(Lane.TYPED, OutgoingLine(self._generation, data, cost=cost))

    def send_protocol(self, message: Message) -> bool:
        """Queue a line the session sends on its own (registration, answers, follow-ups); ``lane_for``
        decides how it goes."""
        return self._enqueue(message, lane_for(message, asked_by_user=False))

    def send_behind(self, message: Message) -> bool:
        """Queue a line behind everything queued so far but CTCP answers (the PING of ``Session.flush``)."""
        return self._enqueue(message, Lane.FOLLOW_UP)

    def close(self, goodbye: Message, timeout: float) -> None:
        """End the session: when registered, send what the user typed (within ``timeout``), then
        ``goodbye`` (a QUIT), and give the server ``timeout`` more to close the connection; then stop
        reconnecting, shut the socket down and wait for both threads to end."""
        if self._closing:
            self._join_threads(timeout)
            return
        self._closing = True
        self._quit_requested = True
        if self._sock is not None and self._state.registered.is_set() and self._writer.is_alive():
            try:
                data = goodbye.to_bytes()
            except ValueError:
                data = Message("QUIT").to_bytes()
            self._outgoing.finish(OutgoingLine(self._generation, data, last=True))
            self._writer.join(timeout)
            if self._writer.is_alive():
                self._outgoing.abandon()  # time is up: the goodbye goes now, what is left of the paste does not
                self._writer.join(min(timeout, 1.0))
            # The server answers QUIT by closing the connection; give it the chance to read our QUIT first.
            if self._receiver.is_alive() and self._receiver is not threading.current_thread():
                self._receiver.join(timeout)
        self.stopping.set()
        self._outgoing.close()
        self._shutdown_socket()
        self._join_threads(timeout)

    def _join_threads(self, timeout: float) -> None:
        for thread in (self._receiver, self._writer):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout)

    # ------------------------------------------------------------------ sending (the writer thread)

    def _enqueue(self, message: Message, lane: Lane) -> bool:
        if self.stopping.is_set() or self._sock is None:
            return False
        try:
            data = message.to_bytes()
        except ValueError:
            return False
        return self._outgoing.put(lane, OutgoingLine(self._generation, data))

    def _write_loop(self) -> None:
        """The writer thread: send each line when ``OutgoingLines`` lets it go, until closed or the goodbye."""
        while (line := self._outgoing.take()) is not None:
            sock = self._sock
            if line.generation == self._generation and sock is not None:
                if self.raw_lines is not None:
                    self.raw_lines.record(SENT, line.data)  # before it goes: its answer is recorded after it
                try:
                    with self._tls_io:
                        sock.sendall(line.data)
                except OSError:
                    pass  # the receiver notices the broken connection and reconnects
            if line.last:
                return

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
                self._note("raw_failed", where=self._where(), detail=detail)
                if not ever_registered or not self.config.reconnect:
                    self._emit(ConnectionState("failed", detail))
                    break
            else:
                self._note("raw_connected_tls" if self._sock_is_tls() else "raw_connected", where=self._where())
                self._lines.register()
                detail = self._read_until_closed()
                self._note("raw_disconnected", detail=detail)
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
        self._outgoing.close()
        if self.raw_lines is not None:
            self.raw_lines.close()
        self._emit(ConnectionState("closed"))

    def _note(self, key: str, **values: str) -> None:
        if self.raw_lines is not None:
            self.raw_lines.note(key, **values)

    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _sock_is_tls(self) -> bool:
        return isinstance(self._sock, ssl.SSLSocket)

    def _connect(self) -> None:
        sock = socket.create_connection((self.config.host, self.config.port), timeout=self.config.connect_timeout)
        if self.config.tls or self.config.tls_pin:
            sock = self._start_tls(sock)
        sock.settimeout(self.config.idle_ping_after)
        with self._state.lock:
            self._outgoing.clear()  # lines queued for the last connection are not for this one
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
                    if self.raw_lines is not None:
                        self.raw_lines.record(RECEIVED, raw.data)
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
