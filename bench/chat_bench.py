#!/usr/bin/env python3
"""Fan-out benchmark: how many deliveries per second a chat server sustains, with what latency, losing none.

    python bench/chat_bench.py [--clients 100] [--senders 10] [--seconds 5] [--runs 3] [--json FILE]
                               [--against HOST:PORT ...] [--seed PATH] [--history-cost]

It starts our server (chat_server.py, flood control off) on a free port and measures it; ``--against``
adds any running IRC server, ``--seed PATH`` the original student server (raw text lines, no
registration), each measured in turn in the same run. ``--history-cost`` measures our server with the
SQLite history on and off.

The load comes from two worker processes, each holding half of the clients. Receivers count bench lines
in bulk (a marker counted in each received chunk, never a parse per line). Every 16th message carries
its send time, and one probe connection per worker turns those into latencies. The loop is closed: a
worker keeps at most ``--window`` of its own messages in flight (sent but not yet seen by its probe), so
kernel buffers cannot hide a backlog. After the senders stop, the workers drain until nothing more
arrives; "lost" is what the server accepted and never delivered, and must be 0.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.server_process import start_server_process  # noqa: E402
MARKER = b"bench|"  # starts every bench message's text; appears nowhere else in a line
SAMPLE_EVERY = 16


# ------------------------------------------------------------------------------------------ worker

def connect_clients(host: str, port: int, count: int, worker: int, protocol: str) -> list[socket.socket]:
    """Open and register ``count`` clients in #bench; returns them once the server confirmed every join."""
    socks = []
    for index in range(count):
        sock = socket.create_connection((host, port), timeout=30)
        if protocol == "irc":
            nick = f"b{worker}x{index}"
            sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :bench\r\nJOIN #bench\r\n".encode())
        socks.append(sock)
    if protocol == "irc":
        for sock in socks:
            wait_for_numeric(sock, b"366")
    for sock in socks:
        sock.setblocking(False)
    return socks


def wait_for_numeric(sock: socket.socket, code: bytes) -> None:
    """Read a blocking socket until the server sends numeric ``code`` (answering PINGs meanwhile)."""
    seen = b""
    while f" {code.decode()} ".encode() not in seen:
        data = sock.recv(65536)
        if not data:
            raise SystemExit("the server closed a bench connection during registration")
        seen = seen[-600:] + data
        if b"PING" in data:
            token = data.split(b"PING", 1)[1].split(b"\r\n", 1)[0].strip()
            sock.sendall(b"PONG " + token + b"\r\n")


def run_worker(config: dict) -> dict:
    """One load process: some senders, some pure receivers, one probe; reports its counts."""
    worker, protocol = config["worker"], config["protocol"]
    socks = connect_clients(config["host"], config["port"], config["clients"], worker, protocol)
    senders = socks[: config["senders"]]
    probe = socks[-1]
    own_marker = MARKER + f"w{worker}:".encode()
    selector = selectors.DefaultSelector()
    tails = {sock: b"" for sock in socks}
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    delivered = 0
    own_seen = 0
    sent = 0
    latencies: list[float] = []
    prefix = b"PRIVMSG #bench :" if protocol == "irc" else b""
    filler = b"x" * max(0, config["size"] - 40)
    window = config["window"]
    start_at = config["start_at"]
    while time.time() < start_at:
        time.sleep(min(0.01, start_at - time.time()))  # all workers begin together
    stop_at = start_at + config["seconds"]
    last_arrival = time.monotonic()

    def read_ready(timeout: float) -> None:
        nonlocal delivered, own_seen, last_arrival
        for key, _ in selector.select(timeout):
            sock = key.fileobj
            try:
                data = sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                selector.unregister(sock)
                continue
            last_arrival = time.monotonic()
            tail = tails[sock]
            chunk = tail + data
            # The tail is shorter than a marker plus the worker tag, so a marker cut by the edge of a
            # read is counted once: what the tail held alone was counted with the previous read.
            delivered += chunk.count(MARKER) - tail.count(MARKER)
            tails[sock] = chunk[-(len(own_marker) - 1):]
            if sock is probe:
                own_seen += chunk.count(own_marker) - tail.count(own_marker)
                position = chunk.find(b" t=")
                now = time.time_ns()
                while position >= 0:
                    end = chunk.find(b" ", position + 3)
                    if end > 0:
                        try:
                            latencies.append((now - int(chunk[position + 3:end])) / 1e6)
                        except ValueError:
                            pass  # a sample cut by the chunk edge: skip it
                    position = chunk.find(b" t=", position + 3)

    while time.time() < stop_at:
        if sent - own_seen < window:
            batch = []
            for sender in senders:
                sent += 1
                stamp = f" t={time.time_ns()} " if sent % SAMPLE_EVERY == 0 else " "
                batch.append((sender, prefix + own_marker + str(sent).encode() + stamp.encode() + filler + b"\r\n"))
            for sender, line in batch:
                try:
                    sender.sendall(line)
                except BlockingIOError:
                    sender.setblocking(True)
                    sender.sendall(line)
                    sender.setblocking(False)
            read_ready(0)
        else:
            read_ready(0.005)
    drain_deadline = time.monotonic() + 10
    while time.monotonic() - last_arrival < 1.0 and time.monotonic() < drain_deadline:
        read_ready(0.1)
    for sock in socks:
        sock.close()
    return {"sent": sent, "delivered": delivered, "latencies": latencies[:20000]}


# ------------------------------------------------------------------------------------------ main

def start_our_server(history_folder: str | None) -> tuple[subprocess.Popen, int]:
    """Our server, flood control off; with a fresh SQLite history file in ``history_folder``, or none."""
    args = ["--port", "0", "--flood-rate", "0", "--log-level", "WARNING", "--max-clients", "20000",
            "--sendq", str(8 * 1024 * 1024)]
    if history_folder is not None:
        args += ["--db", tempfile.mktemp(suffix=".sqlite3", dir=history_folder)]
    else:
        args += ["--no-history"]
    process, (_host, port), _ = start_server_process(args)
    return process, port


def start_seed(path: str) -> tuple[subprocess.Popen, int]:
    """The original student server listens on a fixed 127.0.0.1:8088."""
    server = subprocess.Popen([sys.executable, path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", 8088), timeout=1).close()
            return server, 8088
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise SystemExit("the seed server did not start on 127.0.0.1:8088")
            time.sleep(0.05)


def measure(host: str, port: int, protocol: str, args: argparse.Namespace) -> dict:
    """One scenario run against one server: two worker processes, each with half the clients."""
    half = args.clients // 2
    start_at = time.time() + 3 + args.clients / 500
    configs = [{"worker": w, "host": host, "port": port, "protocol": protocol, "clients": half,
                "senders": args.senders // 2, "seconds": args.seconds, "window": args.window, "size": args.size,
                "start_at": start_at} for w in range(2)]
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(config)], stdout=subprocess.PIPE,
                                text=True) for config in configs]
    results = [json.loads(worker.communicate(timeout=args.seconds + 120)[0]) for worker in workers]
    sent = sum(result["sent"] for result in results)
    delivered = sum(result["delivered"] for result in results)
    latencies = sorted(latency for result in results for latency in result["latencies"])
    expected = sent * (args.clients - 1)
    return {
        "sent": sent, "delivered": delivered, "lost": max(0, expected - delivered),
        "deliveries_per_second": delivered / args.seconds,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else float("nan"),
    }


def run_series(name: str, start, protocol: str, args: argparse.Namespace) -> dict:
    runs = []
    for _ in range(args.runs):
        server, port = start()
        try:
            runs.append(measure("127.0.0.1", port, protocol, args))
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
    rates = [run["deliveries_per_second"] for run in runs]
    return {"server": name, "runs": runs, "median_rate": statistics.median(rates), "min_rate": min(rates),
            "max_rate": max(rates), "p50_ms": statistics.median(run["p50_ms"] for run in runs),
            "p99_ms": statistics.median(run["p99_ms"] for run in runs), "lost": sum(run["lost"] for run in runs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=int, default=100, help="messages a worker may have in flight")
    parser.add_argument("--size", type=int, default=120, help="bytes of text per message")
    parser.add_argument("--against", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("--seed", metavar="PATH", help="the original student server.py, as the baseline")
    parser.add_argument("--history-cost", action="store_true", help="our server with history on and off")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(prefix="classchat-bench-") as history_folder:
        series = [run_series("classchat (history on)", lambda: start_our_server(history_folder), "irc", args)]
    if args.history_cost:
        series.append(run_series("classchat (history off)", lambda: start_our_server(None), "irc", args))
    if args.seed:
        series.append(run_series("seed server.py", lambda: start_seed(args.seed), "raw", args))
    for address in args.against:
        host, _, port = address.rpartition(":")
        series.append(run_series(address, lambda: (None, int(port)), "irc", args))
    ours = series[0]["median_rate"]
    print(f"fan-out: {args.clients} clients in one channel, {args.senders} sending, {args.seconds:g} s, "
          f"{args.runs} run(s); {os.cpu_count()} CPUs")
    print(f"{'server':28} {'deliveries/s (range)':>30} {'vs ours':>8} {'p50 ms':>8} {'p99 ms':>8} {'lost':>6}")
    for entry in series:
        spread = f"{entry['median_rate']:,.0f} ({entry['min_rate']:,.0f}–{entry['max_rate']:,.0f})"
        print(f"{entry['server']:28} {spread:>30} {entry['median_rate'] / ours:>8.2f} {entry['p50_ms']:>8.1f} "
              f"{entry['p99_ms']:>8.1f} {entry['lost']:>6}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "series": series}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
