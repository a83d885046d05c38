#!/usr/bin/env python3
"""GUI ingestion benchmark: the longest stall of the Tk loop while a window receives a message flood.

    python bench/gui_stall.py [--rate 1000] [--seconds 5] [--protocol-pane] [--json FILE]

It starts chat_server.py (flood control off), opens one real ChatWindow (on Xvfb when there is no
display), and floods #general from a separate process at ``--rate`` messages per second. A 5 ms
``after()`` heartbeat in the Tk loop records every gap; the longest gap while the flood runs is the stall
a user would feel. With --protocol-pane the window's protocol pane (View → Show the protocol) is open
too, drawing every raw line of the flood. Needs Debian's xvfb when no DISPLAY is set.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from common.protocol.server_process import start_server_process  # noqa: E402
from helpers import start_virtual_display  # noqa: E402  (the tests' Xvfb start-up)


def flood(port: int, rate: float, seconds: float) -> None:
    """The flooding client (run in its own process): ``rate`` messages a second, paced by the clock."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"NICK flooder\r\nUSER f 0 * :f\r\nJOIN #general\r\n")
    start = time.monotonic()
    sent = 0
    pause = threading.Event()
    total = int(rate * seconds)
    while sent < total:
        due = int((time.monotonic() - start) * rate) + 1
        batch = b"".join(f"PRIVMSG #general :flood message {n} Съешь ещё этих мягких булок\r\n".encode()
                         for n in range(sent, min(due, total)))
        if batch:
            sock.sendall(batch)
            sent = min(due, total)
        pause.wait(0.002)
    sock.sendall(b"PRIVMSG #general :flood-done\r\nQUIT\r\n")
    sock.recv(1)
    sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the flood lasts (default: %(default)s)")
    parser.add_argument("--protocol-pane", action="store_true", help="with the protocol pane open")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--flooder", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder:
        flood(args.flooder, args.rate, args.seconds)
        return 0

    xvfb = None if os.environ.get("DISPLAY") else start_virtual_display("1280x800")
    server, (_host, port), _ = start_server_process(["--port", "0", "--flood-rate", "0", "--no-history",
                                                      "--log-level", "WARNING"])
    try:
        figures = measure(port, args)
    finally:
        server.terminate()
        server.wait(5)
        if xvfb is not None:
            xvfb.terminate()
    pane = " with the protocol pane open" if args.protocol_pane else ""
    print(f"GUI ingestion: {args.rate:.0f} messages/s for {args.seconds:.0f} s into one window{pane}")
    print(f"  longest Tk loop stall : {figures['max_stall_ms']:.1f} ms  (target: under 50 ms)")
    print(f"  99th percentile gap   : {figures['p99_gap_ms']:.1f} ms")
    print(f"  median gap            : {figures['median_gap_ms']:.1f} ms  (heartbeat every 5 ms)")
    print(f"  last message shown    : #{figures['last_shown']} of {figures['messages_sent']} "
          f"(scrollback keeps {figures['kept_lines']}, {'no gaps' if figures['gapless'] else 'GAPS'})")
    print(f"  all shown after       : {figures['drain_seconds']:.2f} s")
    if args.protocol_pane:
        print(f"  protocol pane         : {figures['pane_lines']} lines kept, {figures['pane_missed']} not shown "
              f"(fell out of the session's log before a tick)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


def measure(port: int, args: argparse.Namespace) -> dict:
    import tkinter as tk

    from common.gui.settings import Settings
    from common.gui.window import ChatWindow
    from common.client.session import SessionConfig

    root = tk.Tk()
    root.withdraw()
    window = ChatWindow(tk.Toplevel(root), SessionConfig(port=port, nick="viewer", channels=("#general",)),
                        Settings(show_protocol=args.protocol_pane), "en", save=False)
    pause = threading.Event()
    deadline = time.monotonic() + 10
    while not window.session.is_joined("#general") and time.monotonic() < deadline:
        root.update()
        pause.wait(0.01)
    beats: list[float] = []

    def heartbeat() -> None:
        beats.append(time.perf_counter())
        root.after(5, heartbeat)

    root.after(5, heartbeat)
    flooder = subprocess.Popen([sys.executable, __file__, "--flooder", str(port), "--rate", str(args.rate),
                                "--seconds", str(args.seconds)])
    started = time.perf_counter()
    conversation = None
    def pane_done() -> bool:
        return not args.protocol_pane or any("flood-done" in line for line in window.protocol.lines()[-3:])

    while conversation is None or not any("flood-done" in line.text for line in list(conversation.lines)[-3:]) \
            or not pane_done():
        root.update()
        conversation = window.book.find("#general")
        if time.perf_counter() - started > args.seconds + 30:
            break
    drained = time.perf_counter() - started
    flooder.wait(10)
    numbers = [int(line.text.split()[2]) for line in conversation.lines if line.text.startswith("flood message")]
    # The scrollback keeps the newest lines only; what it keeps must be a gapless run up to the last one.
    gapless = numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else False
    pane_lines = window.protocol.lines()
    pane_missed = sum(int(line.split()[1]) for line in pane_lines if line.startswith("… "))
    window.close()
    root.destroy()
    gaps = [(b - a) * 1000 for a, b in zip(beats, beats[1:])]
    return {
        "rate": args.rate, "seconds": args.seconds, "messages_sent": int(args.rate * args.seconds),
        "last_shown": numbers[-1] if numbers else -1, "kept_lines": len(numbers), "gapless": gapless,
        "max_stall_ms": max(gaps), "p99_gap_ms": statistics.quantiles(gaps, n=100)[98],
        "median_gap_ms": statistics.median(gaps), "drain_seconds": drained,
        "protocol_pane": args.protocol_pane, "pane_lines": len(pane_lines), "pane_missed": pane_missed,
    }


if __name__ == "__main__":
    sys.exit(main())
