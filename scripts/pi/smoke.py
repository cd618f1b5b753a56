"""Smoke test and memory figures for massage-coach, run with the project's own venv python.

Runs the same way inside the emulated arm64 root (by scripts/pi-check) and natively (by
scripts/pi/native-figures), so the peak-RSS figures compare like with like:

  .venv/bin/python scripts/pi/smoke.py --where native --model MODEL --wavs DIR --out FILE NAME=INTENT...

Steps: ``recognize --json`` on the WAVs (each must give its intent), a typed session that asks for the
warning signs (the answer must name them), the demo, and where the CLI has one, a session fed from a
WAV instead of a microphone. Each command's peak RSS comes from the kernel (``wait4`` rusage, i.e.
VmHWM); under qemu-user that is the emulator's RSS, guest memory plus translation cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

WARNING_WORDS = ("doctor", "numb", "bladder")  # the guide's warning signs must be read out
SESSION_INPUT = "start\nwhat are the warning signs\nstop\nyes\n"
TIMEOUT_S = 1800  # emulated runs are slow


def run_measured(cmd: list[str], stdin: str | None = None, env: dict[str, str] | None = None) -> dict:
    """Run ``cmd``; return exit code, output, wall time and the peak RSS of the process (MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as inp:
        if stdin is not None:
            inp.write(stdin.encode())
            inp.seek(0)
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=inp, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = t0 + TIMEOUT_S
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        out.seek(0)
        text = out.read().decode(errors="replace")
    return {"cmd": " ".join(cmd[1:]), "exit": proc.returncode, "wall_s": round(wall, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "output": text}


def json_records(text: str) -> list[dict]:
    """Every JSON object in ``text``: one document (object or list) or one object per line."""
    text = text.strip()
    try:
        doc = json.loads(text)
        docs = doc if isinstance(doc, list) else [doc]
    except ValueError:
        docs = []
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(("{", "[")):
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                docs += d if isinstance(d, list) else [d]
    out = []
    for d in docs:
        if isinstance(d, dict) and isinstance(d.get("results"), list):
            out += [r for r in d["results"] if isinstance(r, dict)]
        elif isinstance(d, dict):
            out.append(d)
    return out


def intent_of(record: dict) -> str | None:
    """The intent name in one ``recognize --json`` record."""
    val = record.get("intent")
    if isinstance(val, dict):
        val = val.get("name")
    return val if isinstance(val, str) else None


def file_of(record: dict) -> str:
    """The WAV a record is about (its base name), or ''."""
    for key in ("file", "path", "wav", "audio", "input"):
        if isinstance(record.get(key), str):
            return Path(record[key]).name
    return ""


def help_text(coach: str, *sub: str) -> str:
    """The CLI's --help for a subcommand ('' where it has none)."""
    res = subprocess.run([coach, *sub, "--help"], capture_output=True, text=True, timeout=TIMEOUT_S)
    return res.stdout if res.returncode == 0 else ""


def step_recognize(coach: str, model: str, wavs: Path, expected: dict[str, str]) -> dict:
    """``recognize --json`` on every WAV: each must come back with its intent."""
    files = [str(wavs / name) for name in expected]
    model_arg = ["--model", model] if "--model" in help_text(coach, "recognize") else []
    res = run_measured([coach, "recognize", "--json", *model_arg, *files])
    records = json_records(res["output"])
    by_file = {file_of(r): intent_of(r) for r in records if file_of(r)}
    if not by_file and len(records) == len(files):
        by_file = {name: intent_of(r) for name, r in zip(expected, records, strict=True)}
    got = {name: by_file.get(name) for name in expected}
    res["intents"] = got
    timed = [r for r in records if all(isinstance(r.get(k), float) for k in ("decode_s", "audio_s"))]
    if timed:  # the app's own figure (one pass, model load excluded)
        decode, audio = sum(r["decode_s"] for r in timed), sum(r["audio_s"] for r in timed)
        res["decode_s_per_audio_s"] = round(decode / audio, 5)
    res["ok"] = res["exit"] == 0 and got == expected
    return res


def step_recognize_auto(coach: str, model: str, wav: Path, intent: str, scratch: Path) -> dict:
    """``recognize --json`` with no --model: engine and model chosen by themselves from Vosk's own folder
    (~/.cache/vosk, where ``download-model`` puts the official model), here in a scratch HOME."""
    cache = scratch / "home" / ".cache" / "vosk"
    cache.mkdir(parents=True, exist_ok=True)
    link = cache / "vosk-model-toy-en-us-espeak"
    if not link.exists():
        link.symlink_to(Path(model).resolve())
    env = {k: v for k, v in os.environ.items() if k != "VOSK_MODEL_PATH" and not k.startswith("XDG_")}
    env["HOME"] = str(scratch / "home")
    res = run_measured([coach, "recognize", "--json", str(wav)], env=env)
    records = json_records(res["output"])
    got = [(intent_of(r), r.get("engine")) for r in records]
    res["intents"] = {wav.name: got[0][0] if got else None}
    res["ok"] = res["exit"] == 0 and len(got) == 1 and got[0][0] == intent and got[0][1] in (None, "vosk")
    return res


def step_no_microphone(coach: str, scratch: Path) -> dict:
    """``session`` on a machine with no microphone: a clear message, then typed commands (no crash)."""
    journal = ["--journal", str(scratch / "journal")] if "--journal" in help_text(coach, "session") else []
    res = run_measured([coach, "session", *journal], stdin="stop\n")
    res["ok"] = res["exit"] == 0 and "microphone" in res["output"].lower()
    return res


def step_session(coach: str, scratch: Path) -> dict:
    """A typed session asking for the warning signs: the answer must name them."""
    journal = ["--journal", str(scratch / "journal")] if "--journal" in help_text(coach, "session") else []
    res = run_measured([coach, "session", "--text", *journal], stdin=SESSION_INPUT)
    low = res["output"].lower()
    res["ok"] = res["exit"] == 0 and all(w in low for w in WARNING_WORDS)
    return res


def step_demo(coach: str, model: str, scratch: Path) -> dict:
    """The scripted demo (the live loop with a scripted partner: model, recognizer, session, speech) must
    run to the end and understand every scripted command."""
    text = help_text(coach, "demo")
    args = ["--model", model] if "--model" in text else []
    args += ["--out", str(scratch / "demo.wav")] if "--out" in text else []
    env = dict(os.environ, XDG_DATA_HOME=str(scratch / "data"))  # its journal stays in the scratch folder
    res = run_measured([coach, "demo", *args], env=env)
    m = re.search(r"(\d+) of (\d+) commands understood", res["output"])
    res["understood"] = f"{m.group(1)} of {m.group(2)}" if m else None
    res["ok"] = res["exit"] == 0 and m is not None and m.group(1) == m.group(2)
    return res


def step_audio_session(coach: str, model: str, wav: Path) -> dict | None:
    """A voice session fed from a WAV (model + recognizer + session), if the CLI offers one."""
    text = help_text(coach, "session")
    opt = next((o for o in ("--audio-file", "--wav", "--input-wav", "--from-wav", "--audio")
                if f"{o} " in text or f"{o}=" in text or f"{o}\n" in text), None)
    if opt is None:
        return None
    model_arg = ["--model", model] if "--model" in text else []
    res = run_measured([coach, "session", opt, str(wav), *model_arg])
    res["ok"] = res["exit"] == 0
    return res


def decode_speed(model: str, wavs: Path, names: list[str]) -> dict:
    """Vosk decode time per second of audio with the app's grammar (model load excluded)."""
    import vosk

    vosk.SetLogLevel(-1)
    try:
        from skill.app.engines import load_language

        grammar = json.dumps(load_language().grammar())
    except Exception:  # the app's grammar not available: free decoding
        grammar = None
    t0 = time.perf_counter()
    model_obj = vosk.Model(model)
    load_s = time.perf_counter() - t0
    clips = []
    for name in names:
        with wave.open(str(wavs / name), "rb") as w:
            clips.append((w.readframes(w.getnframes()), w.getnframes() / w.getframerate()))
    audio_s = sum(seconds for _, seconds in clips)
    passes = []  # the quickest of a few passes: a shared machine's other work only ever adds time
    for _ in range(5):
        decode_s = 0.0
        for frames, _ in clips:
            rec = vosk.KaldiRecognizer(model_obj, 16000, grammar) if grammar else vosk.KaldiRecognizer(
                model_obj, 16000)
            t0 = time.perf_counter()
            for i in range(0, len(frames), 1280):  # 40 ms chunks, as the live loop feeds them
                rec.AcceptWaveform(frames[i:i + 1280])
            rec.FinalResult()
            decode_s += time.perf_counter() - t0
        passes.append(decode_s)
    best = min(passes)
    return {"mode": "grammar" if grammar else "free", "model_load_s": round(load_s, 3),
            "audio_s": round(audio_s, 2), "decode_s": round(best, 4), "passes": len(passes),
            "decode_s_per_audio_s": round(best / audio_s, 5)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--where", default="native")
    p.add_argument("--model", required=True)
    p.add_argument("--wavs", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--coach", default=".venv/bin/massage-coach")
    p.add_argument("expected", nargs="+", help="NAME.wav=intent")
    args = p.parse_args()
    expected = dict(e.split("=", 1) for e in args.expected)
    coach = str(Path(args.coach).resolve())
    report: dict = {"where": args.where, "machine": platform.machine(), "python": platform.python_version()}
    steps = {}
    scratch = Path(tempfile.mkdtemp(prefix="massage-coach-smoke-"))
    first = next(iter(expected))
    for name, fn in (("recognize", lambda: step_recognize(coach, args.model, args.wavs, expected)),
                     ("recognize_auto", lambda: step_recognize_auto(
                         coach, args.model, args.wavs / first, expected[first], scratch)),
                     ("session_text", lambda: step_session(coach, scratch)),
                     ("session_no_microphone", lambda: step_no_microphone(coach, scratch)),
                     ("demo", lambda: step_demo(coach, args.model, scratch)),
                     ("session_audio", lambda: step_audio_session(coach, args.model, args.wavs / first))):
        res = fn()
        if res is None:
            continue
        steps[name] = res
        tail = "\n".join("    | " + ln for ln in res["output"].rstrip().splitlines()[-12:])
        extra = f" intents {res['intents']}" if "intents" in res else ""
        extra += f" understood {res['understood']}" if "understood" in res else ""
        print(f"smoke [{args.where}] {name}: {'ok' if res['ok'] else 'FAILED'} (exit {res['exit']}, "
              f"peak RSS {res['peak_rss_mb']} MB){extra}\n    $ massage-coach {res['cmd']}\n{tail}",
              flush=True)
        res["output"] = res["output"][-2000:]
    try:
        report["decode"] = decode_speed(args.model, args.wavs, list(expected))
        print(f"smoke [{args.where}] vosk decode: {report['decode']}", flush=True)
    except Exception as exc:  # the figure is optional; the smoke verdict is not
        report["decode"] = {"error": f"{type(exc).__name__}: {exc}"}
    report["steps"] = steps
    shutil.rmtree(scratch, ignore_errors=True)
    needed = {"recognize", "session_text", "demo"}
    report["ok"] = all(s["ok"] for s in steps.values()) and needed <= set(steps)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
