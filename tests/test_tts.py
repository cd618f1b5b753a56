"""Speech output without a sound card: real renderers (pyttsx3, espeak-ng), WAV and print speakers,
the hung-engine fallback, and the playback speaker's bookkeeping over a fake player."""

from __future__ import annotations

import io
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from audio.echo_guard import EchoGuard
from audio.errors import SpeakerError
from audio.tts import (
    RATE_RANGE,
    PlaybackSpeaker,
    PrintSpeaker,
    WavFileSpeaker,
    make_chain,
    open_speaker,
    split_sentences,
)
from audio.tts_espeak import (
    EspeakRenderer,
    RenderChain,
    RendererBusy,
    VoiceSettings,
    find_espeak,
    parse_wav_bytes,
)
from audio.tts_pyttsx3 import Pyttsx3Renderer
from audio.wav import read_wav

ROOT = Path(__file__).resolve().parents[1]
SENTENCE = "Move your hands slowly up the back, one hand after the other."
needs_espeak = pytest.mark.skipif(find_espeak() is None, reason="espeak-ng is not installed")


def duration(samples: np.ndarray, rate: int) -> float:
    return samples.size / rate


def loud(samples: np.ndarray) -> bool:
    return samples.size > 0 and float(np.abs(samples.astype(np.int32)).max()) > 1000


@pytest.fixture(scope="module")
def pyttsx3_renderer():
    renderer = Pyttsx3Renderer(timeout_s=10.0)
    try:
        renderer.start()
    except SpeakerError as exc:
        pytest.skip(f"pyttsx3 cannot start here: {exc}")
    yield renderer
    renderer.close()


class SleepyRenderer:
    """A hung engine: never answers within any sane timeout."""

    name = "sleepy"

    def __init__(self, seconds: float = 5.0) -> None:
        self.seconds = seconds
        self.aborted = 0

    def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        time.sleep(self.seconds)
        return np.zeros(100, np.int16), 16000

    def abort(self) -> None:
        self.aborted += 1

    def close(self) -> None:
        pass


class BrokenRenderer:
    name = "broken"

    def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        raise SpeakerError("broken on purpose")

    def close(self) -> None:
        pass


class ToneRenderer:
    """Renders 0.1 s of tone per word, instantly (no engine), to exercise the speaker's bookkeeping."""

    name = "tone"

    def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        n = 1600 * max(1, len(text.split()))
        return (np.sin(np.arange(n) * 0.2) * 8000).astype(np.int16), 16000

    def close(self) -> None:
        pass


class FakePlayer:
    """A player that 'plays' in a thread at 50x real time, posting the same events as SoundPlayer."""

    def __init__(self, speed: float = 50.0) -> None:
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self.latency_s = 0.0
        self.played: list[int] = []
        self._chunks: list = []
        self._lock = threading.Lock()
        self._speed = speed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def play(self, utterance, samples, rate, first, last) -> None:
        with self._lock:
            self._chunks.append((utterance, samples.size / rate, first, last))

    def clear(self) -> None:
        with self._lock:
            self._chunks.clear()

    def busy(self) -> bool:
        with self._lock:
            return bool(self._chunks)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                item = self._chunks.pop(0) if self._chunks else None
            if item is None:
                time.sleep(0.001)
                continue
            uid, seconds, first, last = item
            if first:
                self.events.put(("start", uid, time.monotonic()))
            time.sleep(seconds / self._speed)
            self.played.append(uid)
            if last:
                self.events.put(("end", uid, time.monotonic()))

    def alive(self) -> bool:
        return not self._stop.is_set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)


# -- pure helpers -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rate", "volume", "want"),
    [(175, 0.9, (175, 0.9)), (10, -1.0, (RATE_RANGE[0], 0.0)), (1000, 7.0, (RATE_RANGE[1], 1.0))],
)
def test_voice_settings_are_clamped(rate: int, volume: float, want: tuple[int, float]) -> None:
    v = VoiceSettings.make(rate, volume)
    assert (v.rate, v.volume) == want


def test_split_sentences() -> None:
    parts = split_sentences("Good. Now the shoulders!  Ready? yes")
    assert parts == ["Good.", "Now the shoulders!", "Ready?", "yes"]
    assert split_sentences("   ") == []


def test_parse_wav_bytes_rejects_garbage() -> None:
    with pytest.raises(SpeakerError):
        parse_wav_bytes(b"not a wav at all")


# -- real engines -----------------------------------------------------------------------------------
def test_pyttsx3_renders_speech_and_rate_changes_duration(pyttsx3_renderer: Pyttsx3Renderer) -> None:
    slow, rate = pyttsx3_renderer.render(SENTENCE, VoiceSettings.make(110, 1.0))
    fast, rate2 = pyttsx3_renderer.render(SENTENCE, VoiceSettings.make(280, 1.0))
    assert rate == rate2 > 0
    assert loud(slow) and loud(fast)
    assert duration(slow, rate) > 1.5 * duration(fast, rate) > 0


def test_pyttsx3_volume_changes_loudness(pyttsx3_renderer: Pyttsx3Renderer) -> None:
    high, _ = pyttsx3_renderer.render(SENTENCE, VoiceSettings.make(175, 1.0))
    low, _ = pyttsx3_renderer.render(SENTENCE, VoiceSettings.make(175, 0.3))
    assert np.abs(low.astype(np.int32)).max() < 0.6 * np.abs(high.astype(np.int32)).max()


def test_pyttsx3_never_returns_a_stale_file(pyttsx3_renderer: Pyttsx3Renderer) -> None:
    # pyttsx3 issue #170: a second save_to_file can hand back the first one's audio
    short, rate = pyttsx3_renderer.render("One.", VoiceSettings())
    long, _ = pyttsx3_renderer.render(SENTENCE, VoiceSettings())
    again, _ = pyttsx3_renderer.render("One.", VoiceSettings())
    assert duration(long, rate) > 2 * duration(short, rate)
    assert abs(again.size - short.size) < rate * 0.05


def test_pyttsx3_worker_restarts_after_it_died(pyttsx3_renderer: Pyttsx3Renderer) -> None:
    starts = pyttsx3_renderer.starts
    pyttsx3_renderer.abort()  # as if it had hung and been killed
    samples, _ = pyttsx3_renderer.render("Again.", VoiceSettings())
    assert loud(samples)
    assert pyttsx3_renderer.starts == starts + 1


@needs_espeak
def test_espeak_renders_speech_and_rate_changes_duration() -> None:
    r = EspeakRenderer()
    slow, rate = r.render(SENTENCE, VoiceSettings.make(110, 1.0))
    fast, _ = r.render(SENTENCE, VoiceSettings.make(280, 1.0))
    assert loud(slow) and loud(fast)
    assert duration(slow, rate) > 1.5 * duration(fast, rate)


@needs_espeak
def test_espeak_unknown_voice_is_one_line_speaker_error() -> None:
    with pytest.raises(SpeakerError) as info:
        EspeakRenderer().render("hello", VoiceSettings(voice="qqq"))
    assert "\n" not in str(info.value)


def test_missing_espeak_is_one_line_speaker_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SpeakerError, match="espeak-ng is not installed") as info:
        make_chain("espeak")
    assert "\n" not in str(info.value)


# -- hung engine ------------------------------------------------------------------------------------
@needs_espeak
def test_hung_engine_falls_back_to_espeak(tmp_path: Path) -> None:
    sleepy = SleepyRenderer()
    lines: list[str] = []
    chain = RenderChain([sleepy, EspeakRenderer()], timeout_s=0.3, on_fallback=lines.append)
    speaker = WavFileSpeaker(tmp_path / "out.wav", chain)
    speaker.say("Slow strokes now.")
    speaker.say("And again.")
    speaker.close()
    assert loud(read_wav(tmp_path / "out.wav"))
    assert sleepy.aborted == 1  # timed out once, then rested instead of hanging every sentence
    assert chain.last_renderer == "espeak-ng"
    assert len(lines) == 1 and "did not answer" in lines[0]


def test_every_engine_failing_still_prints_the_text() -> None:
    err = io.StringIO()
    player = FakePlayer()
    chain = RenderChain([SleepyRenderer(), BrokenRenderer()], timeout_s=0.2)
    speaker = PlaybackSpeaker(chain, player, fallback_stream=err)
    speaker.say("Keep breathing.")
    assert speaker.wait(10)
    speaker.close()
    assert "Keep breathing." in err.getvalue()
    assert not speaker.speaking()


# -- speakers ---------------------------------------------------------------------------------------
@needs_espeak
def test_wav_file_speaker_appends_with_gaps(tmp_path: Path) -> None:
    chain = RenderChain([EspeakRenderer()])
    one = WavFileSpeaker(tmp_path / "one.wav", chain, gap_s=0.5)
    one.say(SENTENCE)
    one.close()
    two = WavFileSpeaker(tmp_path / "two.wav", RenderChain([EspeakRenderer()]), gap_s=0.5)
    guard = EchoGuard()
    two.add_listener(guard)
    two.say(SENTENCE)
    two.set_voice(175, 0.5)
    two.say(SENTENCE)
    two.close()
    a, b = read_wav(tmp_path / "one.wav"), read_wav(tmp_path / "two.wav")
    assert loud(a)
    assert b.size == pytest.approx(2 * a.size + 8000, abs=50)
    second = b[a.size + 8000 :]
    assert np.abs(second.astype(np.int32)).max() < 0.75 * np.abs(a.astype(np.int32)).max()
    assert guard.spoken_texts  # listeners were told


def test_wav_file_speaker_bad_path_is_speaker_error(tmp_path: Path) -> None:
    with pytest.raises(SpeakerError, match="cannot write speech"):
        WavFileSpeaker(tmp_path / "no" / "such" / "dir.wav", RenderChain([ToneRenderer()]))


def test_print_speaker_prints_each_reply() -> None:
    out = io.StringIO()
    speaker = PrintSpeaker(out, prefix="coach: ")
    speaker.say("Start at the lower back.")
    speaker.say("   ")
    speaker.set_voice(5000, 2.0)
    assert out.getvalue() == "coach: Start at the lower back.\n"
    assert not speaker.speaking() and speaker.wait(0)
    assert (speaker.rate, speaker.volume) == (RATE_RANGE[1], 1.0)


def test_playback_speaker_reports_speech_to_listeners_and_stops() -> None:
    player = FakePlayer(speed=5.0)
    speaker = PlaybackSpeaker(RenderChain([ToneRenderer()]), player)
    guard = EchoGuard(tail_s=0.0)
    speaker.add_listener(guard)
    speaker.say("Tell me to stop whenever it hurts. Now we begin.")
    assert speaker.speaking()
    assert speaker.wait(10)
    assert guard.spoken_texts == ["tell me to stop whenever it hurts now we begin"]
    assert not guard.guarding(time.monotonic() + 0.01)
    assert len(speaker.latencies) == 1 and speaker.latencies[0] >= 0

    speaker.say(" ".join(["word"] * 200) + ".")  # 20 s of tone at 1x, 4 s here
    deadline = time.monotonic() + 5
    while not speaker._playing and time.monotonic() < deadline:
        time.sleep(0.005)
    assert speaker._playing
    speaker.stop()
    assert not speaker.speaking() and speaker.wait(0)
    assert not player.busy()
    assert not guard._speaking  # speech_ended was delivered
    speaker.close()
    player.close()


def test_output_dying_mid_sentence_ends_the_speech() -> None:
    err = io.StringIO()
    player = FakePlayer(speed=1.0)
    speaker = PlaybackSpeaker(RenderChain([ToneRenderer()]), player, fallback_stream=err)
    guard = EchoGuard()
    speaker.add_listener(guard)
    speaker.say(" ".join(["word"] * 100) + ".")
    deadline = time.monotonic() + 5
    while not guard._speaking and time.monotonic() < deadline:
        time.sleep(0.005)
    player.close()  # the device is gone: no more events will come
    assert speaker.wait(5), "speech does not stay 'in progress' forever"
    assert not guard._speaking
    assert "audio output stopped" in err.getvalue()
    speaker.close()


def test_set_voice_applies_to_what_is_said_next() -> None:
    seen: list[VoiceSettings] = []

    class Recording(ToneRenderer):
        def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
            seen.append(voice)
            return super().render(text, voice)

    player = FakePlayer()
    speaker = PlaybackSpeaker(RenderChain([Recording()]), player, rate=175, volume=0.9)
    speaker.say("One.")
    speaker.wait(5)
    speaker.set_voice(140, 0.5)
    speaker.say("Two.")
    speaker.wait(5)
    speaker.close()
    player.close()
    assert [(v.rate, v.volume) for v in seen] == [(175, 0.9), (140, 0.5)]


def test_open_speaker_rejects_unknown_engine() -> None:
    with pytest.raises(SpeakerError, match="unknown speech engine"):
        open_speaker(engine="festival")


def test_open_speaker_print_engine() -> None:
    speaker, reason = open_speaker(engine="print", stream=io.StringIO())
    assert isinstance(speaker, PrintSpeaker) and reason is None


@needs_espeak
def test_open_speaker_speak_to_wav(tmp_path: Path) -> None:
    speaker, reason = open_speaker(engine="espeak", speak_to=tmp_path / "s.wav")
    assert reason is None and isinstance(speaker, WavFileSpeaker)
    speaker.say("Hello.")
    speaker.close()
    assert loud(read_wav(tmp_path / "s.wav"))


def test_open_speaker_without_output_device_prints_and_says_why(tmp_path: Path) -> None:
    # A fresh process, so PortAudio enumerates devices with no sound server reachable.
    code = (
        "import io, json; from audio.tts import open_speaker\n"
        "s, why = open_speaker(stream=io.StringIO())\n"
        "print(json.dumps([type(s).__name__, why]))\n"
    )
    env = dict(os.environ, PULSE_SERVER=f"unix:{tmp_path}/nowhere", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    name, why = __import__("json").loads(out.stdout.strip().splitlines()[-1])
    if name != "PrintSpeaker":
        pytest.skip("this machine has a real audio output device")
    assert "no audio output device" in why and "printing replies" in why and "\n" not in why


class BusyRenderer(ToneRenderer):
    """Busy (restarting) for its first ``busy_calls`` calls, then renders."""

    name = "busy"

    def __init__(self, busy_calls: int) -> None:
        self.busy_calls = busy_calls
        self.waited = 0

    def render(self, text: str, voice: VoiceSettings) -> tuple[np.ndarray, int]:
        if self.busy_calls > 0:
            self.busy_calls -= 1
            raise RendererBusy("restarting")
        return super().render(text, voice)

    def wait_ready(self, timeout_s: float) -> None:
        self.waited += 1


def test_busy_renderer_is_skipped_without_penalty() -> None:
    busy = BusyRenderer(busy_calls=1)
    chain = RenderChain([busy, EspeakRenderer()] if find_espeak() else [busy, ToneRenderer()])
    chain.render("One.", VoiceSettings())
    assert chain.last_renderer != "busy" and chain.events == []
    chain.render("Two.", VoiceSettings())
    assert chain.last_renderer == "busy"  # no cooldown: first choice again at once


def test_only_a_busy_renderer_is_waited_for() -> None:
    busy = BusyRenderer(busy_calls=1)
    chain = RenderChain([busy])
    samples, _ = chain.render("One.", VoiceSettings())
    assert samples.size > 0 and busy.waited == 1 and chain.last_renderer == "busy"


@needs_espeak
def test_a_frozen_pyttsx3_worker_is_killed_and_replaced() -> None:
    import signal

    py = Pyttsx3Renderer(timeout_s=10.0)
    try:
        py.start()
    except SpeakerError as exc:
        pytest.skip(f"pyttsx3 cannot start here: {exc}")
    chain = RenderChain([py, EspeakRenderer()], timeout_s=0.5, cooldown_s=0.0)
    try:
        frozen = py._proc
        assert frozen is not None
        os.kill(frozen.pid, signal.SIGSTOP)  # a hung engine: alive, never answers
        samples, _ = chain.render("Still speaking.", VoiceSettings())
        assert loud(samples) and chain.last_renderer == "espeak-ng"
        assert frozen.poll() is not None, "the frozen worker was killed"
        samples, _ = chain.render("And pyttsx3 is back.", VoiceSettings())
        assert loud(samples) and chain.last_renderer == "pyttsx3" and py.starts == 2
    finally:
        chain.close()
