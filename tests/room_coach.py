"""The app under test in the virtual room: ``massage-coach session`` as a subprocess, and its journal.

``CoachApp(room).start()`` runs the real live path (PortAudio microphone through the ALSA pulse plugin,
Vosk with the toy model, pyttsx3/espeak-ng speech) with the room's environment, waits until its
microphone records from the room and its first words were heard, and ``stop()`` ends it (SIGINT, then its
process group is killed). ``converse`` is the partner's turn-taking: say a command, wait until the journal
shows it was heard and the coach has finished answering.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.room import REPO, Room, Turn, close_and_keep, find_toy_model, kill_group, open_room

COACH_RATE = 260
"""Words a minute for the coach in the room tests: the routine's fastest (default 175): shorter tests."""


class CoachApp:
    """``massage-coach session`` running in ``room``; ``journal()`` reads what it wrote."""

    def __init__(self, room: Room, args: Sequence[str] = (), rate: int | None = COACH_RATE) -> None:
        self.room = room
        self.journal_dir = room.dir / "journal"
        self.args = list(args)
        self.rate = rate
        self.proc: subprocess.Popen | None = None
        self.retried: list[str] = []
        self.out_path = room.dir / "app.out"
        self.err_path = room.dir / "app.err"

    def command(self) -> list[str]:
        """The command line: ``python -m skill session`` (the venv's console script may be stale)."""
        model = find_toy_model()
        argv = [sys.executable, "-m", "skill", "session", "--engine", "vosk",
                "--journal", str(self.journal_dir)]
        if model is not None:
            argv += ["--model", str(model)]
        if self.rate is not None:
            argv += ["--rate", str(self.rate)]
        return argv + self.args

    def start(self, timeout: float = 60.0) -> CoachApp:
        """Start the app; return once its microphone is open and its greeting was heard in the room."""
        with self.out_path.open("ab") as out, self.err_path.open("ab") as err:
            self.proc = self.room.spawn(self.command(), stdout=out, stderr=err, cwd=str(REPO))
        deadline = time.monotonic() + timeout
        if not self.room.wait_for_mic(timeout):
            raise AssertionError(f"the app never opened the microphone; {self.tail()}")
        if not self.room.wait_coach(True, max(1.0, deadline - time.monotonic())):
            raise AssertionError(f"the app's greeting was not heard in the room; {self.tail()}")
        self.room.wait_coach(False, max(1.0, deadline - time.monotonic()), hold=0.8)
        return self

    def alive(self) -> bool:
        """True while the app runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout: float = 30.0) -> int | None:
        """The app's exit code once it ended by itself, None if it still runs after ``timeout``."""
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> int | None:
        """End the app: SIGINT (as Ctrl-C), then kill its group; its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with_sigint = self.proc
            try:
                with_sigint.send_signal(signal.SIGINT)
                with_sigint.wait(10)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        kill_group(self.proc)
        return self.proc.returncode

    def tail(self, n: int = 1500) -> str:
        """The end of the app's stderr and stdout, for failure messages."""
        err = self.err_path.read_text(errors="replace")[-n:] if self.err_path.exists() else ""
        out = self.out_path.read_text(errors="replace")[-n:] if self.out_path.exists() else ""
        return f"stderr: {err!r} stdout: {out!r}"

    # --- the journal -----------------------------------------------------------------------------
    def journal(self) -> list[dict[str, Any]]:
        """Every readable journal line, in order (a line cut short by a crash is skipped)."""
        lines: list[dict[str, Any]] = []
        for path in sorted(self.journal_dir.glob("*.jsonl")):
            for raw in path.read_text(errors="replace").splitlines():
                try:
                    lines.append(json.loads(raw))
                except json.JSONDecodeError:
                    continue
        return lines

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        """The journal lines of one kind (e.g. ``heard``, ``intent``, ``mic_lost``)."""
        return [line for line in self.journal() if line.get("kind") == kind]

    def intents(self) -> list[str]:
        """Names of the intents the session acted on, in order (session ``intent`` events)."""
        names = []
        for line in self.kinds("intent"):
            data = line.get("data") or {}
            names.append(str(data.get("intent", data.get("name", "?"))))
        return names

    def wait_journal(self, pred: Callable[[list[dict[str, Any]]], bool], timeout: float = 15.0) -> bool:
        """Wait until ``pred(journal lines)`` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.journal()):
                return True
            time.sleep(0.1)
        return False

    def wait_kind(self, kind: str, timeout: float = 15.0) -> bool:
        """Wait until the journal has a line of ``kind``."""
        return self.wait_journal(lambda lines: any(x.get("kind") == kind for x in lines), timeout)

    # --- turn-taking -----------------------------------------------------------------------------
    def converse(self, text: str, label: str | None = None, reply_timeout: float = 6.0,
                 quiet_hold: float = 0.7, answer_timeout: float = 90.0, retries: int = 1) -> Turn:
        """The partner says ``text`` and waits for the coach to answer and fall quiet again.

        Like a person, the partner says it once more (up to ``retries`` times) when the coach did not
        understand it (no allowed, understood ``heard`` line); each retry is noted in ``self.retried``.
        """
        before = len(self.kinds("heard"))
        turn = self.room.say(text, label)
        self.wait_journal(lambda lines: sum(1 for x in lines if x.get("kind") == "heard") > before,
                          reply_timeout)
        if self.room.wait_coach(True, 3.0):
            self.room.wait_coach(False, answer_timeout, hold=quiet_hold)
        understood = [h for h in self.kinds("heard")[before:]
                      if (h.get("data") or {}).get("allowed", True)
                      and (h.get("data") or {}).get("intent") not in ("unknown", None)]
        if not understood and retries > 0:
            self.retried.append(text)
            return self.converse(text, label, reply_timeout, quiet_hold, answer_timeout, retries - 1)
        return turn

    def settle(self, hold: float = 0.9, timeout: float = 90.0, expect_speech: float = 0.0) -> None:
        """Wait until the coach has been quiet for ``hold`` seconds (first, up to ``expect_speech``
        seconds for it to start speaking, e.g. after a journal event whose words are still to come)."""
        if expect_speech:
            self.room.wait_coach(True, expect_speech)
        self.room.wait_coach(False, timeout, hold=hold)


def open_coach(room: Room, args: Sequence[str] = (), rate: int | None = COACH_RATE) -> CoachApp:
    """A started app in ``room`` (stopped by ``room.close()`` via its process group at the latest);
    pytest.skip when the Vosk toy model is not there."""
    if find_toy_model() is None:
        import pytest

        pytest.skip("virtual room: the Vosk toy model (tests/models/vosk-toy-en-us-espeak) is missing")
    return CoachApp(room, args, rate).start()


def heard_texts(app: CoachApp) -> list[tuple[str, str, bool]]:
    """(text, intent, allowed) of every ``heard`` journal line."""
    out = []
    for line in app.kinds("heard"):
        data = line.get("data") or {}
        out.append((str(data.get("text", "")), str(data.get("intent", "")), bool(data.get("allowed", True))))
    return out


def transcript(app: CoachApp) -> str:
    """The conversation as the journal and stdout saw it, one line per event (for failure messages)."""
    lines = []
    for line in app.journal():
        if line.get("kind") in ("snapshot", "journal_opened", "engine"):
            continue
        data = line.get("data") or {}
        keep = ("text", "intent", "allowed", "name", "index", "seconds")
        short = {k: v for k, v in data.items() if k in keep}
        lines.append(f"{line.get('at')} {line.get('kind')} {short}")
    retried = f"partner said again: {app.retried}\n" if app.retried else ""
    return "\n".join(lines) + "\n" + retried + app.tail(3000)


def journal_path(app: CoachApp) -> Path | None:
    """The session's journal file, if one was written."""
    files = sorted(app.journal_dir.glob("*.jsonl"))
    return files[-1] if files else None


def entered_steps(app: CoachApp) -> list[int]:
    """Indexes of the steps entered so far (session ``step_entered`` events)."""
    return [int((line.get("data") or {}).get("index", -1)) for line in app.kinds("step_entered")]


def begin_massage(app: CoachApp) -> list[str]:
    """The partner starts, answers both safety questions "no" and starts the massage; the commands said."""
    said = []
    for text in ("start", "no", "no"):
        app.converse(text)
        said.append(text)
    if not entered_steps(app):  # the checklist was read: "say start when you are both ready"
        app.converse("start")
        said.append("start")
    return said


def run_in_rooms(scenarios: dict[str, Callable[[Room], None]], base: Path,
                 workers: int | None = None) -> dict[str, BaseException | None]:
    """Run each scenario in its own room, ``workers`` at a time (env ``ROOM_PARALLEL``, default 3).

    Every room is closed as soon as its scenario ends. Returns each scenario's exception (an
    AssertionError, or pytest's Skipped when no room can be built), None when it passed.
    """
    import concurrent.futures

    workers = workers or max(1, int(os.environ.get("ROOM_PARALLEL", "3")))

    def one(name: str) -> BaseException | None:
        try:
            room_ = open_room(base / name)  # pytest.skip (with the reason) if no server starts
        except BaseException as exc:  # pytest.skip raises an OutcomeException
            return exc
        try:
            scenarios[name](room_)
            return None
        except BaseException as exc:
            return exc
        finally:
            close_and_keep(room_, name)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(one, name) for name in scenarios}
        return {name: future.result() for name, future in futures.items()}
