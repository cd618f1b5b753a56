"""pyttsx3 (espeak-ng driver on Linux) rendering sentences to WAV in a worker process.

pyttsx3's ``runAndWait`` loop can hang or refuse re-entry ("run loop already started") and libespeak
can only be initialised once per process, so the engine lives in its own process
(``audio/_pyttsx3_worker.py``, started with the running interpreter): one request at a time over a pipe,
``save_to_file`` + ``runAndWait`` per sentence (the espeak driver writes 22050 Hz mono WAV and never
touches the sound card for that). A request that does not answer within the timeout gets the process
killed; the next request starts a fresh one. A new rate or voice also starts a fresh worker (pyttsx3
2.99's espeak driver applies a rate changed after the first utterance late or never), which costs
about 0.1 s once per change.
"""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import numpy as np

from audio.errors import SpeakerError
from audio.tts_espeak import RendererBusy, VoiceSettings, parse_wav_bytes

WORKER = Path(__file__).with_name("_pyttsx3_worker.py")


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    """``n`` bytes from ``stream`` (EOFError if it ends first)."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            raise EOFError("worker closed its output")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


class Pyttsx3Renderer:
    """Renders with pyttsx3 in a worker process that is restarted when it hangs or dies."""

    name = "pyttsx3"

    def __init__(self, driver: str | None = "espeak" if sys.platform.startswith("linux") else None,
                 timeout_s: float = 3.0, start_timeout_s: float = 15.0) -> None:
        self.driver = driver
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.starts = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._settings: tuple[int, str] = (175, "en-us")
        self._lock = threading.RLock()
        self._preparing = False

    def _header(self, timeout_s: float) -> dict:
        """The next header line from the worker, waiting at most ``timeout_s``."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        if not ready:
            raise TimeoutError
        line = proc.stdout.readline()
        if not line:
            raise EOFError("worker exited")
        return json.loads(line)

    def start(self, voice: VoiceSettings | None = None) -> None:
        """Start the worker now (otherwise it starts on the first render); restart it for a new rate/voice."""
        with self._lock:
            self._start(voice)

    def prepare(self, voice: VoiceSettings) -> None:
        """Get a worker for ``voice`` ready ahead of the next render (SpeakerError is left for render)."""
        self._preparing = True
        try:
            with contextlib.suppress(SpeakerError):
                self.start(voice)
        finally:
            self._preparing = False

    def wait_ready(self, timeout_s: float) -> None:
        """Wait (at most ``timeout_s``) until no worker is being started."""
        if self._lock.acquire(timeout=timeout_s):
            self._lock.release()

    def _start(self, voice: VoiceSettings | None) -> None:
        wanted = (voice.rate, voice.voice) if voice is not None else self._settings
        if self._proc is not None and self._proc.poll() is None and wanted == self._settings:
            return
        self.abort()
        self._settings = wanted
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-u", str(WORKER), self.driver or "", str(wanted[0]), wanted[1]],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        except OSError as exc:
            raise SpeakerError(f"cannot start the pyttsx3 worker: {exc}") from exc
        self.starts += 1
        try:
            header = self._header(self.start_timeout_s)
        except TimeoutError as exc:
            self.abort()
            raise SpeakerError(f"pyttsx3 did not start within {self.start_timeout_s:g} s") from exc
        except (EOFError, ValueError) as exc:
            self.abort()
            raise SpeakerError("pyttsx3 worker exited while starting") from exc
        if header.get("status") != "ready":
            self.abort()
            raise SpeakerError(str(header.get("error", "pyttsx3 cannot start")))

    def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        """Render ``text`` to (int16 samples, rate) in the worker; SpeakerError on timeout or failure.

        RendererBusy (at once) while ``prepare()`` is still starting a worker, so that a chain says this
        sentence with the next engine instead of waiting ~0.2 s for the new worker.
        """
        if not self._lock.acquire(blocking=not self._preparing):
            raise RendererBusy("pyttsx3 is restarting for new voice settings")
        try:
            return self._render(text, voice)
        finally:
            self._lock.release()

    def _render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        self._start(voice)
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        req = json.dumps([text]).encode() + b"\n"
        try:
            proc.stdin.write(req)
            header = self._header(self.timeout_s)
            payload = _read_exactly(proc.stdout, int(header.get("n", 0)))
        except TimeoutError as exc:
            self.abort()
            raise SpeakerError(f"pyttsx3 did not answer within {self.timeout_s:g} s") from exc
        except (EOFError, OSError, ValueError) as exc:
            self.abort()
            raise SpeakerError(f"pyttsx3 worker died: {exc}") from exc
        if header.get("status") != "ok":
            raise SpeakerError(str(header.get("error", "pyttsx3 failed")))
        samples, rate = parse_wav_bytes(payload)
        if voice.volume < 1.0:
            samples = (samples.astype(np.float32) * voice.volume).astype(np.int16)
        return samples, rate

    def abort(self) -> None:
        """Kill the worker (a new one starts on the next render)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(5.0)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()

    def close(self) -> None:
        """Ask the worker to quit, then make sure it is gone."""
        proc = self._proc
        if proc is not None and proc.poll() is None and proc.stdin is not None:
            try:
                proc.stdin.write(b"null\n")
                proc.wait(1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.abort()
