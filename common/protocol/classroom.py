"""Raised hands and quick polls as both ends write and read them (classchat's own IRC extension).

The server offers them under the vendor capability ``classchat.org/classroom``; our clients show hands and
polls only when it does. What a poll may hold is decided here once, for the server that enforces it and
the clients that check a teacher's poll before sending it:

- a question of at most ``MAX_QUESTION_CHARS`` characters and 2 to 6 options of at most
  ``MAX_OPTION_CHARS`` each, none empty and none holding ``|`` (the separator) or a control character,
  ``MAX_POLL_TEXT_BYTES`` bytes in all (so that every line about the poll fits in 512 bytes);
- a time limit of ``MIN_TIME_LIMIT`` to ``MAX_TIME_LIMIT`` seconds, or none.

On the wire a poll is ``question|option|option…`` in one parameter, and a queue of hands is
``nick=<ms since the epoch> …`` (nicks never hold ``=``). Numbers from the other end are read with
``params.parse_count``, never ``int()``.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from common.protocol.params import parse_count

CLASSROOM_CAP = "classchat.org/classroom"
POLL_SEPARATOR = "|"
MIN_OPTIONS, MAX_OPTIONS = 2, 6
MAX_QUESTION_CHARS = 150
MAX_OPTION_CHARS = 50
MAX_POLL_TEXT_BYTES = 360
MIN_TIME_LIMIT, MAX_TIME_LIMIT = 5, 3600  # seconds; 0 (or nothing) means no time limit
MAX_TIME_MS = 10 ** 14  # times on the wire are milliseconds since the epoch: about the year 5138
MAX_POLL_ID = 10 ** 9
MAX_VOTERS_ON_WIRE = 100_000  # a count another server could send us, still bounded

# Why a poll was refused: the code of ``FAIL POLL <code>``.
BAD_QUESTION = "BAD_QUESTION"
BAD_OPTIONS = "BAD_OPTIONS"
TOO_LONG = "TOO_LONG"


@dataclass(frozen=True)
class PollText:
    """A poll's question and options, checked."""

    question: str
    options: tuple[str, ...]

    def wire(self) -> str:
        return POLL_SEPARATOR.join((self.question, *self.options))


def _clean(piece: str) -> str | None:
    """A question or option without surrounding spaces; None when it holds a control character."""
    piece = piece.strip()
    if any(unicodedata.category(char) == "Cc" for char in piece):
        return None
    return piece


def poll_problem(question: str, options: list[str] | tuple[str, ...]) -> str | None:
    """Why a poll cannot be opened (``BAD_QUESTION``, ``BAD_OPTIONS``, ``TOO_LONG``), or None. Options
    are taken as given: the caller drops the empty fields of a form first."""
    cleaned_question = _clean(question)
    if not cleaned_question or len(cleaned_question) > MAX_QUESTION_CHARS or POLL_SEPARATOR in cleaned_question:
        return BAD_QUESTION
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        return BAD_OPTIONS
    for option in options:
        cleaned = _clean(option)
        if not cleaned or len(cleaned) > MAX_OPTION_CHARS or POLL_SEPARATOR in cleaned:
            return BAD_OPTIONS
    text = POLL_SEPARATOR.join((cleaned_question, *(option.strip() for option in options)))
    if len(text.encode()) > MAX_POLL_TEXT_BYTES:
        return TOO_LONG
    return None


def read_poll_text(text: str) -> PollText | str:
    """``question|option|option…`` as a ``PollText``, or the code of what is wrong with it."""
    question, *options = text.split(POLL_SEPARATOR)
    problem = poll_problem(question, options)
    if problem is not None:
        return problem
    return PollText(question.strip(), tuple(option.strip() for option in options))


def read_time_limit(word: str) -> int | None:
    """A time limit in seconds (0: none), or None when ``word`` is not one we accept."""
    seconds = parse_count(word, 0, MAX_TIME_LIMIT)
    if seconds is None or 0 < seconds < MIN_TIME_LIMIT:
        return None
    return seconds


def format_entries(entries: list[tuple[str, int]]) -> list[str]:
    """``[("masha", 1700000000000)]`` → ``["masha=1700000000000"]``: hands (raise times) or voters (options)."""
    return [f"{name}={value}" for name, value in entries]


def read_entries(text: str, high: int) -> list[tuple[str, int]]:
    """The ``name=number`` entries of a HANDS or VOTERS line; an entry out of shape (or a number over
    ``high``) is skipped, never raised on."""
    entries = []
    for item in text.split():
        name, equals, number = item.rpartition("=")
        value = parse_count(number, 0, high) if equals and name else None
        if value is not None:
            entries.append((name, value))
    return entries


def read_counts(text: str, options: int) -> list[int] | None:
    """The ``count count …`` of a COUNTS or CLOSED line, one per option; None when it does not say that."""
    words = text.split()
    counts = [parse_count(word, 0, MAX_VOTERS_ON_WIRE) for word in words]
    if len(counts) != options or any(count is None for count in counts):
        return None
    return counts  # type: ignore[return-value]  (no None left)
