"""Recognized text -> ``Intent`` (or ``None`` when not understood), by lookup in the catalogue's phrases.

Matching is deliberately strict, because a command invented out of chatter is worse than one missed:

1. the text is normalized: lower case, punctuation dropped, apostrophes removed ("that's" -> "thats"),
   hyphens split ("twenty-five"), digits spelled with the catalogue's number words ("20" -> "twenty"),
   and the file's ``spellings`` applied ("ok" -> "okay");
2. any ``[unk]`` (or ``<unk>``) piece means "something else was said": ``None``;
3. the whole text must be a phrase of the catalogue (a dict lookup), or, with the filler words
   ("uh", "um", "please", "okay", "now", ...) removed from both sides, equal a phrase with its fillers
   removed, when that stripped form means one thing only; failing that, the same with a word repeated
   at once collapsed ("hold it it" -> "hold it": a stutter, or the recognizer doubling a word). Partial
   phrases and sentences that merely contain command words ("the next song is nice") are ``None``;
4. with word confidences (one per whitespace-separated word of ``text``, as Vosk gives them), any
   non-filler word below ``min_word_confidence`` rejects the match. ``Intent.confidence`` is the lowest
   confidence of those words (1.0 without confidences), times ``filler_factor`` (0.9) when the match
   needed filler words to be added or dropped or a repeated word collapsed.

``is_complete_command`` is the early-commit test for streaming partial results: true when the text is
a whole phrase and no longer phrase starting with it means something else (other intent or other
slots). So "next" and "stop" commit at once ("next stroke", "stop the massage" mean the same), while
"hold" waits ("hold for twenty seconds" has a slot) and so does "hold for twenty" ("... twenty five").
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from intents.catalogue import Catalogue
from intents.types import Intent

_UNK_MARKS = ("[unk]", "<unk>")
_PUNCT = str.maketrans({c: " " for c in "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\u2013\u2014\u2026"})
_APOSTROPHES = str.maketrans({"'": None, "\u2019": None, "\u2018": None})


@dataclass(frozen=True)
class _Meaning:
    intent: str
    slots: tuple[tuple[str, str | int], ...]
    content: frozenset[int]  # positions of non-filler words in the phrase (all positions if none)

    def key(self) -> tuple[str, tuple[tuple[str, str | int], ...]]:
        return (self.intent, self.slots)


def _content_positions(words: Sequence[str], fillers: frozenset[str]) -> frozenset[int]:
    positions = frozenset(i for i, w in enumerate(words) if w not in fillers)
    return positions or frozenset(range(len(words)))


def _complete_keys(index: Mapping[str, _Meaning | None]) -> frozenset[str]:
    """Keys that are a phrase and not a strict prefix of a phrase with another meaning."""
    extensions: dict[str, set[object]] = {}
    for key, meaning in index.items():
        words = key.split()
        for n in range(1, len(words)):
            extensions.setdefault(" ".join(words[:n]), set()).add(meaning.key() if meaning else None)
    return frozenset(
        key
        for key, meaning in index.items()
        if meaning is not None and extensions.get(key, set()) <= {meaning.key()}
    )


class Matcher:
    """Strict, fast, deterministic text -> ``Intent`` matching over one catalogue's phrases."""

    def __init__(
        self, catalogue: Catalogue, min_word_confidence: float = 0.5, filler_factor: float = 0.9
    ) -> None:
        """Index the catalogue's phrases; ``min_word_confidence`` is the per-word rejection threshold."""
        self.catalogue = catalogue
        self.min_word_confidence = min_word_confidence
        self.filler_factor = filler_factor
        self._fillers = catalogue.fillers
        self._spellings = catalogue.spellings
        self._numbers: dict[str, tuple[str, ...]] = {}
        for values in catalogue.slot_lists.values():
            for spoken, value in values.items():
                if isinstance(value, int):
                    self._numbers.setdefault(str(value), tuple(spoken.split()))
        self._exact: dict[str, _Meaning] = {}
        self._stripped: dict[str, _Meaning | None] = {}
        for phrase in catalogue.phrases:
            words = phrase.text.split()
            meaning = _Meaning(
                phrase.intent, tuple(sorted(phrase.slots.items())), _content_positions(words, self._fillers)
            )
            self._exact[phrase.text] = meaning
            stripped = " ".join(w for w in words if w not in self._fillers)
            if not stripped:
                continue
            other = self._stripped.get(stripped, meaning)
            self._stripped[stripped] = meaning if other is not None and other.key() == meaning.key() else None
        self._max_chars = 4 * max((len(p.text) for p in catalogue.phrases), default=0) + 40
        self._complete_exact = _complete_keys(self._exact)
        self._complete_stripped = _complete_keys(self._stripped)

    def normalize(self, text: str) -> tuple[list[str], list[int]] | None:
        """The words to match and, for each, the index of the input word it came from; None on ``[unk]``."""
        lowered = (text if text.isascii() else unicodedata.normalize("NFKC", text)).lower()
        if any(mark in lowered for mark in _UNK_MARKS):
            return None
        words: list[str] = []
        origin: list[int] = []
        for i, raw in enumerate(lowered.split()):
            for piece in raw.translate(_APOSTROPHES).translate(_PUNCT).split():
                out = self._numbers.get(piece) or self._spellings.get(piece) or (piece,)
                words.extend(out)
                origin.extend([i] * len(out))
        return words, origin

    def _lookup(self, words: list[str]) -> tuple[_Meaning, list[int], float] | None:
        """The meaning, the positions (in ``words``) of its content words and the match factor."""
        meaning = self._exact.get(" ".join(words))
        if meaning is not None:
            return meaning, sorted(meaning.content), 1.0
        kept = [i for i, w in enumerate(words) if w not in self._fillers]
        if not kept:
            return None
        meaning = self._stripped.get(" ".join(words[i] for i in kept))
        if meaning is None:
            # a stutter: "hold it it", "this spot is tight tight" (never an invented word, only a repeat)
            kept = [i for n, i in enumerate(kept) if n == 0 or words[i] != words[kept[n - 1]]]
            meaning = self._exact.get(" ".join(words[i] for i in kept)) or self._stripped.get(
                " ".join(words[i] for i in kept)
            )
            if meaning is None:
                return None
        return meaning, kept, self.filler_factor

    def match(self, text: str, confidences: Sequence[float] | None = None) -> Intent | None:
        """The intent said in ``text``, or ``None`` when it is not (exactly) a command.

        ``confidences``: one value 0-1 per whitespace-separated word of ``text`` (Vosk's ``conf``), or
        None when the engine gives none. If their count does not fit the text, the lowest one is used
        for every word (conservative). Never raises for any string input.
        """
        if not isinstance(text, str) or not text.strip() or len(text) > self._max_chars:
            return None
        meaning = self._exact.get(text)
        if meaning is not None:  # fast path: recognizer output is already normalized
            if not confidences:
                return Intent(meaning.intent, dict(meaning.slots), 1.0, text)
            words = text.split()
            origin = list(range(len(words)))
            found: tuple[_Meaning, list[int], float] | None = (meaning, sorted(meaning.content), 1.0)
        else:
            normalized = self.normalize(text)
            if normalized is None:
                return None
            words, origin = normalized
            found = self._lookup(words)
        if found is None:
            return None
        meaning, content, factor = found
        confidence = factor
        if confidences:
            try:  # NaN or a non-number counts as 0: never a reason to accept
                confs = [0.0 if math.isnan(v) else v for v in map(float, confidences)]
            except (TypeError, ValueError):
                return None
            if len(confs) == len(text.split()):
                word_confs = [confs[origin[i]] for i in content]
            else:
                word_confs = [min(confs)]
            lowest = min(word_confs)
            if lowest < self.min_word_confidence:
                return None
            confidence = max(0.0, min(1.0, lowest)) * factor
        return Intent(meaning.intent, dict(meaning.slots), confidence, text)

    def is_complete_command(self, text: str) -> bool:
        """True when ``text`` (e.g. a streaming partial) is a whole phrase no longer phrase could change.

        False for ``[unk]``, partial phrases, and phrases that are a strict prefix of a longer phrase with
        another intent or other slots ("hold" -> "hold for twenty seconds"). The recognizer may commit
        early on a True; on False it waits for the final result.
        """
        if not isinstance(text, str) or not text.strip() or len(text) > self._max_chars:
            return False
        if text in self._exact:
            return text in self._complete_exact
        normalized = self.normalize(text)
        if normalized is None or not normalized[0]:
            return False
        words = normalized[0]
        key = " ".join(words)
        if key in self._exact:
            return key in self._complete_exact
        stripped = " ".join(w for w in words if w not in self._fillers)
        return stripped in self._complete_stripped
