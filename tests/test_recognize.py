"""``massage-coach recognize``: WAV files through the session's recognizer and matcher (toy Vosk model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audio.wav import write_wav
from skill.app.cli import main
from skill.app.recognize import JSON_KEYS
from tests.speech_fixtures import toy_model_path, utterance

ROOT = Path(__file__).resolve().parent.parent
TOY = toy_model_path()

CASES = {
    "next.wav": ("next stroke", "next", {}),
    "palms.wav": ("switch to palms", "technique", {"technique": "palms"}),
    "hold.wav": ("hold for twenty seconds", "hold", {"seconds": 20}),
    "warning.wav": ("what are the warning signs", "warning_signs", {}),
    "hurts.wav": ("it hurts", "pain", {}),
    "chatter.wav": ("the weather is lovely this afternoon", None, {}),
}


@pytest.fixture(scope="module")
def wavs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthesized test files (espeak-ng en-us, cached), plus a broken one and an empty one."""
    folder = tmp_path_factory.mktemp("wavs")
    for name, (text, _, _) in CASES.items():
        write_wav(folder / name, utterance(text, before_s=0.3, after_s=0.8))
    (folder / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    (folder / "empty.wav").write_bytes(b"")
    return folder


pytestmark = pytest.mark.usefixtures("isolated_user")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_gives_the_right_intents_and_exactly_the_keys(wavs: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from intents.catalogue import load_catalogue
    from intents.matcher import Matcher

    matcher = Matcher(load_catalogue())
    files = [str(wavs / name) for name in CASES]
    assert main(["recognize", "--json", "--model", str(TOY), *files]) == 0
    rows = json_lines(capsys.readouterr().out)
    assert len(rows) == len(CASES)
    for row, (name, (text, intent, slots)) in zip(rows, CASES.items(), strict=True):
        assert tuple(row) == JSON_KEYS
        assert row["file"] == str(wavs / name)
        assert row["intent"] == intent, row
        assert row["slots"] == slots
        assert row["engine"] == "vosk"
        assert 0.0 <= row["confidence"] <= 1.0
        samples = utterance(text, before_s=0.3, after_s=0.8)
        assert row["audio_s"] == pytest.approx(len(samples) / 16000, abs=1e-3)
        assert row["decode_s"] >= 0
        if intent is not None:
            heard = matcher.match(row["text"])
            assert heard is not None and heard.name == intent and dict(heard.slots) == slots
            assert row["confidence"] > 0.5
        else:
            assert row["confidence"] == 0.0


def test_bad_files_give_an_error_line_each_and_the_others_still_decode(
        wavs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = ("broken.wav", "next.wav", "missing.wav", "empty.wav", "palms.wav")
    files = [wavs / name for name in names]
    code = main(["recognize", "--json", "--model", str(TOY), *map(str, files)])
    captured = capsys.readouterr()
    assert code == 3
    rows = json_lines(captured.out)
    assert [r["intent"] for r in rows] == ["next", "technique"]
    errors = captured.err.splitlines()
    assert len(errors) == 3
    for line, bad in zip(errors, ("broken.wav", "missing.wav", "empty.wav"), strict=True):
        assert line.startswith("massage-coach: error: cannot read audio file ") and bad in line


def test_plain_output_is_one_line_per_file(wavs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recognize", "--model", str(TOY), str(wavs / "hold.wav"), str(wavs / "chatter.wav")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "-> hold {\"seconds\": 20}" in lines[0] and "vosk" in lines[0]
    assert "not understood" in lines[1]


def test_sphinx_engine(wavs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("audio.sphinx_engine")
    files = [str(wavs / name) for name in ("palms.wav", "warning.wav")]
    assert main(["recognize", "--json", "--engine", "sphinx", *files]) == 0
    rows = json_lines(capsys.readouterr().out)
    assert [tuple(r) for r in rows] == [JSON_KEYS, JSON_KEYS]
    assert {r["engine"] for r in rows} == {"sphinx"}
    assert [r["intent"] for r in rows] == ["technique", "warning_signs"]


def test_subprocess_json_on_stdout_only(wavs: Path) -> None:
    env = {**os.environ, "VOSK_MODEL_PATH": str(TOY)}
    proc = subprocess.run([sys.executable, "-m", "skill", "recognize", "--json", str(wavs / "hurts.wav")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    (row,) = json_lines(proc.stdout)
    assert row["intent"] == "pain" and row["engine"] == "vosk"


def test_words_the_model_does_not_know_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from skill.app.engines import EngineChoice, Language, build_recognizer

    class Catalogue:
        def grammar(self) -> list[str]:
            return ["next stroke", "qzxv stroke", "[unk]"]

    class Matcher:
        def is_complete_command(self, text: str) -> bool:
            return True

    err = io.StringIO()
    rec = build_recognizer(EngineChoice("vosk", TOY), Language(Catalogue(), Matcher()), err=err)
    assert rec.unknown_words == ["qzxv"]
    expected = f"note: the model {TOY.name} does not know 1 word(s) of the phrases (qzxv)"
    assert err.getvalue().startswith(expected)
