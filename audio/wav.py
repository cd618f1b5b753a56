"""WAV files in any common encoding -> 16 kHz mono int16, and a file/array ``AudioSource``.

Python's ``wave`` module only reads integer PCM, so this module parses the RIFF chunks itself:
integer PCM (8-bit unsigned, 16/24/32-bit signed), IEEE float (32/64-bit), ``WAVE_FORMAT_EXTENSIBLE``
wrapping either, any channel count (mixed down to mono) and any rate (resampled with soxr).
Anything else (empty, truncated, not audio, an unsupported codec) raises ``AudioFormatError``
with one line naming the file.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soxr

from audio.errors import AudioFormatError
from audio.other_formats import container_of, read_other
from audio.protocols import SAMPLE_RATE

PCM = 0x0001
IEEE_FLOAT = 0x0003
EXTENSIBLE = 0xFFFE
_UNKNOWN_SIZE = 0xFFFFFFFF
_STREAMED_SIZE = 0x7FFF0000
"""A data size this large is a placeholder from a writer that streamed to a pipe (espeak-ng: 0x7ffff000)."""
_BLOCK_BYTES = 1 << 20
"""At most this much sample data is read at a time when streaming a file."""


@dataclass(frozen=True)
class WavFormat:
    """What the ``fmt `` chunk of a WAV file says."""

    format_tag: int
    channels: int
    rate: int
    bits: int
    block_align: int


def _fail(path: str | Path, why: str) -> AudioFormatError:
    return AudioFormatError(f"cannot read audio file {path}: {why}")


def _parse_fmt(body: bytes, path: str | Path) -> WavFormat:
    if len(body) < 16:
        raise _fail(path, f"fmt chunk too short ({len(body)} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body, 0)
    if tag == EXTENSIBLE:
        if len(body) < 40:
            raise _fail(path, "WAVE_FORMAT_EXTENSIBLE fmt chunk too short")
        _cb, valid_bits, _mask = struct.unpack_from("<HHI", body, 16)
        tag = struct.unpack_from("<H", body, 24)[0]  # first two bytes of the sub-format GUID
        del valid_bits  # the container size (bits) decides how samples are stored
    if channels < 1:
        raise _fail(path, "no channels")
    if rate < 1:
        raise _fail(path, "sample rate is 0")
    if tag not in (PCM, IEEE_FLOAT):
        raise _fail(path, f"unsupported WAV encoding (format tag 0x{tag:04x}); use PCM or float")
    if (tag == PCM and bits not in (8, 16, 24, 32)) or (tag == IEEE_FLOAT and bits not in (32, 64)):
        kind = "integer" if tag == PCM else "float"
        raise _fail(path, f"unsupported sample size: {bits}-bit {kind}")
    expected_align = channels * bits // 8
    if block_align != expected_align:
        block_align = expected_align  # some writers get this field wrong; the sample size is what counts
    return WavFormat(tag, channels, rate, bits, block_align)


@dataclass(frozen=True)
class WavLayout:
    """Where a WAV file's samples are: its format, the offset and byte size of the usable sample data."""

    fmt: WavFormat
    data_start: int
    data_size: int

    @property
    def frames(self) -> int:
        """Sample frames in the file (at the file's own rate)."""
        return self.data_size // self.fmt.block_align


def parse_header(f: BinaryIO, total: int, path: str | Path = "<bytes>") -> WavLayout:
    """Walk the RIFF chunks of a WAV file opened as ``f`` (``total`` bytes long) up to its data chunk,
    reading only the headers (the sample data is not read). AudioFormatError naming ``path``."""
    if total == 0:
        raise _fail(path, "the file is empty")
    head = f.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        raise _fail(path, "not a WAV file (no RIFF/WAVE header)")
    rf64_data_size: int | None = None
    fmt: WavFormat | None = None
    pos = 12
    while pos + 8 <= total:
        f.seek(pos)
        chunk = f.read(8)
        cid, size = chunk[:4], struct.unpack_from("<I", chunk, 4)[0]
        body_start = pos + 8
        if cid == b"ds64" and total >= body_start + 16:
            rf64_data_size = struct.unpack("<Q", f.read(16)[8:16])[0]
        if cid == b"data":
            if fmt is None:
                raise _fail(path, "data chunk before fmt chunk")
            if size == _UNKNOWN_SIZE and rf64_data_size is not None:
                size = rf64_data_size
            available = total - body_start
            if size >= _STREAMED_SIZE:  # a streaming writer never went back to fill in the size
                size = available
            if size > available:
                raise _fail(path, f"truncated: data chunk declares {size} bytes, only {available} present")
            usable = size - size % fmt.block_align
            if usable == 0:
                raise _fail(path, "no audio samples")
            return WavLayout(fmt, body_start, usable)
        if body_start + size > total:
            raise _fail(path, f"truncated in the {cid.decode('latin-1')!r} chunk")
        if cid == b"fmt ":
            f.seek(body_start)
            fmt = _parse_fmt(f.read(min(size, 64)), path)
        pos = body_start + size + (size & 1)
    if fmt is None:
        raise _fail(path, "no fmt chunk (truncated header?)")
    raise _fail(path, "no data chunk (header only?)")


def parse_wav(data: bytes, path: str | Path = "<bytes>") -> tuple[WavFormat, bytes]:
    """Split the bytes of a WAV file into its format and its raw sample bytes (AudioFormatError)."""
    layout = parse_header(io.BytesIO(data), len(data), path)
    return layout.fmt, data[layout.data_start:layout.data_start + layout.data_size]


def decode_samples(fmt: WavFormat, raw: bytes) -> np.ndarray:
    """Raw sample bytes -> float32 array of shape (frames, channels), full scale at +-1."""
    if fmt.format_tag == IEEE_FLOAT:
        x = np.frombuffer(raw, dtype="<f4" if fmt.bits == 32 else "<f8").astype(np.float32)
        x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
    elif fmt.bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif fmt.bits == 16:
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif fmt.bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    else:
        x = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    return x.reshape(-1, fmt.channels)


def to_mono_16k(frames: np.ndarray, rate: int) -> np.ndarray:
    """float (frames[, channels]) at ``rate`` -> int16 mono at 16 kHz (mixdown, soxr resampling, clipping)."""
    x = np.asarray(frames, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if rate != SAMPLE_RATE and x.size:
        x = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ")
    return _to_int16(x)


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


class WavReader:
    """A WAV file opened for streaming: the header is parsed at once (AudioFormatError naming the file),
    the samples are read block by block by ``blocks()`` as 16 kHz mono int16, so memory stays bounded
    whatever the file's length. AIFF and FLAC files (``audio.other_formats``) are decoded whole.
    """

    def __init__(self, path: str | Path):
        self.path = path
        self.layout: WavLayout | None = None
        self._other: np.ndarray | None = None
        try:
            self._file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close() / the context manager
        except IsADirectoryError:
            raise _fail(path, "it is a folder") from None
        except OSError as exc:
            raise _fail(path, exc.strerror or str(exc)) from None
        try:
            st = os.fstat(self._file.fileno())
            if not stat.S_ISREG(st.st_mode):  # a pipe (/dev/stdin) cannot seek: read it whole, as before
                data = self._file.read()
                self._file.close()
                self._file = io.BytesIO(data)
            total = st.st_size if stat.S_ISREG(st.st_mode) else len(data)
            if container_of(self._file.read(4)):
                samples, rate = read_other(path)
                self._other = to_mono_16k(samples.astype(np.float32) / 32768.0, rate)
            else:
                self._file.seek(0)
                self.layout = parse_header(self._file, total, path)
        except OSError as exc:
            self.close()
            raise _fail(path, exc.strerror or str(exc)) from None
        except BaseException:
            self.close()
            raise

    @property
    def samples_16k(self) -> int:
        """How many 16 kHz samples ``blocks()`` gives (to a sample or two when resampling)."""
        if self._other is not None:
            return len(self._other)
        assert self.layout is not None
        return round(self.layout.frames * SAMPLE_RATE / self.layout.fmt.rate)

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield the audio as 16 kHz mono int16 blocks (about a second each; soxr resamples across blocks)."""
        if self._other is not None:
            for start in range(0, len(self._other), SAMPLE_RATE):
                yield self._other[start:start + SAMPLE_RATE]
            return
        assert self.layout is not None
        fmt, align = self.layout.fmt, self.layout.fmt.block_align
        # about a second of audio per block, at most 1 MB read, and never more than a second of output
        frames = max(1, min(_BLOCK_BYTES // align, fmt.rate))
        stream = None
        if fmt.rate != SAMPLE_RATE:
            stream = soxr.ResampleStream(fmt.rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        remaining = self.layout.data_size
        self._file.seek(self.layout.data_start)
        while remaining > 0:
            try:
                raw = self._file.read(min(remaining, frames * align))
            except OSError as exc:
                raise _fail(self.path, exc.strerror or str(exc)) from None
            if len(raw) < min(remaining, frames * align):
                raise _fail(self.path, "the file got shorter while it was read")
            remaining -= len(raw)
            x = decode_samples(fmt, raw)
            mono = x.mean(axis=1) if fmt.channels > 1 else x[:, 0]
            if stream is not None:
                mono = stream.resample_chunk(np.ascontiguousarray(mono, np.float32), last=remaining == 0)
            if mono.size:
                yield _to_int16(mono)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> WavReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_wav(path: str | Path) -> np.ndarray:
    """Read any PCM/float WAV file as 16 kHz mono int16 samples (AudioFormatError naming the file).

    AIFF and FLAC files are read too, through SpeechRecognition (``audio.other_formats``). The whole
    signal is returned in memory: for long files, stream with ``WavReader`` or ``WavSource`` instead.
    """
    with WavReader(path) as reader:
        blocks = list(reader.blocks())
    return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int16)


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write int16 samples (mono, or shape (frames, channels)) as a 16-bit PCM WAV file; returns the path."""
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        if np.issubdtype(arr.dtype, np.floating):
            arr = np.clip(np.round(arr * 32767.0), -32768, 32767)
        arr = arr.astype(np.int16)
    channels = 1 if arr.ndim == 1 else arr.shape[1]
    out = Path(path)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(arr.astype("<i2").tobytes())
    return out


class WavSource:
    """An ``AudioSource`` over a WAV file or an int16 16 kHz array, in chunks of ``chunk_ms``.

    A file is streamed (``WavReader``: its header is checked here, its samples are read as chunks are
    asked for), so a file of hours costs no more memory than one of seconds. Chunks come as fast as they are
    read (no real-time pacing); ``trailing_silence_s`` appends silence so an engine's endpointer sees the
    end of the last utterance, like a quiet room would.
    """

    def __init__(self, source: str | Path | np.ndarray, chunk_ms: int = 40, trailing_silence_s: float = 0.0):
        if not 10 <= chunk_ms <= 1000:
            raise ValueError(f"chunk_ms must be 10-1000, got {chunk_ms}")
        self.path: str | Path | None = None
        self.samples: np.ndarray | None = None
        """The signal, for an array or a pipe (None for a file: it is streamed)."""
        if isinstance(source, np.ndarray):
            self.samples = np.ascontiguousarray(source, dtype=np.int16).reshape(-1)
            self.name = "<array>"
            length = len(self.samples)
        elif not Path(source).is_file():  # a pipe can be read only once: keep its samples
            self.samples = read_wav(source)
            self.name = str(source)
            length = len(self.samples)
        else:
            with WavReader(source) as reader:  # a bad file fails here, before any chunk
                length = reader.samples_16k
            self.path, self.name = source, str(source)
        self.pad_samples = int(trailing_silence_s * SAMPLE_RATE) if trailing_silence_s > 0 else 0
        self._length = length + self.pad_samples
        self.chunk_samples = SAMPLE_RATE * chunk_ms // 1000
        self._closed = False

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds (for a resampled file, to a sample or two)."""
        return self._length / SAMPLE_RATE

    def _blocks(self) -> Iterator[np.ndarray]:
        if self.samples is not None:
            yield self.samples
        else:
            assert self.path is not None
            with WavReader(self.path) as reader:
                yield from reader.blocks()
        if self.pad_samples:
            yield np.zeros(self.pad_samples, dtype=np.int16)

    def chunks(self) -> Iterator[bytes]:
        """Yield s16le chunks until the end of the audio or until ``close()``."""
        n = self.chunk_samples
        pending = np.zeros(0, dtype=np.int16)
        for block in self._blocks():
            buf = np.concatenate([pending, block]) if pending.size else block
            full = len(buf) - len(buf) % n
            for start in range(0, full, n):
                if self._closed:
                    return
                yield buf[start:start + n].astype("<i2").tobytes()
            pending = buf[full:]
        if pending.size and not self._closed:
            yield pending.astype("<i2").tobytes()

    def close(self) -> None:
        """Stop yielding chunks."""
        self._closed = True
