"""``massage-coach demo``: the whole loop on a machine with no microphone or speaker.

A scripted partner speaks commands (espeak-ng through ``audio.synth``); the real recognizer hears them,
streamed in 40 ms chunks through the same ``LiveLoop`` (recognizer, matcher, echo guard, session) as a live
session; the coach's replies are rendered by the speech engine onto the same timeline. The clock is the audio
itself: every chunk fed advances it by 40 ms, so a 15-second hold takes 15 s of (silent) audio, decoded in a
fraction of that, and the timings printed are audio time. The conversation is written to a WAV file.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from audio.protocols import SAMPLE_RATE
from skill.app.engines import build_recognizer, choose_engine, load_language
from skill.app.live import Coach, Heard, LiveLoop
from skill.app.messages import demo_data
from skill.app.settings import Settings
from skill.app.textmode import open_session
from skill.clock import FakeClock

CHUNK_MS = 40
CHUNK = SAMPLE_RATE * CHUNK_MS // 1000
PARTNER_VOICE = "en-us"
REPLY_TIMEOUT_S = 8.0
"""How long the partner waits for an answer before saying the next line anyway."""
MAX_WAIT_S = 60.0


@dataclass(frozen=True)
class Line:
    """One line of the script: what the partner says, the intent it should be understood as, how many
    coach replies to wait for, and the pause before it. ``over_coach`` lines are said while the coach is
    still answering the previous line (a barge-in): ``gap_s`` after its answer began."""

    say: str
    expect: str | None = None
    until_coach: int = 1
    gap_s: float = 0.6
    over_coach: bool = False


def load_script() -> list[Line]:
    """The partner's lines from ``skill/data/app.en.yaml``."""
    return [Line(str(e["say"]), e.get("expect"), int(e.get("until_coach", 1)), float(e.get("gap_s", 0.6)),
                 bool(e.get("over_coach", False)))
            for e in demo_data()["script"]]


class TimelineSpeaker:
    """A ``Speaker`` that renders the coach's speech onto the demo's audio timeline instead of playing it.

    Speech starts at the clock's current time (or after what is already being said) and lasts as long as
    its audio; ``speaking()`` is true until the clock passes its end; ``stop()`` cuts it at the current time.
    """

    def __init__(self, clock: FakeClock, renderer: Any, rate: int = 175, volume: float = 0.9,
                 voice: str | None = None) -> None:
        from audio.tts_espeak import VoiceSettings

        self.clock = clock
        self.renderer = renderer
        self.voice = VoiceSettings.make(rate, volume, voice)
        self.clips: list[tuple[float, np.ndarray]] = []
        self.render_s = 0.0
        self._end = 0.0
        self._listeners: list[Any] = []

    def add_listener(self, listener: Any) -> None:
        """Tell ``listener`` (the echo guard) when speech starts and ends, in clock time."""
        self._listeners.append(listener)

    def say(self, text: str) -> None:
        """Render ``text`` and place it on the timeline."""
        from audio.tts_player import _resample

        t0 = time.perf_counter()
        samples, rate = self.renderer.render(text, self.voice)
        self.render_s += time.perf_counter() - t0
        pcm = _resample(np.asarray(samples, dtype=np.int16), rate, SAMPLE_RATE)
        start = max(self.clock.now(), self._end)
        self._end = start + pcm.size / SAMPLE_RATE
        self.clips.append((start, pcm))
        for listener in self._listeners:
            listener.speech_started(text, start)
            listener.speech_ended(self._end)

    def audio_between(self, start_s: float, n: int) -> np.ndarray:
        """The coach's audio for ``n`` samples from clock time ``start_s`` (int32, zeros where silent)."""
        out = np.zeros(n, dtype=np.int32)
        first = round(start_s * SAMPLE_RATE)
        for clip_start, pcm in self.clips:
            i = round(clip_start * SAMPLE_RATE)
            lo, hi = max(first, i), min(first + n, i + pcm.size)
            if lo < hi:
                out[lo - first:hi - first] += pcm[lo - i:hi - i]
        return out

    def stop(self) -> None:
        """Cut the speech at the current time."""
        now = self.clock.now()
        if now >= self._end:
            return
        kept = []
        for start, pcm in self.clips:
            if start >= now:
                continue
            keep = int((now - start) * SAMPLE_RATE)
            kept.append((start, pcm[:keep]))
        self.clips = kept
        self._end = now
        for listener in self._listeners:
            listener.speech_ended(now)

    def speaking(self) -> bool:
        """True until the clock passes the end of the last speech."""
        return self.clock.now() < self._end

    def wait(self, timeout: float | None = None) -> bool:
        """The timeline is driven by the partner; nothing to wait for."""
        return True

    def set_voice(self, rate: int, volume: float) -> None:
        """Rate and volume for what is said next."""
        from audio.tts_espeak import VoiceSettings

        self.voice = VoiceSettings.make(rate, volume, self.voice.voice)

    def close(self) -> None:
        """Close the renderer."""
        self.renderer.close()


class Partner:
    """The scripted partner: an ``AudioSource`` whose chunks drive the clock (40 ms of audio each)."""

    def __init__(self, script: list[Line], clock: FakeClock, speaker: TimelineSpeaker, coach: Coach,
                 on_line: Any = None, echo: float = 0.0) -> None:
        self.script = script
        self.echo = echo
        """How much of the coach's voice reaches the microphone (0 = none, 1 = as loud as rendered)."""
        self.on_line = on_line
        self.clock = clock
        self.speaker = speaker
        self.coach = coach
        self.said: list[tuple[Line, float, float]] = []
        """(line, start, end) in clock time, for each line spoken."""
        self.track: list[np.ndarray] = []
        self.says = 0
        self._closed = False

    def _feed(self, pcm: np.ndarray) -> Iterator[bytes]:
        for i in range(0, pcm.size, CHUNK):
            chunk = pcm[i:i + CHUNK]
            heard = chunk
            if self.echo > 0:
                coach = self.speaker.audio_between(self.clock.now(), chunk.size)
                heard = np.clip(chunk + self.echo * coach, -32768, 32767).astype(np.int16)
            self.clock.advance(chunk.size / SAMPLE_RATE)
            self.track.append(chunk)
            yield heard.astype("<i2").tobytes()

    def _quiet_until(self, done: Any, limit_s: float) -> Iterator[bytes]:
        silence = np.zeros(CHUNK, dtype=np.int16)
        deadline = self.clock.now() + limit_s
        while not done() and self.clock.now() < deadline and not self.coach.finished:
            yield from self._feed(silence)

    def chunks(self) -> Iterator[bytes]:
        """Silence while the coach speaks, each line on the partner's turn, then a second of silence."""
        from audio.synth import synthesize

        yield from self._quiet_until(lambda: not self.speaker.speaking(), MAX_WAIT_S)
        for index, line in enumerate(self.script):
            if self._closed or self.coach.finished:
                return
            yield from self._feed(np.zeros(int(line.gap_s * SAMPLE_RATE), dtype=np.int16))
            speech = synthesize(line.say, voice=PARTNER_VOICE)
            start = self.clock.now()
            before = self.says
            voiced = voiced_end(speech)
            self.said.append((line, start, start + voiced))
            if self.on_line is not None:
                self.on_line(line, start, voiced)
            yield from self._feed(speech)
            yield from self._quiet_until(lambda b=before, n=line.until_coach: self.says >= b + n,
                                         REPLY_TIMEOUT_S if line.until_coach <= 1 else MAX_WAIT_S)
            following = self.script[index + 1] if index + 1 < len(self.script) else None
            if following is None or not following.over_coach:
                yield from self._quiet_until(lambda: not self.speaker.speaking(), MAX_WAIT_S)
        yield from self._feed(np.zeros(SAMPLE_RATE, dtype=np.int16))

    def close(self) -> None:
        """Stop after the current chunk."""
        self._closed = True


def voiced_end(speech: np.ndarray, threshold: float = 0.02) -> float:
    """Seconds from the start of ``speech`` to its last sample above ``threshold`` of the peak (the end of the
    words, not of the synthesizer's trailing silence)."""
    x = np.abs(np.asarray(speech, dtype=np.int32))
    if x.size == 0 or x.max() == 0:
        return 0.0
    loud = np.nonzero(x > threshold * x.max())[0]
    return float(loud[-1] + 1) / SAMPLE_RATE


def mix(partner: list[np.ndarray], clips: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """The partner's track with the coach's clips added at their times (int16, clipped)."""
    track = np.concatenate(partner).astype(np.int32) if partner else np.zeros(0, np.int32)
    end = max([track.size] + [int(s * SAMPLE_RATE) + c.size for s, c in clips])
    out = np.zeros(end, dtype=np.int32)
    out[:track.size] += track
    for start, clip in clips:
        i = int(start * SAMPLE_RATE)
        out[i:i + clip.size] += clip.astype(np.int32)
    return np.clip(out, -32768, 32767).astype(np.int16)


TOY_MODEL = Path(__file__).resolve().parents[2] / "tests" / "models" / "vosk-toy-en-us-espeak"
"""The small Vosk model trained on espeak-ng speech that ships with the tests (a source checkout)."""


def demo_engine(settings: Settings) -> Any:
    """The engine for the demo: as for a session, except that with ``auto`` and no Vosk model installed the
    bundled espeak-trained test model is used when present (the scripted partner is espeak-ng speech),
    and pocketsphinx only without it."""
    from audio.models import check_model, find_model
    from skill.app.engines import EngineChoice

    if settings.engine == "auto" and settings.model is None and find_model() is None:
        try:
            return EngineChoice("vosk", check_model(TOY_MODEL))
        except Exception:
            pass
    return choose_engine(settings)


def run_demo(settings: Settings, out: Path | None = None, stdout: TextIO | None = None,
             echo: float = 0.0) -> int:
    """Run the scripted conversation, print the transcript with timings, write the WAV; exit code 0.

    ``echo`` > 0 lets the recognizer hear the coach's own voice at that gain, as a microphone next to the
    speaker would: the echo guard must keep the coach from obeying itself."""
    from audio.echo_guard import EchoGuard
    from audio.tts import make_chain
    from audio.wav import write_wav

    stream = stdout if stdout is not None else sys.stdout
    out_path = Path(out) if out is not None else Path("massage-coach-demo.wav")
    data = demo_data()
    language = load_language()
    choice = demo_engine(settings)
    recognizer = build_recognizer(choice, language, verbose=settings.verbose)
    clock = FakeClock()
    renderer = make_chain("espeak" if settings.speech in ("espeak", "print") else settings.speech)
    speaker = TimelineSpeaker(clock, renderer, settings.rate, settings.volume, settings.voice)
    guard = EchoGuard()
    speaker.add_listener(guard)
    opened = open_session(settings, language, clock, err=stream)
    session = opened.session
    opened.journal.record("engine", engine=choice.describe(), mode="demo")
    partner: Partner | None = None

    def on_say(text: str, urgent: bool) -> None:
        assert partner is not None
        partner.says += 1
        print(f"[{clock.now():6.2f} s] coach: {text}", file=stream, flush=True)

    def on_heard(h: Heard) -> None:
        assert partner is not None
        spoken_end = partner.said[-1][2] if partner.said else 0.0
        name = h.intent.name if h.intent else "not understood"
        slots = f" {dict(h.intent.slots)}" if h.intent and h.intent.slots else ""
        note = "" if h.allowed else "  (ignored: the coach was speaking)"
        early = " early" if h.early else ""
        print(f"[{h.at:6.2f} s] heard {h.text!r} -> {name}{slots}  latency {h.at - spoken_end:.2f} s "
              f"(decode {h.decode_s * 1000:.0f} ms){early}{note}", file=stream, flush=True)

    coach = Coach(session, speaker, journal=opened.journal, on_say=on_say)
    def on_line(line: Line, start: float, duration: float) -> None:
        print(f"[{start:6.2f} s] partner: {line.say!r} ({duration:.2f} s)", file=stream, flush=True)

    partner = Partner(load_script(), clock, speaker, coach, on_line, echo=echo)
    print(data["header"].format(engine=choice.describe()), file=stream, flush=True)
    wall0 = time.perf_counter()
    loop = LiveLoop(coach, partner, recognizer, language.matcher, clock, guard=guard, threaded=False,
                    on_heard=on_heard)
    try:
        coach.begin()
        loop.run()
    finally:
        speaker.close()
        opened.journal.close(coach.summary)
    wall_s = time.perf_counter() - wall0
    write_wav(out_path, mix(partner.track, speaker.clips))
    understood = _count_understood(partner, loop.heard)
    print(data["footer"].format(understood=understood, total=len(partner.said), audio_s=clock.now(),
                                wall_s=wall_s, out=out_path), file=stream, flush=True)
    return 0


def _count_understood(partner: Partner, heard: list[Heard]) -> int:
    """How many scripted lines were first heard as their expected intent."""
    count = 0
    for line, start, _end in partner.said:
        nexts = [h for h in heard if h.at >= start and h.allowed]
        first = nexts[0] if nexts else None
        if first is not None and first.intent is not None and first.intent.name == line.expect:
            count += 1
    return count
