"""Reactions and replies as client-only message tags (IRCv3 ``+draft/react``, ``+draft/unreact`` and
``+draft/reply``), and the capability that deletes messages (``draft/message-redaction``): the names both
ends share, and the one check of what a reaction line may carry.

A reaction is a TAGMSG (or, as the spec allows, a PRIVMSG) with ``+draft/reply=<msgid>`` naming the message
reacted to and ``+draft/react=<reaction>`` or ``+draft/unreact=<reaction>``: the unreact tag takes back a
reaction the same person gave before (ircv3-specifications PR #568). The specs put no limit on the value;
classchat takes at most ``MAX_REACTION_BYTES`` of printable text, a few emoji, not a paragraph.
"""
from __future__ import annotations

import unicodedata
from typing import NamedTuple

from common.protocol.params import parse_msgid

REDACTION_CAP = "draft/message-redaction"
REACT_TAG = "+draft/react"
UNREACT_TAG = "+draft/unreact"
REPLY_TAG = "+draft/reply"
MAX_REACTION_BYTES = 32  # a flag or a family emoji is up to 28 bytes of UTF-8
# The three the classroom clients offer: understood, done, lost (see README, "Deleting messages and reactions").
CLASS_REACTIONS = ("👍", "✅", "❓")


class Reaction(NamedTuple):
    """One reaction line: who reacted is its source; ``added`` is False for an unreact."""

    parent: str
    emoji: str
    added: bool


def is_valid_reaction(value: str) -> bool:
    """A reaction value we relay and keep: not empty, at most ``MAX_REACTION_BYTES``, with no control
    character or space (a reaction is a symbol, not a sentence)."""
    if not value or len(value.encode()) > MAX_REACTION_BYTES:
        return False
    return not any(char.isspace() or unicodedata.category(char) in ("Cc", "Cs") for char in value)


def reaction_of(tags: dict[str, str]) -> Reaction | None:
    """The reaction a line's tags carry, or None when they carry none (or a malformed one)."""
    parent = parse_msgid(tags.get(REPLY_TAG, ""))
    if parent is None:
        return None
    react, unreact = tags.get(REACT_TAG), tags.get(UNREACT_TAG)
    if (react is None) == (unreact is None):  # neither, or both at once: not one reaction
        return None
    value = react if react is not None else unreact
    return Reaction(parent, value, react is not None) if is_valid_reaction(value) else None


def tag_problem(tags: dict[str, str], tagmsg: bool) -> str | None:
    """Why a message's reply or reaction tags are refused, in words for a FAIL; None when they are fine
    (or absent). A reply must name a message id. A TAGMSG reaction, which is nothing but its tags (and is
    kept in the history), needs a reply and one valid value; on a PRIVMSG or NOTICE the text is the message
    and a reaction tag only decorates it, so it is relayed as it is."""
    has_reply = REPLY_TAG in tags
    if has_reply and parse_msgid(tags[REPLY_TAG]) is None:
        return f"{REPLY_TAG} must name a message id"
    if tagmsg and (REACT_TAG in tags or UNREACT_TAG in tags):
        if not has_reply:
            return f"a reaction needs {REPLY_TAG}, the id of the message reacted to"
        if reaction_of(tags) is None:
            return f"a reaction is one {REACT_TAG} or {UNREACT_TAG} of at most {MAX_REACTION_BYTES} bytes, no spaces"
    return None
