"""The systems the benchmark compares, each behind one ``decode(samples) -> Decoded`` call.

- ``vosk`` / ``vosk-no-early``: the project's path: ``audio.vosk_engine.VoskRecognizer`` on the catalogue's
  grammar (with / without early commit via ``Matcher.is_complete_command``) + ``Matcher.match``;
- ``vosk-baseline``: the naive one: a plain ``vosk.KaldiRecognizer`` on the canonical phrases (one per
  intent) + ``"[unk]"`` as in Vosk's own example, an exact-match dict lookup, no front-end;
- ``sphinx`` / ``sphinx-no-early``: ``audio.sphinx_engine.SphinxRecognizer`` + ``Matcher.match``;
- ``sphinx-baseline``: a plain pocketsphinx JSGF decode of the canonical phrases, one utterance per clip.

Audio is fed in ``CHUNK_MS`` chunks like the microphone does; for every hypothesis the stream position
at which it came out and the compute time of the call that produced it are recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from audio.protocols import SAMPLE_RATE, Hypothesis, Word

CHUNK_MS = 40
"""Chunk size of the live path (``audio.mic.MicrophoneSource`` default)."""
TOY_MODEL = "vosk-toy-en-us-espeak"
SYSTEMS = ("vosk", "vosk-no-early", "vosk-baseline", "sphinx", "sphinx-no-early", "sphinx-baseline")
DEFAULT_SYSTEMS = ("vosk", "vosk-no-early", "vosk-baseline", "sphinx", "sphinx-baseline")
"""``sphinx-no-early`` is left out by default: SphinxRecognizer ignores ``is_complete`` (no early commit)."""
ENGINE_OF = {name: name.split("-")[0] for name in SYSTEMS}


class Unavailable(RuntimeError):
    """A system cannot be built here (module not there yet, engine missing): reported, not fatal."""


def model_path() -> Path:
    """The Vosk test model: tests/models copy, the shared one, or ``audio.models.find_model``."""
    root = Path(__file__).resolve().parent.parent
    for candidate in (root / "tests" / "models" / TOY_MODEL, Path("/work/shared/models") / TOY_MODEL):
        if candidate.is_dir():
            return candidate
    from audio.models import find_model

    found = find_model()
    if found is None:
        raise Unavailable("no Vosk model found (tests/models/vosk-toy-en-us-espeak or VOSK_MODEL_PATH)")
    return Path(found)


@dataclass
class Event:
    """One hypothesis out of the stream and what it was taken for."""

    text: str
    intent: str | None
    slots: dict
    early: bool
    pos_s: float  # stream position (audio fed) when the hypothesis came out
    compute_s: float  # compute time of the accept()/flush() call that produced it, plus matching
    flushed: bool = False  # came out only at the end of the clip (no endpoint in the audio)


@dataclass
class Decoded:
    """All events of one clip or stream, with the total compute time."""

    events: list[Event] = field(default_factory=list)
    compute_s: float = 0.0
    audio_s: float = 0.0


class PlainVosk:
    """A plain ``KaldiRecognizer`` as a ``Recognizer``: Vosk's own endpoint, no early commit, no front-end."""

    name = "vosk-plain"

    def __init__(self, model: Any, grammar: list[str]):
        import vosk

        self._rec = vosk.KaldiRecognizer(model, SAMPLE_RATE, json.dumps(grammar))
        self._rec.SetWords(True)

    @staticmethod
    def _hyp(result: str) -> Hypothesis | None:
        data = json.loads(result)
        text = " ".join(data.get("text", "").split())
        words = tuple(Word(w["word"], float(w.get("conf", 1.0))) for w in data.get("result", []))
        return Hypothesis(text, words) if text else None

    def accept(self, pcm: bytes) -> Hypothesis | None:
        """Feed a chunk; the result at Vosk's endpoint."""
        return self._hyp(self._rec.Result()) if self._rec.AcceptWaveform(pcm) else None

    def flush(self) -> Hypothesis | None:
        """What is left at the end."""
        return self._hyp(self._rec.FinalResult())

    def reset(self) -> None:
        """Drop the utterance."""
        self._rec.Reset()


class PlainSphinx:
    """A plain pocketsphinx JSGF decode of whole clips (no endpointing, no garbage model)."""

    name = "sphinx-plain"

    def __init__(self, phrases: list[str]):
        from pocketsphinx import Config, Decoder

        config = Config(lm=None, loglevel="FATAL")
        self._decoder = Decoder(config)
        known = [p for p in phrases if all(self._decoder.lookup_word(w) for w in p.split())]
        self.dropped = [p for p in phrases if p not in known]
        jsgf = "#JSGF V1.0;\ngrammar commands;\npublic <command> = " + " | ".join(known) + " ;\n"
        self._decoder.add_jsgf_string("commands", jsgf)
        self._decoder.activate_search("commands")
        self._buf: list[bytes] = []

    def accept(self, pcm: bytes) -> Hypothesis | None:
        """Collect audio (the decode happens at ``flush``)."""
        self._buf.append(pcm)
        return None

    def flush(self) -> Hypothesis | None:
        """Decode everything fed as one utterance."""
        d = self._decoder
        d.start_utt()
        d.process_raw(b"".join(self._buf), no_search=False, full_utt=True)
        d.end_utt()
        self._buf = []
        hyp = d.hyp()
        text = " ".join(hyp.hypstr.split()) if hyp is not None else ""
        return Hypothesis(text, tuple(Word(w) for w in text.split())) if text else None

    def reset(self) -> None:
        """Drop the buffered audio."""
        self._buf = []


_CACHE: dict[str, Any] = {}


def _cached(key: str, make: Callable[[], Any]) -> Any:
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def catalogue() -> Any:
    """The intents catalogue (once per process)."""
    from intents.catalogue import load_catalogue

    return _cached("catalogue", load_catalogue)


def matcher() -> Any:
    """The project's matcher (once per process)."""
    from intents.matcher import Matcher

    return _cached("matcher", lambda: Matcher(catalogue()))


def vosk_model() -> Any:
    """The Vosk test model (once per process)."""
    from audio.models import load_model

    return _cached("vosk_model", lambda: load_model(model_path()))


def canonical_lookup() -> dict[str, tuple[str, dict]]:
    """Canonical phrase -> (intent, slots): what the baseline knows."""
    cat = catalogue()
    by_text = {p.text: p for p in cat.phrases}
    return {cat.examples(n)[0]: (n, dict(by_text[cat.examples(n)[0]].slots)) for n in cat.intent_names}


class System:
    """One benchmarked path: how to make a fresh recognizer and how to read its hypotheses."""

    def __init__(self, name: str):
        if name not in SYSTEMS:
            raise ValueError(f"unknown system {name!r}")
        self.name = name
        self.engine = ENGINE_OF[name]
        self.baseline = name.endswith("baseline")
        self.early = not self.baseline and not name.endswith("no-early")
        self.note = ""
        self._make = self._factory()

    def _factory(self) -> Callable[[], Any]:
        if self.baseline:
            phrases = list(canonical_lookup())
            if self.engine == "vosk":
                model = vosk_model()
                return lambda: PlainVosk(model, [*phrases, "[unk]"])
            return lambda: _cached("plain_sphinx", lambda: PlainSphinx(phrases))
        grammar = catalogue().grammar()
        is_complete = matcher().is_complete_command if self.early else None
        if self.engine == "vosk":
            model = vosk_model()
            try:
                from audio.vosk_engine import VoskRecognizer
            except ImportError:
                self.note = "audio/vosk_engine.py missing: plain KaldiRecognizer stand-in"
                return lambda: PlainVosk(model, grammar)
            return lambda: VoskRecognizer(model, grammar, is_complete=is_complete)
        try:
            from audio.sphinx_engine import SphinxRecognizer
        except ImportError as exc:
            raise Unavailable(f"audio/sphinx_engine.py not importable ({exc})") from None
        # pocketsphinx takes ~0.3 s to start: one recognizer per process, back to its start state by
        # flush() at the end of every clip
        key = f"sphinx:{self.name}"
        return lambda: _cached(key, lambda: SphinxRecognizer(grammar, is_complete=is_complete))

    def discard(self) -> None:
        """Forget a cached recognizer (after it raised), so the next clip gets a new one."""
        for key in [k for k in _CACHE if k.startswith(("sphinx:", "plain_sphinx"))]:
            _CACHE.pop(key)

    def recognizer(self) -> Any:
        """A recognizer in its start state (Vosk: a new one per clip; pocketsphinx: one per process)."""
        return self._make()

    def interpret(self, hyp: Hypothesis) -> tuple[str | None, dict]:
        """(intent, slots) for a hypothesis, or (None, {}) when it is not a command."""
        text = " ".join(hyp.text.split())
        if self.baseline:
            return canonical_lookup().get(text, (None, {}))
        if not [w for w in text.split() if w != "[unk]"]:
            return None, {}
        intent = matcher().match(text, hyp.confidences or None)
        return (intent.name, dict(intent.slots)) if intent is not None else (None, {})

    def decode(self, samples: np.ndarray, chunk_ms: int = CHUNK_MS, rec: Any = None) -> Decoded:
        """Stream ``samples`` through a fresh recognizer in ``chunk_ms`` chunks, then flush."""
        rec = rec if rec is not None else self.recognizer()
        data = np.asarray(samples, dtype="<i2")
        n = SAMPLE_RATE * chunk_ms // 1000
        out = Decoded(audio_s=len(data) / SAMPLE_RATE)
        clock = time.perf_counter
        for i in range(0, len(data), n):
            chunk = data[i:i + n].tobytes()
            t0 = clock()
            hyp = rec.accept(chunk)
            spent = clock() - t0
            if hyp is not None:
                t1 = clock()
                intent, slots = self.interpret(hyp)
                spent += clock() - t1
                pos_s = min(i + n, len(data)) / SAMPLE_RATE
                out.events.append(Event(hyp.text, intent, slots, hyp.early, pos_s, spent))
            out.compute_s += spent
        t0 = clock()
        hyp = rec.flush()
        if hyp is not None:
            intent, slots = self.interpret(hyp)
            out.events.append(Event(hyp.text, intent, slots, hyp.early, len(data) / SAMPLE_RATE,
                                    clock() - t0, flushed=True))
        out.compute_s += clock() - t0
        return out
