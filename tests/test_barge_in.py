"""Barge-in over the coach's voice: the spotter's rules, then the real chain on a synthetic room (the coach's
espeak-ng speech through a drifting echo path, the partner 6 dB below it) -> ReferenceCanceller -> Vosk with
the toy model -> BargeInSpotter."""

from __future__ import annotations

import numpy as np
import pytest

from audio.aec import ReferenceCanceller
from audio.echo_guard import EchoGuard
from audio.vosk_engine import VoskRecognizer
from skill.app.barge_in import BargeInSpotter
from skill.app.engines import load_language
from tests.speech_fixtures import speech, speech_end_s, vosk_model
from tests.test_aec import COACH, PLAYER_RATE, RATE, echo_of, run

LANGUAGE = load_language()
SAYING = "Stop pressing if it hurts, and tell me where it is sore."


def spotter(saying: str = SAYING) -> BargeInSpotter:
    guard = EchoGuard()
    guard.speech_started(saying, 10.0)
    return BargeInSpotter(LANGUAGE.matcher, guard)


@pytest.mark.parametrize(("text", "confidences", "intent"), [
    ("[unk] a to a that hurts part", [1.0, 0.4, 0.5, 0.4, 1.0, 1.0, 0.2], "pain"),
    ("part pause", [0.5, 1.0], "pause"),
    ("say wait", [0.6, 0.95], "pause"),
    ("that hurts", None, "pain"),  # an engine without confidences
    ("that hurts", [1.0, 0.7], None),  # "hurts" not heard clearly enough over the coach
    ("stop", [1.0], None),  # the coach says "stop" itself
    ("if it hurts", [1.0, 1.0, 1.0], None),  # and "it hurts"
    ("next stroke", [1.0, 1.0], None),  # not a barge-in command
    ("see a doctor", [1.0, 1.0, 1.0], None),
    ("[unk] [unk]", [1.0, 1.0], None),
])
def test_in_result(text: str, confidences: list[float] | None, intent: str | None) -> None:
    found = spotter().in_result(text, confidences, 11.0)
    assert (found.name if found is not None else None) == intent


def test_in_partial_needs_a_whole_command_the_coach_is_not_saying() -> None:
    s = spotter()
    assert s.in_partial("are to that hurts", 11.0) == 4, "at the end: may still grow"
    assert s.in_partial("are to that hurts [unk] a", 11.0) == 4, "followed by more: finished"
    assert s.in_partial("are to that", 11.0) is None
    assert s.in_partial("tell me where it hurts", 11.0) is None, "the coach says 'it hurts'"
    assert s.in_partial("[unk] [unk]", 11.0) is None
    assert spotter("Now relax.").in_partial("[unk] stop", 11.0) == 2


def barge_in_room(partner_text: str | None, at_s: float = 4.0) -> tuple[np.ndarray, np.ndarray, int]:
    """(the coach at the player's rate, the microphone, where the partner's words end) for a room where the
    coach reads ``COACH`` and the partner, at half the level, says ``partner_text`` ``at_s`` in."""
    from audio.tts_player import resample

    far16 = np.concatenate([np.zeros(RATE), speech(COACH, speed=260).astype(np.float64)])
    mic = echo_of(far16, 120 * RATE // 1000, drift_ppm=60.0)
    end = 0
    if partner_text is not None:
        words = speech(partner_text).astype(np.float64) / 2
        start = int(at_s * RATE)
        mic[start:start + words.size] += words
        end = start + round(speech_end_s(words) * RATE)  # espeak-ng pads its output with silence
    return resample(far16.astype(np.int16), RATE, PLAYER_RATE), mic, end


def listen(mic: np.ndarray, cancel: bool, far22: np.ndarray) -> list[tuple[float, str, str | None]]:
    """The chain the live loop runs while the coach speaks: (stream time, text, spotted intent) of every
    utterance the recognizer committed."""
    heard = mic
    if cancel:
        heard, aec = run(far22, mic, lag_s=0.03, canceller=ReferenceCanceller())
        assert aec.converged
    s = spotter("See a doctor right away if your partner has any of these.")
    rec = VoskRecognizer(vosk_model(), LANGUAGE.grammar(), LANGUAGE.matcher.is_complete_command)
    rec.urgent = lambda partial: s.in_partial(partial, 11.0)
    pcm = np.clip(heard, -32768, 32767).astype("<i2")
    out = []
    for i in range(0, pcm.size, 640):
        hyp = rec.accept(pcm[i:i + 640].tobytes())
        if hyp is not None:
            found = s.in_result(hyp.text, hyp.confidences, 11.0)
            out.append((hyp.end_s, hyp.text, found.name if found else None))
    return out


@pytest.mark.parametrize(("said", "intent"), [("that hurts", "pain"), ("stop", "stop")])
def test_a_command_said_over_the_coach_is_found_once_cancelled(said: str, intent: str) -> None:
    far22, mic, end = barge_in_room(said)
    heard = listen(mic, cancel=True, far22=far22)
    spotted = [(t, text) for t, text, name in heard if name == intent]
    assert spotted, heard
    t, _ = spotted[0]
    assert end / RATE < t < end / RATE + 0.6, "committed soon after the words end (stream time)"
    assert [name for _, _, name in heard if name is not None] == [intent], heard


def test_the_coach_alone_gives_no_barge_in() -> None:
    far22, mic, _ = barge_in_room(None)
    assert [h for h in listen(mic, cancel=True, far22=far22) if h[2] is not None] == []
