"""Test WAVs for the emulated Pi: espeak-ng en-us speech, converted to 16 kHz mono 16-bit on the host.

Standard library only (the host need not have numpy): a windowed-sinc resampler, fine for a few
short phrases.
"""

from __future__ import annotations

import array
import math
import subprocess
import tempfile
import wave
from pathlib import Path

RATE = 16000

# phrase -> the intent ``recognize`` must report for it (the test model knows espeak-ng en-us only)
PHRASES: dict[str, str] = {
    "next stroke": "next",
    "switch to palms": "technique",
    "what are the warning signs": "warning_signs",
}


def resample(samples: array.array, src_rate: int, dst_rate: int = RATE, half_taps: int = 24) -> array.array:
    """Band-limited resampling of int16 samples (Hann-windowed sinc, cut-off just below the lower Nyquist)."""
    if src_rate == dst_rate:
        return array.array("h", samples)
    ratio = src_rate / dst_rate
    cutoff = 0.95 * min(1.0, dst_rate / src_rate)  # in units of the source Nyquist
    n_out = int(len(samples) / ratio)
    out = array.array("h", bytes(2 * n_out))
    x = samples
    n_in = len(x)
    for n in range(n_out):
        t = n * ratio
        centre = int(t)
        acc = 0.0
        for k in range(centre - half_taps + 1, centre + half_taps + 1):
            if 0 <= k < n_in:
                d = t - k
                w = 0.5 + 0.5 * math.cos(math.pi * d / half_taps) if abs(d) < half_taps else 0.0
                arg = math.pi * cutoff * d
                sinc = cutoff if arg == 0 else cutoff * math.sin(arg) / arg
                acc += x[k] * sinc * w
        out[n] = max(-32768, min(32767, round(acc)))
    return out


def synthesize(text: str, dest: Path, voice: str = "en-us", speed: int = 160) -> float:
    """Speak ``text`` with espeak-ng into ``dest`` as 16 kHz mono 16-bit WAV; return its length in s."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
        with wave.open(str(raw), "rb") as w:
            if w.getsampwidth() != 2:
                raise ValueError("espeak-ng did not write 16-bit audio")
            rate, channels = w.getframerate(), w.getnchannels()
            data = array.array("h", w.readframes(w.getnframes()))
    if channels > 1:
        data = array.array("h", data[::channels])
    pad = array.array("h", bytes(2 * (rate // 4)))  # a quarter second of silence either side
    out = resample(pad + data + pad, rate)
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(out.tobytes())
    return len(out) / RATE


def make_all(folder: Path) -> dict[str, str]:
    """Write one WAV per phrase into ``folder``; return file name -> expected intent."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for phrase, intent in PHRASES.items():
        name = phrase.replace(" ", "_") + ".wav"
        synthesize(phrase, folder / name)
        expected[name] = intent
    return expected
