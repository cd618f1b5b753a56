"""The app's settings: defaults < config file (TOML) < environment (``MASSAGE_COACH_*``) < command-line flags.

The config file is ``config.toml`` in the user's config folder (``platformdirs``; on Linux
``~/.config/massage-coach/config.toml``), or the file named by ``--config`` or ``MASSAGE_COACH_CONFIG``.
It is optional when not named explicitly. A bad value raises ``ConfigError`` with one line naming the key and
where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from intents.errors import ConfigError

APP_NAME = "massage-coach"
ENV_PREFIX = "MASSAGE_COACH_"
ENGINES: tuple[str, ...] = ("auto", "vosk", "sphinx")
SPEECH: tuple[str, ...] = ("auto", "pyttsx3", "espeak", "print")
ECHO_CANCEL: tuple[str, ...] = ("app", "server", "off")
RATE_RANGE: tuple[int, int] = (80, 320)
"""Speaking rates (words a minute) the app accepts."""


def default_config_file() -> Path:
    """Where the optional config file lives: ``<user config folder>/config.toml``."""
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_journal_dir() -> Path:
    """Where session journals go unless told otherwise: ``<user data folder>/journal``."""
    return platformdirs.user_data_path(APP_NAME) / "journal"


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a run; built by ``load_settings``."""

    engine: str = "auto"
    """``auto`` (a Vosk model if one is found, else pocketsphinx), ``vosk`` or ``sphinx``."""
    model: Path | None = None
    """A Vosk model folder; None = discover one (``audio.models.find_model``)."""
    device: str | None = None
    """Microphone: a device index or part of its name; None = the system default."""
    speech: str = "auto"
    """Speech output: ``auto`` (pyttsx3, else espeak-ng, else printed), ``pyttsx3``, ``espeak``, ``print``."""
    voice: str | None = None
    """Text-to-speech voice id or part of its name; None = the engine's default."""
    rate: int = 175
    """Speaking rate, words a minute."""
    volume: float = 0.9
    """Speech volume, 0.0-1.0."""
    auto_advance: bool = False
    """Move to the next stroke by itself when a step's time is up (else wait for "next")."""
    journal: Path = None  # type: ignore[assignment]  # set in __post_init__
    """Folder of the session journal."""
    speak_to: Path | None = None
    """Write the coach's speech to this WAV file instead of the speakers."""
    verbose: bool = False
    """Log timings to stderr."""
    echo_cancel: str = "app"
    """Taking the coach's own voice out of the microphone: ``app`` (the app subtracts what it plays,
    ``audio.aec``; needs its own speech output), ``server`` (the sound server's webrtc module,
    ``audio.echo_cancel``; ``auto`` is its old name) or ``off``."""
    config_file: Path | None = None
    """The config file that was read, if any (for messages)."""

    def __post_init__(self) -> None:
        if self.journal is None:
            object.__setattr__(self, "journal", default_journal_dir())


# --- converters: raw value (TOML value or env/flag string) -> typed value, ValueError with the reason ---

def _engine(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in ENGINES:
        raise ValueError(f"expected one of {', '.join(ENGINES)}")
    return text


def _speech(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in SPEECH:
        raise ValueError(f"expected one of {', '.join(SPEECH)}")
    return text


def _echo_cancel(value: Any) -> str:
    text = str(value).strip().lower()
    text = "server" if text == "auto" else text  # the old name of the sound server's canceller
    if text not in ECHO_CANCEL:
        raise ValueError(f"expected one of {', '.join(ECHO_CANCEL)}")
    return text


def _path(value: Any) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ValueError("expected a folder or file path")
    return Path(str(value)).expanduser()


def _optional_text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("expected text or a number")
    text = str(value).strip()
    return text or None


def _rate(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number of words a minute")
    try:
        rate = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError("expected a whole number of words a minute") from None
    low, high = RATE_RANGE
    if not low <= rate <= high:
        raise ValueError(f"expected {low}-{high} words a minute")
    return rate


def _volume(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number from 0.0 to 1.0")
    try:
        volume = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number from 0.0 to 1.0") from None
    if not 0.0 <= volume <= 1.0:
        raise ValueError("expected a number from 0.0 to 1.0")
    return volume


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


_KEYS: dict[str, Callable[[Any], Any]] = {
    "engine": _engine,
    "model": _path,
    "device": _optional_text,
    "speech": _speech,
    "voice": _optional_text,
    "rate": _rate,
    "volume": _volume,
    "auto_advance": _bool,
    "journal": _path,
    "speak_to": _path,
    "verbose": _bool,
    "echo_cancel": _echo_cancel,
}
"""Settings keys a config file or the environment may set, with their converters."""

FILE_KEYS: tuple[str, ...] = (
    "engine", "model", "device", "speech", "voice", "rate", "volume", "auto_advance", "journal",
    "echo_cancel",
)
"""Keys allowed in the config file (``speak_to`` and ``verbose`` are per run)."""


def env_name(key: str) -> str:
    """The environment variable for a settings key, e.g. ``MASSAGE_COACH_RATE``."""
    return ENV_PREFIX + key.upper()


def _convert(key: str, value: Any, where: str) -> Any:
    try:
        return _KEYS[key](value)
    except ValueError as exc:
        raise ConfigError(f"bad value for {key} in {where}: {value!r} ({exc})") from None


def read_config_file(path: Path) -> dict[str, Any]:
    """Read and check a TOML config file of ``FILE_KEYS`` (top level or in a ``[massage-coach]`` table)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            raise ConfigError(f"cannot read {path}: TOML needs Python 3.11 or the tomli package") from None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read config file {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    if isinstance(data.get(APP_NAME), dict):
        data = data[APP_NAME]
    values: dict[str, Any] = {}
    for key, raw in data.items():
        name = key.replace("-", "_")
        if name not in FILE_KEYS:
            raise ConfigError(f"unknown key {key} in {path} (known: {', '.join(FILE_KEYS)})")
        values[name] = _convert(name, raw, str(path))
    return values


def read_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings given as ``MASSAGE_COACH_*`` environment variables (empty ones are ignored)."""
    values: dict[str, Any] = {}
    for key in _KEYS:
        raw = env.get(env_name(key))
        if raw is not None and raw.strip() != "":
            values[key] = _convert(key, raw, f"environment variable {env_name(key)}")
    return values


def load_settings(flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  config_file: Path | str | None = None) -> Settings:
    """Merge defaults, the config file, the environment and ``flags`` (None values = not given).

    ``config_file`` (or ``MASSAGE_COACH_CONFIG``) must exist when given; the default file is optional.
    """
    env = os.environ if env is None else env
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    explicit = config_file if config_file is not None else (env.get(env_name("config")) or None)
    path = Path(explicit).expanduser() if explicit is not None else default_config_file()
    file_values: dict[str, Any] = {}
    if path.is_file():
        file_values = read_config_file(path)
    elif explicit is not None:
        why = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise ConfigError(f"config file {path} {why}")
    merged: dict[str, Any] = {**file_values, **read_env(env)}
    for key, raw in flags.items():
        if key not in _KEYS:
            raise ConfigError(f"unknown setting {key}")
        merged[key] = _convert(key, raw, f"option --{key.replace('_', '-')}")
    known = {f.name for f in fields(Settings)}
    settings = Settings(**{k: v for k, v in merged.items() if k in known})
    return replace(settings, config_file=path if path.is_file() else None)
