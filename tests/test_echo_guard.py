"""EchoGuard: table tests of what may pass while the coach speaks, in its tail, and after."""

from __future__ import annotations

import pytest

from audio.echo_guard import EchoGuard, contains_run, normalize_words

SAYING = "Tell me to stop whenever it hurts, or say pause."

# (intent, heard text, time, allowed?) with speech from t=10 to t=20 and tail 0.3 s.
CASES = [
    # before any speech: everything passes
    ("next", "next", 5.0, True),
    # during speech: the coach's own words never count, even barge-in ones
    ("stop", "stop", 12.0, False),
    ("pain", "it hurts", 12.0, False),
    ("pause", "pause", 12.0, False),
    ("pain", "whenever it hurts", 12.0, False),
    ("stop", "STOP!", 12.0, False),
    # barge-in words that are not a run of the spoken text pass
    ("stop", "stop stop", 12.0, True),
    ("pain", "ouch that hurts", 12.0, True),
    ("pause", "wait pause", 12.0, True),
    ("stop", "stop now", 12.0, True),
    # any other intent during speech is rejected, whatever the words
    ("next", "next", 12.0, False),
    ("slower", "slower please", 12.0, False),
    ("status", "where are we", 12.0, False),
    # an empty heard text cannot be checked: rejected
    ("stop", "", 12.0, False),
    # in the tail the same rules hold
    ("next", "next", 20.2, False),
    ("stop", "stop", 20.25, False),
    ("stop", "stop now", 20.25, True),
    # after the tail everything passes again, the coach's words included
    ("stop", "stop", 20.4, True),
    ("next", "next", 21.0, True),
    ("pain", "it hurts", 25.0, True),
]


@pytest.mark.parametrize(("intent", "heard", "at", "allowed"), CASES)
def test_allow_table(intent: str, heard: str, at: float, allowed: bool) -> None:
    guard = EchoGuard(tail_s=0.3)
    if at >= 10.0:
        guard.speech_started(SAYING, 10.0)
    if at >= 20.0:
        guard.speech_ended(20.0)
    assert guard.allow(intent, heard, at) is allowed


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Tell me to STOP, whenever it hurts!", ("tell", "me", "to", "stop", "whenever", "it", "hurts")),
        ("it's fine", ("its", "fine")),
        ("lower-back", ("lower", "back")),
        ("  ", ()),
    ],
)
def test_normalize_words(text: str, words: tuple[str, ...]) -> None:
    assert normalize_words(text) == words


@pytest.mark.parametrize(
    ("hay", "needle", "found"),
    [
        ("a b c d", "b c", True),
        ("a b c d", "a", True),
        ("a b c d", "c d", True),
        ("a b c d", "b d", False),
        ("a b c d", "d c", False),
        ("a b", "a b c", False),
        ("a b", "", False),
        ("stopping now", "stop", False),
    ],
)
def test_contains_run(hay: str, needle: str, found: bool) -> None:
    assert contains_run(tuple(hay.split()), tuple(needle.split())) is found


def test_texts_of_one_window_accumulate_and_reset_after_tail() -> None:
    guard = EchoGuard(tail_s=0.3)
    guard.speech_started("Press gently.", 0.0)
    guard.speech_ended(1.0)
    guard.speech_started("Say stop when you want to stop.", 1.1)  # inside the tail: same window
    assert guard.spoken_texts == ["press gently", "say stop when you want to stop"]
    assert not guard.allow("stop", "stop", 1.5)
    guard.speech_ended(3.0)
    guard.speech_started("Now the shoulders.", 10.0)  # a new window forgets the old texts
    assert guard.spoken_texts == ["now the shoulders"]
    assert guard.allow("stop", "stop", 10.5)


def test_custom_barge_in_and_tail() -> None:
    guard = EchoGuard(tail_s=1.0, barge_in=frozenset({"stop"}))
    guard.speech_started("Breathe slowly.", 0.0)
    assert not guard.allow("pain", "it hurts", 0.5)
    assert guard.allow("stop", "stop", 0.5)
    guard.speech_ended(2.0)
    assert guard.guarding(2.9)
    assert not guard.allow("next", "next", 2.9)
    assert guard.allow("next", "next", 3.1)


def test_a_phrase_that_began_during_speech_is_judged_by_its_start() -> None:
    guard = EchoGuard(tail_s=0.3)
    guard.speech_started("Tell me to stop whenever it hurts.", 0.0)
    guard.speech_ended(2.0)
    # the recognizer committed "it hurts" 0.6 s after the coach ended: late, but it was the coach's audio
    assert guard.allow("pain", "it hurts", 2.6)
    assert not guard.allow("pain", "it hurts", 2.6, heard_from=1.8)
    assert guard.allow("pain", "it hurts", 2.6, heard_from=2.4)
