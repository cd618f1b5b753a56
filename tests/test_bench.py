"""The benchmark on a tiny input: the suite is reproducible, noises are at the SNR asked for, and
``python -m bench --quick`` writes RESULTS.md and results.json with every section and sane values.
No wall-clock time is asserted anywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audio.synth import speech_rms
from bench import noise as bn
from bench.__main__ import main
from bench.report import extra_sections
from bench.suite import SuiteConfig, build_suite, speech_bounds
from bench.targets import TARGETS

SECTIONS = ("## Summary", "## Targets", "## Accuracy per condition", "## Latency: end of speech to intent",
            "## False accepts", "## Start-up to ready and peak memory", "## Intent to first reply audio",
            "## Most frequent errors", "## Anchors", "## Reproduce")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    out = tmp_path_factory.mktemp("bench")
    extra = out / "results"
    extra.mkdir()
    (extra / "room.json").write_text(json.dumps({"reply_median_ms": 321.5, "commands": 12,
                                                 "nested": {"barge_in_ms": [210.0, 250.0]},
                                                 "notes": ["measured in a virtual room"]}))
    (extra / "soak.json").write_text(json.dumps({"hours": 2.0, "notes": "no leaks seen"}))
    assert main(["--quick", "--out", str(out), "--results-dir", str(extra)]) == 0
    return (out / "RESULTS.md").read_text(encoding="utf-8"), json.loads((out / "results.json").read_text())


def test_report_has_every_section_and_the_extra_files(quick_run: tuple[str, dict]) -> None:
    md, _ = quick_run
    for section in SECTIONS:
        assert section in md, section
    assert "## Live virtual-room latencies (bench/results/room.json)" in md
    assert "reply_median_ms" in md and "321.5" in md and "nested.barge_in_ms" in md
    assert "measured in a virtual room" in md
    assert "## Soak test (bench/results/soak.json)" in md and "no leaks seen" in md
    assert "## Raspberry Pi memory" not in md  # pi.json absent: no section
    assert "Vosk naive baseline" in md and "97.6 %" in md


def test_results_json_values_are_sane(quick_run: tuple[str, dict]) -> None:
    _, res = quick_run
    suite = res["suite"]
    assert suite["phrases"] == 5 and suite["conditions"] == ["clean", "music@6"]
    assert suite["chatter_clips"] > 0 and suite["burst_clips"] > 0
    vosk = res["systems"]["vosk"]["commands"]
    assert vosk["available"]
    assert vosk["clips"] == suite["command_clips"] == 10
    for system in res["systems"].values():
        cm = system["commands"]
        if not cm.get("available"):
            continue
        for value in [*cm["by_condition"].values(), cm["accuracy"]]:
            assert 0.0 <= value <= 100.0
        assert cm["snr_average"] is None or 0.0 <= cm["snr_average"] <= 100.0
        assert sum(cm["outcomes"].values()) == cm["clips"]
        assert cm["rtf"] > 0.0
        if cm["latency_ms"]["count"]:
            assert cm["latency_ms"]["audio_part_median"] > -1000.0  # audio time, not wall clock
    # the canonical phrases, clean, through the project's Vosk path: the toy model knows espeak en-us
    assert vosk["by_condition"]["clean"] >= 80.0
    assert res["systems"]["vosk-no-early"]["commands"]["latency_ms"]["early_share"] == 0.0
    sweep = res["chunk_sweep"]["by_chunk_ms"]
    assert set(sweep) == {"20", "40", "100"}
    assert all(v["clips"] == 5 for v in sweep.values())  # the clean clips of the quick suite
    chatter = res["systems"]["vosk"]["chatter"]
    assert chatter["clips"] == suite["chatter_clips"] + suite["burst_clips"]
    assert 0.0 <= chatter["rate"] <= 100.0
    stream = res["systems"]["vosk"]["stream"]
    assert stream["available"] and stream["hours"] == pytest.approx(30 / 3600, rel=0.01)
    mem = res["startup_memory"]["vosk"]
    assert mem["available"] and 10.0 < mem["peak_rss_mb"] < 2000.0
    assert isinstance(res["findings"], list) and all(isinstance(f, str) for f in res["findings"])
    keys = {t["key"] for t in res["targets"]}
    assert keys == {t.key for t in TARGETS}
    for t in res["targets"]:
        assert t["status"] in ("met", "missed", "not measured")
        assert (t["missed_by"] is not None) == (t["status"] == "missed")


def test_suite_is_seeded_and_reproducible() -> None:
    a, b = build_suite(SuiteConfig.quick()), build_suite(SuiteConfig.quick())
    assert [c.id for c in a.commands] == [c.id for c in b.commands]
    assert all(np.array_equal(x.samples, y.samples) for x, y in zip(a.commands, b.commands, strict=True))
    assert all(np.array_equal(x.samples, y.samples) for x, y in zip(a.chatter, b.chatter, strict=True))
    assert np.array_equal(a.stream_part(0)[0], b.stream_part(0)[0])
    other = build_suite(SuiteConfig.quick(seed=1))
    pairs = zip(a.commands, other.commands, strict=True)
    assert not all(np.array_equal(x.samples, y.samples) for x, y in pairs)
    for clip in a.commands:
        assert clip.speech_start_s < clip.speech_end_s < clip.duration_s


@pytest.mark.parametrize("kind", ["white", "pink", "music"])
def test_noise_is_mixed_at_the_requested_snr(kind: str) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(16000) / 16000
    speech = (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    mixed = bn.mix_at_snr(speech, 6.0, kind, rng).astype(np.float64)
    noise = mixed - speech
    snr = 20 * np.log10(speech_rms(speech) / np.sqrt(np.mean(noise ** 2)))
    assert snr == pytest.approx(6.0, abs=0.3)


def test_bench_sounds_have_the_shape_asked_for() -> None:
    rng = np.random.default_rng(5)
    x = (np.random.default_rng(1).standard_normal(16000) * 3000).astype(np.int16)
    far = bn.far_field(x, rng)
    assert speech_rms(far) < speech_rms(x) / 5  # about -20 dB
    wet = bn.reverb(x, rng, rt60_s=0.5)
    assert wet.shape == x.shape and not np.array_equal(wet, x)
    for burst in (bn.sigh(rng), bn.laugh(rng)):
        start, end = speech_bounds(burst)
        assert 0.3 < end - start < 2.0


def test_extra_sections_skip_unreadable_and_absent_files(tmp_path: Path) -> None:
    (tmp_path / "pi.json").write_text("{not json")
    data, lines = extra_sections(tmp_path)
    assert data == {}
    assert any("Could not read pi.json" in line for line in lines)
