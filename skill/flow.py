"""The massage-flow handlers of ``Session`` (a mixin): start, next, previous, hold, technique, knot,
lighter, firmer, yes, no and not-understood speech.
"""

from __future__ import annotations

from intents.types import TECHNIQUES, Intent
from skill import dialog
from skill.actions import Action
from skill.handlers import Handlers

_MASSAGE = ("step", "hold", "knot")


class Flow(Handlers):
    """Handlers that move through the routine."""

    def _unknown(self, intent: Intent) -> list[Action]:
        self._unknown_run += 1
        self._emit("unknown", text=intent.text, run=self._unknown_run)
        if self._unknown_run >= self.routine.settings.unknown_hint_after:
            self._unknown_run = 0
            return self._reply([dialog.hint_text(self.routine, self.examples, self._state)], remember=False)
        return self._reply([self._phrase("unknown")], remember=False)

    def _on_start(self, intent: Intent) -> list[Action]:
        if self._state == "ready":
            lines: list[str] = []
            out = self._enter_step(0, lines)
            return self._reply(lines, out)
        if self._state in _MASSAGE:
            return self._reply([self._phrase("already_started")])
        return self._refuse()

    def _on_next(self, intent: Intent) -> list[Action]:
        if self._state == "ready":
            return self._on_start(intent)
        if self._state not in _MASSAGE:
            return self._refuse()
        lines: list[str] = []
        out = self._stop_hold(lines)
        out += self._advance(lines)
        return self._reply(lines, out)

    def _on_previous(self, intent: Intent) -> list[Action]:
        if self._state not in _MASSAGE:
            return self._refuse()
        lines: list[str] = []
        out = self._stop_hold(lines)
        if self._index == 0:
            lines.append(self._phrase("first_step"))
        out += self._enter_step(max(0, self._index - 1), lines)
        return self._reply(lines, out)

    def _on_hold(self, intent: Intent) -> list[Action]:
        if self._state not in _MASSAGE:
            return self._refuse()
        lines: list[str] = []
        out = self._start_hold(intent.slots.get("seconds"), lines)
        return self._reply(lines, out)

    def _on_technique(self, intent: Intent) -> list[Action]:
        if self._state not in _MASSAGE:
            return self._refuse()
        wanted = intent.slots.get("technique")
        if wanted not in TECHNIQUES:
            names = [self.routine.techniques[t].name for t in TECHNIQUES]
            options = self.routine.lists.join(names, self.routine.lists.last_or)
            return self._reply([self._phrase("technique_which", options=options)])
        technique = self.routine.techniques[str(wanted)]
        if technique.id == self._technique:
            return self._reply([self._phrase("technique_same", technique=technique.name,
                                             explain=technique.explain)])
        previous, self._technique = self._technique, technique.id
        if technique.id not in self._techniques_used:
            self._techniques_used.append(technique.id)
        self._emit("technique_changed", technique=technique.id, previous=previous)
        return self._reply([self._phrase("technique_switch", technique=technique.name,
                                         explain=technique.explain)])

    def _on_knot(self, intent: Intent) -> list[Action]:
        if self._state not in _MASSAGE:
            return self._refuse()
        lines: list[str] = []
        out = self._stop_hold(lines)
        self._knots += 1
        self._state = "knot"
        self._emit("knot", count=self._knots)
        lines += [self.routine.knot_guidance, self.routine.knot_offer]
        return self._reply(lines, out)

    def _pressure_advice(self, firmer: bool) -> list[Action]:
        if self._state not in _MASSAGE:
            return self._refuse()
        limit = self.routine.settings.pressure_steps
        if firmer:
            if self._pressure >= limit:
                return self._reply([self._phrase("firmer_limit")])
            self._pressure += 1
            lines = [self._phrase("firmer")]
            if self._technique == "elbows":
                lines.append(self._phrase("firmer_elbows"))
            return self._reply(lines)
        if self._pressure <= -limit:
            return self._reply([self._phrase("lighter_limit")])
        self._pressure -= 1
        return self._reply([self._phrase("lighter")])

    def _on_lighter(self, intent: Intent) -> list[Action]:
        return self._pressure_advice(firmer=False)

    def _on_firmer(self, intent: Intent) -> list[Action]:
        return self._pressure_advice(firmer=True)

    def _answer_safety(self, yes: bool) -> list[Action]:
        if yes:
            self._state = "declined"
            lines = [self._phrase("safety_declined"), self._phrase("offer_warning_signs")]
            return self._reply(lines, urgent=True)
        if self._question + 1 < len(self.routine.safety):
            self._question += 1
            return self._reply([self.routine.safety[self._question].ask])
        self._state = "ready"
        return self._reply([self.routine.checklist_text(), self._phrase("ready")])

    def _on_yes(self, intent: Intent) -> list[Action]:
        state = self._state
        if state == "safety":
            return self._answer_safety(True)
        if state == "declined":
            return self._on_warning_signs(intent)
        if state == "ready":
            return self._on_start(intent)
        if state == "knot":
            lines: list[str] = []
            out = self._start_hold(intent.slots.get("seconds"), lines)
            return self._reply(lines, out)
        if state == "confirm_end":
            return self._end([], "ended_after_pain", urgent=True)
        if state in ("step", "hold"):
            return self._reply([self._phrase("no_question")])
        return self._refuse()

    def _on_no(self, intent: Intent) -> list[Action]:
        state = self._state
        if state == "safety":
            return self._answer_safety(False)
        if state == "declined":
            return self._end([self._phrase("declined_goodbye")], "declined")
        if state == "knot":
            self._state = "step"
            return self._reply([self.routine.knot_declined])
        if state == "confirm_end":
            self._state = self._return_state
            return self._reply([self._phrase("continue_gently"), self._prompt()])
        if state in ("step", "hold", "ready"):
            return self._reply([self._phrase("no_question"), self._prompt()] if state == "ready"
                               else [self._phrase("no_question")])
        return self._refuse()
