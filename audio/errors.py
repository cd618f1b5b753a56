"""Errors of the audio package; each message fits on one line and names the file or device at fault."""

from __future__ import annotations

from intents.errors import CoachError


class AudioError(CoachError):
    """Base of the audio errors."""

    exit_code = 3


class AudioFormatError(AudioError):
    """A file that is not a readable WAV: empty, truncated, not audio, or an unsupported encoding."""


class ModelError(AudioError):
    """A speech model that is missing, incomplete, corrupt or cannot be downloaded."""

    exit_code = 4


class DeviceError(AudioError):
    """A microphone or audio device that cannot be opened or read."""

    exit_code = 5


class SpeakerError(AudioError):
    """A speech-output engine that cannot be started or fails while speaking."""

    exit_code = 6
