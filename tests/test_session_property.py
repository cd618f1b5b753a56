"""Property test: any sequence of intents and clock ticks never raises and always gets a reply."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intents.types import INTENT_NAMES, TECHNIQUES, Intent
from skill.actions import EndSession, Say, StartTimer
from skill.dialog import STATES
from skill.events import EVENT_KINDS
from tests.skill_fixtures import make, routine

slot_values = st.one_of(st.integers(-100, 200), st.sampled_from(TECHNIQUES), st.text(max_size=8), st.none())
intents = st.one_of(
    st.builds(lambda n, s: Intent(n, s), st.sampled_from(INTENT_NAMES),
              st.dictionaries(st.sampled_from(["seconds", "technique", "other"]), slot_values, max_size=2)),
    st.builds(lambda n: Intent(n, {"technique": n}), st.just("technique")),
    st.builds(Intent.unknown, st.text(max_size=10)),
    st.builds(lambda n: Intent(n), st.sampled_from(["bogus", "", "UNKNOWN"])),
)
steps = st.lists(st.one_of(intents, st.floats(0, 200, allow_nan=False)), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.booleans())
def test_any_sequence_never_raises_and_always_replies(sequence: list, auto_advance: bool) -> None:
    session, clock, events = make(auto_advance=auto_advance)
    session.begin()
    signs = routine().warning_signs
    ended = False
    for item in sequence:
        if isinstance(item, float):
            clock.advance(item)
            actions = session.tick()
        else:
            before = session.state
            actions = session.handle(item)
            spoken = [a for a in actions if isinstance(a, Say)]
            assert len(spoken) == 1 and spoken[0].text
            if item.name in ("unknown", "bogus", "", "UNKNOWN"):
                assert session.state == before
            if item.name == "warning_signs":
                assert all(sign in spoken[0].text for sign in signs)
                assert spoken[0].urgent
        assert session.state in STATES
        assert all(a.seconds >= 0 for a in actions if isinstance(a, StartTimer))
        if any(isinstance(a, EndSession) for a in actions):
            assert not ended, "a session ends only once"
            assert isinstance(actions[-1], EndSession)
            ended = True
        assert ended == session.finished
    json.dumps(session.snapshot())
    for event in events:
        json.dumps(event.data)
        assert event.kind in EVENT_KINDS
