"""The intent catalogue: phrase templates from ``intents/data/<language>.yaml``, expanded and validated.

One data file drives three things that must never disagree: the closed phrase list the recognizer
listens for (``Catalogue.grammar()``), the matcher (``intents.matcher.Matcher``) and the examples the
coach reads out for ``help`` (``Catalogue.examples`` / ``Catalogue.help_examples``).
The template syntax is described in ``intents/template.py`` and at the top of ``data/en.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from intents.errors import ConfigError
from intents.template import SlotValue, TemplateError, expand
from intents.types import INTENT_NAMES, TECHNIQUES

DATA_DIR = Path(__file__).resolve().parent / "data"
"""Where the per-language phrase files live (``en.yaml``, ...)."""

UNK = "[unk]"
"""The grammar entry that lets Vosk say "something else was said"."""

MAX_PHRASES = 5000
"""A phrase file expanding to more phrases than this is refused: decoding would get slow."""

_TOP_KEYS = {"language", "fillers", "spellings", "slots", "intents"}
_BOOL_TAG = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """A safe YAML loader where yes/no/on/off stay words (only true/false are booleans)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class Phrase:
    """One complete phrase of the closed grammar and what it means."""

    text: str
    intent: str
    slots: Mapping[str, SlotValue] = field(default_factory=dict)


class Catalogue:
    """Every phrase of one language with its intent and slots; built by ``load_catalogue``."""

    def __init__(
        self,
        phrases: list[Phrase],
        examples: Mapping[str, list[str]],
        *,
        language: str = "en",
        source: Path | None = None,
        fillers: Iterable[str] = (),
        spellings: Mapping[str, tuple[str, ...]] | None = None,
        slot_lists: Mapping[str, Mapping[str, SlotValue]] | None = None,
    ) -> None:
        """Build from already validated parts (use ``load_catalogue`` to read a file)."""
        self.phrases: list[Phrase] = list(phrases)
        self.language = language
        self.source = source
        self.fillers: frozenset[str] = frozenset(fillers)
        self.spellings: dict[str, tuple[str, ...]] = dict(spellings or {})
        self.slot_lists: dict[str, dict[str, SlotValue]] = {k: dict(v) for k, v in (slot_lists or {}).items()}
        self._examples = {name: list(items) for name, items in examples.items()}
        self.intent_names: tuple[str, ...] = tuple(n for n in INTENT_NAMES if n in self._examples) + tuple(
            n for n in self._examples if n not in INTENT_NAMES
        )

    def grammar(self) -> list[str]:
        """The closed phrase list for the recognizer: every phrase once, in file order, then ``"[unk]"``."""
        seen: dict[str, None] = {}
        for phrase in self.phrases:
            seen.setdefault(phrase.text, None)
        return [*seen, UNK]

    def examples(self, intent: str) -> list[str]:
        """Ways to say ``intent``: the simplest form of each of its templates; the first is the canonical one.

        Raises ``KeyError`` for a name that is not in the catalogue.
        """
        if intent not in self._examples:
            raise KeyError(f"no intent {intent!r} in the {self.language} catalogue")
        return list(self._examples[intent])

    def help_examples(self) -> dict[str, str]:
        """Intent name -> its canonical phrase, for the coach's ``help`` (the Session takes this)."""
        return {name: self._examples[name][0] for name in self.intent_names}

    def words(self) -> set[str]:
        """Every word the grammar uses (without ``[unk]``)."""
        return {word for phrase in self.phrases for word in phrase.text.split()}

    def unknown_words(self, vocabulary: Iterable[str]) -> list[str]:
        """The grammar's words missing from a model's vocabulary, sorted; empty when all are known.

        The recognizer cannot hear such a word (Vosk drops it from a grammar with only a log warning),
        so the app reports this list at start-up.
        """
        vocab = vocabulary if isinstance(vocabulary, (set, frozenset)) else set(vocabulary)
        return sorted(w for w in self.words() if w not in vocab)

    def __repr__(self) -> str:
        return f"Catalogue({self.language!r}, {len(self.phrases)} phrases, {len(self.intent_names)} intents)"


def _fail(path: Path, key: str, message: str) -> ConfigError:
    text = f"{path}: {key}: {message}" if key else f"{path}: {message}"
    return ConfigError(" ".join(text.split()))


def _read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fail(path, "", "phrase file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, "", f"cannot read the phrase file ({exc})") from None
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "YAML"
        problem = getattr(exc, "problem", None) or str(exc)
        hint = " (put a template that starts with [ or { in quotes)" if mark is not None else ""
        raise _fail(path, where, f"broken YAML: {problem}{hint}") from None


def _word_list(path: Path, key: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, key, "must be a list of words")
    return [v.strip().lower() for v in value]


def _spellings(path: Path, value: object) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, "spellings", "must map a written word to the words to match instead")
    out: dict[str, tuple[str, ...]] = {}
    for written, instead in value.items():
        if not isinstance(written, str) or not isinstance(instead, str) or not instead.split():
            raise _fail(path, f"spellings.{written}", "must map one word to one or more words")
        out[written.strip().lower()] = tuple(instead.lower().split())
    return out


def _slot_lists(path: Path, value: object) -> dict[str, dict[str, SlotValue]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, "slots", "must map a slot list name to its spoken values")
    lists: dict[str, dict[str, SlotValue]] = {}
    for name, values in value.items():
        key = f"slots.{name}"
        if not isinstance(name, str) or not isinstance(values, dict) or not values:
            raise _fail(path, key, "must map spoken words to slot values (spoken: value)")
        entries: dict[str, SlotValue] = {}
        for spoken, slot_value in values.items():
            spoken_words = " ".join(str(spoken).lower().split())
            if not spoken_words or isinstance(slot_value, bool) or not isinstance(slot_value, (str, int)):
                raise _fail(path, f"{key}.{spoken}", "needs spoken words and a text or whole-number value")
            if name == "technique" and slot_value not in TECHNIQUES:
                known = ", ".join(TECHNIQUES)
                raise _fail(path, f"{key}.{spoken}", f"unknown technique {slot_value!r} (known: {known})")
            if name == "seconds" and (not isinstance(slot_value, int) or slot_value <= 0):
                raise _fail(path, f"{key}.{spoken}", "seconds must be a positive whole number")
            entries[spoken_words] = slot_value
        lists[name] = entries
    return lists


def _slot_problem(slots: Mapping[str, SlotValue]) -> str | None:
    """What is wrong with a phrase's slot values for the skill, or None."""
    technique = slots.get("technique")
    if technique is not None and technique not in TECHNIQUES:
        return f"unknown technique {technique!r} (known: {', '.join(TECHNIQUES)})"
    seconds = slots.get("seconds")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0):
        return f"seconds must be a positive whole number, not {seconds!r}"
    return None


def _build(
    path: Path, intents: object, slot_lists: Mapping[str, Mapping[str, SlotValue]]
) -> tuple[list[Phrase], dict[str, list[str]]]:
    if not isinstance(intents, dict) or not intents:
        raise _fail(path, "intents", "missing: map each intent name to a list of templates")
    unknown = [str(n) for n in intents if n not in INTENT_NAMES]
    if unknown:
        raise _fail(path, f"intents.{unknown[0]}", f"unknown intent (known: {', '.join(INTENT_NAMES)})")
    missing = [n for n in INTENT_NAMES if n not in intents]
    if missing:
        raise _fail(path, "intents", f"no templates for {', '.join(missing)}")
    phrases: list[Phrase] = []
    examples: dict[str, list[str]] = {}
    owner: dict[str, tuple[str, Mapping[str, SlotValue], str]] = {}
    for name in INTENT_NAMES:
        templates = intents[name]
        if isinstance(templates, str):
            templates = [templates]
        if not isinstance(templates, list) or not templates:
            raise _fail(path, f"intents.{name}", "must be a list of templates")
        examples[name] = []
        for i, template in enumerate(templates):
            key = f"intents.{name}[{i}]"
            if not isinstance(template, str):
                raise _fail(path, key, f"template must be text, got {template!r} (put it in quotes)")
            try:
                expansions = expand(template, slot_lists)
            except TemplateError as exc:
                raise _fail(path, key, f"{exc} in {template!r}") from None
            for words, slots in expansions:
                text = " ".join(words)
                problem = _slot_problem(slots)
                if problem:
                    raise _fail(path, key, f"'{text}': {problem}")
                if text in owner:
                    other_name, other_slots, other_key = owner[text]
                    if (other_name, dict(other_slots)) != (name, slots):
                        other = f"{other_name} {dict(other_slots)} ({other_key})"
                        raise _fail(path, key, f"'{text}' also means {other}")
                    continue
                owner[text] = (name, slots, key)
                phrases.append(Phrase(text, name, slots))
            if expansions and " ".join(expansions[0][0]) not in examples[name]:
                examples[name].append(" ".join(expansions[0][0]))
    if len(phrases) > MAX_PHRASES:
        too_many = f"{len(phrases)} phrases, more than {MAX_PHRASES}: use fewer [optional] parts"
        raise _fail(path, "intents", too_many)
    return phrases, examples


def load_catalogue(path: Path | None = None, language: str = "en") -> Catalogue:
    """Read, expand and validate a phrase file (default: the packaged ``data/<language>.yaml``).

    Raises ``ConfigError`` (one line naming the file and the key) for a missing or broken file, an unknown
    intent, an intent without templates, a malformed template, an undefined slot list, a bad slot value or
    a phrase that would mean two different things.
    """
    if path is None:
        path = DATA_DIR / f"{language}.yaml"
        if not path.is_file():
            raise _fail(path, "", f"no phrase file for language {language!r}")
    path = Path(path)
    data = _read_yaml(path)
    if not isinstance(data, dict):
        raise _fail(path, "", "must be a mapping with 'slots' and 'intents'")
    extra = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if extra:
        raise _fail(path, extra[0], f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    file_language = data.get("language", language)
    if not isinstance(file_language, str):
        raise _fail(path, "language", "must be a language code such as en")
    fillers = _word_list(path, "fillers", data.get("fillers"))
    spellings = _spellings(path, data.get("spellings"))
    slot_lists = _slot_lists(path, data.get("slots"))
    phrases, examples = _build(path, data.get("intents"), slot_lists)
    return Catalogue(
        phrases,
        examples,
        language=file_language,
        source=path,
        fillers=fillers,
        spellings=spellings,
        slot_lists=slot_lists,
    )
