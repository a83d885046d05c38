#!/usr/bin/env python3
"""The classchat benchmark: every scenario of issue #7, or the ones named, as tables and as JSON.

    python bench/chat_bench.py [--scenario NAME ...] [--runs 3] [--window 400] [--json FILE]
                               [--seed PATH] [--ngircd] [--inspircd] [--against HOST:PORT ...]
                               [--history-cost] [--caps "server-time message-tags"]
    python bench/chat_bench.py --markdown bench-results.json     # README's Performance tables

Without ``--scenario`` it runs them all and writes ``bench-results.json``:
``fanout`` is 100 clients in one channel with 10 sending as fast as the loop allows (``--clients``,
``--senders`` and ``--seconds`` change it), with history on and off (the storage cost); ``fanout1000``
the same with 1000 clients; ``paced`` 500 clients and one sender at 50 messages per second for 10 s;
``idle`` 2000 and 5000 registered clients (bench/idle_scale.py: memory per client, registrations per
second, and how long all of them closing at once keeps the server busy); ``gui`` the longest stall of
the Tk loop at 1000 messages per second (bench/gui_stall.py, on Xvfb when there is no display);
``fanout_tags`` is ``fanout`` with every other client asking for server-time and message-tags. The
bench's clients ask for no IRCv3 capabilities unless ``--caps`` names some (as fanout_tags does): then
every other one does, so a channel's members get two variants of each line (with tags and without), as
in a class where some use an IRCv3 client and some an old one.
InspIRCd then loads its IRCv3 modules, ngircd offers none of them (its clients all get plain lines), and
the seed, which speaks no IRC, is left out.

It starts our server (chat_server.py, flood control off) on a free port; ``--seed PATH`` adds the
original student server (raw text lines, no registration), ``--ngircd`` Debian's ngircd and
``--inspircd`` Debian's InspIRCd 3, each with a generated loopback configuration in which the bench
clients are never throttled (``NGIRCD_CONFIG``, ``INSPIRCD_CONFIG``), and ``--against`` any IRC server
running on this machine (its process, for the CPU figures, is found through /proc). Each run starts every
server afresh, and the servers take turns run by run, so that a change in the machine's load falls on
all of them alike.

Two worker processes each hold half of the clients and half of the senders. The loop is closed: a worker
keeps at most ``--window`` of its own messages in flight (sent, not yet seen by its probe connection);
the default, 400, is where ngircd's and our deliveries per second stop growing on a 2-core machine (at
100 both were held back, ngircd to half its rate). A worker reads its probe at once and its other
receivers every ``CROWD_EVERY`` seconds, so that each recv() brings many lines and the load generator
takes less of the CPU the server needs.
Over the measured interval the parent reads the server's CPU time (utime + stime in /proc/PID/stat) and
the machine's (/proc/stat), and the workers their own: per run the table gives the server's CPU per
delivery, the cores used by the server, by the load generator and by everything else on the machine.

Every bench line has one length on a connection (fixed-width nicks, numbers and time stamps), so a
receiver checks each chunk in bulk: newlines, carriage returns, end marks and markers must sit at
multiples of that length, which strided slices count in C. A chunk that fails the check is split and
each line matched in full against the pattern of an intact line; so is every line a probe receives,
which also gives the latencies. "damaged" counts lines that carry a bench marker but are not intact
(cut, merged with another, or altered: the bulk check sees cuts, merges and a changed filler, the full
match also a changed number or prefix); "lost" is what the server accepted and never delivered intact.
Only what arrives within the measured interval counts toward deliveries per second; afterwards the
workers drain until nothing more arrives, for "lost".

The latencies are the probes' alone: each worker's probe is the last of its clients to join, so it sits
near the end of the channel's member order, and a server that sends in that order (classchat, the seed)
reaches it among the last. The p50 and p99 are therefore close to the time a message takes to reach its
whole audience, not its first reader.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.protocol.server_process import start_server_process  # noqa: E402

MARKER = b"bench|"  # starts every bench message's text; appears nowhere else in a line
PAYLOAD_FRAME = b"bench|w0:0000000000 t=0000000000000000000 #"  # a payload without its filler
REGISTERING_AT_ONCE = 4  # a worker's unanswered registrations: ngircd's listen backlog is 10
LATENCY_SAMPLES = 200_000  # per worker, at most
# How often a worker reads its receivers other than the probe (which it reads at once): often enough that
# a receiver's backlog stays a few kilobytes at 1 M deliveries/s (ngircd drops a client whose 32 KiB write
# buffer fills), seldom enough that a recv() brings many lines. Measured: paced, 23 -> 6 µs of load
# generator CPU per delivery; closed loop, 0.54 -> 0.45 with ngircd.
CROWD_EVERY = 0.01
CROWD_EVERY_PACED = 0.1


# ------------------------------------------------------------------------------------------ worker

def intact_line(protocol: str, size: int) -> re.Pattern[bytes]:
    """The whole of an intact bench line as the server relays it (groups: worker, number, send time)."""
    payload = rb"bench\|w(\d):(\d{10}) t=(\d{19}) x{%d}#\r\n" % filler_length(size)
    return re.compile((rb"(?:@[^ ]+ )?:[^ ]+ PRIVMSG #bench :" if protocol == "irc" else b"") + payload)


def filler_length(size: int) -> int:
    return max(0, size - len(PAYLOAD_FRAME))


@dataclass
class Tally:
    """What a worker's receivers counted beside the intact lines."""
    damaged: int = 0  # lines with a marker that are not intact
    damaged_messages: int = 0  # markers in those lines
    other: int = 0  # lines without a marker (JOIN, QUIT, notices)


class Stream:
    """One connection's incoming bytes as bench lines: ``take(data)`` returns how many intact ones the
    chunk completed. The probe's lines are all matched in full, for latencies and its worker's count."""

    def __init__(self, sock: socket.socket, size: int, pattern: re.Pattern[bytes], tally: Tally,
                 probe_of: int | None, sample_every: int) -> None:
        self.sock, self.pattern, self.tally = sock, pattern, tally
        self.ending = b"x" * filler_length(size) + b"#\r\n"  # the filler and end of every intact line
        self.partial = b""  # the start of a line whose end has not arrived
        self.length = 0  # of every intact line on this connection, once one has been seen
        self.bar = 0  # where the marker's "|" sits in such a line
        self.probe_of = str(probe_of).encode() if probe_of is not None else None
        self.own_seen = 0
        self.sample_every = sample_every
        self.latencies: list[float] = []

    def take(self, data: bytes) -> int:
        buf = self.partial + data
        length = self.length
        if length and self.probe_of is None:
            lines = len(buf) // length
            bars = buf[self.bar::length]
            if (buf.count(b"\n") == lines and buf[length - 1::length].count(b"\n") == lines
                    and buf.count(self.ending) == lines and bars.count(b"|") == len(bars)):
                self.partial = buf[lines * length:]
                return lines
        return self.split(buf)

    def split(self, buf: bytes) -> int:
        """The slow path: every complete line matched on its own."""
        pieces = buf.split(b"\n")
        self.partial = pieces.pop()
        intact = 0
        now = time.time_ns()
        for piece in pieces:
            line = piece + b"\n"
            match = self.pattern.fullmatch(line)
            if match is not None:
                intact += 1
                self.length, self.bar = len(line), line.index(MARKER) + len(MARKER) - 1
                if self.probe_of is not None:
                    self.own_seen += match.group(1) == self.probe_of
                    if int(match.group(2)) % self.sample_every == 0 and len(self.latencies) < LATENCY_SAMPLES:
                        self.latencies.append((now - int(match.group(3))) / 1e6)
            elif MARKER in line:
                self.tally.damaged += 1
                self.tally.damaged_messages += line.count(MARKER)
            elif line.startswith(b"PING"):
                send_all(self.sock, b"PONG" + line[4:])
            else:
                self.tally.other += 1
        return intact


def send_all(sock: socket.socket, data: bytes) -> None:
    """Send every byte on a non-blocking socket, waiting (10 s at most) while the kernel refuses."""
    view = memoryview(data)
    while view:
        try:
            view = view[sock.send(view):]
        except BlockingIOError:
            with selectors.DefaultSelector() as selector:
                selector.register(sock, selectors.EVENT_WRITE)
                if not selector.select(10):
                    raise SystemExit("a bench connection could not send for 10 s")


def connect_clients(config: dict) -> list[socket.socket]:
    """Open and register the worker's clients and join them to #bench, a few registrations at a time so
    that no listen backlog overflows; JOIN waits for the welcome (InspIRCd refuses it before). Senders
    also become operators when the server needs it to lift its limits. With ``caps`` (IRC only), every
    other client asks for those capabilities before registering, as a real client does (a server that
    lacks one refuses the request and the client goes on without). Returns the clients once the server
    confirmed every join."""
    worker, protocol = config["worker"], config["protocol"]
    socks: list[socket.socket] = []
    registering: deque[socket.socket] = deque()

    def join(sock: socket.socket) -> None:
        wait_for(sock, b" 001 ")
        sock.sendall(b"JOIN #bench\r\n")

    for index in range(config["clients"]):
        sock = socket.create_connection((config["host"], config["port"]), timeout=30)
        socks.append(sock)
        if protocol == "irc":
            nick = f"b{worker}x{index:05d}"
            register = f"NICK {nick}\r\nUSER {nick} 0 * :bench\r\n"
            if config.get("caps") and index % 2:
                register = f"CAP REQ :{config['caps']}\r\n{register}CAP END\r\n"
            sock.sendall(register.encode())
            registering.append(sock)
            if len(registering) >= REGISTERING_AT_ONCE:
                join(registering.popleft())
    if protocol == "irc":
        for sock in registering:
            join(sock)
        for sock in socks:
            wait_for(sock, b" 366 ")
    if config["oper"]:
        name, password, mode = config["oper"]
        for index, sock in enumerate(socks[: config["senders"]]):
            nick = f"b{worker}x{index:05d}"
            sock.sendall(f"OPER {name} {password}\r\nMODE {nick} {mode}\r\n".encode())
            wait_for(sock, f" MODE {nick} :{mode}".encode())  # after 381, which it needs
    for sock in socks:
        sock.setblocking(False)
    return socks


def wait_for(sock: socket.socket, token: bytes) -> None:
    """Read a blocking socket until ``token`` arrives (answering PINGs meanwhile), 60 s at most."""
    seen = b""
    deadline = time.monotonic() + 60
    while token not in seen:
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            raise SystemExit(f"no {token.decode().strip()!r} from the server within 60 s: {seen[-300:]!r}")
        if not data:
            raise SystemExit(f"the server closed a bench connection while it waited for {token!r}: {seen[-300:]!r}")
        seen = seen[-600:] + data
        if b"PING" in data:
            ping = data.split(b"PING", 1)[1].split(b"\r\n", 1)[0].strip()
            sock.sendall(b"PONG " + ping + b"\r\n")


def run_worker(config: dict) -> dict:
    """One load process: some senders, some pure receivers, one probe; reports its counts."""
    worker = config["worker"]
    socks = connect_clients(config)
    senders = socks[: config["senders"]]
    pattern = intact_line(config["protocol"], config["size"])
    interval = 1.0 / config["rate"] if config["rate"] else 0.0  # paced: one message per interval
    tally = Tally()
    streams = [Stream(sock, config["size"], pattern, tally, worker if sock is socks[-1] else None,
                      1 if interval else 4) for sock in socks]
    probe = streams[-1]
    probe_selector, crowd_selector = selectors.DefaultSelector(), selectors.DefaultSelector()
    for stream in streams:
        (probe_selector if stream is probe else crowd_selector).register(stream.sock, selectors.EVENT_READ, stream)
    crowd_every = CROWD_EVERY_PACED if interval else CROWD_EVERY
    prefix = b"PRIVMSG #bench :" if config["protocol"] == "irc" else b""
    filler = b"x" * filler_length(config["size"])
    window = config["window"]
    counts = {"delivered": 0, "reads": 0, "closed": 0}
    last_arrival = time.monotonic()
    next_crowd = 0.0

    def read_from(selector: selectors.BaseSelector, timeout: float) -> int:
        """Read every connection of ``selector`` that has data, waiting up to ``timeout``; returns how
        many had some."""
        nonlocal last_arrival
        ready = selector.select(timeout)
        for key, _ in ready:
            stream = key.data
            try:
                data = stream.sock.recv(262144)
            except (BlockingIOError, InterruptedError):
                continue
            if not data:
                selector.unregister(stream.sock)
                counts["closed"] += 1
                continue
            last_arrival = time.monotonic()
            counts["reads"] += 1
            counts["delivered"] += stream.take(data)
        return len(ready)

    def read_ready(timeout: float, everyone: bool = False) -> int:
        """The probe at once, the other receivers every ``crowd_every`` seconds (or now, with
        ``everyone``): they read more lines per recv(), and the load generator spends less CPU."""
        nonlocal next_crowd
        if everyone:
            return read_from(probe_selector, 0) + read_from(crowd_selector, timeout)
        count = read_from(probe_selector, timeout)
        if (now := time.monotonic()) >= next_crowd:
            next_crowd = now + crowd_every
            count += read_from(crowd_selector, 0)
        return count

    print("ready", flush=True)  # every client registered and joined
    sys.stdin.readline()  # so have the other worker's: what their joins sent is read before the clock starts
    quiet_by = time.monotonic() + 60
    while read_ready(0.05, everyone=True) and time.monotonic() < quiet_by:
        pass
    print("drained", flush=True)
    start_at = float(sys.stdin.readline())  # one start time for both workers
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))  # all workers begin together
    counts["delivered"] = 0
    cpu_start = time.process_time()
    stop_at = start_at + config["seconds"]
    sent = 0
    window_wait = 0.0  # seconds spent waiting because the window was full
    in_flight_sum = in_flight_max = rounds = 0
    next_send = start_at

    def send_round() -> None:
        """One message from every sender (a client types one line at a time), stamped with one time."""
        nonlocal sent
        stamp = time.time_ns()
        for sender in senders:
            sent += 1
            send_all(sender, b"%sbench|w%d:%010d t=%019d %s#\r\n" % (prefix, worker, sent, stamp, filler))

    while (now := time.time()) < stop_at:
        if interval:  # paced: one message per sender and interval
            if now >= next_send:
                next_send += interval
                send_round()
            read_ready(max(0.0, min(0.005, next_send - time.time())))
            continue
        in_flight = sent - probe.own_seen
        if senders and in_flight < window:
            rounds += 1
            in_flight_sum += in_flight
            in_flight_max = max(in_flight_max, in_flight)
            send_round()
            read_ready(0)
        else:
            waited = time.monotonic()
            read_ready(0.005)
            if senders:
                window_wait += time.monotonic() - waited
    in_time = {"delivered_in_time": counts["delivered"], "reads_in_time": counts["reads"],
               "cpu_seconds": time.process_time() - cpu_start}
    drain_deadline = time.monotonic() + 10
    while time.monotonic() - last_arrival < 1.0 and time.monotonic() < drain_deadline:
        read_ready(0.1, everyone=True)
    for sock in socks:
        sock.close()
    latencies = [latency for stream in streams for latency in stream.latencies]
    return {"sent": sent, **in_time, "delivered": counts["delivered"], "damaged": tally.damaged,
            "damaged_messages": tally.damaged_messages, "other_lines": tally.other, "closed": counts["closed"],
            "window_wait_seconds": window_wait, "in_flight_mean": in_flight_sum / rounds if rounds else 0.0,
            "in_flight_max": in_flight_max, "latencies": latencies}


# ------------------------------------------------------------------------------------------ servers

class Server(NamedTuple):
    """A server to measure: how to start it (None: it is already running), what it speaks, how its
    flood control is set, and the operator login that lifts its per-client limits, if any."""
    name: str
    start: Callable[[], tuple[subprocess.Popen | None, int, int | None]]  # process, port, pid
    protocol: str
    flood_settings: str
    oper: tuple[str, str, str] | None = None


OUR_SENDQ = 8 * 1024 * 1024
# What fanout_tags's clients ask for (every other one): the tags an IRCv3 client such as ours or WeeChat
# takes on every message (server-time, message-tags: a time and a msgid).
IRCV3_CLIENT_CAPS = "server-time message-tags"


def start_our_server(history_folder: str | None) -> tuple[subprocess.Popen, int, int]:
    """Our server, flood control off; with a fresh SQLite history file in ``history_folder``, or none."""
    args = ["--port", "0", "--flood-rate", "0", "--log-level", "WARNING", "--max-clients", "20000",
            "--sendq", str(OUR_SENDQ)]
    if history_folder is not None:
        args += ["--db", tempfile.mktemp(suffix=".sqlite3", dir=history_folder)]
    else:
        args += ["--no-history"]
    process, (_host, port), _ = start_server_process(args)
    return process, port, process.pid


# ngircd 26 throttles a client three ways (src/ngircd/conn.c): more than 256 bytes a second or a full
# read buffer add a penalty second (MaxPenaltyTime = 0 caps every such penalty at 0 s), and it handles
# at most 3 of a user's commands per pass of its main loop, 10 with user mode +F, which only an
# operator may set. The bench's senders log in as operators and set +F: nothing is left that delays them.
# Its 32 KiB write buffer per client (WRITEBUFFER_MAX_LEN) is fixed at compile time.
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
[Operator]
    Name = bench
    Password = bench
"""
NGIRCD_FLOOD_SETTINGS = "MaxPenaltyTime 0 (no penalty), senders opered with +F (10 commands a pass, not 3)"


# InspIRCd 3 (Debian's inspircd) with one connect class for the bench: fake lag off and a penalty
# threshold and command rate no bench client reaches, so that it never delays or drops one; send queues
# as large as ours; a listen backlog of 4096.
INSPIRCD_CONFIG = """<server name="inspircd.bench" description="benchmark" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="bench" allow="127.0.0.1" maxchans="20" timeout="60" pingfreq="10m" hardsendq="8M"
         softsendq="8M" recvq="1M" threshold="1000000" commandrate="1000000000" fakelag="no"
         localmax="100000" globalmax="100000" resolvehostnames="no" useident="no" limit="100000">
<performance netbuffersize="65536" somaxconn="4096" softlimit="100000" clonesonconnect="no">
<channels users="20" opers="60">
<pid file="{folder}/inspircd.pid">
{modules}"""
# With --caps: what InspIRCd needs to offer server-time and message-tags (with a msgid on every message),
# so that its clients that ask get tagged lines as ours do. Loaded only then: a module costs a little
# on every message even for clients that never ask.
INSPIRCD_IRCV3_MODULES = "".join(f'<module name="{name}">\n' for name in (
    "cap", "ircv3", "ircv3_servertime", "ircv3_msgid", "ircv3_ctctags", "ircv3_accounttag", "ircv3_batch"))
INSPIRCD_FLOOD_SETTINGS = ("fakelag off, threshold 1,000,000, commandrate 1,000,000 lines/s (never reached), "
                           "hardsendq and softsendq 8 MiB")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(server: subprocess.Popen, port: int, name: str) -> tuple[subprocess.Popen, int, int]:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port, server.pid
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise SystemExit(f"{name} did not start on 127.0.0.1:{port}")
            time.sleep(0.05)


def start_ngircd(folder: str) -> tuple[subprocess.Popen, int, int]:
    """Debian's ngircd on a free port, in the foreground, with NGIRCD_CONFIG."""
    port = free_port()
    config = Path(folder) / "ngircd.conf"
    config.write_text(NGIRCD_CONFIG.format(port=port, folder=folder))
    server = subprocess.Popen(["ngircd", "--nodaemon", "--config", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    return wait_listening(server, port, "ngircd")


def start_inspircd(folder: str, ircv3: bool) -> tuple[subprocess.Popen, int, int]:
    """Debian's InspIRCd on a free port, in the foreground, with INSPIRCD_CONFIG (and its IRCv3 modules
    when ``ircv3``)."""
    port = free_port()
    config = Path(folder) / "inspircd.conf"
    config.write_text(INSPIRCD_CONFIG.format(port=port, folder=folder,
                                             modules=INSPIRCD_IRCV3_MODULES if ircv3 else ""))
    root = ["--runasroot"] if os.geteuid() == 0 else []  # it refuses root otherwise
    server = subprocess.Popen(["inspircd", "--nofork", *root, "--config", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    return wait_listening(server, port, "inspircd")


def start_seed(path: str) -> tuple[subprocess.Popen, int, int]:
    """The original student server listens on a fixed 127.0.0.1:8088. It prints every message it
    relays: its output must go somewhere that never fills (an unread pipe would stall it)."""
    server = subprocess.Popen([sys.executable, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return wait_listening(server, 8088, "the seed server")


def listening_pid(port: int) -> int | None:
    """The process that listens on 127.0.0.1:``port`` (any address), found through /proc; None when it
    cannot be seen from here."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isascii() or not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def running_server(address: str) -> Server:
    host, _, port = address.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"--against {address}: the bench sends its load to 127.0.0.1 only")
    return Server(address, lambda: (None, int(port), listening_pid(int(port))), "irc", "as it runs")


# ------------------------------------------------------------------------------------------ measuring

def cpu_ticks(pid: int | None) -> tuple[int | None, int]:
    """(the process's utime + stime, the machine's busy time), in clock ticks."""
    process = None
    if pid is not None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            process = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
        except (OSError, IndexError, ValueError):
            process = None
    cpu = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = cpu[3] + cpu[4]  # idle, iowait
    return process, sum(cpu[:8]) - idle  # user nice system idle iowait irq softirq steal (guest is in user)


def sleep_until(moment: float) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(min(left, 0.05))


def measure(server: Server, port: int, pid: int | None, args: argparse.Namespace) -> dict:
    """One scenario run against one server: two worker processes, each with half the clients (and half
    the senders; an odd one goes to the first)."""
    half = args.clients // 2
    configs = [{"worker": w, "host": "127.0.0.1", "port": port, "protocol": server.protocol, "clients": half,
                "senders": (args.senders + 1 - w) // 2, "seconds": args.seconds, "window": args.window,
                "size": args.size, "rate": args.rate, "oper": server.oper,
                "caps": args.caps} for w in range(2)]
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(config)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for config in configs]
    began = time.monotonic()
    for step, word in (("connecting its clients", "ready"), ("reading what the joins sent", "drained")):
        for worker in workers:
            if worker.stdout.readline().strip() != word:
                raise SystemExit(f"a load worker failed while {step}")
        if word == "ready":
            registration_seconds = time.monotonic() - began
            for worker in workers:
                worker.stdin.write("drain\n")
                worker.stdin.flush()
    start_at = time.time() + 0.2
    for worker in workers:
        worker.stdin.write(f"{start_at}\n")
        worker.stdin.flush()
    sleep_until(start_at)
    server_before, machine_before = cpu_ticks(pid)
    sleep_until(start_at + args.seconds)
    server_after, machine_after = cpu_ticks(pid)
    results = [json.loads(worker.communicate(timeout=args.seconds + 120)[0]) for worker in workers]
    total = {key: sum(result[key] for result in results)
             for key in ("sent", "delivered", "delivered_in_time", "damaged", "damaged_messages", "other_lines",
                         "reads_in_time", "cpu_seconds", "window_wait_seconds", "closed")}
    latencies = sorted(latency for result in results for latency in result["latencies"])
    tick = os.sysconf("SC_CLK_TCK")
    machine_cores = (machine_after - machine_before) / tick / args.seconds
    server_seconds = None
    if server_before is not None and server_after is not None:
        server_seconds = (server_after - server_before) / tick
    loadgen_cores = total["cpu_seconds"] / args.seconds
    delivered = total["delivered_in_time"]
    return {
        "sent": total["sent"], "delivered": total["delivered"], "delivered_in_time": delivered,
        "lost": max(0, total["sent"] * (args.clients - 1) - total["delivered"] - total["damaged_messages"]),
        "damaged": total["damaged"], "other_lines": total["other_lines"], "closed_by_server": total["closed"],
        "deliveries_per_second": delivered / args.seconds,
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else None,
        "max_ms": latencies[-1] if latencies else None,
        "server_cores": server_seconds / args.seconds if server_seconds is not None else None,
        "server_us_per_delivery": server_seconds * 1e6 / delivered if server_seconds is not None and delivered
        else None,
        "loadgen_cores": loadgen_cores,
        "loadgen_us_per_delivery": total["cpu_seconds"] * 1e6 / delivered if delivered else None,
        "others_cores": max(0.0, machine_cores - loadgen_cores - (server_seconds or 0.0) / args.seconds),
        "lines_per_read": delivered / total["reads_in_time"] if total["reads_in_time"] else None,
        "window_bound_share": total["window_wait_seconds"] / (args.seconds * len(results)),
        "in_flight_mean": sum(result["in_flight_mean"] for result in results),
        "in_flight_max": sum(result["in_flight_max"] for result in results),
        "registration_seconds": registration_seconds,
    }


def median_of(runs: list[dict], key: str) -> float | None:
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else None


def summary(server: Server, runs: list[dict]) -> dict:
    rates = [run["deliveries_per_second"] for run in runs]
    maxima = [run["max_ms"] for run in runs if run["max_ms"] is not None]
    return {"server": server.name, "flood_settings": server.flood_settings, "runs": runs,
            "median_rate": statistics.median(rates), "min_rate": min(rates), "max_rate": max(rates),
            **{key: median_of(runs, key) for key in (
                "p50_ms", "p99_ms", "server_us_per_delivery", "server_cores", "loadgen_cores",
                "loadgen_us_per_delivery", "others_cores", "lines_per_read", "window_bound_share",
                "in_flight_mean")},
            "max_ms": max(maxima) if maxima else None,
            "lost": sum(run["lost"] for run in runs), "damaged": sum(run["damaged"] for run in runs)}


def run_scenario(name: str, args: argparse.Namespace) -> dict:
    """Every server asked for, taking turns run by run; prints the table and returns the settings and
    one series per server."""
    with tempfile.TemporaryDirectory(prefix="classchat-bench-") as folder:
        servers = [Server("classchat (history on)", lambda: start_our_server(folder), "irc",
                          f"--flood-rate 0 (flood control off), --sendq {OUR_SENDQ // 1024 // 1024} MiB")]
        if args.history_cost:
            servers.append(servers[0]._replace(name="classchat (history off)", start=lambda: start_our_server(None)))
        if args.seed and not args.caps:  # raw text lines: no capabilities to ask for
            servers.append(Server("seed server.py", lambda: start_seed(args.seed), "raw", "none (it has none)"))
        if args.ngircd:
            version = subprocess.run(["ngircd", "--version"], capture_output=True, text=True).stdout.split()
            label = f"ngircd {version[1].split('-')[0]}" if len(version) > 1 else "ngircd"  # "ngIRCd 26.1-IDENT+…"
            servers.append(Server(label, lambda: start_ngircd(folder), "irc", NGIRCD_FLOOD_SETTINGS,
                                  ("bench", "bench", "+F")))
        if args.inspircd:
            version = subprocess.run(["inspircd", "--version"], capture_output=True, text=True).stdout.split("-")
            label = f"InspIRCd {version[1]}" if len(version) > 1 else "InspIRCd"  # "InspIRCd-3.15.0-debian"
            servers.append(Server(label, lambda: start_inspircd(folder, bool(args.caps)), "irc",
                                  INSPIRCD_FLOOD_SETTINGS))
        servers += [running_server(address) for address in args.against]
        runs: dict[str, list[dict]] = {server.name: [] for server in servers}
        for _ in range(args.runs):
            for server in servers:
                process, port, pid = server.start()
                try:
                    runs[server.name].append(measure(server, port, pid, args))
                finally:
                    if process is not None:
                        process.terminate()
                        process.wait(10)
    settings = {"clients": args.clients, "senders": args.senders, "seconds": args.seconds, "runs": args.runs,
                "window": args.window, "workers": 2, "size": args.size, "rate": args.rate, "cpus": os.cpu_count(),
                "caps": args.caps}
    series = [summary(server, runs[server.name]) for server in servers]
    print(f"\n{scenario_title(name, settings)}; {os.cpu_count()} CPUs")
    print(table(series), flush=True)
    return {"settings": settings, "series": series}


# ------------------------------------------------------------------------------------------ tables

def asking(caps: str | None) -> str:
    """What a title says of ``--caps``: nothing when no client asks for any."""
    return f", every other client with CAP {caps}" if caps else ""


def scenario_title(name: str, settings: dict) -> str:
    pace = (f"paced at {settings['rate']:g} messages/s" if settings["rate"]
            else f"closed loop, window {settings['window']} per worker")
    return (f"{name}: {settings['clients']} clients, {settings['senders']} sending, {pace}"
            f"{asking(settings.get('caps'))}, "
            f"{settings['seconds']:g} s × {settings['runs']} runs")


COLUMNS = ("server", "deliveries/s (range)", "vs classchat", "server µs CPU/delivery (range)", "server cores",
           "load gen cores", "others' cores", "p50 / p99 / max ms", "lost", "damaged")


def number(value: float | None, form: str) -> str:
    return "–" if value is None else format(value, form)


def with_range(median: float, low: float, high: float, style: str) -> str:
    """``median (low–high)``, each number in ``style``: how every figure over several runs is shown."""
    return f"{median:{style}} ({low:{style}}–{high:{style}})"


def rate_cells(entry: dict) -> str:
    low, median, high = entry["min_rate"], entry["median_rate"], entry["max_rate"]
    if median >= 1e5:
        return f"{median / 1e6:.2f} M ({low / 1e6:.2f}–{high / 1e6:.2f})"
    return with_range(median, low, high, ",.0f")


def cpu_cells(entry: dict) -> str:
    """The server's median CPU per delivery, with the range over the runs."""
    values = [run["server_us_per_delivery"] for run in entry["runs"] if run["server_us_per_delivery"] is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return with_range(statistics.median(values), min(values), max(values), ".2f")


def row_cells(entry: dict, ours: float) -> list[str]:
    latency = " / ".join(number(entry[key], ".1f") for key in ("p50_ms", "p99_ms", "max_ms"))
    return [entry["server"], rate_cells(entry), f"{entry['median_rate'] / ours:.2f}",
            cpu_cells(entry), number(entry["server_cores"], ".2f"),
            number(entry["loadgen_cores"], ".2f"), number(entry["others_cores"], ".2f"), latency,
            str(entry["lost"]), str(entry["damaged"])]


def table(series: list[dict]) -> str:
    """The series of one scenario as aligned text."""
    rows = [COLUMNS, *(row_cells(entry, series[0]["median_rate"] or 1.0) for entry in series)]
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                               for i, (cell, width) in enumerate(zip(cells, widths))) for cells in rows)


def markdown(report: dict) -> str:
    """README's Performance tables from one bench-results.json: the relay scenarios, how each server's
    flood control was set, and the scenarios with scripts of their own."""
    scenarios = report["scenarios"]
    out = ["| scenario | " + " | ".join(COLUMNS) + " |", "| --- | --- |" + " ---: |" * (len(COLUMNS) - 1)]
    flood: dict[str, str] = {}
    for name, result in scenarios.items():
        if name in OTHER_SCRIPTS:
            continue
        series = result["series"]
        for index, entry in enumerate(series):
            title = scenario_title(name, result["settings"]) if index == 0 else ""
            out.append("| " + " | ".join([title, *row_cells(entry, series[0]["median_rate"] or 1.0)]) + " |")
            flood[entry["server"]] = entry["flood_settings"]
    out += ["", "Flood control as set for the bench:", ""] + [f"- {server}: {how}" for server, how in flood.items()]
    results = [*history_cost(scenarios), *idle_and_gui(scenarios)]
    if results:
        out += ["", "| scenario | result |", "| --- | --- |", *results]
    return "\n".join(out)


def history_cost(scenarios: dict) -> list[str]:
    series = {entry["server"]: entry for entry in scenarios.get("fanout", {}).get("series", [])}
    if "classchat (history on)" not in series or "classchat (history off)" not in series:
        return []
    on, off = series["classchat (history on)"], series["classchat (history off)"]
    # Each run's history-on rate against the history-off run right after it: the machine's drift over a
    # full run moved the ratio of the two medians by more than the history's cost itself.
    costs = [100 * (1 - on_run["deliveries_per_second"] / off_run["deliveries_per_second"])
             for on_run, off_run in zip(on["runs"], off["runs"]) if off_run["deliveries_per_second"]]
    if not costs:
        return []
    return [f"| history cost (fanout, SQLite history on vs off, each run against the one beside it; median and "
            f"range) | {with_range(statistics.median(costs), min(costs), max(costs), '.1f')} % of deliveries/s; "
            f"{number(on['server_us_per_delivery'], '.2f')} vs {number(off['server_us_per_delivery'], '.2f')} µs "
            f"of server CPU per delivery |"]


def idle_and_gui(scenarios: dict) -> list[str]:
    rows = []
    if idle := scenarios.get("idle"):
        counts = " / ".join(str(result["clients"]) for result in idle)
        rates = " / ".join(with_range(result["registrations_per_second"], *result["registrations_range"], ",.0f")
                           for result in idle)
        memory = " / ".join(with_range(result["kib_per_client"], *result["kib_range"], ".1f") for result in idle)
        gone = " / ".join(with_range(result["disconnect_seconds"], *result["disconnect_range"], ".2f")
                          for result in idle)
        rows.append(f"| idle scale, {counts} registered clients (classchat only; median and range) | {rates} "
                    f"registrations/s; {memory} KiB of server memory per idle client; all closing at once: "
                    f"{gone} s until the server's threads have ended and a newcomer is registered |")
    if gui := scenarios.get("gui"):
        rows.append(f"| GUI ingestion, {gui['rate']:.0f} messages/s into one window | longest Tk loop stall "
                    f"{gui['max_stall_ms']:.1f} ms, p99 heartbeat gap {gui['p99_gap_ms']:.1f} ms, "
                    f"{'no gaps' if gui['gapless'] else 'GAPS'} in the scrollback |")
    return rows


# ------------------------------------------------------------------------------------------ main

SCENARIOS = {
    "fanout": {"clients": 100, "senders": 10, "rate": 0.0},
    "fanout1000": {"clients": 1000, "senders": 10, "rate": 0.0},
    "paced": {"clients": 500, "senders": 1, "rate": 50.0, "seconds": 10.0},
    "fanout_tags": {"clients": 100, "senders": 10, "rate": 0.0, "caps": IRCV3_CLIENT_CAPS},
}
OTHER_SCRIPTS = {"idle": "idle_scale.py", "gui": "gui_stall.py"}  # scenarios with a script of their own


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", action="append", choices=[*SCENARIOS, *OTHER_SCRIPTS],
                        help="one scenario (repeatable); all of them when not given")
    parser.add_argument("--clients", type=int, help="override the scenario's number of clients")
    parser.add_argument("--senders", type=int, help="override the scenario's number of senders")
    parser.add_argument("--seconds", type=float, help="override the scenario's duration (default 5)")
    parser.add_argument("--runs", type=int, default=3, help="runs per server, taking turns (default: %(default)s)")
    parser.add_argument("--window", type=int, default=400,
                        help="messages a worker may have in flight, closed loop (default: %(default)s)")
    parser.add_argument("--size", type=int, default=120, help="bytes of text per message (default: %(default)s)")
    parser.add_argument("--against", action="append", default=[], metavar="HOST:PORT",
                        help="also measure an IRC server running on this machine")
    parser.add_argument("--seed", metavar="PATH", help="the original student server.py, as the baseline")
    parser.add_argument("--ngircd", action="store_true", help="also measure Debian's ngircd, started here")
    parser.add_argument("--inspircd", action="store_true", help="also measure Debian's InspIRCd 3, started here")
    parser.add_argument("--caps", metavar="LIST",
                        help="capabilities every other IRC client asks for (e.g. \"server-time message-tags\", "
                             "as IRCv3 clients do); by default none, so every line is untagged")
    parser.add_argument("--history-cost", action="store_true",
                        help="our server with history on and off (always, when every scenario runs)")
    parser.add_argument("--json", metavar="FILE", help="where the figures go (default with every scenario: "
                                                       "bench-results.json)")
    parser.add_argument("--markdown", metavar="JSON", help="print README's tables from a results file, and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return 0
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())))
        return 0
    for program in ("ngircd", "inspircd"):
        if getattr(args, program) and shutil.which(program) is None:
            parser.error(f"--{program}: {program} is not installed (Debian package {program})")
    if args.size < len(PAYLOAD_FRAME) or args.window < 1:
        parser.error(f"--size must be at least {len(PAYLOAD_FRAME)} and --window at least 1")
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
        else:
            scenario = argparse.Namespace(**{**vars(args), "seconds": 5.0, **SCENARIOS[name]})
            for option in ("clients", "senders", "seconds"):
                if getattr(args, option) is not None:
                    setattr(scenario, option, getattr(args, option))
            # With every scenario, history off is measured for fan-out only; one named asks for it itself.
            scenario.history_cost = args.history_cost and (name == "fanout" or not every)
            report[name] = run_scenario(name, scenario)
        if args.json:  # after each scenario: a later one that fails leaves the figures measured so far
            Path(args.json).write_text(json.dumps({"args": vars(args), "cpus": os.cpu_count(),
                                                   "scenarios": report}, indent=2))
    if args.json:
        print(f"\nfigures written to {args.json}")
    return 0


def run_script(script: str) -> object:
    """A scenario measured by its own script (it prints its table); returns the figures it wrote."""
    print(flush=True)
    with tempfile.TemporaryDirectory(prefix="classchat-bench-") as folder:
        figures = Path(folder) / "figures.json"
        subprocess.run([sys.executable, str(Path(__file__).with_name(script)), "--json", str(figures)], check=True)
        return json.loads(figures.read_text())


if __name__ == "__main__":
    sys.exit(main())
