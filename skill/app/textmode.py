"""The ``session`` command: live (``LiveLoop``) or typed commands (``--text``, or with no microphone), and
what every mode shares: opening the journal (resuming if asked), building the session, closing it with the
summary.
"""

from __future__ import annotations

import io
import os
import queue
import re
import stat
import sys
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any, TextIO

from intents.types import Intent
from skill.app.engines import Language, build_session
from skill.app.live import Coach, Heard
from skill.app.messages import msg
from skill.app.settings import Settings

_NOT_WORD = re.compile(r"[^a-z0-9' ]+")
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\uffff]+")
ECHO_MAX = 120
"""Characters of a typed line echoed back; a pasted page is cut short."""


def normalize_typed(line: str) -> str:
    """A typed line as a recognizer would give it: lowercase words, no punctuation.

    Compatibility forms fold first, so full-width or styled letters ("ｓｔａｒｔ") read as plain ones.
    """
    folded = unicodedata.normalize("NFKC", line).lower()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def can_type(stream: TextIO | None) -> bool:
    """False when commands cannot come from ``stream``: closed, or /dev/null (a service's standard input).

    A terminal, a pipe or a file can carry typed commands; anything without a file descriptor is trusted.
    """
    if stream is None:
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return not getattr(stream, "closed", False)
    return stream.isatty() or not stat.S_ISCHR(info.st_mode)


def printable(line: str) -> str:
    """A typed line safe to echo: control and escape characters removed, cut to ``ECHO_MAX``."""
    clean = " ".join(_NOT_PRINTABLE.sub(" ", line).split())
    return clean if len(clean) <= ECHO_MAX else clean[: ECHO_MAX - 3] + "..."


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
        # bytes when there are bytes: one line that is not valid UTF-8 must not end the input
        binary = getattr(source, "buffer", None)
        try:
            if binary is not None:
                for raw in binary:
                    lines.put(raw.decode("utf-8", "replace"))
            else:
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
        shown = printable(line)
        if not shown:
            continue
        if echo:
            print(msg("you_line", text=shown), file=stream, flush=True)
        text = normalize_typed(line)
        intent = language.matcher.match(text) if text else None
        coach.handle(intent if intent is not None else Intent.unknown(text))
        if not coach.finished:
            coach.tick()


def print_heard(heard: Heard) -> None:
    """One transcript line for what the microphone heard: ``you: next stroke (next)``."""
    name = heard.intent.name if heard.intent is not None else "not understood"
    text = " ".join(w for w in heard.text.split() if w != "[unk]") or heard.text
    print(msg("heard" if heard.allowed else "heard_ignored", text=text, intent=name), flush=True)


def run_session_command(settings: Any, text: bool = False, resume: bool = False,
                        demo_if_no_mic: bool = False, stdin: TextIO | None = None) -> int:
    """``massage-coach session``: live (microphone) or typed; exit code 130 after Ctrl-C. A live session
    takes the coach's own voice out of the microphone (``--echo-cancel``: the app itself, the sound server
    or off)."""
    from skill.app import engines

    with engines.echo_cancelling(settings, enabled=not text) as echo:
        return _run_session(settings, echo, text, resume, demo_if_no_mic, stdin)


def _run_session(settings: Any, echo: Any, text: bool, resume: bool, demo_if_no_mic: bool,
                 stdin: TextIO | None) -> int:
    from audio.echo_guard import EchoGuard
    from audio.errors import DeviceError
    from skill.app import engines
    from skill.app.live import LiveLoop, close_quietly
    from skill.clock import MonotonicClock

    source, mic_name = None, ""
    if not text:
        try:
            source, mic_name = (engines.open_microphone(settings, echo) if echo.active
                                  else engines.open_microphone(settings))
        except (DeviceError, ImportError) as exc:
            reason = str(exc).rstrip(".")
            if demo_if_no_mic:
                print(msg("no_microphone_demo", reason=reason), file=sys.stderr, flush=True)
                from skill.app.demo import run_demo

                return run_demo(settings)
            if not can_type(stdin if stdin is not None else sys.stdin):
                # nobody can type either (a service at boot): fail, so systemd retries until the mic is back
                raise DeviceError(msg("no_microphone_no_keyboard", reason=reason)) from None
            print(msg("no_microphone_text", reason=reason), file=sys.stderr, flush=True)
            text = True
    language = engines.load_language()
    recognizer = choice = None
    if not text:
        choice = engines.choose_engine(settings)
        recognizer = engines.build_recognizer(choice, language, verbose=settings.verbose)
    speaker, speaker_name = engines.open_output(settings, echo=echo)
    canceller = engines.reference_canceller(settings, speaker) if not text else None
    echo_state = msg("echo_by_app") if canceller is not None else echo.describe()
    clock = MonotonicClock()
    opened = coach = None
    try:
        opened = open_session(settings, language, clock, resume=resume)
        extras = msg("banner_journal", journal=opened.journal.path)
        if opened.resumed:
            extras += msg("banner_resume", session_id=opened.resumed)
        if not text:
            extras += msg("banner_echo", state=echo_state)
        if text:
            banner = msg("banner_text_mode", speaker=speaker_name, extras=extras)
        else:
            assert choice is not None
            banner = msg("banner", engine=choice.engine, model=choice.model or "built-in en-us",
                         mic=mic_name, speaker=speaker_name, extras=extras)
        print(banner, file=sys.stderr, flush=True)
        opened.journal.record("engine", engine=choice.engine if choice else "typed",
                              model=str(choice.model) if choice and choice.model else None,
                              microphone=mic_name or None, speech=speaker_name,
                              echo_cancel=echo_state if not text else None)
        coach = Coach(opened.session, speaker, opened.journal)
        if text:
            examples = ", ".join(f'"{e}"' for e in list(language.examples().values())[:3])
            print(msg("text_mode_prompt", examples=examples), file=sys.stderr, flush=True)
            coach.begin()
            run_text(coach, language, stdin=stdin)
        else:
            guard = EchoGuard()
            if hasattr(speaker, "add_listener"):
                speaker.add_listener(guard)
            coach.begin()
            log = (lambda m: print(m, file=sys.stderr, flush=True)) if settings.verbose else None
            LiveLoop(coach, source, recognizer, language.matcher, clock, guard=guard, journal=opened.journal,
                     status=lambda: getattr(source, "status", "ok"), log=log, on_heard=print_heard,
                     canceller=canceller).run()
        finish(coach, opened.journal)
        speaker.wait(30.0)
        return 0
    except KeyboardInterrupt:
        if coach is not None and opened is not None:
            finish(coach, opened.journal, interrupted=True)
            speaker.wait(10.0)
        elif opened is not None:
            opened.journal.close(None)
        return 130
    except BaseException as exc:
        if opened is not None:
            opened.journal.record("error", message=str(exc), type=type(exc).__name__)
            opened.journal.close(coach.summary if coach is not None else None)
        raise
    finally:
        close_quietly(source, speaker)
