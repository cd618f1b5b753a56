"""The app's own echo canceller (audio.aec) on synthetic rooms: the coach's espeak-ng speech played at
22.05 kHz through a delayed, filtered, slowly drifting echo path, the partner's command on top, the two
streams' callbacks stamped with jitter as PortAudio's are. Then the real Vosk toy model on what is left."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from audio.aec import AecSettings, ReferenceCanceller
from audio.tts_player import resample
from skill.app.live import NEAR_END_MIN_DB
from tests.speech_fixtures import speech

RATE = 16000
PLAYER_RATE = 22050
COACH = ("See a doctor right away if your partner has any of these: severe pain that does not ease with "
         "ordinary pain relief from the pharmacy, a fall or other injury in the recent past.")


def echo_of(far16: np.ndarray, delay: int, drift_ppm: float = 0.0, gain: float = 0.7) -> np.ndarray:
    """What the microphone hears of ``far16``: ``delay`` samples late, low-passed a little, scaled by
    ``gain`` and, with ``drift_ppm``, stretched as a speaker and a microphone on two clocks do."""
    x = far16.astype(np.float64)
    if drift_ppm:
        x = soxr.resample(x, 1_000_000, 1_000_000 + drift_ppm)
    x = np.convolve(x, [0.6, 0.3, 0.1])[: x.size]
    return gain * np.concatenate([np.zeros(delay), x])


def run(far22: np.ndarray, mic: np.ndarray, lag_s: float, canceller: ReferenceCanceller | None = None,
        seed: int = 1, t0: float = 0.0, late: tuple[float, float, float] | None = None,
        ) -> tuple[np.ndarray, ReferenceCanceller]:
    """Feed ``far22`` (player blocks of 20 ms) and ``mic`` (chunks of 40 ms) as the live app does.

    The player hands block k to the device at ``t0 + k * 20 ms`` (+-2 ms jitter); microphone chunk j arrives
    ``lag_s`` after its last sample was recorded (+-5 ms jitter): the stamps line the streams up only
    roughly, the rest is the canceller's cross-correlation. ``late`` = (from_s, to_s, by_s): chunks
    stamped ``by_s`` late in that stretch, as when the loop is too busy to take them at once.
    """
    rng = np.random.default_rng(seed)
    aec = canceller or ReferenceCanceller()
    block, chunk = PLAYER_RATE // 50, RATE * 40 // 1000
    far_blocks = [(t0 + k * block / PLAYER_RATE + rng.uniform(-0.002, 0.002),
                   far22[k * block:(k + 1) * block]) for k in range(far22.size // block)]
    out, fi = [], 0
    for j in range(mic.size // chunk):
        at = t0 + (j + 1) * chunk / RATE + lag_s + rng.uniform(-0.005, 0.005)
        if late is not None and late[0] <= (j + 1) * chunk / RATE < late[1]:
            at += late[2]
        while fi < len(far_blocks) and far_blocks[fi][0] <= at:
            aec.far(far_blocks[fi][1], PLAYER_RATE, far_blocks[fi][0])
            fi += 1
        pcm = np.clip(mic[j * chunk:(j + 1) * chunk], -32768, 32767).astype("<i2").tobytes()
        out.append(np.frombuffer(aec.process(pcm, at), dtype="<i2"))
    return np.concatenate(out).astype(np.float64), aec


def db(x: np.ndarray) -> float:
    return 10 * np.log10(float(np.mean(x * x)) + 1.0)


@pytest.fixture(scope="module")
def coach() -> tuple[np.ndarray, np.ndarray]:
    """(the coach at the player's rate, the same at 16 kHz), with 1 s of silence first."""
    far16 = np.concatenate([np.zeros(RATE), speech(COACH, speed=260).astype(np.float64)])
    return resample(far16.astype(np.int16), RATE, PLAYER_RATE), far16


@pytest.mark.parametrize(("delay_ms", "drift_ppm"), [(30, 0.0), (120, 60.0), (260, -60.0)])
def test_cancels_the_coach_and_keeps_the_partner(coach, delay_ms: int, drift_ppm: float) -> None:
    far22, far16 = coach
    echo = echo_of(far16, delay_ms * RATE // 1000, drift_ppm)
    partner = np.zeros(echo.size)
    words = speech("that hurts").astype(np.float64) / 2
    at = 4 * RATE
    partner[at:at + words.size] = words
    mic = echo + partner
    out, aec = run(far22, mic, lag_s=0.03)
    assert aec.converged and aec.offset is not None
    coach_only = slice(int(2.5 * RATE), at)  # converged by then, nothing but the coach in the room
    assert db(mic[coach_only]) - db(out[coach_only]) > 30, "the coach's voice is cancelled"
    heard = out[at:at + words.size]
    corr = float(heard @ words) / np.sqrt(float(heard @ heard) * float(words @ words))
    assert corr > 0.85, "the partner's words come through"


def test_passes_the_microphone_unchanged_while_nothing_is_played() -> None:
    rng = np.random.default_rng(3)
    mic = rng.normal(0, 2000, 2 * RATE)
    out, aec = run(np.zeros(2 * PLAYER_RATE, dtype=np.int16), mic, lag_s=0.02)
    assert aec.offset is None and not aec.converged
    np.testing.assert_array_equal(out, np.clip(mic[: out.size], -32768, 32767).astype(np.int16))


def test_a_reopened_stream_is_lined_up_again(coach) -> None:
    """The microphone stream restarts (its sample count jumps 0.3 s against the player's): the old delay
    is dropped and a new one found on the next sentence."""
    far22, far16 = coach
    echo = echo_of(far16, 800)
    _, aec = run(far22, echo, lag_s=0.03)
    first = aec.offset
    assert aec.converged and first is not None
    # the same sentence again, the microphone now 0.3 s "later" against the player
    seconds = far22.size / PLAYER_RATE
    out2, aec = run(far22, echo, lag_s=0.33, canceller=aec, t0=seconds)
    assert aec.offset is not None and aec.offset != first
    assert aec.converged, "what was learnt is kept, moved to the new alignment"
    tail = slice(int(2.5 * RATE), echo.size - RATE)
    assert db(echo[tail]) - db(out2[tail]) > 25


def test_late_stamps_do_not_cost_what_was_learnt(coach) -> None:
    """The loop is busy for 2 s and stamps the microphone's chunks 0.2 s late: the alignment stays, the
    filter stays converged and the coach stays cancelled."""
    far22, far16 = coach
    echo = echo_of(far16, 1500, drift_ppm=60.0)
    out, aec = run(far22, echo, lag_s=0.03, late=(3.0, 5.0, 0.2))
    _, steady = run(far22, echo, lag_s=0.03)
    assert aec.converged and aec.offset == steady.offset
    busy = slice(3 * RATE, 5 * RATE)
    assert db(echo[busy]) - db(out[busy]) > 30


def test_near_end_level_tells_the_partner_from_the_residue(coach) -> None:
    """A 2-sample jump of the echo path leaves a loud residue for a moment: it is explained by the modelled
    echo and measures well below the live loop's threshold, the partner's words well above it."""
    far22, far16 = coach
    jump = 4 * RATE
    echo = echo_of(far16, 800)
    echo[jump:] = echo_of(far16, 802)[jump:echo.size]
    partner = np.zeros(echo.size)
    words = speech("stop").astype(np.float64) / 2
    at = 6 * RATE
    partner[at:at + words.size] = words
    _, aec = run(far22, echo + partner, lag_s=0.03)
    assert aec.converged
    residue = aec.near_end_db(4.0, 4.3)
    said = aec.near_end_db(6.0, 6.0 + words.size / RATE)
    assert residue < NEAR_END_MIN_DB - 3 and said > NEAR_END_MIN_DB + 3, (residue, said)


def test_settings_are_frozen() -> None:
    settings = AecSettings()
    with pytest.raises(AttributeError):
        settings.step = 0.1  # type: ignore[misc]
