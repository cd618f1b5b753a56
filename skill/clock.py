"""Time for the skill, injected: the app hands in the real monotonic clock, tests a fake one."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the time in seconds on a monotonic scale."""

    def now(self) -> float:
        """Seconds since an arbitrary, fixed origin; never goes backwards."""
        ...


class MonotonicClock:
    """The real clock (``time.monotonic``)."""

    def now(self) -> float:
        """Current monotonic time in seconds."""
        return time.monotonic()


class FakeClock:
    """A clock that only moves when told to, so a 30-second hold takes microseconds in a test."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        """The time the clock was last set to."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        self._now += seconds
