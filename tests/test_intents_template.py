"""The phrase-template language: alternatives, optional parts, slot lists, errors."""

from __future__ import annotations

import pytest

from intents.template import TemplateError, expand, parse, slot_names

SLOTS = {"seconds": {"ten": 10, "twenty five": 25}, "technique": {"palms": "palms", "knuckles": "fists"}}


def texts(template: str) -> list[str]:
    return [" ".join(words) for words, _ in expand(template, SLOTS)]


def test_plain_words() -> None:
    assert texts("next stroke") == ["next stroke"]


def test_alternatives_in_order() -> None:
    assert texts("(next|next stroke|okay next one)") == ["next", "next stroke", "okay next one"]


def test_optional_left_out_first() -> None:
    assert texts("next [please]") == ["next", "next please"]
    assert texts("use [my|the] fists") == ["use fists", "use my fists", "use the fists"]


def test_nesting() -> None:
    assert texts("(go back [one]|back)") == ["go back", "go back one", "back"]


def test_slots_carry_values() -> None:
    got = expand("hold [for] {seconds} seconds", SLOTS)
    assert got[0] == (("hold", "ten", "seconds"), {"seconds": 10})
    assert (("hold", "for", "twenty", "five", "seconds"), {"seconds": 25}) in got
    assert len(got) == 4


def test_slot_value_differs_from_spoken() -> None:
    assert (("use", "knuckles"), {"technique": "fists"}) in expand("use {technique}", SLOTS)


def test_list_into_other_slot() -> None:
    got = expand("{short:technique}", SLOTS | {"short": {"palms": "palms"}})
    assert got == [(("palms",), {"technique": "palms"})]
    assert slot_names(parse("{short:technique}")) == ["short"]


def test_uppercase_is_lowered_and_duplicates_dropped() -> None:
    assert texts("(Next|next)") == ["next"]


def test_slot_names() -> None:
    assert slot_names(parse("hold [for {seconds} seconds] with {technique}")) == ["seconds", "technique"]


@pytest.mark.parametrize(
    "template",
    ["", "   ", "(next|stroke", "next]", "[please", "{seconds", "{}", "{bad name}", "{a:}", "{:b}", "{a:b:c}",
     "next 20", "hello!", "(next||stroke)", "()"],
)  # fmt: skip
def test_malformed_templates_raise(template: str) -> None:
    with pytest.raises(TemplateError):
        expand(template, SLOTS)


def test_undefined_slot_list() -> None:
    with pytest.raises(TemplateError, match="undefined slot list"):
        expand("hold {minutes}", SLOTS)


def test_same_words_two_meanings_in_one_template() -> None:
    with pytest.raises(TemplateError, match="two meanings"):
        expand("({a}|{b})", {"a": {"x": 1}, "b": {"x": 2}})
