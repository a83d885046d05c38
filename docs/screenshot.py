#!/usr/bin/env python3
"""Take docs/demo.png: the real three-window demo on a virtual screen, with a short lesson typed into it.

    python docs/screenshot.py          (needs Debian's xvfb and imagemagick; uses DISPLAY if one is set)
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

from helpers import start_virtual_display  # noqa: E402  (the tests' Xvfb start-up)

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
    xvfb = None if os.environ.get("DISPLAY") else start_virtual_display()
    import chat_client_gui
    from common.gui.settings import Settings

    os.environ["XDG_CONFIG_HOME"] = str(ROOT / ".screenshot-config")
    app = chat_client_gui.Application(Settings(), "en")
    chat_client_gui.run_demo(app, chat_client_gui.parse_args(["--demo"]))
    pause = threading.Event()

    def pump(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            app.root.update()
            pause.wait(0.01)

    pump(2.0)
    for index, text in LESSON:
        entry = app.windows[index].input.entry
        entry.insert(0, text)
        app.windows[index].input.event_generate("<<InputSubmitted>>")
        pump(0.4)
    pump(1.0)
    target = ROOT / "docs" / "demo.png"
    subprocess.run(["import", "-window", "root", "-crop", "1920x800+0+0", str(target)], check=True)
    for window in list(app.windows):
        window.close()
    if xvfb is not None:
        xvfb.terminate()
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
