"""Operator passwords kept as salted hashes, so the teacher's secret is on no command line and in no file.

``python3 chat_server.py --hash-password NAME`` asks for a password and prints an operator-file line,
``NAME scrypt$131072$8$1$<salt>$<hash>``; ``--oper-file FILE`` reads such lines. scrypt (RFC 7914) is in
``hashlib``. Its cost is what makes guessing slow: N=2^17, r=8, p=1 is OWASP's current minimum (128 MiB
and most of a second per check on a classroom PC), so the server checks a password outside its state
lock. A stored hash carries its own parameters, so hashes made with an older cost still verify.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "scrypt"
COST, BLOCK_SIZE, PARALLELISM = 2 ** 17, 8, 1
MAX_COST = 2 ** 20  # a stored hash asking for more memory than this (1 GiB) is refused as damaged


class OperFileError(ValueError):
    """A line of an operator file that is not ``NAME HASH``; the message names the line."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = _scrypt(password, salt, COST, BLOCK_SIZE, PARALLELISM)
    return "$".join([SCHEME, str(COST), str(BLOCK_SIZE), str(PARALLELISM), _b64(salt), _b64(digest)])


def is_hashed(stored: str) -> bool:
    return stored.startswith(SCHEME + "$")


def verify_password(stored: str, given: str) -> bool:
    """Whether ``given`` matches ``stored``: a hash made by ``hash_password``, or a plain password (from
    ``--oper NAME:PASSWORD``). Comparisons take the same time whatever the mismatch."""
    if not is_hashed(stored):
        return hmac.compare_digest(stored.encode(), given.encode())
    try:
        _scheme, cost, block_size, parallelism, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        if int(cost) > MAX_COST or int(block_size) > 16 or int(parallelism) > 4:
            return False
        actual = _scrypt(given, base64.b64decode(salt, validate=True), int(cost), int(block_size), int(parallelism))
    except (ValueError, MemoryError):
        return False  # a damaged hash matches nothing (files are checked at start-up, so this is rare)
    return hmac.compare_digest(expected, actual)


def read_oper_file(path: str) -> dict[str, str]:
    """``NAME HASH`` per line; blank lines and lines starting with # are skipped. Raises ``OSError``,
    ``UnicodeDecodeError`` or ``OperFileError``."""
    opers: dict[str, str] = {}
    with open(path, encoding="utf-8") as oper_file:
        for number, line in enumerate(oper_file, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, stored = line.partition(" ")
            stored = stored.strip()
            if not name or not is_hashed(stored) or stored.count("$") != 5:
                raise OperFileError(f"{path}:{number}: expected 'NAME {SCHEME}$…' as --hash-password prints it")
            opers[name] = stored
    return opers


def _scrypt(password: str, salt: bytes, cost: int, block_size: int, parallelism: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=cost, r=block_size, p=parallelism,
                          maxmem=256 * cost * block_size + 1024 * 1024, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
