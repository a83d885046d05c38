#!/usr/bin/env python3
"""The classchat benchmark: every scenario of issue #7, or the ones named, as tables and as JSON.

    python bench/chat_bench.py [--scenario NAME ...] [--runs 3] [--json FILE]
                               [--against HOST:PORT ...] [--seed PATH] [--ngircd] [--history-cost]

Without ``--scenario`` it runs them all and writes ``bench-results.json``:
``fanout`` is 100 clients in one channel with 10 sending as fast as the loop allows (``--clients``,
``--senders`` and ``--seconds`` change it), with history on and off (the storage cost); ``fanout1000``
the same with 1000 clients; ``paced`` 500 clients and one sender at 50 messages per second for 10 s,
every message timed; ``idle`` 2000 and 5000 registered clients (bench/idle_scale.py: memory per client
and registrations per second); ``gui`` the longest stall of the Tk loop at 1000 messages per second
(bench/gui_stall.py, on Xvfb when there is no display).

It starts our server (chat_server.py, flood control off) on a free port and measures it; ``--against``
adds any running IRC server, ``--seed PATH`` the original student server (raw text lines, no
registration), ``--ngircd`` Debian's ngircd with a generated loopback configuration, each measured in
turn in the same run. ``--history-cost`` measures our server with the SQLite history on and off.

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
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.protocol.server_process import start_server_process  # noqa: E402
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
    interval = 1.0 / config["rate"] if config["rate"] else 0.0  # paced: one message per interval
    sample_every = 1 if interval else SAMPLE_EVERY
    print("ready", flush=True)  # every client registered and joined: the parent picks one start time
    start_at = float(sys.stdin.readline())
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

    next_send = start_at
    while time.time() < stop_at:
        if interval and time.time() < next_send:
            read_ready(max(0.0, min(0.005, next_send - time.time())))
            continue
        next_send += interval
        if senders and sent - own_seen < window:
            batch = []
            for sender in senders:
                sent += 1
                stamp = f" t={time.time_ns()} " if sent % sample_every == 0 else " "
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
    return {"sent": sent, "delivered": delivered, "latencies": latencies[:50000]}


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


NGIRCD_CONFIG = """[Global]
    Name = ngircd.bench
    Info = benchmark
    Listen = 127.0.0.1
    Ports = {port}
    PidFile = {folder}/ngircd.pid
[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxPenaltyTime = 0
    PingTimeout = 600
    PongTimeout = 600
[Options]
    Ident = no
    PAM = no
    DNS = no
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(server: subprocess.Popen, port: int, name: str) -> tuple[subprocess.Popen, int]:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit(f"{name} did not start on 127.0.0.1:{port}")
            time.sleep(0.05)


def start_ngircd(folder: str) -> tuple[subprocess.Popen, int]:
    """Debian's ngircd on a free port, limits and penalties off so that it is measured at full speed."""
    port = free_port()
    config = Path(folder) / "ngircd.conf"
    config.write_text(NGIRCD_CONFIG.format(port=port, folder=folder))
    server = subprocess.Popen(["ngircd", "--nodaemon", "--config", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    return wait_listening(server, port, "ngircd")


def start_seed(path: str) -> tuple[subprocess.Popen, int]:
    """The original student server listens on a fixed 127.0.0.1:8088. It prints every message it
    relays: its output must go somewhere that never fills (an unread pipe would stall it)."""
    server = subprocess.Popen([sys.executable, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_listening(server, 8088, "the seed server")


def measure(host: str, port: int, protocol: str, args: argparse.Namespace) -> dict:
    """One scenario run against one server: two worker processes, each with half the clients (and half
    the senders; an odd one goes to the first)."""
    half = args.clients // 2
    configs = [{"worker": w, "host": host, "port": port, "protocol": protocol, "clients": half,
                "senders": (args.senders + 1 - w) // 2, "seconds": args.seconds, "window": args.window,
                "size": args.size, "rate": args.rate} for w in range(2)]
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(config)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for config in configs]
    began = time.monotonic()
    for worker in workers:  # some servers register slowly (ngircd: about 11 clients a second here)
        if worker.stdout.readline().strip() != "ready":
            raise SystemExit("a load worker failed while connecting its clients")
    registration_seconds = time.monotonic() - began
    start_at = f"{time.time() + 0.5}\n"
    for worker in workers:
        worker.stdin.write(start_at)
        worker.stdin.flush()
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
        "max_ms": latencies[-1] if latencies else float("nan"),
        "registration_seconds": registration_seconds,
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
            "p99_ms": statistics.median(run["p99_ms"] for run in runs),
            "max_ms": max(run["max_ms"] for run in runs), "lost": sum(run["lost"] for run in runs)}


SCENARIOS = {
    "fanout": {"clients": 100, "senders": 10, "rate": 0.0},
    "fanout1000": {"clients": 1000, "senders": 10, "rate": 0.0},
    "paced": {"clients": 500, "senders": 1, "rate": 50.0, "seconds": 10.0},
}
OTHER_SCRIPTS = {"idle": "idle_scale.py", "gui": "gui_stall.py"}  # scenarios with a script of their own


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=[*SCENARIOS, *OTHER_SCRIPTS],
                        help="one scenario (repeatable); all of them when not given")
    parser.add_argument("--clients", type=int, help="override the scenario's number of clients")
    parser.add_argument("--senders", type=int, help="override the scenario's number of senders")
    parser.add_argument("--seconds", type=float, help="override the scenario's duration (default 5)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", type=int, default=100, help="messages a worker may have in flight")
    parser.add_argument("--size", type=int, default=120, help="bytes of text per message")
    parser.add_argument("--against", action="append", default=[], metavar="HOST:PORT")
    parser.add_argument("--seed", metavar="PATH", help="the original student server.py, as the baseline")
    parser.add_argument("--ngircd", action="store_true", help="also measure Debian's ngircd, started here")
    parser.add_argument("--history-cost", action="store_true",
                        help="our server with history on and off (always, when every scenario runs)")
    parser.add_argument("--json", metavar="FILE", help="where the figures go (default with every scenario: "
                                                       "bench-results.json)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    if args.ngircd and shutil.which("ngircd") is None:
        parser.error("--ngircd: ngircd is not installed (Debian package ngircd)")
    every = not args.scenario
    if every:
        args.history_cost = True
        args.json = args.json or "bench-results.json"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    report = {}
    for name in args.scenario or [*SCENARIOS, *OTHER_SCRIPTS]:
        if name in OTHER_SCRIPTS:
            report[name] = run_script(OTHER_SCRIPTS[name])
            continue
        scenario = argparse.Namespace(**{**vars(args), "seconds": 5.0, **SCENARIOS[name]})
        for option in ("clients", "senders", "seconds"):
            if getattr(args, option) is not None:
                setattr(scenario, option, getattr(args, option))
        scenario.history_cost = args.history_cost and name == "fanout"
        report[name] = run_scenario(name, scenario)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "cpus": os.cpu_count(), "scenarios": report},
                                              indent=2))
        print(f"\nfigures written to {args.json}")
    return 0


def run_script(script: str) -> object:
    """A scenario measured by its own script (it prints its table); returns the figures it wrote."""
    print(flush=True)
    with tempfile.TemporaryDirectory(prefix="classchat-bench-") as folder:
        figures = Path(folder) / "figures.json"
        subprocess.run([sys.executable, str(Path(__file__).with_name(script)), "--json", str(figures)], check=True)
        return json.loads(figures.read_text())


def run_scenario(name: str, args: argparse.Namespace) -> list[dict]:
    """Every server asked for, in turn, in one scenario; prints the table and returns the series."""
    with tempfile.TemporaryDirectory(prefix="classchat-bench-") as folder:
        series = [run_series("classchat (history on)", lambda: start_our_server(folder), "irc", args)]
        if args.history_cost:
            series.append(run_series("classchat (history off)", lambda: start_our_server(None), "irc", args))
        if args.seed:
            series.append(run_series("seed server.py", lambda: start_seed(args.seed), "raw", args))
        if args.ngircd:
            series.append(run_series("ngircd", lambda: start_ngircd(folder), "irc", args))
        for address in args.against:
            host, _, port = address.rpartition(":")
            series.append(run_series(address, lambda: (None, int(port)), "irc", args))
    ours = series[0]["median_rate"]
    pace = f", paced at {args.rate:g} messages/s" if args.rate else ", closed loop"
    print(f"\n{name}: {args.clients} clients in one channel, {args.senders} sending{pace}, {args.seconds:g} s, "
          f"{args.runs} run(s); {os.cpu_count()} CPUs")
    print(f"{'server':28} {'deliveries/s (range)':>30} {'vs ours':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'lost':>8}")
    for entry in series:
        spread = f"{entry['median_rate']:,.0f} ({entry['min_rate']:,.0f}–{entry['max_rate']:,.0f})"
        print(f"{entry['server']:28} {spread:>30} {entry['median_rate'] / ours:>8.2f} {entry['p50_ms']:>8.1f} "
              f"{entry['p99_ms']:>8.1f} {entry['max_ms']:>8.1f} {entry['lost']:>8}", flush=True)
    return series


if __name__ == "__main__":
    sys.exit(main())
