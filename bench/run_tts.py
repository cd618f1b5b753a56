"""Intent -> first audio sample of the reply: ``Session.handle`` plus the project's speaker.

The speaker is ``audio.tts.PlaybackSpeaker`` with the renderers the app uses (pyttsx3, and espeak-ng on
its own). This machine has no sound card, so the sound device is replaced by a player that marks the
moment the first rendered sample is handed over; a real device adds its own output latency on top
(PortAudio reports it as ``SoundPlayer.latency_s``, typically 10-40 ms).
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from typing import Any

import numpy as np

REPLY_INTENTS: tuple[tuple[str, dict], ...] = (
    ("next", {}), ("repeat", {}), ("slower", {}), ("hold", {"seconds": 20}), ("status", {}),
    ("technique", {"technique": "fists"}), ("lighter", {}), ("help", {}), ("previous", {}), ("knot", {}),
)


class HandoverPlayer:
    """Stands in for ``audio.tts_player.SoundPlayer``: "plays" at once, reporting when samples arrive."""

    latency_s = 0.0

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, int, float]] = queue.Queue()

    def play(self, utterance: int, samples: np.ndarray, rate: int, first: bool, last: bool) -> None:
        """A sentence is rendered: its first sample is available now."""
        now = time.monotonic()
        if first:
            self.events.put(("start", utterance, now))
        if last:
            self.events.put(("end", utterance, now))

    def ensure_open(self) -> None:
        """Nothing to open."""

    def clear(self) -> None:
        """Nothing queued."""

    def busy(self) -> bool:
        """Never busy."""
        return False

    def alive(self) -> bool:
        """Always there."""
        return True

    def close(self) -> None:
        """Nothing to close."""


class _FirstSample:
    def __init__(self) -> None:
        self.at: float | None = None
        self.event = threading.Event()

    def speech_started(self, text: str, at: float) -> None:
        self.at = at
        self.event.set()

    def speech_ended(self, at: float) -> None:
        pass


def measure(engine: str = "auto", rounds: int = 2) -> dict[str, Any]:
    """Milliseconds from an intent to the first sample of the reply, per reply (first round is warm-up)."""
    from audio.tts import PlaybackSpeaker, make_chain
    from bench.run_engines import catalogue
    from intents.types import Intent
    from skill.clock import FakeClock
    from skill.routine import load_routine
    from skill.session import Session

    chain = make_chain(engine)
    speaker = PlaybackSpeaker(chain, player=HandoverPlayer())  # type: ignore[arg-type]
    listener = _FirstSample()
    speaker.add_listener(listener)
    clock = FakeClock()
    times: list[float] = []
    handle_ms: list[float] = []
    try:
        for r in range(rounds + 1):
            session = Session(load_routine(), clock, catalogue().help_examples())
            session.begin()
            session.handle(Intent("start", {}, 1.0, "start"))
            for name, slots in REPLY_INTENTS:
                listener.event.clear()
                t0 = time.monotonic()
                actions = session.handle(Intent(name, dict(slots), 1.0, name))
                t1 = time.monotonic()
                says = [a for a in actions if type(a).__name__ == "Say"]
                if not says:
                    continue
                speaker.say(says[0].text)
                if not listener.event.wait(10.0) or listener.at is None:
                    raise RuntimeError(f"no audio for the reply to {name!r}")
                speaker.wait(10.0)
                if r > 0:
                    times.append((listener.at - t0) * 1000)
                    handle_ms.append((t1 - t0) * 1000)
                clock.advance(5.0)
    finally:
        speaker.close()
    times.sort()
    return {"available": True, "renderer": chain.name, "replies": len(times),
            "median_ms": statistics.median(times), "p95_ms": float(np.percentile(times, 95)),
            "max_ms": times[-1], "session_handle_median_ms": statistics.median(handle_ms),
            "fallbacks": list(getattr(chain, "events", []))}


def run(engines: tuple[str, ...] = ("pyttsx3", "espeak"), rounds: int = 2) -> dict[str, Any]:
    """``measure`` for each renderer; a failure is recorded, not raised."""
    out: dict[str, Any] = {}
    for engine in engines:
        try:
            out[engine] = measure(engine, rounds)
        except Exception as exc:  # no TTS engine here is a finding for the report
            out[engine] = {"available": False, "error": f"{type(exc).__name__}: {exc}"}
    return out
