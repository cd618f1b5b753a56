"""The live loop: audio source -> recognizer -> matcher -> echo guard -> session -> speaker.

``Coach`` carries out the session's actions (speak, set the voice, end) and keeps the journal's snapshot
current; the typed-command mode and the demo use it too. ``LiveLoop`` feeds audio chunks to the recognizer
(from a reader thread for a microphone, or directly for a scripted source with an audio-time clock), turns
each utterance into an intent, asks the echo guard whether it may be acted on, and calls ``session.tick()``
at least every ``tick_s`` seconds so holds and pacing prompts fire on time.
"""

from __future__ import annotations

import contextlib
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from audio.protocols import Hypothesis
from intents.types import UNKNOWN, Intent
from skill.actions import Action, EndSession, Say, SetVoice
from skill.app.barge_in import MIN_CONFIDENCE, BargeInSpotter
from skill.app.messages import msg

NEAR_END_MIN_DB = -10.0
"""Over the coach's voice, the words heard must be at least this loud against the echo the canceller
modelled, counting only what the echo cannot explain (``ReferenceCanceller.near_end_db``). Measured in the
virtual room: the partner's commands -8 to -2 dB; the echo's residue -20 to -40 dB, and -13 dB for the
loudest residue word seen ("hurts" at confidence 0.93, in the coach's second sentence)."""


@dataclass(frozen=True)
class Heard:
    """One utterance the recognizer committed, what it meant and what the loop did with it."""

    text: str
    intent: Intent | None
    allowed: bool
    at: float
    """Clock time when it was handled."""
    end_s: float
    """Stream time (seconds of audio fed) when the recognizer produced it."""
    early: bool
    decode_s: float
    """Wall time the recognizer spent on the chunk that produced it."""


class Coach:
    """Carries out a session's actions: speaks (urgent ones cut off current speech), applies voice changes,
    notices the end; after each batch stores the session's snapshot in the journal."""

    def __init__(self, session: Any, speaker: Any, journal: Any = None,
                 on_say: Callable[[str, bool], None] | None = None, out: TextIO | None = None) -> None:
        self.session = session
        self.speaker = speaker
        self.journal = journal
        self.out = out
        self.on_say = on_say if on_say is not None else self._print_say
        self.summary: str | None = None
        self.finished = False

    def _print_say(self, text: str, urgent: bool) -> None:
        print(msg("coach_line", text=text), file=self.out or sys.stdout, flush=True)

    def begin(self) -> list[Action]:
        """Open the conversation: a resumed session says where it picks up; a new one waits for "start"
        (the routine's ``ready`` line), so the greeting comes when the user is there to hear it."""
        if getattr(self.session, "state", "new") != "new":
            return self.perform(self.session.begin())
        self.say(self.session.routine.phrase("ready"))
        return []

    def handle(self, intent: Intent) -> list[Action]:
        """Give the session one intent and carry out its answer."""
        return self.perform(self.session.handle(intent))

    def tick(self) -> list[Action]:
        """Let due timers and pacing prompts fire."""
        actions = self.session.tick()
        return self.perform(actions) if actions else []

    def perform(self, actions: list[Action]) -> list[Action]:
        """Carry out ``actions`` in order; returns them (for logs and tests)."""
        for action in actions:
            if isinstance(action, Say):
                self.say(action.text, action.urgent)
            elif isinstance(action, SetVoice):
                self.speaker.set_voice(action.rate, action.volume)
            elif isinstance(action, EndSession):
                self.finished = True
                self.summary = action.summary
        if actions and self.journal is not None:
            self.journal.snapshot(self.session.snapshot())
        return actions

    def say(self, text: str, urgent: bool = False) -> None:
        """Print and speak ``text``; urgent text stops current speech first. When the speech engine fails,
        the session goes on with printed replies (said once on stderr)."""
        from audio.errors import SpeakerError

        self.on_say(text, urgent)
        try:
            if urgent and self.speaker.speaking():
                self.speaker.stop()
            self.speaker.say(text)
        except SpeakerError as exc:
            from skill.app.engines import SilentSpeaker

            print(msg("speech_failed", reason=" ".join(str(exc).split())), file=sys.stderr, flush=True)
            if self.journal is not None:
                self.journal.record("error", message=str(exc), type="SpeakerError")
            close_quietly(self.speaker)
            self.speaker = SilentSpeaker()


class _Reader:
    """Reads an audio source in a daemon thread into a queue of (chunk, arrival time); ``None`` marks the
    end of the source. The arrival time lines the microphone up with the speaker for echo cancelling."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.queue: queue.Queue[tuple[bytes, float] | BaseException | None] = queue.Queue(maxsize=500)
        self.thread = threading.Thread(target=self._run, name="mic-reader", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for chunk in self.source.chunks():
                self.queue.put((chunk, time.monotonic()))
        except BaseException as exc:  # handed to the loop, which re-raises it there
            self.queue.put(exc)
            return
        self.queue.put(None)


class LiveLoop:
    """Runs until the session ends, the source ends or the user interrupts.

    ``threaded`` reads the source in a thread (a microphone, so ticks go on when it stalls); a scripted
    source whose chunks drive the clock is read directly. ``status`` (optional) returns the microphone
    state ("lost", else "ok" or "back"); changes are said and printed, the session state is kept.
    ``canceller`` (optional, ``audio.aec.ReferenceCanceller``) takes the coach's own voice out of each chunk
    before the recognizer hears it; while the coach speaks, ``BargeInSpotter`` finds a "stop" or "that
    hurts" inside what is heard and the recognizer ends such an utterance at once.
    """

    def __init__(self, coach: Coach, source: Any, recognizer: Any, matcher: Any, clock: Any,
                 guard: Any = None, journal: Any = None, tick_s: float = 0.1, threaded: bool = True,
                 on_heard: Callable[[Heard], None] | None = None,
                 status: Callable[[], str] | None = None,
                 log: Callable[[str], None] | None = None, canceller: Any = None) -> None:
        self.coach = coach
        self.source = source
        self.recognizer = recognizer
        self.matcher = matcher
        self.clock = clock
        self.guard = guard
        self.journal = journal
        self.tick_s = tick_s
        self.threaded = threaded
        self.on_heard = on_heard
        self.status = status
        self.log = log
        self.canceller = canceller
        # spotting commands inside what is heard over the coach is safe only in what the canceller leaves
        # of its voice: in the raw echo, words like "quit" come out of the coach's own sentences
        self.spotter = BargeInSpotter(matcher, guard) if guard is not None and canceller is not None else None
        self.heard: list[Heard] = []
        self._was_speaking = False
        self._last_partial = ""
        self._mic_state = "ok"
        self._last_tick = float("-inf")

    # ------------------------------------------------------------------------------------ main loop
    def run(self) -> None:
        """Feed audio until the session is finished or the source ends (then flush the recognizer)."""
        for chunk, arrived in self._chunks():
            self._track_coach_speech()
            if chunk:
                t0 = time.perf_counter()
                if self.canceller is not None:
                    chunk = self.canceller.process(chunk, arrived)
                hyp = self.recognizer.accept(chunk)
                if hyp is not None:
                    self._on_hypothesis(hyp, time.perf_counter() - t0)
            self._after_chunk()
            if self.coach.finished:
                return
        hyp = self.recognizer.flush()
        if hyp is not None and not self.coach.finished:
            self._on_hypothesis(hyp, 0.0)

    def _chunks(self) -> Iterator[tuple[bytes, float]]:
        """The source's chunks with their arrival times; from a reader thread, with an empty chunk every
        ``tick_s`` when it stalls."""
        if not self.threaded:
            for chunk in self.source.chunks():
                yield chunk, time.monotonic()
            return
        reader = _Reader(self.source)
        while True:
            try:
                item = reader.queue.get(timeout=self.tick_s)
            except queue.Empty:
                yield b"", time.monotonic()
                continue
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _track_coach_speech(self) -> None:
        """Before each chunk: when the coach has gone quiet, reset the recognizer.

        The coach is busy while it speaks and, with an echo guard, until its audio has left the room (device
        latency and the guard's tail). Resetting then, before the next chunk is decoded, drops everything
        heard of the coach's own voice, so its tail never merges into the user's next utterance.
        """
        now = self.clock.now()
        speaking = bool(self.coach.speaker.speaking())
        busy = speaking or (self.guard is not None and self.guard.guarding(now))
        if self._was_speaking and not busy:
            self.recognizer.reset()
            self._log("coach quiet: recognizer reset")
        elif busy and not self._was_speaking:
            self._log("coach speaking")
        if busy != self._was_speaking and self.spotter is not None and hasattr(self.recognizer, "urgent"):
            self.recognizer.urgent = self._urgent_partial if busy else None
        self._was_speaking = busy

    def _cancelled(self) -> bool:
        """True when the canceller has learnt the echo path (what the recognizer hears is the partner)."""
        return self.canceller is not None and bool(getattr(self.canceller, "converged", False))

    def _urgent_partial(self, partial: str) -> int | None:
        """The recognizer's ``urgent`` test while the coach speaks: where a barge-in command in the partial
        ends (``BargeInSpotter.in_partial``), or None."""
        if self.spotter is None or not self._cancelled():
            return None
        end = self.spotter.in_partial(partial, self.clock.now())
        if partial != self._last_partial:
            self._last_partial = partial
            found = "" if end is None else f" (a command ends at word {end})"
            self._log(f"  over the coach: {partial!r}{found}")
        return end

    def _after_chunk(self) -> None:
        """Microphone status and timers, after every chunk (or idle tick)."""
        now = self.clock.now()
        if self.status is not None:
            self._check_mic()
        if now - self._last_tick >= self.tick_s or not self.threaded:
            self._last_tick = now
            self.coach.tick()

    def _check_mic(self) -> None:
        assert self.status is not None
        state = "lost" if self.status() == "lost" else "ok"
        if state == self._mic_state:
            return
        self._mic_state = state
        key = "mic_lost" if state == "lost" else "mic_back"
        if self.journal is not None:
            self.journal.record(key)
        if state != "lost":
            self.recognizer.reset()
        self.coach.say(msg(key), urgent=state == "lost")

    @staticmethod
    def _heard_from(hyp: Hypothesis, now: float) -> float | None:
        """Clock time by which the utterance's first word had been spoken (None without word times).

        The end of the first word is used, not its start: engines stretch a first word's start back over
        the silence before it (to the last reset), which would put every phrase after a reset in the guard.
        """
        if not hyp.words or hyp.words[0].end <= 0:
            return None
        return now - max(0.0, hyp.end_s - hyp.words[0].end)

    def _judge(self, hyp: Hypothesis, text: str, intent: Intent | None, now: float,
               guarding: bool) -> tuple[Intent | None, bool]:
        """The intent to act on and whether to act: the echo guard decides for what was said over the
        coach; there, a command must be heard clearly, loud against the echo the canceller modelled, and
        may be found inside the residue of the coach's voice ("[unk] a that hurts")."""
        if self.guard is None:
            return intent, True
        name = intent.name if intent is not None else UNKNOWN
        heard_from = self._heard_from(hyp, now)
        allowed = self.guard.allow(name, text, now, heard_from=heard_from)
        if not (guarding or (heard_from is not None and self.guard.guarding(heard_from))):
            return intent, allowed
        if allowed and intent is not None and intent.confidence < MIN_CONFIDENCE:
            allowed = False
        if not allowed and self.spotter is not None and self._cancelled():
            spotted = self.spotter.in_result(text, hyp.confidences or None, now)
            if spotted is not None:
                intent, allowed = spotted, True
        if self.canceller is not None and hyp.words:
            # Vosk stretches a first word's start back over the quiet before it (to the last reset): measure
            # from at most 0.4 s before that word's end, or the gated residue before it drowns the words
            first = hyp.words[0]
            level = self.canceller.near_end_db(max(first.start, first.end - 0.4), hyp.words[-1].end)
            self._log(f"  {self.canceller.describe()}; words {level:.1f} dB against the echo")
            allowed = allowed and level >= NEAR_END_MIN_DB
        return intent, allowed

    def _log(self, message: str) -> None:
        if self.log is not None:
            self.log(f"[{self.clock.now():9.2f}] {message}")

    # ------------------------------------------------------------------------------------ utterances
    def _on_hypothesis(self, hyp: Hypothesis, decode_s: float) -> None:
        text = " ".join(hyp.text.split())
        self._log(f"recognized {text!r} (early={hyp.early}, stream {hyp.end_s:.2f} s, "
                  f"decode {decode_s * 1000:.0f} ms)")
        if not [w for w in text.split() if w != "[unk]"]:
            return  # noise or only out-of-grammar sounds: nothing was said to the coach
        conf = hyp.confidences or None
        intent = self.matcher.match(text, conf)
        name = intent.name if intent is not None else UNKNOWN
        now = self.clock.now()
        guarding = self.guard is not None and self.guard.guarding(now)
        intent, allowed = self._judge(hyp, text, intent, now, guarding)
        name = intent.name if intent is not None else UNKNOWN
        heard = Heard(text, intent, allowed, now, hyp.end_s, hyp.early, decode_s)
        self._log(f"  -> {name}{'' if allowed else ' (ignored: the coach is speaking)'}")
        self.heard.append(heard)
        if self.on_heard is not None:
            self.on_heard(heard)
        if self.journal is not None:
            self.journal.record("heard", text=text, intent=name, allowed=allowed, early=hyp.early,
                                confidence=intent.confidence if intent is not None else 0.0)
        if not allowed:
            return
        if guarding and self.coach.speaker.speaking():
            self.coach.speaker.stop()  # a barge-in: the user talked over the coach
        self.coach.handle(intent if intent is not None else Intent.unknown(text))


def close_quietly(*things: Any) -> None:
    """Close each of ``things`` that is not None, ignoring errors (used on the way out)."""
    for thing in things:
        if thing is not None:
            with contextlib.suppress(Exception):
                thing.close()
