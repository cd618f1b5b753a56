"""Speech output: speakers that play, write a WAV or print, and ``open_speaker`` that picks one.

``Pyttsx3Speaker`` / ``EspeakSpeaker`` render each sentence (pyttsx3 in a worker process, espeak-ng as
the fallback, each under a timeout) and play the PCM through sounddevice; the first sentence is
rendered and queued before the rest, so speech starts after one short render. ``stop()`` cuts playback
within one 20 ms block. Listeners (e.g. ``audio.echo_guard.EchoGuard``) get ``speech_started(text, at)``
when an utterance's first sample reaches the device and ``speech_ended(at)`` when the last one has
played or speech was cut off; times are ``time.monotonic()`` seconds.
"""

from __future__ import annotations

import contextlib
import queue
import re
import sys
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

import numpy as np

from audio.errors import DeviceError, SpeakerError
from audio.protocols import SAMPLE_RATE, InstantSpeaker, Speaker
from audio.tts_espeak import (
    RATE_RANGE,
    EspeakRenderer,
    RenderChain,
    Renderer,
    VoiceSettings,
    find_espeak,
)
from audio.tts_player import SoundPlayer, resample
from audio.tts_pyttsx3 import Pyttsx3Renderer

__all__ = [
    "RATE_RANGE", "EspeakSpeaker", "PlaybackSpeaker", "PrintSpeaker", "Pyttsx3Speaker", "SpeechListener",
    "WavFileSpeaker", "make_chain", "open_speaker", "split_sentences",
]  # fmt: skip

ENGINES = ("auto", "pyttsx3", "espeak", "print")
"""Values of ``open_speaker(engine=...)``."""

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


class SpeechListener(Protocol):
    """Told when the coach's audio starts and stops (``EchoGuard`` is one)."""

    def speech_started(self, text: str, at: float) -> None:
        """Audio for ``text`` started at ``at``."""
        ...

    def speech_ended(self, at: float) -> None:
        """Audio stopped at ``at``."""
        ...


def split_sentences(text: str) -> list[str]:
    """``text`` cut after . ! ? ; : into non-empty sentences (so the first can play while the rest render)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def make_chain(engine: str = "auto", timeout_s: float = 3.0, on_fallback: Callable[[str], None] | None = None,
               voice: VoiceSettings | None = None) -> RenderChain:
    """The renderers for ``engine``: auto/pyttsx3 -> pyttsx3 then espeak-ng; espeak -> espeak-ng only.

    The pyttsx3 worker is started here (for ``voice``), so the first ``say()`` does not wait for it.
    """
    renderers: list[Renderer] = []
    problems = []
    if engine in ("auto", "pyttsx3"):
        py = Pyttsx3Renderer(timeout_s=timeout_s + 1.0)
        try:
            py.start(voice)
            renderers.append(py)
        except SpeakerError as exc:
            problems.append(str(exc))
            if engine == "pyttsx3" and not find_espeak():
                raise
    if find_espeak():
        renderers.append(EspeakRenderer(timeout_s=timeout_s))
    elif engine == "espeak" or not renderers:
        raise SpeakerError("espeak-ng is not installed (apt install espeak-ng)"
                           + (f"; {problems[0]}" if problems else ""))
    chain = RenderChain(renderers, timeout_s=timeout_s, on_fallback=on_fallback)
    chain.events.extend(problems)
    return chain


class PlaybackSpeaker:
    """Renders with a ``RenderChain`` in a background thread and plays through a ``SoundPlayer``."""

    def __init__(self, renderer: RenderChain, player: SoundPlayer | None = None,
                 device: int | str | None = None, rate: int = 175, volume: float = 0.9,
                 voice: str | None = None, fallback_stream: TextIO | None = None) -> None:
        self.renderer = renderer
        self.player = player if player is not None else SoundPlayer(device)
        self.voice = VoiceSettings.make(rate, volume, voice)
        self.fallback_stream = fallback_stream
        self.latencies: list[float] = []
        self._listeners: list[SpeechListener] = []
        self._jobs: queue.Queue[tuple[int, str, VoiceSettings, float] | None] = queue.Queue()
        self._active: dict[int, tuple[str, float]] = {}
        self._playing: set[int] = set()
        self._next_id = 0
        self._cond = threading.Condition()
        self._closed = False
        self._render_thread = threading.Thread(target=self._render_loop, name="tts-render-loop", daemon=True)
        self._event_thread = threading.Thread(target=self._event_loop, name="tts-events", daemon=True)
        self._render_thread.start()
        self._event_thread.start()

    def add_listener(self, listener: SpeechListener) -> None:
        """Tell ``listener`` when speech starts and ends."""
        self._listeners.append(listener)

    def say(self, text: str) -> None:
        """Queue ``text`` after what is being said; returns at once."""
        if not text.strip() or self._closed:
            return
        with self._cond:
            uid = self._next_id
            self._next_id += 1
            self._active[uid] = (text, time.monotonic())
            self._jobs.put((uid, text, self.voice, time.monotonic()))

    def stop(self) -> None:
        """Cut off what is being said and drop everything queued."""
        with self._cond:
            try:
                while True:
                    self._jobs.get_nowait()
            except queue.Empty:
                pass
            self._active.clear()
            self.player.clear()
            was_playing = bool(self._playing)
            self._playing.clear()
            self._cond.notify_all()
        if was_playing:
            self._notify_ended(time.monotonic() + self.player.latency_s)

    def speaking(self) -> bool:
        """True from ``say()`` until the last sample played (or ``stop()``)."""
        with self._cond:
            return bool(self._active)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is left to say; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._active, timeout)

    def set_voice(self, rate: int, volume: float) -> None:
        """Rate (words a minute, clamped to ``RATE_RANGE``) and volume (0-1) for what is said next."""
        self.voice = VoiceSettings.make(rate, volume, self.voice.voice)
        self.renderer.prepare(self.voice)

    def close(self) -> None:
        """Stop speaking, end the threads, close the stream and the engines."""
        self.stop()
        self._closed = True
        self._jobs.put(None)
        self._render_thread.join(2.0)
        self._event_thread.join(2.0)
        self.player.close()
        self.renderer.close()

    # -- background threads -------------------------------------------------------------------------
    def _render_loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            uid, text, voice, _ = job
            sentences = split_sentences(text) or [text]
            for i, sentence in enumerate(sentences):
                if uid not in self._active:
                    break
                try:
                    samples, rate = self.renderer.render(sentence, voice)
                    with self._cond:
                        if uid in self._active:
                            self.player.play(uid, samples, rate, i == 0, i == len(sentences) - 1)
                except (SpeakerError, DeviceError) as exc:
                    self._print_fallback(" ".join(sentences[i:]), str(exc))
                    with self._cond:
                        if i > 0:  # end the utterance after the sentences already queued
                            with contextlib.suppress(SpeakerError, DeviceError):
                                self.player.play(uid, np.zeros(1, np.int16), SAMPLE_RATE, False, True)
                                break
                        self._active.pop(uid, None)
                        self._playing.discard(uid)
                        self._cond.notify_all()
                    break

    def _print_fallback(self, text: str, why: str) -> None:
        stream = self.fallback_stream or sys.stderr
        print(f"[speech failed: {why}] {text}".rstrip(), file=stream, flush=True)

    def _event_loop(self) -> None:
        while not self._closed:
            try:
                kind, uid, at = self.player.events.get(timeout=0.2)
            except queue.Empty:
                if self._playing and not self.player.alive():  # the device vanished mid-sentence
                    self._print_fallback("", "audio output stopped")
                    self.stop()
                continue
            with self._cond:
                entry = self._active.get(uid) if uid is not None else None
                if entry is None:
                    continue
                if kind == "start":
                    self._playing.add(uid)
                    self.latencies.append(float(at) - entry[1])
                elif kind == "end":
                    self._active.pop(uid, None)
                    self._playing.discard(uid)
                    done = not self._active
                    self._cond.notify_all()
            if kind == "start":
                for listener in self._listeners:
                    listener.speech_started(entry[0], float(at))
            elif kind == "end" and done:
                self._notify_ended(float(at) + self.player.latency_s)

    def _notify_ended(self, at: float) -> None:
        for listener in self._listeners:
            listener.speech_ended(at)


class Pyttsx3Speaker(PlaybackSpeaker):
    """pyttsx3 (worker process, timeout, restart) with espeak-ng as the fallback, played via sounddevice."""

    def __init__(self, device: int | str | None = None, rate: int = 175, volume: float = 0.9,
                 voice: str | None = None, timeout_s: float = 3.0) -> None:
        chain = make_chain("pyttsx3", timeout_s, voice=VoiceSettings.make(rate, volume, voice))
        super().__init__(chain, SoundPlayer(device), rate=rate, volume=volume, voice=voice)


class EspeakSpeaker(PlaybackSpeaker):
    """espeak-ng run per sentence, played via sounddevice."""

    def __init__(self, device: int | str | None = None, rate: int = 175, volume: float = 0.9,
                 voice: str | None = None, timeout_s: float = 3.0) -> None:
        super().__init__(make_chain("espeak", timeout_s), SoundPlayer(device), rate=rate, volume=volume,
                         voice=voice)


class WavFileSpeaker(InstantSpeaker):
    """Appends everything said to a 16 kHz mono WAV (``--speak-to FILE.wav``), ``gap_s`` of silence between.

    The file is a valid WAV after every ``say()``; nothing is played. Listeners are told at once.
    """

    def __init__(self, path: str | Path, renderer: RenderChain | None = None, rate: int = 175,
                 volume: float = 0.9, voice: str | None = None, gap_s: float = 0.5) -> None:
        self.path = Path(path)
        self.voice = VoiceSettings.make(rate, volume, voice)
        self.renderer = renderer if renderer is not None else make_chain("auto", voice=self.voice)
        self.gap_s = gap_s
        self.seconds = 0.0
        self._listeners: list[SpeechListener] = []
        try:
            self._file = open(self.path, "wb")  # noqa: SIM115 - kept open for the session
        except OSError as exc:
            raise SpeakerError(f"cannot write speech to {self.path}: {exc.strerror or exc}") from exc
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self._said = 0

    def add_listener(self, listener: SpeechListener) -> None:
        """Tell ``listener`` about each utterance (instantaneous)."""
        self._listeners.append(listener)

    def say(self, text: str) -> None:
        """Render ``text`` and append it (after a gap) to the WAV."""
        if not text.strip():
            return
        samples, rate = self.renderer.render(text, self.voice)
        pcm = resample(samples, rate, SAMPLE_RATE)
        if self._said:
            pcm = np.concatenate([np.zeros(int(self.gap_s * SAMPLE_RATE), np.int16), pcm])
        self._wav.writeframes(pcm.astype("<i2").tobytes())
        self._said += 1
        self.seconds += pcm.size / SAMPLE_RATE
        now = time.monotonic()
        for listener in self._listeners:
            listener.speech_started(text, now)
            listener.speech_ended(now)

    def set_voice(self, rate: int, volume: float) -> None:
        """Rate and volume for what is said next (clamped)."""
        self.voice = VoiceSettings.make(rate, volume, self.voice.voice)

    def close(self) -> None:
        """Finish the WAV file and close the engines."""
        if self._wav is not None:
            self._wav.close()
            self._file.close()
            self._wav = None  # type: ignore[assignment]
        self.renderer.close()


class PrintSpeaker(InstantSpeaker):
    """Prints each reply as a line on ``stream`` (stdout by default): no audio output at all."""

    def __init__(self, stream: TextIO | None = None, prefix: str = "") -> None:
        self.stream = stream
        self.prefix = prefix
        self.rate, self.volume = 175, 0.9
        self._listeners: list[SpeechListener] = []

    def add_listener(self, listener: SpeechListener) -> None:
        """Accepted for symmetry; printed text is never heard, so listeners are not told."""
        self._listeners.append(listener)

    def say(self, text: str) -> None:
        """Print ``text``."""
        if text.strip():
            print(f"{self.prefix}{text}", file=self.stream or sys.stdout, flush=True)

    def set_voice(self, rate: int, volume: float) -> None:
        """Remembered only (nothing to apply it to)."""
        settings = VoiceSettings.make(rate, volume)
        self.rate, self.volume = settings.rate, settings.volume

    def close(self) -> None:
        """Nothing to release."""


def open_speaker(engine: str = "auto", device: int | str | None = None, speak_to: str | Path | None = None,
                 rate: int = 175, volume: float = 0.9, voice: str | None = None, timeout_s: float = 3.0,
                 stream: TextIO | None = None) -> tuple[Speaker, str | None]:
    """The speaker for these settings and, when it fell back to printing, the one-line reason why.

    ``engine`` is auto, pyttsx3, espeak or print; ``speak_to`` writes a WAV instead of playing. ``auto``
    falls back to printed replies on any problem; an explicitly chosen engine that is not installed raises
    SpeakerError. No output device always falls back to printing (with the reason).
    """
    if engine not in ENGINES:
        raise SpeakerError(f"unknown speech engine {engine!r} (choose from {', '.join(ENGINES)})")
    if engine == "print":
        return PrintSpeaker(stream), None
    try:
        chain = make_chain(engine, timeout_s, voice=VoiceSettings.make(rate, volume, voice))
    except SpeakerError as exc:
        if engine != "auto":
            raise
        return PrintSpeaker(stream), f"speech output unavailable ({exc}); printing replies instead"
    if speak_to is not None:
        try:
            return WavFileSpeaker(speak_to, chain, rate, volume, voice), None
        except SpeakerError:
            chain.close()
            raise
    try:
        player = SoundPlayer(device)
    except (DeviceError, SpeakerError) as exc:
        chain.close()
        return PrintSpeaker(stream), f"{exc}; printing replies instead"
    return PlaybackSpeaker(chain, player, rate=rate, volume=volume, voice=voice), None
