"""Fuzz tests (hypothesis): the WAV reader, the routine loader and the matcher never fail in an unplanned way.

- WAV: any bytes -> 16 kHz mono int16 samples or ``AudioFormatError``, nothing else;
- routine: a mutated routine file (YAML text or its parsed structure) -> ``Routine`` or ``ConfigError``;
- matcher: any text (and any confidences) -> ``Intent`` (a catalogue intent) or ``None``.
"""

from __future__ import annotations

import copy
import functools
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audio.errors import AudioFormatError
from audio.wav import parse_wav, read_wav
from intents.errors import ConfigError
from intents.types import INTENT_NAMES, Intent

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_SLOW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""For the routine loader: every example parses and validates a whole routine file (~0.1 s each)."""


# ------------------------------------------------------------------------------------------- WAV
def _chunk(cid: bytes, body: bytes, declared: int | None = None) -> bytes:
    size = len(body) if declared is None else declared
    return cid + struct.pack("<I", size & 0xFFFFFFFF) + body + (b"\0" if len(body) % 2 else b"")


@st.composite
def wav_like(draw: st.DrawFn) -> bytes:
    """Bytes that look like a WAV file, with every header field and chunk size free to be wrong."""
    tag = draw(st.sampled_from([1, 3, 0xFFFE, 0, 2, 7, 0x55]) | st.integers(0, 0xFFFF))
    channels = draw(st.sampled_from([1, 2, 6]) | st.integers(0, 0xFFFF))
    rate = draw(st.sampled_from([8000, 16000, 22050, 44100, 48000, 0, 1, 7]) | st.integers(0, 2**32 - 1))
    bits = draw(st.sampled_from([8, 16, 24, 32, 64]) | st.integers(0, 0xFFFF))
    align = draw(st.just(max(1, channels * bits // 8) & 0xFFFF) | st.integers(0, 0xFFFF))
    fmt = struct.pack("<HHIIHH", tag, channels, rate & 0xFFFFFFFF, (rate * align) & 0xFFFFFFFF, align, bits)
    if tag == 0xFFFE or draw(st.booleans()):
        sub = draw(st.sampled_from([1, 3]) | st.integers(0, 0xFFFF))
        fmt += struct.pack("<HHIH", 22, bits, 3, sub) + bytes(14)
    fmt = fmt[: draw(st.integers(0, len(fmt)))] if draw(st.integers(0, 9)) == 0 else fmt
    samples = draw(st.binary(max_size=600))
    declared = draw(st.none() | st.sampled_from([0, 0xFFFFFFFF, 0x7FFFF000, len(samples) + 1])
                    | st.integers(0, 2**32 - 1))
    chunks = [_chunk(b"fmt ", fmt), _chunk(b"data", samples, declared)]
    if draw(st.booleans()):
        cid = draw(st.sampled_from([b"LIST", b"ds64", b"fact", b"\0\0\0\0"]))
        chunks.insert(draw(st.integers(0, 2)), _chunk(cid, draw(st.binary(max_size=40))))
    body = b"WAVE" + b"".join(chunks)
    head = draw(st.sampled_from([b"RIFF", b"RF64", b"RIFX"]))
    data = head + struct.pack("<I", len(body)) + body
    cut = draw(st.none() | st.integers(0, len(data)))
    return data if cut is None else data[:cut]


def _check_wav_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.wav"
    path.write_bytes(data)
    try:
        out = read_wav(path)
    except AudioFormatError as err:
        message = str(err)
        assert message and "\n" not in message and str(path) in message
        return
    assert isinstance(out, np.ndarray) and out.dtype == np.int16 and out.ndim == 1


@FUZZ
@given(data=st.binary(max_size=2000))
def test_any_bytes_read_as_samples_or_audio_format_error(tmp_path_factory: Any, data: bytes) -> None:
    _check_wav_bytes(tmp_path_factory.mktemp("wav"), data)


@FUZZ
@given(data=wav_like())
def test_wav_like_bytes_read_as_samples_or_audio_format_error(tmp_path_factory: Any, data: bytes) -> None:
    _check_wav_bytes(tmp_path_factory.mktemp("wav"), data)


@FUZZ
@given(data=wav_like(), flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8))
def test_parse_wav_on_corrupted_bytes(data: bytes, flips: list[tuple[int, int]]) -> None:
    buf = bytearray(data)
    for pos, value in flips:
        if buf:
            buf[pos % len(buf)] = value
    try:
        fmt, raw = parse_wav(bytes(buf))
    except AudioFormatError:
        return
    assert fmt.channels >= 1 and fmt.rate >= 1 and len(raw) > 0 and len(raw) % fmt.block_align == 0


# --------------------------------------------------------------------------------------- routine
@functools.lru_cache(maxsize=1)
def _routine_text() -> str:
    from skill.routine import default_path

    return default_path("en").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _routine_tree() -> Any:
    return yaml.safe_load(_routine_text())


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in a parsed YAML tree."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(allow_nan=True),
    st.text(max_size=30), st.just(""), st.just("{unknown_placeholder}"), st.just("{"), st.just([]),
    st.just({}), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _load_text(tmp_path: Path, text: str | bytes) -> None:
    from skill.routine import Routine, load_routine

    path = tmp_path / "routine.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        routine = load_routine(path)
    except ConfigError as err:
        message = str(err)
        assert message and "\n" not in message
        return
    assert isinstance(routine, Routine)


@FUZZ_SLOW
@given(data=st.data())
def test_routine_with_a_mutated_structure_loads_or_is_a_config_error(tmp_path_factory: Any,
                                                                     data: Any) -> None:
    pytest.importorskip("skill.routine")
    mutated = copy.deepcopy(_routine_tree())
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(mutated)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = mutated
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "duplicate"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = data.draw(ODD_VALUES)
    try:
        text = yaml.safe_dump(mutated, allow_unicode=True)
    except yaml.YAMLError:
        assume(False)
    _load_text(tmp_path_factory.mktemp("routine"), text)


@FUZZ_SLOW
@given(data=st.data())
def test_routine_with_mutated_text_loads_or_is_a_config_error(tmp_path_factory: Any, data: Any) -> None:
    pytest.importorskip("skill.routine")
    text = _routine_text().encode("utf-8")
    buf = bytearray(text)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(buf)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "truncate"]))
        if op == "truncate":
            del buf[pos:]
        elif op == "delete":
            del buf[pos:pos + data.draw(st.integers(1, 40))]
        elif op == "insert":
            buf[pos:pos] = data.draw(st.sampled_from([b":", b"-", b"\t", b"  ", b"{", b"}", b"[", b"'", b'"',
                                                      b"\n", b"&a", b"*a", b"!!python/object ", b"\xff\xfe"])
                                     | st.binary(max_size=8))
        elif buf:
            buf[pos % len(buf)] = data.draw(st.integers(0, 255))
    _load_text(tmp_path_factory.mktemp("routine"), bytes(buf))


def test_routine_edge_files(tmp_path: Path) -> None:
    pytest.importorskip("skill.routine")
    for content in (b"", b"\0\0\0", b"[]", b"42", b"null", b"a: [", b"\xff\xfe\x00", b"&a [*a]",
                    b"language: en\n", _routine_text().encode()[:500], b"x: " + b"[" * 5000):
        _load_text(tmp_path, content)


# --------------------------------------------------------------------------------------- matcher
@functools.lru_cache(maxsize=1)
def _matcher() -> Any:
    from intents.catalogue import load_catalogue
    from intents.matcher import Matcher

    return Matcher(load_catalogue())


@functools.lru_cache(maxsize=1)
def _words() -> list[str]:
    words: set[str] = set()
    for phrase in _matcher_catalogue_phrases():
        words.update(phrase.split())
    return sorted(words)


def _matcher_catalogue_phrases() -> list[str]:
    from intents.catalogue import load_catalogue

    return [p.text for p in load_catalogue().phrases]


def _check_match(text: str, confidences: list[float] | None = None) -> None:
    matcher = _matcher()
    result = matcher.match(text) if confidences is None else matcher.match(text, confidences=confidences)
    assert result is None or isinstance(result, Intent)
    if result is not None:
        assert result.name in INTENT_NAMES
        assert 0.0 <= result.confidence <= 1.0
    assert matcher.is_complete_command(text) in (True, False)


@FUZZ
@given(text=st.text(max_size=300))
def test_matcher_on_any_text(text: str) -> None:
    pytest.importorskip("intents.matcher")
    _check_match(text)


@FUZZ
@given(data=st.data())
def test_matcher_on_shuffled_command_words_and_odd_confidences(data: Any) -> None:
    pytest.importorskip("intents.matcher")
    words = data.draw(st.lists(st.sampled_from(_words()) | st.sampled_from(["[unk]", "", " ", "the", "um"]),
                               max_size=12))
    text = data.draw(st.sampled_from([" ", "  ", "\t"])).join(words)
    conf = data.draw(st.none() | st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=15))
    _check_match(text, conf)


def test_matcher_on_extreme_text() -> None:
    pytest.importorskip("intents.matcher")
    for text in ("", " ", "\0", "\x00\xff\ufffd", "next " * 20_000, "a" * 100_000, "NEXT STEP", "Next, step!",
                 "hold for 9999999999999999999999 seconds", "hold for -5 seconds", "hold for 0 seconds",
                 "\udcff", "ℌ𝔬𝔩𝔡", "ｎｅｘｔ"):
        _check_match(text)
