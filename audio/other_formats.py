"""AIFF, AIFF-C and FLAC files, read through SpeechRecognition's ``AudioFile``.

WAV files go through our own RIFF reader (``audio.wav``), which knows float and extensible WAVs that
Python's ``wave`` module (and so ``sr.AudioFile``) rejects; for the other containers SpeechRecognition
already does the work: ``aifc`` for AIFF and its bundled (or the system's) ``flac`` binary for FLAC.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from audio.errors import AudioFormatError

MAGIC: dict[bytes, str] = {b"FORM": "AIFF", b"fLaC": "FLAC"}
"""First four bytes of a file -> the container this module reads."""


def container_of(head: bytes) -> str | None:
    """The container name (``AIFF``/``FLAC``) when ``head`` starts one this module reads, else None."""
    return MAGIC.get(head[:4])


def read_other(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode an AIFF or FLAC file to mono int16 samples at the file's own rate: ``(samples, rate)``."""
    import speech_recognition as sr  # lazily: only these rarer files need it

    try:
        with sr.AudioFile(str(path)) as source:
            audio = sr.Recognizer().record(source)
        raw = audio.get_raw_data(convert_width=2)
    except Exception as exc:  # a third-party decoder on untrusted bytes: any failure means "not audio"
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioFormatError(f"cannot read audio file {path}: {why}") from None
    samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if samples.size == 0:
        raise AudioFormatError(f"cannot read audio file {path}: no audio samples")
    return samples, int(audio.sample_rate)
