"""What the session asks the shell to do: the only output of the pure state machine.

The shell (speaker, timers, journal) carries these out; the skill never performs I/O itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Say:
    """Speak ``text``. ``urgent`` replies (pain, stop, warning signs) cut off whatever is being said."""

    text: str
    urgent: bool = False


@dataclass(frozen=True)
class StartTimer:
    """A timer the session armed; the shell should call ``Session.tick()`` by ``seconds`` from now."""

    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    """A timer the session disarmed."""

    name: str


@dataclass(frozen=True)
class SetVoice:
    """New absolute voice settings: ``rate`` in words a minute, ``volume`` from 0.0 to 1.0."""

    rate: int
    volume: float


@dataclass(frozen=True)
class EndSession:
    """The session is over; ``summary`` is the closing summary (also said just before)."""

    summary: str


Action = Say | StartTimer | CancelTimer | SetVoice | EndSession
"""Any one action."""
