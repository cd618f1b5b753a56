"""Every intent in every state: never raises, always replies, and the always-available ones always work."""

from __future__ import annotations

from typing import Any

import pytest

from intents.types import INTENT_NAMES, TECHNIQUES, Intent
from skill.actions import EndSession, Say
from skill.dialog import AVAILABLE, STATES
from tests.skill_fixtures import drive, ended, routine, said, say, says

SLOTS: dict[str, dict[str, Any]] = {"technique": {"technique": "fists"}, "hold": {"seconds": 15}}
ALL = (*INTENT_NAMES, "unknown")


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("name", ALL)
def test_every_intent_in_every_state_replies(state: str, name: str) -> None:
    session, _, events = drive(state)
    before = session.state
    intent = Intent.unknown("mumble") if name == "unknown" else Intent(name, SLOTS.get(name, {}))
    actions = session.handle(intent)
    spoken = says(actions)
    assert len(spoken) == 1, actions
    assert spoken[0].text.strip()
    assert all(isinstance(a, (Say, EndSession)) or a.__class__.__name__ in
               ("StartTimer", "CancelTimer", "SetVoice") for a in actions)
    if ended(actions):
        assert isinstance(actions[-1], EndSession)
        assert session.finished
    if name == "unknown":
        assert session.state == before
        assert events[-1].kind == "unknown"
    elif before != "finished":
        assert any(e.kind == "intent" and e.data["name"] == name for e in events)


@pytest.mark.parametrize("state", STATES)
def test_warning_signs_everywhere_read_all_signs_urgently(state: str) -> None:
    session, _, events = drive(state)
    actions = say(session, "warning_signs")
    text = said(actions)
    for sign in routine().warning_signs:
        assert sign in text
    assert says(actions)[0].urgent
    assert events[-1].kind in ("warning_signs", "session_ended")


@pytest.mark.parametrize("state", [s for s in STATES if s != "finished"])
def test_stop_everywhere_ends_with_summary(state: str) -> None:
    session, _, events = drive(state)
    actions = say(session, "stop")
    assert isinstance(actions[-1], EndSession)
    summary = actions[-1].summary
    assert summary in said(actions)
    assert says(actions)[0].urgent
    assert session.finished and session.state == "finished"
    assert events[-1].kind == "session_ended"
    assert not any(a.__class__.__name__ == "StartTimer" for a in actions)


@pytest.mark.parametrize("state", [s for s in STATES if s not in ("paused", "finished")])
def test_pause_everywhere_then_resume_returns(state: str) -> None:
    session, _, _ = drive(state)
    say(session, "pause")
    assert session.state == "paused"
    assert said(say(session, "next"))  # still answers, stays paused
    assert session.state == "paused"
    say(session, "resume")
    assert session.state == state


@pytest.mark.parametrize("state", STATES)
def test_help_lists_the_examples_available_now(state: str) -> None:
    session, _, _ = drive(state)
    text = said(say(session, "help"))
    from tests.skill_fixtures import EXAMPLES

    for name in AVAILABLE[state]:
        if name != "help":
            assert EXAMPLES[name] in text
    if state == "step":
        assert "use palms" in text and "go back" in text


@pytest.mark.parametrize("state", [s for s in STATES if s != "finished"])
def test_pain_everywhere_is_urgent_and_stops_any_hold(state: str) -> None:
    session, _, events = drive(state)
    actions = say(session, "pain")
    assert says(actions)[0].urgent
    assert "ease off" in said(actions)
    assert session.state not in ("hold", "knot")
    assert not any(a.__class__.__name__ == "StartTimer" and a.name.startswith("hold") for a in actions)
    assert any(e.kind == "pain" for e in events)


def test_technique_slot_values_are_the_contract_techniques() -> None:
    assert set(routine().techniques) == set(TECHNIQUES)
