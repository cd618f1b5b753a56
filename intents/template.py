"""The phrase-template language of ``intents/data/<language>.yaml`` and its expansion into phrases.

A template is a line of lower-case words with four kinds of marks, written for people who do not
program (it is close to the template syntax of the hassil/Home Assistant intent files):

- ``(next|next stroke|next one)`` — exactly one of the alternatives; an alternative may be several words;
- ``[please]`` — an optional part; ``[my|the]`` — optionally one of the alternatives;
- ``{technique}`` — one spoken value of the slot list ``technique`` defined under ``slots:`` in the same
  file; the phrase then carries that slot with the list's value (``fists`` for "knuckles");
  ``{bare_technique:technique}`` takes the values of the list ``bare_technique`` into the slot ``technique``
  (as in hassil), so one slot can have a shorter list where a longer one would be risky;
- marks nest: ``(hold|keep it) [for] {seconds} [seconds]``.

Expansion order is deterministic: optional parts are first left out, alternatives and slot values are
taken in the order written. The first expansion of a template is therefore its shortest, simplest form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

SlotValue = str | int
Expansion = tuple[tuple[str, ...], dict[str, SlotValue]]

_TOKEN = re.compile(r"\s*(?:([()\[\]{}|])|([^\s()\[\]{}|]+))")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_SLOT_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class TemplateError(ValueError):
    """A template that cannot be parsed; the message says what is wrong in a few words."""


@dataclass(frozen=True)
class _Word:
    text: str


@dataclass(frozen=True)
class _Slot:
    name: str  # the slot list
    slot: str  # the slot it fills


@dataclass(frozen=True)
class _Alternatives:
    options: tuple[tuple[object, ...], ...]
    optional: bool


def _tokenize(template: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = template.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:  # pragma: no cover - the regex always advances on non-space text
            raise TemplateError(f"cannot read the text at {text[pos:]!r}")
        tokens.append(m.group(1) or m.group(2))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def sequence(self, closers: str) -> tuple[object, ...]:
        items: list[object] = []
        while (tok := self.peek()) is not None and tok not in closers:
            items.append(self.item())
        return tuple(items)

    def item(self) -> object:
        tok = self.take()
        if tok in "([":
            closer = ")" if tok == "(" else "]"
            options = [self.sequence("|" + ")]")]
            while self.peek() == "|":
                self.take()
                options.append(self.sequence("|" + ")]"))
            end = self.peek()
            if end != closer:
                raise TemplateError(f"'{tok}' is not closed by '{closer}'")
            self.take()
            if any(not opt for opt in options):
                raise TemplateError(f"empty alternative inside '{tok}{closer}' (use [..] for optional words)")
            return _Alternatives(tuple(options), optional=tok == "[")
        if tok == "{":
            name = self.take() if self.peek() not in (None, "}") else ""
            if self.peek() != "}":
                raise TemplateError("'{' is not closed by '}'")
            self.take()
            list_name, colon, slot = name.partition(":")
            slot = slot if colon else list_name
            if not _SLOT_NAME.fullmatch(list_name) or not _SLOT_NAME.fullmatch(slot):
                raise TemplateError(f"bad slot name {{{name}}}")
            return _Slot(list_name, slot)
        if tok in ")]}|":
            raise TemplateError(f"unexpected '{tok}'")
        word = tok.lower()
        if not _WORD.fullmatch(word):
            raise TemplateError(f"bad word {tok!r} (only letters, written out: 'twenty', not '20')")
        return _Word(word)


def parse(template: str) -> tuple[object, ...]:
    """Parse one template into a small tree; raise ``TemplateError`` when it is malformed."""
    if not isinstance(template, str) or not template.strip():
        raise TemplateError("empty template")
    parser = _Parser(_tokenize(template))
    tree = parser.sequence("")
    if parser.peek() is not None:  # pragma: no cover - sequence("") consumes everything or raises
        raise TemplateError(f"unexpected '{parser.peek()}'")
    return tree


def slot_names(tree: tuple[object, ...]) -> list[str]:
    """The slot lists a parsed template refers to (not the slots they fill), in order of appearance."""
    names: list[str] = []
    for item in tree:
        if isinstance(item, _Slot):
            names.append(item.name)
        elif isinstance(item, _Alternatives):
            for option in item.options:
                names.extend(slot_names(option))
    return names


def _expand_seq(
    seq: tuple[object, ...], slots: Mapping[str, Mapping[str, SlotValue]]
) -> list[Expansion]:
    results: list[Expansion] = [((), {})]
    for item in seq:
        parts = _expand_item(item, slots)
        combined: list[Expansion] = []
        for words, values in results:
            for more_words, more_values in parts:
                if set(values) & set(more_values):
                    raise TemplateError(f"slot {{{next(iter(set(values) & set(more_values)))}}} used twice")
                combined.append((words + more_words, {**values, **more_values}))
        results = combined
    return results


def _expand_item(item: object, slots: Mapping[str, Mapping[str, SlotValue]]) -> list[Expansion]:
    if isinstance(item, _Word):
        return [((item.text,), {})]
    if isinstance(item, _Slot):
        if item.name not in slots:
            raise TemplateError(f"undefined slot list {{{item.name}}}")
        return [(tuple(spoken.split()), {item.slot: value}) for spoken, value in slots[item.name].items()]
    assert isinstance(item, _Alternatives)
    out: list[Expansion] = [((), {})] if item.optional else []
    for option in item.options:
        out.extend(_expand_seq(option, slots))
    return out


def expand(template: str, slots: Mapping[str, Mapping[str, SlotValue]]) -> list[Expansion]:
    """Every (words, slot values) a template stands for, in deterministic order, without duplicates.

    ``slots`` maps a slot-list name to its spoken values (``"twenty five"``) and their slot values (25).
    Raises ``TemplateError`` for a malformed template or an undefined slot list.
    """
    seen: dict[tuple[str, ...], dict[str, SlotValue]] = {}
    out: list[Expansion] = []
    for words, values in _expand_seq(parse(template), slots):
        if not words:
            continue
        if words in seen:
            if seen[words] != values:
                raise TemplateError(f"'{' '.join(words)}' has two meanings: {seen[words]} and {values}")
            continue
        seen[words] = values
        out.append((words, values))
    return out
