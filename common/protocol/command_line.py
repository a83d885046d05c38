"""Command-line plumbing shared by the three entry scripts (server and both clients): one-line errors instead
of tracebacks, and how to name the interpreter in the lines that tell a user what to type. Standard library
only, like the rest of ``common.protocol``: it is the part of the contract between the programs and the
person at the terminal that every end shares."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import NoReturn


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (with a pointer to ``--help``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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
