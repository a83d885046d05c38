#!/usr/bin/env python3
"""classchat server: a threaded IRC server for a classroom.

    python3 chat_server.py                  # serve this computer only, on 127.0.0.1:6667
    python3 chat_server.py --host 0.0.0.0   # serve the classroom network

Any IRC client can connect (irssi, WeeChat, HexChat), as well as classchat's own clients.
"""
from __future__ import annotations

import argparse
import csv
import fcntl
import gc
import getpass
import logging
import logging.handlers
import os
import signal
import socket
import sqlite3
import ssl
import struct
import sys
from datetime import datetime, time
from pathlib import Path

from common.protocol.casemap import casefold, is_valid_channel
from common.protocol.attendance import write_csv, write_text
from common.protocol.command_line import OneLineErrorParser, fail, python_command
from common.protocol.params import parse_date
from common.server.accounts import AccountError, AccountStore, generate_password
from common.server.attendance import AttendanceTable, build_report
from common.server.history import HistoryStore
from common.server.history_log import LogInUse
from common.server.passwords import OperFileError, hash_password, read_oper_file
from common.server.logs import EscapingFormatter, start_log_writer
from common.server.server import ChatServer, ServerConfig
from common.protocol.server_process import listening_line
from common.protocol.tls import certificate_fingerprint

PROG = "chat_server.py"
# Python's cyclic garbage collector runs its youngest generation after this many more container objects
# were made than freed (700 by default). A channel message keeps about a dozen alive until the sequencer
# has delivered it, so at 700 a collection came every fifty or so messages and walked those in flight; at
# 10,000 most of them are gone by then (bench/chat_bench.py --scenario fanout, taking turns with 700:
# 6 to 9 % more deliveries/s). The server process only: a server inside tests keeps the default.
GC_YOUNG_THRESHOLD = 10_000
# A thread that wants Python's GIL waits this long (5 ms by default) before it asks the holder to let go,
# and then again, each waiting thread on its own clock. With thousands of reader threads woken at once (a
# class connecting, or every client gone when the network drops) the waiters' wake-ups were most of the
# work. bench/idle_scale.py at 5000 clients, 5 ms and 50 ms taking turns three times (with the sequencer's
# bounded queue, which keeps the memory of a registration burst down): every client closing at once took
# 11.7 to 15.2 s (medians) until the server's threads had ended, and 1.5 to 5.0 s; registrations 2,391 to
# 2,663/s, and 2,808 to 2,948/s. The server's threads give the GIL up at every read and send, so a longer
# interval matters only for a long stretch of pure Python (a big batch, a garbage collection): fan-out and
# paced figures did not move (bench/chat_bench.py, in turns).
GIL_SWITCH_SECONDS = 0.05


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineErrorParser(prog=PROG, description="classchat: a threaded IRC server for a classroom.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 serves the whole network (default: %(default)s)")
    parser.add_argument("--port", type=int, default=6667, help="TCP port; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--name", default="classchat.local", help="server name shown to clients (default: %(default)s)")
    parser.add_argument("--network", default="classchat", help="network name in ISUPPORT (default: %(default)s)")
    parser.add_argument("--password", help="server password that clients must send with PASS")
    parser.add_argument("--oper", action="append", default=[], metavar="NAME:PASSWORD",
                        help="an operator login for the teacher (OPER NAME PASSWORD); repeatable")
    parser.add_argument("--oper-file", metavar="FILE",
                        help="operator logins as 'NAME HASH' lines, made by --hash-password (keeps the password "
                             "off the command line)")
    parser.add_argument("--hash-password", metavar="NAME",
                        help="ask for a password, print an --oper-file line for NAME, and exit")
    parser.add_argument("--audit-log", metavar="FILE", help="also append every operator action to this file")
    parser.add_argument("--add-teacher", metavar="NAME",
                        help="create a teacher's account in --db (or make an existing account a teacher's) and exit; "
                             "asks for the password twice, or reads one line from standard input when it is not "
                             "a terminal")
    parser.add_argument("--add-students", metavar="FILE",
                        help="create an account for each name in FILE (one a line) with a generated password, print "
                             "the names and passwords to hand out, and exit")
    parser.add_argument("--class", dest="class_channels", action="append", default=[], metavar="'#NAME'",
                        help="a class channel: nobody is its operator by joining first, teachers are on joining, "
                             "and ENDLESSON closes it until STARTLESSON; repeatable (a teacher can also make one "
                             "with MODE #name +C)")
    parser.add_argument("--registration", choices=["open", "teacher", "closed"], default="open",
                        help="who may create accounts with REGISTER: anyone for their own nick (open), only a "
                             "logged-in teacher (teacher), or nobody (closed: --add-students only) "
                             "(default: %(default)s)")
    parser.add_argument("--tls-cert", metavar="FILE", help="certificate (PEM) for TLS; with --tls-key")
    parser.add_argument("--tls-key", metavar="FILE", help="private key (PEM) of --tls-cert")
    parser.add_argument("--tls-port", type=int, default=6697,
                        help="TLS port beside the plain one; 0 picks a free one (default: %(default)s)")
    parser.add_argument("--motd", metavar="FILE", help="file with the message of the day (UTF-8)")
    parser.add_argument("--max-clients", type=int, default=1000, help="most connections at once (default: %(default)s)")
    parser.add_argument("--max-per-address", type=int, default=16, metavar="N",
                        help="most connections at once from one address, 0 for no limit; this computer's own "
                             "(127.0.0.1, ::1) are not limited (default: %(default)s)")
    parser.add_argument("--connects-per-minute", type=int, default=30, metavar="N",
                        help="new connections one address may open per minute, 0 for no limit (default: %(default)s)")
    parser.add_argument("--max-channels", type=int, default=20, metavar="N",
                        help="channels one user may be in (default: %(default)s)")
    parser.add_argument("--max-channels-made", type=int, default=10, metavar="N",
                        help="channels the students of one computer may have made at once; a channel left empty "
                             "for a day is forgotten, unless it is a class channel (default: %(default)s)")
    parser.add_argument("--nick-length", type=int, default=30, metavar="N", help="longest nick (default: %(default)s)")
    parser.add_argument("--channel-length", type=int, default=50, metavar="N",
                        help="longest channel name (default: %(default)s)")
    parser.add_argument("--topic-length", type=int, default=390, metavar="N",
                        help="longest topic (default: %(default)s)")
    parser.add_argument("--sendq", type=int, default=512 * 1024, metavar="BYTES",
                        help="outbound buffer per client before it is dropped as not reading (default: %(default)s)")
    parser.add_argument("--ping-interval", type=float, default=120.0, metavar="SECONDS",
                        help="PING a client silent this long (default: %(default)s)")
    parser.add_argument("--ping-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="drop a client that has not answered a PING by then (default: %(default)s)")
    parser.add_argument("--registration-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="drop a connection that has not registered by then (default: %(default)s)")
    parser.add_argument("--flood-burst", type=int, default=10, metavar="LINES",
                        help="lines a client may send at once before it is slowed down (default: %(default)s)")
    parser.add_argument("--flood-rate", type=float, default=2.0, metavar="LINES_PER_SECOND",
                        help="lines per second once the burst is spent; 0 turns flood control off (default: %(default)s)")
    parser.add_argument("--db", metavar="PATH", default=str(default_db_path()),
                        help="history database (SQLite); ':memory:' keeps nothing after a restart "
                             "(default: %(default)s)")
    parser.add_argument("--no-history", action="store_true", help="store no messages at all (no replay, no CHATHISTORY)")
    parser.add_argument("--replay", type=int, default=50, metavar="N",
                        help="messages replayed to a client that joins a channel (default: %(default)s)")
    parser.add_argument("--history-days", type=float, default=30.0, metavar="DAYS",
                        help="delete messages older than this; 0 keeps them all (default: %(default)s)")
    parser.add_argument("--redact-window", type=float, default=300.0, metavar="SECONDS",
                        help="how long a student may delete their own message; channel operators and the teacher "
                             "may delete any message, whenever (default: %(default)s)")
    parser.add_argument("--export", metavar="CHANNEL", help="write the channel's transcript to standard output and exit")
    parser.add_argument("--attendance", metavar="CHANNEL",
                        help="write who was present in a class channel (a row per person per day) to standard "
                             "output and exit")
    parser.add_argument("--since", metavar="DATE",
                        help="with --export or --attendance: only from this date on (YYYY-MM-DD)")
    parser.add_argument("--format", choices=["text", "csv"], default="text",
                        help="with --export or --attendance (default: text)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="how much the server logs to stderr (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"port {args.port} is out of range 0-65535")
    for login in args.oper:
        name, colon, password = login.partition(":")
        if not colon or not name or not password:
            parser.error(f"--oper wants NAME:PASSWORD, got {login!r}")
    if not 0 <= args.tls_port <= 65535:
        parser.error(f"TLS port {args.tls_port} is out of range 0-65535")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    for flag in ("max_clients", "max_channels", "max_channels_made", "nick_length", "channel_length", "topic_length"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    for flag in ("max_per_address", "connects_per_minute"):
        if getattr(args, flag) < 0:
            parser.error(f"--{flag.replace('_', '-')} cannot be negative")
    if not 2 <= args.channel_length <= 200 or not 1 <= args.nick_length <= 100 or args.topic_length > 400:
        parser.error("lengths must fit an IRC line: nick 1-100, channel 2-200, topic up to 400")
    if args.since is not None:
        since = parse_date(args.since)
        if since is None:
            parser.error(f"--since wants a date like 2026-09-01 (YYYY-MM-DD), got {args.since!r}")
        args.since = since
    for name in args.class_channels:
        if not is_valid_channel(name, args.channel_length):
            parser.error(f"--class wants a channel name such as '#math', got {name!r}")
    if args.replay < 0 or args.history_days < 0:
        parser.error("--replay and --history-days cannot be negative")
    if not 0 <= args.redact_window <= 10 ** 9:  # also refuses nan and inf
        parser.error(f"--redact-window wants seconds from 0 to 1000000000, got {args.redact_window}")
    return args


def default_db_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "classchat" / "history.sqlite3"


def open_history(path: str, exclusive: bool = True) -> HistoryStore:
    """The history database, creating its folder; one clear line and exit 1 if it cannot be opened.
    ``exclusive=False`` for reading only: then a server may be running on it (see ``HistoryStore``)."""
    try:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return HistoryStore(path, exclusive)
    except LogInUse:
        fail(PROG, f"the history database {path} is in use by another running server; give this one its own "
                   f"with --db FILE, or --no-history")
    except (OSError, sqlite3.Error) as error:
        fail(PROG, f"cannot open the history database {path}: {error}")


def check_tls_files(args: argparse.Namespace) -> None:
    """Name the TLS file that cannot be read, before the server starts (``ssl`` would not say which)."""
    for what, path in (("certificate", args.tls_cert), ("key", args.tls_key)):
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            fail(PROG, f"cannot read the TLS {what} {path}: {error.strerror or error}")


def open_database(args: argparse.Namespace) -> None:
    """Open (and so check) the database; a folder the user named that does not exist is made, and said so.
    The default folder is made silently: that is where it belongs."""
    folder = Path(args.db).parent
    say_made = args.db != str(default_db_path()) and not folder.exists()
    open_history(args.db).close()
    if say_made:
        print(f"{PROG}: made the folder {folder} for the database {args.db}", file=sys.stderr, flush=True)


def export_transcript(args: argparse.Namespace) -> int:
    """``--export``: a channel's messages as text or CSV on standard output, for the teacher."""
    if not Path(args.db).exists():
        fail(PROG, f"no history database at {args.db}")
    if not is_valid_channel(args.export, 200):
        fail(PROG, f"--export wants a channel name such as '#math', got {args.export!r}")
    store = open_history(args.db, exclusive=False)
    since_ms = int(datetime.combine(args.since, time()).timestamp() * 1000) if args.since else 0
    known = {casefold(name) for name in store.channels_with_messages()}
    messages = store.export(args.export, since_ms)
    store.close()
    if casefold(args.export) not in known:
        fail(PROG, f"the history has no channel {args.export} (channels with messages: "
                   f"{', '.join(sorted(known)) or 'none'})")
    writer = csv.writer(sys.stdout) if args.format == "csv" else None
    if writer:
        writer.writerow(["time", "nick", "kind", "text", "msgid"])
    for message in messages:
        moment = datetime.fromtimestamp(message.time_ms / 1000)
        if writer:
            kind, text = message.kind_and_text
            writer.writerow([moment.isoformat(timespec="seconds"), message.sender_nick, kind, text, message.msgid])
        else:
            first, *more = message.transcript_line().split("\n")  # a code block's lines come indented
            print("\n".join([f"[{moment:%Y-%m-%d %H:%M:%S}] {first}", *(f"    {line}".rstrip() for line in more)]))
    return 0


def print_attendance(args: argparse.Namespace) -> int:
    """``--attendance``: who was present in a class channel, a row per person per day, as text or CSV. An
    interval still open (the server running, or stopped by a crash) counts to when it was last seen."""
    if not Path(args.db).exists():
        fail(PROG, f"no history database at {args.db}")
    if not is_valid_channel(args.attendance, 200):
        fail(PROG, f"--attendance wants a channel name such as '#math', got {args.attendance!r}")
    store = open_history(args.db, exclusive=False)
    table = AttendanceTable(store.db)
    try:
        report = build_report(table, args.attendance, args.since, now_ms=None)
        channels = table.channels()
    except sqlite3.Error as error:
        fail(PROG, f"cannot read the attendance in {args.db}: {error}")
    finally:
        store.close()
    if not report.known:
        fail(PROG, f"no attendance is recorded for {args.attendance} (channels with attendance: "
                   f"{', '.join(channels) or 'none'}; it is kept in class channels)")
    (write_csv if args.format == "csv" else write_text)(report.rows, sys.stdout)
    return 0


def read_new_password(name: str) -> str:
    """Ask twice at a terminal (nothing shown), or read one line when standard input is a pipe (scripts)."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {name}: ")
        if password != getpass.getpass("Again: "):
            fail(PROG, "the two passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail(PROG, "an empty password is no password")
    return password


def print_password_hash(name: str) -> int:
    """``--hash-password NAME``: ask for a password and print an --oper-file line."""
    if any(char.isspace() for char in name) or not name:
        fail(PROG, f"an operator name has no spaces, got {name!r}")
    print(f"{name} {hash_password(read_new_password(name))}")
    return 0


def open_accounts(args: argparse.Namespace) -> AccountStore:
    if args.db != ":memory:":
        open_database(args)  # makes the folder and the file, or says why it cannot
    try:
        return AccountStore(args.db, args.nick_length)
    except sqlite3.Error as error:
        fail(PROG, f"cannot open the accounts in {args.db}: {error}")


def add_teacher(args: argparse.Namespace) -> int:
    """``--add-teacher NAME``: a new teacher's account, or an existing account made a teacher's."""
    accounts = open_accounts(args)
    name = args.add_teacher
    existing = accounts.find(name)
    if existing is not None:
        accounts.set_teacher(existing.name)
        print(f"{existing.name} is now a teacher (the password is unchanged).")
        return 0
    try:
        accounts.create(name, read_new_password(name), teacher=True)
    except AccountError as error:
        fail(PROG, f"cannot create the account {name!r}: {error}")
    print(f"Created the teacher's account {name} in {args.db}. Log in with it (SASL) to be the teacher.")
    return 0


def add_students(args: argparse.Namespace) -> int:
    """``--add-students FILE``: an account per name, with a generated password, printed to hand out."""
    try:
        with open(args.add_students, encoding="utf-8") as names_file:
            names = [line.strip() for line in names_file if line.strip() and not line.startswith("#")]
    except (OSError, UnicodeDecodeError) as error:
        fail(PROG, f"cannot read the list of students {args.add_students}: {getattr(error, 'strerror', None) or error}")
    accounts = open_accounts(args)
    print(f"{'name':<{args.nick_length}}  password")
    problems = 0
    for name in names:
        password = generate_password()
        try:
            accounts.create(name, password)
        except AccountError as error:
            print(f"{name:<{args.nick_length}}  (not created: {error})")
            problems += 1
            continue
        print(f"{name:<{args.nick_length}}  {password}")
    return 1 if problems else 0


def read_opers(args: argparse.Namespace) -> dict[str, str]:
    opers = dict(login.split(":", 1) for login in args.oper)
    if args.oper_file:
        try:
            opers.update(read_oper_file(args.oper_file))
        except (OSError, UnicodeDecodeError) as error:
            fail(PROG, f"cannot read the operator file {args.oper_file}: {getattr(error, 'strerror', None) or error}")
        except OperFileError as error:  # its message names the file and the line
            fail(PROG, f"cannot use the operator file: {error}")
    return opers


def read_motd(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as motd_file:
            return [line.rstrip("\r\n") for line in motd_file]
    except (OSError, UnicodeDecodeError) as error:
        fail(PROG, f"cannot read MOTD file {path}: {getattr(error, 'strerror', None) or error}")


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    config = ServerConfig(
        host=args.host, port=args.port, name=args.name, network=args.network, password=args.password,
        opers=read_opers(args), max_clients=args.max_clients, max_per_address=args.max_per_address,
        connects_per_minute=args.connects_per_minute, max_channels_per_user=args.max_channels,
        nick_length=args.nick_length, channel_length=args.channel_length, topic_length=args.topic_length,
        tls_cert=args.tls_cert, tls_key=args.tls_key, tls_port=args.tls_port,
        sendq_bytes=args.sendq, ping_interval=args.ping_interval, ping_timeout=args.ping_timeout,
        registration_timeout=args.registration_timeout, flood_burst=args.flood_burst,
        flood_rate=args.flood_rate, history=not args.no_history, db_path=args.db, replay=args.replay,
        history_days=args.history_days, redact_window=args.redact_window, registration=args.registration,
        class_channels=tuple(args.class_channels), max_channels_made=args.max_channels_made,
    )
    if args.motd:
        config.motd = read_motd(args.motd)
    return config


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback, for students to type in."""
    addresses: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            addresses.add(info[4][0])
    except OSError:
        pass  # no resolvable host name: the interfaces below still answer
    siocgifaddr = 0x8915  # Linux ioctl: an interface's IPv4 address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _index, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(probe.fileno(), siocgifaddr, struct.pack("256s", name[:15].encode()))
                addresses.add(socket.inet_ntoa(packed[20:24]))
            except OSError:
                continue  # interface without an IPv4 address
    return sorted(address for address in addresses if not address.startswith("127."))


def print_banner(server: ChatServer, args: argparse.Namespace) -> None:
    host, port = server.address
    print(listening_line(server.config.name, host, port), flush=True)
    hosts = [host]
    if host in ("0.0.0.0", "::"):
        hosts = lan_addresses() or ["127.0.0.1"]
        print("Students connect to: " + ", ".join(f"{address}:{port}" for address in hosts))
    target = hosts[0]
    python = python_command()
    print("Connect with:")
    print(f"  {python} chat_client_gui.py --host {target} --port {port}")
    print(f"  {python} chat_client_cli.py --host {target} --port {port}")
    print(f"  irssi -c {target} -p {port}")
    if server.tls_address is not None:
        tls_port = server.tls_address[1]
        pin = certificate_fingerprint(args.tls_cert)
        print(f"TLS on port {tls_port}; certificate SHA-256 fingerprint:\n  {pin}")
        print(f"  {python} chat_client_gui.py --host {target} --port {tls_port} --tls-pin {pin.replace(':', '')}")
    if server.history_enabled:
        days = f"{args.history_days:g} days" if args.history_days else "until deleted"
        print(f"History: {args.db} (kept {days}; export with --export '#channel', attendance with "
              f"--attendance '#class')")
    print("Press Ctrl+C to stop.", flush=True)


def configure_logging(args: argparse.Namespace) -> logging.handlers.QueueListener:
    """Log lines on stderr (and operator actions in --audit-log), one record a line whatever clients send,
    written by a thread of their own (see common/server/logs.py); stop the result before exiting."""
    stderr = logging.StreamHandler()
    stderr.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(message)s"))
    stderr.setLevel(args.log_level)
    handlers: list[logging.Handler] = [stderr]
    if args.audit_log:
        try:
            audit_file = logging.FileHandler(args.audit_log, encoding="utf-8")
        except OSError as error:
            fail(PROG, f"cannot open the audit log {args.audit_log}: {error.strerror or error}")
        audit_file.setFormatter(EscapingFormatter("%(asctime)s %(message)s"))
        audit_file.setLevel(logging.INFO)
        audit_file.addFilter(logging.Filter("classchat.audit"))
        handlers.append(audit_file)
        # kept in the file whatever --log-level says
        logging.getLogger("classchat.audit").setLevel(logging.INFO)
    level = min(logging.getLevelName(args.log_level), logging.INFO) if args.audit_log else args.log_level
    return start_log_writer(handlers, level)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log_writer = configure_logging(args)
    try:
        return run(args)
    finally:
        log_writer.stop()


def run(args: argparse.Namespace) -> int:
    if args.hash_password is not None:
        return print_password_hash(args.hash_password)
    if args.add_teacher is not None:
        return add_teacher(args)
    if args.add_students is not None:
        return add_students(args)
    if args.export:
        return export_transcript(args)
    if args.attendance:
        return print_attendance(args)
    config = config_from_args(args)
    check_tls_files(args)
    if config.db_path != ":memory:":
        open_database(args)  # a clear error now, instead of a traceback later
    try:
        server = ChatServer(config)
    except ssl.SSLError as error:
        fail(PROG, f"cannot use the TLS certificate {args.tls_cert} and key {args.tls_key}: {error.reason or error}")
    except OSError as error:
        where = f"{args.host}:{args.port}" + (f" and TLS port {args.tls_port}" if args.tls_cert else "")
        fail(PROG, f"cannot listen on {where}: {error.strerror or error}")
    with server:
        signal.signal(signal.SIGINT, lambda *_: server.request_stop())
        signal.signal(signal.SIGTERM, lambda *_: server.request_stop())
        gc.set_threshold(GC_YOUNG_THRESHOLD)
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        print_banner(server, args)
        server.serve_forever()
        print("Shutting down: telling every client.", flush=True)
    return 1 if server.failed else 0


if __name__ == "__main__":
    sys.exit(main())
