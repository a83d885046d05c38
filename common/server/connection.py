"""Server-side connection I/O: a socket, its bounded outbound buffer, and the one shared flusher.

Writes never block the thread that relays: the sequencer (one thread, so every client receives lines in
the order the server decided them) gives each connection its lines once per batch (``deliver_each()``;
``deliver_to_each()`` for one line to many), sending what the kernel takes at once with ``MSG_DONTWAIT``.
What the kernel refuses stays in the connection's buffer, and the single ``Flusher`` thread sends it when
the socket becomes writable. A buffer past its limit belongs to a client that stopped reading: the
connection is closed with ``ERROR :SendQ exceeded``, as ergo and the classic ircds do, and nobody else
waits for it.

Closing keeps the order of what was sent: ``close()`` queues the closing ERROR after everything already
buffered, accepts nothing more, and shuts the socket down only once the buffer is sent, or after
``CLOSE_FLUSH_SECONDS``, or at once when the buffer is hopeless (SendQ exceeded, the peer gone). Until
then the flusher finishes the writes; the receiving side is shut at once, so the reader thread ends and
the others see the QUIT without waiting. The file descriptor is closed by whichever comes last:
``release()`` or the flusher once the final lines are out.

The common case takes no lock: while nothing is buffered (``_direct``), ``deliver_each()`` hands the
bytes straight to the kernel. That is safe because of who does what. Only the sequencer delivers,
and only it adds to the buffer, so while ``_direct`` holds nobody else is sending lines: the flusher
has nothing to send, and a ``close()`` from another thread (a ping timeout) only puts its ERROR after or
before ours and shuts the socket down, which makes our ``send()`` fail harmlessly. And the descriptor,
the one thing that must not change under a ``send()``, is closed only after ``release()``, which is
called by the sequencer itself (an action after delivery, once nothing later can be bound for this
connection) or for a connection the sequencer never saw: so a line can never reach a new connection
that was given the same descriptor number. Everything else happens under ``_lock``.
"""
from __future__ import annotations

import logging
import select
import socket
import threading
import time
from contextlib import suppress
from itertools import repeat
from typing import Callable, Iterable

from common.protocol.message import Message
from common.protocol.tls import TLSChannel
from common.server.logs import run_reporting_end

log = logging.getLogger("classchat.server")
# How long a closing connection's last lines (its ERROR) may take to reach a client that reads slowly.
CLOSE_FLUSH_SECONDS = 5.0
UNREAD_DRAIN_LIMIT = 16  # reads of at most 64 KiB each, to drain what a closing client still sent
# Python's small-object allocator serves requests of up to 512 bytes, and a bytes object of n bytes asks
# for n + 33. A reader thread whose objects all fit never calls the C library's malloc(), so it never
# gets a malloc cache of its own nor leaves freed blocks in a malloc arena: about 2 KiB less per idle
# connection in bench/idle_scale.py. So a reader's first recv() asks for no more than this, and the
# replies it puts together (``FixedReplies``) come in pieces of at most this size.
SMALL_BYTES = 512 - 33
MORE_READ_BYTES = 16384  # a busy client's rest, read at once when the first recv() came back full


def recv_waiting(sock: socket.socket) -> bytes:
    """What ``sock`` has to read once poll() said it has something: ``SMALL_BYTES`` first (a typed line
    fits), and when that came back full, at once what else is waiting; ``b""`` when the peer closed.

    Then the kernel is asked to acknowledge the client's next bytes at once (TCP_QUICKACK, which it
    forgets after a while, hence every read). A client keeps its second line while the first is not yet
    acknowledged (Nagle's algorithm, on in most clients), and after a line that gets no answer (a message
    to a channel) Linux waits for a reply to carry the acknowledgement, 40 ms or more: a teacher's second
    message in quick succession reached the class 25 ms late (bench/chat_bench.py --scenario paced: its
    second message, in every run)."""
    received = sock.recv(SMALL_BYTES)
    with suppress(OSError):  # what was read counts even then: a late acknowledgement costs only time
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    if len(received) < SMALL_BYTES:
        return received
    try:
        return received + sock.recv(MORE_READ_BYTES, socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return received


def closing_link(host: str, reason: str) -> Message:
    """The ERROR a server sends before it closes a connection (RFC 2812 §3.7.4)."""
    return Message("ERROR", [f"Closing Link: {host} ({reason})"])


class Connection:
    """One client socket. The reader thread owns receiving; the sequencer delivers, the flusher finishes.

    With ``tls``, ``_pending`` holds plaintext and ``_wire`` the encrypted bytes not yet sent: plaintext is
    encrypted at send time, under the same lock, so records leave in the order their lines were queued.
    Slots, not a ``__dict__``: a server holds thousands of these, most of them idle.
    """

    __slots__ = ("sock", "address", "host", "sendq_limit", "tls", "_flusher", "_lock", "_pending", "_wire",
                 "_watched", "_overflowed", "_closing", "_shut", "_released", "_closed", "_direct",
                 "close_deadline", "close_reason", "connected_at", "last_received", "ping_sent_at")

    def __init__(self, sock: socket.socket, address: tuple, sendq_limit: int, flusher: "Flusher",
                 tls: TLSChannel | None = None) -> None:
        self.sock = sock
        self.address = address
        # The peer's address as an IRC host: "::1" cannot start a word of an IRC line, "0::1" can.
        self.host = "0" + address[0] if address[0].startswith(":") else address[0]
        self.sendq_limit = sendq_limit
        self.tls = tls
        self._flusher = flusher
        self._lock = threading.Lock()
        self._pending = bytearray()
        self._wire = bytearray()
        self._watched = False
        self._overflowed = False
        self._closing = False  # close() was called: nothing more is queued, the socket is shut once flushed
        self._shut = False  # the socket is shut down (both ways)
        self._released = False  # the reader thread is done with it: the descriptor closes once shut
        self._closed = False  # the descriptor is closed
        # Nothing buffered, no TLS, still open: the sequencer's lines go straight to the kernel. One flag,
        # kept by ``_refresh_direct_locked()``, so that the common case costs one test per delivery.
        self._direct = tls is None
        self.close_deadline: float | None = None  # when the flusher gives up sending the last lines
        self.close_reason: str | None = None
        self.connected_at = time.monotonic()
        self.last_received = self.connected_at
        self.ping_sent_at: float | None = None

    @property
    def pending_bytes(self) -> int:
        return len(self._pending) + len(self._wire)

    def receive(self, data: bytes) -> bytes:
        """The plaintext in bytes just received (the reader thread's only call for TLS). Raises
        ``TLSClosed`` when the peer ends the TLS session or breaks it."""
        if self.tls is None:
            return data
        with self._lock:
            plaintext = self.tls.decrypt(data)
            answer_needed = self.tls.has_output
        if answer_needed:
            self.flush()
        return plaintext

    def _enqueue_locked(self, data: bytes | memoryview) -> None:
        if self._closing or self._closed or self._overflowed:
            return
        if self.pending_bytes + len(data) > self.sendq_limit:
            self._overflowed = True
            self._pending.clear()
        else:
            self._pending += data
        self._refresh_direct_locked()

    def _refresh_direct_locked(self) -> None:
        """``_direct`` is this, kept as a flag so that ``deliver()`` tests one attribute."""
        self._direct = not (self._pending or self.tls is not None or self._closing or self._closed
                            or self._overflowed)

    def flush(self) -> None:
        """Send what the kernel takes now and hand the rest to the flusher. Never call under the state lock."""
        with self._lock:
            start_watching = self._flush_locked()
        if start_watching:
            self._flusher.watch(self)

    def deliver(self, data: bytes) -> None:
        """Send ``data`` after what is buffered: the sequencer's call, once per connection and batch."""
        deliver_each(((self, data),))

    def _buffer(self, data: bytes | memoryview, kernel_full: bool) -> None:
        """Queue what could not go straight to the kernel. ``kernel_full``: the kernel just took only part
        of it, so another send now would only fail: the flusher sends when the socket is writable."""
        with self._lock:
            self._enqueue_locked(data)
            start_watching = self._watch_locked() if kernel_full and not self._overflowed else self._flush_locked()
        if start_watching:
            self._flusher.watch(self)

    def _flush_locked(self) -> bool:
        """Send what the kernel takes; True when the flusher must start watching for the rest."""
        if self._overflowed and not self._closing:
            # The buffer may end inside a line: CRLF first, so the ERROR stands on a line of its own.
            self._close_locked("SendQ exceeded", b"\r\n" + closing_link(self.host, "SendQ exceeded").to_bytes())
            return False
        self._send_locked()
        if self._closing and not self.pending_bytes:
            self._shut_down_locked()
        return self._watch_locked()

    def request_close(self, reason: str) -> None:
        """Ask the reader thread to end this connection after the line it is handling (QUIT, bad PASS)."""
        with self._lock:
            if self.close_reason is None:
                self.close_reason = reason

    def close(self, reason: str, tell_client: bool = False) -> None:
        """Stop this connection: queue the closing ERROR after what is buffered if ``tell_client``, accept
        nothing more, and shut the socket down once the buffer is sent (see the module docstring).

        The receiving side is shut at once: the reader thread wakes from ``recv()`` and does the cleanup;
        ``reason`` (the first one given) becomes the QUIT reason that others see.
        """
        with self._lock:
            self._close_locked(reason, closing_link(self.host, reason).to_bytes() if tell_client else b"")
            flushing = not self._shut and self.pending_bytes > 0
            if flushing:
                self._watched = True
        if flushing:
            self._flusher.watch(self)  # also when watched already: it wakes to heed the close deadline

    def release(self) -> None:
        """Called once the connection is done with, by the sequencer after its last lines (or, for a
        connection the sequencer never saw, by the thread that refused it): close the file descriptor
        now, or, while the last lines are still being sent, let the flusher close it when they are out."""
        with self._lock:
            self._released = True
            if self._closing and not self._shut:
                return
            self._close_descriptor_locked()
        self._flusher.forget(self)

    def _close_locked(self, reason: str, final_line: bytes) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        if self._shut:
            return
        if final_line and not self._closing:
            # After an overflow the buffer was dropped, maybe inside a line: the ERROR goes on a line of its own.
            self._pending += b"\r\n" + final_line if self._overflowed and not final_line.startswith(b"\r\n") \
                else final_line
        self._closing = True
        self._refresh_direct_locked()
        if self.tls is not None:
            self._encrypt_pending_locked()
            self._wire += self.tls.close_notify()
        self._send_locked()
        if not self.pending_bytes or self._overflowed:  # all sent, or hopeless
            self._shut_down_locked()
            return
        if self.close_deadline is None:
            self.close_deadline = time.monotonic() + CLOSE_FLUSH_SECONDS
        try:
            self.sock.shutdown(socket.SHUT_RD)  # wakes the reader thread; the writes go on
        except OSError:
            pass  # reset by the peer: the next send fails and ends it

    def _shut_down_locked(self) -> None:
        """Shut the socket down both ways (what is still buffered here is dropped); close the descriptor
        too if the reader thread has released it."""
        self._pending.clear()
        self._wire.clear()
        if not self._shut:
            self._shut = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already shut down or reset by the peer: nothing left to stop
        if self._released:
            self._close_descriptor_locked()

    def _close_descriptor_locked(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._shut = True
        self._refresh_direct_locked()
        self._pending.clear()
        self._wire.clear()
        # Unread input makes close() send a reset, which can destroy the last lines still on their way:
        # read what the client sent meanwhile (bounded) and drop it.
        try:
            for _ in range(UNREAD_DRAIN_LIMIT):
                if not self.sock.recv(65536, socket.MSG_DONTWAIT):
                    break
        except OSError:
            pass  # nothing more to read (or the peer is gone)
        self.sock.close()

    def _watch_locked(self) -> bool:
        """Whether the flusher should start watching: bytes are left and it does not watch yet."""
        if self.pending_bytes > 0 and not self._watched and not self._closed:
            self._watched = True
            return True
        return False

    def give_up_closing(self) -> None:
        """The flusher's call when ``close_deadline`` has passed (or it stops): drop what is left, shut down."""
        with self._lock:
            self._shut_down_locked()
            self._watched = False
        self._flusher.forget(self)

    def _encrypt_pending_locked(self) -> None:
        """Move the plaintext into TLS records (with anything the TLS layer itself has to send)."""
        if self._pending or self.tls.has_output:
            self._wire += self.tls.encrypt(self._pending)
            self._pending.clear()

    def _send_locked(self) -> None:
        if self._closed:
            return
        outgoing = self._pending
        try:
            if self.tls is not None:
                self._encrypt_pending_locked()
                outgoing = self._wire
            if not outgoing:
                return
            sent = self.sock.send(outgoing, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # ssl.SSLError included
            # The peer is gone (or the TLS session is over); the reader thread sees it too and cleans up.
            self._pending.clear()
            self._wire.clear()
            return
        del outgoing[:sent]
        if not outgoing:
            self._refresh_direct_locked()

    def _flush_when_writable(self) -> None:
        """Called by the flusher when the socket is writable; stops the watch once nothing is left, and
        shuts a closing connection down once its last lines are out."""
        with self._lock:
            self._send_locked()
            if not self.pending_bytes or self._closed:
                if self._closing:
                    self._shut_down_locked()
                self._watched = False
                self._flusher.forget(self)

    def fileno(self) -> int:
        return self.sock.fileno()


def deliver_to_each(conns: Iterable[Connection], data: bytes, skip: Connection | None = None,
                    failed: Callable[[Connection], None] | None = None) -> None:
    """``deliver(data)`` to each of ``conns`` but ``skip``: ``deliver_each()`` with the same bytes for all."""
    deliver_each(zip(conns, repeat(data)), skip, failed)


def deliver_each(pieces: Iterable[tuple[Connection, bytes]], skip: Connection | None = None,
                 failed: Callable[[Connection], None] | None = None) -> None:
    """For each ``(conn, data)`` but ``skip``'s, ``data`` to ``conn`` after what is buffered; ``failed(conn)``
    is called in the ``except`` block of anything unexpected, and the loop goes on with the next connection.

    While nothing is buffered for a connection (nearly always) the bytes go straight to the kernel, with
    no copy into the buffer and without the lock (why that is safe: the module docstring). A teacher's
    message to 500 students is this loop running 500 times, and a batch of a busy channel's messages
    once per member, so it does nothing else per connection: no method call, unless something is
    buffered or the kernel took only part."""
    flags = socket.MSG_DONTWAIT
    for conn, data in pieces:
        if conn is skip:
            continue
        try:
            if not conn._direct:
                conn._buffer(data, kernel_full=False)
                continue
            try:
                sent = conn.sock.send(data, flags)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                continue  # the peer is gone: the reader thread sees it too and cleans up
            if sent != len(data):
                conn._buffer(memoryview(data)[sent:], kernel_full=True)
        except Exception:
            if failed is None:
                raise
            failed(conn)


class Flusher(threading.Thread):
    """The one thread that finishes writes the kernel refused: it polls the sockets with pending bytes,
    and gives up on a closing connection's last lines at its ``close_deadline``.

    One connection that fails is logged and dropped from the watch; the loop goes on for the others."""

    def __init__(self) -> None:
        super().__init__(name="flusher")
        self._lock = threading.Lock()
        self._watched: set[Connection] = set()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._stopping = False

    def watch(self, conn: Connection) -> None:
        with self._lock:
            self._watched.add(conn)
        self._wake()

    def forget(self, conn: Connection) -> None:
        with self._lock:
            present = conn in self._watched
            self._watched.discard(conn)
        if present:
            self._wake()

    def stop(self) -> None:
        self._stopping = True
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_writer.send(b"x")
        except (BlockingIOError, OSError):
            pass  # a wake-up is already pending, or we are shutting down

    def run(self) -> None:
        try:
            run_reporting_end(log, "flusher", self._serve, lambda: self._stopping)
        finally:
            with self._lock:
                left = list(self._watched)
            for conn in left:  # stopping: what has not left by now will not
                self._guarded(conn.give_up_closing, conn)
            self._wake_reader.close()
            self._wake_writer.close()

    def _serve(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                self._poll_once()
                failures = 0
            except Exception:
                failures += 1
                if failures == 1:
                    log.exception("the flusher failed; it goes on")
                # A failure that repeats must not spin: wait a little (a stop or a new watch wakes us).
                select.select([self._wake_reader], [], [], min(0.01 * failures, 1.0))

    def _poll_once(self) -> None:
        with self._lock:
            conns = list(self._watched)
        poller = select.poll()
        poller.register(self._wake_reader, select.POLLIN)
        by_fd: dict[int, Connection] = {}
        deadline: float | None = None
        for conn in conns:
            fd = conn.fileno()
            if fd >= 0:
                by_fd[fd] = conn
                poller.register(fd, select.POLLOUT)
            if conn.close_deadline is not None:
                deadline = conn.close_deadline if deadline is None else min(deadline, conn.close_deadline)
        timeout = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000) + 1)
        for fd, _events in poller.poll(timeout):
            if fd == self._wake_reader.fileno():
                try:
                    while self._wake_reader.recv(4096):
                        pass
                except BlockingIOError:
                    pass
            elif fd in by_fd:
                self._guarded(by_fd[fd]._flush_when_writable, by_fd[fd])
        if deadline is not None:
            now = time.monotonic()
            for conn in conns:
                if conn.close_deadline is not None and conn.close_deadline <= now:
                    self._guarded(conn.give_up_closing, conn)

    def _guarded(self, action, conn: Connection) -> None:
        """One connection's failure is logged and ends its watch, nobody else's."""
        try:
            action()
        except Exception:
            log.exception("could not finish sending to %s", conn.host)
            self.forget(conn)
