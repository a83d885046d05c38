#!/usr/bin/env python3
"""Take docs/demo.png: the real three-window demo on a virtual 1366x768 screen (a common laptop's), with a
short lesson typed into it; or, with --protocol, docs/protocol_pane.png: one window filling that screen with
its protocol pane open during a short chat.

    python3 docs/screenshot.py [--protocol]

Needs Debian's xvfb (the screen), imagemagick (its ``import`` takes the picture) and fonts-symbola for the
emoji: Tk 8.6 draws text through Xft, which draws outline fonts such as Symbola but not the colour bitmaps
of fonts-noto-color-emoji, so without Symbola the 👋 is an empty box. No test needs the font.
"""
from __future__ import annotations

import subprocess
import sys

from shots import Screen, stop_server_process, submit

LESSON = [
    (0, "/topic Урок 4: многопользовательский чат на сокетах"),
    (0, "Доброе утро! Today: threads, sockets and IRC. Docs: https://docs.python.org/3/library/socket.html"),
    (1, "Привет всем! 👋"),
    (2, "/me raises a hand"),
    (2, "alice: does every client get its own thread on the server?"),
    (0, "carol: yes, one reader thread per connection, and one lock for the shared state."),
    (1, "Понятно, спасибо!"),
]


PROTOCOL_CHAT = [  # (who, what): alice types in the window, bob is a session of his own
    ("alice", "Hi Bob! Can you see my message?"),
    ("bob", "Yes: it came to me as a PRIVMSG line."),
    ("alice", "/me waves"),
    ("alice", "/whois bob"),
    ("alice", "/quote HELLO"),
]


def main() -> int:
    if sys.argv[1:] == ["--protocol"]:
        return protocol_picture()
    if sys.argv[1:]:
        sys.exit("usage: python3 docs/screenshot.py [--protocol]")
    with Screen("screenshot.py") as screen:
        if "Symbola" not in subprocess.run(["fc-list"], capture_output=True, text=True).stdout:
            print("screenshot.py: no Symbola font (Debian: fonts-symbola): the emoji will be an empty box",
                  file=sys.stderr)
        import chat_client_gui
        from common.gui.settings import Settings

        app = chat_client_gui.Application(Settings(), "en")
        screen.root = app.root
        try:
            chat_client_gui.run_demo(app, chat_client_gui.parse_args(["--demo"]))
            screen.wait_until(lambda: len(app.windows) == 3 and all(
                w.book.current == "#general" and len(w.member_list.nicks) == 3 for w in app.windows),
                "three windows in #general")
            for index, text in LESSON:
                submit(app.windows[index], text)
                shown = (text.split(" ", 1)[1] if text.startswith("/") else text)[:20]
                screen.wait_until(lambda: all(shown in w.view.text.get("1.0", "end") for w in app.windows),
                                  repr(shown))
            screen.snap("demo.png")
        finally:
            app.close_all()
            screen.wait_until(lambda: app.finished, "the windows to close")
    return 0


def protocol_picture() -> int:
    """docs/protocol_pane.png: alice's window, the whole screen, with View → Show the protocol open, while
    she and bob (a plain session) chat on a server with a password (PASS shows masked)."""
    with Screen("screenshot.py") as screen:
        from common.client.session import Session, SessionConfig
        from common.gui.settings import Settings
        from common.gui.widgets import AppToplevel
        from common.gui.window import ChatWindow
        from common.protocol.server_process import start_server_process

        server, (_host, port), _ = start_server_process(["--port", "0", "--db", ":memory:", "--password",
                                                         "classroom", "--log-level", "WARNING"])
        root = screen.hidden_root()
        bob = Session(SessionConfig(port=port, nick="bob", password="classroom", channels=("#general",)))
        window = None
        try:
            bob.start()
            bob.wait_joined("#general", 10)
            window = ChatWindow(AppToplevel(root), SessionConfig(port=port, nick="alice", password="classroom",
                                                                 channels=("#general",)),
                                Settings(show_protocol=True), "en", save=False)
            window.top.geometry("1366x740+0+0")  # and the menu bar above: the whole screen
            screen.wait_until(lambda: window.book.current == "#general" and len(window.member_list.nicks) == 2,
                              "alice to join")
            for who, text in PROTOCOL_CHAT:
                if who == "bob":
                    bob.send_text("#general", text)
                else:
                    submit(window, text)
                word = text.split()[-1]
                screen.wait_until(lambda: any(word in line for line in window.protocol.lines()[-12:]), repr(word))
            screen.wait_until(lambda: any(" 318 " in line for line in window.protocol.lines()), "the end of WHOIS")
            screen.wait_until(lambda: any(" 421 " in line for line in window.protocol.lines()),
                              "the unknown command")
            screen.snap("protocol_pane.png")
        finally:
            if window is not None:
                window.close()
                screen.wait_until(lambda: window.closed, "the window to close")
            bob.quit()
            root.destroy()
            stop_server_process(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
