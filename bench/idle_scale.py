#!/usr/bin/env python3
"""Idle scale: how fast the server registers many clients, and how much memory each idle one costs.

    python bench/idle_scale.py [--clients 2000 5000] [--runs 3] [--json FILE]

For each count it starts chat_server.py (history off, flood control off), connects and registers that many
clients as fast as one process can, waits for every welcome to end (376), and reads the server's RSS from
/proc. Memory per client = (RSS with the clients − RSS before) / clients. Listen overflows: connections the
kernel dropped meanwhile because the server's listen queue was full (machine-wide, so run it alone).

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


def measure(count: int) -> dict:
    server, (_host, port), _ = start_server_process(["--port", "0", "--no-history", "--log-level", "WARNING",
                                                      "--max-clients", str(count + 100), "--flood-rate", "0"])
    socks: list[socket.socket] = []
    try:
        before = rss_kib(server.pid)
        overflows_before = listen_overflows()
        started = time.perf_counter()
        for index in range(count):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(f"NICK idle{index}\r\nUSER idle 0 * :idle\r\n".encode())
            socks.append(sock)
        for sock in socks:
            wait_for(sock, b" 376 ")
        elapsed = time.perf_counter() - started
        overflows = listen_overflows() - overflows_before
        after = rss_kib(server.pid)
        threads = len(os.listdir(f"/proc/{server.pid}/task"))
    finally:
        # The server stops first, with its clients connected (under a second at 5000): closing 5000 clients
        # at once makes 5000 reader threads end together, which takes the server about ten seconds, and a
        # stop asked for meanwhile waited behind them for up to half a minute.
        server.terminate()
        server.wait(30)
        for sock in socks:
            sock.close()
    return {"clients": count, "registrations_per_second": count / elapsed, "rss_before_kib": before,
            "rss_after_kib": after, "kib_per_client": (after - before) / count, "server_threads": threads,
            "listen_overflows": overflows}


def summary(count: int, runs: list[dict]) -> dict:
    """One count's runs: the medians (under the keys of one run), the ranges, and every run."""
    rates = [run["registrations_per_second"] for run in runs]
    memory = [run["kib_per_client"] for run in runs]
    return {"clients": count, "registrations_per_second": statistics.median(rates),
            "registrations_range": [min(rates), max(rates)], "kib_per_client": statistics.median(memory),
            "kib_range": [min(memory), max(memory)], "server_threads": max(run["server_threads"] for run in runs),
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
    print(f"{'clients':>8} {'registrations/s (range)':>26} {'KiB per idle client (range)':>28} {'server threads':>15} "
          f"{'listen overflows':>17}")
    for result in results:
        rates = with_range(result["registrations_per_second"], *result["registrations_range"], ",.0f")
        memory = with_range(result["kib_per_client"], *result["kib_range"], ".1f")
        print(f"{result['clients']:>8} {rates:>26} {memory:>28} {result['server_threads']:>15} "
              f"{result['listen_overflows']:>17}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
