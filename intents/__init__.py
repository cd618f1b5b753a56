"""Spoken commands: phrase templates, the recognizer's closed grammar, and text -> Intent matching.

    from intents import load_catalogue, Matcher
    catalogue = load_catalogue()              # intents/data/en.yaml
    grammar = catalogue.grammar()             # closed phrase list for Vosk, ends with "[unk]"
    matcher = Matcher(catalogue)
    matcher.match("hold for twenty seconds")  # Intent("hold", {"seconds": 20}, 1.0, ...)

Names are imported lazily so that ``import intents.types`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Catalogue", "ConfigError", "Matcher", "Phrase", "bench_matcher", "load_catalogue", "load_vocabulary",
]  # fmt: skip

_WHERE = {
    "Catalogue": "intents.catalogue",
    "Phrase": "intents.catalogue",
    "load_catalogue": "intents.catalogue",
    "Matcher": "intents.matcher",
    "load_vocabulary": "intents.vocabulary",
    "bench_matcher": "intents.bench",
    "ConfigError": "intents.errors",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first use."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'intents' has no attribute {name!r}")
