"""SphinxRecognizer (the no-Vosk-model fallback) with pocketsphinx's bundled model on espeak-ng speech.

pocketsphinx's US English model was trained on human speech, so on espeak-ng it is much weaker than the
toy Vosk model; these tests check what it must do (stream, constrain, reject, name itself), with phrases
it hears reliably.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from audio.errors import ModelError
from audio.sphinx_engine import SphinxRecognizer, build_jsgf
from audio.vosk_engine import recognize_samples
from tests.speech_fixtures import chatter, grammar, intent_of, speech, speech_end_s, utterance

RELIABLE = ["repeat", "faster", "resume", "louder", "stop", "slower", "go back", "where are we"]


@functools.lru_cache(maxsize=1)
def shared() -> SphinxRecognizer:
    return SphinxRecognizer(grammar())


def reliable() -> list[str]:
    g = set(grammar())
    return [p for p in RELIABLE if p in g]


def test_names_itself_and_builds_a_prefix_tree_grammar():
    rec = shared()
    assert rec.name == "sphinx"
    jsgf = build_jsgf(["hold", "hold for ten seconds", "hold it"], None)
    assert "<cmd> = hold [ ( for ( ten ( seconds ) ) | it ) ];" in jsgf
    assert "<phone>" in build_jsgf(["stop"], 1e-20)


def test_reliable_commands_recognized_in_a_stream():
    texts = reliable()
    x = np.concatenate([utterance(t, before_s=0.3, after_s=0.8) for t in texts])
    hyps = recognize_samples(shared(), x)
    got = [intent_of(h.text) for h in hyps]
    assert sum(intent_of(t) in got for t in texts) >= len(texts) // 2, [h.text for h in hyps]
    assert [h.end_s for h in hyps] == sorted(h.end_s for h in hyps)
    for h in hyps:
        assert all(w.start <= w.end <= h.end_s + 0.01 for w in h.words)


@pytest.mark.parametrize("voice,noise", [("en-us+f2", None), ("en-us", "white")])
def test_commands_in_other_voice_and_noise(voice, noise):
    texts = reliable()
    right = 0
    for t in texts:
        hyps = recognize_samples(shared(), utterance(t, voice=voice, noise=noise, snr_db=20.0))
        right += [intent_of(h.text) for h in hyps] == [intent_of(t)]
    assert right >= len(texts) // 3


def test_garbage_loop_turns_some_chatter_into_unk():
    rec = shared()
    texts = [h.text for line in chatter()[:5] for h in recognize_samples(rec, utterance(line))]
    assert texts, "chatter produced no hypothesis at all"
    assert any("[unk]" in t for t in texts)


def test_words_missing_from_cmudict():
    rec = SphinxRecognizer(["dont stop", "thats enough", "zorblax now", "stop"], garbage_weight=None)
    assert rec.unknown_words == ["zorblax"]
    assert rec.grammar == ["dont stop", "thats enough", "stop"]  # spelled without apostrophes, still there


def test_no_pronounceable_phrase_is_a_model_error():
    with pytest.raises(ModelError):
        SphinxRecognizer(["zorblax", "[unk]"])


def test_reset_and_flush():
    rec = shared()
    x = utterance("faster", before_s=0.3, after_s=0.0)
    data = x[: int((0.3 + speech_end_s(speech("faster")) - 0.05) * 16000)].tobytes()  # ends mid-speech
    for i in range(0, len(data), 1280):
        rec.accept(data[i:i + 1280])
    rec.reset()
    assert rec.flush() is None
    for i in range(0, len(data), 1280):
        rec.accept(data[i:i + 1280])
    h = rec.flush()  # the stream ends while still in speech
    assert h is not None
    assert rec.flush() is None
    assert recognize_samples(rec, np.zeros(32000, dtype=np.int16)) == []


def test_flush_when_the_stream_ends_on_a_frame_boundary_in_speech():
    """Regression: Endpointer.end_stream(b"") raises IndexError in speech; flush() passed it an empty buffer
    when the stream ended exactly on a frame boundary (bench: 'engine crashed' on 2 clips)."""
    rec = SphinxRecognizer(["stop", "go back"])
    size = rec._ep.frame_bytes
    rng = np.random.default_rng(7)
    loud = (rng.standard_normal(16000) * 8000).astype("<i2").tobytes()
    loud = loud[: len(loud) - len(loud) % size]  # a whole number of endpointer frames
    for i in range(0, len(loud), size):
        rec.accept(loud[i:i + size])
    assert rec._ep.in_speech and rec._buf == b""
    rec.flush()  # must not raise; a hypothesis or None
    assert rec.fed_s == len(loud) / 2 / 16000
    assert rec.flush() is None
    x = utterance("stop", before_s=0.3, after_s=0.0)
    data = x[: len(x) - len(x) % (size // 2)].tobytes()
    for i in range(0, len(data), size):
        rec.accept(data[i:i + size])
    rec.flush()  # again after a normal utterance that ends in speech on a frame boundary
