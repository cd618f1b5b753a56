"""Named deadlines on the injected clock, turned into ``StartTimer``/``CancelTimer`` actions.

The session arms a timer (e.g. ``hold_end`` in 20 s); the shell only has to call ``Session.tick()`` by
then (or simply every fraction of a second), and ``due()`` tells the session what has come due.
Pausing keeps each timer's remaining time so resuming re-arms it exactly.
"""

from __future__ import annotations

from skill.actions import Action, CancelTimer, StartTimer


class Timers:
    """A set of named deadlines (absolute times on the session clock)."""

    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._paused: dict[str, float] = {}

    def arm(self, name: str, now: float, seconds: float) -> list[Action]:
        """Set ``name`` to fire ``seconds`` from ``now`` (replacing any earlier deadline of that name)."""
        seconds = max(0.0, float(seconds))
        self._due[name] = now + seconds
        return [StartTimer(name, seconds)]

    def cancel(self, *names: str) -> list[Action]:
        """Disarm ``names``; a ``CancelTimer`` for each one that was armed (or paused)."""
        out: list[Action] = []
        for name in names:
            armed = self._due.pop(name, None) is not None
            paused = self._paused.pop(name, None) is not None
            if armed or paused:
                out.append(CancelTimer(name))
        return out

    def cancel_all(self) -> list[Action]:
        """Disarm every timer."""
        return self.cancel(*sorted(set(self._due) | set(self._paused)))

    def armed(self, name: str) -> bool:
        """Whether ``name`` is running (not paused)."""
        return name in self._due

    def remaining(self, name: str, now: float) -> float | None:
        """Seconds until ``name`` fires (its frozen remainder while paused), or ``None``."""
        if name in self._due:
            return max(0.0, self._due[name] - now)
        return self._paused.get(name)

    def due(self, now: float) -> list[str]:
        """Pop and return every timer whose deadline has passed, earliest first."""
        fired = sorted((at, name) for name, at in self._due.items() if at <= now)
        for _, name in fired:
            del self._due[name]
        return [name for _, name in fired]

    def pause(self, now: float) -> list[Action]:
        """Freeze every running timer, remembering its remaining time."""
        out: list[Action] = []
        for name, at in sorted(self._due.items()):
            self._paused[name] = max(0.0, at - now)
            out.append(CancelTimer(name))
        self._due.clear()
        return out

    def resume(self, now: float) -> list[Action]:
        """Re-arm every frozen timer with the time it had left."""
        out: list[Action] = []
        for name, left in sorted(self._paused.items(), key=lambda item: item[1]):
            out += self.arm(name, now, left)
        self._paused.clear()
        return out

    def snapshot(self, now: float) -> dict[str, float]:
        """Remaining seconds of each timer (running or paused), JSON-friendly."""
        out = {name: round(max(0.0, at - now), 3) for name, at in self._due.items()}
        out.update({name: round(left, 3) for name, left in self._paused.items()})
        return out
