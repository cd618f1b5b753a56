"""The massage routine: safety questions, checklist, steps, warning signs and every sentence the coach says.

It is loaded from a YAML file (``skill/data/routine.<language>.yaml`` by default) that a non-programmer can
edit or translate, and validated on load into frozen dataclasses. A broken file raises
``intents.errors.ConfigError`` with one line naming the file, the line and the key path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from intents.errors import ConfigError
from intents.types import HOLD_SECONDS_RANGE, TECHNIQUES
from skill import validate as v

DATA_DIR = Path(__file__).resolve().parent / "data"
STEP_KINDS: tuple[str, ...] = ("technique", "variation", "cooldown")

_NONE: frozenset[str] = frozenset()
PHRASE_FIELDS: Mapping[str, frozenset[str]] = {
    **dict.fromkeys((
        "greeting", "answer_yes_no", "safety_declined", "offer_warning_signs", "declined_reminder",
        "declined_goodbye", "ready", "step_long", "auto_next", "first_step", "already_started",
        "not_started", "not_now", "finish_safety_first", "hold_release", "hold_interrupted", "lighter",
        "lighter_limit", "firmer", "firmer_elbows", "firmer_limit", "pain", "pain_again", "offer_end",
        "continue_gently", "pain_after_end", "paused", "already_paused", "resumed", "not_paused",
        "stopping", "massage_done", "session_over", "unknown", "no_question", "nothing_said",
        "status_new", "status_declined", "status_ready", "status_knot", "status_paused",
        "status_confirm_end", "status_finished", "voice_slower", "voice_faster", "voice_louder",
        "voice_quieter", "voice_slowest", "voice_fastest", "voice_loudest", "voice_quietest", "welcome_back",
    ), _NONE),
    "step_intro": frozenset({"number", "total", "title"}),
    "hold_start": frozenset({"seconds"}),
    "hold_clamped": frozenset({"min", "max", "seconds"}),
    "hold_near_end": frozenset({"seconds"}),
    "technique_switch": frozenset({"technique", "explain"}),
    "technique_same": frozenset({"technique", "explain"}),
    "technique_which": frozenset({"options"}),
    "unknown_hint": frozenset({"phrases"}),
    "help": frozenset({"phrases"}),
    "status_safety": frozenset({"number", "total"}),
    "status_step": frozenset({"number", "total", "title", "technique"}),
    "status_hold": frozenset({"seconds"}),
    "status_elapsed": frozenset({"duration"}),
    "summary": frozenset({"duration", "steps", "total", "techniques", "knots", "pains"}),
}
"""Every phrase key the coach needs, with the ``{placeholders}`` each may use."""

UNITS: tuple[str, ...] = ("minute", "second", "step", "knot", "pain")


@dataclass(frozen=True)
class VoiceSettings:
    """Bounds and step sizes for speaking rate (words a minute) and volume (0.0-1.0)."""

    rate_min: int
    rate_max: int
    rate_step: int
    volume_min: float
    volume_max: float
    volume_step: float

    @classmethod
    def from_dict(cls, data: Any, path: str) -> VoiceSettings:
        """Validate the ``settings.voice`` mapping."""
        d = v.mapping(data, path)
        rmin = int(v.number(d, "rate_min", path, 40, 500, integer=True))
        rmax = int(v.number(d, "rate_max", path, rmin, 500, integer=True))
        vmin = v.number(d, "volume_min", path, 0.0, 1.0)
        vmax = v.number(d, "volume_max", path, vmin, 1.0)
        return cls(rmin, rmax, int(v.number(d, "rate_step", path, 1, 200, integer=True)), vmin, vmax,
                   v.number(d, "volume_step", path, 0.01, 1.0))


@dataclass(frozen=True)
class Settings:
    """Timing and limits (all seconds unless named otherwise)."""

    hold_default_s: int
    hold_cue_before_end_s: float
    pain_repeat_window_s: float
    pacing_reprompt_s: float
    pacing_grace_s: float
    unknown_hint_after: int
    pressure_steps: int
    voice: VoiceSettings

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Settings:
        """Validate the ``settings`` mapping."""
        d = v.mapping(data, path)
        low, high = HOLD_SECONDS_RANGE
        hold = v.mapping(v.get(d, "hold", path), v.join(path, "hold"))
        hp = v.join(path, "hold")
        pain = v.mapping(v.get(d, "pain", path), v.join(path, "pain"))
        pacing = v.mapping(v.get(d, "pacing", path), v.join(path, "pacing"))
        unknown = v.mapping(v.get(d, "unknown", path), v.join(path, "unknown"))
        pressure = v.mapping(v.get(d, "pressure", path), v.join(path, "pressure"))
        pp = v.join(path, "pacing")
        return cls(
            hold_default_s=int(v.number(hold, "default_s", hp, low, high, integer=True)),
            hold_cue_before_end_s=v.number(hold, "cue_before_end_s", hp, 1, low - 1),
            pain_repeat_window_s=v.number(pain, "repeat_window_s", v.join(path, "pain"), 1),
            pacing_reprompt_s=v.number(pacing, "reprompt_s", pp, 5),
            pacing_grace_s=v.number(pacing, "grace_s", pp, 1),
            unknown_hint_after=int(v.number(unknown, "hint_after", v.join(path, "unknown"), 1, 20, True)),
            pressure_steps=int(v.number(pressure, "steps", v.join(path, "pressure"), 1, 10, True)),
            voice=VoiceSettings.from_dict(v.get(d, "voice", path), v.join(path, "voice")),
        )


@dataclass(frozen=True)
class SafetyQuestion:
    """A yes/no question; ``yes`` means the massage must not start."""

    id: str
    ask: str


@dataclass(frozen=True)
class PrepItem:
    """One line of the preparation checklist."""

    text: str
    optional: bool


@dataclass(frozen=True)
class Technique:
    """A hand technique: its spoken name and how to do it."""

    id: str
    name: str
    explain: str


@dataclass(frozen=True)
class Step:
    """One step of the massage, with its suggested duration."""

    id: str
    kind: str
    technique: str
    duration_s: float
    title: str
    say: str

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Step:
        """Validate one entry of ``steps``."""
        d = v.mapping(data, path)
        kind = v.text(d, "kind", path)
        if kind not in STEP_KINDS:
            raise v.Invalid(v.join(path, "kind"),
                            f"unknown kind {kind!r} (use one of: {', '.join(STEP_KINDS)})")
        technique = v.text(d, "technique", path)
        if technique not in TECHNIQUES:
            raise v.Invalid(v.join(path, "technique"),
                            f"unknown technique {technique!r} (use one of: {', '.join(TECHNIQUES)})")
        return cls(v.text(d, "id", path), kind, technique, v.number(d, "duration_s", path, 1, 3600),
                   v.text(d, "title", path), v.text(d, "say", path))


@dataclass(frozen=True)
class Plural:
    """Forms of a counted word: ``zero`` (optional), ``one`` and ``other`` (with ``{n}``)."""

    one: str
    other: str
    zero: str | None = None

    def format(self, n: int) -> str:
        """The phrase for ``n``, e.g. ``one knot`` or ``3 knots``."""
        if n == 0 and self.zero is not None:
            return self.zero
        return (self.one if n == 1 else self.other).format(n=n)

    @classmethod
    def from_dict(cls, data: Any, path: str) -> Plural:
        """Validate one entry of ``units``."""
        d = v.mapping(data, path)
        n = frozenset({"n"})
        zero = v.template(v.text(d, "zero", path), v.join(path, "zero"), n) if "zero" in d else None
        return cls(v.template(v.text(d, "one", path), v.join(path, "one"), n),
                   v.template(v.text(d, "other", path), v.join(path, "other"), n), zero)


@dataclass(frozen=True)
class ListStyle:
    """How spoken lists are joined: ``a, b and c`` / ``a, b or c``."""

    separator: str
    last_and: str
    last_or: str
    none: str

    def join(self, words: list[str], last: str | None = None) -> str:
        """Join ``words`` with the separator and ``last`` (default: ``last_and``) before the final one."""
        if not words:
            return self.none
        if len(words) == 1:
            return words[0]
        return self.separator.join(words[:-1]) + (self.last_and if last is None else last) + words[-1]


@dataclass(frozen=True)
class Routine:
    """The whole validated routine; ``phrase(key, **fields)`` fills a sentence template."""

    language: str
    source: str
    settings: Settings
    safety: tuple[SafetyQuestion, ...]
    prep_intro: str
    prep_items: tuple[PrepItem, ...]
    techniques: Mapping[str, Technique]
    steps: tuple[Step, ...]
    warning_intro: str
    warning_signs: tuple[str, ...]
    knot_guidance: str
    knot_offer: str
    knot_declined: str
    units: Mapping[str, Plural]
    lists: ListStyle
    phrases: Mapping[str, str]

    def phrase(self, key: str, **fields: Any) -> str:
        """The sentence ``key`` with its ``{placeholders}`` filled in."""
        return self.phrases[key].format(**fields)

    def count(self, unit: str, n: int) -> str:
        """``n`` of ``unit`` in words, e.g. ``count("knot", 2) == "2 knots"``."""
        return self.units[unit].format(n)

    def step_index(self, step_id: str) -> int:
        """The index of the step called ``step_id`` (``ValueError`` if there is none)."""
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        raise ValueError(f"no step {step_id!r}")

    def warning_text(self) -> str:
        """The full warning-signs reading: the intro, then every sign."""
        return " ".join([self.warning_intro, *(_sentence(sign) for sign in self.warning_signs)])

    def checklist_text(self) -> str:
        """The preparation checklist as one spoken sentence."""
        return f"{self.prep_intro} {self.lists.join([item.text for item in self.prep_items])}."

    @classmethod
    def from_dict(cls, data: Any, source: str = "") -> Routine:
        """Validate a parsed routine document (raises ``validate.Invalid`` naming the key path)."""
        d = v.mapping(data, "")
        safety = v.mapping(v.get(d, "safety", ""), "safety")
        questions = []
        for i, q in enumerate(v.items(safety, "questions", "safety")):
            qp = f"safety.questions[{i}]"
            qd = v.mapping(q, qp)
            questions.append(SafetyQuestion(v.text(qd, "id", qp), v.text(qd, "ask", qp)))
        prep = v.mapping(v.get(d, "preparation", ""), "preparation")
        prep_items = []
        for i, item in enumerate(v.items(prep, "items", "preparation")):
            ip = f"preparation.items[{i}]"
            idict = v.mapping(item, ip)
            prep_items.append(PrepItem(v.text(idict, "text", ip), v.flag(idict, "optional", ip, False)))
        tech = v.mapping(v.get(d, "techniques", ""), "techniques")
        techniques = {}
        for name in tech:
            if name not in TECHNIQUES:
                raise v.Invalid(f"techniques.{name}",
                                f"unknown technique {name!r} (use one of: {', '.join(TECHNIQUES)})")
        for name in TECHNIQUES:
            tp = f"techniques.{name}"
            td = v.mapping(v.get(tech, name, "techniques"), tp)
            techniques[name] = Technique(name, v.text(td, "name", tp), v.text(td, "explain", tp))
        steps = tuple(Step.from_dict(s, f"steps[{i}]") for i, s in enumerate(v.items(d, "steps", "")))
        seen: set[str] = set()
        for i, step in enumerate(steps):
            if step.id in seen:
                raise v.Invalid(f"steps[{i}].id", f"duplicate step id {step.id!r}")
            seen.add(step.id)
        if steps[-1].kind != "cooldown":
            raise v.Invalid(f"steps[{len(steps) - 1}].kind",
                            "the last step must be the cool-down (kind: cooldown)")
        warn = v.mapping(v.get(d, "warning_signs", ""), "warning_signs")
        signs = v.items(warn, "items", "warning_signs")
        for i, sign in enumerate(signs):
            if not isinstance(sign, str) or not sign.strip():
                raise v.Invalid(f"warning_signs.items[{i}]", "must be a non-empty text")
        knot = v.mapping(v.get(d, "knot", ""), "knot")
        units_d = v.mapping(v.get(d, "units", ""), "units")
        units = {u: Plural.from_dict(v.get(units_d, u, "units"), f"units.{u}") for u in UNITS}
        lists = v.mapping(v.get(d, "lists", ""), "lists")
        keys = ("separator", "last_and", "last_or", "none")
        style = ListStyle(*(str(v.get(lists, k, "lists")) for k in keys))
        return cls(
            language=v.text(d, "language", ""), source=source,
            settings=Settings.from_dict(v.get(d, "settings", ""), "settings"),
            safety=tuple(questions), prep_intro=v.text(prep, "intro", "preparation"),
            prep_items=tuple(prep_items), techniques=MappingProxyType(techniques), steps=steps,
            warning_intro=v.text(warn, "intro", "warning_signs"),
            warning_signs=tuple(" ".join(s.split()) for s in signs),
            knot_guidance=v.text(knot, "guidance", "knot"), knot_offer=v.text(knot, "offer", "knot"),
            knot_declined=v.text(knot, "declined", "knot"),
            units=MappingProxyType(units), lists=style, phrases=MappingProxyType(_phrases(d)),
        )


def _phrases(d: Mapping[str, Any]) -> dict[str, str]:
    phrases = v.mapping(v.get(d, "phrases", ""), "phrases")
    out = {}
    for key in phrases:
        if key not in PHRASE_FIELDS:
            raise v.Invalid(f"phrases.{key}", "unknown phrase key (misspelt?)")
    for key, allowed in PHRASE_FIELDS.items():
        out[key] = v.template(v.text(phrases, key, "phrases"), f"phrases.{key}", allowed)
    return out


def default_path(language: str = "en") -> Path:
    """The packaged routine file for ``language``."""
    return DATA_DIR / f"routine.{language}.yaml"


def load_routine(path: Path | None = None, language: str = "en") -> Routine:
    """Load and validate a routine file (default: the packaged ``routine.<language>.yaml``).

    Raises ``ConfigError`` with a one-line message naming the file, the line and the key path.
    """
    file = Path(path) if path is not None else default_path(language)
    try:
        source = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if path is None:
            raise ConfigError(f"no routine for language {language!r} (missing {file})") from None
        raise ConfigError(f"routine file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read routine file {file}: {_one_line(str(err))}") from None
    try:
        data = yaml.safe_load(source)
    except RecursionError:
        raise ConfigError(f"{file}: YAML syntax error: nested too deeply") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{file}{where}: YAML syntax error: {_one_line(str(problem))}") from None
    try:
        return Routine.from_dict(data, str(file))
    except RecursionError:
        raise ConfigError(f"{file}: nested too deeply (or refers to itself)") from None
    except v.Invalid as err:
        line = v.line_for(v.line_map(source), err.path)
        where = f", line {line}" if line is not None else ""
        raise ConfigError(f"{file}{where}: {err.path}: {_one_line(err.message)}") from None


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."
