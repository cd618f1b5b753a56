"""The app's live loop in the virtual room: real microphone path (PortAudio -> ALSA pulse plugin ->
PulseAudio), real Vosk with the toy model, real pyttsx3/espeak-ng speech; a partner speaking espeak-ng
commands into the same room. No fake audio: the coach's microphone hears its own speaker.

Each scenario runs in its own room; the selected ones run side by side (``ROOM_PARALLEL``, default 3,
so the five take about as long as the longest) and each test reports its own scenario's outcome."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.room_latency import departure, find_commands, first_sound, frame_db, segments, split_room
from tests.room import RATE, Room, music
from tests.room_coach import (
    CoachApp,
    begin_massage,
    entered_steps,
    heard_texts,
    open_coach,
    run_in_rooms,
    transcript,
)

pytestmark = [pytest.mark.room, pytest.mark.slow]

CHATTER = (
    "my sister called me yesterday about the garden party",
    "did you see the football game on television last night",
)


def said_intents(app: CoachApp) -> list[str]:
    """The session's intents, ``unknown`` left out."""
    return [name for name in app.intents() if name != "unknown"]


def coach_audio(room: Room) -> np.ndarray:
    """The coach's channel of the room recording so far."""
    return split_room(room.recorder.audio())[1]


def scenario_whole_guided_session_by_voice(room: Room) -> None:
    app = open_coach(room)
    said = begin_massage(app)
    for text in ("next", "next stroke", "hold for fifteen seconds"):
        app.converse(text)
        said.append(text)
    assert app.wait_kind("hold_ended", 40), transcript(app)
    app.settle(expect_speech=3.0)  # "now slowly release the pressure"
    for text in ("switch to palms", "slower", "what are the warning signs", "stop"):
        app.converse(text)
        said.append(text)
    code = app.wait_exit(40)
    expected = [{"next stroke": "next", "hold for fifteen seconds": "hold", "switch to palms": "technique",
                 "what are the warning signs": "warning_signs"}.get(t, t) for t in said]
    assert said_intents(app) == expected, transcript(app)
    holds = app.kinds("hold_started")
    assert holds and holds[0]["data"].get("seconds") == 15
    assert [x["data"].get("technique") for x in app.kinds("technique_changed")][-1:] == ["palms"]
    assert app.kinds("voice_changed") and app.kinds("warning_signs") and app.kinds("session_ended")
    assert entered_steps(app)[:3] == [0, 1, 2]
    assert app.kinds("journal_closed"), "the journal was closed"
    assert code == 0, transcript(app)


def scenario_never_hears_itself(room: Room) -> None:
    """Long passages full of command words in the room, loud ("serious back pain", "severe pain ...",
    "say start when you are both ready", "say knot"): nothing is taken from them."""
    app = open_coach(room)
    said = []
    for text in ("start", "what are the warning signs"):
        app.converse(text, quiet_hold=1.5)
        said.append(text)
    time.sleep(2.0)  # a late result from the tail of its own voice would show up now
    expected = [{"what are the warning signs": "warning_signs"}.get(t, t) for t in said]
    assert said_intents(app) == expected, transcript(app)
    assert "unknown" not in app.intents(), transcript(app)
    coach = coach_audio(room)
    assert frame_db(coach).max() > -20, "the coach's speech was loud in the room"
    spoken = sum(b - a for a, b in segments(coach))
    assert spoken > 20, "the coach spoke long passages"
    app.stop()


def _reading(room: Room, app: CoachApp, command: str | None) -> tuple[float, float, float | None]:
    """The partner asks for the warning signs and, if ``command``, says it 1.5 s into the reading.

    Returns (onset of the reading, end of the command or nan, start of the command or nan) on the room
    timeline; waits until the coach is quiet again.
    """
    ask = room.say("what are the warning signs")
    if command is None:
        app.settle(hold=1.5, timeout=60, expect_speech=5.0)
        barge = None
    else:
        assert room.wait_coach(True, 10), transcript(app)
        time.sleep(1.5)
        barge = room.say(command, label=f"barge:{command}")
        app.settle(hold=1.2, timeout=60)
    partner, coach = split_room(room.recorder.audio())
    turns = [(t.label, t.t_start, t.t_end) for t in (ask, barge) if t is not None]
    cmds = find_commands(partner, turns)
    assert len(cmds) == len(turns), cmds
    onset = first_sound(coach, cmds[0].end)
    assert onset is not None, "the coach read the warning signs"
    if barge is None:
        return onset, float("nan"), float("nan")
    return onset, cmds[1].end, cmds[1].start


def scenario_barge_in(room: Room) -> None:
    """Over the warning signs, the partner says "that hurts", and later "stop": each time the coach goes
    quiet (its audio departs from an uninterrupted reading) and acts on it."""
    app = open_coach(room)
    ref_onset, _, _ = _reading(room, app, None)
    problems = []
    for command, intent in (("that hurts", "pain"), ("stop", "stop")):
        before = len(said_intents(app))
        onset, end, start = _reading(room, app, command)
        coach = coach_audio(room)
        ref_end = next(b for a, b in segments(coach, bridge_s=0.8) if b > ref_onset)
        reference = coach[round(ref_onset * RATE): round(ref_end * RATE)]
        moved = departure(coach[round(onset * RATE):], reference, start - onset)
        if moved is None or onset + moved - end > 1.5:
            problems.append(f"the coach did not go quiet after {command!r}")
        if intent not in said_intents(app)[before:]:
            problems.append(f"{command!r} was not acted on")
        if intent == "pain" and not app.alive():
            problems.append("the session ended after a pain report")
    assert not problems, "; ".join(problems) + "\n" + transcript(app)
    assert app.kinds("session_ended")
    assert app.wait_exit(30) == 0, transcript(app)


def scenario_microphone_goes_away_and_comes_back(room: Room) -> None:
    app = open_coach(room)
    said = begin_massage(app)
    steps_before = entered_steps(app)
    room.kill_server()
    assert app.wait_kind("mic_lost", 15), transcript(app)
    time.sleep(3.0)  # gone for a while: the app retries and fails
    assert app.alive(), transcript(app)
    back_at = room.now()
    room.restart_server()
    assert app.wait_kind("mic_back", 30), transcript(app)
    assert room.wait_for_mic(10)
    app.settle(expect_speech=3.0)  # "I can hear you again"
    assert first_sound(coach_audio(room), back_at) is not None, "the coach was heard again after the restart"
    for text in ("where are we", "next"):
        app.converse(text)
        said.append(text)
    expected = [{"where are we": "status"}.get(t, t) for t in said]
    assert said_intents(app) == expected, transcript(app)
    assert entered_steps(app) == [*steps_before, steps_before[-1] + 1], "same step, then the next one"
    assert len(app.kinds("session_started")) == 1
    assert "I can't hear you" in app.out_path.read_text(), "the session said the microphone was lost"
    app.stop()


def scenario_chatter_and_music_change_nothing(room: Room) -> None:
    """In the middle of the safety check: music, then talk that is no command; then the answer.

    The coach may say it did not catch the talk (an ``unknown``); nothing else may happen."""
    app = open_coach(room)
    app.converse("start")
    heard_before = len(app.kinds("heard"))
    room.play("music", music(6.0))
    app.settle(hold=1.0, timeout=30, expect_speech=2.0)
    after_music = heard_texts(app)[heard_before:]
    for text in CHATTER:
        room.say(text, label="chatter")
        app.settle(hold=1.0, timeout=30, expect_speech=2.5)
    assert said_intents(app) == ["start"], transcript(app)
    assert not [h for h in after_music if h[1] != "unknown"], "music was not taken for a command"
    app.converse("no")  # still on the first safety question: the answer moves on to the second
    assert said_intents(app) == ["start", "no"], transcript(app)
    assert "Has your partner hurt their back recently" in app.out_path.read_text()
    assert not app.kinds("voice_changed") and not app.kinds("paused")
    app.stop()


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items() if name.startswith("scenario_")}


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the scenarios of the selected tests of this module, each in its own room, side by side."""
    wanted = [item.name[len("test_"):] for item in request.session.items
              if item.module is request.module and item.name[len("test_"):] in SCENARIOS]
    return run_in_rooms({name: SCENARIOS[name] for name in wanted}, tmp_path_factory.mktemp("rooms"))


def check(outcomes: dict, name: str) -> None:
    """Re-raise the scenario's failure (or skip) in its own test."""
    error = outcomes[name]
    if error is not None:
        raise error


def test_whole_guided_session_by_voice(outcomes: dict) -> None:
    check(outcomes, "whole_guided_session_by_voice")


def test_never_hears_itself(outcomes: dict) -> None:
    check(outcomes, "never_hears_itself")


def test_barge_in(outcomes: dict) -> None:
    check(outcomes, "barge_in")


def test_microphone_goes_away_and_comes_back(outcomes: dict) -> None:
    check(outcomes, "microphone_goes_away_and_comes_back")


def test_chatter_and_music_change_nothing(outcomes: dict) -> None:
    check(outcomes, "chatter_and_music_change_nothing")
