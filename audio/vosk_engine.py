"""Streaming, grammar-constrained recognition with Vosk, with early commit on complete commands.

Vosk ends an utterance at its own endpoint (the model's ``conf/model.conf`` rules: 0.5 s of trailing
silence after speech for rule 2). A command like "next stroke" is already final in the partial result well
before that. ``VoskRecognizer`` commits such a partial when ``is_complete(partial)`` says it is a whole,
unambiguous command and a short silence follows (``early_silence_s`` of low-energy audio with the partial
unchanged), then resets the Kaldi recognizer so the tail of the utterance does not give a second result.

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
TAIL_GAP_S = 0.3  # a pause this long after an early commit means the next speech is a new utterance
_FLOOR_WINDOW_CHUNKS = 100  # noise floor: a low percentile of the last ~100 chunks' energy


def load_model(path: str | Path) -> Any:
    """Load a Vosk model folder as ``vosk.Model`` (ModelError, one line, on a missing or corrupt model)."""
    return _load_model(path)


def _rms(pcm: bytes) -> float:
    x = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


class SilenceTracker:
    """Tells speech from silence by chunk energy against an adaptive noise floor and the utterance's peak.

    A chunk is quiet when its RMS is under the highest of: 3x the noise floor (10th percentile of recent
    chunks), a tenth of the loudest chunk of the current utterance (-20 dB), and ``abs_min``.
    """

    def __init__(self, abs_min: float = 60.0, floor_factor: float = 3.0, peak_ratio: float = 0.1):
        self.abs_min, self.floor_factor, self.peak_ratio = abs_min, floor_factor, peak_ratio
        self._recent: deque[float] = deque(maxlen=_FLOOR_WINDOW_CHUNKS)
        self.peak = 0.0
        self.quiet_samples = 0

    def floor(self) -> float:
        """The current noise floor estimate (RMS)."""
        return float(np.percentile(self._recent, 10)) if self._recent else 0.0

    def update(self, pcm: bytes) -> bool:
        """Account one chunk; True when it is quiet. ``quiet_samples`` counts the current quiet run."""
        rms = _rms(pcm)
        self._recent.append(rms)
        self.peak = max(self.peak, rms)
        threshold = max(self.abs_min, self.floor_factor * self.floor(), self.peak_ratio * self.peak)
        quiet = rms < threshold
        self.quiet_samples = self.quiet_samples + len(pcm) // 2 if quiet else 0
        return quiet

    def new_utterance(self) -> None:
        """Forget the utterance peak (the noise floor is kept)."""
        self.peak = 0.0


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
        self._tail_guard = False  # after an early commit, until new speech: a non-command result is its tail
        self._gap_seen = False
        self.early_commits = 0

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
        self._silence.new_utterance()

    def accept(self, pcm: bytes) -> Hypothesis | None:
        """Feed one chunk (20-100 ms of s16le); a Hypothesis when an utterance ended or was committed."""
        quiet = self._silence.update(pcm)
        self._fed += len(pcm) // 2
        if self._tail_guard:
            if self._silence.quiet_samples >= TAIL_GAP_S * SAMPLE_RATE:
                self._gap_seen = True
            elif self._gap_seen and not quiet:
                self._tail_guard = False  # new speech after a pause: a new utterance
        if self._rec.AcceptWaveform(pcm):
            hyp = self._guarded(self._hypothesis(json.loads(self._rec.Result()), early=False))
            self._new_round()
            return hyp
        if self.is_complete is None:
            return None
        partial = " ".join(json.loads(self._rec.PartialResult()).get("partial", "").split())
        if partial != self._partial:
            self._partial, self._partial_since = partial, self._fed
            return None
        need = self.early_silence_s * SAMPLE_RATE
        if (partial and UNK not in partial and self._fed - self._partial_since >= need
                and self._silence.quiet_samples >= need and self.is_complete(partial)):
            return self._commit_early(partial)
        return None

    def _guarded(self, hyp: Hypothesis | None) -> Hypothesis | None:
        """Drop the tail of an utterance committed early: a result with no new speech since the commit
        that is not a complete command itself, or that has only zero-length words (a decoder artifact)."""
        if hyp is None or not self._tail_guard:
            return hyp
        self._tail_guard = False
        artifact = all(w.end - w.start < 0.03 for w in hyp.words) if hyp.words else False
        if artifact or self.is_complete is None or not self.is_complete(hyp.text):
            return None
        return hyp

    def _commit_early(self, partial: str) -> Hypothesis:
        final = self._hypothesis(json.loads(self._rec.FinalResult()), early=True)
        if final is not None and final.text != partial and self.is_complete(final.text):
            hyp = final  # the final pass (full lattice) corrected the partial: e.g. "use palm" -> "use palms"
        elif final is not None and final.text == partial:
            hyp = final
        else:  # the final pass lost the command: trust what was complete (words without times)
            hyp = Hypothesis(text=partial, words=tuple(Word(w) for w in partial.split()), early=True,
                             end_s=self.fed_s)
        self._rec.Reset()
        self._new_round()
        self._tail_guard, self._gap_seen = True, False
        self.early_commits += 1
        return hyp

    def flush(self) -> Hypothesis | None:
        """End of stream: the rest of the current utterance, if any words were heard."""
        hyp = self._guarded(self._hypothesis(json.loads(self._rec.FinalResult()), early=False))
        self._rec.Reset()
        self._new_round()
        return hyp

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
