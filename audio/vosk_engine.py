"""Streaming, grammar-constrained recognition with Vosk, with early commit on complete commands.

Vosk ends an utterance at its own endpoint (the model's ``conf/model.conf`` rules: 0.5 s of trailing
silence after speech for rule 2). A command like "next stroke" is already final in the partial result well
before that. ``VoskRecognizer`` commits such a partial only when (a) ``is_complete(partial)`` says it is a
whole, unambiguous command, (b) the partial has not changed for ``early_silence_s`` of audio, (c) that much
audio has been quiet relative to the utterance (``SilenceTracker``: between the noise floor and the speech
level, so it holds at 6 dB SNR) and (d) Vosk's final pass (``FinalResult``) gives the same text. The words
and confidences are always the final pass's own, so the matcher's confidence check applies. When the final
pass disagrees, the utterance has still ended there: its own result is returned as at an endpoint (None
for ``[unk]`` only). After such a cut, anything decoded before a real pause (``TAIL_GAP_S`` of quiet; while
the coach speaks, ``TAIL_MAX_S`` at most) is the rest of the same utterance and is dropped, so one command
never gives two results.

vosk 0.3.45 (the version installed) has no endpointer setters (``SetEndpointerMode`` /
``SetEndpointerDelays`` came later; libvosk here exports no such symbol), so the endpoint itself can only be
tuned in the model's ``conf/model.conf``; the early commit is what makes commands fast.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from audio.models import _vosk
from audio.models import load_model as _load_model
from audio.protocols import SAMPLE_RATE, Hypothesis, Word

UNK = "[unk]"
TAIL_GAP_S = 0.3  # a pause this long after an early cut means the next speech is a new utterance
TAIL_MAX_S = 0.6  # while the coach speaks, the tail of a cut word is over by then, pause or not
_FLOOR_WINDOW_CHUNKS = 100  # noise floor: a low percentile of the last ~100 chunks' energy


def load_model(path: str | Path) -> Any:
    """Load a Vosk model folder as ``vosk.Model`` (ModelError, one line, on a missing or corrupt model)."""
    return _load_model(path)


class SilenceTracker:
    """Tells speech from silence by chunk energy, relative to the noise floor and the recent speech level.

    A chunk's energy is the highest RMS of its 10 ms frames (so a chunk that ends or starts in speech is
    not quiet). It is quiet under the point ``rel`` of the way from ``floor`` up to ``level`` in dB, i.e.
    ``floor * (level / floor) ** rel`` (at least ``min_ratio * floor`` and ``abs_min``): ``floor`` is the
    noise floor (10th percentile of the last ~100 chunks), ``level`` the loudest chunk of the last
    ``level_window_s`` seconds (the speech level). The threshold sits between the two at any SNR: at 6 dB
    (noise floor ~1850, speech chunks 2000-5400) a fixed multiple of the floor, like 3x, is above the
    speech itself and calls the middle of a word quiet. ``rel`` 0.15 keeps weak word endings ("-er" of
    "harder" at 6 dB) out of the quiet run; 0.25 still let a few commits cut them off (bench clips).
    """

    def __init__(self, abs_min: float = 60.0, rel: float = 0.15, level_window_s: float = 2.0,
                 min_ratio: float = 1.2):
        self.abs_min, self.rel, self.min_ratio = abs_min, rel, min_ratio
        self._recent: deque[float] = deque(maxlen=_FLOOR_WINDOW_CHUNKS)
        self._levels: deque[tuple[int, float]] = deque()  # (samples, rms) of the last level_window_s
        self._level_samples = 0
        self._level_window = int(level_window_s * SAMPLE_RATE)
        self.quiet_samples = 0

    def floor(self) -> float:
        """The current noise floor estimate (RMS)."""
        return float(np.percentile(self._recent, 10)) if self._recent else 0.0

    def level(self) -> float:
        """The speech level: the loudest chunk RMS of the last ``level_window_s`` seconds."""
        return max((r for _, r in self._levels), default=0.0)

    def threshold(self) -> float:
        """The RMS under which a chunk counts as quiet."""
        floor = max(self.floor(), 1.0)
        level = max(self.level(), floor)
        between = floor * (level / floor) ** self.rel  # rel of the way from floor to level, in dB
        return max(self.abs_min, self.min_ratio * floor, between)

    def update(self, pcm: bytes) -> bool:
        """Account one chunk; True when it is quiet. ``quiet_samples`` counts the current quiet run."""
        n = len(pcm) // 2
        loudest = _frame_peak_rms(pcm)
        self._recent.append(loudest)
        self._levels.append((n, loudest))
        self._level_samples += n
        while self._level_samples - self._levels[0][0] >= self._level_window:
            self._level_samples -= self._levels.popleft()[0]
        quiet = loudest < self.threshold()
        self.quiet_samples = self.quiet_samples + n if quiet else 0
        return quiet


def _frame_peak_rms(pcm: bytes, frame: int = SAMPLE_RATE // 100) -> float:
    """The highest RMS over the 10 ms frames of a chunk (the chunk's RMS when it is shorter)."""
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
    if x.size < 2 * frame:
        return float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    n = x.size // frame
    frames = x[: n * frame].reshape(n, frame)
    return float(np.sqrt((frames * frames).mean(axis=1).max()))


def _words(result: dict) -> tuple[Word, ...]:
    return tuple(Word(w.get("word", ""), float(w.get("conf", 1.0)), float(w.get("start", 0.0)),
                      float(w.get("end", 0.0))) for w in result.get("result", []))


class VoskRecognizer:
    """A ``Recognizer`` on a Vosk model constrained to ``grammar`` (phrases; "[unk]" is added if missing).

    ``is_complete(text)`` (e.g. ``Matcher.is_complete_command``) enables early commit; with None, only
    Vosk's endpoint ends an utterance. Phrases with words outside the model's vocabulary are left out of the
    grammar (Vosk would silently drop the word and change the phrase); see ``unknown_words``.
    """

    def __init__(self, model: Any, grammar: Sequence[str], is_complete: Callable[[str], bool] | None = None,
                 early_silence_s: float = 0.15, name: str = "vosk"):
        vosk = _vosk()
        self.model = _load_model(model) if isinstance(model, (str, Path)) else model
        self.name = name
        self.is_complete = is_complete
        self.early_silence_s = early_silence_s
        self.unknown_words: list[str] = []
        self.grammar = self._usable_grammar(grammar)
        self._rec = vosk.KaldiRecognizer(self.model, SAMPLE_RATE, json.dumps(self.grammar))
        self._rec.SetWords(True)
        # SetPartialWords(True) is not used: with vosk 0.3.45 it stops partial results until the endpoint.
        self._fed = 0
        self._silence = SilenceTracker()
        self._partial = ""
        self._partial_since = 0
        self._tail_guard = False  # after an early cut, until a real pause: any result is its tail
        self._cut_at = 0  # samples fed when the last early cut was made
        self.early_commits = 0
        self.urgent: Callable[[str], int | None] | None = None
        """Set by the app while the coach speaks: for a partial holding a barge-in command ("[unk] a that
        hurts", "stop [unk]") the number of words up to its end, else None. The utterance is then
        committed at once when more words follow it, or early like a complete command when it ends the
        partial."""

    def _usable_grammar(self, grammar: Sequence[str]) -> list[str]:
        phrases: list[str] = []
        unknown: list[str] = []
        for phrase in grammar:
            words = phrase.split()
            if phrase == UNK:
                continue
            missing = [w for w in words if self.model.vosk_model_find_word(w) < 0]
            if missing:
                unknown.extend(w for w in missing if w not in unknown)
                continue
            if phrase not in phrases:
                phrases.append(phrase)
        self.unknown_words = unknown
        return [*phrases, UNK]

    @property
    def fed_s(self) -> float:
        """Seconds of audio fed so far."""
        return self._fed / SAMPLE_RATE

    def _hypothesis(self, result: dict, early: bool) -> Hypothesis | None:
        text = " ".join(result.get("text", "").split())
        if not text:
            return None
        # Vosk's word times already count from the start of the stream, across results and Reset()
        return Hypothesis(text=text, words=_words(result), early=early, end_s=self.fed_s)

    def _new_round(self) -> None:
        self._partial = ""
        self._partial_since = self._fed

    def accept(self, pcm: bytes) -> Hypothesis | None:
        """Feed one chunk (20-100 ms of s16le); a Hypothesis when an utterance ended or was committed."""
        quiet = self._silence.update(pcm)
        self._fed += len(pcm) // 2
        over_coach = self.urgent is not None  # no pause may come while the coach talks on
        if self._tail_guard and (self._silence.quiet_samples >= TAIL_GAP_S * SAMPLE_RATE
                                 or (over_coach and self._fed - self._cut_at >= TAIL_MAX_S * SAMPLE_RATE)):
            # a real pause after an early cut: whatever Kaldi holds now is the tail; drop it
            self._rec.Reset()
            self._new_round()
            self._tail_guard = False
        if self._rec.AcceptWaveform(pcm):
            hyp = self._guarded(self._hypothesis(json.loads(self._rec.Result()), early=False))
            self._new_round()
            return hyp
        if self.is_complete is None and self.urgent is None:
            return None
        partial = " ".join(json.loads(self._rec.PartialResult()).get("partial", "").split())
        if partial != self._partial:
            self._partial, self._partial_since = partial, self._fed
            if partial and not self._tail_guard and self.urgent is not None:
                end = self.urgent(partial)
                if end is not None and end < len(partial.split()):
                    return self._commit_early(partial)  # the command's last word is over: cut here
            return None
        need = self.early_silence_s * SAMPLE_RATE
        if not (quiet and partial and not self._tail_guard and self._fed - self._partial_since >= need
                and self._silence.quiet_samples >= need):
            return None
        if self._committable(partial):
            return self._commit_early(partial)
        if self.urgent is not None:
            # over the coach's voice a short pause ends what was heard so far (the residue of its voice):
            # a command said next starts an utterance of its own instead of trailing the residue
            return self._hypothesis(self._end_utterance(), early=False)
        return None

    def _end_utterance(self) -> dict:
        """Vosk's final pass over the current utterance, which is then over."""
        final = json.loads(self._rec.FinalResult())
        self._rec.Reset()
        self._new_round()
        return final

    def _committable(self, partial: str) -> bool:
        """A whole command (``is_complete``), or what ``urgent`` asks for."""
        if self.is_complete is not None and UNK not in partial.split() and self.is_complete(partial):
            return True
        return self.urgent is not None and self.urgent(partial) is not None

    def _guarded(self, hyp: Hypothesis | None) -> Hypothesis | None:
        """Drop the tail of an utterance cut early: any result before a real pause (``TAIL_GAP_S`` of
        quiet) followed the cut, complete phrase or not ("go softer" committed, then its "-er" decoded
        on its own as "correct")."""
        if not self._tail_guard:
            return hyp
        self._tail_guard = False
        return None

    def _commit_early(self, partial: str) -> Hypothesis | None:
        """End the utterance at a complete, stable partial in quiet: Vosk's final pass decides.

        The final pass (full lattice) must agree with the partial for an early commit. When it does not,
        the utterance has still ended (``FinalResult`` finishes it): its own result is returned like
        one at Vosk's endpoint (``early`` False), or None when it heard nothing but ``[unk]``. Word
        confidences are always the final pass's own, so the matcher's threshold applies.
        """
        final = self._hypothesis(self._end_utterance(), early=True)
        self._tail_guard, self._cut_at = True, self._fed
        if final is None or all(w == UNK for w in final.text.split()):
            return None
        if final.text != partial:
            return Hypothesis(final.text, final.words, early=False, end_s=final.end_s)
        self.early_commits += 1
        return final

    def flush(self) -> Hypothesis | None:
        """End of stream: the rest of the current utterance, if any words were heard."""
        return self._guarded(self._hypothesis(self._end_utterance(), early=False))

    def reset(self) -> None:
        """Drop the current utterance (e.g. the coach was speaking)."""
        self._rec.Reset()
        self._new_round()
        self._tail_guard = False


def recognize_samples(rec: Any, samples: np.ndarray, chunk_ms: int = 40) -> list[Hypothesis]:
    """Feed a whole int16 16 kHz signal to a recognizer in chunks and flush; every hypothesis, in order."""
    n = SAMPLE_RATE * chunk_ms // 1000
    data = np.asarray(samples, dtype="<i2")
    out = [h for i in range(0, len(data), n) if (h := rec.accept(data[i:i + n].tobytes())) is not None]
    last = rec.flush()
    return [*out, last] if last is not None else out
