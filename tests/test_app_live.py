"""The live loop with fakes for the audio parts and the real session, matcher and echo guard.

The fake source drives a ``FakeClock`` (40 ms a chunk); the fake recognizer commits scripted utterances at
given chunks; the fake speaker speaks for a set time on that clock and tells its listeners (the echo guard).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator

import pytest

from audio.echo_guard import EchoGuard
from audio.protocols import Hypothesis, Word
from intents.types import Intent
from skill.app.engines import build_session, load_language
from skill.app.live import Coach, LiveLoop
from skill.app.settings import Settings
from skill.clock import FakeClock, MonotonicClock

CHUNK_S = 0.04
LANGUAGE = load_language()


class FakeSource:
    """``n`` chunks of silence; each advances the clock by 40 ms."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock, self.n = clock, round(seconds / CHUNK_S)
        self.closed = False

    def chunks(self) -> Iterator[bytes]:
        for _ in range(self.n):
            self.clock.advance(CHUNK_S)
            yield b"\0\0" * 640

    def close(self) -> None:
        self.closed = True


class FakeRecognizer:
    """Commits ``script[t]`` at the first chunk at or after stream time ``t`` seconds."""

    name = "fake"

    def __init__(self, script: dict[float, str | tuple[str, float]]) -> None:
        self.script = dict(sorted(script.items()))
        self.fed = 0.0
        self.resets: list[float] = []

    def accept(self, pcm: bytes) -> Hypothesis | None:
        self.fed += len(pcm) / 32000
        for t, item in list(self.script.items()):
            if self.fed + 1e-9 >= t:
                del self.script[t]
                if isinstance(item, tuple):  # (text, end of the first word in stream time): a late commit
                    text, first_end = item
                    words = tuple(Word(w, 0.95, first_end - 0.3 + i, first_end + i)
                                  for i, w in enumerate(text.split()))
                    return Hypothesis(text, words, early=False, end_s=self.fed)
                words = tuple(Word(w, 0.95) for w in item.split())
                return Hypothesis(item, words, early=True, end_s=self.fed)
        return None

    def flush(self) -> Hypothesis | None:
        return None

    def reset(self) -> None:
        self.resets.append(round(self.fed, 2))


class FakeSpeaker:
    """Speaks for ``seconds_per_word`` a word on the fake clock; tells listeners start and end."""

    def __init__(self, clock: FakeClock, seconds_per_word: float = 0.3) -> None:
        self.clock, self.per_word = clock, seconds_per_word
        self.said: list[str] = []
        self.calls: list[str] = []
        self.voice: tuple[int, float] | None = None
        self.listeners: list[EchoGuard] = []
        self._end = 0.0

    def add_listener(self, listener: EchoGuard) -> None:
        self.listeners.append(listener)

    def say(self, text: str) -> None:
        self.calls.append("say")
        self.said.append(text)
        start = max(self.clock.now(), self._end)
        self._end = start + self.per_word * len(text.split())
        for listener in self.listeners:
            listener.speech_started(text, start)
            listener.speech_ended(self._end)

    def stop(self) -> None:
        self.calls.append("stop")
        self._end = self.clock.now()
        for listener in self.listeners:
            listener.speech_ended(self._end)

    def speaking(self) -> bool:
        return self.clock.now() < self._end

    def wait(self, timeout: float | None = None) -> bool:
        return True

    def set_voice(self, rate: int, volume: float) -> None:
        self.voice = (rate, volume)

    def close(self) -> None:
        pass


def make(script: dict[float, str], seconds: float, per_word: float = 0.3,
         status=None) -> tuple[LiveLoop, Coach, FakeSpeaker, FakeRecognizer]:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    speaker = FakeSpeaker(clock, per_word)
    guard = EchoGuard()
    speaker.add_listener(guard)
    session = build_session(Settings(), LANGUAGE, clock)
    coach = Coach(session, speaker, on_say=lambda text, urgent: None)
    rec = FakeRecognizer(script)
    loop = LiveLoop(coach, FakeSource(clock, seconds), rec, LANGUAGE.matcher, clock, guard=guard,
                    threaded=False, status=status)
    return loop, coach, speaker, rec


def test_coach_never_obeys_its_own_words() -> None:
    # the coach says "Say start when you are both ready." (7 words, 2.1 s): a "start" inside it is its echo
    loop, coach, speaker, _ = make({0.5: "start", 3.0: "start"}, 4.0)
    coach.begin()
    loop.run()
    first, second = loop.heard
    assert first.intent is not None and first.intent.name == "start" and not first.allowed
    assert second.allowed
    assert coach.session.state == "safety"
    assert speaker.said[1].startswith("Hello, I'm your massage coach.")


def test_late_commit_of_speech_that_began_while_the_coach_spoke_is_ignored() -> None:
    # the coach speaks until 2.1 s (+0.3 s tail); "next" began at 1.5 s but the engine commits it at 3.0 s
    loop, coach, _, _ = make({3.0: ("next", 1.5), 4.0: ("next", 3.6)}, 5.0)
    coach.begin()
    loop.run()
    assert [h.allowed for h in loop.heard] == [False, True]


def test_barge_in_stop_cuts_the_coach_off_and_ends() -> None:
    loop, coach, speaker, _ = make({0.5: "stop"}, 3.0)
    coach.begin()
    loop.run()
    assert loop.heard[0].allowed
    assert speaker.calls[:3] == ["say", "stop", "say"]
    assert coach.finished and coach.summary is not None and "In total" in coach.summary


def test_non_barge_in_intent_during_speech_is_ignored() -> None:
    loop, coach, speaker, _ = make({0.5: "next"}, 2.0)
    coach.begin()
    loop.run()
    assert not loop.heard[0].allowed
    assert speaker.said == ["Say start when you are both ready."]


def test_recognizer_reset_when_the_coach_stops_speaking() -> None:
    loop, coach, _, rec = make({}, 3.0, per_word=0.2)
    coach.begin()  # 7 words = 1.4 s of speech, then the echo guard's 0.3 s tail
    loop.run()
    assert rec.resets == [1.68]  # before the first chunk that ends after 1.7 s


def test_hold_runs_on_the_clock_via_tick() -> None:
    script = {1.0: "start", 12.0: "no", 18.0: "no", 40.0: "start", 60.0: "hold for ten seconds"}
    loop, coach, speaker, _ = make(script, 80.0, per_word=0.05)
    coach.begin()
    loop.run()
    assert [h.allowed for h in loop.heard] == [True] * 5
    hold = next(i for i, s in enumerate(speaker.said) if "for 10 seconds" in s)
    assert speaker.said[hold + 1] == "Nearly there, 5 seconds to go."
    assert speaker.said[hold + 2] == "Now slowly release the pressure. Well done."


def test_voice_changes_reach_the_speaker() -> None:
    loop, coach, speaker, _ = make({1.0: "start", 12.0: "slower"}, 14.0, per_word=0.05)
    coach.begin()
    loop.run()
    assert speaker.voice is not None and speaker.voice[0] < 175


def test_urgent_say_stops_current_speech_first() -> None:
    clock = FakeClock()
    speaker = FakeSpeaker(clock)
    coach = Coach(build_session(Settings(), LANGUAGE, clock), speaker, on_say=lambda t, u: None)
    coach.say("a long sentence that takes a while")
    coach.say("ordinary")
    coach.say("it hurts", urgent=True)
    assert speaker.calls == ["say", "say", "stop", "say"]


def test_microphone_lost_and_back_is_said_and_the_session_kept() -> None:
    clock_holder: dict[str, FakeClock] = {}

    def status() -> str:
        now = clock_holder["clock"].now()
        return "lost" if 2.0 <= now < 4.0 else ("back" if now >= 4.0 else "ok")

    loop, coach, speaker, _ = make({1.0: "start"}, 6.0, per_word=0.01, status=status)
    clock_holder["clock"] = loop.clock
    coach.begin()
    loop.run()
    lost = [s for s in speaker.said if "microphone is gone" in s]
    back = [s for s in speaker.said if s == "I can hear you again."]
    assert len(lost) == 1 and len(back) == 1
    assert coach.session.state == "safety"


def test_threaded_source_keeps_ticking_while_the_microphone_stalls() -> None:
    class Stalling:
        def __init__(self) -> None:
            self.release = threading.Event()

        def chunks(self) -> Iterator[bytes]:
            self.release.wait(5.0)
            yield b"\0\0" * 640

        def close(self) -> None:
            self.release.set()

    ticks = []
    clock = MonotonicClock()
    speaker = FakeSpeaker(FakeClock())
    coach = Coach(build_session(Settings(), LANGUAGE, clock), speaker, on_say=lambda t, u: None)
    coach.tick = lambda: ticks.append(1) or []  # type: ignore[method-assign]
    source = Stalling()
    loop = LiveLoop(coach, source, FakeRecognizer({}), LANGUAGE.matcher, clock, tick_s=0.02)
    timer = threading.Timer(0.3, source.release.set)
    timer.start()
    t0 = time.monotonic()
    loop.run()
    assert time.monotonic() - t0 >= 0.25
    assert len(ticks) >= 5


def test_session_command_interrupt_exits_130_and_closes_the_journal(
        tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import json

    from skill.app import engines, textmode

    class Interrupting:
        status = "ok"

        def chunks(self) -> Iterator[bytes]:
            yield b"\0\0" * 640
            raise KeyboardInterrupt

        def close(self) -> None:
            pass

    monkeypatch.setattr(engines, "open_microphone", lambda settings: (Interrupting(), "fake mic"))
    monkeypatch.setattr(engines, "choose_engine", lambda settings: engines.EngineChoice("sphinx", None))
    monkeypatch.setattr(engines, "build_recognizer", lambda *a, **k: FakeRecognizer({}))
    settings = Settings(speech="print", journal=tmp_path)
    assert textmode.run_session_command(settings, stdin=io.StringIO("")) == 130
    captured = capsys.readouterr()
    assert "microphone: fake mic" in captured.err
    assert "Stopped. The session is saved in the journal." in captured.out
    (path,) = tmp_path.glob("*.jsonl")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[-1]["kind"] == "journal_closed" and "In total" in lines[-1]["data"]["summary"]


def test_unknown_speech_is_passed_on_but_pure_noise_is_not() -> None:
    loop, coach, speaker, _ = make({2.5: "[unk]", 3.0: "my [unk] four"}, 4.0, per_word=0.01)
    coach.begin()
    loop.run()
    assert len(loop.heard) == 1 and loop.heard[0].intent is None
    assert speaker.said[-1].startswith("Sorry")
    assert Intent.unknown("x").name == "unknown"


def test_live_transcript_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from skill.app.live import Heard
    from skill.app.textmode import print_heard

    print_heard(Heard("next stroke", Intent("next"), True, 1.0, 1.0, True, 0.01))
    print_heard(Heard("stop", Intent("stop"), False, 1.0, 1.0, True, 0.01))
    print_heard(Heard("my [unk] four", None, True, 1.0, 1.0, False, 0.01))
    assert capsys.readouterr().out.splitlines() == [
        "you: next stroke (next)",
        "you: stop (stop; ignored: it may have been the coach's own voice)",
        "you: my four (not understood)",
    ]
