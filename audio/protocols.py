"""The small interfaces the app wires together: a PCM source, a recognizer and a speaker.

Tests hand in WAV-file sources and real engines; the app hands in the microphone and pyttsx3.
All audio is 16 kHz, mono, signed 16-bit little-endian PCM (``SAMPLE_RATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

SAMPLE_RATE = 16000
"""The one sample rate the recognizers take."""


@dataclass(frozen=True)
class Word:
    """One recognized word with the engine's confidence (0-1) and its times in the stream, seconds."""

    word: str
    conf: float = 1.0
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class Hypothesis:
    """What a recognizer heard in one utterance.

    ``early`` is true when it was committed from a partial result before the engine's own endpoint.
    ``end_s`` is the stream time (seconds of audio fed so far) at which the result was produced.
    """

    text: str
    words: tuple[Word, ...] = field(default_factory=tuple)
    early: bool = False
    end_s: float = 0.0

    @property
    def confidences(self) -> list[float]:
        """The per-word confidences, in order."""
        return [w.conf for w in self.words]


class AudioSource(Protocol):
    """A stream of 16 kHz mono s16le PCM in chunks (20-100 ms each)."""

    def chunks(self) -> Iterator[bytes]:
        """Yield PCM chunks until the source ends (a file) or is closed (a microphone)."""
        ...

    def close(self) -> None:
        """Stop producing audio and release the device or file."""
        ...


class Recognizer(Protocol):
    """A streaming, grammar-constrained speech recognizer."""

    name: str

    def accept(self, pcm: bytes) -> Hypothesis | None:
        """Feed one chunk; return a hypothesis when an utterance ended (or was committed early)."""
        ...

    def flush(self) -> Hypothesis | None:
        """End the stream: return what is left of the current utterance, if anything."""
        ...

    def reset(self) -> None:
        """Drop the current utterance (e.g. after the coach's own speech)."""
        ...


class Speaker(Protocol):
    """Speech output."""

    def say(self, text: str) -> None:
        """Start saying ``text``; returns without waiting for the speech to finish."""
        ...

    def stop(self) -> None:
        """Cut off what is being said, at once."""
        ...

    def speaking(self) -> bool:
        """True while speech is playing (the app uses it to avoid hearing itself)."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current speech is done; False if it timed out."""
        ...

    def set_voice(self, rate: int, volume: float) -> None:
        """Apply a speaking rate (words a minute) and volume (0-1) for what is said next."""
        ...

    def close(self) -> None:
        """Release the engine."""
        ...


class InstantSpeaker:
    """Base of the speakers whose ``say()`` is over when it returns: nothing plays, so nothing to cut."""

    def stop(self) -> None:
        """Nothing to cut."""

    def speaking(self) -> bool:
        """Never: nothing is playing after ``say()`` returns."""
        return False

    def wait(self, timeout: float | None = None) -> bool:
        """Always done."""
        return True
