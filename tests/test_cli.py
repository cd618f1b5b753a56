"""The ``massage-coach`` command line, in-process (``main(argv)``) and as ``python -m skill``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skill.app.cli import main
from tests.speech_fixtures import toy_model_path

ROOT = Path(__file__).resolve().parent.parent
TOY = toy_model_path()


pytestmark = pytest.mark.usefixtures("isolated_user")


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m skill ARGS`` with the test's environment."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "skill", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=full_env, timeout=timeout, check=False)


def test_help_lists_every_command() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    from skill.app.cli import COMMANDS

    for command in COMMANDS:
        assert command in proc.stdout


def test_console_script_is_the_same_program() -> None:
    script = Path(sys.executable).parent / "massage-coach"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    proc = subprocess.run([str(script), "phrases"], capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout == run("phrases").stdout


def test_phrases_groups_every_intent(capsys: pytest.CaptureFixture[str]) -> None:
    from intents.catalogue import load_catalogue

    assert main(["phrases"]) == 0
    out = capsys.readouterr().out
    catalogue = load_catalogue()
    for name in catalogue.intent_names:
        assert f"\n{name.replace('_', ' ')}:\n  {catalogue.examples(name)[0]}\n" in out


def test_models_with_vosk_model_path(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOSK_MODEL_PATH", str(TOY))
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{TOY}  (from VOSK_MODEL_PATH)"
    assert out[-1] == f"would use: {TOY}"


def test_models_without_any_model_falls_back_to_sphinx(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("audio.models.vosk_dirs", lambda: [tmp_path / "none"])
    assert main(["models"]) == 0
    assert "pocketsphinx" in capsys.readouterr().out.splitlines()[-1]


def test_bad_config_value_is_one_line_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('rate = "fast"\n', encoding="utf-8")
    proc = run("phrases", "--config", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("massage-coach: error: bad value for rate in ")
    assert str(cfg) in proc.stderr and "Traceback" not in proc.stderr


def test_bad_config_in_the_user_config_folder(tmp_path: Path) -> None:
    cfg = tmp_path / "config" / "massage-coach" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("volume = 7\n", encoding="utf-8")
    proc = run("models", env={"XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"massage-coach: error: bad value for volume in {cfg}: 7 "
                                   "(expected a number from 0.0 to 1.0)")


def test_missing_model_dir_is_one_line_error(tmp_path: Path) -> None:
    proc = run("recognize", "--model", str(tmp_path / "no-such-model"), str(tmp_path / "x.wav"))
    assert proc.returncode == 4
    assert proc.stderr == f"massage-coach: error: Vosk model folder not found: {tmp_path / 'no-such-model'}\n"


def test_vosk_engine_without_a_model(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    monkeypatch.setattr("audio.models.vosk_dirs", lambda: [tmp_path / "none"])
    assert main(["recognize", "--engine", "vosk", str(tmp_path / "x.wav")]) == 4
    err = capsys.readouterr().err
    assert err.startswith("massage-coach: error: no Vosk model found") and err.count("\n") == 1


def test_download_model_without_network_is_one_line(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from audio.errors import ModelError

    def offline(name: str, dest: object = None, progress: bool = True) -> Path:
        raise ModelError(f"cannot download {name}: no network (cannot resolve the host name)")

    monkeypatch.setattr("audio.models.download_model", offline)
    assert main(["download-model", "--dest", str(tmp_path)]) == 4
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == ("massage-coach: error: cannot download vosk-model-small-en-us-0.15: no network "
                       "(cannot resolve the host name)")


TYPED = "start\nno\nno\nstart\nnext\nwhat are the warning signs\nstop\n"


def test_session_text_driven_by_stdin(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    proc = run("session", "--text", "--speech", "print", "--journal", str(journal), stdin=TYPED)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "coach: Say start when you are both ready." in out
    assert "Does your partner have serious back pain" in out
    assert "Has your partner hurt their back recently" in out
    assert "Step 1 of 10" in out and "Step 2 of 10" in out
    assert "See a doctor right away" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("coach: Stopping here. In total,") and "2 steps of 10" in last
    assert "typed commands" in proc.stderr and "Traceback" not in proc.stderr
    lines = [json.loads(x) for f in journal.glob("*.jsonl") for x in f.read_text().splitlines()]
    assert lines[-1]["kind"] == "journal_closed" and "Stopping" not in lines[-1]["data"]["summary"]
    assert "2 steps of 10" in lines[-1]["data"]["summary"]


def test_no_subcommand_means_session_and_eof_ends_with_summary(tmp_path: Path) -> None:
    proc = run("--text", "--speech", "print", "--journal", str(tmp_path), stdin="start\nno\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("coach: Stopping here. In total,")


def test_no_microphone_falls_back_to_typed_commands(tmp_path: Path) -> None:
    proc = run("session", "--speech", "print", "--journal", str(tmp_path), "--device", "no-such-mic-xyz",
               stdin="stop\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith("No microphone: ")
    assert "Type your commands instead." in proc.stderr.splitlines()[0]
    assert "coach: Stopping here." in proc.stdout


def test_unknown_typed_text_is_not_understood(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("the weather is lovely\nstop\n"))
    assert main(["session", "--text", "--speech", "print", "--journal", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "coach: Sorry, I didn't catch that." in out


def test_interrupt_exits_130_with_journal_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from intents.types import Intent
    from skill.app import textmode

    def interrupted(coach, language, stdin=None, **kw):  # type: ignore[no-untyped-def]
        coach.handle(Intent("start"))
        raise KeyboardInterrupt

    monkeypatch.setattr(textmode, "run_text", interrupted)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["session", "--text", "--speech", "print", "--journal", str(tmp_path)]) == 130
    out = capsys.readouterr().out
    assert "Stopped. The session is saved in the journal." in out
    assert "In total," in out
    (path,) = tmp_path.glob("*.jsonl")
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["kind"] == "journal_closed" and "In total" in last["data"]["summary"]


def test_history_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from intents.types import Intent
    from skill.app import textmode

    def walk_then_crash(coach, language, stdin=None, **kw):  # type: ignore[no-untyped-def]
        for name in ("start", "no", "no", "start", "next"):
            coach.handle(Intent(name))
        raise RuntimeError("power cut")

    monkeypatch.setattr(textmode, "run_text", walk_then_crash)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["session", "--text", "--speech", "print", "--journal", str(tmp_path)]) == 1
    assert "unexpected RuntimeError: power cut" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setattr("sys.stdin", io.StringIO("status\nstop\n"))
    assert main(["session", "--text", "--speech", "print", "--journal", str(tmp_path), "--resume"]) == 0
    captured = capsys.readouterr()
    assert "Resuming session" in captured.err
    assert "Welcome back" in captured.out and "Step 2 of 10" in captured.out
    assert main(["history", "--journal", str(tmp_path)]) == 0
    history = capsys.readouterr().out.strip().splitlines()
    assert len(history) == 1 and "finished" in history[0]


def test_history_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--journal", str(tmp_path / "none")]) == 0
    assert "No sessions" in capsys.readouterr().out


def test_devices_never_tracebacks() -> None:
    proc = run("devices")
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 5)


def test_demo_if_no_microphone_runs_the_demo(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from audio.errors import DeviceError
    from skill.app import demo, engines

    def no_mic(settings: object) -> tuple[object, str]:
        raise DeviceError("no microphone found")

    ran = []
    monkeypatch.setattr(engines, "open_microphone", no_mic)
    monkeypatch.setattr(demo, "run_demo", lambda settings, **kw: ran.append(settings) or 0)
    assert main(["session", "--demo-if-no-microphone", "--rate", "150"]) == 0
    assert ran and ran[0].rate == 150
    first = capsys.readouterr().err.splitlines()[0]
    assert first == "No microphone: no microphone found. Running the demo instead."


def test_invalid_utf8_line_does_not_end_a_typed_session(tmp_path: Path) -> None:
    stdin = b"start\n\xff\xfe garbage\nno\nno\nstart\nstop\n"
    proc = subprocess.run([sys.executable, "-m", "skill", "session", "--text", "--speech", "print",
                           "--journal", str(tmp_path)], input=stdin, capture_output=True, cwd=ROOT,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=60, check=False)
    out = proc.stdout.decode("utf-8", "replace")
    assert proc.returncode == 0 and "Step 1 of 10" in out and "Stopping here." in out


def test_speech_failure_falls_back_to_printed_replies(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from audio.errors import SpeakerError
    from skill.app.engines import SilentSpeaker, build_session, load_language
    from skill.app.live import Coach
    from skill.app.settings import Settings
    from skill.clock import FakeClock

    class Hung(SilentSpeaker):
        def say(self, text: str) -> None:
            raise SpeakerError("speech engine did not answer within 3 s")

    coach = Coach(build_session(Settings(journal=tmp_path), load_language(), FakeClock()), Hung())
    coach.say("first")
    coach.say("second")
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["coach: first", "coach: second"]
    assert captured.err.count("speech output failed") == 1
    assert type(coach.speaker) is SilentSpeaker
