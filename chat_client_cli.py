#!/usr/bin/env python3
"""classchat CLI client: chat from a terminal, or post into a channel from a script.

    python3 chat_client_cli.py --nick alice --channel '#general'     # interactive, with readline
    echo "build finished" | python3 chat_client_cli.py --nick ci      # scripted: send stdin, then exit
    python3 chat_client_cli.py --once "lesson starts in 5 minutes"

Exit codes: 0 success, 1 the server refused us (bad password, banned, …) or dropped us, 2 could not connect.
"""
from __future__ import annotations

import _thread
import argparse
import getpass
import hashlib
import os
import sys
import threading
import time

from common.client import events as ev
from common.client.options import add_tls_pin_argument, default_nick
from common.protocol.command_line import OneLineErrorParser
from common.client.slash_commands import run_input
from common.client.session import Session, SessionConfig
from common.client.texts import describe, detect_language, tr

PROG = "chat_client_cli.py"
ASK = object()  # --password given without a value: ask for it
EXIT_OK, EXIT_REFUSED, EXIT_NO_CONNECTION = 0, 1, 2
NICK_COLOURS = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineErrorParser(prog=PROG, description="classchat command-line client (IRC).")
    parser.add_argument("--host", default="127.0.0.1", help="server address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=None, help="server port (default: 6667, or 6697 with --tls)")
    parser.add_argument("--nick", default=default_nick(), help="your nickname (default: your login name)")
    parser.add_argument("--channel", default="#general", help="channel to join; '' for none (default: %(default)s)")
    parser.add_argument("--password", nargs="?", const=ASK, help="server password; without a value, ask for it")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--insecure", action="store_true", help="with --tls: do not verify the certificate")
    add_tls_pin_argument(parser)
    parser.add_argument("--once", metavar="TEXT", help="send one message to the channel and exit")
    parser.add_argument("--lang", choices=["en", "ru"], help="language (default: from the locale)")
    args = parser.parse_args(argv)
    if args.port is None:
        args.port = 6697 if args.tls or args.tls_pin else 6667
    if not 0 < args.port < 65536:
        parser.error(f"port {args.port} is out of range 1-65535")
    if args.password is ASK:
        if not sys.stdin.isatty():
            parser.error("--password without a value needs a terminal to ask on; give the password")
        args.password = getpass.getpass("Password: ")
    return args


class Printer:
    """Turns session events into text lines; in a terminal, keeps the half-typed input line intact."""

    def __init__(self, lang: str, colour: bool, interactive: bool) -> None:
        self.lang = lang
        self.colour = colour
        self.interactive = interactive
        self.prompt = ""
        self.reading = False  # readline shows the prompt: a printed line must redraw prompt and typed text
        self._lock = threading.Lock()

    def nick(self, nick: str) -> str:
        if not self.colour:
            return nick
        colour = NICK_COLOURS[hashlib.md5(nick.lower().encode()).digest()[0] % len(NICK_COLOURS)]
        return f"\x1b[{colour}m{nick}\x1b[0m"

    def format(self, event: ev.Event) -> str | None:
        if isinstance(event, ev.ChatMessage):
            stamp = event.time.astimezone().strftime("%H:%M")
            where = f"{event.conversation} " if event.conversation.startswith("#") else ""
            if event.kind == "action":
                body = f"* {self.nick(event.sender)} {event.text}"
            elif event.kind == "notice":
                body = f"-{self.nick(event.sender)}- {event.text}"
            else:
                body = f"<{self.nick(event.sender)}> {event.text}"
            if self.colour and event.mentions_me:
                body = f"\x1b[1m{body}\x1b[0m"
            return f"{stamp} {where}{body}"
        text = describe(event, self.lang)
        if text is None:
            return None
        return f"\x1b[2m-- {text}\x1b[0m" if self.colour else f"-- {text}"

    def prompt_shown(self) -> None:
        """readline's pre-input hook: the prompt is on the screen now, so redraws may repeat it."""
        with self._lock:
            self.reading = True

    def input_done(self) -> None:
        with self._lock:
            self.reading = False

    def format_divider(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.colour else text

    def show(self, text: str) -> None:
        with self._lock:
            if self.interactive and self.reading:
                import readline  # only in a terminal, where input() uses it
                typed = readline.get_line_buffer()
                sys.stdout.write(f"\r\x1b[2K{text}\n{self.prompt}{typed}")
            elif self.interactive:
                sys.stdout.write(f"\r\x1b[2K{text}\n")
            else:
                sys.stdout.write(text + "\n")
            sys.stdout.flush()


class Outcome:
    """What became of the connection, as the event thread saw it: registered, or ended and how."""

    def __init__(self) -> None:
        self.registered = threading.Event()
        self.ended = threading.Event()
        self.settled = threading.Event()  # registered, or ended without it
        self.final_state = ""

    def wait_registered(self) -> bool:
        """Wait until registered or ended; True when registered."""
        self.settled.wait()
        return self.registered.is_set()

    def exit_code(self) -> int:
        if self.final_state == "failed" and not self.registered.is_set():
            return EXIT_NO_CONNECTION
        if self.final_state in ("refused", "failed", "disconnected"):
            return EXIT_REFUSED
        return EXIT_OK


def pump_events(session: Session, printer: Printer, outcome: Outcome, interrupt_main: bool) -> None:
    """The event thread: print every event; note registration and the end of the connection."""
    while True:
        event = session.events.get()
        try:
            if not show_event(event, printer, outcome, interrupt_main):
                return
        finally:
            session.events.task_done()


def show_event(event: ev.Event, printer: Printer, outcome: Outcome, interrupt_main: bool) -> bool:
    """Print one event and note what it says about the connection; False once the session has ended."""
    if isinstance(event, ev.HistoryBatch):
        # The conversation so far, when we join: shown first, then a divider before the live lines.
        for message in event.messages:
            printer.show(printer.format(message))
        if event.messages:
            printer.show(printer.format_divider(tr("history_divider", printer.lang)))
        return True
    line = printer.format(event)
    if line is not None:
        printer.show(line)
    if isinstance(event, ev.ConnectionState):
        if event.state == "registered":
            outcome.registered.set()
            outcome.settled.set()
        elif event.state in ("refused", "failed", "disconnected"):
            outcome.final_state = event.state
        elif event.state == "closed":
            outcome.ended.set()
            outcome.settled.set()
            if interrupt_main:
                _thread.interrupt_main()  # wake the input() prompt so the program can end
            return False
    return True


def run_interactive(session: Session, printer: Printer, outcome: Outcome, args: argparse.Namespace) -> int:
    import readline  # line editing and history for input()
    readline.set_pre_input_hook(printer.prompt_shown)
    current = args.channel or None
    if not outcome.wait_registered():
        return outcome.exit_code()
    settle_before_prompt(session, current)
    try:
        while True:
            printer.prompt = tr("cli_prompt", printer.lang, target=current or "-")
            try:
                line = input(printer.prompt)
            finally:
                printer.input_done()
            result = run_input(line, session, current, printer.lang)
            for text in result.output:
                printer.show(text)
            if result.switch_to:
                current = result.switch_to
                printer.show(tr("now_talking_to", printer.lang, target=current))
            if result.close and result.close == current:
                current = next(iter(session.channels()), None)
            if result.quit:
                session.quit(line.partition(" ")[2] or "Leaving")
                return EXIT_OK
    except (EOFError, KeyboardInterrupt):
        if outcome.ended.is_set():
            return outcome.exit_code()
        session.quit("Leaving")
        return EXIT_OK


def settle_before_prompt(session: Session, channel: str | None, timeout: float = 5.0) -> None:
    """Let the start-up burst (welcome, MOTD, join, history) be printed before the first prompt.

    The first prompt would otherwise race with that burst for the same terminal line. After a PING round
    trip every earlier server line is in the event queue; then wait (bounded) until it has been printed.
    """
    if channel:
        session.wait_joined(channel, timeout)
    session.flush(timeout)
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while session.events.unfinished_tasks and time.monotonic() < deadline:
        pause.wait(0.02)


def run_scripted(session: Session, printer: Printer, outcome: Outcome, args: argparse.Namespace,
                 lines: list[str] | None) -> int:
    """Send each input line (commands included), then exit once the server has acknowledged them all."""
    if not outcome.wait_registered():
        return outcome.exit_code()
    current = args.channel or None
    if current and not session.wait_joined(current, timeout=15):
        printer.show(tr("error", printer.lang, text=f"could not join {current}"))
        session.quit("Leaving")
        return EXIT_REFUSED
    source = lines if lines is not None else (line.rstrip("\r\n") for line in sys.stdin)
    for line in source:
        result = run_input(line, session, current, printer.lang)
        for text in result.output:
            print(text, file=sys.stderr)
        if result.switch_to:
            current = result.switch_to
        if result.quit:
            break
        if not result.sent and outcome.ended.is_set():
            break
    acknowledged = session.flush(timeout=60)
    session.quit("Leaving")
    if not acknowledged:
        print(f"{PROG}: {tr('cli_unsent', printer.lang)}", file=sys.stderr)
        return EXIT_REFUSED if outcome.exit_code() == EXIT_OK else outcome.exit_code()
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lang = detect_language(args.lang)
    interactive = args.once is None and sys.stdin.isatty() and sys.stdout.isatty()
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    config = SessionConfig(
        host=args.host, port=args.port, nick=args.nick, password=args.password,
        channels=(args.channel,) if args.channel else (), tls=args.tls, tls_verify=not args.insecure,
        tls_pin=args.tls_pin,
        reconnect=interactive,
    )
    session = Session(config)
    printer = Printer(lang, colour, interactive)
    outcome = Outcome()
    events = threading.Thread(target=pump_events, args=(session, printer, outcome, interactive), name="events")
    session.start()
    events.start()
    try:
        if interactive:
            code = run_interactive(session, printer, outcome, args)
        else:
            code = run_scripted(session, printer, outcome, args, [args.once] if args.once is not None else None)
    finally:
        session.quit("Leaving")
        events.join(5)
    if code == EXIT_NO_CONNECTION:
        print(f"{PROG}: could not connect to {args.host}:{args.port}", file=sys.stderr)
    elif code == EXIT_REFUSED and outcome.final_state == "refused":
        print(f"{PROG}: the server refused the connection", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
