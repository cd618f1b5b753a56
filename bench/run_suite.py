"""Feed the suite to every system, in parallel worker processes, and keep per-clip raw results.

Tasks are (system, what, items): a batch of command clips, a batch of chatter clips, or one part of the
continuous stream. Workers are forked after the suite is built, so they share its audio; each worker
loads the Vosk model once. A system that cannot be built (its module has not landed, say) yields an
``error`` entry instead of results; the report shows it.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from bench.run_engines import CHUNK_MS, Decoded, System, Unavailable
from bench.suite import Suite

_SUITE: Suite | None = None
_SYSTEMS: dict[str, System | str] = {}

CLIP_BATCH = 24
CHUNK_SWEEP = (20, 100)
"""Other microphone chunk sizes (ms) the Vosk path's latency is measured at, besides ``CHUNK_MS``."""
SWEEP_CONDITIONS = ("clean", "white@12", "pink@12", "music@12")
FALLBACK_CONDITIONS = ("clean", "white@20", "pink@20", "music@20", "reverb", "far-field")
"""Conditions (command and chatter clips) the pocketsphinx systems get by default: its decoder runs at a
real-time factor of 0.3-1.3 in 12 and 6 dB noise (2-3 s for a 3 s clip on this machine), which alone
would take longer than the rest of the benchmark; its targets are clean accuracy and chatter false
accepts. ``--full-fallback`` runs every condition."""
STREAM_SYSTEMS: dict[str, int | None] = {"vosk": None, "vosk-no-early": None, "vosk-baseline": None}
"""Systems fed the continuous stream -> how many of its parts (None: all). Not the pocketsphinx ones: the
baseline decodes whole clips only, and the fallback's per-hour rate is not a target (it is slow in noise)."""


def _system(name: str) -> System | str:
    if name not in _SYSTEMS:
        try:
            _SYSTEMS[name] = System(name)
        except (Unavailable, ImportError, OSError, RuntimeError) as exc:
            _SYSTEMS[name] = f"{type(exc).__name__}: {exc}"
    return _SYSTEMS[name]


def _pack(decoded: Decoded) -> dict[str, Any]:
    return {"events": [asdict(e) for e in decoded.events], "compute_s": decoded.compute_s,
            "audio_s": decoded.audio_s}


def _work(task: tuple[str, str, tuple[int, ...]]) -> dict[str, Any]:
    """Run one task in a worker; returns {"task", "results" or "error", "wall_s"}."""
    name, what, items = task
    assert _SUITE is not None
    start = time.perf_counter()
    system = _system(name)
    out: dict[str, Any] = {"system": name, "what": what, "items": list(items)}
    if isinstance(system, str):
        out["error"] = system
        return out
    out["note"] = system.note
    results: list[dict[str, Any]] = []
    crashes: list[str] = []
    if what == "stream":
        for k in items:
            samples, parts = _SUITE.stream_part(k)
            try:
                packed = _pack(system.decode(samples))
            except Exception as exc:  # a crash inside an engine is a finding, not a reason to stop
                crashes.append(f"stream part {k}: {type(exc).__name__}: {exc}")
                system.discard()
                continue
            packed["parts"] = parts
            results.append(packed)
    else:
        clips = _SUITE.commands if what.startswith("commands") else _SUITE.chatter
        chunk_ms = int(what.split("@")[1]) if "@" in what else CHUNK_MS
        for i in items:
            try:
                decoded = system.decode(clips[i].samples, chunk_ms=chunk_ms)
                results.append({"id": clips[i].id, **_pack(decoded)})
            except Exception as exc:
                crash = f"{type(exc).__name__}: {exc}"
                crashes.append(f"{clips[i].id}: {crash}")
                results.append({"id": clips[i].id, "events": [], "compute_s": 0.0, "audio_s": 0.0,
                                "crash": crash})
                system.discard()
    if crashes:
        out["crashes"] = crashes
    out["results"] = results
    out["wall_s"] = time.perf_counter() - start
    return out


def plan(suite: Suite, systems: Sequence[str], stream_systems: Mapping[str, int | None] = STREAM_SYSTEMS,
         batch: int = CLIP_BATCH, full_fallback: bool = False) -> list[tuple[str, str, tuple[int, ...]]]:
    """The task list, longest first (stream parts, then clip batches)."""
    tasks: list[tuple[str, str, tuple[int, ...]]] = []
    parts = len(suite.stream_parts())
    for name in systems:
        if name in stream_systems:
            limit = stream_systems[name]
            tasks += [(name, "stream", (k,)) for k in range(min(parts, limit or parts))]
    for name in systems:
        if name != "vosk":
            continue
        idx = [i for i, c in enumerate(suite.commands) if c.condition in SWEEP_CONDITIONS]
        for chunk in CHUNK_SWEEP:
            tasks += [(name, f"commands@{chunk}", tuple(idx[i:i + batch])) for i in range(0, len(idx), batch)]
    for name in systems:
        for what, clips in (("commands", suite.commands), ("chatter", suite.chatter)):
            idx = list(range(len(clips)))
            if name.startswith("sphinx") and not full_fallback:
                idx = [i for i in idx if clips[i].condition in FALLBACK_CONDITIONS]
            tasks += [(name, what, tuple(idx[i:i + batch])) for i in range(0, len(idx), batch)]
    return tasks


def run(suite: Suite, systems: Sequence[str], workers: int = 2,
        stream_systems: Mapping[str, int | None] = STREAM_SYSTEMS, progress: Any = None,
        full_fallback: bool = False) -> list[dict[str, Any]]:
    """Run every task on ``workers`` forked processes (1: in this process); the raw task outputs."""
    global _SUITE
    _SUITE = suite
    tasks = plan(suite, systems, stream_systems, full_fallback=full_fallback)
    outputs: list[dict[str, Any]] = []
    if workers <= 1:
        for t in tasks:
            outputs.append(_work(t))
            if progress:
                progress(len(outputs), len(tasks))
        return outputs
    with mp.get_context("fork").Pool(workers) as pool:
        for out in pool.imap_unordered(_work, tasks):
            outputs.append(out)
            if progress:
                progress(len(outputs), len(tasks))
    return outputs
