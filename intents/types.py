"""The vocabulary shared by the packages: intent names, technique names and the ``Intent`` value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

INTENT_NAMES: tuple[str, ...] = (
    "start", "next", "previous", "repeat", "hold", "technique", "knot", "pause", "resume", "stop",
    "slower", "faster", "louder", "quieter", "lighter", "firmer", "pain", "warning_signs", "help",
    "status", "yes", "no",
)  # fmt: skip
"""Every intent the skill handles; ``unknown`` is not one of them (it is the absence of a match)."""

UNKNOWN = "unknown"
"""The name the skill and the journal use for speech that was not understood."""

TECHNIQUES: tuple[str, ...] = ("fingertips", "fists", "elbows", "palms")
"""Values of the ``technique`` slot."""

HOLD_SECONDS_RANGE: tuple[int, int] = (10, 30)
"""Hold durations the guide allows; the skill clamps a requested ``seconds`` slot into it."""


@dataclass(frozen=True)
class Intent:
    """One understood command: its catalogue name, its slots, how sure we are and what was heard.

    ``slots`` holds ``technique`` (one of ``TECHNIQUES``) for ``technique`` and ``seconds`` (an int)
    for ``hold`` when a duration was said.
    """

    name: str
    slots: Mapping[str, str | int] = field(default_factory=dict)
    confidence: float = 1.0
    text: str = ""

    @classmethod
    def unknown(cls, text: str = "") -> Intent:
        """The intent the skill receives for speech that was heard but not understood."""
        return cls(UNKNOWN, {}, 0.0, text)
