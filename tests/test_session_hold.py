"""Timed holds on a FakeClock: default, clamping, near-end and release cues, interruption, pause/resume."""

from __future__ import annotations

import pytest

from intents.types import HOLD_SECONDS_RANGE
from skill.actions import CancelTimer, StartTimer
from tests.skill_fixtures import drive, said, say, timers


def test_default_hold_is_20_seconds_with_cue_5_seconds_before_the_end() -> None:
    session, clock, events = drive("step")
    actions = say(session, "hold")
    assert session.state == "hold"
    assert timers(actions) == {"hold_end": 20.0, "hold_cue": 15.0}
    assert "20 seconds" in said(actions)
    assert events[-1].kind == "hold_started" and events[-1].data["seconds"] == 20
    clock.advance(14.9)
    assert session.tick() == []
    clock.advance(0.1)
    cue = said(session.tick())
    assert "5 seconds to go" in cue
    assert session.state == "hold"
    clock.advance(4.9)
    assert session.tick() == []
    clock.advance(0.1)
    release = session.tick()
    assert "release" in said(release)
    assert session.state == "step"
    assert events[-1].kind == "hold_ended" and events[-1].data["completed"] is True
    assert session.tick() == []


@pytest.mark.parametrize(("asked", "held"), [(5, 10), (45, 30), (10, 10), (30, 30), (12, 12), ("25", 25)])
def test_requested_seconds_are_clamped_to_the_guide_range(asked: object, held: int) -> None:
    session, clock, _ = drive("step")
    actions = say(session, "hold", seconds=asked)
    assert timers(actions)["hold_end"] == held
    assert HOLD_SECONDS_RANGE[0] <= held <= HOLD_SECONDS_RANGE[1]
    if int(asked) != held:  # type: ignore[call-overload]
        assert "between 10 and 30 seconds" in said(actions)
    clock.advance(held)
    assert "release" in said(session.tick())


def test_a_garbled_seconds_slot_falls_back_to_the_default() -> None:
    session, _, _ = drive("step")
    assert timers(say(session, "hold", seconds="lots"))["hold_end"] == 20


def test_both_cues_due_at_once_only_release() -> None:
    session, clock, _ = drive("step")
    say(session, "hold")
    clock.advance(60)
    text = said(session.tick())
    assert "release" in text and "to go" not in text


@pytest.mark.parametrize("interrupt", ["next", "stop", "previous", "knot", "pain"])
def test_interruptions_cancel_the_hold(interrupt: str) -> None:
    session, clock, events = drive("step")
    say(session, "hold")
    actions = say(session, interrupt)
    cancelled = {a.name for a in actions if isinstance(a, CancelTimer)}
    assert {"hold_end", "hold_cue"} <= cancelled
    assert session.state != "hold"
    assert any(e.kind == "hold_ended" and e.data["completed"] is False for e in events)
    clock.advance(60)
    assert "release" not in said(session.tick())


def test_next_during_a_hold_moves_on() -> None:
    session, _, _ = drive("step")
    index = session.step_index
    say(session, "hold")
    actions = say(session, "next")
    assert session.step_index == index + 1
    assert "Releasing" in said(actions)


def test_pause_keeps_the_remaining_hold_time() -> None:
    session, clock, _ = drive("step")
    say(session, "hold", seconds=30)
    clock.advance(12)
    paused = say(session, "pause")
    assert {a.name for a in paused if isinstance(a, CancelTimer)} >= {"hold_end", "hold_cue"}
    assert session.state == "paused"
    clock.advance(500)
    assert session.tick() == []
    resumed = say(session, "resume")
    assert session.state == "hold"
    assert timers(resumed)["hold_end"] == pytest.approx(18)
    assert timers(resumed)["hold_cue"] == pytest.approx(13)
    assert "18 seconds to go" in said(resumed)
    clock.advance(13)
    assert "5 seconds to go" in said(session.tick())
    clock.advance(5)
    assert "release" in said(session.tick())


def test_hold_from_the_knot_offer_with_yes() -> None:
    session, clock, _ = drive("knot")
    actions = say(session, "yes")
    assert session.state == "hold"
    assert timers(actions)["hold_end"] == 20
    clock.advance(20)
    session.tick()
    assert session.state == "step"


def test_status_during_a_hold_tells_the_time_left() -> None:
    session, clock, _ = drive("step")
    say(session, "hold")
    clock.advance(8)
    assert "12 seconds to go" in said(say(session, "status"))


def test_timer_actions_are_start_timers_the_shell_can_schedule() -> None:
    session, _, _ = drive("step")
    actions = say(session, "hold")
    assert all(a.seconds > 0 for a in actions if isinstance(a, StartTimer))
