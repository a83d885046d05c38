#!/usr/bin/env python3
"""GUI ingestion benchmark: the longest stall of the Tk loop while a window receives a message flood, or
a burst of reactions to one message.

    python bench/gui_stall.py [--rate 1000] [--seconds 5] [--protocol-pane] [--json FILE]
    python bench/gui_stall.py --scenario poll [--voters 300] [--json FILE]
    python bench/gui_stall.py --scenario reactions [--reactors 300] [--json FILE]

It starts chat_server.py (flood control off), opens one real ChatWindow (on Xvfb when there is no
display), and floods #general from a separate process at ``--rate`` messages per second. A 5 ms
``after()`` heartbeat in the Tk loop records every gap; the longest gap while the flood runs is the stall
a user would feel. With --protocol-pane the window's protocol pane (View → Show the protocol) is open
too, drawing every raw line of the flood. Needs Debian's xvfb when no DISPLAY is set.

``--scenario poll``: the window is the teacher's (the channel's operator); ``--voters`` clients of a
separate process join, the teacher opens a named poll from the window, and every voter answers at once,
then half of them change their answer: each vote brings the teacher's window the voter's line and the
new counts, and the live chart follows. The stall is measured from the opening of the poll until the
chart shows every vote and the closed poll.

``--scenario reactions``: ``--reactors`` connections (300) join #general first; then, at once, each reacts
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


def vote(port: int, voters: int) -> None:
    """The voting clients (run in their own process): ``voters`` connections join #general and say
    "joined" on stdout; on "vote" from stdin each answers the open poll, then every other one changes its
    answer, and the process says "voted"; on "quit" they leave. It runs at the lowest priority: the voters
    stand for other computers, and must not take the CPU from the window being measured."""
    os.nice(19)
    socks = []
    for index in range(voters):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"NICK voter{index}\r\nUSER v 0 * :v\r\nJOIN #general\r\n".encode())
        socks.append(sock)
    stop = threading.Event()
    drainer = threading.Thread(target=drain, args=(socks, stop), daemon=True)
    drainer.start()
    print("joined", flush=True)
    for command in sys.stdin:
        if command.strip() == "vote":
            for index, sock in enumerate(socks):
                sock.sendall(f"VOTE #general {index % 3 + 1}\r\n".encode())
            for index, sock in enumerate(socks[::2]):
                sock.sendall(f"VOTE #general {(index + 1) % 3 + 1}\r\n".encode())
            print("voted", flush=True)
        elif command.strip() == "quit":
            break
    stop.set()
    for sock in socks:
        sock.sendall(b"QUIT\r\n")
        sock.close()


def drain(socks: list[socket.socket], stop: threading.Event) -> None:
    """Read whatever the server sends the voters, so that none of them is dropped for not reading."""
    import selectors
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            selector.register(sock, selectors.EVENT_READ)
        while not stop.is_set():
            for key, _ in selector.select(0.2):
                try:
                    key.fileobj.recv(65536)
                except OSError:
                    selector.unregister(key.fileobj)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("flood", "poll", "reactions"), default="flood",
                        help="a message flood at --rate, a poll with --voters answers, or one burst of --reactors"
                             " reactions to one message (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=1000.0, help="messages per second (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the flood lasts (default: %(default)s)")
    parser.add_argument("--protocol-pane", action="store_true", help="with the protocol pane open")
    parser.add_argument("--voters", type=int, default=300, help="voters of the poll scenario (default: %(default)s)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--reactors", type=int, default=300, help="reactions in the burst (default: %(default)s)")
    parser.add_argument("--flooder", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--reacting", nargs=2, metavar=("PORT", "MSGID"), help=argparse.SUPPRESS)
    parser.add_argument("--voter", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flooder:
        flood(args.flooder, args.rate, args.seconds)
        return 0
    if args.reacting:
        react(int(args.reacting[0]), args.reacting[1], args.reactors)
        return 0
    if args.voter:
        vote(args.voter, args.voters)
        return 0

    xvfb = None if os.environ.get("DISPLAY") else start_virtual_display("1280x800")
    history = ["--no-history"] if args.scenario == "flood" else ["--db", ":memory:"]
    server, (_host, port), _ = start_server_process(["--port", "0", "--flood-rate", "0", *history,
                                                      "--max-per-address", "0", "--log-level", "WARNING"])
    try:
        scenarios = {"flood": measure, "poll": measure_poll, "reactions": measure_reactions}
        figures = scenarios[args.scenario](port, args)
    finally:
        server.terminate()
        server.wait(5)
        if xvfb is not None:
            xvfb.terminate()
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    if args.scenario == "reactions":
        print(f"GUI reactions: {args.reactors} reactions to one message, arriving at once")
        print(f"  longest Tk loop stall : {figures['max_stall_ms']:.1f} ms  (target: under 50 ms)")
        print(f"  99th percentile gap   : {figures['p99_gap_ms']:.1f} ms")
        print(f"  counts shown after    : {figures['counted_seconds']:.2f} s  ({figures['counts']})")
        print(f"  reaction line drawn   : {figures['redraws']} times")
        return 0
    if args.scenario == "poll":
        print(f"GUI poll: {args.voters} voters answer a named poll at once, then {(args.voters + 1) // 2} change "
              f"their answer ({figures['votes']} votes) into the teacher's window")
        print(f"  longest Tk loop stall : {figures['max_stall_ms']:.1f} ms  (target: under 50 ms)")
        print(f"  99th percentile gap   : {figures['p99_gap_ms']:.1f} ms")
        print(f"  median gap            : {figures['median_gap_ms']:.1f} ms  (heartbeat every 5 ms)")
        print(f"  longest Tk thread CPU between two beats : {figures['max_tk_cpu_ms']:.1f} ms  (the window's own work)")
        print(f"  chart drawn           : {figures['chart_draws']} times in {figures['seconds']:.2f} s "
              f"(final counts {figures['counts']}); this process used {figures['process_cpu_ms']:.0f} ms of CPU")
        return 0
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


def measure_poll(port: int, args: argparse.Namespace) -> dict:
    import tkinter as tk

    from common.client.classroom import make_poll_request
    from common.client.session import SessionConfig
    from common.gui.settings import Settings
    from common.gui.window import ChatWindow

    root = tk.Tk()
    root.withdraw()
    window = ChatWindow(tk.Toplevel(root), SessionConfig(port=port, nick="teacher", channels=("#general",)),
                        Settings(), "en", save=False)

    def pump(condition, what: str, timeout: float = 60.0) -> None:
        """Run Tk's own main loop, as the program does, until ``condition()`` holds (checked every 10 ms)."""
        deadline = time.monotonic() + timeout

        def check() -> None:
            if condition() or time.monotonic() > deadline:
                root.quit()
            else:
                root.after(10, check)

        root.after(10, check)
        root.mainloop()
        if not condition():
            raise SystemExit(f"gui_stall.py: timed out waiting for {what}")

    pump(lambda: window.session.is_joined("#general"), "the teacher to join")
    voters = subprocess.Popen([sys.executable, __file__, "--voter", str(port), "--voters", str(args.voters)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        voters.stdout.readline()  # "joined": each has sent its JOIN
        pump(lambda: len(window.session.members("#general")) == args.voters + 1, "the voters to join")
        # Their joins drawn first (the member list, "voter… joined"): the measure is of the poll alone.
        pump(lambda: len(window.member_list.nicks) == args.voters + 1 and window.session.events.empty()
             and window.classroom.winfo_manager(), "the joins to be drawn")
        beats: list[tuple[float, float]] = []  # (wall clock, the Tk thread's own CPU time) at each beat

        def heartbeat() -> None:
            beats.append((time.perf_counter(), time.thread_time()))
            root.after(5, heartbeat)

        root.after(5, heartbeat)
        started = time.perf_counter()
        cpu_started = time.process_time()
        window.classroom.open_poll(make_poll_request("Which is the fastest?", ["threads", "select", "asyncio"],
                                                     True, "0"))
        pump(lambda: window.session.classroom("#general").poll is not None, "the poll to open")
        voters.stdin.write("vote\n")
        voters.stdin.flush()
        expected = [0, 0, 0]
        for index in range(args.voters):
            expected[(index % 3 if index % 2 else (index // 2 + 1) % 3)] += 1
        chart = window.classroom.chart
        pump(lambda: chart.poll is not None and list(chart.poll.counts) == expected and chart._draw_id is None,
             "every vote on the chart")
        window.classroom.close_poll()
        pump(lambda: chart.poll.closed and chart._draw_id is None, "the poll to close")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        measured = list(beats)  # what follows (the voters leaving, the window closing) is not measured
        voters.stdin.write("quit\n")
        voters.stdin.flush()
        voters.wait(10)
    finally:
        if voters.poll() is None:
            voters.kill()
    window.close()
    pump(lambda: window.closed, "the window to close")
    root.destroy()
    gaps = [(b[0] - a[0]) * 1000 for a, b in zip(measured, measured[1:])]
    busy = [(b[1] - a[1]) * 1000 for a, b in zip(measured, measured[1:])]
    return {
        "voters": args.voters, "votes": args.voters + (args.voters + 1) // 2, "counts": expected,
        "max_stall_ms": max(gaps), "p99_gap_ms": statistics.quantiles(gaps, n=100)[98],
        "median_gap_ms": statistics.median(gaps), "max_tk_cpu_ms": max(busy), "process_cpu_ms": cpu * 1000,
        "chart_draws": chart.draws, "seconds": seconds,
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
