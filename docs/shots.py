"""The steps every docs/*_screenshot.py script shares: a virtual 1366x768 screen (a common laptop's), the Tk
loop pumped until a condition holds, a server run in the script's process, and the picture taken with
imagemagick's ``import``. Each script keeps only its own scene.

Needs Debian's xvfb (the screen) and imagemagick; the emoji need fonts-symbola (see docs/screenshot.py).
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


class Screen:
    """A private Xvfb with DISPLAY set to it, and a Tk loop to pump; ``script`` names the failing script
    in messages. Use as a context manager: Xvfb stops on the way out."""

    def __init__(self, script: str) -> None:
        self.script = script
        self.root = None  # the Tk root the pump drives, set by the script once it has one
        started = start_xvfb(SIZE)
        if started is None:
            sys.exit(f"{script}: needs Xvfb (Debian: apt install xvfb)")
        self.xvfb, os.environ["DISPLAY"] = started
        os.environ["XDG_CONFIG_HOME"] = str(ROOT / ".screenshot-config")
        self._pause = threading.Event()

    def __enter__(self) -> Screen:
        return self

    def __exit__(self, *_exc) -> None:
        self.xvfb.terminate()
        self.xvfb.wait(5)

    def hidden_root(self):
        """A withdrawn Tk root for scripts that open ChatWindows themselves (not through the Application)."""
        import tkinter as tk

        self.root = tk.Tk(className="classchat")
        self.root.withdraw()
        return self.root

    def wait_until(self, condition, what: str, timeout: float = 15.0) -> None:
        """Pump the Tk loop until ``condition()`` holds; exit with a message after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                sys.exit(f"{self.script}: timed out waiting for {what}")
            self.root.update()
            self._pause.wait(0.01)

    def snap(self, name: str) -> Path:
        """Draw what is pending and take the whole screen as docs/<name>."""
        self.root.update_idletasks()
        self.root.update()
        target = ROOT / "docs" / name
        subprocess.run(["import", "-window", "root", str(target)], check=True)
        print(f"wrote {target}")
        return target


def serve_in_thread(server) -> threading.Thread:
    """Run a ChatServer's serve_forever in a thread of this process (so the script can set its clock)."""
    serving = threading.Thread(target=server.serve_forever, name="serve_forever")
    serving.start()
    return serving


def stop_server_thread(server, serving: threading.Thread) -> None:
    server.shutdown()
    serving.join(5)
    server.server_close()


def stop_server_process(server) -> None:
    server.terminate()
    server.wait(5)
    if server.stdout is not None:
        server.stdout.close()


def submit(window, text: str) -> None:
    """Type ``text`` into a window's input line and press Enter."""
    window.input.entry.delete(0, "end")
    window.input.entry.insert(0, text)
    window.input.event_generate("<<InputSubmitted>>")
