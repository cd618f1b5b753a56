"""The intent handlers of ``Session`` (a mixin): one ``_on_<intent>`` method per intent name.

Each returns the actions for one intent; ``Session._reply`` folds the sentences into a single ``Say``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from intents.types import HOLD_SECONDS_RANGE, Intent
from skill import dialog
from skill.actions import Action, SetVoice

if TYPE_CHECKING:
    from skill.session import Session

    _Base = Session
else:
    _Base = object

_HOLD_TIMERS = ("hold_cue", "hold_end")


class Handlers(_Base):
    """Intent handlers mixed into ``Session``."""

    # ----------------------------------------------------------------- helpers

    def _step_lines(self) -> list[str]:
        step = self.routine.steps[self._index]
        total = len(self.routine.steps)
        intro = self._phrase("step_intro", number=self._index + 1, total=total, title=step.title)
        return [intro, step.say]

    def _prompt(self) -> str:
        """What the coach is waiting for in the current state (said again on resume, after a refusal, ...)."""
        state = self._state
        if state == "safety":
            return self.routine.safety[self._question].ask
        if state == "declined":
            return self._phrase("declined_reminder")
        if state == "ready":
            return self._phrase("ready")
        if state == "step":
            return " ".join(self._step_lines())
        if state == "hold":
            left = self._timers.remaining("hold_end", self.clock.now()) or 0.0
            return self._phrase("status_hold", seconds=self.routine.count("second", round(left)))
        if state == "knot":
            return self.routine.knot_offer
        if state == "confirm_end":
            return self._phrase("offer_end")
        if state == "paused":
            return self._phrase("already_paused")
        if state == "finished":
            return self._phrase("session_over")
        return self._phrase("not_started")

    def _refuse(self) -> list[Action]:
        """The reply to an intent that does not fit the current state; never changes state."""
        state = self._state
        if state in ("new", "ready"):
            lines = [self._phrase("not_started")]
        elif state == "safety":
            lines = [self._phrase("finish_safety_first"), self._prompt()]
        elif state in ("declined", "paused", "finished"):
            lines = [self._prompt()]
        elif state in ("confirm_end", "knot"):
            lines = [self._phrase("answer_yes_no"), self._prompt()]
        else:
            lines = [self._phrase("not_now")]
        return self._reply(lines)

    def _stop_hold(self, lines: list[str] | None = None) -> list[Action]:
        """Cancel a running (or paused) hold; the state falls back to its step."""
        out = self._timers.cancel(*_HOLD_TIMERS)
        was_holding = self._state == "hold" or (self._state == "paused" and self._resume_state == "hold")
        if self._state in ("hold", "knot"):
            self._state = "step"
        if self._state == "paused" and self._resume_state in ("hold", "knot"):
            self._resume_state = "step"
        if was_holding:
            self._emit("hold_ended", completed=False, seconds=self._hold_seconds)
            if lines is not None:
                lines.append(self._phrase("hold_interrupted"))
        return out

    def _enter_step(self, index: int, lines: list[str]) -> list[Action]:
        out = self._stop_hold()
        out += self._timers.cancel("pacing")
        self._index = index
        self._state = "step"
        step = self.routine.steps[index]
        self._technique = step.technique
        if step.id not in self._steps_seen:
            self._steps_seen.append(step.id)
        if step.technique not in self._techniques_used:
            self._techniques_used.append(step.technique)
        lines += self._step_lines()
        self._emit("step_entered", step_kind=step.kind, technique=step.technique, title=step.title)
        return out + self._timers.arm("pacing", self.clock.now(), step.duration_s)

    def _advance(self, lines: list[str]) -> list[Action]:
        if self._index >= len(self.routine.steps) - 1:
            out = self._stop_hold()
            lines.append(self._phrase("massage_done"))
            return out + self._closing(lines, "completed")
        return self._enter_step(self._index + 1, lines)

    def _start_hold(self, requested: Any, lines: list[str]) -> list[Action]:
        low, high = HOLD_SECONDS_RANGE
        default = self.routine.settings.hold_default_s
        try:
            wanted = int(requested) if requested is not None else default
        except (TypeError, ValueError):
            wanted = default
        seconds = int(max(low, min(high, wanted)))
        if seconds != wanted:
            lines.append(self._phrase("hold_clamped", min=low, max=high, seconds=seconds))
        out = self._timers.cancel(*_HOLD_TIMERS)
        self._state = "hold"
        self._hold_seconds = seconds
        self._holds += 1
        now = self.clock.now()
        lines.append(self._phrase("hold_start", seconds=self.routine.count("second", seconds)))
        asked = requested if isinstance(requested, int) and not isinstance(requested, bool) else None
        self._emit("hold_started", seconds=seconds, requested=asked)
        out += self._timers.arm("hold_end", now, seconds)
        cue = self.routine.settings.hold_cue_before_end_s
        if seconds > cue:
            out += self._timers.arm("hold_cue", now, seconds - cue)
        return out

    # ----------------------------------------------------------------- always available

    def _on_warning_signs(self, intent: Intent) -> list[Action]:
        self._emit("warning_signs")
        if self._state == "declined":
            lines = [self.routine.warning_text(), self._phrase("declined_goodbye")]
            return self._end(lines, "declined", urgent=True)
        return self._reply([self.routine.warning_text()], urgent=True)

    def _on_help(self, intent: Intent) -> list[Action]:
        return self._reply([dialog.help_text(self.routine, self.examples, self._state)])

    def _on_status(self, intent: Intent) -> list[Action]:
        state = self._base_state() if self._state in ("paused", "confirm_end") else self._state
        if state == "safety":
            line = self._phrase("status_safety", number=self._question + 1, total=len(self.routine.safety))
        elif state == "step":
            line = self._phrase("status_step", number=self._index + 1, total=len(self.routine.steps),
                                title=self.routine.steps[self._index].title,
                                technique=self.routine.techniques[self._technique].name)
        elif state in ("hold", "knot"):
            line = self._prompt() if state == "hold" else self._phrase("status_knot")
        else:
            line = self._phrase(f"status_{state}")
        lines = [line]
        if self._state in ("paused", "confirm_end"):
            lines.insert(0, self._phrase(f"status_{self._state}"))
        elapsed = dialog.duration_text(self.routine, self._elapsed())
        return self._reply([*lines, self._phrase("status_elapsed", duration=elapsed)])

    def _on_repeat(self, intent: Intent) -> list[Action]:
        if not self._last_said:
            return self._reply([self._phrase("nothing_said"), self._prompt()], remember=False)
        return self._reply([self._last_said], remember=False)

    def _on_pain(self, intent: Intent) -> list[Action]:
        now = self.clock.now()
        window = self.routine.settings.pain_repeat_window_s
        repeated = any(now - at <= window for at in self._pain_times)
        self._pain_times = [at for at in self._pain_times if now - at <= window] + [now]
        self._pains += 1
        if self.finished:
            self._emit("pain", count=self._pains, repeated=repeated)
            return self._reply([self._phrase("pain_after_end")], urgent=True)
        lines: list[str] = []
        out = self._stop_hold()
        self._emit("pain", count=self._pains, repeated=repeated)
        lines.append(self._phrase("pain"))
        if repeated:
            if self._state != "confirm_end":
                self._return_state = self._state
                self._state = "confirm_end"
            self._emit("warning_signs")
            lines += [self._phrase("pain_again"), self.routine.warning_text(), self._phrase("offer_end")]
        return self._reply(lines, out, urgent=True)

    def _on_pause(self, intent: Intent) -> list[Action]:
        if self.finished:
            return self._reply([self._phrase("session_over")])
        if self._state == "paused":
            return self._reply([self._phrase("already_paused")])
        self._resume_state = self._state
        out = self._timers.pause(self.clock.now())
        self._state = "paused"
        self._emit("paused", resume_state=self._resume_state, timers=self._timers.snapshot(self.clock.now()))
        return self._reply([self._phrase("paused")], out)

    def _on_resume(self, intent: Intent) -> list[Action]:
        if self._state != "paused":
            return self._reply([self._phrase("not_paused"), self._prompt()])
        self._state = self._resume_state
        out = self._timers.resume(self.clock.now())
        self._emit("resumed")
        return self._reply([self._phrase("resumed"), self._prompt()], out)

    def _on_stop(self, intent: Intent) -> list[Action]:
        if self.finished:
            return self._reply([self._phrase("session_over")])
        out = self._stop_hold()
        lines = [self._phrase("stopping")]
        out += self._closing(lines, "stopped")
        return self._reply(lines, out, urgent=True)

    # ----------------------------------------------------------------- voice

    def _voice(self, rate_delta: int, volume_delta: float, ok: str, limit: str) -> list[Action]:
        voice = self.routine.settings.voice
        rate = int(max(voice.rate_min, min(voice.rate_max, self._rate + rate_delta)))
        volume = round(max(voice.volume_min, min(voice.volume_max, self._volume + volume_delta)), 2)
        if (rate, volume) == (self._rate, self._volume):
            return self._reply([self._phrase(limit)], remember=False)
        self._rate, self._volume = rate, volume
        self._emit("voice_changed", rate=rate, volume=volume)
        return self._reply([self._phrase(ok)], [SetVoice(rate, volume)], remember=False)

    def _on_slower(self, intent: Intent) -> list[Action]:
        return self._voice(-self.routine.settings.voice.rate_step, 0.0, "voice_slower", "voice_slowest")

    def _on_faster(self, intent: Intent) -> list[Action]:
        return self._voice(self.routine.settings.voice.rate_step, 0.0, "voice_faster", "voice_fastest")

    def _on_louder(self, intent: Intent) -> list[Action]:
        return self._voice(0, self.routine.settings.voice.volume_step, "voice_louder", "voice_loudest")

    def _on_quieter(self, intent: Intent) -> list[Action]:
        return self._voice(0, -self.routine.settings.voice.volume_step, "voice_quieter", "voice_quietest")
