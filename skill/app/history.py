"""Reading session journals back: ``massage-coach history`` and ``session --resume``.

A journal file is read line by line; a line that is not a JSON object (a last line cut short by a
crash or a kill, or a line half-written when the disk filled up) is skipped and counted in
``damaged``, never an error. See ``skill.app.journal`` for the line format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 256 * 1024 * 1024
"""A journal larger than this is read only up to this size (a runaway file must not exhaust memory)."""


@dataclass(frozen=True)
class JournalLines:
    """The readable lines of one journal file and how many were not readable."""

    lines: list[dict[str, Any]]
    damaged: int = 0


@dataclass(frozen=True)
class SessionSummary:
    """What ``massage-coach history`` shows about one past session.

    ``started``/``ended`` are wall-clock times (``ended`` is None when the session never closed its
    journal, i.e. it was killed); ``steps`` counts the distinct steps entered, ``intents`` the commands
    understood, ``unknown`` the speech not understood; ``finished`` is true once the routine or the
    user ended the session (a killed or interrupted one is not finished and can be resumed).
    """

    session_id: str
    path: Path
    started: datetime | None
    ended: datetime | None
    steps: int
    last_step: str | None
    intents: int
    pain_reports: int
    finished: bool
    unknown: int = 0
    warning_signs: int = 0
    resumes: int = 0
    duration_s: float | None = None
    summary: str | None = None
    resumable: bool = False
    damaged: int = 0
    step_ids: tuple[str, ...] = field(default_factory=tuple)


def read_journal(path: Path | str) -> JournalLines:
    """Every readable line of one journal file, in order (OSError if the file cannot be opened)."""
    with open(path, "rb") as fh:
        raw = fh.read(MAX_FILE_BYTES)
    lines: list[dict[str, Any]] = []
    damaged = 0
    for chunk in raw.split(b"\n"):
        if not chunk.strip():
            continue
        try:
            obj = json.loads(chunk.decode("utf-8", "replace"))
        except ValueError:
            damaged += 1
            continue
        if isinstance(obj, dict) and isinstance(obj.get("kind"), str):
            lines.append(obj)
        else:
            damaged += 1
    return JournalLines(lines, damaged)


def _when(line: dict[str, Any]) -> datetime | None:
    wall = line.get("wall")
    if not isinstance(wall, str):
        return None
    try:
        return datetime.fromisoformat(wall)
    except ValueError:
        return None


def _data(line: dict[str, Any]) -> dict[str, Any]:
    data = line.get("data")
    return data if isinstance(data, dict) else {}


def _step_of(data: dict[str, Any]) -> str | None:
    for key in ("step", "step_id", "id", "name"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def summarize(session_id: str, path: Path, journal: JournalLines) -> SessionSummary:
    """Fold the lines of one journal into a ``SessionSummary``."""
    started = ended = None
    steps: list[str] = []
    last_step = summary = None
    intents = unknown = pains = warnings = opens = 0
    finished = False
    snapshot = None
    first_at = last_at = None
    for line in journal.lines:
        kind, data, src = line["kind"], _data(line), line.get("src", "session")
        when = _when(line)
        if started is None and when is not None:
            started = when
        at = line.get("at")
        if src == "session" and isinstance(at, (int, float)) and not isinstance(at, bool):
            first_at = at if first_at is None else min(first_at, at)
            last_at = at if last_at is None else max(last_at, at)
        if src == "journal":
            if kind == "journal_opened":
                opens += 1
                ended = None  # reopened (resumed): the earlier close was not the end
            elif kind == "journal_closed":
                ended = when
                summary = data.get("summary") if isinstance(data.get("summary"), str) else summary
            elif kind == "snapshot" and isinstance(data.get("state"), dict):
                snapshot = data["state"]
            continue
        if src != "session":
            continue
        if kind == "step_entered":
            step = _step_of(data)
            if step is not None:
                last_step = step
                if step not in steps:
                    steps.append(step)
        elif kind == "intent":
            intents += 1
        elif kind == "unknown":
            unknown += 1
        elif kind == "pain":
            pains += 1
        elif kind == "warning_signs":
            warnings += 1
        elif kind == "session_ended":
            finished = True
    return SessionSummary(
        session_id=session_id, path=path, started=started, ended=ended, steps=len(steps),
        last_step=last_step, intents=intents, pain_reports=pains, finished=finished, unknown=unknown,
        warning_signs=warnings, resumes=max(0, opens - 1),
        duration_s=(last_at - first_at) if first_at is not None and last_at is not None else None,
        summary=summary, resumable=not finished and snapshot is not None, damaged=journal.damaged,
        step_ids=tuple(steps),
    )


def _journal_files(folder: Path | str | None) -> Iterator[Path]:
    if folder is None:
        from skill.app.journal import default_folder

        folder = default_folder()
    base = Path(folder)
    try:
        yield from (p for p in base.glob("*.jsonl") if p.is_file())
    except OSError:
        return


def load_sessions(folder: Path | str | None = None) -> list[SessionSummary]:
    """Summaries of every session journal in ``folder``, newest first; unreadable files are skipped.

    ``folder`` defaults to the journal folder in the user's data folder; a missing folder has no
    sessions. Sessions are ordered by start time (the id breaks ties; a file with no readable line
    sorts last).
    """
    out: list[SessionSummary] = []
    for path in _journal_files(folder):
        try:
            journal = read_journal(path)
        except OSError:
            continue
        out.append(summarize(path.stem, path, journal))
    out.sort(key=lambda s: (s.started.timestamp() if s.started else float("-inf"), s.session_id),
             reverse=True)
    return out


def latest_snapshot(path: Path | str) -> dict[str, Any] | None:
    """The last ``snapshot`` state stored in one journal file, or None."""
    state = None
    for line in read_journal(path).lines:
        if line["kind"] == "snapshot" and line.get("src") == "journal":
            data = _data(line)
            if isinstance(data.get("state"), dict):
                state = data["state"]
    return state


def last_unfinished(folder: Path | str | None = None) -> tuple[str, dict[str, Any]] | None:
    """The session to resume: ``(session_id, latest snapshot)`` of the newest session, if unfinished.

    Sessions that never stored a snapshot (e.g. failed before the first step) are passed over; if
    the newest session that did is finished, there is nothing to resume (None): an older
    interrupted session the user did not resume is not brought back.
    """
    for summary in load_sessions(folder):
        if summary.finished:
            return None
        if not summary.resumable:
            continue
        try:
            state = latest_snapshot(summary.path)
        except OSError:
            continue
        if state is not None:
            return summary.session_id, state
    return None


def format_summary(s: SessionSummary) -> str:
    """One line for ``massage-coach history``, e.g.
    ``20261125-140211  2026-11-25 14:02  finished  24 min  6 steps (last: cool_down)  31 commands  0 pain``.
    """
    when = s.started.strftime("%Y-%m-%d %H:%M") if s.started else "????-??-?? ??:??"
    state = "finished" if s.finished else ("interrupted" if s.ended is None else "stopped")
    if s.resumable:
        state += " (resumable)"
    minutes = f"{s.duration_s / 60:.0f} min" if s.duration_s is not None else "? min"
    last = f" (last: {s.last_step})" if s.last_step else ""
    parts = [s.session_id, when, state, minutes, f"{s.steps} steps{last}", f"{s.intents} commands",
             f"{s.pain_reports} pain"]
    if s.warning_signs:
        parts.append(f"{s.warning_signs} warning signs")
    if s.damaged:
        parts.append(f"{s.damaged} damaged lines skipped")
    return "  ".join(parts)
