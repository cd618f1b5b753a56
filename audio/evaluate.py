"""Measure recognizers on synthesized speech: accuracy, false accepts on chatter, early-commit latency, RTF.

``python -m audio.evaluate [--model DIR] [--quick]`` prints the figures (the benchmarks can call the
functions). Speech is espeak-ng en-us (the toy Vosk model understands nothing else); the intent matcher
decides what counts as a command.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio.protocols import SAMPLE_RATE
from audio.synth import mix_noise, pad, synthesize

VOICES = (("en-us", 160), ("en-us+f2", 140), ("en-us+m3", 200), ("en-us+f4", 175))
CONDITIONS = ((None, 0.0), ("white", 15.0), ("pink", 10.0), ("music", 10.0))


def _speech_end(x: np.ndarray) -> float:
    a = np.abs(x.astype(np.float64))
    n = len(a) // 160
    frames = a[: n * 160].reshape(n, 160).max(axis=1)
    loud = np.nonzero(frames > 0.02 * frames.max())[0]
    return float((loud[-1] + 1) * 160 / SAMPLE_RATE) if loud.size else 0.0


def run(rec: Any, samples: np.ndarray, chunk_ms: int = 40) -> tuple[list[Any], float]:
    """Feed ``samples`` to ``rec``; the hypotheses and the processing seconds."""
    n = SAMPLE_RATE * chunk_ms // 1000
    data = np.asarray(samples, dtype="<i2")
    out = []
    t0 = time.perf_counter()
    for i in range(0, len(data), n):
        h = rec.accept(data[i:i + n].tobytes())
        if h is not None:
            out.append(h)
    h = rec.flush()
    elapsed = time.perf_counter() - t0
    return ([*out, h] if h is not None else out), elapsed


@dataclass
class Scores:
    """Accuracy on commands, false accepts on chatter and decoding speed for one engine."""

    engine: str
    commands: int = 0
    correct: int = 0
    chatter: int = 0
    false_accepts: int = 0
    audio_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def accuracy(self) -> float:
        """Share of commands whose intent (and slots) came out right."""
        return self.correct / self.commands if self.commands else 0.0

    @property
    def false_accept_rate(self) -> float:
        """Share of chatter sentences that produced a command."""
        return self.false_accepts / self.chatter if self.chatter else 0.0

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time / audio time."""
        return self.cpu_s / self.audio_s if self.audio_s else 0.0

    def line(self) -> str:
        """One printable summary line."""
        return (f"{self.engine}: commands {self.correct}/{self.commands} ({self.accuracy:.0%}), "
                f"false accepts on chatter {self.false_accepts}/{self.chatter} "
                f"({self.false_accept_rate:.0%}), "
                f"RTF {self.rtf:.3f}")


def score(make: Callable[[], Any], name: str, match: Callable[[str], Any], commands: Sequence[str],
          chatter: Sequence[str], voices=VOICES, conditions=CONDITIONS, seed: int = 0) -> Scores:
    """Score one engine: every command in every voice and condition, every chatter line in the first voice."""
    s = Scores(name)
    rng = np.random.default_rng(seed)
    rec = make()

    def clip(text: str, voice: str, speed: int, noise: str | None, snr: float) -> np.ndarray:
        x = pad(synthesize(text, voice=voice, speed=speed), 0.5, 1.2)
        return mix_noise(x, snr, noise, rng) if noise else x

    for voice, speed in voices:
        for noise, snr in conditions:
            for text in commands:
                x = clip(text, voice, speed, noise, snr)
                hyps, cpu = run(rec, x)
                s.audio_s += len(x) / SAMPLE_RATE
                s.cpu_s += cpu
                s.commands += 1
                got = [match(h.text) for h in hyps]
                s.correct += len(got) == 1 and got[0] is not None and got[0] == match(text)
    for text in chatter:
        x = clip(text, voices[0][0], voices[0][1], None, 0.0)
        hyps, cpu = run(rec, x)
        s.audio_s += len(x) / SAMPLE_RATE
        s.cpu_s += cpu
        s.chatter += 1
        s.false_accepts += any(match(h.text) is not None for h in hyps)
    return s


def early_commit_latency(model: Any, grammar: Sequence[str], is_complete: Callable[[str], bool],
                         texts: Sequence[str], voices=VOICES) -> list[tuple[str, str, float, float]]:
    """For each complete command: (text, voice, latency without early commit, with), seconds of stream time
    from the end of the speech to the hypothesis."""
    from audio.vosk_engine import VoskRecognizer

    late_rec = VoskRecognizer(model, grammar, None)
    early_rec = VoskRecognizer(model, grammar, is_complete)
    rows = []
    for voice, speed in voices:
        for text in texts:
            speech = synthesize(text, voice=voice, speed=speed)
            x = pad(speech, 0.5, 1.5)
            end = 0.5 + _speech_end(speech)
            late_start, early_start = late_rec.fed_s, early_rec.fed_s
            late, _ = run(late_rec, x)
            early, _ = run(early_rec, x)
            if len(late) == 1 and len(early) == 1 and late[0].text == early[0].text == text:
                late_s, early_s = late[0].end_s - late_start, early[0].end_s - early_start
                rows.append((text, voice, late_s - end, early_s - end))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print the figures for both engines."""
    from audio.models import find_model
    from audio.sphinx_engine import SphinxRecognizer
    from audio.vosk_engine import VoskRecognizer, load_model
    from intents.catalogue import load_catalogue
    from intents.matcher import Matcher

    ap = argparse.ArgumentParser(prog="python -m audio.evaluate")
    ap.add_argument("--model", type=Path, help="Vosk model folder (default: the toy test model)")
    ap.add_argument("--quick", action="store_true", help="one voice, clean and pink noise only")
    ap.add_argument("--sphinx-garbage", type=float, nargs="*", default=[1e-20],
                    help="garbage-loop weights to try for pocketsphinx")
    ap.add_argument("--no-sphinx", action="store_true")
    args = ap.parse_args(argv)
    here = Path(__file__).resolve().parent.parent
    model_dir = args.model or find_model() or here / "tests/models/vosk-toy-en-us-espeak"
    cat = load_catalogue()
    matcher = Matcher(cat)

    def match(text: str):
        m = matcher.match(text)
        return None if m is None else (m.name, tuple(sorted(m.slots.items())))

    grammar = cat.grammar()
    commands = [cat.examples(n)[0] for n in cat.intent_names if cat.examples(n)]
    commands += ["hold for twenty seconds", "use your elbows", "next stroke", "stop the massage"]
    commands = [c for c in dict.fromkeys(commands) if match(c) is not None]
    chatter_file = here / "tests/data/chatter_en.txt"
    chatter = [ln.strip() for ln in chatter_file.read_text().splitlines() if ln.strip() and ln[0] != "#"]
    voices = VOICES[:1] if args.quick else VOICES
    conditions = CONDITIONS[:1] + CONDITIONS[2:3] if args.quick else CONDITIONS
    model = load_model(model_dir)
    print(f"Vosk model: {model_dir}; {len(commands)} commands x {len(voices)} voices x {len(conditions)} "
          f"conditions; {len(chatter)} chatter lines")
    print(score(lambda: VoskRecognizer(model, grammar, matcher.is_complete_command), "vosk", match,
                commands, chatter, voices, conditions).line())
    complete = [c for c in commands if matcher.is_complete_command(c)]
    rows = early_commit_latency(model, grammar, matcher.is_complete_command, complete, voices)
    if rows:
        late = [r[2] for r in rows]
        early = [r[3] for r in rows]
        saved = [a - b for a, b in zip(late, early, strict=True)]
        print(f"early commit ({len(rows)} clean utterances): end of speech -> hypothesis "
              f"median {statistics.median(late):.2f} s without, {statistics.median(early):.2f} s with; "
              f"saves median {statistics.median(saved):.2f} s (min {min(saved):.2f}, max {max(saved):.2f})")
    if not args.no_sphinx:
        for gw in args.sphinx_garbage:
            print(score(lambda gw=gw: SphinxRecognizer(grammar, garbage_weight=gw if gw > 0 else None),
                        f"sphinx (garbage weight {gw:g})", match, commands, chatter, voices,
                        conditions).line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
