"""Never take a command from the coach's own voice: pure logic, no audio imports, time handed in.

The speaker reports when its audio starts and ends (``speech_started`` / ``speech_ended``); the live loop
asks ``allow(intent_name, heard_text, at)`` before acting on a recognized intent.

Rules, while the coach speaks and for ``tail_s`` seconds after (room echo, device latency):

* only barge-in intents (``stop``, ``pause``, ``pain`` by default) may pass;
* even those are rejected when the heard words appear as a contiguous run in a text the coach is saying
  (normalized: lowercase, no punctuation), e.g. the coach saying "tell me to stop whenever it hurts" never
  triggers ``stop`` ("stop") or ``pain`` ("it hurts").

A real "stop" said by the user over a sentence that itself contains "stop" is rejected too (it cannot be told
apart from the echo); once the tail has passed it is accepted again.
Outside that window every intent is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_BARGE_IN: frozenset[str] = frozenset({"stop", "pause", "pain"})
"""Intents the user may say over the coach's voice."""

_NOT_WORD = re.compile(r"[^a-z0-9\s]+")


def normalize_words(text: str) -> tuple[str, ...]:
    """Lowercase ``text``, drop punctuation (apostrophes join: "it's" -> "its") and split into words."""
    return tuple(_NOT_WORD.sub("", text.lower().replace("-", " ")).split())


def contains_run(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    """True when ``needle`` (non-empty) occurs as a contiguous run of words in ``haystack``."""
    n = len(needle)
    if n == 0 or n > len(haystack):
        return False
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


@dataclass
class EchoGuard:
    """Decides whether a recognized intent may be acted on, given what the coach is saying.

    ``tail_s`` extends the guarded window past the end of speech; ``barge_in`` names the intents allowed
    during that window (unless the coach is saying those very words).
    """

    tail_s: float = 0.3
    barge_in: frozenset[str] = DEFAULT_BARGE_IN
    _texts: list[tuple[str, ...]] = field(default_factory=list, repr=False)
    _speaking: bool = field(default=False, repr=False)
    _ended_at: float = field(default=float("-inf"), repr=False)

    def speech_started(self, text: str, at: float) -> None:
        """The coach's audio for ``text`` started playing at time ``at`` (seconds, monotonic)."""
        if not self.guarding(at):
            self._texts.clear()
        self._texts.append(normalize_words(text))
        self._speaking = True

    def speech_ended(self, at: float) -> None:
        """The coach's audio stopped (finished or cut off) at time ``at``."""
        self._speaking = False
        self._ended_at = at

    def guarding(self, at: float) -> bool:
        """True while the coach speaks or within ``tail_s`` after it stopped."""
        return self._speaking or at <= self._ended_at + self.tail_s

    def allow(self, intent_name: str, heard_text: str, at: float, heard_from: float | None = None) -> bool:
        """May the app act on ``intent_name`` recognized from ``heard_text`` at time ``at``?

        ``heard_from`` (optional) is when the phrase's audio began: a phrase that started while the coach
        spoke is judged as heard during speech even if the recognizer committed it after the tail.
        """
        if not self.guarding(at) and (heard_from is None or not self.guarding(heard_from)):
            return True
        if intent_name not in self.barge_in:
            return False
        heard = normalize_words(heard_text)
        if not heard:
            return False
        return not any(contains_run(spoken, heard) for spoken in self._texts)

    @property
    def spoken_texts(self) -> list[str]:
        """The normalized texts of the current guarded window (for logs and tests)."""
        return [" ".join(words) for words in self._texts]
