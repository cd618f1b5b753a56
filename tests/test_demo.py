"""``massage-coach demo``: the scripted partner through the real recognizer, session and speech renderer."""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import numpy as np
import pytest

from skill.app.cli import main
from skill.app.demo import load_script
from tests.speech_fixtures import toy_model_path

TOY = toy_model_path()
HEARD = re.compile(r"^\[\s*([\d.]+) s\] heard '([^']*)' -> (\S+)(.*)$")
COACH = re.compile(r"^\[\s*([\d.]+) s\] coach: (.*)$")


pytestmark = pytest.mark.usefixtures("isolated_user")


def run_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, Path]:
    out = tmp_path / "demo.wav"
    journal = tmp_path / "journal"
    args = ["demo", "--model", str(TOY), "--speech", "espeak", "--out", str(out), "--journal", str(journal)]
    assert main([*args, *extra]) == 0
    return capsys.readouterr().out, out


def heard_lines(text: str) -> list[tuple[float, str, str, str]]:
    return [(float(m[1]), m[2], m[3], m[4]) for line in text.splitlines() if (m := HEARD.match(line))]


def coach_lines(text: str) -> list[tuple[float, str]]:
    return [(float(m[1]), m[2]) for line in text.splitlines() if (m := COACH.match(line))]


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, wav = run_demo(tmp_path, capsys)
    script = load_script()
    heard = heard_lines(text)
    acted = [(at, words, intent) for at, words, intent, note in heard if "ignored" not in note]
    assert [intent for _, _, intent in acted] == [line.expect for line in script]
    assert f"{len(script)} of {len(script)} commands understood" in text
    assert all("latency" in note for *_, note in heard)

    # the hold ran on the audio clock: released 15 s (of audio) after it was asked for
    hold_at = next(at for at, _, intent in acted if intent == "hold")
    said = coach_lines(text)
    release_at = next(at for at, line in said if line.startswith("Now slowly release"))
    assert release_at - hold_at == pytest.approx(15.0, abs=0.1)
    assert said[-1][1].startswith("Stopping here. In total,")

    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    audio_s = float(re.search(r"([\d.]+) s of audio", text)[1])  # type: ignore[index]
    assert len(samples) / 16000 >= audio_s - 0.1
    # the coach's replies are in the file: sound right after the first reply starts
    first_reply = int((said[1][0] + 0.5) * 16000)
    assert np.abs(samples[first_reply:first_reply + 8000].astype(np.int32)).max() > 1000

    # the demo is journalled like any session: every command in order, closed with the summary
    from skill.app.history import load_sessions

    (record,) = load_sessions(tmp_path / "journal")
    assert record.finished
    lines = [json.loads(x) for x in next((tmp_path / "journal").glob("*.jsonl")).read_text().splitlines()]
    journalled = [x["data"]["name"] for x in lines if x["kind"] == "intent"]
    assert journalled == [line.expect for line in script]
    assert lines[-1]["kind"] == "journal_closed" and lines[-1]["data"]["summary"].startswith("In total,")


def test_demo_with_echo_never_obeys_the_coach(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, _ = run_demo(tmp_path, capsys, "--echo", "0.8")
    script = load_script()
    acted = [intent for _, _, intent, note in heard_lines(text) if "ignored" not in note]
    assert acted == [line.expect for line in script]


@pytest.mark.parametrize(("command", "intent", "reply"), [
    ("stop", "stop", "Stopping here."), ("it hurts", "pain", "Stop pressing right now"),
    ("next", None, None),
])
def test_barge_in_while_the_coach_speaks(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch, command: str, intent: str | None,
                                         reply: str | None) -> None:
    """Said over the coach's greeting (the microphone hearing only the partner, as with echo cancellation):
    stop and pain cut the coach off and are acted on at once; other commands wait for their turn."""
    from skill.app import demo

    script = [demo.Line("start", "start"), demo.Line(command, intent, gap_s=2.0, over_coach=True)]
    monkeypatch.setattr(demo, "load_script", lambda: script)
    text, wav = run_demo(tmp_path, capsys)
    heard = heard_lines(text)
    assert [h[2] for h in heard][:2] == ["start", intent or "next"]
    said = coach_lines(text)
    greeting = next(i for i, (_, line) in enumerate(said) if line.startswith("Hello"))
    if intent is None:
        assert "ignored" in heard[1][3]
        assert len(said) == greeting + 1
        return
    barge_at = heard[1][0]
    assert said[greeting + 1][1].startswith(reply) and said[greeting + 1][0] == barge_at
    # the greeting was cut off where the barge-in was heard: the coach's audio stops right there
    with wave.open(str(wav)) as w:
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    gap = samples[round((barge_at + 0.05) * 16000): round((barge_at + 0.3) * 16000)]
    assert np.abs(gap.astype(np.int32)).max() > 0  # the reply starts at once


def test_demo_uses_the_espeak_trained_model_when_no_vosk_model_is_installed(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from skill.app.demo import TOY_MODEL, demo_engine
    from skill.app.settings import Settings

    monkeypatch.setattr("audio.models.vosk_dirs", lambda: [tmp_path / "none"])
    if not TOY_MODEL.is_dir():
        pytest.skip("no bundled test model in this installation")
    assert demo_engine(Settings()).model == TOY_MODEL
    assert demo_engine(Settings(engine="sphinx")).engine == "sphinx"
    assert demo_engine(Settings(model=TOY)).model == TOY
