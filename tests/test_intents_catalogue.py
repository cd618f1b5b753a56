"""The English catalogue: loading, validation errors, grammar, help examples and the model's vocabulary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from intents.catalogue import MAX_PHRASES, UNK, Catalogue, Phrase, load_catalogue
from intents.errors import ConfigError
from intents.template import expand
from intents.types import HOLD_SECONDS_RANGE, INTENT_NAMES, TECHNIQUES
from intents.vocabulary import load_vocabulary
from tests.speech_fixtures import toy_model_path

TOY_MODEL = toy_model_path()
needs_model = pytest.mark.skipif(
    not (TOY_MODEL / "graph" / "words.txt").is_file(), reason="test Vosk model not present"
)


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    return load_catalogue()


def test_loads_every_intent(cat: Catalogue) -> None:
    assert cat.intent_names == INTENT_NAMES
    assert cat.language == "en"
    for name in INTENT_NAMES:
        assert any(p.intent == name for p in cat.phrases), name
        assert cat.examples(name), name


def test_phrases_are_frozen_dataclasses(cat: Catalogue) -> None:
    phrase = cat.phrases[0]
    assert isinstance(phrase, Phrase)
    with pytest.raises(AttributeError):
        phrase.text = "x"  # type: ignore[misc]


def test_grammar_is_phrases_plus_unk(cat: Catalogue) -> None:
    grammar = cat.grammar()
    assert grammar[-1] == UNK and grammar.count(UNK) == 1
    assert len(grammar) == len(set(grammar))
    assert set(grammar[:-1]) == {p.text for p in cat.phrases}
    assert 300 <= len(grammar) <= 1500, len(grammar)


def test_every_template_phrase_is_in_grammar(cat: Catalogue) -> None:
    import yaml

    data = yaml.safe_load((Path(__file__).parents[1] / "intents" / "data" / "en.yaml").read_text())
    grammar = set(cat.grammar())
    intents = {str(k).lower() if not isinstance(k, bool) else ("yes" if k else "no"): v
               for k, v in data["intents"].items()}  # fmt: skip
    for name, templates in intents.items():
        for template in templates:
            for words, _ in expand(str(template) if not isinstance(template, bool) else name, cat.slot_lists):
                assert " ".join(words) in grammar, (name, template)


def test_no_phrase_has_two_meanings(cat: Catalogue) -> None:
    meaning: dict[str, tuple[str, dict]] = {}
    for p in cat.phrases:
        assert meaning.setdefault(p.text, (p.intent, dict(p.slots))) == (p.intent, dict(p.slots)), p.text


def test_phrase_words_are_plain(cat: Catalogue) -> None:
    for p in cat.phrases:
        assert p.text == p.text.strip().lower() and "  " not in p.text
        assert all(w.isalpha() for w in p.text.split()), p.text


def test_hold_seconds_cover_the_allowed_range(cat: Catalogue) -> None:
    seconds = {p.slots["seconds"] for p in cat.phrases if p.intent == "hold" and "seconds" in p.slots}
    assert all(isinstance(s, int) for s in seconds)
    assert {10, 15, 20, 25, 30} <= seconds
    low, high = HOLD_SECONDS_RANGE
    assert any(s < low for s in seconds) and any(s > high for s in seconds)  # the skill clamps these
    assert any(p.intent == "hold" and not p.slots for p in cat.phrases)  # plain "hold"


def test_technique_values(cat: Catalogue) -> None:
    values = {p.slots["technique"] for p in cat.phrases if p.intent == "technique"}
    assert values == set(TECHNIQUES)
    assert all("technique" in p.slots for p in cat.phrases if p.intent == "technique")


def test_examples_and_help(cat: Catalogue) -> None:
    assert cat.examples("next")[0] == "next"
    assert "okay next" in cat.examples("next")
    assert cat.examples("hold")[0] == "hold"
    help_examples = cat.help_examples()
    assert list(help_examples) == list(INTENT_NAMES)
    grammar = set(cat.grammar())
    for name in INTENT_NAMES:
        assert help_examples[name] == cat.examples(name)[0]
        assert all(e in grammar for e in cat.examples(name))
    with pytest.raises(KeyError):
        cat.examples("dance")


@needs_model
def test_all_grammar_words_are_in_the_test_model(cat: Catalogue) -> None:
    vocab = load_vocabulary(TOY_MODEL)
    assert "[unk]" in vocab and "<eps>" not in vocab
    assert cat.unknown_words(vocab) == []


def test_unknown_words_are_reported(cat: Catalogue) -> None:
    vocab = cat.words() - {"ouch", "knot"}
    assert cat.unknown_words(vocab) == ["knot", "ouch"]


def test_vocabulary_from_file_and_missing(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("<eps> 0\n[unk] 1\nnext 2\nstroke 3\n#0 4\n")
    assert load_vocabulary(words) == {"[unk]", "next", "stroke"}
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "words.txt").write_text("hold 1\n")
    assert load_vocabulary(tmp_path) == {"hold"}
    with pytest.raises(ConfigError, match="no vocabulary"):
        load_vocabulary(tmp_path / "nothing")


# --- validation -------------------------------------------------------------------------------------

MINIMAL = "\n".join(f"  {n}: [{n.replace('_', ' ')}]" for n in INTENT_NAMES if n not in ("yes", "no"))
BASE = f"""slots:
  seconds: {{ten: 10}}
intents:
{MINIMAL}
  "yes": ["yes"]
  "no": ["no"]
"""


def hold(templates: str) -> Callable[[str], str]:
    """A change to BASE: replace the templates of ``hold``."""
    return lambda text: text.replace("  hold: [hold]", f"  hold: {templates}")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "xx.yaml"
    path.write_text(text)
    return path


def test_minimal_file_loads(tmp_path: Path) -> None:
    cat = load_catalogue(write(tmp_path, BASE))
    assert cat.help_examples()["warning_signs"] == "warning signs"
    assert len(cat.grammar()) == len(INTENT_NAMES) + 1


def test_unquoted_yes_no_stay_words(tmp_path: Path) -> None:
    text = BASE.replace('"yes": ["yes"]', "yes: [yes, on]").replace('"no": ["no"]', "no: [no, off]")
    cat = load_catalogue(write(tmp_path, text))
    assert cat.examples("yes") == ["yes", "on"] and cat.examples("no") == ["no", "off"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t + "  dance: [dance]\n", "intents.dance: unknown intent"),
        (lambda t: t.replace("  pain: [pain]\n", ""), "intents: no templates for pain"),
        (hold("['hold {secs}']"), r"intents.hold\[0\]: undefined slot list"),
        (hold("['hold (for']"), r"intents.hold\[0\]: .*not closed"),
        (hold("['hold 20']"), r"intents.hold\[0\]: bad word"),
        (hold("[]"), "intents.hold: must be a list"),
        (hold("[7]"), r"intents.hold\[0\]: template must be text"),
        (hold("[next]"), r"intents.hold\[0\]: 'next' also means next"),
        (lambda t: t.replace("{ten: 10}", "{ten: -3}"), "slots.seconds.ten: seconds must be a positive"),
        (lambda t: t.replace("slots:", "slots:\n  technique: {feet: feet}"), "slots.technique.feet: unknown"),
        (lambda t: t.replace("slots:", "slots:\n  empty: {}"), "slots.empty: must map"),
        (
            lambda t: hold("['use {bare:technique}']")(t.replace("slots:", "slots:\n  bare: {feet: feet}")),
            r"intents.hold\[0\]: 'use feet': unknown technique 'feet'",
        ),
        (lambda t: t.replace("slots:", "intent:\n  next: [next]\nslots:"), "intent: unknown key"),
        (lambda t: t + "fillers: uh\n", "fillers: must be a list"),
        (lambda t: t + "spellings: [ok]\n", "spellings: must map"),
        (lambda t: t.replace("intents:", "intents: [\n"), "line [0-9]+: broken YAML"),
        (hold("\n    - [for] hold"), "line [0-9]+: broken YAML.*quotes"),
        (lambda t: "- just a list\n", "must be a mapping"),
        (lambda t: "slots: {}\n", "intents: missing"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path: Path, change: Callable[[str], str], expected: str) -> None:
    path = write(tmp_path, change(BASE))
    with pytest.raises(ConfigError, match=expected) as info:
        load_catalogue(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_missing_file_and_language(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_catalogue(tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match="no phrase file for language 'zz'"):
        load_catalogue(language="zz")


def test_too_many_phrases(tmp_path: Path) -> None:
    numbers = ", ".join(f"{'z' * (i + 1)}: {i + 1}" for i in range(80))
    text = BASE.replace("{ten: 10}", "{" + numbers + "}").replace(
        "  hold: [hold]", "  hold: ['hold [a|b|c] [d|e|f] {seconds} [g|h|i] [j|k|l] seconds']"
    )
    with pytest.raises(ConfigError, match=f"more than {MAX_PHRASES}"):
        load_catalogue(write(tmp_path, text))
