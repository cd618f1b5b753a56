"""The speech command suite, generated at run time from the intents catalogue and espeak-ng. Seeded.

- commands: every intent's canonical phrase plus a seeded sample of its other phrases, each spoken by a
  few espeak-ng en-us voice variants at 130-220 words a minute, in every condition: clean; white, pink
  and soft-music noise at each SNR; room reverb; and a quiet far-field version;
- chatter: the everyday sentences of ``tests/data/chatter_en.txt`` (clean or over music/noise) and the
  partner's sighs and laughs as noise bursts; none of them may yield a command;
- stream: a long continuous recording of chatter, bursts and pauses over soft music (built in parts, in
  the workers), for false accepts per hour through the live streaming path.

Clips are 16 kHz int16 with known speech start/end times (from the dry synthesis), so latency can be
measured in audio time. The same seed gives the same suite, sample for sample.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audio.protocols import SAMPLE_RATE
from audio.synth import pad, synthesize
from bench import noise as bn

ROOT = Path(__file__).resolve().parent.parent
CHATTER_FILE = ROOT / "tests" / "data" / "chatter_en.txt"

VOICES = ("en-us", "en-us+m1", "en-us+m2", "en-us+m3", "en-us+m4", "en-us+m5", "en-us+m7",
          "en-us+f1", "en-us+f2", "en-us+f3", "en-us+f4", "en-us+f5")
"""espeak-ng en-us variants (the toy Vosk model knows en-us only)."""
SPEEDS = (130, 150, 160, 175, 190, 205, 220)
"""Speaking rates, words a minute."""
NOISES = ("white", "pink", "music")
SNRS = (20, 12, 6)
PAD_BEFORE_S = 0.4
PAD_AFTER_S = 1.4
MUSIC_LOOP_S = 180
STREAM_PART_S = 600.0


@dataclass(frozen=True)
class SuiteConfig:
    """How big the suite is. ``quick()`` is the tiny one for tests."""

    seed: int = 20261125
    extra_per_intent: int = 1
    extra_random: int = 14
    voices_per_phrase: int = 1
    noises: tuple[str, ...] = NOISES
    snrs: tuple[int, ...] = SNRS
    reverb: bool = True
    far_field: bool = True
    chatter_limit: int | None = None
    bursts: int = 24
    stream_s: float = 1800.0
    max_phrases: int | None = None

    @classmethod
    def quick(cls, seed: int = 20261125) -> SuiteConfig:
        """5 phrases, 1 voice, clean + one noise condition, a few chatter lines, a 30 s stream."""
        return cls(seed=seed, extra_per_intent=0, extra_random=0, voices_per_phrase=1, noises=("music",),
                   snrs=(6,), reverb=False, far_field=False, chatter_limit=6, bursts=2, stream_s=30.0,
                   max_phrases=5)

    def conditions(self) -> list[str]:
        """Condition names in table order: clean, noise@snr..., reverb, far-field."""
        out = ["clean", *(f"{kind}@{snr}" for snr in self.snrs for kind in self.noises)]
        return out + (["reverb"] if self.reverb else []) + (["far-field"] if self.far_field else [])


@dataclass
class Clip:
    """One utterance of the suite (a command, a chatter sentence or a burst) in one condition."""

    id: str
    kind: str  # "command" | "chatter" | "burst"
    text: str
    condition: str
    samples: np.ndarray
    speech_start_s: float
    speech_end_s: float
    intent: str | None = None
    slots: dict = field(default_factory=dict)
    canonical: bool = False
    voice: str = ""
    speed: int = 0

    @property
    def duration_s(self) -> float:
        """Length of the clip in seconds."""
        return len(self.samples) / SAMPLE_RATE

    def snr(self) -> int | None:
        """The SNR of a ``kind@snr`` condition, else None."""
        return int(self.condition.split("@")[1]) if "@" in self.condition else None


@dataclass
class Suite:
    """Everything the benchmark feeds to the engines."""

    config: SuiteConfig
    commands: list[Clip]
    chatter: list[Clip]
    dries: list[np.ndarray]
    phrases: list[tuple[str, str, dict, bool]]

    def stream_parts(self) -> list[float]:
        """Durations of the stream's parts (each at most ``STREAM_PART_S``), seconds."""
        total, out = self.config.stream_s, []
        while total > 1e-9:
            out.append(min(STREAM_PART_S, total))
            total -= out[-1]
        return out

    def stream_part(self, k: int) -> tuple[np.ndarray, dict[str, float]]:
        """Samples and composition (seconds of chatter, bursts, pauses, music only) of part ``k``."""
        return build_stream(self.config, self.dries, k, self.stream_parts()[k])

    def summary(self) -> dict:
        """Counts and durations, for the report."""
        return {
            "seed": self.config.seed,
            "phrases": len(self.phrases),
            "canonical_phrases": sum(1 for p in self.phrases if p[3]),
            "command_clips": len(self.commands),
            "conditions": self.config.conditions(),
            "voices": sorted({c.voice for c in self.commands}),
            "speeds": sorted({c.speed for c in self.commands}),
            "chatter_clips": sum(1 for c in self.chatter if c.kind == "chatter"),
            "burst_clips": sum(1 for c in self.chatter if c.kind == "burst"),
            "command_audio_s": round(sum(c.duration_s for c in self.commands), 1),
            "chatter_audio_s": round(sum(c.duration_s for c in self.chatter), 1),
            "stream_s": round(self.config.stream_s, 1),
        }


def read_chatter(path: Path = CHATTER_FILE) -> list[str]:
    """The chatter sentences (blank lines and # comments skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s.strip() for s in lines if s.strip() and not s.strip().startswith("#")]


def select_phrases(config: SuiteConfig) -> list[tuple[str, str, dict, bool]]:
    """(text, intent, slots, canonical): every canonical phrase + a seeded sample of the others."""
    from intents.catalogue import load_catalogue

    cat = load_catalogue()
    rng = random.Random(config.seed)
    by_text = {p.text: p for p in cat.phrases}
    chosen: list[tuple[str, str, dict, bool]] = []
    for name in cat.intent_names:
        canon = by_text[cat.examples(name)[0]]
        chosen.append((canon.text, canon.intent, dict(canon.slots), True))
    taken = {c[0] for c in chosen}
    for name in cat.intent_names:
        others = [p for p in cat.phrases if p.intent == name and p.text not in taken]
        for p in rng.sample(others, min(config.extra_per_intent, len(others))):
            chosen.append((p.text, p.intent, dict(p.slots), False))
            taken.add(p.text)
    rest = [p for p in cat.phrases if p.text not in taken]
    for p in rng.sample(rest, min(config.extra_random, len(rest))):
        chosen.append((p.text, p.intent, dict(p.slots), False))
    if config.max_phrases is not None:
        chosen = chosen[: config.max_phrases]
    return chosen


def speech_bounds(samples: np.ndarray, floor_db: float = -35.0) -> tuple[float, float]:
    """(start, end) seconds of the sounding part: 10 ms frames within ``floor_db`` of the loudest frame."""
    x = np.asarray(samples, dtype=np.float64)
    n = SAMPLE_RATE // 100
    frames = len(x) // n
    if frames == 0:
        return 0.0, len(x) / SAMPLE_RATE
    rms = np.sqrt(np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1))
    on = np.flatnonzero(rms > rms.max() * 10 ** (floor_db / 20))
    return float(on[0] * n / SAMPLE_RATE), float((on[-1] + 1) * n / SAMPLE_RATE)


def _synth_all(jobs: Sequence[tuple[str, str, int]], workers: int = 2) -> list[np.ndarray]:
    with ThreadPoolExecutor(max_workers=workers) as pool:  # espeak-ng runs in subprocesses
        return list(pool.map(lambda j: synthesize(j[0], voice=j[1], speed=j[2]), jobs))


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def apply_condition(dry: np.ndarray, condition: str, rng: np.random.Generator) -> np.ndarray:
    """A padded dry clip rendered in ``condition`` (clean, kind@snr, reverb, far-field)."""
    if condition == "clean":
        return dry
    if condition == "reverb":
        return bn.reverb(dry, rng, rt60_s=float(rng.uniform(0.3, 0.7)))
    if condition == "far-field":
        return bn.far_field(dry, rng)
    kind, snr = condition.split("@")
    return bn.mix_at_snr(dry, float(snr), kind, rng)


def build_commands(config: SuiteConfig, phrases: list[tuple[str, str, dict, bool]]) -> list[Clip]:
    """Every selected phrase x its voices/speeds x every condition."""
    rng = random.Random(config.seed + 1)
    jobs = []
    for text, intent, slots, canonical in phrases:
        voices = rng.sample(VOICES, config.voices_per_phrase)
        for voice in voices:
            jobs.append((text, voice, rng.choice(SPEEDS), intent, slots, canonical))
    dries = _synth_all([(j[0], j[1], j[2]) for j in jobs])
    clips: list[Clip] = []
    conditions = config.conditions()
    for i, (job, dry) in enumerate(zip(jobs, dries, strict=True)):
        text, voice, speed, intent, slots, canonical = job
        start, end = speech_bounds(dry)
        padded = pad(dry, PAD_BEFORE_S, PAD_AFTER_S)
        for k, cond in enumerate(conditions):
            clips.append(Clip(
                id=f"c{i:03d}-{cond}", kind="command", text=text, condition=cond,
                samples=apply_condition(padded, cond, _rng(config.seed, 1, i, k)),
                speech_start_s=PAD_BEFORE_S + start, speech_end_s=PAD_BEFORE_S + end,
                intent=intent, slots=slots, canonical=canonical, voice=voice, speed=speed))
    return clips


def build_chatter(config: SuiteConfig, sentences: list[str]) -> tuple[list[Clip], list[np.ndarray]]:
    """Chatter clips (clean, music@12 or pink@20, seeded) and burst clips; also every dry sentence."""
    rng = random.Random(config.seed + 2)
    jobs = [(s, rng.choice(VOICES), rng.choice(SPEEDS)) for s in sentences]
    dries = _synth_all(jobs)
    clips: list[Clip] = []
    for i, ((text, voice, speed), dry) in enumerate(zip(jobs, dries, strict=True)):
        cond = rng.choice(["clean", "music@12", "pink@20"])
        start, end = speech_bounds(dry)
        clips.append(Clip(f"t{i:03d}-{cond}", "chatter", text, cond,
                          apply_condition(pad(dry, PAD_BEFORE_S, PAD_AFTER_S), cond, _rng(config.seed, 2, i)),
                          PAD_BEFORE_S + start, PAD_BEFORE_S + end, voice=voice, speed=speed))
    for i in range(config.bursts):
        g = _rng(config.seed, 3, i)
        name = "sigh" if i % 2 == 0 else "laugh"
        burst = bn.BURSTS[name](g)
        cond = "clean" if i % 4 < 2 else "music@12"
        padded = pad(burst, PAD_BEFORE_S, PAD_AFTER_S)
        if cond != "clean":
            padded = bn.mix_at_snr(padded, 12.0, "music", g)
        clips.append(Clip(f"b{i:03d}-{name}-{cond}", "burst", name, cond, padded,
                          PAD_BEFORE_S, PAD_BEFORE_S + len(burst) / SAMPLE_RATE))
    return clips, dries


def build_stream(config: SuiteConfig, dries: list[np.ndarray], part: int = 0,
                 seconds: float | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Part ``part`` of the continuous stream: chatter, bursts, pauses and music-only stretches over a
    soft music bed. Parts are seeded separately so workers can build them in parallel."""
    g = _rng(config.seed, 4, part)
    total = int((seconds if seconds is not None else config.stream_s) * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    parts = {"chatter": 0.0, "bursts": 0.0, "pauses": 0.0, "music_only": 0.0}
    used = 0
    while used < total:
        r = g.random()
        if r < 0.7 and dries:
            piece = dries[int(g.integers(len(dries)))]
            if g.random() < 0.3:
                piece = bn.reverb(piece, g, rt60_s=float(g.uniform(0.3, 0.6)))
            kind = "chatter"
        elif r < 0.92:
            piece = bn.BURSTS["sigh" if g.random() < 0.5 else "laugh"](g)
            kind = "bursts"
        else:
            piece = np.zeros(int(g.uniform(5.0, 15.0) * SAMPLE_RATE), dtype=np.int16)
            kind = "music_only"
        gap = np.zeros(int(g.uniform(0.3, 2.5) * SAMPLE_RATE), dtype=np.int16)
        take = min(len(piece), total - used)
        parts[kind] += take / SAMPLE_RATE
        parts["pauses"] += min(len(gap), total - used - take) / SAMPLE_RATE
        pieces += [piece, gap]
        used += len(piece) + len(gap)
    x = np.concatenate(pieces)[:total].astype(np.float64) if pieces else np.zeros(0)
    music_level = 32768.0 * 10 ** (-38 / 20)  # soft background music, about -38 dBFS
    loop = bn.soft_chords(min(total, MUSIC_LOOP_S * SAMPLE_RATE), g)  # a playlist on repeat
    x += np.resize(loop, total) * music_level
    return np.clip(np.round(x), -32768, 32767).astype(np.int16), parts


def build_suite(config: SuiteConfig | None = None) -> Suite:
    """Generate the whole suite for ``config`` (default: the full one)."""
    config = config or SuiteConfig()
    phrases = select_phrases(config)
    commands = build_commands(config, phrases)
    sentences = read_chatter()
    if config.chatter_limit is not None:
        keep = min(config.chatter_limit, len(sentences))
        sentences = random.Random(config.seed + 3).sample(sentences, keep)
    chatter, dries = build_chatter(config, sentences)
    return Suite(config, commands, chatter, dries, phrases)
