"""Things that happened in a session, sent to listeners (journal, logs) as they happen."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS: tuple[str, ...] = (
    "session_started", "intent", "unknown", "step_entered", "hold_started", "hold_ended",
    "technique_changed", "knot", "pain", "warning_signs", "paused", "resumed", "voice_changed",
    "session_ended",
)  # fmt: skip


@dataclass(frozen=True)
class SessionEvent:
    """One event: its ``kind`` (one of ``EVENT_KINDS``), when (the session clock) and its details.

    ``data`` holds only JSON-friendly values, e.g. ``{"step": "long_strokes", "index": 4}``.
    """

    kind: str
    at: float
    data: Mapping[str, Any] = field(default_factory=dict)


Listener = Callable[[SessionEvent], None]
"""A function the session calls with each event, in order."""
