"""Command-line plumbing shared by the three entry scripts: one-line errors instead of tracebacks."""
from __future__ import annotations

import argparse
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
