"""Figures from the raw per-clip results: accuracy per condition, false accepts, latency, real-time factor.

A command clip is *correct* when exactly one command came out and it is the expected intent with the
expected slots; *wrong* when any command out of it differs; *duplicate* when the right command came out
more than once (the app would act twice, e.g. go back two steps); *missed* when nothing came out.

Latency of a correct clip, in audio time plus compute: (stream position when the hypothesis came out -
end of speech) + compute time of the call that produced it. End of speech comes from the dry synthesis.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.run_engines import CHUNK_MS
from bench.suite import Clip, Suite


def _pct(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _rate(num: int, den: int) -> float | None:
    return 100.0 * num / den if den else None


def classify(clip: Clip, events: Sequence[dict], crashed: bool = False) -> tuple[str, dict | None]:
    """("correct" | "wrong" | "duplicate" | "missed" | "crash", the first right event or None)."""
    if crashed:
        return "crash", None
    got = [e for e in events if e["intent"] is not None]
    if not got:
        return "missed", None
    if any((e["intent"], e["slots"]) != (clip.intent, dict(clip.slots)) for e in got):
        return "wrong", None
    return ("duplicate" if len(got) > 1 else "correct"), got[0]


def _results(outputs: Sequence[dict], system: str, what: str) -> tuple[dict[str, dict], list[str], list[str]]:
    res: dict[str, dict] = {}
    errors, notes = [], []
    for out in outputs:
        if out["system"] != system or out["what"] != what:
            continue
        if out.get("error"):
            errors.append(out["error"])
        errors += out.get("crashes", [])
        if out.get("note"):
            notes.append(out["note"])
        for r in out.get("results", []):
            res[r.get("id", f"part{len(res)}")] = r
    return res, sorted(set(errors)), sorted(set(notes))


def command_metrics(suite: Suite, outputs: Sequence[dict], system: str) -> dict[str, Any]:
    """Accuracy per condition / SNR / canonical subset, latency and RTF of one system."""
    res, errors, notes = _results(outputs, system, "commands")
    if not res:
        return {"available": False, "error": "; ".join(sorted(set(errors))) or "no results"}
    by_cond: dict[str, Counter] = defaultdict(Counter)
    by_snr: dict[int, Counter] = defaultdict(Counter)
    canon: Counter = Counter()
    canon_clean: Counter = Counter()
    lat, lat_clean, lat_audio, lat_compute, early = [], [], [], [], 0
    flushed = 0
    confusions: Counter = Counter()
    compute = audio = 0.0
    for clip in suite.commands:
        r = res.get(clip.id)
        if r is None:
            continue
        compute += r["compute_s"]
        audio += r["audio_s"]
        verdict, hit = classify(clip, r["events"], bool(r.get("crash")))
        by_cond[clip.condition][verdict] += 1
        if clip.snr() is not None:
            by_snr[clip.snr()][verdict] += 1
        if clip.canonical:
            canon[verdict] += 1
            if clip.condition == "clean":
                canon_clean[verdict] += 1
        if verdict != "correct":
            heard = " | ".join(f"{e['text']}" for e in r["events"]) or "(nothing)"
            confusions[(clip.text, heard, verdict)] += 1
        if hit is not None and verdict == "correct":
            audio_part = hit["pos_s"] - clip.speech_end_s
            total = audio_part + hit["compute_s"]
            lat.append(total * 1000)
            lat_audio.append(audio_part * 1000)
            lat_compute.append(hit["compute_s"] * 1000)
            early += bool(hit["early"])
            flushed += bool(hit["flushed"])
            if clip.condition == "clean":
                lat_clean.append(total * 1000)

    def acc(c: Counter) -> float | None:
        return _rate(c["correct"], sum(c.values()))

    snr_conditions = [c for c in suite.config.conditions() if "@" in c]
    run_all = bool(snr_conditions) and all(c in by_cond for c in snr_conditions)
    snr_avg = float(np.mean([acc(by_cond[c]) for c in snr_conditions])) if run_all else None
    total = Counter()
    for c in by_cond.values():
        total.update(c)
    return {
        "available": True,
        "errors": errors,
        "crashes": total["crash"],
        "notes": notes,
        "clips": sum(total.values()),
        "outcomes": dict(total),
        "accuracy": acc(total),
        "by_condition": {c: acc(by_cond[c]) for c in suite.config.conditions() if c in by_cond},
        "outcomes_by_condition": {c: dict(by_cond[c]) for c in suite.config.conditions() if c in by_cond},
        "by_snr": {str(s): acc(by_snr[s]) for s in sorted(by_snr, reverse=True)
                   if all(f"{k}@{s}" in by_cond for k in suite.config.noises)},
        "snr_average": snr_avg,
        "canonical_accuracy": acc(canon),
        "canonical_clean_accuracy": acc(canon_clean),
        "latency_ms": {
            "median": _pct(lat, 50), "p95": _pct(lat, 95), "clean_median": _pct(lat_clean, 50),
            "audio_part_median": _pct(lat_audio, 50), "compute_part_median": _pct(lat_compute, 50),
            "compute_part_p95": _pct(lat_compute, 95), "count": len(lat),
            "early_share": _rate(early, len(lat)), "at_clip_end": flushed,
        },
        "rtf": compute / audio if audio else None,
        "top_errors": [{"said": s, "heard": h, "outcome": v, "count": n}
                       for (s, h, v), n in confusions.most_common(8)],
    }


def chatter_metrics(suite: Suite, outputs: Sequence[dict], system: str) -> dict[str, Any]:
    """False accepts on the chatter sentences and the sighs/laughs."""
    res, errors, _ = _results(outputs, system, "chatter")
    if not res:
        return {"available": False, "error": "; ".join(errors) or "no results"}
    counts: dict[str, Counter] = defaultdict(Counter)
    examples = []
    for clip in suite.chatter:
        r = res.get(clip.id)
        if r is None:
            continue
        hits = [e for e in r["events"] if e["intent"] is not None]
        counts[clip.kind]["n"] += 1
        if hits:
            counts[clip.kind]["fa"] += 1
            examples.append({"said": clip.text, "condition": clip.condition,
                             "heard": hits[0]["text"], "intent": hits[0]["intent"]})
    n = sum(c["n"] for c in counts.values())
    fa = sum(c["fa"] for c in counts.values())
    return {
        "available": True, "errors": errors, "clips": n, "false_accepts": fa, "rate": _rate(fa, n),
        "sentences": dict(counts["chatter"]), "bursts": dict(counts["burst"]),
        "sentence_rate": _rate(counts["chatter"]["fa"], counts["chatter"]["n"]),
        "burst_rate": _rate(counts["burst"]["fa"], counts["burst"]["n"]), "examples": examples[:10],
    }


def chunk_sweep(suite: Suite, outputs: Sequence[dict], system: str = "vosk") -> dict[str, Any]:
    """Latency of ``system`` at each chunk size on the sweep's clips (the main run gives the default)."""
    from bench.run_suite import CHUNK_SWEEP, SWEEP_CONDITIONS

    clips = [c for c in suite.commands if c.condition in SWEEP_CONDITIONS]
    out: dict[str, Any] = {"conditions": list(SWEEP_CONDITIONS), "by_chunk_ms": {}}
    for chunk in sorted((*CHUNK_SWEEP, CHUNK_MS)):
        what = "commands" if chunk == CHUNK_MS else f"commands@{chunk}"
        res, _, _ = _results(outputs, system, what)
        if not res:
            continue
        lat, correct = [], 0
        for clip in clips:
            r = res.get(clip.id)
            if r is None:
                continue
            verdict, hit = classify(clip, r["events"], bool(r.get("crash")))
            if verdict == "correct" and hit is not None:
                correct += 1
                lat.append((hit["pos_s"] - clip.speech_end_s + hit["compute_s"]) * 1000)
        out["by_chunk_ms"][str(chunk)] = {"median": _pct(lat, 50), "p95": _pct(lat, 95),
                                          "accuracy": _rate(correct, len(clips)), "clips": len(clips)}
    return out


def stream_metrics(outputs: Sequence[dict], system: str) -> dict[str, Any]:
    """False accepts per hour of continuous non-command audio through the streaming path."""
    res, errors, _ = _results(outputs, system, "stream")
    if not res:
        return {"available": False, "error": "; ".join(errors) or "not run"}
    audio = sum(r["audio_s"] for r in res.values())
    compute = sum(r["compute_s"] for r in res.values())
    hits = [e for r in res.values() for e in r["events"] if e["intent"] is not None]
    parts: Counter = Counter()
    for r in res.values():
        parts.update({k: v for k, v in r.get("parts", {}).items()})
    hours = audio / 3600
    return {
        "available": True, "errors": errors, "hours": hours, "false_accepts": len(hits),
        "per_hour": len(hits) / hours if hours else None,
        "hypotheses": sum(len(r["events"]) for r in res.values()),
        "composition_s": {k: round(v, 1) for k, v in parts.items()},
        "rtf": compute / audio if audio else None,
        "examples": [{"heard": e["text"], "intent": e["intent"], "at_s": round(e["pos_s"], 1)}
                     for e in hits[:10]],
    }
