"""Latency of the live loop, measured from the virtual room's recording (not from log timestamps).

The room (``tests.room``) records one stereo track: ``left = partner + coach``, ``right = coach``, so the
partner is ``left - right`` and both are sample-aligned. Onsets and offsets come from the energy in 10 ms
frames. Measured per partner command:

- reply latency: end of the partner's command -> first sound of the coach's reply (when the coach was
  quiet while the command was said);
- barge-in: end of the partner's command said *while the coach speaks* -> the coach silent (its audio
  departs from an uninterrupted reference rendering of the same passage: it goes quiet where the
  reference still speaks).

``python -m bench.room_latency`` runs a measured session of the real app in a room and writes
``bench/results/room.json``; ``analyze`` and friends are used by the room tests too.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000
FRAME_S = 0.005
"""Analysis frame: 5 ms."""

ON_DBFS = -50.0
"""A frame is sound when its RMS is above this (the room is digital: silence is zeros)."""

RESULTS = Path(__file__).resolve().parent / "results" / "room.json"
TARGETS = {"reply_median_ms": 400, "barge_in_ms": 300, "self_intents": 0}


def split_room(stereo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(partner, coach) as float64 arrays from the room recording (int16 shaped (n, 2))."""
    x = stereo.astype(np.float64)
    return x[:, 0] - x[:, 1], x[:, 1]


def frame_db(x: np.ndarray, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS per frame in dB re full scale (-120 for digital silence)."""
    n = max(1, round(frame_s * RATE))
    frames = len(x) // n
    if frames == 0:
        return np.zeros(0)
    rms = np.sqrt(np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1)) / 32768.0
    return 20 * np.log10(np.maximum(rms, 1e-6))


def segments(x: np.ndarray, bridge_s: float = 0.3, min_s: float = 0.05,
             on_db: float = ON_DBFS) -> list[tuple[float, float]]:
    """Sounding stretches of ``x`` as (start, end) seconds; gaps shorter than ``bridge_s`` are bridged."""
    on = frame_db(x) > on_db
    out: list[list[float]] = []
    idx = np.flatnonzero(on)
    for i in idx:
        start, end = i * FRAME_S, (i + 1) * FRAME_S
        if out and start - out[-1][1] <= bridge_s:
            out[-1][1] = end
        else:
            out.append([start, end])
    return [(a, b) for a, b in out if b - a >= min_s]


def first_sound(x: np.ndarray, after: float, within: float = 10.0, on_db: float = ON_DBFS) -> float | None:
    """Time (s) of the first sounding frame of ``x`` at or after ``after``, within ``within`` seconds."""
    db = frame_db(x)
    lo, hi = int(after / FRAME_S), min(len(db), int((after + within) / FRAME_S))
    hits = np.flatnonzero(db[lo:hi] > on_db)
    return (lo + hits[0]) * FRAME_S if len(hits) else None


def sounding_at(x: np.ndarray, t: float, window: float = 0.05, on_db: float = ON_DBFS) -> bool:
    """True if ``x`` has sound within ``window`` seconds before ``t``."""
    db = frame_db(x)
    lo, hi = max(0, int((t - window) / FRAME_S)), int(t / FRAME_S) + 1
    return bool(np.any(db[lo:hi] > on_db))


@dataclass
class Command:
    """A partner command found in the recording: its label and exact start/end (s)."""

    label: str
    start: float
    end: float


def find_commands(partner: np.ndarray, turns: Sequence[tuple[str, float, float | None]],
                  slack: float = 0.5) -> list[Command]:
    """Match each harness turn (label, rough start, rough end) to the partner sound it produced."""
    found = segments(partner, bridge_s=0.35)
    out: list[Command] = []
    for label, t0, t1 in turns:
        t1 = t0 + 30 if t1 is None else t1
        hits = [s for s in found if s[1] >= t0 - slack and s[0] <= t1 + slack]
        if hits:
            out.append(Command(label, hits[0][0], hits[-1][1]))
    return out


def departure(coach: np.ndarray, reference: np.ndarray, after: float, min_s: float = 0.02,
              on_db: float = ON_DBFS) -> float | None:
    """First time >= ``after`` where ``coach`` is silent while the aligned ``reference`` sounds.

    Both start at the same onset (align them first, e.g. with ``first_sound``); silence must last
    ``min_s`` to count.
    """
    a, b = frame_db(coach), frame_db(reference)
    n = min(len(a), len(b))
    gap = (a[:n] <= on_db) & (b[:n] > on_db)
    need = max(1, round(min_s / FRAME_S))
    run = 0
    for i in range(int(after / FRAME_S), n):
        run = run + 1 if gap[i] else 0
        if run >= need:
            return (i - need + 1) * FRAME_S
    return None


def summarize(values_ms: Sequence[float]) -> dict[str, float | int]:
    """count, median, worst (ms, rounded) of a list of latencies."""
    if not values_ms:
        return {"count": 0}
    return {"count": len(values_ms), "median_ms": round(statistics.median(values_ms)),
            "worst_ms": round(max(values_ms)), "best_ms": round(min(values_ms))}


def write_results(figures: dict, path: Path = RESULTS) -> Path:
    """Write ``figures`` (with targets) as JSON to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(figures, targets=TARGETS), indent=2) + "\n")
    return path


if __name__ == "__main__":  # pragma: no cover - the measured session lives in bench.room_session
    sys.exit("run: python -m bench.room_latency (the session runner is not written yet)")
