"""Write bench/results.json and bench/RESULTS.md (tables) from the measured figures.

Sections: summary table (one row per system), targets (met / missed by how much and what limits it),
accuracy per condition, latency with and without early commit, false accepts, start-up and memory,
reply time to first audio, most frequent errors, anchors, and one section per extra results file
(bench/results/room.json, pi.json, soak.json) that others write, rendered generically with its notes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.findings import findings, limits
from bench.targets import ANCHORS, evaluate, fmt

BENCH_DIR = Path(__file__).resolve().parent
EXTRA_FILES = {"room": "Live virtual-room latencies", "pi": "Raspberry Pi memory",
               "soak": "Soak test"}
MAX_EXTRA_ROWS = 40
"""Rows of an extra file's key/value table; the rest stays in the JSON file."""
SYSTEM_LABELS = {
    "vosk": "Vosk (project path, early commit)",
    "vosk-no-early": "Vosk (project path, no early commit)",
    "vosk-baseline": "Vosk naive baseline",
    "sphinx": "pocketsphinx fallback (project path)",
    "sphinx-no-early": "pocketsphinx fallback (no early commit)",
    "sphinx-baseline": "pocketsphinx naive baseline",
}


def _p(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f}-minute" if seconds >= 120 else f"{seconds:.0f}-second"


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return [*lines, ""]


def _flatten(node: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        out: list[tuple[str, str]] = []
        for k, v in node.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(node, list):
        if all(not isinstance(v, (dict, list)) for v in node) and len(node) <= 12:
            return [(prefix, ", ".join(_scalar(v) for v in node))]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in node):
            return [(prefix, f"{len(node)} values, min {min(node):.4g}, max {max(node):.4g}")]
        return [(prefix, f"{len(node)} entries (see the JSON file)")]
    return [(prefix, _scalar(node))]


def _cell(v: str, limit: int = 160) -> str:
    v = " ".join(v.split())
    return v if len(v) <= limit else v[: limit - 3] + "..."


def _scalar(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def extra_sections(results_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Each extra JSON file present, loaded, and its generic Markdown section."""
    data: dict[str, Any] = {}
    lines: list[str] = []
    for name, title in EXTRA_FILES.items():
        path = results_dir / f"{name}.json"
        if not path.is_file():
            continue
        lines += [f"## {title} (bench/results/{name}.json)", ""]
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            lines += [f"Could not read {path.name}: {exc}", ""]
            continue
        data[name] = content
        body = {k: v for k, v in content.items() if k != "notes"} if isinstance(content, dict) else content
        notes = content.get("notes") if isinstance(content, dict) else None
        rows = _flatten(body)
        lines += _table(["key", "value"], [[k, _cell(v)] for k, v in rows[:MAX_EXTRA_ROWS]])
        if len(rows) > MAX_EXTRA_ROWS:
            lines += [f"... and {len(rows) - MAX_EXTRA_ROWS} more keys in bench/results/{name}.json.", ""]
        if notes:
            lines += ["Notes:", ""]
            for note in notes if isinstance(notes, list) else [notes]:
                text = str(note)
                lines += (["```", *text.splitlines(), "```"] if "\n" in text else [f"- {text}"])
            lines += [""]
    return data, lines


def _summary_rows(results: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, sysres in results["systems"].items():
        cm, ch, st = sysres["commands"], sysres["chatter"], sysres["stream"]
        if not cm.get("available"):
            rows.append([SYSTEM_LABELS[name], *(["n/a"] * 11), f"not available: {cm.get('error', '')}"])
            continue
        snr = cm["by_snr"]
        lat = cm["latency_ms"]
        rows.append([
            SYSTEM_LABELS[name], _p(cm["by_condition"].get("clean")), _p(cm["snr_average"]),
            *(_p(snr.get(s)) for s in ("20", "12", "6")), _p(cm["by_condition"].get("reverb")),
            _p(cm["by_condition"].get("far-field")), _p(cm["canonical_accuracy"]),
            _p(ch.get("rate")) if ch.get("available") else "-",
            _p(st.get("per_hour")) if st.get("available") else "-",
            f"{_p(lat['median'], 0)} / {_p(lat['p95'], 0)}", _p(cm["rtf"], 3),
        ])
    return rows


def _timing(results: dict[str, Any]) -> str:
    t = results.get("timing")
    if not t:
        return ""
    busy = ", ".join(f"{k} {v:.0f} s" for k, v in t["worker_busy_s"].items())
    load = t["load_average_1min_at_end"]
    shared = " (other jobs were sharing the cores: wall times and RTFs are inflated)" if load > 2.5 else ""
    return (f" CPU time {t['cpu_s_self_and_children']:.0f} s; worker time per system: {busy}; load average "
            f"{load:.1f} at the end{shared}.")


def _header(results: dict[str, Any]) -> list[str]:
    s = results["suite"]
    quick = " QUICK RUN: tiny suite, figures are not meaningful." if results["quick"] else ""
    return [
        "# Benchmark results", "",
        f"Written by `{results['command']}` on {results['generated']} in {results['run_time_s']:.0f} s "
        f"({results['machine']}).{quick}{_timing(results)}", "",
        f"Suite (seed {s['seed']}): {s['phrases']} phrases ({s['canonical_phrases']} canonical, one per "
        f"intent; the rest a seeded sample), {s['command_clips']} command clips "
        f"({s['command_audio_s']:.0f} s) in {len(s['conditions'])} conditions "
        f"({', '.join(s['conditions'])}), "
        f"{len(s['voices'])} espeak-ng en-us voices at {min(s['speeds'])}-{max(s['speeds'])} wpm; "
        f"{s['chatter_clips']} chatter sentences + {s['burst_clips']} sighs/laughs "
        f"({s['chatter_audio_s']:.0f} s); a {_duration(s['stream_s'])} continuous stream of chatter, sighs, "
        "laughs, pauses and music for false accepts per hour.", "",
        "Accuracy = intent and slots right, exactly one command out of the clip. Streaming path: "
        f"{results['chunk_ms']} ms chunks. The audio is the same sample for sample on every run, but the "
        "decoders are not bit-exact: Kaldi adds random dither to the features (the test model's mfcc.conf "
        "leaves --dither at its default 1.0) and the pocketsphinx fallback dithers too, so a clip or two "
        "per condition can flip between runs (one clip is 1.7 points of a condition here).", "",
    ]


def _accuracy(results: dict[str, Any]) -> list[str]:
    conds = results["suite"]["conditions"]
    ok = {n: r["commands"] for n, r in results["systems"].items() if r["commands"].get("available")}
    lines = ["## Accuracy per condition (%)", ""]
    lines += _table(["system", *conds], [[SYSTEM_LABELS[n], *(_p(c["by_condition"].get(k)) for k in conds)]
                                         for n, c in ok.items()])
    lines += ["Outcomes over all conditions:", ""]
    lines += _table(["system", "correct", "wrong intent or slots", "duplicate", "missed", "engine crashed"],
                    [[SYSTEM_LABELS[n], *(str(c["outcomes"].get(k, 0))
                                          for k in ("correct", "wrong", "duplicate", "missed", "crash"))]
                     for n, c in ok.items()])
    for n, c in ok.items():
        if c.get("errors"):
            lines += [f"{SYSTEM_LABELS[n]}: the engine raised on {len(c['errors'])} clip(s), e.g. "
                      f"{c['errors'][0]}", ""]
    return lines


def _latency(results: dict[str, Any]) -> list[str]:
    lines = ["## Latency: end of speech to intent (ms)", "",
             "Audio time (stream position when the hypothesis came out minus the end of speech) plus the "
             "compute time of the call that produced it, over all correctly recognized clips.", ""]
    rows = []
    for n, r in results["systems"].items():
        if not r["commands"].get("available"):
            continue
        lat = r["commands"]["latency_ms"]
        rows.append([SYSTEM_LABELS[n], *(_p(lat.get(k), 0) for k in
                                         ("median", "p95", "clean_median", "audio_part_median")),
                     _p(lat["compute_part_median"], 1), _p(lat["compute_part_p95"], 1),
                     _p(lat["early_share"], 0), str(lat["count"])])
    lines += _table(["system", "median", "p95", "clean median", "audio part median",
                     "compute part median", "compute part p95", "early commits %", "clips"], rows)
    sweep = results.get("chunk_sweep")
    if sweep and sweep.get("by_chunk_ms"):
        conds = ", ".join(sweep["conditions"])
        lines += [f"Vosk path (early commit) by microphone chunk size, on the {conds} clips:", ""]
        lines += _table(["chunk ms", "median ms", "p95 ms", "accuracy %", "clips"],
                        [[k, _p(v["median"], 0), _p(v["p95"], 0), _p(v["accuracy"]), str(v["clips"])]
                         for k, v in sweep["by_chunk_ms"].items()])
    return lines


def _false_accepts(results: dict[str, Any]) -> list[str]:
    lines = ["## False accepts", ""]
    rows = []
    for n, r in results["systems"].items():
        ch, st = r["chatter"], r["stream"]
        if not ch.get("available") and not st.get("available"):
            continue
        chat = f"{ch['false_accepts']} / {ch['clips']} ({_p(ch['rate'])} %)" if ch.get("available") else "-"
        stream = f"{st['false_accepts']} in {st['hours']:.2f} h" if st.get("available") else "-"
        rows.append([SYSTEM_LABELS[n], chat, _p(ch.get("sentence_rate")), _p(ch.get("burst_rate")), stream,
                     _p(st.get("per_hour")) if st.get("available") else "-",
                     _p(st.get("rtf"), 3) if st.get("available") else "-"])
    lines += _table(["system", "chatter clips with a command", "sentences %", "sighs/laughs %",
                     "stream false accepts", "per hour", "stream RTF"], rows)
    for n, r in results["systems"].items():
        ex = (r["chatter"].get("examples") or []) + (r["stream"].get("examples") or [])
        if ex:
            lines += [f"{SYSTEM_LABELS[n]}, false accepts (first few): " + "; ".join(
                f"\"{e.get('said', 'stream')}\" -> \"{e['heard']}\" ({e['intent']})" for e in ex[:6]), ""]
    return lines


def _probes(results: dict[str, Any]) -> list[str]:
    lines = ["## Start-up to ready and peak memory", "",
             "Fresh process: imports, model, grammar recognizer and matcher built; then ~1 minute of "
             "commands streamed. Start-up is the median of 3 runs, memory the largest peak RSS (VmHWM).", ""]
    rows = []
    for e, p in results["startup_memory"].items():
        if not p.get("available"):
            rows.append([e, "n/a", "n/a", "n/a", f"not available: {p.get('error', '')}"])
            continue
        rows.append([e, _p(p.get("startup_s"), 2), _p(p.get("peak_rss_mb"), 0),
                     _p(p.get("rss_before_engine_mb"), 0), _p(p["decode_s"] / p["audio_s"], 3)])
    return lines + _table(["engine", "start-up to ready s", "peak RSS MB", "bare interpreter RSS MB",
                           "probe decode RTF"], rows)


def _tts(results: dict[str, Any]) -> list[str]:
    lines = ["## Intent to first reply audio (TTS time to first audio)", "",
             "Session.handle(intent) then the project's PlaybackSpeaker.say(reply) until the first rendered "
             "sample is handed to the sound device (no sound card here: a real device adds its output "
             "latency).", ""]
    rows = []
    for e, t in results["tts"].items():
        if not t.get("available"):
            rows.append([e, "n/a", "n/a", "n/a", "0", t.get("error", "")])
            continue
        rows.append([t.get("renderer", e), _p(t["median_ms"], 0), _p(t["p95_ms"], 0), _p(t["max_ms"], 0),
                     str(t["replies"]), _p(t["session_handle_median_ms"], 2)])
    return lines + _table(["renderer", "median ms", "p95 ms", "max ms", "replies", "Session.handle ms"], rows)


def _status(t: dict[str, Any]) -> str:
    return f"**missed by {t['missed_by']}**" if t["status"] == "missed" else t["status"]


def markdown(results: dict[str, Any], extra_lines: list[str]) -> str:
    """The whole RESULTS.md text."""
    lines = _header(results)
    lines += ["## Summary", ""]
    lines += _table(["system", "clean %", "SNR avg %", "20 dB %", "12 dB %", "6 dB %", "reverb %",
                     "far-field %", "canonical only %", "chatter FA %", "FA / hour",
                     "latency median / p95 ms", "RTF"], _summary_rows(results))
    if not results.get("full_fallback"):
        lines += ["n/a: not run. The pocketsphinx systems get only the clean, 20 dB, reverb and far-field "
                  "conditions by default, for commands and chatter alike (its decoder runs near real time in "
                  "12 and 6 dB noise; `--full-fallback` runs all), so their overall, canonical-only and "
                  "chatter figures cover those clips (chatter over music at 12 dB is left out).", ""]
    lines += ["## Targets", ""]
    lines += _table(["target", "bound", "measured", "status", "what limits it"],
                    [[t["target"], t["bound"], t["shown"], _status(t), t["limits"]]
                     for t in results["targets"]])
    lines += _accuracy(results) + _latency(results) + _false_accepts(results)
    lines += _probes(results) + _tts(results)
    lines += ["## Most frequent errors", ""]
    for n, r in results["systems"].items():
        errs = r["commands"].get("top_errors") or []
        if errs:
            lines += [f"- {SYSTEM_LABELS[n]}: " + "; ".join(
                f"\"{e['said']}\" -> \"{e['heard']}\" ({e['outcome']}, x{e['count']})" for e in errs[:5])]
    lines += ["", "## Anchors", ""] + [f"- {a}" for a in ANCHORS] + [""]
    if results.get("findings"):
        lines += ["## What limits the figures (observed)", ""]
        lines += [f"- {f}" for f in results["findings"]] + [""]
    lines += extra_lines
    lines += ["## Reproduce", "", "`python -m bench` (or `./run.sh bench`); `python -m bench --quick` for "
              "the tiny suite the tests use. Same seed, same audio; timings vary with the machine.", ""]
    return "\n".join(lines)


def write(results: dict[str, Any], out_dir: Path = BENCH_DIR,
          results_dir: Path | None = None) -> tuple[Path, Path]:
    """Evaluate the targets, add the extra sections, write results.json and RESULTS.md into ``out_dir``."""
    results["targets"] = evaluate(results, limits(results))
    results["findings"] = findings(results)
    extra, lines = extra_sections(results_dir if results_dir is not None else BENCH_DIR / "results")
    results["extra"] = extra
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "RESULTS.md"
    json_path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    md_path.write_text(markdown(results, lines), encoding="utf-8")
    return md_path, json_path


__all__ = ["extra_sections", "fmt", "markdown", "write"]
