"""Barge-in: a "stop" or "that hurts" said while the coach is talking, found inside what the microphone heard.

Over the coach's voice the recognizer rarely hears a command on its own: the partner's words come with
bits of the coach's residue before them ("[unk] a to a that hurts"), so a whole-utterance match fails.
While the echo guard is guarding, ``BargeInSpotter`` looks for a barge-in command (``guard.barge_in``:
stop, pause, pain) as a contiguous run of the heard words:

* ``in_partial(text)``: in a streaming partial, no confidences yet; the recognizer ends the utterance at
  once when the command is followed by more words, else at the first short quiet
  (``VoskRecognizer.urgent``), so the coach can go quiet without waiting for the partner's silence;
* ``in_result(text, confidences)``: in the committed result, each word of the run at least
  ``min_confidence``; that is the intent acted on.

The guard still decides: a run the coach is saying itself ("tell me to stop") is never taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from intents.types import Intent

UNK = "[unk]"
MIN_CONFIDENCE = 0.85
"""Lowest word confidence for a command taken over the coach's voice: the canceller's residue of it decodes
as single words now and then ("hurts" at 0.74 in the virtual room), a partner's command at 0.9-1.0."""


class BargeInSpotter:
    """Finds a barge-in command inside heard text while ``guard`` guards; pure logic, time handed in."""

    def __init__(self, matcher: Any, guard: Any, min_confidence: float = MIN_CONFIDENCE,
                 max_words: int = 6) -> None:
        self.matcher = matcher
        self.guard = guard
        self.min_confidence = min_confidence
        self.max_words = max_words

    def _runs(self, words: Sequence[str]) -> list[tuple[int, int]]:
        """(start, stop) of every run without ``[unk]``, longest first, later first among equals."""
        n = len(words)
        runs = [(i, i + k) for k in range(min(n, self.max_words), 0, -1) for i in range(n - k, -1, -1)]
        return [(a, b) for a, b in runs if UNK not in words[a:b]]

    def in_result(self, text: str, confidences: Sequence[float] | None, at: float) -> Intent | None:
        """The barge-in intent said inside ``text`` (committed, with per-word ``confidences``), or None."""
        words = text.split()
        confs = list(confidences) if confidences and len(confidences) == len(words) else None
        for a, b in self._runs(words):
            run = " ".join(words[a:b])
            intent = self.matcher.match(run, confs[a:b] if confs else None)
            if intent is None or intent.name not in self.guard.barge_in:
                continue
            if confs is not None and min(confs[a:b]) < self.min_confidence:
                continue
            if self.guard.allow(intent.name, run, at):
                return intent
        return None

    def in_partial(self, text: str, at: float) -> int | None:
        """Where a whole barge-in command the coach is not saying ends in a streaming partial (the number
        of words up to its end), or None. A command with words after it is finished; one at the very end
        may still grow ("that hurts" -> "that hurts my back")."""
        words = text.split()
        found = None
        for a, b in self._runs(words):
            run = " ".join(words[a:b])
            if not self.matcher.is_complete_command(run):
                continue
            intent = self.matcher.match(run)
            if intent is not None and intent.name in self.guard.barge_in and self.guard.allow(intent.name,
                                                                                             run, at):
                found = b if found is None else min(found, b)
        return found
