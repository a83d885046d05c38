#!/usr/bin/env python3
"""Message cost: the CPU one channel message takes in the server's own code, measured apart from the threads.

    python bench/message_cost.py [--clients 100] [--messages 2000] [--batch 50] [--gap 0] [--runs 5]
                                 [--caps "server-time message-tags"]

It runs a ChatServer in this process (flood control off) with ``--clients`` real clients on 127.0.0.1 in
#bench, read by a child process, and measures three steps, each on its thread's CPU clock, with history on
and off:

- the reader's: ``ChatServer._handle_line`` for one PRIVMSG to #bench (parse, dispatch under the state
  lock, the outbox), ``--messages`` times; the outboxes are taken instead of queued;
- the sequencer's: ``Sequencer._process`` on those outboxes, ``--batch`` at a time (store them in the
  history's log, then send each member its lines of the batch: one send per member and batch);
- with history on, the filler's: the CPU time of the thread that puts the log into SQLite meanwhile (its
  own clock; the run ends by waiting for it to store the rest).

Compare the sum, per delivery, with the server CPU per delivery of ``bench/chat_bench.py --scenario
fanout`` (100 clients, batches of about 50 on a busy server): what the running server spends beyond it
goes to what this leaves out, on purpose: the reader's poll() and recv(), the hand-over between threads,
and the same code running amid a hundred threads that take turns on the GIL.

``--gap SECONDS`` waits between messages (and handles batches of ``--batch``, e.g. 1): with ``--gap 0.02
--batch 1 --clients 500`` each message meets cold caches, like the paced scenario's one per 20 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat_bench import asking, connect_clients, filler_length, with_range  # noqa: E402  (bench/ is on the path)
from common.protocol.framing import LineFramer  # noqa: E402
from common.server.config import ServerConfig  # noqa: E402
from common.server.outbox import Outbox  # noqa: E402
from common.server.server import ChatServer  # noqa: E402

# The child that reads every client connection until the server closes them all.
DRAIN = """
import selectors, socket, sys
readable = selectors.DefaultSelector()
for fd in map(int, sys.argv[1:]):
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    readable.register(sock, selectors.EVENT_READ)
while readable.get_map():
    for key, _ in readable.select():
        try:
            if not key.fileobj.recv(1 << 20):
                readable.unregister(key.fileobj)
        except BlockingIOError:
            pass
"""


def cpu_us(step, items: list, gap: float) -> float:
    """This thread's CPU time for ``step(item)`` on each item, waiting ``gap`` seconds between (not counted)."""
    spent = 0
    for item in items:
        started = time.thread_time_ns()
        step(item)
        spent += time.thread_time_ns() - started
        if gap:
            time.sleep(gap)
    return spent / 1000


def thread_cpu_us(thread: threading.Thread | None) -> float:
    """The CPU time another thread of this process has used so far (0 without one)."""
    if thread is None:
        return 0.0
    return time.clock_gettime_ns(time.pthread_getcpuclockid(thread.ident)) / 1000


def measure(args: argparse.Namespace, history: bool) -> dict:
    """Both steps, ``args.runs`` times, on a fresh server with or without history."""
    with tempfile.TemporaryDirectory(prefix="classchat-cost-") as folder:
        config = ServerConfig(host="127.0.0.1", port=0, flood_rate=0, max_clients=args.clients + 10,
                              max_per_address=0, connects_per_minute=0, housekeeping_interval=3600, history=history,
                              db_path=os.path.join(folder, "history.sqlite3"))
        return measure_on(ChatServer(config), args)


def measure_on(server: ChatServer, args: argparse.Namespace) -> dict:
    """Serve ``server``, join the clients, measure both steps per message, and stop it."""
    serving = threading.Thread(target=server.serve_forever, name="serve_forever")
    serving.start()
    socks = connect_clients({"worker": 0, "protocol": "irc", "host": "127.0.0.1", "port": server.address[1],
                             "clients": args.clients, "senders": 1, "oper": None,
                             "caps": args.caps})  # as chat_bench's joins
    fds = [sock.fileno() for sock in socks]
    drain = subprocess.Popen([sys.executable, "-c", DRAIN, *map(str, fds)], pass_fds=fds)
    try:
        sender = server.state.find_client("b0x00000")  # connect_clients' first nick
        text = f"bench|w0:{1:010d} t={time.time_ns():019d} {'x' * filler_length(args.size)}#"  # as chat_bench's
        line = LineFramer().feed(f"PRIVMSG #bench :{text}\r\n".encode())[0]
        readers, sequencers, fillers = [], [], []
        filler = server.store.filler if server.store is not None else None
        for _ in range(args.runs):
            taken: list[Outbox] = []
            server.sequencer.submit = taken.append  # the outboxes stay here; the sequencer thread waits idle
            try:
                readers.append(cpu_us(lambda raw: server._handle_line(sender, raw), [line] * args.messages,
                                      args.gap) / args.messages)
            finally:
                del server.sequencer.submit
            batches = [taken[start:start + args.batch] for start in range(0, len(taken), args.batch)]
            filled_before = thread_cpu_us(filler)
            sequencers.append(cpu_us(server.sequencer._process, batches, args.gap) / args.messages)
            if server.store is not None:
                server.store.wait_until_stored(30)
            fillers.append((thread_cpu_us(filler) - filled_before) / args.messages)
    finally:
        server.shutdown()
        serving.join(10)
        server.server_close()
        for sock in socks:
            sock.close()
        drain.wait(30)
    return {"reader": readers, "sequencer": sequencers, "filler": fillers}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100, help="members of #bench, the sender among them")
    parser.add_argument("--messages", type=int, default=2000, help="messages per run")
    parser.add_argument("--batch", type=int, default=50, help="messages per sequencer batch")
    parser.add_argument("--gap", type=float, default=0.0, help="seconds to wait between messages and batches")
    parser.add_argument("--size", type=int, default=120, help="bytes of text per message, as chat_bench's")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--caps", metavar="LIST", help="capabilities every other client asks for, as chat_bench's")
    args = parser.parse_args()
    if args.clients < 2 or args.messages < 1 or args.batch < 1 or args.runs < 1 or args.gap < 0:
        parser.error("--clients must be at least 2, --messages, --batch and --runs at least 1, --gap not negative")
    print(f"message cost: {args.clients} clients in #bench, {args.messages} messages × {args.runs} runs, "
          f"batches of {args.batch}, {args.gap:g} s between{asking(args.caps)}; CPU per step, median (range)")
    print(f"{'history':>8} {'reader µs/message':>22} {'sequencer µs/message':>24} {'filler µs/message':>22}"
          f" {'µs/delivery':>12}")
    for history in (True, False):
        result = measure(args, history)
        steps = {step: statistics.median(values) for step, values in result.items()}
        print(f"{'on' if history else 'off':>8}" + "".join(
            f" {with_range(steps[step], min(result[step]), max(result[step]), '.1f'):>{width}}"
            for step, width in (("reader", 22), ("sequencer", 24), ("filler", 22)))
            + f" {sum(steps.values()) / (args.clients - 1):>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
