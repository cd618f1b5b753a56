"""massage-coach's skill: the pure session state machine (``skill.session.Session``), the routine loaded
from YAML (``skill.routine.load_routine``) and the shell in ``skill.app``.

Nothing in ``skill/*.py`` does I/O beyond reading the routine file, imports an audio library or reads the
real clock (``skill.clock.MonotonicClock`` is handed in by the app).
"""
