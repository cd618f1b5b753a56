"""Dialog helpers: which intents make sense in each state, and how help, durations and summaries are worded.

All wording comes from the routine's YAML templates; this module only decides what goes into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from skill.routine import Routine

STATES: tuple[str, ...] = (
    "new", "safety", "declined", "ready", "step", "hold", "knot", "paused", "confirm_end", "finished",
)  # fmt: skip
"""Every value of ``Session.state``.

``new`` before ``begin()``; ``safety`` asking the safety questions; ``declined`` the answers ruled a massage
out (warning signs offered); ``ready`` checklist read, waiting for ``start``; ``step`` in a routine step;
``hold`` a timed hold runs; ``knot`` knot guidance given, a hold offered (yes/no); ``paused``;
``confirm_end`` a second pain report offered to end (yes/no); ``finished`` the session is over.
"""

ALWAYS: tuple[str, ...] = ("warning_signs", "help", "pain", "pause", "stop")
"""Intents that do something useful in every state."""

VOICE: tuple[str, ...] = ("slower", "faster", "louder", "quieter")

_MASSAGE = ("next", "previous", "repeat", "hold", "technique", "knot", "lighter", "firmer", "status")

AVAILABLE: Mapping[str, tuple[str, ...]] = {
    "new": ("start", "status", *ALWAYS),
    "safety": ("yes", "no", "repeat", "status", *VOICE, *ALWAYS),
    "declined": ("yes", "no", "repeat", "warning_signs", "status", "stop"),
    "ready": ("start", "repeat", "status", *VOICE, *ALWAYS),
    "step": (*_MASSAGE, *VOICE, *ALWAYS),
    "hold": ("next", "previous", "repeat", "hold", "technique", "knot", "status", *VOICE, *ALWAYS),
    "knot": ("yes", "no", *_MASSAGE, *VOICE, *ALWAYS),
    "paused": ("resume", "repeat", "status", *VOICE, *ALWAYS),
    "confirm_end": ("yes", "no", "repeat", "status", *VOICE, *ALWAYS),
    "finished": ("warning_signs", "status"),
}
"""The intents worth suggesting in each state, most useful first (``help`` lists these)."""


def example(examples: Mapping[str, str], intent: str) -> str:
    """The phrase to suggest for ``intent``: the recognizer's canonical example, else the intent's name."""
    phrase = examples.get(intent)
    return phrase if phrase else intent.replace("_", " ")


def suggestions(examples: Mapping[str, str], state: str, limit: int | None = None) -> list[str]:
    """Example phrases of the intents available in ``state`` (without ``help`` itself)."""
    names = [name for name in AVAILABLE.get(state, ALWAYS) if name != "help"]
    phrases: list[str] = []
    for name in names:
        phrase = example(examples, name)
        if phrase not in phrases:
            phrases.append(phrase)
    return phrases[:limit] if limit is not None else phrases


def help_text(routine: Routine, examples: Mapping[str, str], state: str) -> str:
    """The help reply for ``state``."""
    phrases = suggestions(examples, state)
    return routine.phrase("help", phrases=routine.lists.join(phrases, routine.lists.last_or))


def hint_text(routine: Routine, examples: Mapping[str, str], state: str) -> str:
    """The short hint after several phrases in a row were not understood."""
    phrases = suggestions(examples, state, limit=4)
    return routine.phrase("unknown_hint", phrases=routine.lists.join(phrases, routine.lists.last_or))


def duration_text(routine: Routine, seconds: float) -> str:
    """``seconds`` in words, e.g. ``4 minutes and 10 seconds``."""
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    if minutes == 0:
        return routine.count("second", secs)
    if secs == 0:
        return routine.count("minute", minutes)
    return routine.lists.join([routine.count("minute", minutes), routine.count("second", secs)])


def summary_text(routine: Routine, stats: Mapping[str, Any]) -> str:
    """The closing summary from ``stats`` (see ``Session.summary_stats``)."""
    names = [routine.techniques[t].name for t in stats["techniques"] if t in routine.techniques]
    return routine.phrase(
        "summary",
        duration=duration_text(routine, stats["elapsed_s"]),
        steps=routine.count("step", len(stats["steps"])),
        total=len(routine.steps),
        techniques=routine.lists.join(names),
        knots=routine.count("knot", stats["knots"]),
        pains=routine.count("pain", stats["pains"]),
    )
