#!/usr/bin/env python3
"""Idle scale: how fast the server registers many clients, and how much memory each idle one costs.

    python bench/idle_scale.py [--clients 2000 5000] [--runs 3] [--json FILE]

For each count it starts chat_server.py (history off, flood control off), connects and registers that many
clients as fast as one process can, waits for every welcome to end (376), and reads the server's RSS from
/proc. Memory per client = (RSS with the clients − RSS before) / clients. Listen overflows: connections the
kernel dropped meanwhile because the server's listen queue was full (machine-wide, so run it alone).
Then every client closes at once (a network that drops): the seconds until the server's reader threads
have all ended and a new client has registered.

Each count is measured ``--runs`` times, the counts taking turns, with a fresh server each time: the table
gives the median and the range. Both figures move between identical runs (registrations/s by a fifth, memory
by about 1.5 KiB on a 2-core virtual machine), so one run is no figure to compare.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chat_bench import wait_for, with_range  # noqa: E402  (bench/ is on the path: this script's folder)
from common.protocol.server_process import start_server_process  # noqa: E402

DISCONNECT_LIMIT_SECONDS = 60.0


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (TcpExt
    ListenOverflows in /proc/net/netstat): each one costs its client a SYN retry a second later."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for header, values in zip(lines[::2], lines[1::2]):
        if header.startswith("TcpExt:"):
            return dict(zip(header.split()[1:], map(int, values.split()[1:]))).get("ListenOverflows", 0)
    return 0


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def register(port: int, nick: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"NICK {nick}\r\nUSER idle 0 * :idle\r\n".encode())
    return sock


def disconnect_all(server_pid: int, port: int, socks: list[socket.socket], threads_before: int) -> float:
    """Close every client at once; seconds until the server is back to its own threads and has
    registered a new client (at most DISCONNECT_LIMIT_SECONDS, then the figure is that limit)."""
    started = time.perf_counter()
    for sock in socks:
        sock.close()
    socks.clear()
    deadline = time.monotonic() + DISCONNECT_LIMIT_SECONDS
    while thread_count(server_pid) > threads_before and time.monotonic() < deadline:
        time.sleep(0.01)  # polling /proc: the server has nothing to tell us when its threads end
    with register(port, "after") as probe:
        wait_for(probe, b" 376 ")
    return time.perf_counter() - started


def measure(count: int) -> dict:
    server, (_host, port), _ = start_server_process(["--port", "0", "--no-history", "--log-level", "WARNING",
                                                      "--max-clients", str(count + 100), "--flood-rate", "0"])
    socks: list[socket.socket] = []
    try:
        before = rss_kib(server.pid)
        threads_before = thread_count(server.pid)
        overflows_before = listen_overflows()
        started = time.perf_counter()
        for index in range(count):
            socks.append(register(port, f"idle{index}"))
        for sock in socks:
            wait_for(sock, b" 376 ")
        elapsed = time.perf_counter() - started
        overflows = listen_overflows() - overflows_before
        after = rss_kib(server.pid)
        threads = thread_count(server.pid)
        disconnect = disconnect_all(server.pid, port, socks, threads_before)
    finally:
        server.terminate()
        server.wait(30)
        for sock in socks:
            sock.close()
    return {"clients": count, "registrations_per_second": count / elapsed, "rss_before_kib": before,
            "rss_after_kib": after, "kib_per_client": (after - before) / count, "server_threads": threads,
            "listen_overflows": overflows, "disconnect_seconds": disconnect}


def summary(count: int, runs: list[dict]) -> dict:
    """One count's runs: the medians (under the keys of one run), the ranges, and every run."""
    rates = [run["registrations_per_second"] for run in runs]
    memory = [run["kib_per_client"] for run in runs]
    disconnect = [run["disconnect_seconds"] for run in runs]
    return {"clients": count, "registrations_per_second": statistics.median(rates),
            "registrations_range": [min(rates), max(rates)], "kib_per_client": statistics.median(memory),
            "kib_range": [min(memory), max(memory)], "disconnect_seconds": statistics.median(disconnect),
            "disconnect_range": [min(disconnect), max(disconnect)],
            "server_threads": max(run["server_threads"] for run in runs),
            "listen_overflows": sum(run["listen_overflows"] for run in runs), "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--runs", type=int, default=3, help="runs per count, taking turns (default: 3)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    runs: dict[int, list[dict]] = {count: [] for count in args.clients}
    for _ in range(args.runs):
        for count in args.clients:
            runs[count].append(measure(count))
    results = [summary(count, runs[count]) for count in args.clients]
    print(f"{'clients':>8} {'registrations/s (range)':>26} {'KiB per idle client (range)':>28} "
          f"{'all gone, s (range)':>22} {'server threads':>15} {'listen overflows':>17}")
    for result in results:
        rates = with_range(result["registrations_per_second"], *result["registrations_range"], ",.0f")
        memory = with_range(result["kib_per_client"], *result["kib_range"], ".1f")
        gone = with_range(result["disconnect_seconds"], *result["disconnect_range"], ".2f")
        print(f"{result['clients']:>8} {rates:>26} {memory:>28} {gone:>22} {result['server_threads']:>15} "
              f"{result['listen_overflows']:>17}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
