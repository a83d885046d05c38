#!/usr/bin/env python3
"""Take docs/demo.png: the real three-window demo on a virtual 1366x768 screen (a common laptop's), with a
short lesson typed into it.

    python3 docs/screenshot.py

Needs Debian's xvfb (the screen), imagemagick (its ``import`` takes the picture) and fonts-symbola for the
emoji: Tk 8.6 draws text through Xft, which draws outline fonts such as Symbola but not the colour bitmaps
of fonts-noto-color-emoji, so without Symbola the 👋 is an empty box. No test needs the font.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import start_xvfb  # noqa: E402  (the tests' Xvfb start-up)

SIZE = "1366x768"
LESSON = [
    (0, "/topic Урок 4: многопользовательский чат на сокетах"),
    (0, "Доброе утро! Today: threads, sockets and IRC. Docs: https://docs.python.org/3/library/socket.html"),
    (1, "Привет всем! 👋"),
    (2, "/me raises a hand"),
    (2, "alice: does every client get its own thread on the server?"),
    (0, "carol: yes, one reader thread per connection, and one lock for the shared state."),
    (1, "Понятно, спасибо!"),
]


def main() -> int:
    started = start_xvfb(SIZE)
    if started is None:
        sys.exit("screenshot.py: needs Xvfb (Debian: apt install xvfb)")
    xvfb, os.environ["DISPLAY"] = started
    if "Symbola" not in subprocess.run(["fc-list"], capture_output=True, text=True).stdout:
        print("screenshot.py: no Symbola font (Debian: fonts-symbola): the emoji will be an empty box",
              file=sys.stderr)
    os.environ["XDG_CONFIG_HOME"] = str(ROOT / ".screenshot-config")
    import chat_client_gui
    from common.gui.settings import Settings

    app = chat_client_gui.Application(Settings(), "en")
    pause = threading.Event()

    def wait_until(condition, what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                sys.exit(f"screenshot.py: timed out waiting for {what}")
            app.root.update()
            pause.wait(0.01)

    try:
        chat_client_gui.run_demo(app, chat_client_gui.parse_args(["--demo"]))
        wait_until(lambda: len(app.windows) == 3 and all(w.book.current == "#general" and len(w.member_list.nicks) == 3
                                                         for w in app.windows), "three windows in #general")
        for index, text in LESSON:
            window = app.windows[index]
            window.input.entry.insert(0, text)
            window.input.event_generate("<<InputSubmitted>>")
            shown = (text.split(" ", 1)[1] if text.startswith("/") else text)[:20]
            wait_until(lambda: all(shown in w.view.text.get("1.0", "end") for w in app.windows), repr(shown))
        app.root.update_idletasks()
        target = ROOT / "docs" / "demo.png"
        subprocess.run(["import", "-window", "root", str(target)], check=True)
        print(f"wrote {target}")
    finally:
        app.close_all()
        wait_until(lambda: app.finished, "the windows to close")
        xvfb.terminate()
        xvfb.wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
