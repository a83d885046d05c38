"""One SQLite transaction, rolled back whole when anything in it fails: the history's filler, its REDACT and
retention, its upgrade, and the attendance recorder each write this way."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def transaction(db: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
    """Run the block in a transaction on ``db`` (a connection in autocommit mode, ``isolation_level=None``)
    and commit it; on any error roll back and raise that error. ``begin`` may be ``BEGIN IMMEDIATE`` for
    a change that reads before it writes: a read begun before another connection's commit cannot become a
    write (SQLITE_BUSY at once, whatever the busy timeout)."""
    if db.in_transaction:  # a failed ROLLBACK earlier must not make this BEGIN fail
        db.execute("ROLLBACK")
    db.execute(begin)
    try:
        yield db
        db.execute("COMMIT")  # may fail too (disk full, locked): the transaction is then still open
    except BaseException:
        if db.in_transaction:  # SQLite rolls back by itself on some errors (SQLITE_FULL)
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # the next transaction rolls back first; the error that matters is the one raised
        raise
