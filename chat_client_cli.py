#!/usr/bin/env python3
"""classchat CLI client: chat from a terminal, or post into a channel from a script.

    python3 chat_client_cli.py --nick alice --channel '#general'     # interactive, with readline
    echo "build finished" | python3 chat_client_cli.py --nick ci      # scripted: send stdin, then exit
    python3 chat_client_cli.py --once "lesson starts in 5 minutes"
    python3 chat_client_cli.py --raw                                  # and every IRC line, on stderr

In a terminal it is a chat window. From a script it prints on stdout only what others say and what the
script asked for (/names, /whois, …); errors go to stderr, and with --verbose everything else too.
Exit codes: 0 success (/quit, Ctrl+D, a script's input done), 1 the server refused us (nick, password,
banned) or dropped us, 2 could not connect, 130 interrupted (Ctrl+C).
"""
from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import queue
import signal
import sys
import threading
import time
from typing import Callable, TextIO

from common.client import events as ev
from common.client.formatting import printable
from common.client.options import add_tls_pin_argument, default_nick
from common.client.raw_lines import RawLineLog, ShownLine, shown
from common.client.reaction_texts import counts_text
from common.client.session import Session, SessionConfig
from common.client.slash_commands import is_secret_command, needs_secret, run_input
from common.client.texts import describe, detect_language, tr
from common.protocol.casemap import is_channel_name
from common.protocol.command_line import OneLineErrorParser

PROG = "chat_client_cli.py"
ASK = object()  # --password given without a value: ask for it
ACCOUNT_PASSWORD_VARIABLE = "CLASSCHAT_ACCOUNT_PASSWORD"
EXIT_OK, EXIT_REFUSED, EXIT_NO_CONNECTION, EXIT_INTERRUPTED = 0, 1, 2, 130
NICK_COLOURS = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96)
WAKE_SIGNAL = signal.SIGUSR1  # the event thread wakes a waiting prompt with it when the connection has ended
RAW_LINES_KEPT = 20000  # --raw: lines the session keeps while a slow terminal catches up
PROMPT_DRAWN_WITHIN = 2.0  # seconds a printed line waits at most for readline to draw the prompt
# --raw's colour for each kind of line (raw_lines.kind_of); the time and the arrow are dim
RAW_COLOURS = {"message": "34", "membership": "32", "mode": "36", "numeric": "35", "ping": "90", "cap": "33",
               "error": "31", "note": "2;3"}
CODE_INDENT = "    "  # before each line of a message of several lines
CODE_ENDS = (".", "```")  # a line with only one of these ends what /code reads
REACTIONS_QUIET_SECONDS = 1.0  # reactions to a message are summed up once this long passes without another


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineErrorParser(prog=PROG, description="classchat command-line client (IRC).")
    parser.add_argument("--host", default="127.0.0.1", help="server address (default: %(default)s)")
    parser.add_argument("--port", type=int, default=None, help="server port (default: 6667, or 6697 with --tls)")
    parser.add_argument("--nick", default=default_nick(), help="your nickname (default: your login name)")
    parser.add_argument("--channel", default="#general", help="channel to join; '' for none (default: %(default)s)")
    parser.add_argument("--password", nargs="?", const=ASK, help="server password; without a value, ask for it")
    parser.add_argument("--account", metavar="NAME",
                        help="log in to this account (SASL); the password is asked, or taken from the environment "
                             "variable CLASSCHAT_ACCOUNT_PASSWORD")
    parser.add_argument("--tls", action="store_true", help="connect with TLS")
    parser.add_argument("--insecure", action="store_true", help="with --tls: do not verify the certificate")
    add_tls_pin_argument(parser)
    parser.add_argument("--once", metavar="TEXT", help="send one message to the channel and exit")
    parser.add_argument("--verbose", action="store_true",
                        help="from a script: also show the welcome, joins, history and your own lines (on stderr)")
    parser.add_argument("--raw", action="store_true",
                        help="also print every IRC line sent (→) and received (←) on stderr, with times; "
                             "passwords are masked")
    parser.add_argument("--lang", choices=["en", "ru"], help="language (default: from the locale)")
    args = parser.parse_args(argv)
    if args.port is None:
        args.port = 6697 if args.tls or args.tls_pin else 6667
    if not 0 < args.port < 65536:
        parser.error(f"port {args.port} is out of range 1-65535")
    args.account_password = None
    if args.account:
        args.account_password = os.environ.get(ACCOUNT_PASSWORD_VARIABLE) or ask_secret(
            parser, f"Password for {args.account}: ",
            f"--account needs the password: set {ACCOUNT_PASSWORD_VARIABLE} (no terminal to ask)")
    if args.password is ASK:
        args.password = ask_secret(parser, "Password: ",
                                   "--password without a value needs a terminal to ask on; give the password")
    return args


def ask_secret(parser: argparse.ArgumentParser, prompt: str, without_terminal: str) -> str:
    """A password asked at the terminal without showing it; one error line when there is no terminal."""
    if not sys.stdin.isatty():
        parser.error(without_terminal)
    return getpass.getpass(prompt)


class Printer:
    """Turns session events into text lines and says where each goes. In a terminal everything goes to
    the screen, keeping the half-typed input line intact; from a script, stdout gets only what others say
    and the answers to what the script asked, stderr the errors (and, with ``verbose``, the rest).
    Everything from the server passes through ``printable``: no escape sequence of anyone else's reaches
    the terminal."""

    def __init__(self, lang: str, colour: bool, interactive: bool, verbose: bool = False) -> None:
        self.lang = lang
        self.colour = colour
        self.interactive = interactive
        self.verbose = verbose
        self.prompt = ""
        self.reading = False  # readline shows the prompt: a printed line must redraw prompt and typed text
        self.quitting = False  # the user is leaving: the connection's last words are not shown
        self._screen = threading.Condition()  # one writer at a time, and the prompt's hand-over (prompt_coming)
        self._prompt_coming = False  # readline is drawing the prompt: lines wait until it is on the screen
        self._redrawn = False  # a line was shown during this read, and the prompt drawn again below it

    def nick(self, nick: str) -> str:
        nick = printable(nick)
        if not self.colour:
            return nick
        colour = NICK_COLOURS[hashlib.md5(nick.lower().encode()).digest()[0] % len(NICK_COLOURS)]
        return f"\x1b[{colour}m{nick}\x1b[0m"

    def format(self, event: ev.Event) -> str | None:
        if isinstance(event, ev.ChatMessage):
            return self.format_message(event)
        text = describe(event, self.lang)
        if text is None:
            return None
        if isinstance(event, ev.MessageDeleted):  # "* masha deleted a message", where the message was
            stamp = event.time.astimezone().strftime("%H:%M")
            where = f"{printable(event.conversation)} " if is_channel_name(event.conversation) else ""
            return f"{stamp} {where}* {printable(text)}"
        return self.format_system(text)

    def format_system(self, text: str) -> str:
        text = printable(text)
        if not self.interactive:
            return text
        return f"\x1b[2m-- {text}\x1b[0m" if self.colour else f"-- {text}"

    def reactions_summary(self, session: Session, msgid: str) -> str:
        """One line for the reactions on a message as they stand: "Reactions to teacher's “Is that clear?”:
        👍 12 understood, ❓ 3 lost"."""
        counts = counts_text(session.reactions.counts(msgid), self.lang)
        known = session.reactions.book.message(msgid)
        if known is None:
            return self.format_system(tr("reactions_summary_unknown", self.lang, counts=counts))
        return self.format_system(tr("reactions_summary", self.lang, sender=known.sender, excerpt=known.excerpt,
                                     counts=counts))

    def format_message(self, message: ev.ChatMessage) -> str:
        """``12:03 #math <alice> text``; a message of several lines (code) is that line without the text,
        then its lines, each indented by ``CODE_INDENT``."""
        stamp = message.time.astimezone().strftime("%H:%M")
        text, *more = printable(message.text).split("\n")
        if more:
            text, more = "", [text, *more]
        in_channel = is_channel_name(message.conversation)
        if message.own and not in_channel:  # our own private message: say to whom
            to = tr("cli_private_to", self.lang, nick=self.nick(message.conversation))
            body = {"action": f"{to} * {self.nick(message.sender)} {text}",
                    "notice": f"{to} -{text}-"}.get(message.kind, f"{to} {text}")
        elif message.kind == "action":
            body = f"* {self.nick(message.sender)} {text}"
        elif message.kind == "notice":
            body = f"-{self.nick(message.sender)}- {text}"
        else:
            body = f"<{self.nick(message.sender)}> {text}"
        if self.colour and message.mentions_me:
            body = f"\x1b[1m{body}\x1b[0m"
        where = f"{printable(message.conversation)} " if in_channel else ""
        return "\n".join([f"{stamp} {where}{body}".rstrip(), *(f"{CODE_INDENT}{line}".rstrip() for line in more)])

    def stream_for(self, event: ev.Event) -> TextIO | None:
        """Where an event's line goes: the screen in a terminal; from a script, stdout for what a script
        reads, stderr for errors, and stderr for everything else only with --verbose."""
        if self.quitting and isinstance(event, ev.ConnectionState):
            return None
        if self.interactive:
            return sys.stdout
        if isinstance(event, ev.ChatMessage) and not event.own and not event.history:
            return sys.stdout
        if isinstance(event, ev.MessageDeleted) and not event.own:  # as what others say
            return sys.stdout
        if isinstance(event, (ev.NamesList, ev.Announcement)):
            return sys.stdout
        if isinstance(event, ev.ServerReply) and not event.welcome and event.code.isdigit():  # not a server NOTICE
            return sys.stdout
        if isinstance(event, ev.ErrorReply):
            return sys.stderr
        if isinstance(event, ev.NickRefused) or (isinstance(event, ev.Notice) and event.key.startswith("password")):
            return None  # the line the program ends with says it
        return sys.stderr if self.verbose else None

    def prompt_coming(self, prompt: str) -> None:
        """The main thread, just before ``input(prompt)``: readline is about to draw the prompt, and a line
        printed meanwhile would erase it (the line starts with ``\\r`` and an erase of the screen line) with
        nothing to draw it again. So lines wait from now until ``prompt_shown``, which readline calls once the
        prompt is on the screen (its pre-input hook), and then redraw it below them."""
        with self._screen:
            self.prompt = prompt
            self._prompt_coming = True

    def prompt_shown(self) -> None:
        """readline's pre-input hook: the prompt is on the screen now, so redraws may repeat it."""
        with self._screen:
            self._prompt_coming = False
            self.reading = True
            self._screen.notify_all()

    def input_done(self) -> None:
        """``input()`` has returned. A line shown after readline took the Enter (before this ran) drew the
        prompt and the sent text once more on the line below them: erase that copy."""
        with self._screen:
            if self._redrawn:
                self._write(sys.stdout, "\r\x1b[2K")
            self._prompt_coming = self.reading = self._redrawn = False
            self._screen.notify_all()

    def _wait_for_the_prompt(self) -> None:
        """Hold a line (with ``_screen`` held) while readline draws the prompt; should its hook not come
        within ``PROMPT_DRAWN_WITHIN``, take the prompt for drawn, so that no line waits longer."""
        if self._prompt_coming and not self._screen.wait_for(lambda: not self._prompt_coming, PROMPT_DRAWN_WITHIN):
            self._prompt_coming = False
            self.reading = True

    @staticmethod
    def _write(stream: TextIO, text: str) -> None:
        try:
            stream.write(text)
            stream.flush()
        except (BrokenPipeError, ValueError):
            pass  # whoever read our output has gone (a closed pipe): nothing to show it to

    def format_divider(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.colour else text

    def show(self, text: str, stream: TextIO | None = None) -> None:
        stream = stream or sys.stdout
        with self._screen:
            try:
                # In a terminal, stderr (--raw) shares the screen with the prompt: keep the prompt below too.
                on_screen = self.interactive and (stream is sys.stdout or stream.isatty())
                if on_screen:
                    self._wait_for_the_prompt()
                if on_screen and self.reading:
                    import readline  # only in a terminal, where input() uses it
                    typed = readline.get_line_buffer()
                    stream.write(f"\r\x1b[2K{text}\n")
                    stream.flush()
                    sys.stdout.write(f"{self.prompt}{typed}")
                    sys.stdout.flush()
                    self._redrawn = True
                elif on_screen:
                    stream.write(f"\r\x1b[2K{text}\n")
                else:
                    stream.write(text + "\n")
                stream.flush()
            except (BrokenPipeError, ValueError):
                pass  # whoever read our output has gone (a closed pipe): nothing to show it to


class Outcome:
    """What became of the connection, as the event thread saw it, for the main thread to wait on: registered,
    ended (and how), or stuck on a refused nick. ``leaving`` is set once the user quits."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.registered = False
        self.ended = False
        self.final_state = ""
        self.final_detail = ""
        self.nick_refused: ev.NickRefused | None = None
        self.refusal = ""  # a Notice key: password_needed, password_wrong or login_failed
        self.refusal_values: dict[str, str] = {}
        self.leaving = False

    def note(self, event: ev.Event) -> None:
        with self._changed:
            if isinstance(event, ev.NickRefused):
                self.nick_refused = event
            elif isinstance(event, ev.Notice) and event.key in ("password_needed", "password_wrong", "login_failed"):
                self.refusal, self.refusal_values = event.key, event.values
            elif isinstance(event, ev.ConnectionState):
                if event.state == "registered":
                    self.registered = True
                    self.nick_refused = None
                elif event.state in ("refused", "failed", "disconnected"):
                    self.final_state, self.final_detail = event.state, event.detail
                elif event.state == "closed":
                    self.ended = True
            self._changed.notify_all()

    def wait_settled(self) -> None:
        """Wait until registered, ended, or a nick was refused (Ctrl+C interrupts it)."""
        with self._changed:
            while not (self.registered or self.ended or self.nick_refused):
                self._changed.wait(1.0)

    def take_nick_refusal(self) -> ev.NickRefused | None:
        with self._changed:
            refused, self.nick_refused = self.nick_refused, None
            return refused

    def exit_code(self) -> int:
        if self.final_state == "failed" and not self.registered:
            return EXIT_NO_CONNECTION
        if self.final_state in ("refused", "failed", "disconnected") or self.nick_refused or self.refusal:
            return EXIT_REFUSED
        return EXIT_OK


class ConnectionEnded(Exception):
    """The connection ended while the prompt waited for a line."""


class Prompt:
    """The interactive input line: readline editing and history, with lines that carry a password kept out
    of it (``is_secret_command``), passwords asked with getpass, and a way for the event thread to end a
    waiting ``input()`` when the connection is gone: ``wake()`` sends the main thread ``WAKE_SIGNAL``, whose
    handler raises ``ConnectionEnded`` only while a prompt waits, so it can never land anywhere else."""

    def __init__(self, printer: Printer, outcome: Outcome) -> None:
        import readline  # line editing and history for input()
        self._readline = readline
        self.printer = printer
        self.outcome = outcome
        self.waiting = False
        readline.set_auto_history(False)
        readline.set_pre_input_hook(printer.prompt_shown)
        signal.signal(WAKE_SIGNAL, self._on_wake)

    def _on_wake(self, signum: int, frame: object) -> None:
        if self.waiting:
            raise ConnectionEnded

    def wake(self) -> None:
        """From the event thread: end the main thread's wait for a line (the connection has ended)."""
        signal.pthread_kill(threading.main_thread().ident, WAKE_SIGNAL)

    def read(self, prompt: str, secret: bool = False) -> str:
        try:
            self.waiting = True
            if self.outcome.ended:
                raise ConnectionEnded
            if secret:
                self.printer.prompt = prompt
                return getpass.getpass(prompt)
            self.printer.prompt_coming(prompt)
            return input(prompt)
        finally:
            self.waiting = False
            self.printer.input_done()

    def remember(self, line: str) -> None:
        """Add a line to the history (Up brings it back), unless it carries a password."""
        if line.strip() and not is_secret_command(line):
            self._readline.add_history(line)


class ReactionDigest:
    """Reactions, summed up: one line per message once its reactions have been quiet for a second (a class
    of thirty reacting at once gives one line, not thirty), and at once after a page of history. The event
    thread's alone."""

    def __init__(self) -> None:
        self.waiting: dict[str, None] = {}  # msgids with news, in the order they came

    def note(self, event: ev.ReactionsChanged) -> None:
        self.waiting[event.msgid] = None

    def flush(self, session: Session, printer: Printer) -> None:
        stream = sys.stdout if printer.interactive else (sys.stderr if printer.verbose else None)
        waiting, self.waiting = self.waiting, {}
        if stream is not None:
            for msgid in waiting:
                printer.show(printer.reactions_summary(session, msgid), stream)


def pump_events(session: Session, printer: Printer, outcome: Outcome, prompt: Prompt | None) -> None:
    """The event thread: print every event; note registration and the end of the connection."""
    digest = ReactionDigest()
    while True:
        try:
            event = session.events.get(timeout=REACTIONS_QUIET_SECONDS if digest.waiting else None)
        except queue.Empty:
            digest.flush(session, printer)
            continue
        try:
            if isinstance(event, ev.ReactionsChanged):
                digest.note(event)
                continue
            show_event(event, printer, outcome)
            if isinstance(event, ev.HistoryBatch):
                digest.flush(session, printer)  # the reactions that came with the page, under it
            if isinstance(event, ev.ConnectionState) and event.state == "closed":
                if prompt is not None and not outcome.leaving:
                    wake_prompt(prompt)
                return
        finally:
            session.events.task_done()


def wake_prompt(prompt: Prompt, tries: int = 25) -> None:
    """Wake the waiting prompt; again (bounded) should the signal come just before ``input()`` began."""
    pause = threading.Event()
    for _ in range(tries):
        if not prompt.waiting and prompt.outcome.leaving:
            return
        prompt.wake()
        pause.wait(0.2)
        if not prompt.waiting:
            return


def show_event(event: ev.Event, printer: Printer, outcome: Outcome) -> None:
    """Print one event where it belongs, then note what it says about the connection: the main thread,
    woken by the note, prompts only below the line that explains why (a refused nick)."""
    if isinstance(event, ev.HistoryBatch):
        # The conversation so far, when we join: shown first, then a divider before the live lines.
        stream = sys.stdout if printer.interactive else (sys.stderr if printer.verbose else None)
        if stream is not None and event.messages:
            for message in event.messages:
                printer.show(printer.format(message), stream)
            printer.show(printer.format_divider(tr("history_divider", printer.lang)), stream)
    elif isinstance(event, ev.AttendanceReport):  # what the user asked for: stdout, a header and the rows
        since = tr("attendance_since_day", printer.lang, day=event.since) if event.since else ""
        printer.show(printable(tr("attendance_header", printer.lang, channel=event.channel, since=since,
                                  count=len(event.rows))), sys.stdout)
        for row in event.rows:
            printer.show(printable(row.text_line()), sys.stdout)
    elif (stream := printer.stream_for(event)) is not None and (line := printer.format(event)) is not None:
        printer.show(line, stream)
    outcome.note(event)


def print_raw_lines(log: RawLineLog, printer: Printer, colour: bool) -> None:
    """The --raw thread: print every line the session records on stderr, until the session has ended and
    all are printed. It waits on the log, so the session's threads never wait on the terminal."""
    seq = 0
    while True:
        records, missed = log.wait_since(seq, timeout=1.0)
        if missed:
            printer.show(tr("raw_skipped", printer.lang, count=missed), sys.stderr)
        for record in records:
            printer.show(format_raw_line(shown(record, lambda key, values: tr(key, printer.lang, **values)),
                                         colour), sys.stderr)
            seq = record.seq
        if not records and log.closed:
            return


def format_raw_line(line: ShownLine, colour: bool) -> str:
    """"14:03:27.512 → PRIVMSG #general :hi": the text is masked and its control characters visible."""
    if not colour:
        return f"{line.clock} {line.direction} {line.text}"
    code = RAW_COLOURS.get(line.kind)
    text = f"\x1b[{code}m{line.text}\x1b[0m" if code else line.text
    return f"\x1b[2m{line.clock} {line.direction}\x1b[0m {text}"


def wait_until_registered(session: Session, outcome: Outcome, prompt: Prompt | None) -> bool:
    """Wait for registration; in a terminal, ask for another nick each time the server refuses one."""
    while True:
        outcome.wait_settled()
        if outcome.registered:
            return True
        refused = outcome.take_nick_refusal()
        if outcome.ended or refused is None or prompt is None:
            if refused is not None:
                outcome.nick_refused = refused  # for the exit line
            return False
        try:
            answer = prompt.read(tr("cli_ask_nick", prompt.printer.lang)).strip()
        except (EOFError, ConnectionEnded):
            outcome.nick_refused = refused
            return False
        new_nick = answer.removeprefix("/nick ").strip() or refused.nick
        session.set_nick(new_nick)


def run_interactive(session: Session, printer: Printer, outcome: Outcome, prompt: Prompt,
                    args: argparse.Namespace) -> int:
    current = args.channel or None
    if not wait_until_registered(session, outcome, prompt):
        return outcome.exit_code()
    settle_before_prompt(session, current)
    while True:
        try:
            line = prompt.read(tr("cli_prompt", printer.lang, target=current or "-"))
            if needs_secret(line):
                line = f"{line} {prompt.read(tr('cli_ask_password', printer.lang), secret=True)}"
        except EOFError:
            return EXIT_OK  # Ctrl+D
        except ConnectionEnded:
            return outcome.exit_code()
        prompt.remember(line)
        if line.strip() == "/code":
            printer.show(tr("cli_code_start", printer.lang))
            try:
                line = read_code_block(lambda: prompt.read(tr("cli_code_prompt", printer.lang)))
            except ConnectionEnded:
                return outcome.exit_code()
        result = run_input(line, session, current, printer.lang)
        for text in result.output:
            printer.show(text)
        if result.switch_to:
            current = result.switch_to
            printer.show(tr("now_talking_to", printer.lang, target=current))
        if result.close and result.close == current:
            current = next(iter(session.channels()), None)
        if result.quit:
            leave(session, printer, outcome, line.partition(" ")[2] or "Leaving")
            return EXIT_OK
        if outcome.ended:
            return outcome.exit_code()


def read_code_block(next_line: Callable[[], str]) -> str:
    """What ``/code`` sends: the lines after it up to one that holds only a dot or three backticks (or the
    end of the input), as one text; the session sends a text of several lines as one message."""
    lines: list[str] = []
    while True:
        try:
            line = next_line()
        except (EOFError, StopIteration):
            break
        if line.strip() in CODE_ENDS:
            break
        lines.append(line)
    return "\n".join(lines)


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
    if not wait_until_registered(session, outcome, None):
        return outcome.exit_code()
    current = args.channel or None
    if current and not session.wait_joined(current, timeout=15):
        if not outcome.ended:
            print(f"{PROG}: {tr('cli_not_joined', printer.lang, channel=printable(current))}", file=sys.stderr)
        return EXIT_REFUSED
    source = iter(lines if lines is not None else (line.rstrip("\r\n") for line in sys.stdin))
    for line in source:
        if line.strip() == "/code":
            line = read_code_block(lambda: next(source))
        result = run_input(line, session, current, printer.lang)
        for text in result.output:
            printer.show(text, sys.stderr)
        if result.switch_to:
            current = result.switch_to
        if result.quit:
            break
        if not result.sent and outcome.ended:
            break
    acknowledged = session.flush(timeout=60)
    leave(session, printer, outcome, "Leaving")
    if not acknowledged:
        print(f"{PROG}: {tr('cli_unsent', printer.lang)}", file=sys.stderr)
        return EXIT_REFUSED if outcome.exit_code() == EXIT_OK else outcome.exit_code()
    return EXIT_OK


def leave(session: Session, printer: Printer, outcome: Outcome, reason: str) -> None:
    """Quit on the user's behalf: what was typed goes first, then QUIT with ``reason`` (``Session.quit``)."""
    outcome.leaving = printer.quitting = True
    session.quit(reason)


def exit_line(code: int, outcome: Outcome, args: argparse.Namespace, lang: str) -> str | None:
    """The one line on stderr that says why the program ends without success; None when there is none."""
    if code == EXIT_NO_CONNECTION:
        return tr("cli_no_connection", lang, where=f"{args.host}:{args.port}")
    if code != EXIT_REFUSED:
        return None
    if outcome.nick_refused is not None:
        nick = printable(outcome.nick_refused.nick)
        return tr("cli_nick_taken" if outcome.nick_refused.taken else "cli_nick_invalid", lang, nick=nick)
    if outcome.refusal:
        values = {key: printable(value) for key, value in outcome.refusal_values.items()}
        return tr(f"cli_{outcome.refusal}", lang, **values)
    if outcome.final_state == "refused":
        return tr("cli_refused", lang, detail=printable(outcome.final_detail))
    return None


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except (KeyboardInterrupt, EOFError):  # Ctrl+C or Ctrl+D at the password question
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    lang = detect_language(args.lang)
    interactive = args.once is None and sys.stdin.isatty() and sys.stdout.isatty()
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    config = SessionConfig(
        host=args.host, port=args.port, nick=args.nick, password=args.password,
        account=args.account, account_password=args.account_password,
        channels=(args.channel,) if args.channel else (), tls=args.tls, tls_verify=not args.insecure,
        tls_pin=args.tls_pin,
        reconnect=interactive, raw_lines_kept=RAW_LINES_KEPT if args.raw else 0,
    )
    session = Session(config)
    printer = Printer(lang, colour, interactive, verbose=args.verbose)
    outcome = Outcome()
    prompt = Prompt(printer, outcome) if interactive else None
    events = threading.Thread(target=pump_events, args=(session, printer, outcome, prompt), name="events")
    raw = None
    if session.raw_lines is not None:
        raw_colour = sys.stderr.isatty() and "NO_COLOR" not in os.environ
        raw = threading.Thread(target=print_raw_lines, args=(session.raw_lines, printer, raw_colour), name="raw")
        raw.start()
    session.start()
    events.start()
    try:
        if prompt is not None:
            code = run_interactive(session, printer, outcome, prompt, args)
        else:
            code = run_scripted(session, printer, outcome, args, [args.once] if args.once is not None else None)
    except KeyboardInterrupt:  # Ctrl+C: leave as cleanly as /quit, with the conventional exit code
        code = EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not break the goodbye
        if not outcome.leaving:
            leave(session, printer, outcome, "Leaving")
        events.join(5)
        if raw is not None:
            raw.join(5)
    if interactive and code in (EXIT_OK, EXIT_INTERRUPTED):
        printer.show(tr("cli_goodbye", lang))
    line = exit_line(code, outcome, args, lang)
    if line is not None and (not interactive or outcome.refusal or outcome.nick_refused):
        print(f"{PROG}: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
