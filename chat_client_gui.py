#!/usr/bin/env python3
"""classchat GUI client (Tkinter).

    python3 chat_client_gui.py                       # a connect dialog, remembering the last values
    python3 chat_client_gui.py --nick alice --connect
    python3 chat_client_gui.py --demo                # the lab demonstration: a server and three windows
"""
from __future__ import annotations

import argparse
import subprocess
import sys

try:
    import tkinter as tk
except ModuleNotFoundError:
    # Debian's and Ubuntu's Python come without Tk; say so in one line instead of a traceback.
    sys.exit("chat_client_gui.py: this Python has no tkinter (the Tk GUI toolkit). On Debian or Ubuntu: "
             "sudo apt install python3-tk (the server and chat_client_cli.py need nothing).")

from common.client.options import add_tls_pin_argument, default_nick
from common.protocol.command_line import OneLineErrorParser, fail
from common.gui.settings import Settings, load_settings, session_config
from common.gui.window import ChatWindow, ConnectDialog
from common.protocol.server_process import ServerStartError, start_server_process
from common.client.session import SessionConfig
from common.client.texts import detect_language

PROG = "chat_client_gui.py"
DEMO_USERS = ("alice", "bob", "carol")


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
    return parser.parse_args(argv)


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


class Application:
    """A withdrawn Tk root that owns the windows; the program ends when the last window closes."""

    def __init__(self, settings: Settings, lang: str) -> None:
        self.root = tk.Tk(className="classchat")
        self.root.withdraw()
        self.settings = settings
        self.lang = lang
        self.windows: list[ChatWindow] = []
        self.on_last_window_closed = self.root.destroy
        self.demo_server: subprocess.Popen | None = None

    def open_window(self, config: SessionConfig, geometry: str | None = None, save: bool = True) -> ChatWindow:
        top = tk.Toplevel(self.root)
        if geometry:
            top.geometry(geometry)
        window = ChatWindow(top, config, self.settings, self.lang, on_closed=self._closed, save=save)
        self.windows.append(window)
        return window

    def ask_and_connect(self) -> None:
        ConnectDialog(tk.Toplevel(self.root), self.settings, self.lang, on_connect=self.open_window,
                      on_cancel=self.root.destroy)

    def _closed(self, window: ChatWindow) -> None:
        self.windows.remove(window)
        if not self.windows:
            self.on_last_window_closed()


def start_demo_server() -> tuple[subprocess.Popen, int]:
    """A throwaway server on a free local port (its history stays in memory); the process and its port."""
    try:
        process, (_host, port), _ = start_server_process(["--port", "0", "--db", ":memory:", "--log-level", "WARNING"])
    except ServerStartError as error:
        fail(PROG, f"the demo server did not start: {error}")
    return process, port


def run_demo(app: Application, args: argparse.Namespace) -> None:
    """Three windows (alice, bob, carol) side by side in #general, on our own server unless --port is given."""
    server = None
    if args.port is None:
        server, app.settings.port = start_demo_server()
        app.settings.host = "127.0.0.1"
    app.demo_server = server
    app.settings.channel = args.channel or "#general"

    def stop_everything() -> None:
        if server is not None:
            server.terminate()
            server.wait(5)
            server.stdout.close()
        app.root.destroy()

    app.on_last_window_closed = stop_everything
    width = max(420, app.root.winfo_screenwidth() // 3)
    height = max(360, min(720, app.root.winfo_screenheight() - 80))
    for index, nick in enumerate(DEMO_USERS):
        geometry = f"{width - 10}x{height}+{index * width}+20"
        app.open_window(session_config(app.settings, nick, args.password), geometry=geometry, save=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = merged_settings(args)
    lang = detect_language(settings.lang or None)
    try:
        app = Application(settings, lang)
    except tk.TclError as error:
        fail(PROG, f"cannot open a window: {error}")
    if args.demo:
        run_demo(app, args)
    elif args.connect:
        app.open_window(session_config(settings, settings.nick, args.password))
    else:
        app.ask_and_connect()
    app.root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
