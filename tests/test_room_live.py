"""The app's live loop in the virtual room: real microphone path (PortAudio -> ALSA pulse plugin ->
PulseAudio), real Vosk with the toy model, real pyttsx3/espeak-ng speech; a partner speaking espeak-ng
commands into the same room. No fake audio: the coach's microphone hears its own speaker."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.room_latency import departure, find_commands, first_sound, frame_db, segments, split_room
from tests.room import RATE, Room, music, room
from tests.room_coach import CoachApp, begin_massage, entered_steps, heard_texts, open_coach, transcript

__all__ = ["room"]  # the fixture, imported for pytest

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


def test_whole_guided_session_by_voice(room: Room) -> None:
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


def test_never_hears_itself(room: Room) -> None:
    """Long passages full of command words in the room, loud ("serious back pain", "severe pain ...",
    "say start when you are both ready", "say knot"): nothing is taken from them."""
    app = open_coach(room)
    said = []
    for text in ("start", "what are the warning signs", "repeat"):
        app.converse(text, quiet_hold=1.5)
        said.append(text)
    time.sleep(2.0)  # a late result from the tail of its own voice would show up now
    expected = [{"what are the warning signs": "warning_signs"}.get(t, t) for t in said]
    assert said_intents(app) == expected, transcript(app)
    assert "unknown" not in app.intents(), transcript(app)
    coach = coach_audio(room)
    assert frame_db(coach).max() > -20, "the coach's speech was loud in the room"
    spoken = sum(b - a for a, b in segments(coach))
    assert spoken > 25, "the coach spoke long passages"
    app.stop()


def _barge_in(room: Room, command: str) -> tuple[CoachApp, float, float | None]:
    """Warning signs read once whole (the reference), then again with ``command`` said over them.

    Returns the app, the end of the partner's command and when the coach departed from the reference
    (went quiet where the uninterrupted reading still spoke), seconds on the room timeline.
    """
    app = open_coach(room)
    ask = app.converse("what are the warning signs", quiet_hold=1.5)
    ask2 = room.say("what are the warning signs")
    assert room.wait_coach(True, 10), transcript(app)
    time.sleep(1.5)
    barge = room.say(command, label=f"barge:{command}")
    app.settle(hold=1.2, timeout=60)
    partner, coach = split_room(room.recorder.audio())
    turns = [(t.label, t.t_start, t.t_end) for t in (ask, ask2, barge)]
    cmds = find_commands(partner, turns)
    assert len(cmds) == 3, cmds
    on1, on2 = first_sound(coach, cmds[0].end), first_sound(coach, cmds[1].end)
    assert on1 is not None and on2 is not None
    reference = coach[round(on1 * RATE): round(on2 * RATE)]
    moved = departure(coach[round(on2 * RATE):], reference, cmds[2].start - on2)
    return app, cmds[2].end, None if moved is None else on2 + moved


def test_barge_in_stop(room: Room) -> None:
    app, end, silent = _barge_in(room, "stop")
    assert silent is not None and silent - end < 1.5, "the coach went quiet soon after 'stop'"
    assert said_intents(app)[-1] == "stop", transcript(app)
    assert app.kinds("session_ended")
    assert app.wait_exit(30) == 0, transcript(app)


def test_barge_in_that_hurts(room: Room) -> None:
    app, end, silent = _barge_in(room, "that hurts")
    assert silent is not None and silent - end < 1.5, "the coach went quiet soon after 'that hurts'"
    assert said_intents(app)[-1] == "pain", transcript(app)
    assert app.kinds("pain")
    assert app.alive(), "the session goes on after a pain report"
    app.stop()


def test_microphone_goes_away_and_comes_back(room: Room) -> None:
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


def test_chatter_and_music_change_nothing(room: Room) -> None:
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
