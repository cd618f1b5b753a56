"""Bench-only sounds: room reverb, the far-field version, soft music-like chords, sighs and laughs.

Speech and white/pink noise come from ``audio.synth`` (``synthesize``, ``make_noise``, ``speech_rms``);
only what the benchmark alone needs lives here. Everything takes a seeded ``numpy`` generator, so the
suite is reproducible. Signals are int16 (16 kHz mono) in and out; intermediate maths is float64.
"""

from __future__ import annotations

import numpy as np

from audio.protocols import SAMPLE_RATE
from audio.synth import make_noise, speech_rms


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def impulse_response(rng: np.random.Generator, rt60_s: float = 0.5, direct_delay_s: float = 0.0,
                     drr_db: float = 3.0) -> np.ndarray:
    """A synthetic room: a direct path then exponentially decaying noise (60 dB down after ``rt60_s``).

    ``drr_db`` is the direct-to-reverberant energy ratio; lower means a more distant talker.
    """
    n = max(1, int(rt60_s * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)  # ln(1000) = 6.9: -60 dB at rt60
    tail[: int(0.002 * SAMPLE_RATE)] = 0.0  # first reflections arrive after ~2 ms
    tail *= np.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail ** 2)), 1e-12))
    delay = int(direct_delay_s * SAMPLE_RATE)
    ir = np.zeros(delay + n)
    ir[delay] = 1.0
    ir[delay:] += tail
    return ir


def reverb(speech: np.ndarray, rng: np.random.Generator, rt60_s: float = 0.5,
           drr_db: float = 3.0) -> np.ndarray:
    """``speech`` convolved with a seeded synthetic room (same length; the tail beyond the clip is cut)."""
    x = np.asarray(speech, dtype=np.float64)
    if x.size == 0:
        return np.asarray(speech, dtype=np.int16)
    ir = impulse_response(rng, rt60_s=rt60_s, drr_db=drr_db)
    size = 1 << int(np.ceil(np.log2(x.size + ir.size)))
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: x.size]
    # keep the dry level (peak) so SNR figures stay comparable
    peak_in, peak_out = float(np.max(np.abs(x))), float(np.max(np.abs(y)))
    if peak_out > 0:
        y *= peak_in / peak_out
    return _to_int16(y)


def far_field(speech: np.ndarray, rng: np.random.Generator, gain_db: float = -20.0, rt60_s: float = 0.6,
              noise_snr_db: float = 25.0) -> np.ndarray:
    """The quiet far-field version: ``gain_db`` quieter, a distant room, and a low pink-noise floor."""
    wet = reverb(speech, rng, rt60_s=rt60_s, drr_db=-2.0).astype(np.float64) * 10 ** (gain_db / 20)
    noise = noise_of("pink", wet.size, rng) * speech_rms(wet) / 10 ** (noise_snr_db / 20)
    return _to_int16(wet + noise)


def soft_chords(n: int, rng: np.random.Generator, chord_s: float = 2.0) -> np.ndarray:
    """Massage-room music: soft sine chords (with a quiet octave) under slow attack/release envelopes.

    Unit RMS, float64. Chords follow a seeded walk over a few major/minor triads around A3.
    """
    if n <= 0:
        return np.zeros(0)
    out = np.zeros(n)
    m = int(chord_s * SAMPLE_RATE)
    root = 57
    for start in range(-m, n, m):  # each chord rings over two slots (overlapping cross-fades)
        root = int(np.clip(root + rng.choice([-5, -3, 0, 2, 4, 5, 7]), 45, 64))
        third = 4 if rng.random() < 0.6 else 3
        phases = rng.uniform(0, 2 * np.pi, 4)
        lo, hi = max(start, 0), min(start + 2 * m, n)
        if hi <= lo:
            continue
        t = np.arange(lo - start, hi - start) / SAMPLE_RATE
        chord = np.zeros(hi - lo)
        for (step, level), phase in zip(((0, 1.0), (third, 0.7), (7, 0.8), (12, 0.25)), phases, strict=True):
            freq = 440.0 * 2 ** ((root + step - 69) / 12)
            chord += level * np.sin(2 * np.pi * freq * t + phase)
        out[lo:hi] += chord * np.sin(np.pi * t / (2 * chord_s)) ** 2  # slow rise and fall
    rms = float(np.sqrt(np.mean(out ** 2)))
    return out / rms if rms > 0 else out


def noise_of(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS float noise: ``white`` / ``pink`` from ``audio.synth``, ``music`` = ``soft_chords``."""
    if kind == "music":
        return soft_chords(n, rng)
    if n <= 0:
        return np.zeros(0)
    size = 1 << int(np.ceil(np.log2(n)))  # FFT-friendly length (pink noise is made by FFT), then cut
    x = make_noise(size, kind, rng)[:n]
    return x / float(np.sqrt(np.mean(x ** 2)))


def mix_at_snr(speech: np.ndarray, snr_db: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    """``speech`` plus ``kind`` noise over the whole clip, ``snr_db`` below the active speech level."""
    x = np.asarray(speech, dtype=np.float64)
    noise = noise_of(kind, x.size, rng) * speech_rms(x) / 10 ** (snr_db / 20)
    return _to_int16(x + noise)


def _bandpass(x: np.ndarray, lo_hz: float, hi_hz: float) -> np.ndarray:
    size = 1 << int(np.ceil(np.log2(max(x.size, 2))))
    spec = np.fft.rfft(x, size)
    f = np.fft.rfftfreq(size, 1 / SAMPLE_RATE)
    spec[(f < lo_hz) | (f > hi_hz)] = 0.0
    return np.fft.irfft(spec, size)[: x.size]


def sigh(rng: np.random.Generator, level_dbfs: float = -22.0) -> np.ndarray:
    """A breathy sigh: band-passed noise (300-2500 Hz) with a slow swell and a long fade, 0.8-1.6 s."""
    dur = rng.uniform(0.8, 1.6)
    n = int(dur * SAMPLE_RATE)
    t = np.linspace(0.0, 1.0, n)
    peak = rng.uniform(0.2, 0.4)
    env = np.where(t < peak, t / peak, np.exp(-4.0 * (t - peak) / (1 - peak)))
    x = _bandpass(rng.standard_normal(n), 300.0, rng.uniform(1800.0, 2500.0)) * env
    return _scale(x, level_dbfs)


def laugh(rng: np.random.Generator, level_dbfs: float = -18.0) -> np.ndarray:
    """A laugh: 3-7 short voiced-noise pulses ("ha ha ha") about 5 a second, decaying, 0.6-1.5 s."""
    pulses = int(rng.integers(3, 8))
    rate = rng.uniform(4.0, 6.0)
    pulse_n = int(0.12 * SAMPLE_RATE)
    n = int((pulses / rate + 0.2) * SAMPLE_RATE)
    out = np.zeros(n)
    f0 = rng.uniform(180.0, 300.0)
    tp = np.arange(pulse_n) / SAMPLE_RATE
    for k in range(pulses):
        start = int(k / rate * SAMPLE_RATE)
        voiced = np.sign(np.sin(2 * np.pi * f0 * (1 - 0.05 * k) * tp)) * 0.5 + rng.standard_normal(pulse_n)
        burst = _bandpass(voiced, 250.0, 3000.0) * np.sin(np.pi * tp / tp[-1]) * 0.8 ** k
        out[start:start + pulse_n] += burst[: n - start]
    return _scale(out, level_dbfs)


def _scale(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x ** 2)))
    target = 32768.0 * 10 ** (level_dbfs / 20)
    return _to_int16(x * (target / rms) if rms > 0 else x)


BURSTS = {"sigh": sigh, "laugh": laugh}
"""The partner's non-speech sounds, by name."""
