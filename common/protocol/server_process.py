"""chat_server.py as a child process (the GUI's --demo, the tests, the benchmarks), and where it listens.

The server's first line of output says where it listens; ``listening_line()`` writes it and
``start_server_process()`` reads it, so the two cannot drift apart.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

SERVER_SCRIPT = Path(__file__).resolve().parents[2] / "chat_server.py"
_LISTENING = re.compile(r"listening on (\S+):(\d+)$")


class ServerStartError(RuntimeError):
    """The server exited, or printed something else, instead of saying where it listens."""


class StartedServer(NamedTuple):
    process: subprocess.Popen
    address: tuple[str, int]
    first_line: str


def listening_line(name: str, host: str, port: int) -> str:
    return f"classchat server {name} listening on {host}:{port}"


def start_server_process(args: list[str], **popen_options) -> StartedServer:
    """Start ``chat_server.py ARGS`` (give ``--port 0`` for a free port): the process, where it listens,
    and the line that said so."""
    process = subprocess.Popen([sys.executable, str(SERVER_SCRIPT), *args], stdout=subprocess.PIPE, text=True,
                               encoding="utf-8", **popen_options)
    first_line = process.stdout.readline().strip()
    match = _LISTENING.search(first_line)
    if match is None:
        process.kill()
        _, errors = process.communicate(timeout=5)
        raise ServerStartError(f"{first_line or 'no output'} {(errors or '').strip()}".strip())
    return StartedServer(process, (match.group(1), int(match.group(2))), first_line)
