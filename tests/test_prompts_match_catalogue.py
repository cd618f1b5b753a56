"""Whatever the coach tells the user to say is a command the matcher understands."""

from __future__ import annotations

import re

from intents.catalogue import load_catalogue
from intents.matcher import Matcher
from skill.routine import default_path

SAY = re.compile(r"\b[Ss]ay(?:: (?=[A-Za-z])| \"?)([a-zA-Z ]+?)\"?"
                 r"(?:[.,!?]| when| whenever| to| for| if| and| or|\"|$)")
"""A suggestion in a reply: ``say next``, ``say: I found a knot``; not the YAML key ``say: "...``."""


def test_every_phrase_the_coach_suggests_is_understood() -> None:
    matcher = Matcher(load_catalogue())
    text = default_path("en").read_text(encoding="utf-8")
    suggested = [m.group(1).strip() for m in SAY.finditer(text)]
    assert len(suggested) >= 10 and "I found a knot" in suggested
    not_understood = [p for p in suggested if matcher.match(p) is None]
    assert not_understood == []
