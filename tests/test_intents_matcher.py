"""The matcher: every phrase, paraphrases and near-misses, chatter and [unk] rejection, confidences."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from intents import bench_matcher
from intents.catalogue import Catalogue, load_catalogue
from intents.matcher import Matcher
from intents.types import INTENT_NAMES, Intent

CHATTER = Path(__file__).parent / "data" / "chatter_en.txt"


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="module")
def matcher(cat: Catalogue) -> Matcher:
    return Matcher(cat)


def chatter_lines() -> list[str]:
    lines = [line.strip() for line in CHATTER.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_every_phrase_maps_to_its_intent_and_slots(cat: Catalogue, matcher: Matcher) -> None:
    for phrase in cat.phrases:
        got = matcher.match(phrase.text)
        assert got is not None, phrase.text
        assert (got.name, dict(got.slots), got.confidence, got.text) == (
            phrase.intent, dict(phrase.slots), 1.0, phrase.text
        )  # fmt: skip


def test_every_help_example_is_understood(cat: Catalogue, matcher: Matcher) -> None:
    for name in INTENT_NAMES:
        for example in cat.examples(name):
            got = matcher.match(example)
            assert got is not None and got.name == name, example


PARAPHRASES = [
    ("next", "next", {}),
    ("next stroke", "next", {}),
    ("okay next one", "next", {}),
    ("go back", "previous", {}),
    ("say that again", "repeat", {}),
    ("hold for twenty seconds", "hold", {"seconds": 20}),
    ("hold for twenty five seconds", "hold", {"seconds": 25}),
    ("hold fifteen seconds", "hold", {"seconds": 15}),
    ("hold for ten", "hold", {"seconds": 10}),
    ("thirty seconds", "hold", {"seconds": 30}),
    ("hold for five seconds", "hold", {"seconds": 5}),
    ("hold for forty seconds", "hold", {"seconds": 40}),
    ("hold for sixty seconds", "hold", {"seconds": 60}),
    ("hold", "hold", {}),
    ("use my fists", "technique", {"technique": "fists"}),
    ("switch to palms", "technique", {"technique": "palms"}),
    ("use your knuckles", None, {}),
    ("use the elbows", "technique", {"technique": "elbows"}),
    ("fingertips", "technique", {"technique": "fingertips"}),
    ("I found a knot", "knot", {}),
    ("that hurts", "pain", {}),
    ("ouch", "pain", {}),
    ("too hard", "lighter", {}),
    ("what are the warning signs", "warning_signs", {}),
    ("when should we see a doctor", "warning_signs", {}),
    ("what can I say", "help", {}),
    ("where are we", "status", {}),
    ("start", "start", {}),
    ("let's begin", "start", {}),
    ("pause", "pause", {}),
    ("hang on", "pause", {}),
    ("resume", "resume", {}),
    ("carry on", "resume", {}),
    ("stop", "stop", {}),
    ("that's enough", "stop", {}),
    ("slow down", "slower", {}),
    ("speed up", "faster", {}),
    ("I can't hear you", "louder", {}),
    ("too loud", "quieter", {}),
    ("a bit softer", "lighter", {}),
    ("more pressure", "firmer", {}),
    ("it's too hard", "lighter", {}),
    ("yes", "yes", {}),
    ("yeah", "yes", {}),
    ("ok", "yes", {}),
    ("no thanks", "no", {}),
    ("nope", "no", {}),
    ("what's next", "status", {}),
]


@pytest.mark.parametrize(("text", "intent", "slots"), PARAPHRASES)
def test_paraphrases(matcher: Matcher, text: str, intent: str | None, slots: dict) -> None:
    got = matcher.match(text)
    if intent is None:
        assert got is None
    else:
        assert got is not None and (got.name, dict(got.slots)) == (intent, slots), text


NEAR_MISSES = [
    # casing and punctuation
    ("Next!", "next", {}, 1.0),
    ("NEXT STROKE.", "next", {}, 1.0),
    ("  go   back  ", "previous", {}, 1.0),
    ("Hold for twenty-five seconds.", "hold", {"seconds": 25}, 1.0),
    ("hold for 20 seconds", "hold", {"seconds": 20}, 1.0),
    ("That’s too hard!", "lighter", {}, 1.0),
    ("What are the warning signs?", "warning_signs", {}, 1.0),
    ("Ouch, ouch", "pain", {}, 1.0),
    # an extra filler word
    ("um next", "next", {}, 0.9),
    ("next please", "next", {}, 1.0),
    ("uh hold for twenty seconds", "hold", {"seconds": 20}, 0.9),
    ("okay stop now", "stop", {}, 0.9),
    ("so where are we", "status", {}, 0.9),
    ("please use my fists", "technique", {"technique": "fists"}, 0.9),
    ("uh, that hurts", "pain", {}, 0.9),
    ("okay so what can I say", "help", {}, 0.9),
    # a dropped filler word (the phrase is "pause the massage please")
    ("pause the massage", "pause", {}, 0.9),
    ("next okay", "next", {}, 0.9),
    # a repeated word (a stutter, or the recognizer doubling a word)
    ("hold it it", "hold", {}, 0.9),
    ("next next stroke", "next", {}, 0.9),
    ("hold for twenty twenty seconds", "hold", {"seconds": 20}, 0.9),
    ("um this spot is tight tight", "knot", {}, 0.9),
    ("no no no", "no", {}, 0.9),
]


@pytest.mark.parametrize(("text", "intent", "slots", "confidence"), NEAR_MISSES)
def test_near_misses(matcher: Matcher, text: str, intent: str, slots: dict, confidence: float) -> None:
    got = matcher.match(text)
    assert got is not None, text
    assert (got.name, dict(got.slots)) == (intent, slots)
    assert got.confidence == pytest.approx(confidence)
    assert got.text == text


@pytest.mark.parametrize(
    "text",
    ["[unk] hold [unk]", "[unk]", "next [unk]", "[unk] next", "hold [unk] twenty seconds", "<unk> stop",
     "[UNK] stop", "", "   ", "...", "um", "okay okay", "please now", "hold for", "do do do",
     "twenty twenty", "ow", "ow ow", "palm", "use my", "the next", "stop the", "warning", "twenty",
     "hold for seventy", "next stroke [unk]"],
)  # fmt: skip
def test_garbage_and_partials_are_not_understood(matcher: Matcher, text: str) -> None:
    assert matcher.match(text) is None


def test_chatter_is_rejected(matcher: Matcher) -> None:
    lines = chatter_lines()
    assert len(lines) >= 60
    accepted = {line: matcher.match(line) for line in lines}
    assert {line: hit for line, hit in accepted.items() if hit is not None} == {}


def test_chatter_file_mentions_command_words() -> None:
    text = " ".join(chatter_lines()).lower()
    for phrase in ("the next song is nice", "hold on let me get the towel", "my hands are oily",
                   "that music is too loud", "i stopped at the shop"):  # fmt: skip
        assert phrase in text


def test_odd_unicode_and_long_text(matcher: Matcher) -> None:
    assert matcher.match("ｎｅｘｔ") == Intent("next", {}, 1.0, "ｎｅｘｔ")  # full-width letters
    assert matcher.match("next " * 20_000) is None
    assert matcher.is_complete_command("next " * 20_000) is False
    assert matcher.match("\udcff\x00") is None


def test_non_string_input_is_none(matcher: Matcher) -> None:
    assert matcher.match(None) is None  # type: ignore[arg-type]
    assert matcher.match(42) is None  # type: ignore[arg-type]
    assert matcher.is_complete_command(None) is False  # type: ignore[arg-type]


# --- confidences ------------------------------------------------------------------------------------


def test_confidences_combine_to_the_lowest_content_word(matcher: Matcher) -> None:
    got = matcher.match("next stroke", [0.9, 0.8])
    assert got == Intent("next", {}, pytest.approx(0.8), "next stroke")


def test_low_content_word_confidence_rejects(matcher: Matcher) -> None:
    assert matcher.match("next stroke", [0.95, 0.3]) is None
    assert matcher.match("hold for twenty seconds", [0.9, 0.9, 0.2, 0.9]) is None


def test_low_filler_confidence_is_ignored(matcher: Matcher) -> None:
    got = matcher.match("um next please", [0.1, 0.9, 0.2])
    assert got is not None and got.name == "next"
    assert got.confidence == pytest.approx(0.9 * 0.9)
    got = matcher.match("okay next one", [0.1, 0.9, 0.7])  # "okay" is a filler inside the phrase
    assert got is not None and got.confidence == pytest.approx(0.7)


def test_all_filler_phrase_uses_its_own_confidence(matcher: Matcher) -> None:
    assert matcher.match("okay", [0.3]) is None
    got = matcher.match("okay", [0.8])
    assert got is not None and got.name == "yes" and got.confidence == pytest.approx(0.8)


def test_confidences_follow_normalized_words(matcher: Matcher) -> None:
    got = matcher.match("hold for twenty-five seconds", [0.9, 0.9, 0.6, 0.9])
    assert got is not None and got.slots == {"seconds": 25} and got.confidence == pytest.approx(0.6)
    assert matcher.match("hold for twenty-five seconds", [0.9, 0.9, 0.4, 0.9]) is None


def test_mismatched_confidences_are_conservative(matcher: Matcher) -> None:
    got = matcher.match("next stroke", [0.7])
    assert got is not None and got.confidence == pytest.approx(0.7)
    assert matcher.match("next stroke", [0.9, 0.9, 0.1]) is None
    assert matcher.match("next stroke", [math.nan, math.nan]) is None
    assert matcher.match("next stroke", [0.9, math.nan]) is None
    assert matcher.match("next stroke", [0.9, "x"]) is None  # type: ignore[list-item]
    got = matcher.match("next stroke", [math.inf, 0.9])
    assert got is not None and got.confidence == pytest.approx(0.9)


def test_threshold_is_configurable(cat: Catalogue) -> None:
    strict = Matcher(cat, min_word_confidence=0.95)
    assert strict.match("stop", [0.9]) is None
    assert Matcher(cat, min_word_confidence=0.0).match("stop", [0.01]) is not None


def test_empty_confidences_mean_none(matcher: Matcher) -> None:
    got = matcher.match("stop", [])
    assert got is not None and got.confidence == 1.0


def test_deterministic_and_fresh_slots(matcher: Matcher) -> None:
    first = matcher.match("hold for twenty seconds")
    assert first is not None
    first.slots["seconds"] = 99  # type: ignore[index]
    again = matcher.match("hold for twenty seconds")
    assert again == Intent("hold", {"seconds": 20}, 1.0, "hold for twenty seconds")


# --- early commit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "complete"),
    [
        ("next", True),  # "next stroke" means the same
        ("stop", True),
        ("that hurts", True),
        ("ouch", True),
        ("yes", True),
        ("no", True),
        ("hold", False),  # "hold for twenty seconds" carries a slot
        ("hold for", False),  # not a phrase
        ("hold for twenty", False),  # "hold for twenty five" is longer and different
        ("hold for twenty seconds", True),
        ("hold for twenty five seconds", True),
        ("hold for thirty", True),
        ("okay", False),  # yes, but "okay next one" is next
        ("use", False),
        ("use my fists", True),
        ("[unk] hold", False),
        ("next [unk]", False),
        ("", False),
        ("Next!", True),
        ("um next", True),
        ("what are the warning signs", True),
        ("what are", False),
    ],
)
def test_is_complete_command(matcher: Matcher, text: str, complete: bool) -> None:
    assert matcher.is_complete_command(text) is complete


def test_complete_commands_match(cat: Catalogue, matcher: Matcher) -> None:
    for phrase in cat.phrases:
        if matcher.is_complete_command(phrase.text):
            longer = [p for p in cat.phrases if p.text.startswith(phrase.text + " ")]
            assert all((p.intent, dict(p.slots)) == (phrase.intent, dict(phrase.slots)) for p in longer)


def test_benchmark_prints_microseconds(capsys: pytest.CaptureFixture[str]) -> None:
    results = bench_matcher(repeats=200)
    assert set(results) >= {"exact", "messy", "unk", "chatter", "is_complete_command"}
    with capsys.disabled():
        print("\nmatcher us/call: " + ", ".join(f"{k}={v:.2f}" for k, v in results.items()))
