"""Command-line plumbing shared by the three entry scripts: one-line errors instead of tracebacks."""
from __future__ import annotations

import argparse
import getpass
import sys
from typing import NoReturn

from common.casemap import NICK_SPECIALS


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (with a pointer to ``--help``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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
