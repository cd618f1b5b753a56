"""``massage-coach recognize FILE.wav...``: decode files through the recognizer and matcher the session uses.

With ``--json`` each file gives one line with exactly the keys of ``JSON_KEYS``. A file that cannot be read
gives one error line on stderr; the other files are still decoded and the exit code is non-zero at the end.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from audio.protocols import SAMPLE_RATE, Hypothesis
from intents.errors import CoachError
from skill.app.engines import Language, build_recognizer, choose_engine, load_language
from skill.app.settings import Settings

JSON_KEYS: tuple[str, ...] = (
    "file", "text", "intent", "slots", "confidence", "engine", "audio_s", "decode_s",
)
CHUNK_MS = 40


@dataclass(frozen=True)
class FileResult:
    """What one file decoded to."""

    file: str
    text: str
    """Everything the engine heard, utterances joined by a space."""
    intent: str | None
    """The first utterance's catalogue intent that was understood, or None."""
    slots: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.0
    engine: str = ""
    audio_s: float = 0.0
    decode_s: float = 0.0

    def as_json(self) -> str:
        """One JSON line with exactly ``JSON_KEYS``."""
        data = {
            "file": self.file, "text": self.text, "intent": self.intent, "slots": dict(self.slots),
            "confidence": round(self.confidence, 3), "engine": self.engine,
            "audio_s": round(self.audio_s, 3), "decode_s": round(self.decode_s, 4),
        }
        return json.dumps(data, ensure_ascii=False)

    def as_line(self) -> str:
        """A readable line: file, what was heard, the intent and the timings."""
        slots = f" {json.dumps(dict(self.slots))}" if self.slots else ""
        meaning = f"{self.intent}{slots} ({self.confidence:.2f})" if self.intent else "not understood"
        return (f"{self.file}: {self.text or '(nothing)'!r} -> {meaning}  "
                f"[{self.engine}, {self.audio_s:.2f} s audio, decoded in {self.decode_s:.3f} s]")


def decode_samples(samples: Any, recognizer: Any, chunk_ms: int = CHUNK_MS) -> list[Hypothesis]:
    """Stream int16 samples through ``recognizer`` in chunks, then flush; every hypothesis in order."""
    import numpy as np

    data = np.asarray(samples, dtype="<i2")
    n = SAMPLE_RATE * chunk_ms // 1000
    out = []
    for start in range(0, len(data), n):
        hyp = recognizer.accept(data[start:start + n].tobytes())
        if hyp is not None:
            out.append(hyp)
    last = recognizer.flush()
    if last is not None:
        out.append(last)
    return out


PROGRESS_AFTER_S = 60.0
"""Files with more audio than this show progress on stderr (when it is a terminal, or with --verbose)."""


def decode_chunks(chunks: Iterable[bytes], recognizer: Any,
                  progress: Callable[[int], None] | None = None) -> tuple[list[Hypothesis], int]:
    """Stream s16le chunks through ``recognizer``, then flush: (every hypothesis in order, samples fed).
    ``progress(samples fed so far)`` is called after each chunk."""
    out, fed = [], 0
    for chunk in chunks:
        fed += len(chunk) // 2
        hyp = recognizer.accept(chunk)
        if hyp is not None:
            out.append(hyp)
        if progress is not None:
            progress(fed)
    last = recognizer.flush()
    if last is not None:
        out.append(last)
    return out, fed


def _progress_printer(path: Path, total: int, err: TextIO) -> Callable[[int], None]:
    """Print "file: 12 of 120 min (10%)" at each tenth decoded; on a terminal, over one line."""
    tty = err.isatty()
    step = max(1, total // 10)
    shown = [0]

    def show(fed: int) -> None:
        if shown[0] >= total or (fed - shown[0] < step and fed < total):
            return
        shown[0] = fed
        line = f"{path}: {fed / SAMPLE_RATE / 60:.1f} of {total / SAMPLE_RATE / 60:.1f} min decoded " \
               f"({min(100, 100 * fed // max(total, 1))}%)"
        print(f"\r{line}" if tty else line, end="" if tty and fed < total else "\n", file=err, flush=True)

    return show


def decode_file(path: Path, recognizer: Any, language: Language, engine: str, err: TextIO | None = None,
                verbose: bool = False) -> FileResult:
    """Decode one WAV file, streamed chunk by chunk (memory stays bounded whatever its length);
    AudioFormatError when it cannot be read. Long files show progress on ``err`` (a terminal, or verbose)."""
    from audio.wav import WavSource

    source = WavSource(path, chunk_ms=CHUNK_MS)  # the header is checked here
    total = round(source.duration_s * SAMPLE_RATE)
    show = None
    if err is not None and total > PROGRESS_AFTER_S * SAMPLE_RATE and (verbose or err.isatty()):
        show = _progress_printer(path, total, err)
    recognizer.reset()
    t0 = time.perf_counter()
    hyps, fed = decode_chunks(source.chunks(), recognizer, show)
    if show is not None:
        show(max(fed, total))  # the last line (a resampled length may differ from the estimate by a sample)
    intent = None
    for hyp in hyps:
        intent = language.matcher.match(hyp.text, hyp.confidences or None)
        if intent is not None:
            break
    decode_s = time.perf_counter() - t0
    text = " ".join(h.text for h in hyps if h.text)
    return FileResult(
        file=str(path), text=text, intent=intent.name if intent else None,
        slots=dict(intent.slots) if intent else {}, confidence=float(intent.confidence) if intent else 0.0,
        engine=engine, audio_s=fed / SAMPLE_RATE, decode_s=decode_s,
    )


def run_recognize(settings: Settings, files: Sequence[Path], as_json: bool = False,
                  out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Decode ``files``; print one result per file; exit code 0, or that of the first file that failed."""
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    language = load_language()
    choice = choose_engine(settings)
    recognizer = build_recognizer(choice, language, verbose=settings.verbose, err=stderr)
    code = 0
    for path in files:
        try:
            result = decode_file(path, recognizer, language, choice.engine, err=stderr,
                                 verbose=settings.verbose)
        except CoachError as exc:
            print(f"massage-coach: error: {' '.join(str(exc).split())}", file=stderr, flush=True)
            code = code or exc.exit_code
            continue
        print(result.as_json() if as_json else result.as_line(), file=stdout, flush=True)
    return code
