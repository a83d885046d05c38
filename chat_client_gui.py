#!/usr/bin/env python3
"""classchat GUI client (Tkinter).

    python3 chat_client_gui.py                       # a connect dialog, remembering the last values
    python3 chat_client_gui.py --nick alice --connect
    python3 chat_client_gui.py --demo                # the lab demonstration: a server and three windows

Ctrl+C in the terminal, SIGTERM and SIGHUP close every window as its Quit does (the demo's server stops
too): a handler only raises a flag, which the Tk loop reads on its next tick.
"""
from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

try:
    import tkinter as tk
except ModuleNotFoundError:
    # Debian's and Ubuntu's Python come without Tk; say so in one line instead of a traceback.
    sys.exit("chat_client_gui.py: this Python has no tkinter (the Tk GUI toolkit). On Debian or Ubuntu: "
             "sudo apt install python3-tk (the server and chat_client_cli.py need nothing).")

from common.client.options import add_tls_pin_argument, default_nick
from common.protocol.command_line import OneLineErrorParser, fail
from common.gui.settings import Settings, load_settings, session_config
from common.gui.connect_dialog import ConnectDialog
from common.gui.widgets import APP_NAME, AppToplevel
from common.gui.window import MIN_HEIGHT, ChatWindow
from common.protocol.server_process import ServerStartError, start_server_process
from common.client.session import SessionConfig
from common.client.texts import detect_language

PROG = "chat_client_gui.py"
DEMO_USERS = ("alice", "bob", "carol")
DEMO_FIRST_JOIN_WAIT = 5.0  # seconds the demo waits for alice to join before it opens the other windows
TICK_MS = 100  # how often the Tk loop looks for a stop asked for by a signal
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WINDOW_SIZE = "760x540"  # a window of its own; the window manager places it
TILE_GAP = 8  # pixels between tiled windows, room for a window manager's frames
TILE_TOP = 24
TILE_MAX_WIDTH, TILE_MAX_HEIGHT = 720, 720
RESERVED_HEIGHT = 140  # below TILE_TOP: a title bar, the menu bar and a taskbar


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineErrorParser(prog=PROG, description="classchat GUI client (IRC).")
    parser.add_argument("--host", help="server address (default: the last one used, else 127.0.0.1)")
    parser.add_argument("--port", type=int, help="server port (default: the last one used, else 6667)")
    parser.add_argument("--nick", help="your nickname")
    parser.add_argument("--channel", help="channel to join (default: #general)")
    parser.add_argument("--password", help="server password")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    add_tls_pin_argument(parser)
    parser.add_argument("--lang", choices=["en", "ru"], help="interface language (default: from the locale)")
    parser.add_argument("--connect", action="store_true", help="connect at once, without the dialog")
    parser.add_argument("--demo", action="store_true",
                        help="lab demonstration: start a server (unless --port is given) and open three windows")
    args = parser.parse_args(argv)
    if args.port is not None and not 0 < args.port < 65536:
        parser.error(f"port {args.port} is out of range 1-65535")
    return args


def merged_settings(args: argparse.Namespace) -> Settings:
    """The saved settings, overridden by whatever was given on the command line."""
    settings = load_settings()
    for name in ("host", "port", "nick", "channel"):
        value = getattr(args, name)
        if value is not None:
            setattr(settings, name, value)
    settings.tls = settings.tls or args.tls or bool(args.tls_pin)
    if args.tls_pin:
        settings.tls_pin = args.tls_pin
    if args.lang:
        settings.lang = args.lang
    if not settings.nick:
        settings.nick = default_nick()
    return settings


@dataclass(frozen=True)
class Tile:
    """Where a window goes: its inside's size, and the top-left corner of its frame."""

    width: int
    height: int
    x: int
    y: int

    @property
    def geometry(self) -> str:
        return f"{self.width}x{self.height}+{self.x}+{self.y}"


def tile_side_by_side(count: int, screen_width: int, screen_height: int) -> list[Tile]:
    """``count`` windows of one size side by side, centred, with a gap between them for window frames,
    and short enough to leave room for a title bar, the menu bar and a taskbar."""
    width = min(TILE_MAX_WIDTH, (screen_width - TILE_GAP * (count + 1)) // count)
    height = max(MIN_HEIGHT, min(TILE_MAX_HEIGHT, screen_height - TILE_TOP - RESERVED_HEIGHT))
    left = (screen_width - count * width - (count - 1) * TILE_GAP) // 2
    return [Tile(width, height, left + index * (width + TILE_GAP), TILE_TOP) for index in range(count)]


class Application:
    """A withdrawn Tk root that owns the windows; the program ends when the last window closes, or when
    a signal asks it to (``watch_signals``). The demo's server stops with it."""

    def __init__(self, settings: Settings, lang: str) -> None:
        self.root = tk.Tk(className=APP_NAME)
        self.root.withdraw()
        self.settings = settings
        self.lang = lang
        self.windows: list[ChatWindow] = []
        self.demo_server: subprocess.Popen | None = None
        self.stop_signal: int | None = None  # set by a signal handler, read by the tick
        self.finished = False
        self._after_ids: dict[str, str] = {}  # what → the id of its pending after(), cancelled at the end

    def open_window(self, config: SessionConfig, tile: Tile | None = None, save: bool = True) -> ChatWindow:
        window = ChatWindow(AppToplevel(self.root), config, self.settings, self.lang, on_closed=self._closed,
                            save=save)
        if tile is not None:
            window.fit_width(tile.width)
        window.top.geometry(tile.geometry if tile is not None else WINDOW_SIZE)
        self.windows.append(window)
        return window

    def ask_and_connect(self) -> None:
        ConnectDialog(AppToplevel(self.root), self.settings, self.lang, on_connect=self.open_window,
                      on_cancel=self.finish)

    def after(self, what: str, milliseconds: int, callback: Callable[[], None]) -> None:
        """``root.after``, remembered under ``what`` so that ``finish()`` can cancel it."""
        def run() -> None:
            del self._after_ids[what]
            callback()
        self._after_ids[what] = self.root.after(milliseconds, run)

    def watch_signals(self) -> None:
        """SIGINT (Ctrl+C), SIGTERM and SIGHUP close every window, as if each one's Quit were chosen. The
        handler only notes the signal: Tk is called from the tick that reads it, never from the handler."""
        def note(signum: int, _frame) -> None:
            self.stop_signal = signum
        for signum in STOP_SIGNALS:
            signal.signal(signum, note)
        self._tick()

    def _tick(self) -> None:
        if self.stop_signal is not None:
            self.close_all()
        else:
            self.after("tick", TICK_MS, self._tick)

    def close_all(self) -> None:
        if not self.windows:
            self.finish()
        for window in list(self.windows):
            window.close()

    def _closed(self, window: ChatWindow) -> None:
        self.windows.remove(window)
        if not self.windows:
            self.finish()

    def finish(self) -> None:
        """Stop the demo's server, cancel what is pending, and destroy the root: mainloop() returns."""
        if self.finished:
            return
        self.finished = True
        self.stop_demo_server()
        for after_id in self._after_ids.values():
            self.root.after_cancel(after_id)
        self._after_ids.clear()
        self.root.destroy()

    def stop_demo_server(self) -> None:
        server, self.demo_server = self.demo_server, None
        if server is None:
            return
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


def start_demo_server() -> tuple[subprocess.Popen, int]:
    """A throwaway server on a free local port (its history stays in memory); the process and its port."""
    try:
        process, (_host, port), _ = start_server_process(["--port", "0", "--db", ":memory:", "--log-level", "WARNING"])
    except ServerStartError as error:
        fail(PROG, f"the demo server did not start: {error}")
    return process, port


def run_demo(app: Application, args: argparse.Namespace) -> None:
    """Three windows (alice, bob, carol) side by side in #general, on our own server unless --port is given.

    alice's window opens first and the others once she has joined (or after DEMO_FIRST_JOIN_WAIT), so
    that on a fresh server alice is the channel's operator, the teacher of the demonstration.
    """
    if args.port is None:
        app.demo_server, app.settings.port = start_demo_server()
        app.settings.host = "127.0.0.1"
    app.settings.channel = args.channel or "#general"
    tiles = tile_side_by_side(len(DEMO_USERS), app.root.winfo_screenwidth(), app.root.winfo_screenheight())
    configs = [session_config(app.settings, nick, args.password) for nick in DEMO_USERS]
    first = app.open_window(configs[0], tiles[0], save=False)
    deadline = time.monotonic() + DEMO_FIRST_JOIN_WAIT

    def open_the_others() -> None:
        if first.closing:
            return
        if not first.session.is_joined(app.settings.channel) and time.monotonic() < deadline:
            app.after("demo", 50, open_the_others)
            return
        for config, tile in zip(configs[1:], tiles[1:]):
            app.open_window(config, tile, save=False)

    open_the_others()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = merged_settings(args)
    lang = detect_language(settings.lang or None)
    try:
        app = Application(settings, lang)
    except tk.TclError as error:
        fail(PROG, f"cannot open a window: {error}")
    app.watch_signals()
    try:
        if args.demo:
            run_demo(app, args)
            if app.demo_server is not None:
                print(f"{PROG}: the demo's server listens on 127.0.0.1:{settings.port} (process "
                      f"{app.demo_server.pid}); it stops with the last window", flush=True)
        elif args.connect:
            app.open_window(session_config(settings, settings.nick, args.password))
        else:
            app.ask_and_connect()
        app.root.mainloop()
    finally:  # every way out, an exception's too, stops the demo's server
        app.stop_demo_server()
    return 0


if __name__ == "__main__":
    sys.exit(main())
