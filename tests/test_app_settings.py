"""Settings: defaults < config file (TOML) < environment < flags; one-line errors naming key and source."""

from __future__ import annotations

from pathlib import Path

import pytest

from intents.errors import ConfigError
from skill.app.settings import Settings, default_config_file, load_settings

pytestmark = pytest.mark.usefixtures("isolated_user")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_source(tmp_path: Path) -> None:
    s = load_settings({}, env={})
    assert s == Settings(journal=s.journal)
    assert s.engine == "auto" and s.rate == 175 and s.volume == 0.9 and s.auto_advance is False
    assert s.journal == tmp_path / "data" / "massage-coach" / "journal"
    assert s.config_file is None


def test_default_file_lives_in_the_user_config_folder(tmp_path: Path) -> None:
    assert default_config_file() == tmp_path / "config" / "massage-coach" / "config.toml"
    write(default_config_file(), 'rate = 150\nvoice = "en-us+f3"\n')
    s = load_settings({}, env={})
    assert s.rate == 150 and s.voice == "en-us+f3"
    assert s.config_file == default_config_file()


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'rate = 120\nvolume = 0.5\nengine = "sphinx"\nauto_advance = true\n')
    env = {"MASSAGE_COACH_RATE": "140", "MASSAGE_COACH_VOLUME": "0.6"}
    s = load_settings({"rate": "160"}, env=env, config_file=cfg)
    assert s.rate == 160  # flag
    assert s.volume == 0.6  # env
    assert s.engine == "sphinx" and s.auto_advance is True  # file


def test_flags_given_as_none_do_not_override(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", 'engine = "vosk"\n')
    s = load_settings({"engine": None, "verbose": None}, env={}, config_file=cfg)
    assert s.engine == "vosk" and s.verbose is False


def test_paths_and_section_table(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", '[massage-coach]\nmodel = "~/models/m"\njournal = "/tmp/j"\n')
    s = load_settings({}, env={}, config_file=cfg)
    assert s.model == Path("~/models/m").expanduser()
    assert s.journal == Path("/tmp/j")


def test_env_config_variable_names_the_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "other.toml", "volume = 0.3\n")
    s = load_settings({}, env={"MASSAGE_COACH_CONFIG": str(cfg)})
    assert s.volume == 0.3 and s.config_file == cfg


@pytest.mark.parametrize(("text", "key"), [
    ('rate = "fast"\n', "rate"),
    ("rate = 5000\n", "rate"),
    ("volume = 3\n", "volume"),
    ('engine = "whisper"\n', "engine"),
    ('auto_advance = "maybe"\n', "auto_advance"),
    ('speech = "loud"\n', "speech"),
    ("voice = [1, 2]\n", "voice"),
])
def test_bad_file_value_names_key_and_file(tmp_path: Path, text: str, key: str) -> None:
    cfg = write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as err:
        load_settings({}, env={}, config_file=cfg)
    message = str(err.value)
    assert "\n" not in message
    assert f"bad value for {key} in {cfg}" in message
    assert err.value.exit_code == 2


def test_unknown_key_and_bad_toml(tmp_path: Path) -> None:
    cfg = write(tmp_path / "c.toml", "speed = 3\n")
    with pytest.raises(ConfigError, match=r"unknown key speed in .*c\.toml"):
        load_settings({}, env={}, config_file=cfg)
    write(cfg, "rate = = 3\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings({}, env={}, config_file=cfg)


def test_missing_explicit_file_is_an_error_but_missing_default_is_not(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({}, env={}, config_file=tmp_path / "nope.toml")
    assert load_settings({}, env={}).config_file is None


def test_bad_env_and_flag_values_name_their_source() -> None:
    with pytest.raises(ConfigError, match="environment variable MASSAGE_COACH_VOLUME"):
        load_settings({}, env={"MASSAGE_COACH_VOLUME": "loud"})
    with pytest.raises(ConfigError, match="option --rate"):
        load_settings({"rate": "quick"}, env={})


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("yes", True), ("ON", True), ("0", False),
                                             ("false", False), ("off", False)])
def test_env_booleans(raw: str, value: bool) -> None:
    assert load_settings({}, env={"MASSAGE_COACH_AUTO_ADVANCE": raw}).auto_advance is value


def test_settings_are_frozen() -> None:
    s = load_settings({}, env={})
    with pytest.raises(AttributeError):
        s.rate = 100  # type: ignore[misc]
