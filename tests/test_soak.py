"""Soak (short version of ``python -m bench.soak``): hours of session time on a FakeClock and minutes of audio
through the real Vosk recognizer, without growth in memory or queues and without losing a journal line.

Memory is compared after a warm-up and at the end (RSS after ``gc.collect()``, and the number of Python
objects); the tolerances are generous for allocator noise but far below what a leak of one object per
turn or per chunk would add up to (thousands of turns, thousands of chunks).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.soak import audio_soak, session_soak
from tests.speech_fixtures import toy_model_path

ROOT = Path(__file__).resolve().parents[1]
TOY = toy_model_path()

RSS_TOLERANCE_MB = 6.0
OBJECT_TOLERANCE = 500


@pytest.fixture()
def journal_dir(tmp_path: Path) -> Iterator[Path]:
    """A journal folder in memory when possible (fsync stays on, but costs nothing on tmpfs)."""
    shm = Path("/dev/shm")
    if shm.is_dir():
        with tempfile.TemporaryDirectory(dir=shm, prefix="soak-") as tmp:
            yield Path(tmp)
    else:
        yield tmp_path


def _no_growth(figures: dict) -> None:
    assert figures["samples"] >= 5
    assert figures["rss_growth_mb"] < RSS_TOLERANCE_MB, figures
    assert figures["rss_max_mb"] - figures["rss_after_warmup_mb"] < RSS_TOLERANCE_MB, figures
    assert figures["objects_growth"] < OBJECT_TOLERANCE, figures


def _no_lost_lines(journal: dict) -> None:
    assert journal["lost"] == 0 and journal["lines"] == journal["expected"], journal
    assert journal["damaged"] == 0 and journal["in_order"] and journal["closed"], journal


def test_hours_of_turns_on_one_session(journal_dir: Path) -> None:
    figures = session_soak(journal_dir, turns=8000, mean_gap_s=3.0, samples=8)
    assert figures["turns"] == 8000 and not figures["finished_early"]
    assert figures["clock_hours"] > 5.0
    assert figures["chatter_taken_for_commands"] == 0
    assert figures["said"] >= figures["turns"]  # every turn got an answer
    _no_growth(figures)
    _no_lost_lines(figures["journal"])
    assert figures["journal"]["lines"] > 2 * figures["turns"]  # each turn's event and snapshot
    assert figures["journal_backlog_max"] == 0
    # the resumable state does not grow with the session's length
    assert figures["snapshot_bytes_end"] < 2 * max(figures["snapshot_bytes_after_warmup"], 400)
    assert figures["snapshot_bytes_max"] < 2000


def test_minutes_of_audio_through_vosk_and_the_live_loop(journal_dir: Path) -> None:
    if not TOY.is_dir():
        pytest.skip("no toy Vosk model")
    figures = audio_soak(journal_dir, TOY, audio_s=300.0, samples=6)
    assert figures["audio_s"] >= 300.0
    assert figures["commands_spoken"] >= 60
    assert figures["understood_share"] >= 0.9 and figures["wrong_intent"] <= 2, figures
    assert figures["session_restarts"] == 0
    _no_growth(figures)
    _no_lost_lines(figures["journal"])
