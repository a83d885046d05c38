"""TLS for both ends: the server's per-connection encryption, and certificate fingerprints for pinning.

The server keeps its one design for writes (a non-blocking send from the relaying thread, the rest left to
the shared flusher, see ``connection.py``), so it cannot hand its sockets to ``ssl.SSLSocket``, whose
``send()`` takes no flags and which must not be read and written from two threads at once. Instead each
TLS connection has an ``ssl.SSLObject`` over two memory BIOs (``TLSChannel``): the reader thread feeds it
the bytes it received and gets plaintext back; the sending side turns plaintext into bytes for the socket.
Both run under the connection's own lock and do no I/O, so the socket is still used as before.

Clients verify certificates as usual; a classroom server with a self-signed certificate is trusted by
pinning its SHA-256 fingerprint, which the server prints when it starts.
"""
from __future__ import annotations

import hashlib
import hmac
import socket
import ssl


class TLSClosed(Exception):
    """The peer ended the TLS session (close_notify) or sent something that is not TLS."""


def server_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """A server context with the certificate loaded; raises ``OSError``/``ssl.SSLError`` with the cause."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    return context


def fingerprint(der_certificate: bytes) -> str:
    """SHA-256 of a DER certificate as colon-separated hex pairs (what ``openssl x509 -fingerprint`` shows)."""
    return _colon_pairs(hashlib.sha256(der_certificate).hexdigest())


def certificate_fingerprint(cert_file: str) -> str:
    """The fingerprint of the first certificate in a PEM file."""
    with open(cert_file, encoding="ascii") as pem:
        return fingerprint(ssl.PEM_cert_to_DER_cert(pem.read()))


def normalize_fingerprint(text: str) -> str:
    """Accept a pin as typed: with or without colons, any case, an optional "sha256:" in front."""
    text = text.strip().lower().removeprefix("sha256:").replace(":", "").replace(" ", "")
    if len(text) != 64 or any(char not in "0123456789abcdef" for char in text):
        raise ValueError("a SHA-256 fingerprint has 64 hex digits")
    return _colon_pairs(text)


def _colon_pairs(hex_digits: str) -> str:
    upper = hex_digits.upper()
    return ":".join(upper[index:index + 2] for index in range(0, len(upper), 2))


def matches_pin(der_certificate: bytes | None, pin: str) -> bool:
    return der_certificate is not None and hmac.compare_digest(fingerprint(der_certificate), normalize_fingerprint(pin))


class TLSChannel:
    """The server side of one TLS connection, as memory in and memory out. Not thread-safe by itself:
    the owning ``Connection`` serialises calls with its lock."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._closing = False
        self._established = False  # set by the reader thread once the handshake is done

    def handshake(self, sock: socket.socket, timeout: float) -> None:
        """Complete the handshake on a blocking socket (run by the connection's reader thread before
        anyone else may write to it). Raises ``TLSClosed`` or ``OSError``."""
        sock.settimeout(timeout)
        try:
            while True:
                try:
                    self._tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLError as error:
                    self._send_pending(sock)  # the alert that tells the peer why
                    raise TLSClosed(error.reason or str(error)) from error
                self._send_pending(sock)
                data = sock.recv(16384)
                if not data:
                    raise TLSClosed("connection closed during the TLS handshake")
                self._incoming.write(data)
            self._send_pending(sock)
            self._established = True
        finally:
            sock.settimeout(None)

    def _send_pending(self, sock: socket.socket) -> None:
        data = self._outgoing.read()
        if data:
            sock.sendall(data)

    def decrypt(self, data: bytes) -> bytes:
        """Plaintext from received bytes (maybe none yet: a record can span reads). Raises ``TLSClosed``."""
        self._incoming.write(data)
        chunks = []
        while True:
            try:
                chunk = self._tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError) as error:
                raise TLSClosed("TLS session closed") from error
            except ssl.SSLError as error:
                raise TLSClosed(error.reason or str(error)) from error
            if not chunk:
                raise TLSClosed("TLS session closed")
            chunks.append(chunk)
        return b"".join(chunks)

    def encrypt(self, plaintext: bytes | bytearray) -> bytes:
        """Bytes for the socket: the records for ``plaintext``, after anything the TLS layer itself must
        send (a session ticket, an answer to a key update)."""
        if not self._established:
            return b""  # the handshake is still the reader thread's: nothing may be sent yet
        if plaintext and not self._closing:
            try:
                self._tls.write(plaintext)
            except ssl.SSLError:
                self._closing = True  # the session is broken: the reader thread sees why
        return self._outgoing.read()

    def close_notify(self) -> bytes:
        """The alert that ends the session cleanly; nothing more is encrypted after it."""
        if self._closing or not self._established:
            return b""
        self._closing = True
        try:
            self._tls.unwrap()
        except ssl.SSLError:
            pass  # SSLWantReadError: the peer's own close_notify is not awaited
        return self._outgoing.read()

    @property
    def has_output(self) -> bool:
        return self._established and self._outgoing.pending > 0
