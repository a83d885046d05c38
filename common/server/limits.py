"""Rate limits for the server's own threads: ``FloodGate`` (lines per connection, used by that
connection's reader thread) and ``ArrivalThrottle`` (new connections per address, used by the accepting
thread). Each instance belongs to one thread, so neither takes a lock; they touch no shared state.
"""
from __future__ import annotations

import time


class FloodGate:
    """Fake lag as ircds do it: a bucket of ``burst`` lines refilled at ``rate`` lines per second.

    A line that finds the bucket empty is delayed until a line's worth has refilled, which slows a
    flooding client down to ``rate``; a client that keeps at it for ``max_excess`` lines in a row is
    disconnected ("Excess Flood"). ``rate`` 0 turns the gate off (benchmarks). One per connection, in slots.
    """

    __slots__ = ("burst", "rate", "max_excess", "tokens", "refilled_at", "excess")

    def __init__(self, burst: int, rate: float, max_excess: int) -> None:
        self.burst, self.rate, self.max_excess = burst, rate, max_excess
        self.tokens = float(burst)
        self.refilled_at = time.monotonic()
        self.excess = 0

    def delay_for_line(self) -> float | None:
        """Seconds to wait before handling the next line, or None to disconnect the client."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.excess = 0
            return 0.0
        self.excess += 1
        if self.excess > self.max_excess:
            return None
        wait = (1 - self.tokens) / self.rate
        self.tokens = 0.0
        self.refilled_at = now + wait
        return wait

    def charge(self, lines: int) -> None:
        """Count ``lines`` lines that went through without a token each (a multiline batch, as a whole):
        the bucket may go below empty, and the next lines wait until it has refilled."""
        if self.rate <= 0 or lines <= 0:
            return
        now = time.monotonic()
        if now > self.refilled_at:
            self.tokens = min(float(self.burst), self.tokens + (now - self.refilled_at) * self.rate)
            self.refilled_at = now
        self.tokens -= lines


class ArrivalThrottle:
    """New connections per address: a bucket of ``per_minute`` connections that refills over a minute.

    Only the accepting thread uses it. Addresses whose bucket has refilled are forgotten now and then, so
    the table stays as small as the set of recent, busy addresses.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when counted)

    def admit(self, address: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        tokens, counted_at = self._buckets.get(address, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - counted_at) * self.per_minute / 60.0)
        if len(self._buckets) >= 4096:
            self._forget_refilled(now)
        if tokens < 1:
            self._buckets[address] = (tokens, now)
            return False
        self._buckets[address] = (tokens - 1, now)
        return True

    def _forget_refilled(self, now: float) -> None:
        self._buckets = {address: (tokens, at) for address, (tokens, at) in self._buckets.items()
                         if tokens + (now - at) * self.per_minute / 60.0 < self.per_minute}
