"""Rendering text to PCM: the espeak-ng command line, the shared voice settings and the fallback chain.

A renderer turns one sentence into (int16 samples, sample rate); it never plays anything. The speakers
play what renderers return, so a renderer that hangs only costs its timeout, and a different renderer
takes over (``RenderChain``).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from audio.errors import SpeakerError

RATE_RANGE: tuple[int, int] = (80, 320)
"""Speaking rates (words a minute) the speakers accept; others are clamped into it."""

DEFAULT_VOICE = "en-us"
"""The espeak-ng voice used unless one is given (the Vosk toy model knows en-us voices)."""


@dataclass(frozen=True)
class VoiceSettings:
    """Rate (words a minute), volume (0-1) and espeak-ng voice name, clamped into range by ``make``."""

    rate: int = 175
    volume: float = 0.9
    voice: str = DEFAULT_VOICE

    @classmethod
    def make(cls, rate: int, volume: float, voice: str | None = None) -> VoiceSettings:
        """Settings with ``rate`` and ``volume`` clamped into bounds."""
        lo, hi = RATE_RANGE
        return cls(int(min(max(int(rate), lo), hi)), float(min(max(float(volume), 0.0), 1.0)),
                   voice or DEFAULT_VOICE)


class RendererBusy(SpeakerError):
    """The renderer is getting ready (e.g. restarting for a new rate): use the next one this time."""


class Renderer(Protocol):
    """Turns one sentence into audio."""

    name: str

    def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        """Return (mono int16 samples, sample rate); SpeakerError when it cannot."""
        ...

    def close(self) -> None:
        """Release the engine (a worker process, ...)."""
        ...


def parse_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Samples and rate of a 16-bit mono WAV given as bytes, tolerating the bogus sizes of a streamed WAV."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeakerError("speech engine returned no WAV audio")
    pos, rate = 12, 0
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if cid == b"fmt ":
            channels, rate = struct.unpack("<HI", data[body + 2 : body + 8])
            bits = struct.unpack("<H", data[body + 14 : body + 16])[0]
            if channels != 1 or bits != 16:
                raise SpeakerError(f"speech engine returned {channels}-channel {bits}-bit audio")
        elif cid == b"data":
            raw = data[body : body + min(size, len(data) - body)]
            raw = raw[: len(raw) // 2 * 2]
            return np.frombuffer(raw, dtype="<i2").astype(np.int16), rate
        pos = body + size + (size & 1)
    raise SpeakerError("speech engine returned a WAV without audio data")


def find_espeak() -> str | None:
    """Path of espeak-ng (or old espeak), None when neither is installed."""
    return shutil.which("espeak-ng") or shutil.which("espeak")


class EspeakRenderer:
    """espeak-ng run once per sentence (``--stdout``): about 10 ms a sentence, no state to hang."""

    name = "espeak-ng"

    def __init__(self, binary: str | None = None, timeout_s: float = 5.0) -> None:
        found = binary or find_espeak()
        if not found:
            raise SpeakerError("espeak-ng is not installed (apt install espeak-ng)")
        self.binary = found
        self.timeout_s = timeout_s

    def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        """Run espeak-ng on ``text`` (given on stdin) and return its audio."""
        cmd = [self.binary, "--stdout", "-s", str(voice.rate), "-a", str(round(voice.volume * 100)),
               "-v", voice.voice]
        try:
            proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True,
                                  timeout=self.timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            raise SpeakerError(f"espeak-ng took more than {self.timeout_s:g} s") from exc
        except OSError as exc:
            raise SpeakerError(f"cannot run {self.binary}: {exc}") from exc
        if proc.returncode != 0 or not proc.stdout:
            why = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SpeakerError(f"espeak-ng failed: {why[0] if why else f'exit code {proc.returncode}'}")
        return parse_wav_bytes(proc.stdout)

    def close(self) -> None:
        """Nothing to release."""


def _call_with_timeout(fn: Callable[[], tuple[np.ndarray, int]], timeout_s: float) -> tuple[np.ndarray, int]:
    """Run ``fn`` in a daemon thread; SpeakerError if it raises or does not return within ``timeout_s``."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["ok"] = fn()
        except BaseException as exc:
            box["err"] = exc

    worker = threading.Thread(target=run, name="tts-render", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise SpeakerError(f"speech engine did not answer within {timeout_s:g} s")
    if "err" in box:
        err = box["err"]
        if isinstance(err, SpeakerError):
            raise err
        raise SpeakerError(f"speech engine failed: {err}") from err  # type: ignore[arg-type]
    return box["ok"]  # type: ignore[return-value]


class RenderChain:
    """Try renderers in order, each under a timeout; a failed one rests ``cooldown_s`` before a retry.

    A renderer that timed out gets ``abort()`` called if it has one (the pyttsx3 worker is killed and
    restarted on next use). ``events`` keeps one line per fallback for the log.
    """

    def __init__(self, renderers: Sequence[Renderer], timeout_s: float = 3.0, cooldown_s: float = 30.0,
                 on_fallback: Callable[[str], None] | None = None) -> None:
        if not renderers:
            raise SpeakerError("no speech engine available")
        self.renderers = list(renderers)
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s
        self.on_fallback = on_fallback
        self.events: list[str] = []
        self._resting_until: dict[int, float] = {}
        self.last_renderer: str | None = None

    @property
    def name(self) -> str:
        """Names of the renderers, first choice first."""
        return "+".join(r.name for r in self.renderers)

    def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        """Audio from the first renderer that works; SpeakerError (last failure) when none does.

        A renderer that is busy getting ready (RendererBusy) is skipped without penalty; if nothing else
        works, the chain waits for it once.
        """
        now = time.monotonic()
        candidates = [(i, r) for i, r in enumerate(self.renderers) if self._resting_until.get(i, 0.0) <= now]
        if not candidates:  # every engine failed recently: try them all again rather than go silent
            candidates = list(enumerate(self.renderers))
        failures: list[SpeakerError] = []
        busy: list[tuple[int, Renderer]] = []
        for i, renderer in candidates:
            out = self._attempt(i, renderer, text, voice, failures, busy)
            if out is not None:
                return out
        for i, renderer in busy:
            wait_ready = getattr(renderer, "wait_ready", None)
            if callable(wait_ready):
                wait_ready(self.timeout_s)
            out = self._attempt(i, renderer, text, voice, failures, [])
            if out is not None:
                return out
        raise failures[-1] if failures else SpeakerError("no speech engine answered")

    def _attempt(self, i: int, renderer: Renderer, text: str, voice: VoiceSettings,
                 failures: list[SpeakerError], busy: list[tuple[int, Renderer]],
                 ) -> tuple[np.ndarray, int] | None:
        """One renderer under the timeout: its audio, or None after noting the failure."""
        try:
            out = _call_with_timeout(lambda: renderer.render(text, voice), self.timeout_s)
        except RendererBusy as exc:
            failures.append(exc)
            busy.append((i, renderer))
            return None
        except SpeakerError as exc:
            failures.append(exc)
            self._resting_until[i] = time.monotonic() + self.cooldown_s
            abort = getattr(renderer, "abort", None)
            if callable(abort):
                abort()
            line = f"{renderer.name}: {exc}"
            self.events.append(line)
            if self.on_fallback is not None:
                self.on_fallback(line)
            return None
        self._resting_until.pop(i, None)
        self.last_renderer = renderer.name
        return out

    def prepare(self, voice: VoiceSettings) -> None:
        """Let renderers that keep state (the pyttsx3 worker) get ready for ``voice``, in the background."""
        for r in self.renderers:
            prepare = getattr(r, "prepare", None)
            if callable(prepare):
                threading.Thread(target=prepare, args=(voice,), name="tts-prepare", daemon=True).start()

    def close(self) -> None:
        """Close every renderer."""
        for r in self.renderers:
            r.close()
