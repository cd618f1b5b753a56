"""Figures that carry over to a Raspberry Pi: peak RSS (native and emulated) and a Pi 4 decode-time estimate.

The Pi 4 estimate scales the native decode time by a CPU factor: this machine's single-thread 7-zip
rating (``7zr b -mmt1``, measured at run time) over a published Raspberry Pi 4's. Source of the Pi figure:
sbc-bench (github.com/ThomasKaiser/sbc-bench, Sorted-Results.md, "7-zip single-threaded"): Raspberry Pi 4 B
(BCM2711) at 1800 MHz, Raspberry Pi OS Bullseye arm64, 1769 (results/3OBF.txt). 7-zip is integer work;
Vosk's network is float matrix work where x86 SIMD gains more, so treat the factor as a lower bound of the
slowdown (boards clocked at 1500 MHz are ~17 % slower again).
"""

from __future__ import annotations

import re
import shutil
import subprocess

PI4_7ZIP_SINGLE_MIPS = 1769
PI4_SOURCE = ("sbc-bench Sorted-Results.md (github.com/ThomasKaiser/sbc-bench), 7-zip single-threaded: "
              "Raspberry Pi 4 B (BCM2711) 1800 MHz, Raspberry Pi OS Bullseye arm64 = 1769 MIPS "
              "(results/3OBF.txt)")
RSS_LIMIT_MB = 200  # the coach with the test model
SMALL_MODEL_MB = 300  # vosk-model-small-en-us-0.15, Vosk's published memory figure (about 300 MB)
PI_RAM_MB = 1024
# geerlingguy/sbc-reviews#110: a Pi 4 on Raspberry Pi OS, screenfetch after boot: "RAM: 220MiB" used
PI_OS_IDLE_MB = 220


def host_7zip_single_mips(runs: int = 2) -> int | None:
    """This machine's single-thread 7-zip rating (best of ``runs``), or None without ``7zr``."""
    exe = shutil.which("7zr") or shutil.which("7z")
    if not exe:
        return None
    best = 0
    for _ in range(runs):
        out = subprocess.run([exe, "b", "-mmt1"], capture_output=True, text=True).stdout
        m = re.search(r"^Tot:\s+\d+\s+\d+\s+(\d+)\s*$", out, re.M)
        if m:
            best = max(best, int(m.group(1)))
    return best or None


def cpu_name() -> str:
    """The host CPU's model name."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _rss(report: dict | None) -> dict:
    steps = (report or {}).get("steps", {})
    return {name: s.get("peak_rss_mb") for name, s in steps.items()}


def build(native: dict | None, emulated: dict | None, mips: int | None) -> dict:
    """The ``pi.json`` figures from the native and the emulated smoke reports."""
    out: dict = {"peak_rss_mb": {"native_x86_64": _rss(native), "emulated_arm64_qemu": _rss(emulated)}}
    native_rss = [v for v in out["peak_rss_mb"]["native_x86_64"].values() if v]
    peak = max(native_rss) if native_rss else None
    out["rss_limit_mb"] = RSS_LIMIT_MB
    out["within_limit"] = None if peak is None else peak <= RSS_LIMIT_MB
    decode = (native or {}).get("decode", {})
    per_s = decode.get("decode_s_per_audio_s")
    factor = round(mips / PI4_7ZIP_SINGLE_MIPS, 2) if mips else None
    out["decode_native"] = {"cpu": cpu_name(), **decode}
    emu_per_s = (emulated or {}).get("decode", {}).get("decode_s_per_audio_s")
    if emu_per_s and per_s:  # how much slower qemu was than this machine: why emulated times mean nothing
        out["emulation_slowdown"] = round(emu_per_s / per_s)
    out["pi4_estimate"] = {
        "factor": factor,
        "factor_basis": (f"host 7zr b -mmt1 = {mips} MIPS / Pi 4 {PI4_7ZIP_SINGLE_MIPS} MIPS"
                         if mips else None),
        "factor_source": PI4_SOURCE,
        "decode_s_per_audio_s": round(per_s * factor, 4) if per_s is not None and factor else None,
    }
    if peak is not None:
        # the small model replaces the toy one: the rest of the process stays as measured
        out["small_model_on_1gb_pi_mb"] = {
            "coach_with_test_model": peak, "plus_small_model": SMALL_MODEL_MB,
            "os_idle": PI_OS_IDLE_MB, "total": round(peak + SMALL_MODEL_MB + PI_OS_IDLE_MB),
            "ram": PI_RAM_MB}
    out["notes"] = notes(out)
    return out


def notes(fig: dict) -> str:
    """The short human summary that bench/RESULTS.md shows."""
    rss = fig["peak_rss_mb"]
    nat, emu = rss["native_x86_64"], rss["emulated_arm64_qemu"]
    parts = []
    key = ("session_live", "recognize", "demo", "session_text")
    if nat:
        parts.append("Peak RSS native x86-64: " + ", ".join(f"{k} {nat[k]} MB" for k in key if nat.get(k)))
    if emu:
        parts.append("inside the emulated arm64 root (qemu-user, includes the emulator): "
                     + ", ".join(f"{k} {emu[k]} MB" for k in key if emu.get(k)))
    if fig.get("within_limit") is not None:
        parts.append(f"limit {fig['rss_limit_mb']} MB with the test model: "
                     f"{'met' if fig['within_limit'] else 'EXCEEDED'}")
    est = fig["pi4_estimate"]
    dec = fig["decode_native"]
    if dec.get("decode_s_per_audio_s") is not None:
        parts.append(f"Vosk decode native: {dec['decode_s_per_audio_s']} s per s of audio ({dec.get('mode')} "
                     f"mode, {dec.get('cpu')})")
    if est.get("decode_s_per_audio_s") is not None:
        parts.append(f"Pi 4 estimate: {est['decode_s_per_audio_s']} s per s of audio (x{est['factor']}: "
                     f"{est['factor_basis']}; Pi figure from sbc-bench; a lower bound, float SIMD work "
                     "favours x86 more)")
    small = fig.get("small_model_on_1gb_pi_mb")
    if small:
        parts.append(f"1 GB Pi with the small English model: about {small['total']} MB "
                     f"({small['coach_with_test_model']} coach + {small['plus_small_model']} model + "
                     f"{small['os_idle']} OS after boot) of {small['ram']} MB; conservative, the "
                     "coach's peak already holds the test model")
    slow = f"{fig['emulation_slowdown']}x" if fig.get("emulation_slowdown") else "tens of times"
    parts.append(f"Emulated timings are meaningless (Vosk decoding ran {slow} slower under qemu than "
                 "natively); the emulated run proves 'installs and works'")
    return ". ".join(parts) + "."
