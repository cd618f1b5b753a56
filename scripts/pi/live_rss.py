"""Peak RSS of a live session: ``massage-coach session`` with a real microphone stream, natively.

Uses the tests' virtual room (tests/room.py: a private PulseAudio server whose null sink is the room; the
coach's PortAudio microphone hears the partner's espeak-ng speech) and talks the coach through a few
commands, then reads the app's ``VmHWM`` (peak RSS) from /proc before ending it. Run with the project's
venv python from the repository root:

  .venv/bin/python scripts/pi/live_rss.py [--out FILE]

Prints one JSON object: {"peak_rss_mb": ..., "heard": [...], "ok": ...}; "skipped" with the reason where
no PulseAudio server can run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMANDS = ("start", "no", "next", "what are the warning signs", "switch to palms")


def vm_hwm_mb(pid: int) -> float | None:
    """The process's peak resident set size (VmHWM) in MB, None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def measure() -> dict:
    """Run the live session in a virtual room; its peak RSS and what it heard."""
    sys.path.insert(0, str(REPO))
    import pytest

    from tests.room import Room, unavailable_reason
    from tests.room_coach import CoachApp, heard_texts

    reason = unavailable_reason()
    if reason:
        return {"skipped": reason, "ok": False}
    with tempfile.TemporaryDirectory(prefix="massage-coach-live-") as tmp:
        room = Room(Path(tmp))
        try:
            room.open()
        except (RuntimeError, OSError) as exc:
            room.close()
            return {"skipped": f"no PulseAudio server: {exc}", "ok": False}
        try:
            app = CoachApp(room).start()
            for text in COMMANDS:
                app.converse(text, reply_timeout=30.0)  # generous: emulated runs are slow
            peak = vm_hwm_mb(app.proc.pid)
            heard = [f"{t} -> {i}" for t, i, _ in heard_texts(app)]
            app.stop()
            return {"peak_rss_mb": peak, "heard": heard, "command": " ".join(app.command()[1:]),
                    "ok": peak is not None and len(heard) >= len(COMMANDS) - 1}
        except (AssertionError, pytest.skip.Exception) as exc:
            return {"skipped": str(exc)[:300], "ok": False}
        finally:
            room.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    result = measure()
    text = json.dumps(result)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
