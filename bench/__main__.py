"""``python -m bench``: generate the suite, run every engine, write bench/RESULTS.md and bench/results.json.

Options: ``--quick`` (the tiny suite the tests use), ``--workers N`` (default 2), ``--out DIR`` (where the
two files go; default bench/), ``--seed N``, ``--systems a,b`` (subset of the systems), ``--no-tts``,
``--no-probe``, ``--full-fallback`` (pocketsphinx on every condition, slow), ``--from-json FILE``
(rewrite the report from an earlier results.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.metrics import chatter_metrics, chunk_sweep, command_metrics, stream_metrics
from bench.run_engines import CHUNK_MS, DEFAULT_SYSTEMS, SYSTEMS
from bench.suite import SuiteConfig, build_suite


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny suite (5 phrases, 1 voice, 1 noise condition)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    p.add_argument("--out", type=Path, default=report.BENCH_DIR, help="where RESULTS.md and results.json go")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="where the extra room/pi/soak JSON files are read from (default bench/results)")
    p.add_argument("--seed", type=int, default=SuiteConfig.seed)
    p.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                   help="comma-separated subset of: " + ", ".join(SYSTEMS))
    p.add_argument("--full-fallback", action="store_true",
                   help="run pocketsphinx on every condition (slow: it decodes noisy audio near real time)")
    p.add_argument("--no-tts", action="store_true", help="skip the reply time-to-first-audio measurement")
    p.add_argument("--no-probe", action="store_true", help="skip start-up / memory probes")
    p.add_argument("--from-json", type=Path, default=None,
                   help="rewrite the report from an earlier results.json (no decoding)")
    return p.parse_args(argv)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when the report was written (missed targets are reported, not an error)."""
    args = _args(argv)
    if args.from_json is not None:
        import json

        results = json.loads(args.from_json.read_text(encoding="utf-8"))
        md, js = report.write(results, args.out, args.results_dir)
        _say(f"bench: rewrote {md} and {js} from {args.from_json}")
        return 0
    t0 = time.perf_counter()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        _say(f"unknown system(s): {', '.join(unknown)} (known: {', '.join(SYSTEMS)})")
        return 2
    config = SuiteConfig.quick(args.seed) if args.quick else SuiteConfig(seed=args.seed)
    _say("bench: generating the suite (espeak-ng) ...")
    suite = build_suite(config)
    summary = suite.summary()
    n_chatter = summary["chatter_clips"] + summary["burst_clips"]
    _say(f"bench: {summary['command_clips']} command clips, {n_chatter} "
         f"chatter clips, {summary['stream_s'] / 60:.0f} min stream; decoding on {args.workers} workers ...")
    from bench import run_suite

    last = [0.0]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 10 or done == total:
            last[0] = time.perf_counter()
            _say(f"bench: {done}/{total} tasks ({time.perf_counter() - t0:.0f} s)")

    decode_t0 = time.perf_counter()
    outputs = run_suite.run(suite, systems, workers=args.workers, progress=progress,
                            full_fallback=args.full_fallback)
    decode_wall = time.perf_counter() - decode_t0
    results: dict[str, Any] = {
        "command": "python -m bench" + (" --quick" if args.quick else ""),
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick, "chunk_ms": CHUNK_MS, "full_fallback": args.full_fallback,
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}",
        "suite": summary,
        "systems": {name: {"commands": command_metrics(suite, outputs, name),
                           "chatter": chatter_metrics(suite, outputs, name),
                           "stream": stream_metrics(outputs, name)} for name in systems},
    }
    if "vosk" in systems:
        results["chunk_sweep"] = chunk_sweep(suite, outputs, "vosk")
    probes: dict[str, Any] = {}
    if not args.no_probe:
        from bench.run_probe import probe

        _say("bench: start-up and memory probes ...")
        for engine in dict.fromkeys(s.split("-")[0] for s in systems):
            probes[engine] = probe(engine, runs=1 if args.quick else 3)
    results["startup_memory"] = probes
    tts: dict[str, Any] = {}
    if not args.no_tts:
        from bench.run_tts import run as run_tts

        _say("bench: reply time to first audio ...")
        tts = run_tts(rounds=1 if args.quick else 3)
    results["tts"] = tts
    results["run_time_s"] = time.perf_counter() - t0
    cpu = os.times()
    results["timing"] = {
        "decode_wall_s": decode_wall,
        "worker_busy_s": {name: round(sum(o.get("wall_s", 0.0) for o in outputs if o["system"] == name), 1)
                          for name in systems},
        "cpu_s_self_and_children": round(cpu.user + cpu.system + cpu.children_user + cpu.children_system, 1),
        "load_average_1min_at_end": os.getloadavg()[0],
    }
    md, js = report.write(results, args.out, args.results_dir)
    _say(f"bench: wrote {md} and {js} in {results['run_time_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
