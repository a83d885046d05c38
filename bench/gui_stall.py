#!/usr/bin/env python3
"""GUI ingestion benchmark: the longest stall of the Tk loop while a window receives a message flood, or
a burst of reactions to one message.

    python bench/gui_stall.py [--rate 1000] [--seconds 5] [--json FILE]
    python bench/gui_stall.py --scenario reactions [--reactors 300] [--json FILE]

It starts chat_server.py (flood control off), opens one real ChatWindow (on Xvfb when there is no
display), and floods #general from a separate process at ``--rate`` messages per second. A 5 ms
``after()`` heartbeat in the Tk loop records every gap; the longest gap while the flood runs is the stall
a user would feel. Needs Debian's xvfb when no DISPLAY is set.

The reactions scenario: ``--reactors`` connections (300) join #general first; then, at once, each reacts
to the window's message with 👍, ✅ or ❓ in turn (a TAGMSG with +draft/react and +draft/reply); it measures
the longest stall from the burst until the counts under the message say all of them.
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

REACTIONS = ("👍", "✅", "❓")

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


def react(port: int, msgid: str, reactors: int) -> None:
    """The reacting class (run in its own process): ``reactors`` connections join #general, say "ready" on
    stdout, and when stdin says "go" each sends its reaction, all at once."""
    socks = []
    for index in range(reactors):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"CAP REQ :message-tags\r\nNICK r{index}\r\nUSER r 0 * :r\r\nCAP END\r\n"
                     "JOIN #general\r\n".encode())
        socks.append(sock)
    for sock in socks:  # each has joined once its NAMES end
        received = b""
        while b" 366 " not in received:
            received += sock.recv(65536)
    print("ready", flush=True)
    sys.stdin.readline()
    lines = [f"@+draft/reply={msgid};+draft/react={REACTIONS[index % 3]} TAGMSG #general\r\n".encode()
             for index in range(reactors)]
    for sock, line in zip(socks, lines):
        sock.sendall(line)
    sys.stdin.readline()  # "done": the window has counted them
    for sock in socks:
        sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the flood lasts (default: %(default)s)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--scenario", choices=["flood", "reactions"], default="flood",
                        help="messages at --rate, or one burst of reactions to one message (default: %(default)s)")
    parser.add_argument("--reactors", type=int, default=300, help="reactions in the burst (default: %(default)s)")
    parser.add_argument("--flooder", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--reacting", nargs=2, metavar=("PORT", "MSGID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder:
        flood(args.flooder, args.rate, args.seconds)
        return 0
    if args.reacting:
        react(int(args.reacting[0]), args.reacting[1], args.reactors)
        return 0

    xvfb = None if os.environ.get("DISPLAY") else start_virtual_display("1280x800")
    history = ["--no-history"] if args.scenario == "flood" else ["--db", ":memory:"]
    server, (_host, port), _ = start_server_process(["--port", "0", "--flood-rate", "0", *history,
                                                      "--max-per-address", "0", "--log-level", "WARNING"])
    try:
        figures = measure(port, args) if args.scenario == "flood" else measure_reactions(port, args)
    finally:
        server.terminate()
        server.wait(5)
        if xvfb is not None:
            xvfb.terminate()
    if args.scenario == "reactions":
        print(f"GUI reactions: {args.reactors} reactions to one message, arriving at once")
        print(f"  longest Tk loop stall : {figures['max_stall_ms']:.1f} ms  (target: under 50 ms)")
        print(f"  99th percentile gap   : {figures['p99_gap_ms']:.1f} ms")
        print(f"  counts shown after    : {figures['counted_seconds']:.2f} s  ({figures['counts']})")
        print(f"  reaction line drawn   : {figures['redraws']} times")
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False))
        return 0
    print(f"GUI ingestion: {args.rate:.0f} messages/s for {args.seconds:.0f} s into one window")
    print(f"  longest Tk loop stall : {figures['max_stall_ms']:.1f} ms  (target: under 50 ms)")
    print(f"  99th percentile gap   : {figures['p99_gap_ms']:.1f} ms")
    print(f"  median gap            : {figures['median_gap_ms']:.1f} ms  (heartbeat every 5 ms)")
    print(f"  last message shown    : #{figures['last_shown']} of {figures['messages_sent']} "
          f"(scrollback keeps {figures['kept_lines']}, {'no gaps' if figures['gapless'] else 'GAPS'})")
    print(f"  all shown after       : {figures['drain_seconds']:.2f} s")
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
                        Settings(), "en", save=False)
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
    while conversation is None or not any("flood-done" in line.text for line in list(conversation.lines)[-3:]):
        root.update()
        conversation = window.book.find("#general")
        if time.perf_counter() - started > args.seconds + 30:
            break
    drained = time.perf_counter() - started
    flooder.wait(10)
    numbers = [int(line.text.split()[2]) for line in conversation.lines if line.text.startswith("flood message")]
    # The scrollback keeps the newest lines only; what it keeps must be a gapless run up to the last one.
    gapless = numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else False
    window.close()
    root.destroy()
    gaps = [(b - a) * 1000 for a, b in zip(beats, beats[1:])]
    return {
        "rate": args.rate, "seconds": args.seconds, "messages_sent": int(args.rate * args.seconds),
        "last_shown": numbers[-1] if numbers else -1, "kept_lines": len(numbers), "gapless": gapless,
        "max_stall_ms": max(gaps), "p99_gap_ms": statistics.quantiles(gaps, n=100)[98],
        "median_gap_ms": statistics.median(gaps), "drain_seconds": drained,
    }



def measure_reactions(port: int, args: argparse.Namespace) -> dict:
    import tkinter as tk

    from common.gui.settings import Settings
    from common.gui.window import ChatWindow
    from common.client.session import SessionConfig

    root = tk.Tk()
    root.withdraw()
    window = ChatWindow(tk.Toplevel(root), SessionConfig(port=port, nick="teacher", channels=("#general",)),
                        Settings(), "en", save=False)
    pause = threading.Event()

    def pump_until(condition, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            root.update()
            pause.wait(0.005)

    def question_msgid() -> str | None:
        conversation = window.book.find("#general")
        return next((line.msgid for line in conversation.lines if line.msgid), None) if conversation else None

    pump_until(lambda: window.session.is_joined("#general"))
    window.session.send_text("#general", "Is that clear?")
    pump_until(lambda: question_msgid() is not None)
    msgid = question_msgid()
    reactors = subprocess.Popen([sys.executable, __file__, "--reacting", str(port), msgid, "--reactors",
                                 str(args.reactors)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = threading.Event()
    threading.Thread(target=lambda: (reactors.stdout.readline(), ready.set()), daemon=True).start()
    pump_until(ready.is_set, timeout=120)
    pump_until(lambda: len(window.session.members("#general")) > args.reactors and window.session.events.empty())
    redraws = []
    set_reactions = window.view.marks.set_reactions
    window.view.marks.set_reactions = lambda *a: redraws.append(1) or set_reactions(*a)  # noqa: E731
    beats: list[float] = []

    def heartbeat() -> None:
        beats.append(time.perf_counter())
        root.after(5, heartbeat)

    root.after(5, heartbeat)
    pump_until(lambda: len(beats) > 10)
    started = time.perf_counter()
    reactors.stdin.write("go\n")
    reactors.stdin.flush()
    pump_until(lambda: sum(count for _, count in window.session.reactions.counts(msgid)) >= args.reactors)
    counted = time.perf_counter() - started
    pump_until(lambda: False, timeout=0.2)  # a little more of the loop, drawn and idle
    question = window.view.text.search("Is that clear?", "1.0")
    shown = window.view.text.get(f"{question} +1 line linestart", f"{question} +1 line lineend")
    reactors.stdin.write("done\n")
    reactors.stdin.flush()
    reactors.wait(10)
    window.close()
    root.destroy()
    gaps = [(b - a) * 1000 for a, b in zip(beats, beats[1:]) if b >= started]
    return {"reactors": args.reactors, "max_stall_ms": max(gaps),
            "p99_gap_ms": statistics.quantiles(gaps, n=100, method="inclusive")[98],
            "counted_seconds": counted, "counts": shown.strip(), "redraws": len(redraws)}


if __name__ == "__main__":
    sys.exit(main())
