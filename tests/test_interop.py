"""Real third-party IRC software against our server: the ``irc`` library from PyPI (plain and TLS),
irssi and WeeChat.

irssi runs in a tmux session (it needs a terminal); tmux's capture-pane shows what it displays. WeeChat
runs headless: commands go in through its FIFO, and its logger's files show what it received.
"""
from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
import threading
import time

import irc.client
import irc.connection
import pytest

from helpers import trusting, wait_until


def require_tool(name: str, *, file_pattern: str | None = None) -> None:
    """Skip when a tool (or a file it needs, such as a plugin) is missing on a developer's machine; in CI
    (tests/run.sh installs both) fail instead."""
    missing = shutil.which(name) is None or (file_pattern is not None and not glob.glob(file_pattern))
    if missing:
        what = f"{name} (with {file_pattern})" if file_pattern else name
        if os.environ.get("CI"):
            pytest.fail(f"{what} is not installed, and CI needs it")
        pytest.skip(f"{what} is not installed")


def test_irc_library_client_chats_with_ours(server):
    chat_with_the_irc_library(server, server.address, irc.connection.Factory())


def test_irc_library_client_over_tls(make_server, certificate):
    cert, key = certificate
    running = make_server(tls_cert=cert, tls_key=key)
    context = trusting(cert)
    factory = irc.connection.Factory(wrapper=functools.partial(context.wrap_socket, server_hostname="127.0.0.1"))
    chat_with_the_irc_library(running, running.server.tls_address, factory)


def chat_with_the_irc_library(running, address, factory) -> None:
    """The ``irc`` library joins, hears one of our test clients and is heard, then quits."""
    reactor = irc.client.Reactor()
    events: list[tuple[str, str]] = []
    joined = threading.Event()
    connection = reactor.server().connect(address[0], address[1], "jaraco", connect_factory=factory)
    reactor.add_global_handler("welcome", lambda c, e: c.join("#interop"))
    reactor.add_global_handler("join", lambda c, e: joined.set() if e.source.nick == "jaraco" else None)
    reactor.add_global_handler("pubmsg", lambda c, e: events.append((e.source.nick, e.arguments[0])))

    def pump_until(condition, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out; events so far: {events}"
            reactor.process_once(0.05)

    pump_until(joined.is_set)
    ours = running.connect("ours")
    ours.join("#interop")
    ours.send("PRIVMSG #interop :Привет, библиотека!")
    pump_until(lambda: ("ours", "Привет, библиотека!") in events)
    connection.privmsg("#interop", "hello from the irc library")
    assert ours.expect(r" PRIVMSG #interop ").params[1] == "hello from the irc library"
    connection.quit("bye")
    assert ours.expect(r":jaraco!\S+ QUIT").params == ["Quit: bye"]
    connection.close()


class TmuxSession:
    def __init__(self, name: str, command: str, env: dict[str, str]):
        self.name = name
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "160", "-y", "40", command], check=True,
                       env={**os.environ, **env})

    def send(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)
        subprocess.run(["tmux", "send-keys", "-t", self.name, "Enter"], check=True)

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return result.stdout

    def wait_for(self, pattern: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not re.search(pattern, self.screen()):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {pattern!r} on screen:\n{self.screen()}")
            pause.wait(0.1)

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def start_irssi(server, tmp_path, nick: str, connect: bool = True) -> TmuxSession:
    """Real irssi in a tmux pane, with its own home, connecting to our server as ``nick`` (or not yet)."""
    require_tool("irssi")
    require_tool("tmux")
    home = tmp_path / f"irssi-{nick}"
    home.mkdir()
    (home / "config").write_text('settings = { core = { real_name = "Irssi User"; user_name = "irssi"; }; };\n')
    where = f" -c 127.0.0.1 -p {server.address[1]}" if connect else ""
    return TmuxSession(f"classchat-{nick}-{os.getpid()}", f"irssi --home={home} -n {nick}{where}",
                       {"TERM": "screen", "LANG": "C.UTF-8"})


def test_irssi_joins_and_chats(server, tmp_path):
    session = start_irssi(server, tmp_path, "irssiuser")
    try:
        ours = server.connect("ours")
        ours.join("#class")
        session.wait_for(r"Welcome to the classchat IRC Network")
        session.send("/join #class")
        ours.expect(r":irssiuser!\S+ JOIN #class")
        session.send("Привет из irssi")
        assert ours.expect(r" PRIVMSG #class ").params[1] == "Привет из irssi"
        ours.send("PRIVMSG #class :Hello, irssi!")
        session.wait_for(r"ours.*Hello, irssi!")
        session.send("/quit leaving")
        assert ours.expect(r":irssiuser!\S+ QUIT").params == ["Quit: leaving"]
    finally:
        session.kill()


def test_irssi_late_joiner_sees_the_conversation_so_far(server, tmp_path):
    ours = server.connect("ours")
    ours.join("#history")
    ours.send("PRIVMSG #history :said before irssi came")
    ours.send("PRIVMSG #history :Второе сообщение")
    ours.sync()
    session = start_irssi(server, tmp_path, "lateuser")
    try:
        session.wait_for(r"Welcome to the classchat IRC Network")
        session.send("/join #history")
        session.wait_for(r"said before irssi came")
        session.wait_for(r"Второе сообщение")
        screen = session.screen()
        assert screen.index("said before irssi came") < screen.index("Второе сообщение")
    finally:
        session.kill()


def test_irssi_over_tls_verifies_our_certificate(make_server, certificate, tmp_path):
    cert, key = certificate
    running = make_server(tls_cert=cert, tls_key=key)
    session = start_irssi(running, tmp_path, "tlsuser", connect=False)
    try:
        session.wait_for(r"Irssi v")
        # irssi checks the name it connected to against the certificate's DNS names: "localhost" (over IPv4).
        session.send(f"/connect -4 -tls -tls_cafile {cert} localhost {running.server.tls_address[1]}")
        session.wait_for(r"Welcome to the classchat IRC Network")
        ours = running.connect("ours")
        ours.join("#tls")
        session.send("/join #tls")
        ours.expect(r":tlsuser!\S+ JOIN #tls")
        session.send("Зашифрованный привет")
        assert ours.expect(r" PRIVMSG #tls ").params[1] == "Зашифрованный привет"
        ours.send("PRIVMSG #tls :and back, encrypted")
        session.wait_for(r"ours.*and back, encrypted")
    finally:
        session.kill()


class HeadlessWeeChat:
    """Debian's weechat-headless with a home of its own: commands go in through its FIFO, and what it
    shows comes out of its logger's files (flushed at once)."""

    def __init__(self, home, address: tuple[str, int], nick: str):
        # The FIFO plugin is in Debian's weechat-plugins, which weechat-headless only recommends.
        require_tool("weechat-headless", file_pattern="/usr/lib/*/weechat/plugins/fifo.so")
        self.home = home
        setup = ";".join([
            "/set logger.file.flush_delay 0", "/set irc.server_default.tls off",
            f"/set irc.server_default.nicks {nick}", f"/server add classchat {address[0]}/{address[1]}",
            "/set irc.server.classchat.autojoin #interop", "/fifo enable", "/connect classchat"])
        self.proc = subprocess.Popen(["weechat-headless", "--dir", str(home), "--run-command", setup],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.fifo = self._wait_for(lambda: next(home.glob("weechat_fifo_*"), None), "its FIFO")
        except AssertionError:
            self.proc.kill()  # without its FIFO nothing could tell it to quit: it would run on after the test
            self.proc.wait()
            raise

    def _wait_for(self, found, what: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not (result := found()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"weechat: timed out waiting for {what}")
            pause.wait(0.05)
        return result

    def command(self, buffer: str, text: str) -> None:
        with open(self.fifo, "w", encoding="utf-8") as fifo:
            fifo.write(f"{buffer} *{text}\n")

    def wait_for_log(self, log_name: str, text: str) -> None:
        log = self.home / "logs" / log_name
        self._wait_for(lambda: log.exists() and text in log.read_text(encoding="utf-8"), f"{text!r} in {log_name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.command("core.weechat", "/quit")
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_weechat_joins_and_chats(server, tmp_path):
    ours = server.connect("ours")
    ours.join("#interop")
    weechat = HeadlessWeeChat(tmp_path, server.address, "weechatuser")
    try:
        ours.expect(r":weechatuser!\S+ JOIN #interop")
        ours.send("PRIVMSG #interop :Привет, WeeChat!")
        weechat.wait_for_log("irc.classchat.#interop.weechatlog", "Привет, WeeChat!")
        weechat.command("irc.classchat.#interop", "Привет из WeeChat")
        assert ours.expect(r" PRIVMSG #interop ").params[1] == "Привет из WeeChat"
        weechat.command("irc.classchat.#interop", "/part #interop done")
        assert ours.expect(r":weechatuser!\S+ PART").params == ["#interop", "done"]
    finally:
        weechat.stop()


def is_online(asker, nick: str) -> bool:
    asker.send(f"ISON {nick}")
    return asker.expect_numeric("303").params[-1] != ""


def test_irc_library_logs_in_with_sasl_and_reads_its_private_history(make_server, tmp_path):
    """The irc library's own SASL PLAIN login; a private message to its account comes back from the
    history (CHATHISTORY) after it reconnects."""
    from common.server.accounts import AccountStore

    db = str(tmp_path / "accounts.sqlite3")
    store = AccountStore(db)
    store.create("jaraco", "library-password")
    store.close()
    running = make_server(db_path=db, login_delay=0.01)
    ours = running.connect("ours")
    for round_ in range(2):
        reactor = irc.client.Reactor()
        private: list[str] = []
        welcomed, failed = threading.Event(), []
        reactor.add_global_handler("welcome", lambda c, e: welcomed.set())
        reactor.add_global_handler("login_failed", lambda c, e: failed.append(e.arguments))
        reactor.add_global_handler("privmsg", lambda c, e: private.append(e.arguments[0]))
        connection = reactor.server().connect(*running.address, "jaraco", password="library-password",
                                              sasl_login="jaraco")

        def pump_until(condition, timeout=5.0):
            deadline = time.monotonic() + timeout
            while not condition():
                assert not failed, f"SASL login failed: {failed}"
                assert time.monotonic() < deadline, f"timed out; private messages: {private}"
                reactor.process_once(0.05)

        pump_until(welcomed.is_set)
        ours.send("WHOIS jaraco")
        assert ours.expect_numeric("330").params[1:3] == ["jaraco", "jaraco"]
        if round_ == 0:
            ours.send("PRIVMSG jaraco :a private word")
        else:
            connection.send_raw("CHATHISTORY LATEST ours * 10")
        pump_until(lambda: "a private word" in private)
        ours.expect_numeric("318")
        connection.quit("bye")
        connection.close()
        wait_until(lambda: not is_online(ours, "jaraco"), what="jaraco to be gone before it logs in again")
