"""The small error hierarchy shared by every package of massage-coach.

Only what really is an error lives here: speech that was not understood is a value (``None`` from the
matcher), never an exception. Every ``CoachError`` carries a message fit for one line on stderr.
"""

from __future__ import annotations


class CoachError(Exception):
    """Base of every error massage-coach reports to the user as one clear line and an exit code."""

    exit_code = 1


class ConfigError(CoachError):
    """A data, routine, phrase or settings file that is missing, malformed or has a bad value."""

    exit_code = 2
