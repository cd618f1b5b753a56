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


def test_can_type_tells_a_service_from_a_pipe(tmp_path) -> None:
    import io
    import os

    from skill.app.textmode import can_type

    with open(os.devnull) as null:
        assert not can_type(null)
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd) as pipe, os.fdopen(write_fd, "w"):
        assert can_type(pipe)
    typed = tmp_path / "commands.txt"
    typed.write_text("stop\n")
    with typed.open() as file:
        assert can_type(file)
    assert can_type(io.StringIO("stop\n"))
    closed = io.StringIO()
    closed.close()
    assert not can_type(closed)
    assert not can_type(None)


def test_no_microphone_and_no_keyboard_is_an_error_so_a_service_retries(tmp_path) -> None:
    import os
    import subprocess
    import sys

    with open(os.devnull) as null:
        proc = subprocess.run([sys.executable, "-m", "skill", "session", "--speech", "print", "--journal",
                               str(tmp_path), "--device", "no-such-mic-xyz"], stdin=null, capture_output=True,
                              text=True, timeout=120, check=False)
    assert proc.returncode == 5, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("massage-coach: error:")]
    assert "no terminal to type commands in" in line
