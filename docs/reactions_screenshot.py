#!/usr/bin/env python3
"""Take docs/reactions.png: the teacher's window and two students' on a virtual 1366x768 screen, with a
message the teacher deleted and the class's reactions counted under the teacher's question and under a code
block (a message of several lines: its reactions go under its last line).

    python3 docs/reactions_screenshot.py

Like docs/screenshot.py it needs Debian's xvfb, imagemagick (``import``) and fonts-symbola for the emoji.
The teacher's window opens first, so the teacher is the channel's operator; thirteen more students are
plain connections that react; everything else goes through the windows as a person would (the deletion
and two students' reactions through the right-click menu of a message).
"""
from __future__ import annotations

import socket
import sys

from shots import Screen, stop_server_process, submit

WINDOWS = ("teacher", "masha", "petya")
ECHO_SERVER = "c, _ = s.accept()\nwhile d := c.recv(64):\n    c.sendall(d)"
CROWD = ("anya", "boris", "dasha", "egor", "fedya", "galya", "igor", "katya", "lena", "misha", "nina", "oleg", "sasha")


def main() -> int:
    with Screen("reactions_screenshot.py") as screen:
        return scene(screen)


def scene(screen: Screen) -> int:
    import chat_client_gui
    from common.gui.settings import Settings

    app = chat_client_gui.Application(Settings(), "en")
    screen.root = app.root
    wait_until = screen.wait_until
    server, port = chat_client_gui.start_demo_server()
    app.settings.host, app.settings.port, app.settings.channel = "127.0.0.1", port, "#general"
    crowd: list[socket.socket] = []

    def shown(window, text: str) -> bool:
        return text in window.view.text.get("1.0", "end")

    def say(index: int, text: str) -> None:
        submit(windows[index], text)
        words = (text.split(" ", 1)[1] if text.startswith("/") else text)[:16]
        wait_until(lambda: all(shown(other, words) for other in windows), repr(words))

    def paste(index: int, code: str) -> None:
        """Paste lines into a window's input line: they go out at once, as one message (a code block)."""
        window = windows[index]
        window.top.clipboard_clear()
        window.top.clipboard_append(code)
        window.input.entry.event_generate("<<Paste>>")
        last = code.splitlines()[-1].strip()
        wait_until(lambda: all(shown(other, last) for other in windows), repr(last))

    def choose(window, text: str, label: str) -> None:
        """Right-click the line showing ``text`` in ``window`` and choose ``label`` from its menu."""
        view = window.view
        index = view.text.search(text, "1.0")
        x, y, width, height = view.text.bbox(index)
        view.text.event_generate("<Button-3>", x=x + width // 2, y=y + height // 2, rootx=10, rooty=10)
        menu = window.message_actions.menu
        menu.unpost()
        menu.invoke(next(i for i in range(menu.index("end") + 1)
                         if menu.type(i) == "command" and menu.entrycget(i, "label") == label))

    def msgid_of(text: str) -> str:
        return next(line.msgid for line in windows[0].book.find("#general").lines if line.text.startswith(text))

    def react(nicks, text: str, emoji: str) -> None:
        msgid = msgid_of(text)
        for nick in nicks:
            crowd[CROWD.index(nick)].sendall(f"@+draft/reply={msgid};+draft/react={emoji} TAGMSG #general\r\n".encode())

    try:
        tiles = chat_client_gui.tile_side_by_side(len(WINDOWS), app.root.winfo_screenwidth(),
                                                  app.root.winfo_screenheight())
        configs = [chat_client_gui.session_config(app.settings, nick, None) for nick in WINDOWS]
        windows = [app.open_window(configs[0], tiles[0], save=False)]
        wait_until(lambda: windows[0].session.is_joined("#general"), "the teacher to join")
        for nick in CROWD:  # the rest of the class, plain connections that only react
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(f"CAP REQ :message-tags\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nCAP END\r\n"
                         f"JOIN #general\r\n".encode())
            crowd.append(sock)
        windows += [app.open_window(config, tile, save=False) for config, tile in zip(configs[1:], tiles[1:])]
        wait_until(lambda: all(w.book.current == "#general" for w in windows)
                   and len(windows[0].member_list.nicks) == len(WINDOWS) + len(CROWD), "everyone in #general")
        say(0, "/topic Урок 5: потоки и сокеты")
        say(0, "Today: one thread per connection, one lock for the shared state.")
        say(1, "Привет! 👋")
        say(2, "this lesson is boring lol")
        choose(windows[0], "this lesson is boring", "Delete")
        wait_until(lambda: all(shown(w, "message deleted by the teacher") for w in windows), "the placeholder")
        say(0, "Is that clear? 👍 if it is, ❓ if you are lost.")
        choose(windows[1], "Is that clear?", "👍  understood")
        choose(windows[2], "Is that clear?", "❓  lost")
        react(CROWD[:11], "Is that clear? 👍 if it is, ❓ if you are lost.", "👍")
        react(CROWD[11:], "Is that clear? 👍 if it is, ❓ if you are lost.", "❓")
        say(0, "Exercise 1: an echo server. ✅ when it runs.")
        paste(0, ECHO_SERVER)
        say(1, "/me starts on exercise 1")
        choose(windows[1], "c.sendall(d)", "✅  done")  # a line of the block: the block's menu
        react(CROWD[:4], ECHO_SERVER.splitlines()[0], "✅")
        wait_until(lambda: all(shown(w, "👍 12 understood") and shown(w, "❓ 3 lost") and shown(w, "✅ 5 done")
                               for w in windows), "the counts")
        screen.snap("reactions.png")
    finally:
        for sock in crowd:
            sock.close()
        app.close_all()
        wait_until(lambda: app.finished, "the windows to close")
        stop_server_process(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
