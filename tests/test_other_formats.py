"""AIFF and FLAC files reach the recognizer through SpeechRecognition's AudioFile."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from audio.errors import AudioFormatError
from audio.wav import read_wav

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import aifc


def _tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _dominant_hz(samples: np.ndarray, rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def _write_aiff(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    frames = np.repeat(samples[:, None], channels, axis=1) if channels > 1 else samples
    with aifc.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.astype(">i2").tobytes())


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2), (8000, 1)])
def test_aiff_is_read_as_16k_mono_and_keeps_its_pitch(tmp_path: Path, rate: int, channels: int) -> None:
    path = tmp_path / "tone.aiff"
    _write_aiff(path, _tone(rate), rate, channels)
    out = read_wav(path)
    assert out.dtype == np.int16
    assert abs(out.size - 8000) <= 16
    assert abs(_dominant_hz(out) - 440.0) < 5.0
    assert 0.3 * 32767 < np.abs(out).max() <= 32767


def test_flac_is_read_through_the_flac_encoder(tmp_path: Path) -> None:
    import speech_recognition as sr

    wav = tmp_path / "tone.wav"
    from audio.wav import write_wav

    write_wav(wav, _tone(16000), 16000)
    flac_bin = shutil.which("flac") or sr.get_flac_converter()
    flac = tmp_path / "tone.flac"
    subprocess.run([flac_bin, "-s", "-f", "-o", str(flac), str(wav)], check=True)
    out = read_wav(flac)
    assert abs(_dominant_hz(out) - 440.0) < 5.0
    assert abs(out.size - 8000) <= 16


def test_a_broken_aiff_gets_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.aiff"
    path.write_bytes(b"FORM\x00\x00\x00\x10AIFFgarbage!")
    with pytest.raises(AudioFormatError) as err:
        read_wav(path)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
