"""Helpers for the skill tests: a session on the packaged routine, driven by a FakeClock into any state."""

from __future__ import annotations

from functools import cache
from typing import Any

from intents.types import INTENT_NAMES, Intent
from skill.actions import Action, EndSession, Say, SetVoice, StartTimer
from skill.clock import FakeClock
from skill.events import SessionEvent
from skill.routine import Routine, load_routine
from skill.session import Session

EXAMPLES: dict[str, str] = {name: name.replace("_", " ") for name in INTENT_NAMES}
EXAMPLES.update({"technique": "use palms", "hold": "hold it", "previous": "go back", "next": "next step"})


@cache
def routine() -> Routine:
    """The packaged English routine (loaded once)."""
    return load_routine()


def make(auto_advance: bool = False, **kw: Any) -> tuple[Session, FakeClock, list[SessionEvent]]:
    """A fresh session, its fake clock and the list its events are recorded into."""
    clock = FakeClock(1000.0)
    session = Session(routine(), clock, EXAMPLES, auto_advance=auto_advance, **kw)
    events: list[SessionEvent] = []
    session.add_listener(events.append)
    return session, clock, events


def say(session: Session, name: str, **slots: Any) -> list[Action]:
    """Handle one intent called ``name`` with ``slots``."""
    return session.handle(Intent(name, slots))


def said(actions: list[Action]) -> str:
    """Everything spoken in ``actions``, joined."""
    return " ".join(a.text for a in actions if isinstance(a, Say))


def says(actions: list[Action]) -> list[Say]:
    """The ``Say`` actions."""
    return [a for a in actions if isinstance(a, Say)]


def timers(actions: list[Action]) -> dict[str, float]:
    """Timers started by ``actions``: name -> seconds."""
    return {a.name: a.seconds for a in actions if isinstance(a, StartTimer)}


def ended(actions: list[Action]) -> bool:
    """Whether ``actions`` end the session."""
    return any(isinstance(a, EndSession) for a in actions)


def voices(actions: list[Action]) -> list[SetVoice]:
    """The ``SetVoice`` actions."""
    return [a for a in actions if isinstance(a, SetVoice)]


def to_ready(session: Session) -> None:
    """Begin and answer every safety question with no."""
    session.begin()
    for _ in routine().safety:
        say(session, "no")
    assert session.state == "ready"


def drive(state: str) -> tuple[Session, FakeClock, list[SessionEvent]]:
    """A session brought into ``state`` (one of ``skill.dialog.STATES``) the way a user would."""
    session, clock, events = make()
    if state == "new":
        return session, clock, events
    session.begin()
    if state == "safety":
        return session, clock, events
    if state == "declined":
        say(session, "yes")
    elif state == "finished":
        say(session, "stop")
    else:
        to_ready(session)
        if state != "ready":
            say(session, "start")
            say(session, "next")
        if state == "hold":
            say(session, "hold")
        elif state == "knot":
            say(session, "knot")
        elif state == "paused":
            say(session, "hold")
            clock.advance(4)
            say(session, "pause")
        elif state == "confirm_end":
            say(session, "pain")
            clock.advance(5)
            say(session, "pain")
    assert session.state == state
    return session, clock, events
