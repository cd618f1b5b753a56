"""Fixtures shared by the test files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def isolated_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Own config and data folders; no MASSAGE_COACH_* or VOSK_MODEL_PATH from the caller's environment."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for key in list(os.environ):
        if key.startswith("MASSAGE_COACH_") or key == "VOSK_MODEL_PATH":
            monkeypatch.delenv(key)
