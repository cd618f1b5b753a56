"""Sound for the virtual room (``tests.room``): espeak-ng speech, a music-like signal, the partner's
left-channel track, and WAV reading/writing."""

from __future__ import annotations

import io
import subprocess
import wave
from pathlib import Path

import numpy as np

RATE = 16000
"""Sample rate of the room sink, the partner's WAVs and the recording."""

PARTNER_PEAK = 0.6
"""Partner speech is normalized to this fraction of full scale (left channel; the mic hears half)."""


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """Write int16 samples (shape (n,) mono or (n, channels)) as a WAV file; returns ``path``."""
    data = np.asarray(samples, dtype=np.int16)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data.tobytes())
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(int16 samples shaped (n, channels), rate) of a 16-bit WAV file."""
    with wave.open(str(path), "rb") as src:
        data = np.frombuffer(src.readframes(src.getnframes()), dtype=np.int16)
        return data.reshape(-1, src.getnchannels()), src.getframerate()


def espeak(text: str, voice: str = "en-us", speed: int = 160) -> np.ndarray:
    """``text`` spoken by espeak-ng (the only voices the toy model knows), int16 mono at 16 kHz."""
    import soxr

    out = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
                         capture_output=True, check=True, timeout=60).stdout
    with wave.open(io.BytesIO(out), "rb") as src:
        rate = src.getframerate()
        raw = np.frombuffer(src.readframes(src.getnframes()), dtype=np.int16)
    audio = soxr.resample(raw.astype(np.float32) / 32768.0, rate, RATE)
    return np.clip(audio * 32768.0, -32768, 32767).astype(np.int16)


def music(seconds: float = 5.0, seed: int = 7) -> np.ndarray:
    """A music-like signal: soft chords of harmonic tones with note envelopes, int16 mono at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(RATE * 0.5)) / RATE
    notes = []
    for _ in range(int(seconds / 0.5)):
        root = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        chord = sum(np.sin(2 * np.pi * root * ratio * k * t) / k
                    for ratio in (1, 1.26, 1.5) for k in (1, 2, 3))
        notes.append(chord * np.exp(-3 * t) * (1 - np.exp(-60 * t)))
    sig = np.concatenate(notes)
    return (sig / np.abs(sig).max() * 0.5 * 32767).astype(np.int16)


def partner_track(mono: np.ndarray, peak: float = PARTNER_PEAK) -> np.ndarray:
    """Mono int16 -> the partner's stereo track: normalized to ``peak`` on the left, silence on the right."""
    x = mono.astype(np.float64)
    top = np.abs(x).max() or 1.0
    left = (x / top * peak * 32767).astype(np.int16)
    return np.stack([left, np.zeros_like(left)], axis=1)
