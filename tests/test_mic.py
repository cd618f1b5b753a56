"""Microphone pieces that need no sound server: the energy gate, and a clear DeviceError with no device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audio.mic import EnergyGate, rms

ROOT = Path(__file__).resolve().parents[1]


def tone(amplitude: float, seconds: float = 0.04) -> bytes:
    n = int(16000 * seconds)
    return (np.sin(np.arange(n) * 0.3) * amplitude).astype("<i2").tobytes()


def noise(amplitude: float, seconds: float = 0.04, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, amplitude, int(16000 * seconds))).clip(-32768, 32767).astype("<i2").tobytes()


@pytest.mark.parametrize(("pcm", "want"), [(b"", 0.0), (bytes(640), 0.0), (tone(1000), 1000 / np.sqrt(2))])
def test_rms(pcm: bytes, want: float) -> None:
    assert rms(pcm) == pytest.approx(want, rel=0.02)


def test_energy_gate_calibrates_to_the_noise_floor_and_detects_speech() -> None:
    gate = EnergyGate()
    for i in range(50):  # 2 s of quiet room noise
        gate.calibrate(noise(40, seed=i))
    assert 50 <= gate.threshold < 120  # ~1.5 x the noise energy, not the 300 default
    assert not gate.is_speech(noise(40, seed=99))
    assert gate.is_speech(tone(3000))


def test_energy_gate_follows_a_louder_room_only_on_non_speech() -> None:
    gate = EnergyGate(threshold=100)
    assert gate.is_speech(tone(5000))
    assert gate.threshold == 100  # speech does not raise the floor
    for i in range(100):
        gate.is_speech(noise(60, seed=i))  # below threshold: adapts towards 1.5 x 60
    assert 80 <= gate.threshold <= 100
    static = EnergyGate(threshold=100, dynamic=False)
    for i in range(20):
        static.is_speech(noise(10, seed=i))
    assert static.threshold == 100


def _run(code: str, env_extra: dict[str, str]) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **env_extra)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


NO_MIC = """
import json
from audio.errors import DeviceError
from audio.mic import MicrophoneSource, list_devices
try:
    MicrophoneSource()
    print(json.dumps({"error": None, "devices": len(list_devices())}))
except DeviceError as exc:
    print(json.dumps({"error": str(exc), "type": type(exc).__name__, "exit": exc.exit_code}))
"""


def test_no_microphone_is_one_line_device_error(tmp_path: Path) -> None:
    # A fresh process whose PortAudio finds no sound server (and this box has no sound card).
    result = _run(NO_MIC, {"PULSE_SERVER": f"unix:{tmp_path}/nowhere"})
    if result["error"] is None:
        pytest.skip("this machine has a real microphone")
    assert result["type"] == "DeviceError"
    assert "no microphone" in result["error"] and "\n" not in result["error"]
    assert result["exit"] != 0


def test_chunk_size_out_of_range_is_device_error() -> None:
    from audio.errors import DeviceError
    from audio.mic import MicrophoneSource

    with pytest.raises(DeviceError, match="chunk_ms"):
        MicrophoneSource(chunk_ms=5)
