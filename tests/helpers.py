"""Test helpers: a raw IRC test client over a real socket, and a real server process.

``IRCTestClient.expect()`` waits (with a timeout, never a fixed sleep) for a line that matches and fails
with everything that did arrive meanwhile. ``sync()`` proves a negative: it sends a PING and returns the
lines that came before the PONG, so "nothing else arrived" is checked without sleeping.
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from common.protocol.framing import LineFramer
from common.protocol.server_process import ServerStartError, start_server_process
from common.protocol.message import Message, parse
from common.server.history_blocks import messages_in

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT = 5.0
_sync_tokens = itertools.count(1)


def start_xvfb(size: str = "1920x1080") -> tuple[subprocess.Popen, str] | None:
    """A private Xvfb with a screen of ``size`` and its display name (":N"); None (and nothing started)
    when Xvfb is not installed.

    ``-displayfd`` makes Xvfb pick a free display number and say which, so runs never collide.
    """
    if shutil.which("Xvfb") is None:
        return None
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
                            pass_fds=(write_end,), stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        number = reader.readline().strip()
    if not number:
        xvfb.kill()
        raise RuntimeError("Xvfb did not start")
    return xvfb, f":{number}"


def start_virtual_display(size: str = "1920x1080") -> subprocess.Popen | None:
    """A private Xvfb, with DISPLAY set to it; None (and nothing started) when Xvfb is not installed."""
    started = start_xvfb(size)
    if started is None:
        return None
    xvfb, os.environ["DISPLAY"] = started
    return xvfb


def make_certificate(folder: Path, common_name: str = "classchat") -> tuple[str, str]:
    """A self-signed certificate and key for 127.0.0.1, made with the openssl command the README shows."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", f"/CN={common_name}",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def trusting(cert: str) -> ssl.SSLContext:
    """A client context that trusts exactly this certificate (as a CA)."""
    return ssl.create_default_context(cafile=cert)


class IRCTestClient:
    """A bare IRC connection for tests: send raw lines, wait for matching ones."""

    def __init__(self, address: tuple[str, int], timeout: float = DEFAULT_TIMEOUT, rcvbuf: int | None = None,
                 source_address: str | None = None, tls: ssl.SSLContext | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source_address is not None:
            self.sock.bind((source_address, 0))  # another loopback address: another "computer"
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=address[0])
        self._adopt(self.sock, timeout, "*")

    def _adopt(self, sock: socket.socket, timeout: float, nick: str) -> None:
        self.sock = sock
        self.timeout = timeout
        self.framer = LineFramer.for_client()
        self.backlog: list[str] = []
        self.closed = False
        self.nick = nick

    @classmethod
    def accepted(cls, listener: socket.socket, timeout: float = DEFAULT_TIMEOUT) -> "IRCTestClient":
        """The other end of a connection a client made to ``listener``: the test plays the server."""
        listener.settimeout(timeout)
        sock, _ = listener.accept()
        sock.settimeout(timeout)
        peer = cls.__new__(cls)
        peer._adopt(sock, timeout, "server")
        return peer

    def lines_until(self, pattern: str, timeout: float | None = None) -> list[str]:
        """The raw lines received up to and including the first that matches ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + (timeout or self.timeout)
        lines: list[str] = []
        while True:
            while self.backlog:
                lines.append(self.backlog.pop(0))
                if regex.search(lines[-1]):
                    return lines
            try:
                alive = self._read_more(deadline)
            except TimeoutError:
                alive = None
            if not alive:
                shown = "\n  ".join(lines[-40:]) or "(nothing)"
                raise AssertionError(f"{self.nick}: no /{pattern}/; received:\n  {shown}")

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        if not data.endswith(b"\n"):
            data += b"\r\n"
        self.sock.sendall(data)

    def _read_more(self, deadline: float) -> bool:
        """Read once; False when the server closed the connection."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError from None
        except (ConnectionResetError, ssl.SSLEOFError):
            data = b""
        if not data:
            self.closed = True
            return False
        self.backlog.extend(raw.decode("replace") for raw in self.framer.feed(data))
        return True

    def expect(self, pattern: str, timeout: float | None = None) -> Message:
        """Consume lines until one matches the regex ``pattern`` (searched in the raw line); return it parsed."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + (timeout or self.timeout)
        skipped: list[str] = []
        while True:
            while self.backlog:
                line = self.backlog.pop(0)
                if regex.search(line):
                    return parse(line)
                skipped.append(line)
            try:
                alive = self._read_more(deadline)
            except TimeoutError:
                alive = None
            if not alive:
                state = "timed out" if alive is None else "connection closed"
                shown = "\n  ".join(skipped[-40:]) or "(nothing)"
                raise AssertionError(f"{self.nick}: {state} waiting for /{pattern}/; received:\n  {shown}")

    def collect_until(self, codes: str, end: str) -> list[Message]:
        """The replies matching numerics ``codes`` (a regex) up to the one with numeric ``end``, which ends
        the list and is not in it: a MOTD, a LIST, …"""
        replies = []
        while (reply := self.expect(rf" ({codes}) ")).command != end:
            replies.append(reply)
        return replies

    def expect_numeric(self, code: str, timeout: float | None = None) -> Message:
        return self.expect(rf"^(@\S+ )?:\S+ {code} ", timeout)

    def sync(self) -> list[str]:
        """Send a PING and return every line received before its PONG."""
        token = f"sync{next(_sync_tokens)}"
        self.send(f"PING {token}")
        before: list[str] = []
        deadline = time.monotonic() + self.timeout
        while True:
            while self.backlog:
                line = self.backlog.pop(0)
                if re.search(rf" PONG \S+ :?{token}$", line):
                    return before
                before.append(line)
            if not self._read_more(deadline):
                raise AssertionError(f"{self.nick}: connection closed during sync; received: {before}")

    def expect_closed(self, timeout: float | None = None) -> list[str]:
        """Wait until the server closes the connection; return the lines that came before."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines: list[str] = []
        while True:
            lines.extend(self.backlog)
            self.backlog.clear()
            try:
                if not self._read_more(deadline):
                    lines.extend(self.backlog)
                    self.backlog.clear()
                    return lines
            except TimeoutError:
                raise AssertionError(f"{self.nick}: connection still open; received: {lines[-20:]}") from None
            except OSError:
                return lines

    def register(self, nick: str, caps: tuple[str, ...] = (), password: str | None = None) -> "IRCTestClient":
        self.nick = nick
        if caps:
            self.send("CAP LS 302")
        if password is not None:
            self.send(f"PASS {password}")
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :Test user {nick}")
        if caps:
            self.expect(r" CAP \S+ LS ")
            self.send("CAP REQ :" + " ".join(caps))
            self.expect(r" CAP \S+ ACK ")
            self.send("CAP END")
        self.expect_numeric("001")
        self.expect_numeric("376|422")
        return self

    def join(self, channel: str) -> None:
        self.send(f"JOIN {channel}")
        self.expect_numeric("366")

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class ServerProcess:
    """``python3 chat_server.py --port 0 …`` as a real process; the bound port is read from its first line.

    A thread drains the server's stderr as it comes (a chatty server must never block on a full pipe), and
    ``tracebacks()`` tells whether anything in it was a Python traceback: the fixtures fail a test on one.
    ``preexec_fn`` runs in the child before it starts (resource limits for the hostile-input tests).
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None, preexec_fn=None, stderr_fd: int | None = None):
        defaults = ["--port", "0", "--log-level", "WARNING"] + ([] if "--db" in args else ["--db", ":memory:"])
        self.args = [*defaults, *args]
        self._stderr_lines: list[str] = []
        try:
            self.proc, self.address, self.first_line = start_server_process(
                self.args, stderr=subprocess.PIPE if stderr_fd is None else stderr_fd,
                env={**os.environ, **(env or {})}, cwd=PROJECT_ROOT, preexec_fn=preexec_fn)
        except ServerStartError as error:
            raise AssertionError(f"server did not start: {error}") from None
        self._drainer = threading.Thread(target=self._drain_stderr, name="server-stderr", daemon=True)
        self._drainer.start()

    def _drain_stderr(self) -> None:
        if self.proc.stderr is None:
            return  # stderr went where the caller said (a test that wants it unread)
        for line in self.proc.stderr:
            self._stderr_lines.append(line)

    @property
    def stderr_text(self) -> str:
        """What the server has written on stderr so far (all of it, once stopped)."""
        return "".join(self._stderr_lines)

    def wait_for_stderr(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Wait until the server has logged a line containing ``text``; return that line."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            for line in list(self._stderr_lines):
                if text in line:
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not log {text!r}; it logged:\n{self.stderr_text[-3000:]}")
            pause.wait(0.02)

    def tracebacks(self) -> str:
        """The server's stderr when it holds a traceback, else an empty string."""
        text = self.stderr_text
        return text if "Traceback (most recent call last)" in text else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit after the signal")
        finally:
            self._drainer.join(timeout)
            self.proc.stdout.close()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
        return self.proc.returncode


class EventLog:
    """Drains a session's event queue in the test thread, waiting (with a timeout) for a matching event."""

    def __init__(self, session, timeout: float = DEFAULT_TIMEOUT):
        self.session = session
        self.timeout = timeout
        self.seen: list = []

    def wait_for(self, event_type, /, timeout: float | None = None, **fields):
        import queue as queue_module
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                shown = "\n  ".join(repr(event) for event in self.seen[-30:])
                raise AssertionError(f"no {event_type.__name__} with {fields}; events:\n  {shown}")
            try:
                event = self.session.events.get(timeout=remaining)
            except queue_module.Empty:
                continue
            self.seen.append(event)
            if isinstance(event, event_type) and all(getattr(event, key) == value for key, value in fields.items()):
                return event



def start_session(address, nick: str, **overrides) -> tuple:
    """A registered client ``Session`` and its ``EventLog``; unpaced unless ``pace_rate`` is given (most tests
    are not about pacing)."""
    from common.client import events as ev
    from common.client.session import Session, SessionConfig
    config = SessionConfig(host=address[0], port=address[1], nick=nick, **{"pace_rate": 0, **overrides})
    session = Session(config)
    session.start()
    log = EventLog(session)
    log.wait_for(ev.ConnectionState, state="registered")
    return session, log


def take_logged(caplog, level: int, text: str) -> list:
    """The captured records at ``level`` whose message contains ``text``, removed from the capture, so
    that the guard against logged errors (conftest.py) still fails the test on any other one."""
    taken = [record for record in caplog.records if record.levelno == level and text in record.getMessage()]
    caplog.records[:] = [record for record in caplog.records if record not in taken]
    return taken


def assert_still_served(running, bystander: IRCTestClient) -> None:
    """After hostile input: ``bystander`` is answered within a second and a newcomer registers."""
    started = time.monotonic()
    bystander.send("PING :still-there")
    bystander.expect(r" PONG \S+ :?still-there", timeout=1.0)
    assert time.monotonic() - started < 1.0
    newcomer = running.connect(f"new{int(started * 1000) % 100000}")
    newcomer.send("QUIT")
    newcomer.expect_closed()


def wait_until(condition, timeout: float = DEFAULT_TIMEOUT, what: str = "condition") -> None:
    """Poll a cheap in-process condition until it holds (the server threads change it)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.01)


@contextmanager
def disk_full_for(store):
    """While this lasts, every write to ``store``'s history log fails with ENOSPC, as on a full disk: its
    descriptor is pointed at /dev/full, the kernel's always-full device, and back afterwards (the log's lock
    stays with the original). What was written before is in SQLite first, so the filler has nothing to do
    with the log meanwhile."""
    assert store.wait_until_stored(DEFAULT_TIMEOUT)
    fd = store.log_file.fileno()
    saved = os.dup(fd)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(full)


def stored_messages(history) -> list:
    """Every message in a history database (an open sqlite3 connection to it), in the order stored."""
    found = [m for (body,) in history.execute("SELECT body FROM message_blocks") for m in messages_in(body)]
    return sorted(found, key=lambda m: m.row_id)
