"""Shared helpers for the speech tests: the toy Vosk model, the command grammar, chatter and cached audio.

Everything synthesized is cached for the whole pytest session (module-level ``lru_cache``), and the Vosk
model is loaded once. The grammar comes from the intents catalogue when that package is there, else from
a small hand-written list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np

from audio.synth import mix_noise, pad, synthesize

HERE = Path(__file__).resolve().parent
TOY_MODEL_NAME = "vosk-toy-en-us-espeak"


def toy_model_path() -> Path:
    """The toy Vosk model: the copy under tests/models if present, else ../shared/models beside the repo."""
    local = HERE / "models" / TOY_MODEL_NAME
    return local if local.is_dir() else HERE.parent.parent / "shared" / "models" / TOY_MODEL_NAME


FALLBACK_GRAMMAR = [
    "next", "next stroke", "next step", "go back", "previous step", "repeat", "say that again",
    "hold", "hold for ten seconds", "hold for twenty seconds", "hold for thirty seconds",
    "use your palms", "use your fists", "use your elbows", "use your fingertips",
    "there is a knot", "pause", "resume", "continue", "stop", "stop the massage",
    "slower", "faster", "louder", "quieter", "lighter", "firmer", "it hurts",
    "warning signs", "help", "where are we", "yes", "no", "start", "start the massage", "[unk]",
]  # fmt: skip
"""Used until intents.catalogue exists."""

FALLBACK_CHATTER = [
    "my shoulders are really sore today",
    "did you remember to buy milk",
    "the weather is lovely this afternoon",
    "i think the dog wants to go outside",
    "can you turn the music down a little",
    "that was a long day at work",
    "we should call your mother tomorrow",
    "the oil smells like lavender",
    "what time is dinner tonight",
    "my phone is almost out of battery",
    "i read a good book last week",
    "the kids are finally asleep",
]
"""Used until tests/data/chatter_en.txt exists."""


@functools.lru_cache(maxsize=1)
def _catalogue():
    try:
        from intents.catalogue import load_catalogue

        return load_catalogue()
    except Exception:  # intents not there yet (or mid-edit): the hand-written grammar
        return None


def grammar() -> list[str]:
    """The recognizer grammar: the real catalogue's when available, else ``FALLBACK_GRAMMAR``."""
    cat = _catalogue()
    return list(cat.grammar()) if cat is not None else list(FALLBACK_GRAMMAR)


def _fallback_complete(text: str) -> bool:
    phrases = [p for p in FALLBACK_GRAMMAR if p != "[unk]"]
    return text in phrases and not any(p != text and p.startswith(text + " ") for p in phrases)


@functools.lru_cache(maxsize=1)
def is_complete() -> Callable[[str], bool]:
    """The early-commit predicate: Matcher.is_complete_command when intents is there, else a phrase check."""
    cat = _catalogue()
    if cat is None:
        return _fallback_complete
    try:
        from intents.matcher import Matcher

        return Matcher(cat).is_complete_command
    except Exception:
        return _fallback_complete


def intent_of(text: str):
    """(intent, slots) the matcher gives ``text`` (without intents: the phrase); None if no command."""
    cat = _catalogue()
    if cat is None:
        return text if text in FALLBACK_GRAMMAR and "[unk]" not in text else None
    from intents.matcher import Matcher

    m = Matcher(cat).match(text)
    return None if m is None else (m.name, tuple(sorted(m.slots.items())))


def command_phrases(limit: int | None = None) -> list[str]:
    """Canonical command phrases to speak in tests (one per intent from the catalogue, or the fallback)."""
    cat = _catalogue()
    if cat is not None:
        phrases = [cat.examples(name)[0] for name in cat.intent_names if cat.examples(name)]
    else:
        phrases = [p for p in FALLBACK_GRAMMAR if p != "[unk]"]
    return phrases[:limit] if limit else phrases


def chatter() -> list[str]:
    """Everyday sentences that are not commands (tests/data/chatter_en.txt when it exists)."""
    path = HERE / "data" / "chatter_en.txt"
    if path.is_file():
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        found = [ln for ln in lines if ln and not ln.startswith("#")]
        if found:
            return found
    return list(FALLBACK_CHATTER)


@functools.lru_cache(maxsize=512)
def speech(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> np.ndarray:
    """espeak-ng speech, cached for the session (read-only array)."""
    out = synthesize(text, voice=voice, speed=speed, pitch=pitch)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=512)
def utterance(text: str, voice: str = "en-us", speed: int = 160, before_s: float = 0.5,
              after_s: float = 1.2, noise: str | None = None, snr_db: float = 20.0,
              seed: int = 0) -> np.ndarray:
    """Speech with silence around it and optional noise over the whole clip, cached."""
    x = pad(speech(text, voice, speed), before_s, after_s)
    if noise is not None:
        x = mix_noise(x, snr_db, noise, np.random.default_rng(seed))
    x.setflags(write=False)
    return x


@functools.lru_cache(maxsize=1)
def vosk_model():
    """The toy Vosk model, loaded once per session."""
    from audio.models import load_model
    return load_model(toy_model_path())


def speech_end_s(samples: np.ndarray, threshold: float = 0.02) -> float:
    """Where the speech in a clean clip ends: the last 10 ms frame above ``threshold`` of the peak."""
    x = np.abs(np.asarray(samples, dtype=np.float64))
    frame = 160
    n = len(x) // frame
    energy = x[: n * frame].reshape(n, frame).max(axis=1)
    loud = np.nonzero(energy > threshold * energy.max())[0]
    return float((loud[-1] + 1) * frame / 16000) if loud.size else 0.0
