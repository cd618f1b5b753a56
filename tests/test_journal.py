"""The session journal: format, crash safety, resume, history, and disk faults (full, read-only)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from intents.errors import ConfigError
from skill.app.faults import CallTimeout, Once, backoff_delays, call_with_timeout, retry
from skill.app.history import format_summary, read_journal
from skill.app.journal import Journal, last_unfinished, load_sessions
from skill.clock import FakeClock
from skill.events import EVENT_KINDS, SessionEvent

ROOT = Path(__file__).resolve().parents[1]


class Wall:
    """A fake wall clock (epoch seconds) that moves one second per reading."""

    def __init__(self, start: float = 1_764_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def run_session(journal: Journal, steps: tuple[str, ...] = ("warm_up", "long_strokes"), finish: bool = False,
                start_at: float = 0.0) -> float:
    """Feed a small, plausible series of session events; returns the last session time."""
    at = start_at
    journal.listener(SessionEvent("session_started", at, {"routine": "basic"}))
    for i, step in enumerate(steps):
        at += 5
        journal.listener(SessionEvent("intent", at, {"intent": "next", "text": "next step"}))
        journal.listener(SessionEvent("step_entered", at, {"step": step, "index": i}))
        journal.snapshot({"step_id": step, "index": i, "at": at})
        at += 20
        journal.listener(SessionEvent("hold_started", at, {"seconds": 15}))
        journal.listener(SessionEvent("hold_ended", at + 15, {}))
    journal.listener(SessionEvent("pain", at + 16, {"text": "that hurts"}))
    journal.listener(SessionEvent("unknown", at + 17, {"text": "la la"}))
    if finish:
        journal.listener(SessionEvent("session_ended", at + 30, {"reason": "done"}))
    return at + 30


def lines_of(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------------------------ format
def test_every_event_is_one_json_line_with_both_clocks(tmp_path: Path) -> None:
    clock = FakeClock(100.0)
    j = Journal.open(tmp_path, clock=clock, wall=Wall())
    assert j.path == tmp_path / f"{j.session_id}.jsonl"
    run_session(j)
    clock.advance(3)
    j.record("heard", text="next step", engine="vosk", confidence=0.93)
    j.close("You massaged for five minutes.")
    lines = lines_of(j.path)
    assert [x["seq"] for x in lines] == list(range(len(lines)))
    assert lines[0]["kind"] == "journal_opened" and lines[0]["data"]["resumed"] is False
    assert lines[-1]["kind"] == "journal_closed"
    assert lines[-1]["data"]["summary"] == "You massaged for five minutes."
    for x in lines:
        assert set(x) == {"seq", "wall", "at", "src", "kind", "data"}
        assert x["wall"].startswith("2025-11-2")  # ISO 8601 from the fake wall clock
    session_lines = [x for x in lines if x["src"] == "session"]
    assert {x["kind"] for x in session_lines} <= set(EVENT_KINDS)
    step = next(x for x in session_lines if x["kind"] == "step_entered")
    assert step["data"] == {"step": "warm_up", "index": 0} and step["at"] == 5.0
    heard = next(x for x in lines if x["kind"] == "heard")
    last_session_at = session_lines[-1]["at"]
    assert heard["src"] == "app" and heard["at"] == last_session_at + 3 and heard["data"]["engine"] == "vosk"
    assert lines[0]["at"] is None  # before the session's first event there is no session time


def test_every_line_is_on_the_session_time_scale(tmp_path: Path) -> None:
    clock = FakeClock(5000.0)  # a monotonic clock far from zero: the session counts from its start
    j = Journal.open(tmp_path, clock=clock)
    j.record("engine", engine="typed")
    j.listener(SessionEvent("session_started", 0.0, {}))
    clock.advance(10)
    j.record("heard", text="next")
    j.listener(SessionEvent("step_entered", 10.0, {"step": "warm_up", "index": 0}))
    clock.advance(2.5)
    j.snapshot({"step_id": "warm_up"})
    j.close("done")
    ats = [x["at"] for x in lines_of(j.path)]
    assert ats == [None, None, 0.0, 10.0, 10.0, 12.5, 12.5]
    assert load_sessions(tmp_path)[0].duration_s == 10.0


def test_shell_records_take_the_last_session_time_without_a_clock(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    j.record("engine", name="vosk")
    j.listener(SessionEvent("session_started", 42.5, {}))
    j.record("mic_lost", device="default")
    j.close()
    by_kind = {x["kind"]: x for x in lines_of(j.path)}
    assert by_kind["engine"]["at"] is None
    assert by_kind["mic_lost"]["at"] == 42.5


def test_unchanged_snapshots_are_written_once(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    for _ in range(5):
        j.snapshot({"step_id": "warm_up", "index": 0})
    j.snapshot({"step_id": "kneading", "index": 1})
    j.close()
    snaps = [x for x in lines_of(j.path) if x["kind"] == "snapshot"]
    assert [s["data"]["state"]["step_id"] for s in snaps] == ["warm_up", "kneading"]


def test_odd_values_are_made_json_friendly(tmp_path: Path) -> None:
    j = Journal.open(tmp_path)
    j.record("heard", text="x" * 100_000, raw=b"\xff\x00".decode("utf-8", "surrogateescape"),
             nan=float("nan"), where=tmp_path, slots={"technique": "palms", 3: (1, 2)})
    j.close()
    heard = next(x for x in lines_of(j.path) if x["kind"] == "heard")["data"]
    assert len(heard["text"]) < 2100 and heard["text"].endswith("more characters]")
    assert heard["nan"] == "nan" and heard["where"] == str(tmp_path)
    assert heard["slots"] == {"technique": "palms", "3": [1, 2]}
    assert isinstance(heard["raw"], str)


def test_new_session_ids_are_sortable_and_never_collide(tmp_path: Path) -> None:
    wall = lambda: 1_764_000_000.0  # noqa: E731 - the same second for every session
    ids = [Journal.open(tmp_path, wall=wall).session_id for _ in range(3)]
    assert len(set(ids)) == 3
    assert ids[1] == ids[0] + "-2" and ids[2] == ids[0] + "-3"


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a/b", "..", ".hidden", "x" * 200, "a b"])
def test_a_bad_session_id_is_a_config_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError):
        Journal.open(tmp_path, session_id=bad)


def test_close_is_idempotent_and_later_events_are_ignored(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as j:
        j.record("engine", name="vosk")
    n = len(lines_of(j.path))
    j.close("again")
    j.record("late")
    j.listener(SessionEvent("intent", 1.0, {}))
    assert len(lines_of(j.path)) == n


def test_threads_recording_at_once_lose_no_line(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, fsync=False)

    def worker(k: int) -> None:
        for i in range(250):
            j.record("heard", worker=k, i=i)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    j.close()
    lines = lines_of(j.path)
    assert [x["seq"] for x in lines] == list(range(len(lines)))
    heard = {(x["data"]["worker"], x["data"]["i"]) for x in lines if x["kind"] == "heard"}
    assert len(heard) == 1000


# ---------------------------------------------------------------------------------- crash safety
KILLED_CHILD = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from skill.app.journal import Journal
    from skill.events import SessionEvent
    j = Journal.open(Path(sys.argv[1]), session_id="killed")
    for i in range(200):
        j.listener(SessionEvent("intent", float(i), {"intent": "next", "i": i}))
        if i % 10 == 0:
            j.snapshot({"step_id": f"step{i // 10}", "index": i // 10})
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_killed_process_leaves_every_event_readable(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(tmp_path)], cwd=ROOT, timeout=60,
                          capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    lines = read_journal(tmp_path / "killed.jsonl")
    assert lines.damaged == 0
    intents = [x for x in lines.lines if x["kind"] == "intent"]
    assert [x["data"]["i"] for x in intents] == list(range(200))
    (summary,) = load_sessions(tmp_path)
    assert not summary.finished and summary.ended is None and summary.resumable
    assert last_unfinished(tmp_path) == ("killed", {"step_id": "step19", "index": 19})


def test_a_truncated_last_line_is_tolerated_and_resume_starts_a_clean_line(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, wall=Wall())
    run_session(j, steps=("warm_up", "kneading", "long_strokes"))
    sid = j.session_id
    whole = j.path.read_bytes()
    j.close()  # then put back the file as it was before the closing line: a crash
    j.path.write_bytes(whole + b'{"seq": 99, "wall": "2025-11-2')  # half a line, as a kill mid-write
    assert read_journal(j.path).damaged == 1
    (summary,) = load_sessions(tmp_path)
    assert summary.damaged == 1 and summary.last_step == "long_strokes" and summary.steps == 3
    found = last_unfinished(tmp_path)
    assert found is not None and found[0] == sid and found[1]["step_id"] == "long_strokes"

    again = Journal.open(tmp_path, session_id=sid, wall=Wall(1_764_100_000.0))
    again.listener(SessionEvent("step_entered", 200.0, {"step": "cool_down", "index": 3}))
    again.listener(SessionEvent("session_ended", 260.0, {}))
    again.close("Well done.")
    lines = read_journal(j.path)
    assert lines.damaged == 1  # only the cut line; every line after the resume is whole
    assert [x["kind"] for x in lines.lines[-4:]] == ["journal_opened", "step_entered", "session_ended",
                                                     "journal_closed"]
    (summary,) = load_sessions(tmp_path)
    assert summary.finished and summary.resumes == 1 and summary.steps == 4
    assert summary.summary == "Well done." and summary.ended is not None
    assert last_unfinished(tmp_path) is None


def test_garbage_files_in_the_folder_do_not_break_history(tmp_path: Path) -> None:
    (tmp_path / "junk.jsonl").write_bytes(os.urandom(3000))
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "list.jsonl").write_text("[1, 2]\n42\n\"x\"\n")
    (tmp_path / "folder.jsonl").mkdir()
    (tmp_path / "notes.txt").write_text("not a journal")
    j = Journal.open(tmp_path, wall=Wall())
    run_session(j, finish=True)
    j.close("done")
    sessions = load_sessions(tmp_path)
    assert {s.session_id for s in sessions} == {"junk", "empty", "list", j.session_id}
    assert sessions[0].session_id == j.session_id  # the only one with a start time sorts first
    for s in sessions:
        assert format_summary(s)
    assert last_unfinished(tmp_path) is None
    assert load_sessions(tmp_path / "missing") == [] and last_unfinished(tmp_path / "missing") is None


# ------------------------------------------------------------------------------- history, resume
def test_history_summaries_newest_first(tmp_path: Path) -> None:
    wall = Wall()
    first = Journal.open(tmp_path, wall=wall)
    run_session(first, steps=("warm_up", "kneading", "kneading", "cool_down"), finish=True)
    first.close("Twenty minutes, four steps.")
    wall.t += 3600
    second = Journal.open(tmp_path, wall=wall)
    run_session(second, steps=("warm_up",))
    second.close(None)  # Ctrl-C: closed cleanly but not finished
    new, old = load_sessions(tmp_path)
    assert (new.session_id, old.session_id) == (second.session_id, first.session_id)
    assert old.finished and not old.resumable and old.steps == 3 and old.last_step == "cool_down"
    assert old.intents == 4 and old.pain_reports == 1 and old.unknown == 1
    assert old.summary == "Twenty minutes, four steps." and old.duration_s == pytest.approx(130.0)
    assert old.started is not None and old.ended is not None and old.started < old.ended < new.started
    assert not new.finished and new.resumable and new.ended is not None
    assert "finished" in format_summary(old) and "resumable" in format_summary(new)
    assert last_unfinished(tmp_path) == (second.session_id, {"step_id": "warm_up", "index": 0, "at": 5})


def test_only_the_newest_session_is_offered_for_resume(tmp_path: Path) -> None:
    wall = Wall()
    killed = Journal.open(tmp_path, wall=wall)
    run_session(killed)  # never closed
    wall.t += 600
    done = Journal.open(tmp_path, wall=wall)
    run_session(done, finish=True)
    done.close("ok")
    assert last_unfinished(tmp_path) is None
    wall.t += 600
    failed = Journal.open(tmp_path, wall=wall)  # e.g. the model was missing: no step, no snapshot
    failed.record("error", message="no speech model found")
    failed.close(None)
    assert last_unfinished(tmp_path) is None


# ---------------------------------------------------------------------------------- disk faults
def test_disk_full_is_said_once_and_the_events_wait_in_memory(tmp_path: Path) -> None:
    warnings: list[str] = []
    full = tmp_path / "full-session.jsonl"
    full.symlink_to("/dev/full")  # every write fails with ENOSPC, like a full disk
    j = Journal.open(tmp_path, session_id="full-session", on_warning=warnings.append, retry_every=10)
    run_session(j)
    for i in range(100):
        j.record("heard", i=i)
    assert len(warnings) == 1 and "No space left" in warnings[0] and "goes on" in warnings[0]
    assert j.pending == j._seq and j.written == 0 and not j.healthy
    # room again: the backlog reaches the disk in order at the next retry
    full.unlink()
    for i in range(10):
        j.record("heard", i=100 + i)
    assert j.pending == 0 and j.healthy
    j.close()
    lines = lines_of(full)
    assert [x["seq"] for x in lines] == list(range(len(lines)))
    assert [x["data"]["i"] for x in lines if x["kind"] == "heard"] == list(range(110))
    assert len(warnings) == 1


def test_a_journal_folder_that_cannot_exist_is_said_once(tmp_path: Path) -> None:
    warnings: list[str] = []
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    j = Journal.open(blocker / "journal", on_warning=warnings.append)
    run_session(j, finish=True)
    j.close("done")
    assert len(warnings) == 1 and str(blocker) in warnings[0]
    assert j.pending > 0 and j.closed


def _mount_tmpfs(where: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir(exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return proc.returncode == 0


def test_read_only_journal_folder(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o500)
    elif not _mount_tmpfs(folder, "ro,size=64k"):
        pytest.skip("cannot mount a read-only tmpfs here")
    try:
        warnings: list[str] = []
        j = Journal.open(folder, on_warning=warnings.append)
        last = run_session(j)
        j.listener(SessionEvent("session_ended", last, {}))
        j.close("done")
        assert len(warnings) == 1 and "journal" in warnings[0]
        assert j.written == 0 and j.pending > 0
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_really_full_small_disk_leaves_whole_lines(tmp_path: Path) -> None:
    folder = tmp_path / "small"
    if not _mount_tmpfs(folder, "size=16k"):
        pytest.skip("cannot mount a small tmpfs here")
    try:
        warnings: list[str] = []
        j = Journal.open(folder, session_id="small", on_warning=warnings.append, retry_every=5)
        for i in range(400):
            j.record("heard", i=i, text="hold for twenty seconds please")
        assert len(warnings) == 1 and j.pending > 0
        written = read_journal(folder / "small.jsonl")
        assert written.damaged <= 1  # at most the line cut by ENOSPC
        assert [x["seq"] for x in written.lines] == list(range(len(written.lines)))
        j.close()
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


# ------------------------------------------------------------------------------------- faults.py
def test_once_says_each_key_once() -> None:
    said: list[str] = []
    once = Once(said.append)
    assert once("mic", "microphone busy") and not once("mic", "microphone busy")
    assert once("tts", "speech engine hung")
    once.reset("mic")
    assert once("mic", "microphone busy again")
    assert said == ["microphone busy", "speech engine hung", "microphone busy again"]

    def broken(_: str) -> None:
        raise ValueError("stderr closed")

    assert Once(broken)("x", "y")  # a broken sink never breaks the caller


def test_retry_backs_off_then_succeeds_or_gives_up() -> None:
    slept: list[float] = []
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 4:
            raise OSError("device busy")
        return "open"

    assert retry(flaky, attempts=5, sleep=slept.append) == "open"
    assert slept == [0.25, 0.5, 1.0]
    with pytest.raises(OSError):
        retry(lambda: (_ for _ in ()).throw(OSError("gone")), attempts=3, sleep=slept.append)
    with pytest.raises(ValueError):  # not retried
        retry(lambda: int("x"), attempts=3, sleep=slept.append)
    with pytest.raises(OSError):
        retry(lambda: (_ for _ in ()).throw(OSError("gone")), attempts=99, sleep=slept.append,
              should_stop=lambda: True)
    delays = backoff_delays(1, 3, 10)
    assert [next(delays) for _ in range(5)] == [1, 3, 9, 10, 10]


def test_call_with_timeout() -> None:
    assert call_with_timeout(lambda: 7, 5.0) == 7
    with pytest.raises(KeyError):
        call_with_timeout(lambda: {}["x"], 5.0)
    gate = threading.Event()
    with pytest.raises(CallTimeout):
        call_with_timeout(lambda: gate.wait(30), 0.05, name="runAndWait")
    gate.set()


# ------------------------------------------------------------------ the real program, end to end
class Program:
    """``python -m skill session --text`` in its own process, fed commands on stdin as a person would type."""

    def __init__(self, tmp_path: Path, *args: str, journal: Path | None = None) -> None:
        self.journal = journal if journal is not None else tmp_path / "journal"
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
               "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
        for key in list(env):
            if key.startswith("MASSAGE_COACH_"):
                del env[key]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "skill", "session", "--text", "--speech", "print",
             "--journal", str(self.journal), *args],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)

    def type(self, *commands: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(c + "\n" for c in commands))
        self.proc.stdin.flush()

    def lines(self) -> list[dict]:
        return [x for f in sorted(self.journal.glob("*.jsonl")) for x in read_journal(f).lines]

    def wait_for(self, predicate: object, what: str, limit: float = 60.0) -> None:
        """Poll the journal until ``predicate(lines)`` holds (the limit only guards against a hang)."""
        import time

        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if predicate(self.lines()):  # type: ignore[operator]
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        out, err = self.proc.communicate()
        raise AssertionError(f"never saw {what} in the journal; stdout={out[-2000:]!r} "
                             f"stderr={err[-2000:]!r}")

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def _steps(lines: list[dict]) -> int:
    return sum(x["kind"] == "step_entered" for x in lines)


def test_program_session_journal_history_kill_and_resume(tmp_path: Path) -> None:
    first = Program(tmp_path)
    first.type("start", "no", "no", "start", "next", "next")
    first.wait_for(lambda lines: _steps(lines) >= 3 and lines[-1]["kind"] == "snapshot",
                   "the third step and its snapshot")
    first.proc.send_signal(signal.SIGKILL)
    code, _, err = first.finish()
    assert code == -signal.SIGKILL and "Traceback" not in err
    lines = first.lines()
    step_at_kill = [x for x in lines if x["kind"] == "step_entered"][-1]["data"]["step"]
    assert lines[-1]["kind"] != "journal_closed"  # killed: never closed

    history = subprocess.run([sys.executable, "-m", "skill", "history", "--journal", str(first.journal)],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert history.returncode == 0 and "Traceback" not in history.stderr
    (row,) = history.stdout.strip().splitlines()
    assert "interrupted (resumable)" in row and f"3 steps (last: {step_at_kill})" in row

    second = Program(tmp_path, "--resume")
    second.type("status", "next", "stop")
    code, out, err = second.finish()
    assert code == 0, err
    assert "Resuming session" in err and "Traceback" not in err
    assert "Welcome back" in out and "Step 3 of 10" in out  # carried on at the step it was in
    assert "Step 4 of 10" in out
    (path,) = first.journal.glob("*.jsonl")
    after = read_journal(path)
    assert after.damaged == 0
    kinds = [x["kind"] for x in after.lines]
    assert kinds.count("journal_opened") == 2 and kinds[-1] == "journal_closed"
    reopened = next(x for x in after.lines if x["kind"] == "journal_opened" and x["data"]["resumed"])
    assert reopened["data"]["session_id"] == path.stem
    steps = [x["data"]["step"] for x in after.lines if x["kind"] == "step_entered"]
    assert steps[:3] == [steps[0], steps[1], step_at_kill] and len(steps) == 4
    (summary,) = load_sessions(first.journal)
    assert summary.finished and summary.resumes == 1 and summary.steps == 4
    assert "4 steps of 10" in (summary.summary or "")


def test_program_ctrl_c_exits_130_with_the_journal_closed_and_summary_said(tmp_path: Path) -> None:
    prog = Program(tmp_path)
    prog.type("start", "no", "no", "start", "next")
    prog.wait_for(lambda lines: _steps(lines) >= 2 and lines[-1]["kind"] == "snapshot", "the second step")
    prog.proc.send_signal(signal.SIGINT)
    code, out, err = prog.finish()
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "Stopped. The session is saved in the journal." in out
    assert "2 steps of 10" in out.strip().splitlines()[-1]  # the summary is said at the end
    lines = prog.lines()
    assert lines[-1]["kind"] == "journal_closed" and "2 steps of 10" in lines[-1]["data"]["summary"]
    (summary,) = load_sessions(prog.journal)
    assert summary.ended is not None and summary.steps == 2


@pytest.mark.parametrize("fault", ["read-only", "not-a-folder", "disk-full"])
def test_program_with_an_unwritable_journal_says_so_once_and_goes_on(tmp_path: Path, fault: str) -> None:
    folder = tmp_path / "journal"
    mounted = False
    if fault == "not-a-folder":
        (tmp_path / "file").write_text("a file where the folder should be")
        folder = tmp_path / "file" / "journal"
    elif os.geteuid() != 0 and fault == "read-only":
        folder.mkdir()
        folder.chmod(0o500)
    else:
        mounted = _mount_tmpfs(folder, "ro,size=64k" if fault == "read-only" else "size=8k")
        if not mounted:
            pytest.skip("cannot mount a tmpfs here")
    try:
        if fault == "disk-full":  # leave only a little room: the journal fills it mid-session
            (folder / "filler").write_bytes(b"x" * 4096)
        prog = Program(tmp_path, journal=folder)
        prog.type("start", "no", "no", "start", *["next", "go back"] * 20, "next", "next", "stop")
        code, out, err = prog.finish()
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], capture_output=True)
        elif fault == "read-only":
            folder.chmod(0o700)
    assert code == 0, err
    assert err.count("cannot write the session journal") == 1, err
    assert "Traceback" not in err
    assert "Step 3 of 10" in out and "3 steps of 10" in out.strip().splitlines()[-1]
