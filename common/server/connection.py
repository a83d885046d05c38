"""Server-side connection I/O: a socket, its bounded outbound buffer, and the one shared flusher.

Writes never block the thread that relays: ``enqueue()`` appends bytes to the connection's buffer (it is
called under the server state lock, so every client receives lines in the order the server relayed them),
and ``flush()``, called once that lock is released, sends what the kernel takes at once with
``MSG_DONTWAIT``. What the kernel refuses stays buffered, and the single ``Flusher`` thread sends it when
the socket becomes writable. A buffer past its limit belongs to a client that stopped reading: the
connection is closed with ``ERROR :SendQ exceeded``, as ergo and the classic ircds do, and nobody else
waits for it.
"""
from __future__ import annotations

import select
import socket
import threading
import time

from common.protocol.message import Message
from common.protocol.tls import TLSChannel


def closing_link(host: str, reason: str) -> Message:
    """The ERROR a server sends before it closes a connection (RFC 2812 §3.7.4)."""
    return Message("ERROR", [f"Closing Link: {host} ({reason})"])


class Connection:
    """One client socket. The reader thread owns receiving; any thread may enqueue and flush.

    With ``tls``, ``_pending`` holds plaintext and ``_wire`` the encrypted bytes not yet sent: plaintext is
    encrypted at send time, under the same lock, so records leave in the order their lines were queued.
    """

    def __init__(self, sock: socket.socket, address: tuple, sendq_limit: int, flusher: "Flusher",
                 tls: TLSChannel | None = None) -> None:
        self.sock = sock
        self.address = address
        self.sendq_limit = sendq_limit
        self.tls = tls
        self._flusher = flusher
        self._lock = threading.Lock()
        self._pending = bytearray()
        self._wire = bytearray()
        self._watched = False
        self._overflowed = False
        self._closed = False
        self.close_reason: str | None = None
        self.connected_at = time.monotonic()
        self.last_received = self.connected_at
        self.ping_sent_at: float | None = None

    @property
    def host(self) -> str:
        """The peer's address as an IRC host: "::1" cannot start a word of an IRC line, "0::1" can."""
        address = self.address[0]
        return "0" + address if address.startswith(":") else address

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

    def enqueue(self, data: bytes) -> None:
        """Append bytes to send. Only memory work: safe under the state lock."""
        with self._lock:
            if self._closed or self._overflowed:
                return
            if self.pending_bytes + len(data) > self.sendq_limit:
                self._overflowed = True
                self._pending.clear()
                return
            self._pending += data

    def flush(self) -> None:
        """Send what the kernel takes now and hand the rest to the flusher. Never call under the state lock."""
        with self._lock:
            if self._overflowed and self.close_reason is None:
                # The buffer may end inside a line: CRLF first, so the ERROR stands on a line of its own.
                self._close_locked("SendQ exceeded", b"\r\n" + closing_link(self.host, "SendQ exceeded").to_bytes())
                return
            self._send_locked()
            start_watching = self.pending_bytes > 0 and not self._watched
            if start_watching:
                self._watched = True
        if start_watching:
            self._flusher.watch(self)

    def send_now(self, data: bytes) -> None:
        """Enqueue and flush: for lines that go to this one client only, outside any relay."""
        self.enqueue(data)
        self.flush()

    def request_close(self, reason: str) -> None:
        """Ask the reader thread to end this connection after the line it is handling (QUIT, bad PASS)."""
        with self._lock:
            if self.close_reason is None:
                self.close_reason = reason

    def close(self, reason: str, tell_client: bool = False) -> None:
        """Stop this connection, first sending the closing ERROR if ``tell_client`` and the kernel takes it;
        then shut the socket down.

        The reader thread wakes from ``recv()`` and does the cleanup; ``reason`` (the first one given)
        becomes the QUIT reason that others see.
        """
        with self._lock:
            self._close_locked(reason, closing_link(self.host, reason).to_bytes() if tell_client else b"")

    def release(self) -> None:
        """Close the file descriptor; called once, by the reader thread, after its cleanup."""
        with self._lock:
            self._closed = True
            self._pending.clear()
            self._wire.clear()
        self._flusher.forget(self)
        self.sock.close()

    def _close_locked(self, reason: str, final_line: bytes) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        if final_line and not self._closed:
            self._pending += final_line
            if self.tls is not None:
                self._encrypt_pending_locked()
                self._wire += self.tls.close_notify()
            self._send_locked()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already shut down or reset by the peer: nothing left to stop

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

    def _flush_when_writable(self) -> None:
        """Called by the flusher when the socket is writable; stops the watch once nothing is left."""
        with self._lock:
            self._send_locked()
            if not self.pending_bytes or self._closed:
                self._watched = False
                self._flusher.forget(self)

    def fileno(self) -> int:
        return self.sock.fileno()


class Flusher(threading.Thread):
    """The one thread that finishes writes the kernel refused: it polls the sockets with pending bytes."""

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
            while not self._stopping:
                self._poll_once()
        finally:
            self._wake_reader.close()
            self._wake_writer.close()

    def _poll_once(self) -> None:
        with self._lock:
            conns = list(self._watched)
        poller = select.poll()
        poller.register(self._wake_reader, select.POLLIN)
        by_fd: dict[int, Connection] = {}
        for conn in conns:
            fd = conn.fileno()
            if fd >= 0:
                by_fd[fd] = conn
                poller.register(fd, select.POLLOUT)
        for fd, _events in poller.poll():
            if fd == self._wake_reader.fileno():
                try:
                    while self._wake_reader.recv(4096):
                        pass
                except BlockingIOError:
                    pass
            elif fd in by_fd:
                by_fd[fd]._flush_when_writable()
