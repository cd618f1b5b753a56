"""Latency of the live loop, measured from the virtual room's recording (not from log timestamps).

The room (``tests.room``) records one stereo track: ``left = partner + coach``, ``right = coach``, so the
partner is ``left - right`` and both are sample-aligned. Onsets and offsets come from the energy in 10 ms
frames. Measured per partner command:

- reply latency: end of the partner's command -> first sound of the coach's reply (when the coach was
  quiet while the command was said);
- barge-in: end of the partner's command said *while the coach speaks* -> the coach stops the passage (its
  audio departs from an uninterrupted reference rendering of the same passage: it goes quiet where the
  reference still speaks, or its reply takes the passage's place).

``python -m bench.room_latency`` runs a measured session of the real app in a room and writes
``bench/results/room.json``; ``analyze`` and friends are used by the room tests too.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000
FRAME_S = 0.005
"""Analysis frame: 5 ms."""

ON_DBFS = -50.0
"""A frame is sound when its RMS is above this (the room is digital: silence is zeros)."""

RESULTS = Path(__file__).resolve().parent / "results" / "room.json"
TARGETS = {"reply_median_ms": 400, "barge_in_ms": 300, "self_intents": 0}


def split_room(stereo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(partner, coach) as float64 arrays from the room recording (int16 shaped (n, 2))."""
    x = stereo.astype(np.float64)
    return x[:, 0] - x[:, 1], x[:, 1]


def frame_db(x: np.ndarray, frame_s: float = FRAME_S) -> np.ndarray:
    """RMS per frame in dB re full scale (-120 for digital silence)."""
    n = max(1, round(frame_s * RATE))
    frames = len(x) // n
    if frames == 0:
        return np.zeros(0)
    rms = np.sqrt(np.mean(x[: frames * n].reshape(frames, n) ** 2, axis=1)) / 32768.0
    return 20 * np.log10(np.maximum(rms, 1e-6))


def segments(x: np.ndarray, bridge_s: float = 0.3, min_s: float = 0.05,
             on_db: float = ON_DBFS) -> list[tuple[float, float]]:
    """Sounding stretches of ``x`` as (start, end) seconds; gaps shorter than ``bridge_s`` are bridged."""
    on = frame_db(x) > on_db
    out: list[list[float]] = []
    idx = np.flatnonzero(on)
    for i in idx:
        start, end = i * FRAME_S, (i + 1) * FRAME_S
        if out and start - out[-1][1] <= bridge_s:
            out[-1][1] = end
        else:
            out.append([start, end])
    return [(a, b) for a, b in out if b - a >= min_s]


def first_sound(x: np.ndarray, after: float, within: float = 10.0, on_db: float = ON_DBFS) -> float | None:
    """Time (s) of the first sounding frame of ``x`` at or after ``after``, within ``within`` seconds."""
    db = frame_db(x)
    lo, hi = int(after / FRAME_S), min(len(db), int((after + within) / FRAME_S))
    hits = np.flatnonzero(db[lo:hi] > on_db)
    return (lo + hits[0]) * FRAME_S if len(hits) else None


def sounding_at(x: np.ndarray, t: float, window: float = 0.05, on_db: float = ON_DBFS) -> bool:
    """True if ``x`` has sound within ``window`` seconds before ``t``."""
    db = frame_db(x)
    lo, hi = max(0, int((t - window) / FRAME_S)), int(t / FRAME_S) + 1
    return bool(np.any(db[lo:hi] > on_db))


@dataclass
class Command:
    """A partner command found in the recording: its label and exact start/end (s)."""

    label: str
    start: float
    end: float


def find_commands(partner: np.ndarray, turns: Sequence[tuple[str, float, float | None]],
                  slack: float = 0.5) -> list[Command]:
    """Match each harness turn (label, rough start, rough end) to the partner sound it produced."""
    found = segments(partner, bridge_s=0.35)
    out: list[Command] = []
    for label, t0, t1 in turns:
        t1 = t0 + 30 if t1 is None else t1
        hits = [s for s in found if s[1] >= t0 - slack and s[0] <= t1 + slack]
        if hits:
            out.append(Command(label, hits[0][0], hits[-1][1]))
    return out


def _best_lag(a: np.ndarray, b: np.ndarray, i0: int, i1: int, lags: range) -> tuple[int, float]:
    """The lag (frames) at which ``b``'s envelope best matches ``a``'s over frames ``i0:i1`` of ``a``, and
    the correlation there (dB envelopes floored at -60 dBFS; 1.0 = the same sound)."""
    ea, eb = np.maximum(a, -60.0), np.maximum(b, -60.0)
    best, best_lag = -1.0, 0
    for lag in lags:
        j0, j1 = max(i0, lag), min(i1, len(b) + lag)
        if j1 - j0 < 20:
            continue
        x, y = ea[j0:j1], eb[j0 - lag:j1 - lag]
        if x.std() == 0 or y.std() == 0:
            continue
        r = float(np.corrcoef(x, y)[0, 1])
        if r > best:
            best, best_lag = r, lag
    return best_lag, best


def departure(coach: np.ndarray, reference: np.ndarray, after: float, min_s: float = 0.08,
              on_db: float = ON_DBFS, max_lag_s: float = 0.1, resync_s: float = 0.8,
              same: float = 0.8, differ_db: float = 10.0) -> float | None:
    """First time >= ``after`` where ``coach`` stops being the ``reference`` rendering of the same passage
    (it went quiet, or another sentence took the passage's place), or None if it never departs.

    A 5 ms frame does not match when one of the two sounds and the other is silent, or both sound more than
    ``differ_db`` apart. A departure starts at a non-matching frame followed, within ``min_s``, by at least
    60 % non-matching frames. Both start at the same onset (cut them at ``first_sound``). Two readings of
    the same text drift by a few ms, so the reference is aligned on the 2 s before ``after`` (best lag
    within ``max_lag_s``); at a departure, if the next second of the coach matches the reference (envelope
    correlation >= ``same``) at another lag up to ``resync_s`` later, the coach was only delayed (drift,
    a playback hiccup) and the search goes on at that lag.
    """
    a, b = frame_db(coach), frame_db(reference)
    n = len(a)
    start = int(after / FRAME_S)
    max_lag = int(max_lag_s / FRAME_S)
    lag, _ = _best_lag(a, b, max(0, start - int(2.0 / FRAME_S)), start, range(-max_lag, max_lag + 1))
    need = max(1, round(min_s / FRAME_S))

    def differs(i: int, at_lag: int) -> bool:
        j = i - at_lag
        ref_on = 0 <= j < len(b) and b[j] > on_db
        coach_on = bool(a[i] > on_db)
        return coach_on != ref_on or (coach_on and abs(a[i] - b[j]) > differ_db)

    i, realigned = start, 0
    while i + need <= n:
        if not differs(i, lag) or sum(differs(k, lag) for k in range(i, i + need)) < 0.6 * need:
            i += 1
            continue
        sounds = np.flatnonzero(a[i:] > on_db)
        resume = i + int(sounds[0]) if sounds.size else n  # after a gap: where the coach sounds again
        window = min(n, resume + int(1.0 / FRAME_S))
        new_lag, agree = _best_lag(a, b, resume, window, range(lag - 2, lag + int(resync_s / FRAME_S) + 1))
        if window - resume >= int(0.5 / FRAME_S) and agree >= same and new_lag != lag and realigned < 100:
            lag, realigned, i = new_lag, realigned + 1, resume  # the same words later (drift, underrun)
            continue
        return i * FRAME_S
    return None


def summarize(values_ms: Sequence[float]) -> dict[str, float | int]:
    """count, median, worst (ms, rounded) of a list of latencies."""
    if not values_ms:
        return {"count": 0}
    return {"count": len(values_ms), "median_ms": round(statistics.median(values_ms)),
            "worst_ms": round(max(values_ms)), "best_ms": round(min(values_ms))}


def write_results(figures: dict, path: Path = RESULTS) -> Path:
    """Write ``figures`` (with targets) as JSON to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(figures, targets=TARGETS), indent=2) + "\n")
    return path


# --- the measured session ------------------------------------------------------------------------

SCRIPT: tuple[tuple[str, str], ...] = (
    ("start", "start"), ("no", "no"), ("no", "no"), ("start", "start"),
    ("next", "next"), ("where are we", "status"), ("next stroke", "next"), ("slower", "slower"),
    ("faster", "faster"), ("switch to palms", "technique"), ("use my fists", "technique"),
    ("hold for ten seconds", "hold"), ("repeat", "repeat"), ("next", "next"),
    ("what are the warning signs", "warning_signs"),
)
"""(what the partner says, the intent it should be) for the reply-latency part, said with the coach quiet."""

BARGES: tuple[tuple[str, str], ...] = (("pause", "pause"), ("that hurts", "pain"), ("stop", "stop"))
"""Said over a second reading of the warning signs, 1.5 s into it (the first reading is the reference)."""


def _extra_intents(acted: Sequence[str], said: Sequence[str]) -> int:
    """How many acted-on intents the partner's commands do not account for (in order)."""
    i = extra = 0
    for name in acted:
        if i < len(said) and name == said[i]:
            i += 1
        elif name in said[i:]:
            i = said.index(name, i) + 1
        else:
            extra += 1
    return extra


def analyze(stereo: np.ndarray, turns: Sequence[dict]) -> dict:
    """Latency figures from a room recording and the partner's turns.

    ``turns``: dicts with ``label``, ``t_start``, ``t_end``, ``kind`` ("reply" or "barge"), ``intent``,
    ``understood`` and, for barges, ``reference`` (index of the uninterrupted reading's request) and
    ``request`` (index of the interrupted reading's request).
    """
    partner, coach = split_room(stereo)
    cmds = find_commands(partner, [(t["label"], t["t_start"], t["t_end"]) for t in turns])
    if len(cmds) != len(turns):
        raise ValueError(f"found {len(cmds)} partner commands in the recording for {len(turns)} turns")
    replies: dict[str, list[float]] = {}
    barges: dict[str, list[float]] = {}
    barges_from_start: list[float] = []
    not_silenced: list[str] = []
    for turn, cmd in zip(turns, cmds, strict=True):
        if turn["kind"] == "reply" and turn.get("understood"):
            if sounding_at(coach, cmd.end, window=cmd.end - cmd.start + 0.2):
                continue  # the coach was talking: not a clean reply measurement
            onset = first_sound(coach, cmd.end, within=5.0)
            if onset is not None:
                replies.setdefault(turn["intent"], []).append((onset - cmd.end) * 1000)
        elif turn["kind"] == "barge":
            ref_cmd, req_cmd = cmds[turn["reference"]], cmds[turn["request"]]
            on1, on2 = first_sound(coach, ref_cmd.end), first_sound(coach, req_cmd.end)
            if on1 is None or on2 is None:
                not_silenced.append(turn["label"])
                continue
            reference = coach[round(on1 * RATE): round(on2 * RATE)]
            moved = departure(coach[round(on2 * RATE):], reference, cmd.start - on2)
            if moved is None or on2 + moved > cmd.end + 3.0:
                not_silenced.append(turn["label"])
                continue
            barges.setdefault(turn["intent"], []).append((on2 + moved - cmd.end) * 1000)
            barges_from_start.append((on2 + moved - cmd.start) * 1000)
    all_replies = [v for vs in replies.values() for v in vs]
    all_barges = [v for vs in barges.values() for v in vs]
    return {
        "reply_latency": {"all": summarize(all_replies),
                          "by_command": {k: summarize(v) for k, v in sorted(replies.items())}},
        "barge_in_to_silence": {"all": summarize(all_barges),
                                "from_command_start": summarize(barges_from_start),
                                "by_command": {k: summarize(v) for k, v in sorted(barges.items())},
                                "not_silenced": not_silenced},
    }


def run_session(workdir: Path, rate: int | None = None,
                keep: Path | None = None) -> tuple[np.ndarray, list[dict], dict]:
    """Run the measured session in a fresh room; (recording, turns, journal figures).

    ``keep``: a folder that receives a copy of the app's journal and output."""
    import time

    from tests.room import Room
    from tests.room_coach import CoachApp

    room = Room(workdir).open()
    turns: list[dict] = []
    try:
        app = CoachApp(room, rate=rate).start()

        def note(turn, kind: str, intent: str, before: int, **extra) -> None:
            app.wait_journal(lambda lines: len([x for x in lines if x.get("kind") == "intent"]) > before, 4)
            understood = app.intents()[before:before + 1] == [intent]
            turns.append(dict(label=turn.label, t_start=turn.t_start, t_end=turn.t_end, kind=kind,
                              intent=intent, understood=understood, **extra))

        for text, intent in SCRIPT:
            before = len(app.intents())
            turn = app.converse(text, quiet_hold=1.0, retries=0)
            note(turn, "reply", intent, before)
            if intent == "hold":
                app.wait_kind("hold_ended", 30)
                app.settle(expect_speech=3.0)
        reference = len(turns) - 1
        heard_during: dict[str, list[str]] = {}
        for text, intent in BARGES:
            before = len(app.intents())
            ask = room.say("what are the warning signs")
            note(ask, "request", "warning_signs", before)
            if room.wait_coach(True, 10):
                time.sleep(1.5)
            before, heard_before = len(app.intents()), len(app.kinds("heard"))
            barge = room.say(text, label=f"barge:{text}")
            note(barge, "barge", intent, before, reference=reference, request=len(turns) - 1)
            app.settle(hold=1.2, timeout=60)
            heard_during[f"barge:{text}"] = [
                f"{(h.get('data') or {}).get('text')} -> {(h.get('data') or {}).get('intent')}"
                f"{'' if (h.get('data') or {}).get('allowed', True) else ' (ignored)'}"
                for h in app.kinds("heard")[heard_before:]]
            if intent == "pause":
                before = len(app.intents())
                note(app.converse("resume", retries=0), "reply", "resume", before)
            if not app.alive():
                break
        time.sleep(1.0)
        said = [t["intent"] for t in turns]
        heard = app.kinds("heard")
        ignored = sum(1 for h in heard if not (h.get("data") or {}).get("allowed", True))
        figures = {"self_intents": _extra_intents([n for n in app.intents() if n != "unknown"], said),
                   "own_voice_ignored": ignored, "heard_during_barge_in": heard_during,
                   "commands": {"said": len(turns), "understood": sum(1 for t in turns if t["understood"])},
                   "not_understood": [t["label"] for t in turns if not t["understood"]]}
        app.stop()
        stereo = room.recorder.audio()
        if keep is not None:
            import shutil

            keep.mkdir(parents=True, exist_ok=True)
            shutil.copytree(app.journal_dir, keep / "journal", dirs_exist_ok=True)
            for path in (app.out_path, app.err_path):
                shutil.copy(path, keep / path.name)
    finally:
        room.close()
    return stereo, turns, figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run the measured session, analyze the recording, write bench/results/room.json."""
    import argparse
    import datetime as dt
    import os
    import tempfile

    from tests.room import unavailable_reason, write_wav

    p = argparse.ArgumentParser(prog="python -m bench.room_latency", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=RESULTS, help="the JSON file to write")
    p.add_argument("--keep", type=Path, default=None, help="also keep the room recording and turns here")
    p.add_argument("--rate", type=int, default=None, help="coach speaking rate (default: the app's)")
    args = p.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(f"room latency: skipped: {reason}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory(prefix="room-bench-") as tmp:
        stereo, turns, figures = run_session(Path(tmp), args.rate, args.keep)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        write_wav(args.keep / "room.wav", stereo)
        (args.keep / "turns.json").write_text(json.dumps(turns, indent=1))
    result = analyze(stereo, turns)
    result.update(figures)
    reply_median = result["reply_latency"]["all"].get("median_ms")
    barge_worst = result["barge_in_to_silence"]["all"].get("worst_ms")
    result["meets_targets"] = {
        "reply_median_ms": reply_median is not None and reply_median <= TARGETS["reply_median_ms"],
        "barge_in_ms": barge_worst is not None and barge_worst <= TARGETS["barge_in_ms"]
        and not result["barge_in_to_silence"]["not_silenced"],
        "self_intents": figures["self_intents"] <= TARGETS["self_intents"]}
    result["measured"] = {"when": dt.datetime.now().isoformat(timespec="seconds"), "cores": os.cpu_count(),
                          "coach_rate": args.rate or "app default",
                          "recording_s": round(len(stereo) / RATE, 1)}
    result["notes"] = NOTES
    write_results(result, args.out)
    print(json.dumps(result, indent=2))
    return 0


NOTES = [
    "Measured from the virtual room's recording (private PulseAudio, null sink 'room'): the partner plays "
    "on the left channel only, so partner = left - right and coach = right, sample-aligned; onsets and "
    "offsets from 5 ms frame energy above -50 dBFS (the room is digital: silence is zeros).",
    "Reply latency: end of the partner's command -> first sound of the coach's reply, for commands said "
    "while the coach was quiet and understood as scripted; it includes the mic's capture buffering (ALSA "
    "pulse plugin), Vosk endpointing or early commit, the session, TTS synthesis and playback buffering.",
    "Barge-in: the partner's command said 1.5 s into a second reading of the warning signs; 'silent' is "
    "when the coach's audio departs from the first, uninterrupted reading (quiet where the reference still "
    "speaks, or its reply in the reading's place), from the end of the command (and from its start). "
    "'not_silenced' lists barge-ins after which the coach read on. A cut that falls into a pause between "
    "words shows only where the reference speaks again, so the figure is an upper bound (by up to one "
    "pause, ~0.1-0.3 s); checked in the harness self-test against a stand-in coach killed at a known time. "
    "The app's own echo canceller (audio/aec.py, --echo-cancel app, the default) takes the coach's voice "
    "out of the microphone; the barge-in phrase is found inside what is left (skill/app/barge_in.py).",
    "self_intents: intents the session acted on that the partner did not say (taken from the coach's own "
    "voice or misheard); own_voice_ignored: utterances the echo guard refused.",
    "Partner: espeak-ng en-us at 160 wpm, peak -4.4 dBFS on the left channel; the mic hears it at half "
    "level (stereo -> mono downmix), the coach at full level.",
    "The coach plays into its own null sink 'speaker' (the default output), looped back into the room "
    "(module-loopback, latency_msec=30; about 40 ms measured), as a laptop's speaker plays into the air "
    "its microphone hears (the sound server's canceller, --echo-cancel server, also needs a sink of its "
    "own): the reply and barge-in figures include those ~40 ms, which a real room's air (about 1 ms) does "
    "not add. The loopback resamples adaptively, so the echo path drifts by about a sample a second: the "
    "app's canceller has to follow it, as it would a USB microphone's clock.",
]


if __name__ == "__main__":
    sys.exit(main())
