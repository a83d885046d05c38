"""Command-line plumbing shared by the three entry scripts: one-line errors instead of tracebacks."""
from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys
from typing import NoReturn

from common.casemap import NICK_SPECIALS
from common.tls import normalize_fingerprint


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (with a pointer to ``--help``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_tls_pin_argument(parser: argparse.ArgumentParser) -> None:
    """``--tls-pin``, shared by both clients: trust a self-signed server certificate by its fingerprint."""
    parser.add_argument("--tls-pin", type=pin_argument, metavar="SHA256",
                        help="connect with TLS and trust exactly the certificate with this SHA-256 fingerprint "
                             "(the server prints it at start); for a self-signed certificate")


def pin_argument(text: str) -> str:
    try:
        return normalize_fingerprint(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a certificate fingerprint: {error}") from None


def default_nick() -> str:
    """The login name made into a valid nick (the clients' default): other characters dropped, and a
    "u" in front when it would start with a digit or '-'; "guest" when nothing is left."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = ""
    nick = "".join(char for char in name if char.isalnum() or char in NICK_SPECIALS)[:30]
    if not nick:
        return "guest"
    return nick if not (nick[0].isdigit() or nick[0] == "-") else f"u{nick}"[:30]


def fail(prog: str, message: str, code: int = 1) -> NoReturn:
    """Print one clear line on stderr and exit; for errors found after parsing (ports, files)."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def python_command() -> str:
    """How to start the interpreter that runs us, for the lines that tell a user what to type: the name
    of ``sys.executable`` when that name finds the same program on PATH (``python3`` on Debian, which has
    no ``python``), else its full path."""
    name = os.path.basename(sys.executable) or "python3"
    found = shutil.which(name)
    if found and os.path.realpath(found) == os.path.realpath(sys.executable):
        return name
    return sys.executable or "python3"
