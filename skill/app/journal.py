"""The session journal: every event of a session appended as one JSON line, safe against crashes.

File: ``<folder>/<session_id>.jsonl`` (folder by default ``user_data_dir("massage-coach")/journal``).
Each line is one JSON object::

    {"seq": 7, "wall": "2026-11-25T14:02:11.532+00:00", "at": 95.25, "src": "session",
     "kind": "step_entered", "data": {"step": "long_strokes", "index": 2}}

- ``seq``: 0, 1, 2, ... per ``Journal.open`` (a resumed session starts again at 0 after its
  ``journal_opened`` line), so a reader can see that no line went missing;
- ``wall``: wall-clock time (ISO 8601, local offset); ``at``: session time in seconds, the same scale for
  every line: ``SessionEvent.at`` for session events; for the other lines the session time now, worked
  out from the injected clock and the last session event (without a clock: the last session time seen),
  or null before the session's first event;
- ``src``: ``"session"`` for ``SessionEvent``s (kinds in ``skill.events.EVENT_KINDS``), ``"app"`` for
  the shell's records (``heard``, ``engine``, ``mic_lost``, ``mic_back``, ``error``, ...) and
  ``"journal"`` for the journal's own lines: ``journal_opened`` (``{"session_id", "resumed", "version"}``),
  ``snapshot`` (``{"state": <Session.snapshot()>}``) and ``journal_closed`` (``{"summary"}``).

Each line is written with one ``os.write`` on an ``O_APPEND`` descriptor and fsynced, so a crash or a
kill leaves every earlier line readable; at worst the last line is cut short, which readers skip.
When the disk is full or the folder read-only, the journal says so once (``on_warning``), keeps the
unwritten lines in memory (bounded) and tries again every ``retry_every`` events; the session goes on.
Reading the files back (history, resume) lives in ``skill.app.history``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from intents.errors import ConfigError
from skill.app.faults import Once
from skill.clock import Clock
from skill.events import SessionEvent

FORMAT_VERSION = 1
"""Bumped when the line format changes incompatibly."""

MAX_TEXT = 2000
"""Strings longer than this (e.g. a pasted page in --text mode) are cut short in the journal."""

MAX_PENDING = 50_000
"""Lines kept in memory while the journal cannot write; the oldest go first beyond this."""

_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def default_folder() -> Path:
    """The journal folder in the user's data folder, e.g. ``~/.local/share/massage-coach/journal``."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("massage-coach", appauthor=False)) / "journal"


def check_session_id(session_id: str) -> str:
    """Return ``session_id`` if it is a safe file name stem, else raise ``ConfigError``."""
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id) or ".." in session_id:
        raise ConfigError(f"not a valid session id: {session_id!r} (letters, digits, '-', '_' and '.')")
    return session_id


def new_session_id(folder: Path, now: float | None = None) -> str:
    """A fresh, sortable id from the local time, e.g. ``20261125-140211`` (``-2``, ``-3`` if taken)."""
    stamp = datetime.fromtimestamp(time.time() if now is None else now).strftime("%Y%m%d-%H%M%S")
    candidate, n = stamp, 1
    while (folder / f"{candidate}.jsonl").exists():
        n += 1
        candidate = f"{stamp}-{n}"
    return candidate


def _clean(value: Any, depth: int = 0) -> Any:
    """A JSON-friendly copy of ``value``: long strings cut, odd objects as strings, bad unicode replaced."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            value = value[:MAX_TEXT] + f"... [{len(value) - MAX_TEXT} more characters]"
        return value.encode("utf-8", "replace").decode("utf-8")
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if depth > 20:
        return str(value)[:MAX_TEXT]
    if isinstance(value, Mapping):
        return {str(k)[:200]: _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v, depth + 1) for v in value]
    return _clean(str(value), depth + 1)


class Journal:
    """An append-only JSON-lines journal for one session; use ``Journal.open``.

    Thread-safe: the live loop may record from its audio thread while the session emits events.
    """

    def __init__(
        self,
        path: Path,
        session_id: str,
        *,
        clock: Clock | None = None,
        on_warning: Callable[[str], None] | None = None,
        wall: Callable[[], float] = time.time,
        fsync: bool = True,
        retry_every: int = 25,
    ) -> None:
        self.path = path
        self.session_id = session_id
        self._clock = clock
        self._wall = wall
        self._fsync = fsync
        self._retry_every = max(1, retry_every)
        self._warn = Once(on_warning)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._seq = 0
        self._last_at: float | None = None
        self._clock_offset: float | None = None  # session time minus clock time at the last session event
        self._last_snapshot: Any = None
        self._pending: deque[bytes] = deque(maxlen=MAX_PENDING)
        self._since_failure = 0
        self._failing = False
        self._check_tail = True  # the file may end in a line cut short by an earlier crash
        self.written = 0
        """Lines written to disk by this journal object."""
        self.dropped = 0
        """Lines lost because the in-memory backlog overflowed while the disk could not be written."""
        self.closed = False

    # ----------------------------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        folder: Path | str | None = None,
        session_id: str | None = None,
        *,
        clock: Clock | None = None,
        on_warning: Callable[[str], None] | None = None,
        wall: Callable[[], float] = time.time,
        fsync: bool = True,
        retry_every: int = 25,
    ) -> Journal:
        """Open the journal of a new session, or of ``session_id`` to append to it (``--resume``).

        Never raises for an unwritable folder: it warns once through ``on_warning`` (default: the
        ``massage_coach`` logger) and keeps lines in memory. A malformed ``session_id`` is a ``ConfigError``.
        """
        base = Path(folder) if folder is not None else default_folder()
        resumed = session_id is not None
        sid = check_session_id(session_id) if session_id is not None else new_session_id(base, wall())
        journal = cls(base / f"{sid}.jsonl", sid, clock=clock, on_warning=on_warning, wall=wall,
                      fsync=fsync, retry_every=retry_every)
        with journal._lock:
            journal._try_open()
        journal._append("journal", "journal_opened", None,
                        {"session_id": sid, "resumed": resumed, "version": FORMAT_VERSION})
        return journal

    def _try_open(self) -> bool:
        """Open the file for appending (creating the folder); False and one warning if impossible."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            self._fail(exc)
            return False
        return True

    def _fail(self, exc: OSError) -> None:
        why = exc.strerror or str(exc)
        self._warn("journal", f"cannot write the session journal {self.path} ({why}); "
                              "the session goes on, events are kept in memory")
        self._since_failure = 0
        self._failing = True

    # ----------------------------------------------------------------------------------- writing
    def listener(self, event: SessionEvent) -> None:
        """Journal one ``SessionEvent`` (pass this method to ``Session.add_listener``)."""
        self._append("session", event.kind, float(event.at), event.data)

    def record(self, kind: str, **data: Any) -> None:
        """Journal one event of the shell, e.g. ``record("heard", text="next", engine="vosk")``."""
        self._append("app", kind, None, data)

    def snapshot(self, snap: Mapping[str, Any]) -> None:
        """Store the session's latest resumable state (``Session.snapshot()``); unchanged ones are skipped."""
        state = _clean(snap)
        with self._lock:
            if state == self._last_snapshot:
                return
            self._last_snapshot = state
        self._append("journal", "snapshot", None, {"state": state})

    def close(self, summary: str | None = None) -> None:
        """Write the closing line (with the summary said, if any), flush and release the file. Idempotent."""
        if self.closed:
            return
        self._append("journal", "journal_closed", None, {"summary": summary})
        with self._lock:
            self.closed = True
            if self._pending:
                self._flush_pending()
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(None)

    @property
    def pending(self) -> int:
        """Lines waiting in memory because the disk could not take them."""
        return len(self._pending)

    @property
    def healthy(self) -> bool:
        """True while lines reach the disk."""
        return self._fd is not None and not self._pending

    def _append(self, src: str, kind: str, at: float | None, data: Mapping[str, Any] | None) -> None:
        with self._lock:
            if self.closed:
                return
            at = self._session_time(at)
            wall = datetime.fromtimestamp(self._wall()).astimezone().isoformat(timespec="milliseconds")
            line = {"seq": self._seq, "wall": wall, "at": at, "src": src, "kind": str(kind),
                    "data": _clean(dict(data or {}))}
            self._seq += 1
            raw = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
            if len(self._pending) == self._pending.maxlen:
                self.dropped += 1
            self._pending.append(raw)
            self._since_failure += 1
            if self._failing and self._since_failure < self._retry_every:
                return  # failed recently: retry only every ``retry_every`` events
            self._flush_pending()

    def _session_time(self, at: float | None) -> float | None:
        """``at`` of a session event (remembered), else the session time now as best known (lock held)."""
        if at is not None:
            self._last_at = at
            if self._clock is not None:
                self._clock_offset = at - self._clock.now()
            return at
        if self._clock is not None and self._clock_offset is not None:
            return round(max(self._last_at or 0.0, self._clock.now() + self._clock_offset), 3)
        return self._last_at

    def _flush_pending(self) -> None:
        """Write the backlog to disk in order; on failure keep it and warn once. Caller holds the lock."""
        if not self._try_open():
            return
        assert self._fd is not None
        try:
            if self._check_tail:
                self._end_cut_line()
            while self._pending:
                raw = self._pending[0]
                self._write_all(raw)
                self._pending.popleft()
                self.written += 1
            if self._fsync:
                os.fsync(self._fd)
        except OSError as exc:
            self._check_tail = True  # a partial write may have left half a line
            self._fail(exc)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
            return
        self._failing = False
        if self._warn.said("journal"):
            self._warn.reset("journal")  # writing again: a later failure is reported again

    def _write_all(self, raw: bytes) -> None:
        assert self._fd is not None
        view = memoryview(raw)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def _end_cut_line(self) -> None:
        """If the file ends in the middle of a line (crash, disk full), end it so ours start clean."""
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size > 0 and os.pread(self._fd, 1, size - 1) != b"\n":
            self._write_all(b"\n")
        self._check_tail = False


# Reading journals back lives in ``skill.app.history``; re-exported here for the CLI's convenience.
from skill.app.history import SessionSummary, last_unfinished, load_sessions  # noqa: E402

__all__ = [
    "FORMAT_VERSION", "Journal", "SessionSummary", "default_folder", "last_unfinished", "load_sessions",
]
