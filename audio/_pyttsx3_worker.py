"""The pyttsx3 worker process: run as a script by ``audio.tts_pyttsx3`` (stdlib and pyttsx3 only).

Usage: ``python _pyttsx3_worker.py DRIVER RATE VOICE``. The rate and voice are set once, before the
first synthesis: with pyttsx3 2.99's espeak driver a rate or volume set after the first ``runAndWait``
is applied late or not at all, so the parent starts a new worker when the rate or voice changes and
scales the samples itself for the volume (the worker always renders at full volume).

Protocol on stdin/stdout: one JSON request line ``[text]`` in, one JSON header line
``{"status": "ok"|"err", "n": bytes, "error": str}`` out, followed by ``n`` bytes of WAV. ``null`` quits.
Everything else the engine prints goes to /dev/null, so stdout stays a clean channel.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from pathlib import Path


def main() -> int:
    """Serve render requests until stdin closes or a ``null`` request arrives."""
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # pyttsx3 prints "Audio saved to ..."; libespeak may write too
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the whole process life

    def send(header: dict, payload: bytes = b"") -> None:
        out.write(json.dumps(header).encode() + b"\n" + payload)

    driver = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 175
    voice = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    done = threading.Event()
    try:
        import pyttsx3

        engine = pyttsx3.init(driver) if driver else pyttsx3.init()
        if voice:
            engine.setProperty("voice", voice)
        engine.setProperty("rate", rate)
        engine.setProperty("volume", 1.0)
        engine.connect("finished-utterance", lambda name, completed: completed and done.set())
    except Exception as exc:
        send({"status": "err", "n": 0, "error": f"pyttsx3 cannot start: {exc}"})
        return 1
    send({"status": "ready", "n": 0})
    workdir = Path(tempfile.mkdtemp(prefix="coach-tts-"))
    wav = workdir / "say.wav"
    try:
        for line in sys.stdin.buffer:
            req = json.loads(line)
            if req is None:
                break
            text = req[0]
            try:
                wav.unlink(missing_ok=True)
                done.clear()
                engine.save_to_file(text, str(wav))
                engine.runAndWait()
                # the espeak driver may return before its callback wrote the file
                if not done.wait(10.0) or not wav.exists():
                    raise RuntimeError("no audio was written")
                data = wav.read_bytes()
                send({"status": "ok", "n": len(data)}, data)
            except Exception as exc:
                send({"status": "err", "n": 0, "error": f"pyttsx3 failed: {exc}"})
    finally:
        wav.unlink(missing_ok=True)
        workdir.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
