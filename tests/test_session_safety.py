"""Safety paths: the safety check, declining, the warning signs, and repeated pain reports."""

from __future__ import annotations

import pytest

from skill.actions import EndSession
from tests.skill_fixtures import drive, ended, make, routine, said, say, says


def test_begin_greets_and_asks_the_first_safety_question() -> None:
    session, _, events = make()
    actions = session.begin()
    assert routine().safety[0].ask in said(actions)
    assert session.state == "safety"
    assert events[0].kind == "session_started"


@pytest.mark.parametrize("question", range(len(routine().safety)))
def test_yes_to_any_safety_question_means_no_massage(question: int) -> None:
    session, _, _ = make()
    session.begin()
    for _ in range(question):
        say(session, "no")
    actions = say(session, "yes")
    text = said(actions)
    assert session.state == "declined"
    assert "don't start" in text
    assert "doctor" in text and "therapist" in text
    assert "warning signs" in text  # offered
    assert says(actions)[0].urgent
    # the massage cannot be started from here
    assert said(say(session, "start"))
    assert session.state == "declined" and session.step_id is None


def test_declined_then_yes_reads_the_warning_signs_and_ends() -> None:
    session, _, events = drive("declined")
    actions = say(session, "yes")
    text = said(actions)
    assert all(sign in text for sign in routine().warning_signs)
    assert isinstance(actions[-1], EndSession)
    assert session.finished
    assert any(e.kind == "warning_signs" for e in events)


def test_declined_then_no_ends_without_the_list() -> None:
    session, _, _ = drive("declined")
    actions = say(session, "no")
    assert ended(actions)
    assert routine().warning_signs[0] not in said(actions)


def test_all_no_reads_the_checklist_then_waits_for_start() -> None:
    session, _, _ = make()
    session.begin()
    for _ in routine().safety[:-1]:
        say(session, "no")
    text = said(say(session, "no"))
    for item in routine().prep_items:
        assert item.text in text
    assert session.state == "ready"
    assert said(say(session, "next"))  # next works like start
    assert session.state == "step" and session.step_id == routine().steps[0].id


def test_anything_but_yes_or_no_during_the_safety_check_repeats_the_question() -> None:
    session, _, _ = make()
    session.begin()
    text = said(say(session, "hold"))
    assert routine().safety[0].ask in text
    assert session.state == "safety"


def test_one_pain_report_eases_off_and_continues() -> None:
    session, _, events = drive("step")
    actions = say(session, "pain")
    assert says(actions)[0].urgent
    assert "ease off" in said(actions)
    assert routine().warning_signs[0] not in said(actions)
    assert session.state == "step"
    assert events[-1].kind == "pain" and events[-1].data["repeated"] is False


def test_second_pain_report_soon_reads_warning_signs_and_offers_to_end() -> None:
    session, clock, events = drive("step")
    say(session, "pain")
    clock.advance(routine().settings.pain_repeat_window_s - 1)
    actions = say(session, "pain")
    text = said(actions)
    assert all(sign in text for sign in routine().warning_signs)
    assert "end the session" in text
    assert session.state == "confirm_end"
    assert [e.kind for e in events[-2:]] == ["pain", "warning_signs"]
    final = say(session, "yes")
    assert isinstance(final[-1], EndSession)
    assert "2 pain reports" in final[-1].summary


def test_second_pain_then_no_continues_where_we_were() -> None:
    session, clock, _ = drive("hold")
    step = session.step_id
    say(session, "pain")
    clock.advance(3)
    say(session, "pain")
    actions = say(session, "no")
    assert "gently" in said(actions)
    assert session.state == "step" and session.step_id == step


def test_pain_reports_far_apart_do_not_escalate() -> None:
    session, clock, _ = drive("step")
    say(session, "pain")
    clock.advance(routine().settings.pain_repeat_window_s + 1)
    say(session, "pain")
    assert session.state == "step"


def test_pain_after_the_end_still_answers() -> None:
    session, _, _ = drive("finished")
    actions = say(session, "pain")
    assert says(actions)[0].urgent and "ease off" in said(actions)
