"""Start-up time to ready and peak memory of one engine, measured in a fresh process.

``python -m bench.run_probe ENGINE`` (vosk | sphinx) imports the project's modules, loads the model, builds
the grammar-constrained recognizer and the matcher, prints a ``ready`` line (the parent times the
process from its start to that line), then streams ~30 s of synthetic commands through the recognizer
and prints one JSON line with its peak resident memory (``VmHWM``). ``probe(engine)`` runs it.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROBE_PHRASES = ("next", "hold for twenty seconds", "use palms", "slower", "that hurts", "where are we",
                 "stop the massage", "what can i say", "go back", "i found a knot")


def _rss_mb() -> float:
    """Peak resident memory of this process so far, MB.

    ``VmHWM`` from /proc/self/status: unlike ``ru_maxrss``, which Linux carries over from the parent across
    fork and exec (a probe started by a big parent would report the parent's size), it starts afresh.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _build(engine: str) -> Any:
    from intents.catalogue import load_catalogue
    from intents.matcher import Matcher

    cat = load_catalogue()
    matcher = Matcher(cat)
    if engine == "vosk":
        from audio.models import load_model
        from audio.vosk_engine import VoskRecognizer
        from bench.run_engines import model_path

        model = load_model(model_path())
        return VoskRecognizer(model, cat.grammar(), is_complete=matcher.is_complete_command), matcher
    from audio.sphinx_engine import SphinxRecognizer

    return SphinxRecognizer(cat.grammar(), is_complete=matcher.is_complete_command), matcher


def main(engine: str) -> None:
    """Child side: build, say ready, decode, report."""
    t0 = time.perf_counter()
    rss_python = _rss_mb()
    rec, _matcher = _build(engine)
    ready_s = time.perf_counter() - t0
    print(json.dumps({"ready": True}), flush=True)
    import numpy as np

    from audio.synth import pad, synthesize

    audio = np.concatenate([pad(synthesize(p, speed=170), 0.3, 1.5) for p in PROBE_PHRASES * 2])
    n = 640
    heard = []
    t1 = time.perf_counter()
    for i in range(0, len(audio), n):
        hyp = rec.accept(audio[i:i + n].tobytes())
        if hyp is not None:
            heard.append(hyp.text)
    last = rec.flush()
    if last is not None:
        heard.append(last.text)
    decode_s = time.perf_counter() - t1
    print(json.dumps({"engine": engine, "in_process_ready_s": ready_s, "rss_before_engine_mb": rss_python,
                      "peak_rss_mb": _rss_mb(), "audio_s": len(audio) / 16000, "decode_s": decode_s,
                      "heard": heard}), flush=True)


def probe(engine: str, runs: int = 3, timeout_s: float = 120.0) -> dict[str, Any]:
    """Parent side: run the child ``runs`` times; start-up (median, s) and peak RSS (max, MB)."""
    startups: list[float] = []
    last: dict[str, Any] = {}
    peaks: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bench.run_probe", engine], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        ready_at = time.perf_counter() - start
        try:
            rest, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            return {"available": False, "error": "probe timed out"}
        if not line.startswith('{"ready"') or proc.returncode != 0:
            tail = (err or line).strip().splitlines()
            return {"available": False, "error": tail[-1] if tail else f"exit {proc.returncode}"}
        startups.append(ready_at)
        last = json.loads(rest.strip().splitlines()[-1])
        peaks.append(last["peak_rss_mb"])
    startups.sort()
    return {"available": True, "startup_s": startups[len(startups) // 2], "startup_runs_s": startups,
            "peak_rss_mb": max(peaks), **{k: last[k] for k in ("in_process_ready_s", "rss_before_engine_mb",
                                                               "audio_s", "decode_s", "heard")}}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "vosk")
