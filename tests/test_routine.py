"""The routine file: the packaged content follows the guide, and broken files give one-line ConfigErrors."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from intents.errors import ConfigError
from intents.types import HOLD_SECONDS_RANGE, TECHNIQUES
from skill.routine import Routine, default_path, load_routine

SKILL = Path(__file__).resolve().parent.parent / "skill"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(default_path().read_text(encoding="utf-8"))


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "routine.test.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_packaged_routine_has_the_guide_content() -> None:
    r = load_routine()
    assert r.language == "en"
    assert len(r.warning_signs) == 7
    assert len(r.prep_items) == 5
    assert [i.optional for i in r.prep_items].count(True) == 2  # music and oil
    assert set(r.techniques) == set(TECHNIQUES)
    kinds = [s.kind for s in r.steps]
    assert kinds[-1] == "cooldown"
    assert {s.technique for s in r.steps if s.kind == "variation"} == {"fists", "elbows", "palms"}
    assert all(s.duration_s > 0 for s in r.steps)
    assert HOLD_SECONDS_RANGE[0] <= r.settings.hold_default_s <= HOLD_SECONDS_RANGE[1]
    assert r.settings.hold_default_s == 20
    assert len(r.safety) >= 1
    text = " ".join(s.say for s in r.steps).lower()
    for fact in ("fingertips", "clockwise", "either side of the spine", "ten to thirty seconds", "pleasant"):
        assert fact in text


def test_load_by_language_and_missing_language() -> None:
    assert load_routine(language="en").steps
    with pytest.raises(ConfigError, match="no routine for language 'xx'"):
        load_routine(language="xx")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_routine(tmp_path / "nope.yaml")


def _assert_one_line(err: pytest.ExceptionInfo[ConfigError], path: Path, *parts: str) -> str:
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    for part in parts:
        assert part in message, message
    return message


@pytest.mark.parametrize(
    ("mutate", "parts"),
    [
        (lambda d: d["settings"]["hold"].pop("default_s"), ["settings.hold.default_s", "missing"]),
        (lambda d: d.pop("warning_signs"), ["warning_signs", "missing"]),
        (lambda d: d["steps"][3].pop("say"), ["steps[3].say", "missing"]),
        (lambda d: d["steps"][2].__setitem__("duration_s", -5), ["steps[2].duration_s", "-5"]),
        (lambda d: d["steps"][2].__setitem__("duration_s", "long"), ["steps[2].duration_s", "number"]),
        (lambda d: d["steps"][1].__setitem__("duration_s", True), ["steps[1].duration_s", "number"]),
        (lambda d: d["steps"][4].__setitem__("technique", "knees"), ["steps[4].technique", "knees"]),
        (lambda d: d["techniques"].__setitem__("feet", {"name": "f", "explain": "x"}), ["techniques.feet"]),
        (lambda d: d["techniques"].pop("palms"), ["techniques.palms", "missing"]),
        (lambda d: d["steps"][0].__setitem__("kind", "dance"), ["steps[0].kind", "dance"]),
        (lambda d: d["settings"]["hold"].__setitem__("default_s", 45), ["settings.hold.default_s", "45"]),
        (lambda d: d["settings"]["pain"].__setitem__("repeat_window_s", -1),
         ["settings.pain.repeat_window_s"]),
        (lambda d: d["phrases"].__setitem__("hold_start", "Hold for {secs}."),
         ["phrases.hold_start", "{secs}"]),
        (lambda d: d["phrases"].__setitem__("help", "Say {phrases"), ["phrases.help", "placeholder"]),
        (lambda d: d["phrases"].__setitem__("helpp", "x"), ["phrases.helpp"]),
        (lambda d: d["phrases"].pop("summary"), ["phrases.summary", "missing"]),
        (lambda d: d["safety"].__setitem__("questions", []), ["safety.questions", "non-empty list"]),
        (lambda d: d["warning_signs"]["items"].__setitem__(2, 7), ["warning_signs.items[2]"]),
        (lambda d: d["steps"].append(dict(d["steps"][0])), ["steps[10]"]),
        (lambda d: d["steps"][1].__setitem__("id", d["steps"][0]["id"]), ["steps[1].id", "duplicate"]),
        (lambda d: d["units"].__setitem__("knot", "knots"), ["units.knot", "mapping"]),
    ],
)
def test_bad_content_names_file_and_key(tmp_path: Path, raw: dict[str, Any], mutate: Any,
                                        parts: list[str]) -> None:
    data = copy.deepcopy(raw)
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_routine(path)
    _assert_one_line(err, path, *parts)


def test_bad_value_message_gives_the_line(tmp_path: Path) -> None:
    text = default_path().read_text(encoding="utf-8")
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines) if line.strip() == "duration_s: 45")
    lines[target] = lines[target].replace("45", "-3")
    path = tmp_path / "routine.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_routine(path)
    _assert_one_line(err, path, f"line {target + 1}", "steps[1].duration_s", "-3")


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("language: en\nsettings:\n  hold: [1, 2\n  pain: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_routine(path)
    message = _assert_one_line(err, path, "line ", "YAML syntax error")
    assert "Traceback" not in message


def test_not_a_mapping_and_empty_file(tmp_path: Path) -> None:
    for content in ("", "- just\n- a list\n", "plain text"):
        path = tmp_path / "odd.yaml"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_routine(path)
        _assert_one_line(err, path, "mapping")


def test_routine_is_frozen() -> None:
    r = load_routine()
    with pytest.raises(AttributeError):
        r.language = "fr"  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.techniques["fists"] = r.techniques["palms"]  # type: ignore[index]


def test_from_dict_round_trip_of_the_packaged_data(raw: dict[str, Any]) -> None:
    assert Routine.from_dict(raw).steps == load_routine().steps


# The modules the pure state machine is made of must not reach audio, the app shell or the real clock.
FORBIDDEN_ROOTS = {"audio", "sounddevice", "vosk", "pyttsx3", "pocketsphinx", "speech_recognition", "numpy",
                   "soxr", "datetime", "threading", "asyncio", "subprocess", "socket"}
CLOCK_MODULE = "clock.py"  # the contract file holding the real MonotonicClock that the app injects
ENTRY_POINT = "__main__.py"  # ``python -m skill`` just calls the shell (skill.app), which is not pure


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("module", sorted(p.name for p in SKILL.glob("*.py") if p.name != ENTRY_POINT))
def test_skill_modules_are_pure(module: str) -> None:
    for name in _imports(SKILL / module):
        root = name.split(".")[0]
        assert root not in FORBIDDEN_ROOTS, (module, name)
        assert not name.startswith("skill.app"), (module, name)
        if module != CLOCK_MODULE:
            assert root != "time", (module, name)  # time.time, time.monotonic, time.sleep ...


def test_purity_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom audio.tts import PrintSpeaker\nfrom time import monotonic\n")
    assert {"time", "audio.tts", "time.monotonic"} <= _imports(bad)


@pytest.mark.parametrize("content", [b"&a [*a]", b"x: " + b"[" * 5000, b"a: &a {b: *a}\n", b"\xff\xfe\x00",
                                     b"steps: &s [*s]\n"])
def test_pathological_files_give_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "odd.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_routine(path)
    _assert_one_line(err, path)
