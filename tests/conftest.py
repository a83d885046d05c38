"""Shared fixtures: an in-process server on 127.0.0.1 port 0, a real server process, and a guard that
fails any test in which a thread raised or the server logged an error."""
from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.server.server import ChatServer, ServerConfig  # noqa: E402
from helpers import (IRCTestClient, ServerProcess, make_certificate, start_session,  # noqa: E402
                     start_virtual_display)


@pytest.fixture(autouse=True, scope="session")
def fresh_home(tmp_path_factory):
    """No test reads or writes the user's home: HOME and the XDG folders point into the test run's
    temporary folder, as on a fresh machine (settings, the default history file, tools' own files)."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        for variable, folder in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                                 ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
            (home / folder).mkdir(parents=True)
            patch.setenv(variable, str(home / folder))
        yield home


@pytest.fixture(autouse=True)
def fail_on_thread_errors(caplog):
    """A test fails if any thread died with an exception or anything logged at ERROR."""
    errors: list[str] = []
    previous = threading.excepthook

    def record(args: threading.ExceptHookArgs) -> None:
        errors.append(f"{args.thread.name if args.thread else '?'}: {args.exc_type.__name__}: {args.exc_value}")
        previous(args)

    def record_unraisable(args) -> None:  # a thread started with _thread (the server's reader threads)
        errors.append(f"{args.object!r}: {args.exc_type.__name__}: {args.exc_value}")
        previous_unraisable(args)

    previous_unraisable = sys.unraisablehook
    threading.excepthook = record
    sys.unraisablehook = record_unraisable
    caplog.set_level(logging.INFO, logger="classchat")
    yield
    threading.excepthook = previous
    sys.unraisablehook = previous_unraisable
    logged = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"exceptions in threads: {errors}"
    assert not logged, f"errors logged: {logged}"


class RunningServer:
    """An in-process ``ChatServer`` served from a thread; ``connect()`` opens registered test clients.
    ``wall_clock`` replaces the server's clock (seconds since the epoch), the rest are ``ServerConfig``'s."""

    def __init__(self, wall_clock=time.time, **overrides):
        config = ServerConfig(host="127.0.0.1", port=0, tls_port=0, **overrides)
        self.server = ChatServer(config, wall_clock=wall_clock)
        self.address = self.server.address
        self.thread = threading.Thread(target=self.server.serve_forever, name="serve_forever")
        self.thread.start()
        self.clients: list[IRCTestClient] = []

    def client(self, **kwargs) -> IRCTestClient:
        client = IRCTestClient(self.address, **kwargs)
        self.clients.append(client)
        return client

    def connect(self, nick: str, caps: tuple[str, ...] = (), password: str | None = None) -> IRCTestClient:
        return self.client().register(nick, caps=caps, password=password)

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.server.shutdown()
        self.thread.join(5)
        self.server.server_close()
        assert self.server.listener.fileno() == -1, "listener socket left open"


@pytest.fixture
def make_server():
    servers: list[RunningServer] = []

    def start(**overrides) -> RunningServer:
        running = RunningServer(**overrides)
        servers.append(running)
        return running

    yield start
    for running in servers:
        running.stop()


@pytest.fixture
def sessions():
    """Starts registered client sessions (``helpers.start_session``) and quits them all after the test."""
    started = []

    def start(address, nick, **overrides):
        session, log = start_session(address, nick, **overrides)
        started.append(session)
        return session, log

    yield start
    for session in started:
        session.quit()


@pytest.fixture
def server(make_server) -> RunningServer:
    return make_server()


@pytest.fixture
def school(make_server, tmp_path) -> RunningServer:
    """A server with a class channel #math and two accounts in a real SQLite file: the teacher's
    ("teacher", "chalk-and-board") and a student's ("masha", "masha-password"); wrong passwords cost
    almost no delay here."""
    from common.server.accounts import AccountStore

    db = str(tmp_path / "school.sqlite3")
    store = AccountStore(db)
    store.create("teacher", "chalk-and-board", teacher=True)
    store.create("masha", "masha-password")
    store.close()
    return make_server(db_path=db, class_channels=("#math",), login_delay=0.01)


@pytest.fixture
def classroom(make_server) -> RunningServer:
    """A server without flood control (a hostile student may type fast)."""
    return make_server(flood_rate=0)


@pytest.fixture
def server_process():
    """Start real server processes (``start(*args, env=…, preexec_fn=…)``); each is stopped after the test,
    and a traceback anywhere in a server's stderr fails the test."""
    processes: list[ServerProcess] = []

    def start(*args: str, **options) -> ServerProcess:
        process = ServerProcess(*args, **options)
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.proc.poll() is None:
            process.stop()
    for process in processes:
        assert not process.tracebacks(), f"the server printed a traceback:\n{process.tracebacks()[-4000:]}"


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """(certificate, key) files of a self-signed certificate for 127.0.0.1, made once per run."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is not installed, and CI needs it for the TLS tests")
        pytest.skip("no openssl command to make a test certificate")
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def display():
    """An X display for Tk: the one in DISPLAY, else a private Xvfb for the whole test run."""

    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    try:
        xvfb = start_virtual_display()
    except RuntimeError as error:
        pytest.fail(str(error))
    if xvfb is None:
        if os.environ.get("CI"):
            pytest.fail("Xvfb is not installed, and CI needs it for the GUI tests")
        pytest.skip("no display and no Xvfb")
    yield os.environ["DISPLAY"]
    del os.environ["DISPLAY"]
    xvfb.terminate()
    xvfb.wait(5)


@pytest.fixture
def tk_root(display, tmp_path, monkeypatch):
    """One withdrawn Tk root per test; a Tk callback error fails the test; settings go to a temporary folder."""
    import tkinter as tk

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    try:
        root = tk.Tk()
    except tk.TclError as error:
        pytest.skip(f"Tk cannot start: {error}")
    root.withdraw()
    errors: list[str] = []
    root.report_callback_exception = lambda kind, value, tb: errors.append(f"{kind.__name__}: {value}")
    yield root
    for after_id in root.tk.call("after", "info"):
        root.after_cancel(after_id)
    root.destroy()
    retire_tk_root(root)
    assert not errors, f"errors in Tk callbacks: {errors}"


# Destroyed Tk roots, kept for the whole test run. A root waits in reference cycles (and, after a failed
# test, in its traceback); if the collector freed it later in another thread (a session's or the server's),
# the Tcl interpreter would be deleted from a thread that is not its own, and Tcl aborts the process.
_RETIRED_TK_ROOTS: list = []


def retire_tk_root(root) -> None:
    _RETIRED_TK_ROOTS.append(root)
