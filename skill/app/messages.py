"""The shell's user-visible sentences, from ``skill/data/app.en.yaml`` (banner, fall-backs, demo script)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from intents.errors import ConfigError

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "app.en.yaml"


@lru_cache(maxsize=4)
def load_messages(path: Path = DATA_FILE) -> dict[str, Any]:
    """The parsed message file (cached); ConfigError naming the file when it is missing or malformed."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} should be a mapping of message names to sentences")
    return data


def msg(key: str, **values: Any) -> str:
    """The sentence ``key`` with ``{placeholders}`` filled from ``values``."""
    data = load_messages()
    template = data.get(key)
    if not isinstance(template, str):
        raise ConfigError(f"{DATA_FILE}: missing message {key!r}")
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{DATA_FILE}: message {key!r} has a bad placeholder ({exc})") from None


def demo_data() -> dict[str, Any]:
    """The ``demo`` section: header, footer and the scripted partner's lines."""
    demo = load_messages().get("demo")
    if not isinstance(demo, dict) or not isinstance(demo.get("script"), list):
        raise ConfigError(f"{DATA_FILE}: the demo section needs a script list")
    return demo
