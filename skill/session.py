"""The massage session: a pure state machine turning intents and clock ticks into a few actions each.

It performs no I/O and reads no real clock: time comes from the injected ``Clock``, wording from the
``Routine``. Intent handlers live in ``skill.handlers``; this module holds the state, timers, events,
snapshot/restore and the public API. See ``skill.dialog.STATES`` for the state names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from intents.errors import ConfigError
from intents.types import INTENT_NAMES, UNKNOWN, Intent
from skill import dialog
from skill.actions import Action, CancelTimer, EndSession, Say, SetVoice, StartTimer
from skill.clock import Clock
from skill.events import Listener, SessionEvent
from skill.flow import Flow
from skill.routine import Routine
from skill.timers import Timers

SNAPSHOT_VERSION = 1
_MASSAGE_STATES = ("step", "hold", "knot")


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


class Session(Flow):
    """One massage session. Feed it ``handle(intent)`` and ``tick()``; carry out the actions it returns.

    ``examples`` maps intent name -> the phrase to suggest for it (the recognizer catalogue's canonical
    example), so ``help`` never suggests something the recognizer does not know.
    """

    def __init__(self, routine: Routine, clock: Clock, examples: Mapping[str, str],
                 auto_advance: bool = False, rate: int = 175, volume: float = 0.9) -> None:
        self.routine = routine
        self.clock = clock
        self.examples: dict[str, str] = dict(examples)
        self.auto_advance = bool(auto_advance)
        voice = routine.settings.voice
        self._rate = int(_clamp(int(rate), voice.rate_min, voice.rate_max))
        self._volume = round(_clamp(float(volume), voice.volume_min, voice.volume_max), 2)
        self._state = "new"
        self._resume_state = "new"    # where ``resume`` returns to (while paused)
        self._return_state = "step"   # where ``no`` returns to (while confirm_end)
        self._question = 0
        self._index = 0
        self._technique = routine.steps[0].technique
        self._pressure = 0
        self._hold_seconds = 0
        self._timers = Timers()
        self._started_at: float | None = None
        self._elapsed_before = 0.0
        self._last_said = ""
        self._unknown_run = 0
        self._pain_times: list[float] = []
        self._steps_seen: list[str] = []
        self._techniques_used: list[str] = []
        self._knots = 0
        self._pains = 0
        self._holds = 0
        self._listeners: list[Listener] = []
        self._restored = False

    # ----------------------------------------------------------------- public API

    @property
    def state(self) -> str:
        """The current state's short name (one of ``skill.dialog.STATES``)."""
        return self._state

    @property
    def finished(self) -> bool:
        """Whether the session has ended (an ``EndSession`` was returned)."""
        return self._state == "finished"

    @property
    def step_id(self) -> str | None:
        """The id of the current routine step, or ``None`` before the massage has started."""
        return self.routine.steps[self._index].id if self._phase() == "massage" else None

    @property
    def step_index(self) -> int:
        """The index of the current (or next, before the massage) routine step."""
        return self._index

    @property
    def last_said(self) -> str:
        """The last thing the coach said (what ``repeat`` repeats)."""
        return self._last_said

    @property
    def rate(self) -> int:
        """Current speaking rate in words a minute."""
        return self._rate

    @property
    def volume(self) -> float:
        """Current volume, 0.0-1.0."""
        return self._volume

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(SessionEvent)`` for every event from now on, in order."""
        self._listeners.append(fn)

    def available_intents(self) -> tuple[str, ...]:
        """The intents worth saying in the current state (what ``help`` lists, plus ``help``)."""
        return dialog.AVAILABLE[self._state]

    def begin(self) -> list[Action]:
        """Start the session: greeting and first safety question (or, after ``restore``, where it resumes).

        Returns the opening actions, including a ``SetVoice`` with the initial voice settings.
        """
        now = self.clock.now()
        if self.finished and not self._restored:
            return self._reply([self._phrase("session_over")])
        if self._started_at is not None and not self._restored:
            return self._reply([self._prompt()])
        self._started_at = now - self._elapsed_before
        out: list[Action] = [SetVoice(self._rate, self._volume)]
        if self._restored:
            self._restored = False
            self._emit("session_started", resumed=True)
            if self.finished:
                return self._reply([self._phrase("session_over")], out)
            if self._state == "step":
                out += self._timers.arm("pacing", now, self.routine.steps[self._index].duration_s)
                return self._reply([self._phrase("welcome_back"), *self._step_lines()], out)
            return self._reply([self._phrase("welcome_back"), self._prompt()], out)
        self._state = "safety"
        self._emit("session_started", resumed=False)
        return self._reply([self._phrase("greeting"), self.routine.safety[0].ask], out)

    def handle(self, intent: Intent) -> list[Action]:
        """React to one intent (``Intent.unknown()`` for speech not understood); always includes a ``Say``."""
        name = intent.name
        if name == UNKNOWN or name not in INTENT_NAMES:
            return self._unknown(intent)
        self._unknown_run = 0
        slots = {str(k): v if v is None or isinstance(v, int | float | str) else str(v)
                 for k, v in intent.slots.items()}
        self._emit("intent", name=name, slots=slots, confidence=intent.confidence, text=intent.text)
        if self._state == "new" and name not in (*dialog.ALWAYS, "status", "resume", *dialog.VOICE):
            if name == "start":
                return self.begin()
            return self._reply([self._phrase("status_new"), self._phrase("not_started")])
        method = getattr(self, f"_on_{name}")
        return method(intent)

    def tick(self) -> list[Action]:
        """Fire whatever is due on the clock (hold cues, hold end, pacing); usually returns ``[]``.

        Call it whenever a ``StartTimer`` is due, or simply a few times a second.
        """
        if self._started_at is None or self.finished:
            return []
        lines: list[str] = []
        out: list[Action] = []
        for name in self._timers.due(self.clock.now()):
            self._fire(name, lines, out)
        if not lines and not any(isinstance(a, EndSession) for a in out):
            return out
        return self._reply(lines, out)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly picture of the session, enough for ``Session.restore`` to resume at its step."""
        return {
            "version": SNAPSHOT_VERSION,
            "language": self.routine.language,
            "phase": self._phase(),
            "state": self._state,
            "question": self._question,
            "step_index": self._index,
            "step_id": self.routine.steps[self._index].id,
            "technique": self._technique,
            "pressure": self._pressure,
            "elapsed_s": round(self._elapsed(), 3),
            "auto_advance": self.auto_advance,
            "rate": self._rate,
            "volume": self._volume,
            "timers": self._timers.snapshot(self.clock.now()),
            "stats": self.summary_stats(),
        }

    @classmethod
    def restore(cls, routine: Routine, clock: Clock, examples: Mapping[str, str], snapshot: Mapping[str, Any],
                **kw: Any) -> Session:
        """A session that resumes where ``snapshot`` left off; call ``begin()`` to hear where it resumes.

        A hold or pause in progress resumes as its step. ``kw`` (``auto_advance``, ``rate``, ``volume``)
        overrides the snapshot's values. A malformed snapshot raises ``ConfigError``.
        """
        try:
            return cls._restore(routine, clock, examples, snapshot, kw)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ConfigError(f"cannot resume from the saved session: bad or missing {err}") from None

    @classmethod
    def _restore(cls, routine: Routine, clock: Clock, examples: Mapping[str, str], snap: Mapping[str, Any],
                 kw: Mapping[str, Any]) -> Session:
        session = cls(routine, clock, examples,
                      auto_advance=kw.get("auto_advance", bool(snap["auto_advance"])),
                      rate=kw.get("rate", int(snap["rate"])), volume=kw.get("volume", float(snap["volume"])))
        phase = str(snap["phase"])
        try:
            index = routine.step_index(str(snap["step_id"]))
        except ValueError:
            index = int(_clamp(int(snap["step_index"]), 0, len(routine.steps) - 1))
        session._index = index
        session._question = int(_clamp(int(snap["question"]), 0, len(routine.safety) - 1))
        technique = str(snap.get("technique", routine.steps[index].technique))
        session._technique = technique if technique in routine.techniques else routine.steps[index].technique
        session._pressure = int(snap.get("pressure", 0))
        session._elapsed_before = max(0.0, float(snap["elapsed_s"]))
        stats = snap.get("stats") or {}
        session._steps_seen = [str(s) for s in stats.get("steps", [])]
        session._techniques_used = [str(t) for t in stats.get("techniques", [])]
        session._knots, session._pains = int(stats.get("knots", 0)), int(stats.get("pains", 0))
        session._holds = int(stats.get("holds", 0))
        states = {"massage": "step", "safety": "safety", "ready": "ready", "declined": "declined",
                  "finished": "finished", "new": "new"}
        if phase not in states:
            raise ValueError(f"phase {phase!r}")
        session._state = states[phase]
        session._restored = session._state != "new"
        return session

    def summary_stats(self) -> dict[str, Any]:
        """JSON-friendly totals for the closing summary: time, steps, techniques, knots, pain reports."""
        return {
            "elapsed_s": round(self._elapsed(), 3),
            "steps": list(self._steps_seen),
            "total_steps": len(self.routine.steps),
            "techniques": list(self._techniques_used),
            "knots": self._knots,
            "pains": self._pains,
            "holds": self._holds,
        }

    def summary(self) -> str:
        """The closing summary sentence."""
        return dialog.summary_text(self.routine, self.summary_stats())

    # ----------------------------------------------------------------- internals shared with handlers

    def _phrase(self, key: str, **fields: Any) -> str:
        return self.routine.phrase(key, **fields)

    def _elapsed(self) -> float:
        if self._started_at is None:
            return self._elapsed_before
        return max(0.0, self.clock.now() - self._started_at)

    def _base_state(self) -> str:
        state = self._state
        for _ in range(4):
            if state == "paused":
                state = self._resume_state
            elif state == "confirm_end":
                state = self._return_state
            else:
                break
        return "step" if state in _MASSAGE_STATES else state

    def _phase(self) -> str:
        base = self._base_state()
        return "massage" if base == "step" else base

    def _emit(self, kind: str, **data: Any) -> None:
        payload = {"state": self._state, "step": self.routine.steps[self._index].id, "index": self._index}
        payload.update(data)
        event = SessionEvent(kind, round(self._elapsed(), 3), payload)
        for fn in list(self._listeners):
            fn(event)

    def _reply(self, lines: list[str], actions: list[Action] | None = None, urgent: bool = False,
               remember: bool = True) -> list[Action]:
        """One ``Say`` of ``lines`` among ``actions``: cancels, voice, Say, timers, then the end."""
        actions = actions or []
        text = " ".join(line for line in lines if line)
        says = [a for a in actions if isinstance(a, Say)]
        if says:
            urgent = urgent or any(a.urgent for a in says)
            text = " ".join([*(a.text for a in says), text]).strip()
        if remember and text:
            self._last_said = text
        order = {CancelTimer: 0, SetVoice: 1, StartTimer: 3, EndSession: 4}
        rest = sorted((a for a in actions if not isinstance(a, Say)), key=lambda a: order[type(a)])
        return [*(a for a in rest if order[type(a)] < 2), Say(text, urgent),
                *(a for a in rest if order[type(a)] > 2)]

    def _closing(self, lines: list[str], reason: str) -> list[Action]:
        """End the session: append the summary to ``lines``; the cancels and ``EndSession`` to carry out."""
        out = self._timers.cancel_all()
        text = self.summary()
        stats = self.summary_stats()
        self._state = "finished"
        self._emit("session_ended", reason=reason, summary=text, stats=stats)
        lines.append(text)
        return [*out, EndSession(text)]

    def _end(self, lines: list[str], reason: str, urgent: bool = False) -> list[Action]:
        lines = list(lines)
        actions = self._closing(lines, reason)
        return self._reply(lines, actions, urgent=urgent)

    def _fire(self, name: str, lines: list[str], out: list[Action]) -> None:
        now = self.clock.now()
        if name == "hold_cue" and self._state == "hold":
            left = self._timers.remaining("hold_end", now)
            if left is None or left < 1:
                return  # the end is due too: just release
            lines.append(self._phrase("hold_near_end", seconds=self.routine.count("second", round(left))))
        elif name == "hold_end" and self._state == "hold":
            self._state = "step"
            self._emit("hold_ended", completed=True, seconds=self._hold_seconds)
            lines.append(self._phrase("hold_release"))
        elif name == "pacing":
            if self._state in ("hold", "knot", "confirm_end"):
                out += self._timers.arm("pacing", now, self.routine.settings.pacing_grace_s)
            elif self._state == "step" and self.auto_advance:
                lines.append(self._phrase("auto_next"))
                out += self._advance(lines)
            elif self._state == "step":
                lines.append(self._phrase("step_long"))
                out += self._timers.arm("pacing", now, self.routine.settings.pacing_reprompt_s)
