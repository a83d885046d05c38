"""What a channel keeps of raised hands and its quick poll (``Channel.classroom``).

Plain data, read and changed only with the state lock held, by the HAND, POLL and VOTE commands
(``commands/hands.py``, ``commands/polls.py``), by ``ServerState.part`` (a member who leaves loses their
hand) and by housekeeping (a poll whose time is up closes). Nothing here sends anything.

A hand belongs to a connection (a ``state.Client``), not to a nick: it follows a nick change and goes down when
its owner leaves the channel (PART, KICK, QUIT), so nobody can be called on who is not there. A ballot
belongs to a person: their account when logged in, else their nick (so a guest who reconnects under the
same nick replaces their vote rather than adding one); a connection that votes again under another nick
replaces its own earlier ballot as well. Times are milliseconds since the epoch from the server's clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Protocol

from common.protocol.casemap import casefold
from common.protocol.classroom import PollText


class Member(Hashable, Protocol):
    """What this module reads of a member (``state.Client`` is one; importing it would be a cycle)."""

    nick: str
    account: str | None

RAISES_PER_MINUTE = 10  # raising a hand more often than this in a minute is refused (FAIL HAND TOO_FAST)
MAX_VOTE_CHANGES = 20  # how often one person may change their vote in one poll (FAIL VOTE TOO_MANY_CHANGES)


@dataclass
class Ballot:
    option: int  # 1-based
    nick: str  # as the voter was called when they last voted
    changes: int = 0


@dataclass(eq=False)
class Poll:
    """An open poll. ``tally`` holds the count of each option, kept as ballots come and change."""

    number: int  # the channel's how-many-th poll: clients name it in VOTE, so a late click never lands in the next
    text: PollText
    named: bool
    opened_by: Member
    opener_nick: str
    closes_at: int | None  # ms since the epoch; None: no time limit
    ballots: dict[str, Ballot] = field(default_factory=dict)  # voter key -> ballot
    key_of: dict[Member, str] = field(default_factory=dict)  # the voter key each connection voted under
    tally: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tally = [0] * len(self.text.options)

    @property
    def total(self) -> int:
        return len(self.ballots)

    def is_due(self, now_ms: int) -> bool:
        return self.closes_at is not None and now_ms >= self.closes_at

    def ballot_of(self, client: Member) -> Ballot | None:
        key = self.key_of.get(client)
        return self.ballots.get(key) if key is not None else None

    def vote(self, client: Member, option: int) -> tuple[str, str | None]:
        """Count ``client``'s vote for ``option``: ("new" | "changed" | "same" | "too_many", and the nick of
        a ballot this connection had cast under another nick and that this one replaces, or None)."""
        key = voter_key(client)
        replaced: str | None = None
        changes = 0
        earlier = self.key_of.get(client)
        if earlier is not None and earlier != key and earlier in self.ballots:
            old = self.ballots[earlier]
            if old.changes >= MAX_VOTE_CHANGES:
                return "too_many", None
            del self.ballots[earlier]
            self.tally[old.option - 1] -= 1
            replaced, changes = old.nick, old.changes + 1
        self.key_of[client] = key
        ballot = self.ballots.get(key)
        if ballot is None:
            self.ballots[key] = Ballot(option, client.nick, changes)
            self.tally[option - 1] += 1
            return ("changed" if replaced else "new"), replaced
        if ballot.option == option:
            ballot.nick = client.nick
            return "same", None
        if ballot.changes >= MAX_VOTE_CHANGES:
            return "too_many", None
        self.tally[ballot.option - 1] -= 1
        self.tally[option - 1] += 1
        ballot.option, ballot.nick = option, client.nick
        ballot.changes += 1
        return "changed", None


def voter_key(client: Member) -> str:
    """Who a ballot belongs to: the account when logged in, else the nick (a nick holds no ':')."""
    return f"account:{casefold(client.account)}" if client.account else f"nick:{casefold(client.nick)}"


@dataclass(eq=False)
class Classroom:
    """A channel's raised hands (in the order they went up, with the time) and its open poll."""

    hands: dict[Member, int] = field(default_factory=dict)
    recent_raises: dict[Member, list[int]] = field(default_factory=dict)
    poll: Poll | None = None
    polls_opened: int = 0

    def forget(self, client: Member) -> None:
        """``client`` left the channel: its hand goes down (its ballot, if any, still counts)."""
        self.hands.pop(client, None)
        self.recent_raises.pop(client, None)

    def may_raise(self, client: Member, now_ms: int) -> bool:
        """Whether ``client`` may raise a hand now (at most ``RAISES_PER_MINUTE`` a minute); if so, counted."""
        recent = [at for at in self.recent_raises.get(client, ()) if now_ms - at < 60_000]
        if len(recent) >= RAISES_PER_MINUTE:
            self.recent_raises[client] = recent
            return False
        self.recent_raises[client] = [*recent, now_ms]
        return True

    def queue(self) -> list[tuple[str, int]]:
        """(nick, raised at) of every hand up, the first raised first."""
        return [(client.nick, raised_at) for client, raised_at in self.hands.items()]
