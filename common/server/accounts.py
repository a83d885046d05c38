"""Accounts: a name, a scrypt password hash and whether its owner is a teacher, kept in the server's SQLite
file beside the history (a table of its own).

Who uses it, and from which thread: logins (SASL) and REGISTER check and write accounts on the client's
reader thread, *before* the state lock is taken (``CommandSpec.outside_lock``), because a password check
costs most of a second on purpose and SQLite is I/O; ``chat_server.py --add-teacher`` and
``--add-students`` use it before the server starts. Under the state lock only ``is_reserved()`` is
called, which reads an in-memory set. The store's own lock is held briefly and never around the state lock.

Guessing is slowed three ways: scrypt itself (see ``passwords.py``); a delay that grows with each wrong
password for an account; and a lock of the account for a minute after ``MAX_FAILURES`` wrong passwords
within a minute. An unknown account name costs the same scrypt as a known one, so the time of a reply
does not tell which names exist.
"""
from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from common.protocol.casemap import casefold, is_valid_nick
from common.server.passwords import hash_password, verify_password

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password TEXT NOT NULL,
    teacher INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
"""
MIN_PASSWORD_LENGTH = 6
MAX_PASSWORD_BYTES = 300  # what account-registration suggests, so that a password fits in any command
MAX_FAILURES = 5  # wrong passwords for one account within FAILURE_WINDOW seconds, then it is locked
FAILURE_WINDOW = 60.0
REGISTRATION_POLICIES = ("open", "teacher", "closed")
# A word list would be friendlier for children to type, but this alphabet has no look-alikes (0/O, 1/l).
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


class AccountError(ValueError):
    """Why an account cannot be made: ``code`` is the FAIL code of IRCv3 account-registration."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Account:
    name: str
    is_teacher: bool = False


@dataclass(frozen=True)
class LoginResult:
    """What a password check found. ``account`` is set only when the password was right; ``locked`` says
    the account refuses logins for now; ``delay`` is how long to wait before answering (wrong passwords)."""

    account: Account | None
    locked: bool = False
    delay: float = 0.0


def password_problem(password: str) -> AccountError | None:
    """Why a password cannot be an account's, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return AccountError("WEAK_PASSWORD", f"Passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        return AccountError("UNACCEPTABLE_PASSWORD", f"Passwords may have at most {MAX_PASSWORD_BYTES} bytes")
    return None


def generate_password(length: int = 10) -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


class AccountStore:
    """The accounts table, and the in-memory record of failed logins.

    ``monotonic`` is injectable so that tests can let a lock expire without waiting; ``delay_base`` is the
    wait after the first wrong password (doubled after each further one, at most 8 s)."""

    def __init__(self, path: str, nick_length: int = 30, *, delay_base: float = 0.5,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.nick_length = nick_length
        self.delay_base = delay_base
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=200")
        self._db.executescript(SCHEMA)
        self._reserved = {row[0] for row in self._db.execute("SELECT name_key FROM accounts")}
        self._failures: dict[str, deque[float]] = {}
        # Checked against when a name is unknown, so that unknown and known names cost the same time.
        self._decoy = hash_password(secrets.token_hex(16))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------ reading

    def is_reserved(self, nick: str) -> bool:
        """Whether a nick is an account's name (only its owner may use it). Safe under the state lock."""
        return casefold(nick) in self._reserved

    def find(self, name: str) -> Account | None:
        with self._lock:
            row = self._db.execute("SELECT name, teacher FROM accounts WHERE name_key = ?",
                                   (casefold(name),)).fetchone()
        return Account(row[0], bool(row[1])) if row else None

    def all(self) -> list[Account]:
        with self._lock:
            rows = self._db.execute("SELECT name, teacher FROM accounts ORDER BY name_key").fetchall()
        return [Account(name, bool(teacher)) for name, teacher in rows]

    # ------------------------------------------------------------------ writing

    def create(self, name: str, password: str, *, teacher: bool = False) -> Account:
        """A new account, or ``AccountError`` (BAD_ACCOUNT_NAME, WEAK_PASSWORD, ACCOUNT_EXISTS, …)."""
        if not is_valid_nick(name, self.nick_length):
            raise AccountError("BAD_ACCOUNT_NAME", "Account names follow the rules of nicknames")
        problem = password_problem(password)
        if problem is not None:
            raise problem
        stored = hash_password(password)
        with self._lock:
            try:
                self._db.execute("INSERT INTO accounts (name_key, name, password, teacher, created)"
                                 " VALUES (?, ?, ?, ?, ?)", (casefold(name), name, stored, int(teacher),
                                                              int(time.time())))
            except sqlite3.IntegrityError:
                raise AccountError("ACCOUNT_EXISTS", "That account already exists") from None
            self._reserved.add(casefold(name))
        return Account(name, teacher)

    def set_password(self, name: str, password: str) -> None:
        problem = password_problem(password)
        if problem is not None:
            raise problem
        stored = hash_password(password)
        with self._lock:
            self._db.execute("UPDATE accounts SET password = ? WHERE name_key = ?", (stored, casefold(name)))

    def set_teacher(self, name: str, teacher: bool = True) -> None:
        with self._lock:
            self._db.execute("UPDATE accounts SET teacher = ? WHERE name_key = ?", (int(teacher), casefold(name)))

    # ------------------------------------------------------------------ logging in

    def check_login(self, name: str, password: str) -> LoginResult:
        """Check a password (slow on purpose: call it outside the state lock)."""
        key = casefold(name)
        now = self._monotonic()
        with self._lock:
            failures = self._recent_failures(key, now)
            if len(failures) >= MAX_FAILURES:
                return LoginResult(None, locked=True)
            row = self._db.execute("SELECT name, password, teacher FROM accounts WHERE name_key = ?",
                                   (key,)).fetchone()
        matches = verify_password(row[1] if row else self._decoy, password)
        if row and matches:
            with self._lock:
                self._failures.pop(key, None)
            return LoginResult(Account(row[0], bool(row[2])))
        with self._lock:
            failures = self._recent_failures(key, now)
            failures.append(now)
            count = len(failures)
        return LoginResult(None, locked=count >= MAX_FAILURES,
                           delay=min(8.0, self.delay_base * 2 ** (count - 1)))

    def _recent_failures(self, key: str, now: float) -> deque[float]:
        """This account's wrong passwords within the last minute (the table forgets the others)."""
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] > FAILURE_WINDOW:
            failures.popleft()
        if len(self._failures) > 10_000:  # only recent, busy names are kept
            for stale in [k for k, times in self._failures.items() if not times or now - times[-1] > FAILURE_WINDOW]:
                del self._failures[stale]
            failures = self._failures.setdefault(key, failures)
        return failures
