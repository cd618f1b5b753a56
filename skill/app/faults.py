"""Small helpers for handling faults without losing the session.

- ``Once``: say a warning once (disk full, journal read-only, TTS fell back to text), not on every event.
- ``backoff_delays`` / ``retry``: retry an operation that may fail for a while (a busy microphone, a TTS
  engine that must be restarted) with capped exponential backoff; the sleep function is injectable.
- ``call_with_timeout``: run a call that might hang (a TTS engine's ``runAndWait``) in a daemon thread
  and give up after a timeout instead of freezing the session.

Nothing here does audio or reads files: it is plain control flow, shared by the shell's modules.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

_log = logging.getLogger("massage_coach")


def log_warning(message: str) -> None:
    """The default warning sink: one line on the ``massage_coach`` logger."""
    _log.warning("%s", message)


class Once:
    """Pass each distinct warning ``key`` to ``sink`` only the first time it is raised.

    ``Once(print)("journal", "journal is read-only; going on without it")`` prints once, however
    often it is called with the ``"journal"`` key; ``reset(key)`` re-arms a key (e.g. when the disk
    has room again, so a later failure is reported again).
    """

    def __init__(self, sink: Callable[[str], None] | None = None) -> None:
        self._sink = sink or log_warning
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, key: str, message: str) -> bool:
        """Send ``message`` if ``key`` was not said yet; True if it was sent now."""
        with self._lock:
            if key in self._said:
                return False
            self._said.add(key)
        try:
            self._sink(message)
        except Exception:  # a broken sink (closed stderr) must not break the caller
            _log.debug("warning sink failed for %s", key, exc_info=True)
        return True

    def said(self, key: str) -> bool:
        """True if ``key`` was already reported."""
        with self._lock:
            return key in self._said

    def reset(self, key: str) -> None:
        """Forget that ``key`` was reported."""
        with self._lock:
            self._said.discard(key)


def backoff_delays(first: float = 0.25, factor: float = 2.0, cap: float = 5.0) -> Iterator[float]:
    """An endless series of delays: ``first``, then multiplied by ``factor``, never above ``cap``."""
    if first < 0 or factor < 1 or cap < 0:
        raise ValueError("backoff needs first >= 0, factor >= 1 and cap >= 0")
    delay = first
    while True:
        yield min(delay, cap)
        delay = min(delay * factor, cap)


def retry(
    fn: Callable[[], T],
    attempts: int = 5,
    retry_on: tuple[type[BaseException], ...] = (OSError,),
    delays: Iterator[float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[int, BaseException], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> T:
    """Call ``fn`` until it returns, at most ``attempts`` times, sleeping between failures.

    Only exceptions in ``retry_on`` are retried; the last one is re-raised when the attempts run out
    or when ``should_stop()`` turns true (e.g. the user pressed Ctrl-C or the session ended).
    ``on_retry(attempt_number, error)`` is called before each sleep (e.g. to say "microphone busy" once).
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    waits = delays if delays is not None else backoff_delays()
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except retry_on as exc:
            if attempt == attempts or (should_stop is not None and should_stop()):
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            sleep(next(waits))
    raise AssertionError("unreachable")  # pragma: no cover


class CallTimeout(TimeoutError):
    """``call_with_timeout`` gave up; the call may still be running in its daemon thread."""


def call_with_timeout(fn: Callable[[], T], timeout: float, name: str = "call") -> T:
    """Run ``fn()`` in a daemon thread; return its result, re-raise its error, or raise ``CallTimeout``.

    A hung call cannot be killed from Python: its thread is left behind as a daemon (it dies with
    the process), so the caller should stop using that engine and restart or replace it.
    """
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"timeout:{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise CallTimeout(f"{name} did not finish within {timeout:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")  # type: ignore[return-value]
