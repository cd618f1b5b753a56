"""Soak: a long session must not grow in memory or queues, nor lose journal lines.

Two parts, both on a ``FakeClock`` (hours of session time in seconds of wall time):

- ``session``: thousands of typed-style turns (catalogue commands and everyday chatter, seeded) through the
  real matcher, session, ``Coach`` and ``Journal`` (fsync per line), hours of clock time, timers ticking;
- ``audio``: minutes of synthetic speech (espeak-ng commands and chatter between pauses with a little
  noise) streamed in 40 ms chunks through the real ``LiveLoop`` and Vosk recognizer (the toy model), the
  clock driven by the audio as in the demo.

For each part: RSS (psutil) and Python object counts after a warm-up and at the end, the largest journal
backlog and session snapshot, and a check that every journal line is on disk in order with none damaged.
``python -m bench.soak`` runs the long version and writes ``bench/results/soak.json``; ``tests/test_soak.py``
runs a short one.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import json
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CHATTER_FILE = ROOT / "tests" / "data" / "chatter_en.txt"
RESULTS_FILE = ROOT / "bench" / "results" / "soak.json"
ENDING = ("stop",)
"""Intents left out of the random turns so the session stays one long session."""


def rss_mb() -> float:
    """Resident memory of this process in MB, after a garbage collection."""
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 1e6


def chatter_lines() -> list[str]:
    """The everyday sentences that must not be taken for commands."""
    text = CHATTER_FILE.read_text(encoding="utf-8")
    return [x.strip() for x in text.splitlines() if x.strip() and not x.lstrip().startswith("#")]


class CountingSpeaker:
    """A speaker that only counts what it is asked to say (never speaking, so nothing to wait for)."""

    def __init__(self) -> None:
        self.said = 0
        self.chars = 0

    def say(self, text: str) -> None:
        self.said += 1
        self.chars += len(text)

    def speaking(self) -> bool:
        return False

    def stop(self) -> None:
        pass

    def set_voice(self, rate: int, volume: float) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        pass


@dataclass
class Probe:
    """Memory samples: the first after the warm-up, then one at every ``sample()``."""

    rss: list[float] = field(default_factory=list)
    objects: list[int] = field(default_factory=list)

    def sample(self) -> None:
        self.rss.append(round(rss_mb(), 2))
        self.objects.append(len(gc.get_objects()))

    def figures(self) -> dict[str, Any]:
        return {
            "rss_after_warmup_mb": self.rss[0], "rss_end_mb": self.rss[-1],
            "rss_growth_mb": round(self.rss[-1] - self.rss[0], 2), "rss_max_mb": max(self.rss),
            "objects_after_warmup": self.objects[0], "objects_end": self.objects[-1],
            "objects_growth": self.objects[-1] - self.objects[0], "samples": len(self.rss),
        }


def check_journal(path: Path, expected_lines: int) -> dict[str, Any]:
    """Read a closed journal back: line count, gaps in ``seq``, damaged lines."""
    from skill.app.history import read_journal

    lines = read_journal(path)
    seqs = [x.get("seq") for x in lines.lines]
    return {"lines": len(lines.lines), "expected": expected_lines, "damaged": lines.damaged,
            "in_order": seqs == list(range(len(seqs))),
            "lost": expected_lines - len(lines.lines),
            "closed": bool(lines.lines) and lines.lines[-1]["kind"] == "journal_closed"}


def _new_session(folder: Path, clock: Any, fsync: bool) -> tuple[Any, Any, Any, Any]:
    from skill.app.engines import build_session, load_language
    from skill.app.journal import Journal
    from skill.app.live import Coach
    from skill.app.settings import Settings

    language = load_language()
    journal = Journal.open(folder, clock=clock, fsync=fsync, on_warning=lambda m: None)
    session = build_session(Settings(journal=folder), language, clock)
    session.add_listener(journal.listener)
    coach = Coach(session, CountingSpeaker(), journal, on_say=lambda text, urgent: None)
    return language, journal, session, coach


def _start(coach: Any) -> None:
    from intents.types import Intent

    coach.begin()
    for name in ("start", "no", "no", "start"):
        coach.handle(Intent(name, {}, 1.0, name))


# ------------------------------------------------------------------------------------- session part
def session_soak(folder: Path, turns: int = 20_000, mean_gap_s: float = 2.5, chatter_share: float = 0.3,
                 warmup_share: float = 0.15, samples: int = 10, seed: int = 7,
                 fsync: bool = True) -> dict[str, Any]:
    """Many turns on one session; returns the figures (see the module docstring)."""
    from intents.types import Intent
    from skill.clock import FakeClock

    rng = random.Random(seed)
    clock = FakeClock(1000.0)
    language, journal, session, coach = _new_session(folder, clock, fsync)
    _start(coach)
    phrases = [(p.text, p.intent) for p in language.catalogue.phrases if p.intent not in ENDING]
    chatter = chatter_lines()
    probe = Probe()
    warmup = int(turns * warmup_share)
    every = max(1, (turns - warmup) // samples)
    handled = unknown = misheard_chatter = max_pending = max_snapshot = 0
    snapshot_after_warmup = 0
    t0 = time.perf_counter()
    for turn in range(turns):
        clock.advance(rng.expovariate(1.0 / mean_gap_s))
        coach.tick()
        if rng.random() < chatter_share:
            text = rng.choice(chatter).lower()
            intent = language.matcher.match(" ".join(text.replace(",", " ").replace(".", " ").split()))
            misheard_chatter += intent is not None
        else:
            text, name = rng.choice(phrases)
            if name == "yes" and getattr(session, "state", "") == "confirm_end":
                text = "no"  # the partner wants to go on after a pain report: one long session
            intent = language.matcher.match(text)
        if intent is None:
            intent = Intent.unknown(text)
            unknown += 1
        coach.handle(intent)
        handled += 1
        if coach.finished:  # should not happen without "stop"; counted if it does
            break
        max_pending = max(max_pending, journal.pending)
        if turn % 100 == 0:
            max_snapshot = max(max_snapshot, len(json.dumps(session.snapshot())))
        if turn == warmup:
            snapshot_after_warmup = len(json.dumps(session.snapshot()))
            probe.sample()
        elif turn > warmup and (turn - warmup) % every == 0:
            probe.sample()
    wall = time.perf_counter() - t0
    snapshot_end = len(json.dumps(session.snapshot()))
    probe.sample()
    sid_path, seq = journal.path, journal._seq + 1  # + the closing line
    journal.close("soak over")
    return {
        "turns": handled, "clock_hours": round((clock.now() - 1000.0) / 3600, 2), "wall_s": round(wall, 1),
        "turns_per_s": round(handled / wall, 1), "not_understood": unknown,
        "chatter_taken_for_commands": misheard_chatter, "finished_early": coach.finished,
        "said": coach.speaker.said, "state_at_end": getattr(session, "state", None),
        "snapshot_bytes_after_warmup": snapshot_after_warmup, "snapshot_bytes_end": snapshot_end,
        "snapshot_bytes_max": max_snapshot, "journal_backlog_max": max_pending,
        "journal": check_journal(sid_path, seq), **probe.figures(),
    }


# --------------------------------------------------------------------------------------- audio part
@dataclass
class Stream:
    """Minutes of speech between pauses, yielded in 40 ms chunks; each chunk moves ``clock`` on."""

    clock: Any
    seconds: float
    clips: list[tuple[str, str | None, np.ndarray]]
    """(text, expected intent or None for chatter, samples)."""
    rng: random.Random
    on_chunk: Any = None
    state: Any = None
    """Returns the session's state; in ``confirm_end`` the partner answers "no" (one long session)."""
    chunk_ms: int = 40
    said: list[tuple[float, str, str | None]] = field(default_factory=list)
    fed_s: float = 0.0

    def chunks(self) -> Iterator[bytes]:
        n = 16000 * self.chunk_ms // 1000
        noise_rng = np.random.default_rng(self.rng.randrange(2**32))
        while self.fed_s < self.seconds:
            gap = int(16000 * self.rng.uniform(1.2, 3.5))
            text, intent, speech = self.rng.choice(self.clips)
            if intent == "yes" and self.state is not None and self.state() == "confirm_end":
                text, intent, speech = next(c for c in self.clips if c[1] == "no")
            piece = np.concatenate([np.zeros(gap, np.float32), speech.astype(np.float32)])
            piece += noise_rng.normal(0.0, 30.0, piece.size).astype(np.float32)  # a quiet room, -60 dBFS
            pcm = np.clip(piece, -32768, 32767).astype("<i2")
            self.said.append((self.fed_s + gap / 16000, text, intent))
            for i in range(0, len(pcm) - n + 1, n):
                self.clock.advance(self.chunk_ms / 1000)
                self.fed_s += self.chunk_ms / 1000
                if self.on_chunk is not None:
                    self.on_chunk()
                yield pcm[i:i + n].tobytes()


def _clips(language: Any, rng: random.Random,
           chatter_share: float) -> list[tuple[str, str | None, np.ndarray]]:
    from audio.synth import synthesize

    commands = [(language.catalogue.examples(name)[0], name) for name in language.catalogue.intent_names
                if name not in ENDING and name != "warning_signs"]  # the long answer is not needed
    chatter = rng.sample(chatter_lines(), 8)
    clips = [(text, name, synthesize(text)) for text, name in commands]
    n_chatter = max(1, int(len(clips) * chatter_share / (1 - chatter_share)))
    clips += [(text, None, synthesize(text)) for text in chatter[:n_chatter]]
    return clips


def audio_soak(folder: Path, model: Path, audio_s: float = 600.0, warmup_share: float = 0.2, samples: int = 8,
               chatter_share: float = 0.25, seed: int = 11, fsync: bool = True) -> dict[str, Any]:
    """Stream ``audio_s`` seconds through the live loop and Vosk; returns the figures."""
    from skill.app.engines import build_recognizer, choose_engine
    from skill.app.live import LiveLoop
    from skill.app.settings import Settings
    from skill.clock import FakeClock

    rng = random.Random(seed)
    clock = FakeClock(0.0)
    language, journal, _, coach = _new_session(folder, clock, fsync)
    recognizer = build_recognizer(choose_engine(Settings(engine="vosk", model=model, journal=folder)),
                                  language)
    probe = Probe()
    stream = Stream(clock, audio_s, _clips(language, rng, chatter_share), rng)
    warm_s = audio_s * warmup_share
    marks = iter([warm_s + (audio_s - warm_s) * i / samples for i in range(samples + 1)])
    next_mark = [next(marks)]
    heard_after_warmup = [0]
    loop: LiveLoop | None = None

    def on_chunk() -> None:
        if stream.fed_s >= next_mark[0]:
            if not probe.rss and loop is not None:
                heard_after_warmup[0] = len(loop.heard)
            probe.sample()
            next_mark[0] = next(marks, float("inf"))

    stream.on_chunk = on_chunk
    stream.state = lambda: getattr(coach.session, "state", None)
    _start(coach)
    t0 = time.perf_counter()
    restarts = 0
    chunks = stream.chunks()
    heard: list[Any] = []
    while stream.fed_s < audio_s - 0.5:
        loop = LiveLoop(coach, _Chunks(chunks), recognizer, language.matcher, clock, journal=journal,
                        threaded=False)
        loop.run()
        heard += loop.heard
        if not coach.finished:
            break  # the stream ended
        if stream.fed_s < audio_s:  # ended anyway (should not happen): carry on with a new session
            journal.close(coach.summary)
            restarts += 1
            language, journal, _, coach = _new_session(folder, clock, fsync)
            _start(coach)
    wall = time.perf_counter() - t0
    probe.sample()
    expected = [intent for _, _, intent in stream.said if intent is not None]
    correct, wrong, chatter_accepts, confusions = _score(stream.said, heard)
    journal_path, seq = journal.path, journal._seq + 1
    journal.close(coach.summary or "soak over")
    return {
        "audio_s": round(stream.fed_s, 1), "clock_minutes": round(clock.now() / 60, 1),
        "wall_s": round(wall, 1),
        "real_time_factor": round(wall / max(stream.fed_s, 1e-9), 4), "utterances": len(stream.said),
        "commands_spoken": len(expected), "commands_understood": correct, "wrong_intent": wrong,
        "chatter_taken_for_commands": chatter_accepts, "chatter_confusions": confusions,
        "understood_share": round(correct / max(1, len(expected)), 3),
        "heard_list_after_warmup": heard_after_warmup[0], "heard_list_end": len(heard),
        "session_restarts": restarts, "journal": check_journal(journal_path, seq), **probe.figures(),
    }


def _score(said: list[tuple[float, str, str | None]],
           heard: list[Any]) -> tuple[int, int, int, dict[str, int]]:
    """(commands understood as spoken, commands taken for another intent, chatter taken for a command,
    and those by ``"sentence -> heard (intent)"``): each utterance heard is matched to the last one spoken
    before it ended."""
    starts = [at for at, _, _ in said]
    correct = wrong = chatter = 0
    confusions: dict[str, int] = {}
    done: set[int] = set()
    for h in heard:
        if h.intent is None:
            continue
        i = bisect.bisect_right(starts, h.end_s) - 1
        if i < 0 or i in done:
            continue
        done.add(i)
        expected = said[i][2]
        if expected is None:
            chatter += 1
            key = f"{said[i][1]!r} -> {h.text!r} ({h.intent.name})"
            confusions[key] = confusions.get(key, 0) + 1
        elif h.intent.name == expected:
            correct += 1
        else:
            wrong += 1
    return correct, wrong, chatter, confusions


class _Chunks:
    """Hands the same chunk iterator to each new ``LiveLoop`` (after a session restart); a loop that stops
    early closes only its own wrapper, not the shared stream."""

    def __init__(self, it: Iterator[bytes]) -> None:
        self._it = it

    def chunks(self) -> Iterator[bytes]:
        while True:  # not ``yield from``: that would close the shared stream with this wrapper
            try:
                chunk = next(self._it)
            except StopIteration:
                return
            yield chunk


# --------------------------------------------------------------------------------------------- main
def find_toy_model() -> Path:
    """The toy Vosk test model (the project's copy, else the shared one)."""
    for p in (ROOT / "tests" / "models" / "vosk-toy-en-us-espeak",
              Path("/work/shared/models/vosk-toy-en-us-espeak")):
        if p.is_dir():
            return p
    raise SystemExit("no toy Vosk model found (tests/models/vosk-toy-en-us-espeak)")


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.soak``: the long soak; writes bench/results/soak.json."""
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=40_000, help="typed-style turns in the session part")
    ap.add_argument("--audio-minutes", type=float, default=30.0, help="minutes of audio in the audio part")
    ap.add_argument("--out", type=Path, default=RESULTS_FILE)
    args = ap.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        s = session_soak(Path(tmp) / "session", turns=args.turns)
        print(json.dumps({"session": s}, indent=1), flush=True)
        a = audio_soak(Path(tmp) / "audio", find_toy_model(), audio_s=args.audio_minutes * 60)
        print(json.dumps({"audio": a}, indent=1), flush=True)
    result = {
        "command": " ".join(["python -m bench.soak", *(argv or [])]),
        "generated": time.strftime("%Y-%m-%d %H:%M"),
        "run_time_s": round(time.perf_counter() - started, 1), "session": s, "audio": a,
        "notes": [
            f"Session part: {s['turns']} turns (commands and 30 % everyday chatter, seeded) on one "
            f"session over {s['clock_hours']} h of FakeClock time, journal fsynced per line: RSS "
            f"{s['rss_after_warmup_mb']} MB after warm-up -> {s['rss_end_mb']} MB at the end "
            f"({s['rss_growth_mb']:+} MB), Python objects {s['objects_growth']:+}, journal backlog max "
            f"{s['journal_backlog_max']}, {s['journal']['lost']} journal lines lost, "
            f"{s['journal']['damaged']} damaged.",
            f"Audio part: {a['audio_s'] / 60:.1f} min of espeak-ng speech and chatter streamed through the "
            f"live loop and the toy Vosk model (real-time factor {a['real_time_factor']}): RSS "
            f"{a['rss_after_warmup_mb']} MB -> {a['rss_end_mb']} MB ({a['rss_growth_mb']:+} MB), "
            f"{a['commands_understood']} of {a['commands_spoken']} spoken commands understood as spoken, "
            f"{a['chatter_taken_for_commands']} chatter utterances taken for commands "
            f"({'; '.join(f'{k}: {v}' for k, v in a['chatter_confusions'].items()) or 'none'}), "
            f"{a['journal']['lost']} journal lines lost.",
            "LiveLoop.heard keeps every utterance for the whole session (heard_list_end); it is the one "
            "list that grows with session length (a few hundred bytes and 2-3 Python objects per "
            "utterance), which is most of the audio part's objects_growth.",
            "RSS is measured after gc.collect(); growth within a few MB is allocator noise.",
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
