"""Typed commands instead of speech (``session --text``, or when there is no microphone), and the start and
end of a session that every mode shares: opening the journal (resuming if asked), building the session,
closing with the summary.
"""

from __future__ import annotations

import queue
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO

from intents.types import Intent
from skill.app.engines import Language, build_session
from skill.app.live import Coach
from skill.app.messages import msg
from skill.app.settings import Settings

_NOT_WORD = re.compile(r"[^a-z0-9' ]+")


def normalize_typed(line: str) -> str:
    """A typed line as a recognizer would give it: lowercase words, no punctuation."""
    return " ".join(_NOT_WORD.sub(" ", line.lower()).split())


@dataclass
class OpenedSession:
    """A session ready to begin, with its journal; ``resumed`` is the resumed session id, if any."""

    session: Any
    journal: Any
    resumed: str | None


def open_session(settings: Settings, language: Language, clock: Any, resume: bool = False,
                 err: TextIO | None = None) -> OpenedSession:
    """Open the journal (the newest unfinished session's when ``resume``) and build the session on it."""
    from skill.app.history import last_unfinished
    from skill.app.journal import Journal

    stream = err if err is not None else sys.stderr
    session_id: str | None = None
    snapshot = None
    if resume:
        found = last_unfinished(settings.journal)
        if found is None:
            print(msg("resume_none"), file=stream, flush=True)
        else:
            session_id, snapshot = found
            print(msg("resume_found", session_id=session_id), file=stream, flush=True)

    def warn(message: str) -> None:
        print(f"massage-coach: warning: {message}", file=stream, flush=True)

    journal = Journal.open(settings.journal, session_id, clock=clock, on_warning=warn)
    try:
        session = build_session(settings, language, clock, snapshot)
    except BaseException:
        journal.close(None)
        raise
    session.add_listener(journal.listener)
    return OpenedSession(session, journal, session_id)


def finish(coach: Coach, journal: Any, interrupted: bool = False, out: TextIO | None = None) -> str | None:
    """End a session: when it did not finish by itself, ask it to stop and carry out its closing words;
    print the summary, close the journal with it. Returns the summary."""
    stream = out if out is not None else sys.stdout
    if not coach.finished:
        if interrupted:
            print(msg("interrupted"), file=stream, flush=True)
        try:
            end_session(coach)
        except Exception as exc:  # the journal must still be closed
            print(f"massage-coach: warning: could not end the session cleanly ({exc})", file=sys.stderr)
    if journal is not None:
        journal.close(coach.summary)
    return coach.summary


def end_session(coach: Coach) -> None:
    """Say "stop" to the session (and "yes" if it asks to confirm) so it closes with its summary."""
    ender = getattr(coach.session, "end", None)
    if callable(ender):
        coach.perform(ender())
        return
    for name in ("stop", "yes"):
        if coach.finished:
            return
        coach.handle(Intent(name, {}, 1.0, name))


def run_text(coach: Coach, language: Language, stdin: TextIO | None = None, tick_s: float = 0.1,
             echo: bool | None = None, out: TextIO | None = None) -> None:
    """Read typed commands until the session ends or the input does; timers tick while waiting.

    ``echo`` prints each command as ``you: ...`` (default: when the input is not a terminal).
    """
    source = stdin if stdin is not None else sys.stdin
    stream = out if out is not None else sys.stdout
    if echo is None:
        echo = not (hasattr(source, "isatty") and source.isatty())
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        try:
            for line in source:
                lines.put(line)
        except (OSError, ValueError):
            pass
        lines.put(None)

    threading.Thread(target=read, name="typed-commands", daemon=True).start()
    while not coach.finished:
        try:
            line = lines.get(timeout=tick_s)
        except queue.Empty:
            coach.tick()
            continue
        if line is None:
            return
        text = normalize_typed(line)
        if not text:
            continue
        if echo:
            print(msg("you_line", text=line.strip()), file=stream, flush=True)
        intent = language.matcher.match(text)
        coach.handle(intent if intent is not None else Intent.unknown(text))
        if not coach.finished:
            coach.tick()
