"""Typed lines as the typed-command mode sees them: folded, cleaned, cut short when echoed."""

from __future__ import annotations

import pytest

from skill.app.textmode import ECHO_MAX, normalize_typed, printable


@pytest.mark.parametrize(("line", "expected"), [
    ("Next stroke!", "next stroke"),
    ("ｓｔａｒｔ", "start"),           # full-width letters fold to plain ones
    ("  What's   NEXT? ", "what's next"),
    ("☃", ""),
    ("\x1b[31mstop\x1b[0m", "31mstop 0m"),
])
def test_normalize_typed(line: str, expected: str) -> None:
    assert normalize_typed(line) == expected


def test_printable_removes_control_characters_and_cuts_long_lines() -> None:
    assert printable("\x1b[2Jnext\x07 stroke\r\n") == "[2Jnext stroke"
    long = printable("a" * 3_000_000)
    assert len(long) == ECHO_MAX and long.endswith("...")
    assert printable("\x00\x01\x02") == ""


def test_a_line_of_only_symbols_is_answered_as_not_understood(tmp_path) -> None:
    import io

    from skill.app.cli import main

    stdin = io.TextIOWrapper(io.BytesIO("start\n☃\nstop\n".encode()), encoding="utf-8")
    out = io.StringIO()
    import sys

    old_in, old_out = sys.stdin, sys.stdout
    sys.stdin, sys.stdout = stdin, out
    try:
        code = main(["session", "--text", "--speech", "print", "--journal", str(tmp_path)])
    finally:
        sys.stdin, sys.stdout = old_in, old_out
    text = out.getvalue()
    assert code == 0
    assert "you: ☃" in text
    after_snowman = text.split("you: ☃", 1)[1].split("you: stop", 1)[0]
    assert "Sorry" in after_snowman, "the symbol line got no not-understood answer"
    assert "Stopping here" in text or "In total" in text
