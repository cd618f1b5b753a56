"""Moving through the routine: steps, techniques, knots, pressure, voice, pacing, summary, events, resume."""

from __future__ import annotations

import json

import pytest

from intents.errors import ConfigError
from skill.actions import EndSession
from skill.clock import FakeClock
from skill.session import Session
from tests.skill_fixtures import EXAMPLES, drive, ended, make, routine, said, say, timers, to_ready, voices


def test_next_walks_every_step_then_ends_with_the_cool_down_and_summary() -> None:
    session, clock, events = drive("ready")
    seen = []
    actions = say(session, "start")
    while not ended(actions):
        seen.append(session.step_id)
        assert routine().steps[session.step_index].say in said(actions)
        clock.advance(30)
        actions = say(session, "next")
    assert seen == [s.id for s in routine().steps]
    assert seen[-1] == "cool_down"
    assert isinstance(actions[-1], EndSession)
    summary = actions[-1].summary
    assert f"{len(seen)} steps" in summary and "5 minutes" in summary
    assert "fingertips" in summary and "relaxed fists" in summary and "elbows" in summary
    assert "no knots" in summary and "no pain reports" in summary
    assert summary in said(actions)
    entered = [e.data["step"] for e in events if e.kind == "step_entered"]
    assert entered == seen
    assert events[-1].kind == "session_ended" and events[-1].data["reason"] == "completed"


def test_previous_goes_back_and_stays_at_the_first_step() -> None:
    session, _, _ = drive("ready")
    say(session, "start")
    say(session, "next")
    say(session, "previous")
    assert session.step_index == 0
    text = said(say(session, "previous"))
    assert "first step" in text and session.step_index == 0


def test_repeat_repeats_the_last_thing_said_not_the_not_understood_reply() -> None:
    session, _, _ = drive("step")
    last = session.last_said
    assert routine().steps[1].say in last
    say(session, "unknown")
    say(session, "slower")
    assert said(say(session, "repeat")) == last
    assert session.last_said == last


def test_technique_switch_explains_and_is_counted() -> None:
    session, _, events = drive("step")
    text = said(say(session, "technique", technique="palms"))
    assert routine().techniques["palms"].explain in text
    assert events[-1].kind == "technique_changed" and events[-1].data["technique"] == "palms"
    assert "palms" in said(say(session, "status"))
    assert "already" in said(say(session, "technique", technique="palms"))
    assert "Which technique" in said(say(session, "technique"))
    assert "Which technique" in said(say(session, "technique", technique="knees"))
    assert "palms" in session.summary()


def test_technique_is_refused_before_the_massage() -> None:
    session, _, _ = drive("ready")
    say(session, "technique", technique="fists")
    assert session.state == "ready"


def test_knot_gives_short_firm_strokes_then_no_goes_back_to_the_step() -> None:
    session, _, events = drive("step")
    text = said(say(session, "knot"))
    assert "short, firmer strokes" in text and "hold" in text
    assert session.state == "knot" and events[-1].kind == "knot"
    say(session, "no")
    assert session.state == "step"
    assert "one knot" in session.summary()


def test_firmer_respects_the_limits_and_warns_about_elbows() -> None:
    session, _, _ = drive("step")
    assert "never painful" in said(say(session, "firmer"))
    for _ in range(routine().settings.pressure_steps):
        last = said(say(session, "firmer"))
    assert "as firm as it should go" in last
    say(session, "technique", technique="elbows")
    say(session, "lighter")
    text = said(say(session, "firmer"))
    assert "with care" in text and "never painful" in text
    for _ in range(2 * routine().settings.pressure_steps + 1):
        last = said(say(session, "lighter"))
    assert "already very light" in last


def test_voice_changes_are_absolute_and_bounded() -> None:
    session2, _, events = make(rate=175, volume=0.9)
    step = routine().settings.voice.rate_step
    session2.begin()
    assert voices(say(session2, "slower"))[0].rate == 175 - step
    assert voices(say(session2, "louder"))[0].volume == 1.0
    limit = say(session2, "louder")
    assert voices(limit) == [] and "as loud" in said(limit)
    for _ in range(50):
        say(session2, "faster")
    assert session2.rate == routine().settings.voice.rate_max
    for _ in range(50):
        say(session2, "quieter")
    assert session2.volume == pytest.approx(routine().settings.voice.volume_min)
    assert any(e.kind == "voice_changed" for e in events)


def test_initial_voice_is_clamped_and_announced() -> None:
    session, _, _ = make(rate=999, volume=7)
    voice = voices(session.begin())[0]
    assert voice.rate == routine().settings.voice.rate_max and voice.volume == 1.0


def test_unknown_never_changes_state_and_hints_after_three() -> None:
    session, _, events = drive("step")
    replies = [said(say(session, "unknown")) for _ in range(3)]
    assert session.state == "step"
    assert "You could say" not in replies[0] and "You could say" not in replies[1]
    assert "You could say" in replies[2] and EXAMPLES["next"] in replies[2]
    assert [e.kind for e in events[-3:]] == ["unknown"] * 3
    say(session, "status")
    assert "You could say" not in said(say(session, "unknown"))


def test_pacing_prompts_when_a_step_runs_long() -> None:
    session, clock, _ = drive("ready")
    actions = say(session, "start")
    duration = routine().steps[0].duration_s
    assert timers(actions) == {"pacing": duration}
    clock.advance(duration - 1)
    assert session.tick() == []
    clock.advance(1)
    prompt = session.tick()
    assert "Say next" in said(prompt)
    assert session.step_index == 0
    assert timers(prompt) == {"pacing": routine().settings.pacing_reprompt_s}


def test_auto_advance_moves_on_by_itself_and_finishes() -> None:
    session, clock, _ = make(auto_advance=True)
    to_ready(session)
    say(session, "start")
    actions: list = []
    for _ in range(len(routine().steps)):
        clock.advance(routine().steps[session.step_index].duration_s)
        actions = session.tick()
    assert session.finished and isinstance(actions[-1], EndSession)


def test_auto_advance_waits_for_a_hold() -> None:
    session, clock, _ = make(auto_advance=True)
    to_ready(session)
    say(session, "start")
    clock.advance(routine().steps[0].duration_s - 5)
    say(session, "hold", seconds=30)
    clock.advance(6)
    session.tick()
    assert session.state == "hold" and session.step_index == 0


def test_status_says_where_and_how_long() -> None:
    session, clock, _ = drive("step")
    clock.advance(125)
    text = said(say(session, "status"))
    assert "step 2 of 10" in text and "2 minutes" in text


def test_events_are_json_friendly_and_carry_the_step() -> None:
    session, clock, events = drive("step")
    say(session, "hold", seconds=12)
    clock.advance(12)
    session.tick()
    say(session, "pause")
    say(session, "resume")
    say(session, "stop")
    kinds = {e.kind for e in events}
    assert {"session_started", "intent", "step_entered", "hold_started", "hold_ended", "paused", "resumed",
            "session_ended"} <= kinds
    for event in events:
        json.dumps(event.data)
        assert "step" in event.data and "index" in event.data
        assert event.at >= 0


def test_snapshot_restore_resumes_at_the_same_step() -> None:
    session, clock, _ = drive("step")
    say(session, "next")
    say(session, "technique", technique="fists")
    say(session, "knot")
    clock.advance(90)
    snap = json.loads(json.dumps(session.snapshot()))
    assert snap["step_id"] == session.step_id
    other = FakeClock(5.0)
    restored = Session.restore(routine(), other, EXAMPLES, snap)
    assert restored.step_id == session.step_id and restored.step_index == session.step_index
    opening = restored.begin()
    text = said(opening)
    assert "Welcome back" in text and routine().steps[session.step_index].title in text
    assert restored.state == "step"
    assert "pacing" in timers(opening)
    assert restored.summary_stats()["knots"] == 1
    assert restored.summary_stats()["elapsed_s"] == pytest.approx(session.summary_stats()["elapsed_s"])
    say(restored, "next")
    assert restored.step_index == session.step_index + 1


RESUMABLE = ["safety", "ready", "hold", "paused", "confirm_end", "declined", "finished"]


@pytest.mark.parametrize("state", RESUMABLE)
def test_restore_from_any_state(state: str) -> None:
    session, _, _ = drive(state)
    restored = Session.restore(routine(), FakeClock(), EXAMPLES, session.snapshot(), rate=150)
    assert said(restored.begin())
    assert restored.rate == 150
    assert restored.state in ("safety", "ready", "step", "declined", "finished")


def test_restore_rejects_a_broken_snapshot() -> None:
    with pytest.raises(ConfigError):
        Session.restore(routine(), FakeClock(), EXAMPLES, {"phase": "massage"})
    with pytest.raises(ConfigError):
        Session.restore(routine(), FakeClock(), EXAMPLES, {**drive("step")[0].snapshot(), "phase": "dance"})


def test_begin_twice_and_after_the_end() -> None:
    session, _, _ = make()
    first = said(session.begin())
    assert routine().safety[0].ask in said(session.begin())
    assert first
    say(session, "stop")
    assert "ended" in said(session.begin()) and session.finished
    assert session.tick() == []
