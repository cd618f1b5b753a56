"""Synthetic speech and noise for tests, the demo's scripted partner and benchmarks.

``synthesize`` runs ``espeak-ng --stdout`` (22050 Hz WAV) and resamples to 16 kHz mono int16 with soxr.
Only espeak-ng's en-us voices (``en-us``, ``en-us+f2``, ``en-us+m3``, ...) suit the toy Vosk test model.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

import numpy as np

from audio.errors import AudioError
from audio.protocols import SAMPLE_RATE
from audio.wav import decode_samples, parse_wav, to_mono_16k

NOISE_KINDS = ("white", "pink", "music")


@functools.lru_cache(maxsize=2)
def _voice_names(exe: str, kind: str = "") -> frozenset[str]:
    """Names espeak-ng accepts for ``-v`` (languages, voice names, files), or variants with kind="variant"."""
    arg = "--voices=variant" if kind else "--voices"
    out = subprocess.run([exe, arg], capture_output=True, text=True, timeout=30, check=False).stdout
    names: set[str] = set()
    for line in out.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 5:
            lang, name, file = cols[1].lower(), cols[3].lower(), cols[4].lower()
            names.update({lang, name, file, file.rsplit("/", 1)[-1]})
    return frozenset(names)


def _check_voice(exe: str, voice: str) -> None:
    base, _, variant = voice.lower().partition("+")
    # espeak-ng quietly falls back to its default voice on an unknown name when not on a terminal
    if base not in _voice_names(exe):
        raise AudioError(f"espeak-ng has no voice {voice!r} (see espeak-ng --voices)")
    if variant and variant not in _voice_names(exe, "variant"):
        raise AudioError(f"espeak-ng has no voice variant {variant!r} (see espeak-ng --voices=variant)")


def synthesize(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50,
               amplitude: int = 100) -> np.ndarray:
    """Speak ``text`` with espeak-ng and return 16 kHz mono int16 samples (AudioError if espeak-ng fails)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise AudioError("cannot synthesize speech: espeak-ng is not installed")
    _check_voice(exe, voice)
    cmd = [exe, "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-a", str(int(amplitude)),
           "--stdout", text]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        raise AudioError(f"espeak-ng timed out saying {text!r}") from None
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise AudioError(f"espeak-ng failed for voice {voice!r}: {err[0] if err else 'no audio'}")
    fmt, raw = parse_wav(proc.stdout, "espeak-ng output")
    return to_mono_16k(decode_samples(fmt, raw), fmt.rate)


def pad(speech: np.ndarray, before_s: float = 0.0, after_s: float = 0.0) -> np.ndarray:
    """Surround int16 speech with digital silence, in seconds."""
    before = np.zeros(round(before_s * SAMPLE_RATE), dtype=np.int16)
    after = np.zeros(round(after_s * SAMPLE_RATE), dtype=np.int16)
    return np.concatenate([before, np.asarray(speech, dtype=np.int16), after])


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spectrum / np.sqrt(f), n)


def _music(n: int, rng: np.random.Generator) -> np.ndarray:
    """Soft synthetic music: a random walk of three-note chords, half a second each, with decays."""
    out = np.zeros(n)
    note_len = SAMPLE_RATE // 2
    t = np.arange(note_len) / SAMPLE_RATE
    env = np.exp(-3.0 * t) * np.minimum(1.0, t / 0.01)
    root = 57  # A3 (MIDI)
    for start in range(0, n, note_len):
        root = int(np.clip(root + rng.integers(-5, 6), 45, 69))
        seg = np.zeros(note_len)
        for step in (0, 4, 7):
            freq = 440.0 * 2 ** ((root + step - 69) / 12)
            seg += np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
            seg += 0.3 * np.sin(4 * np.pi * freq * t)
        seg *= env
        m = min(note_len, n - start)
        out[start:start + m] += seg[:m]
    return out


def make_noise(n: int, kind: str = "white", rng: np.random.Generator | None = None) -> np.ndarray:
    """``n`` samples of unit-RMS float noise of one of ``NOISE_KINDS``."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")
    rng = rng if rng is not None else np.random.default_rng(0)
    if n == 0:
        return np.zeros(0)
    x = {"white": lambda: rng.standard_normal(n), "pink": lambda: _pink(n, rng),
         "music": lambda: _music(n, rng)}[kind]()
    rms = float(np.sqrt(np.mean(x ** 2)))
    return x / rms if rms > 0 else x


def speech_rms(speech: np.ndarray) -> float:
    """RMS of the active part of ``speech`` (samples above 2 % of the peak), padding excluded."""
    x = np.asarray(speech, dtype=np.float64)
    if x.size == 0:
        return 0.0
    active = x[np.abs(x) > 0.02 * np.max(np.abs(x))]
    return float(np.sqrt(np.mean(active ** 2))) if active.size else 0.0


def mix_noise(speech: np.ndarray, snr_db: float, kind: str = "white",
              rng: np.random.Generator | None = None) -> np.ndarray:
    """Add noise at ``snr_db`` (relative to the active speech level) over the whole clip; int16 out."""
    x = np.asarray(speech, dtype=np.float64)
    noise = make_noise(x.size, kind, rng) * speech_rms(x) / (10 ** (snr_db / 20))
    return np.clip(np.round(x + noise), -32768, 32767).astype(np.int16)
