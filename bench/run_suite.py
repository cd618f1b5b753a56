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

from bench.run_engines import Decoded, System, Unavailable
from bench.suite import Suite

_SUITE: Suite | None = None
_SYSTEMS: dict[str, System | str] = {}

CLIP_BATCH = 24
STREAM_SYSTEMS: dict[str, int | None] = {"vosk": None, "vosk-no-early": None, "vosk-baseline": None,
                                         "sphinx": 1}
"""Systems fed the continuous stream -> how many of its parts (None: all). The sphinx baseline decodes
whole clips only; the fallback gets one part (its per-hour rate is not a target, and it is slower)."""


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
    try:
        if what == "stream":
            for k in items:
                samples, parts = _SUITE.stream_part(k)
                packed = _pack(system.decode(samples))
                packed["parts"] = parts
                results.append(packed)
        else:
            clips = _SUITE.commands if what == "commands" else _SUITE.chatter
            for i in items:
                results.append({"id": clips[i].id, **_pack(system.decode(clips[i].samples))})
    except Exception as exc:  # a crash inside an engine is a finding, not a reason to lose the run
        out["error"] = f"{type(exc).__name__}: {exc}"
    out["results"] = results
    out["wall_s"] = time.perf_counter() - start
    return out


def plan(suite: Suite, systems: Sequence[str], stream_systems: Mapping[str, int | None] = STREAM_SYSTEMS,
         batch: int = CLIP_BATCH) -> list[tuple[str, str, tuple[int, ...]]]:
    """The task list, longest first (stream parts, then clip batches)."""
    tasks: list[tuple[str, str, tuple[int, ...]]] = []
    parts = len(suite.stream_parts())
    for name in systems:
        if name in stream_systems:
            limit = stream_systems[name]
            tasks += [(name, "stream", (k,)) for k in range(min(parts, limit or parts))]
    for name in systems:
        for what, clips in (("commands", suite.commands), ("chatter", suite.chatter)):
            idx = list(range(len(clips)))
            tasks += [(name, what, tuple(idx[i:i + batch])) for i in range(0, len(idx), batch)]
    return tasks


def run(suite: Suite, systems: Sequence[str], workers: int = 2,
        stream_systems: Mapping[str, int | None] = STREAM_SYSTEMS,
        progress: Any = None) -> list[dict[str, Any]]:
    """Run every task on ``workers`` forked processes (1: in this process); the raw task outputs."""
    global _SUITE
    _SUITE = suite
    tasks = plan(suite, systems, stream_systems)
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
