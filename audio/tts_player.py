"""Playing rendered speech through sounddevice (PortAudio) so that it can be cut off at once.

One callback-driven output stream stays open while the speaker lives; the callback copies queued
sentences block by block (about 20 ms each) and plays silence when there is nothing to say. ``stop()``
empties the queue, so the next block is silence: speech ends within one block plus the device latency.
The callback reports when each utterance's first sample went to the device and when the queue ran
dry; the speaker turns those into echo-guard events.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from audio.errors import SpeakerError

BLOCK_S = 0.02
"""Length of one callback block."""


@dataclass
class Chunk:
    """A rendered sentence waiting to be played; ``first`` marks the start of an utterance."""

    utterance: int
    samples: np.ndarray
    first: bool = False
    last: bool = False


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """int16 samples converted from ``rate_in`` to ``rate_out`` (soxr)."""
    if rate_in == rate_out or samples.size == 0:
        return samples
    import soxr

    out = soxr.resample(samples.astype(np.float32) / 32768.0, rate_in, rate_out)
    return np.clip(out * 32768.0, -32768, 32767).astype(np.int16)


_resample = resample  # the old name, used by skill.app.demo


class SoundPlayer:
    """A PortAudio output stream fed from a queue of chunks; events go to ``events`` (a queue).

    Events are tuples: ``("start", utterance, monotonic_time)`` when an utterance's first sample is handed
    to the device and ``("end", utterance, monotonic_time)`` when its last sample was. A stream that died
    (device lost) is reopened by the next ``play()``.
    """

    def __init__(self, device: int | str | None = None, rate: int = 22050) -> None:
        self._device = device
        self._wanted_rate = rate
        self.events: queue.SimpleQueue[tuple[str, int | None, object]] = queue.SimpleQueue()
        self._chunks: collections.deque[Chunk] = collections.deque()
        self._current: Chunk | None = None
        self._pos = 0
        self._lock = threading.Lock()
        self.blocks = 0
        self.reopens = 0
        self.taps: list[Callable[[np.ndarray, int, float], None]] = []
        """Called from the audio thread with every block played (silence too), its rate and the time it was
        handed to the device; must be quick and must copy the block (e.g. ``ReferenceCanceller.far``)."""
        self._stream = None
        self._open()

    def _open(self) -> None:
        """Open and start the output stream (SpeakerError / DeviceError with one line when it cannot)."""
        import sounddevice as sd

        from audio.devices import find_device

        info = find_device(self._device, "output")
        self.device_name = info.name
        try:
            sd.check_output_settings(device=info.index, channels=1, dtype="int16",
                                     samplerate=self._wanted_rate)
            self.rate = self._wanted_rate
        except Exception:
            self.rate = int(info.default_samplerate)
        try:
            stream = sd.OutputStream(device=info.index, samplerate=self.rate, channels=1, dtype="int16",
                                     blocksize=int(self.rate * BLOCK_S), latency="low",
                                     callback=self._callback)
            stream.start()
        except Exception as exc:
            raise SpeakerError(f"cannot open audio output {info.name!r}: {exc}") from exc
        self._stream = stream

    def ensure_open(self) -> None:
        """Reopen the stream if it died (device lost, sound server restarted); SpeakerError if it cannot."""
        if self._stream is not None and self._stream.active:
            return
        with contextlib.suppress(Exception):
            if self._stream is not None:
                self._stream.abort()
                self._stream.close()
        self._stream = None
        self.reopens += 1
        self._open()

    @property
    def latency_s(self) -> float:
        """Output latency PortAudio reports for the stream (seconds)."""
        return float(self._stream.latency) if self._stream is not None else 0.0

    def play(self, utterance: int, samples: np.ndarray, rate: int, first: bool, last: bool) -> None:
        """Queue one rendered sentence (``rate`` is its sample rate) after what is queued already."""
        self.ensure_open()
        data = resample(samples, rate, self.rate)
        with self._lock:
            self._chunks.append(Chunk(utterance, data, first, last))

    def clear(self) -> None:
        """Drop everything queued or playing; the next block is silence."""
        with self._lock:
            self._chunks.clear()
            self._current = None
            self._pos = 0

    def busy(self) -> bool:
        """True while there is audio queued or playing."""
        with self._lock:
            return self._current is not None or bool(self._chunks)

    def _callback(self, outdata, frames, time_info, status) -> None:  # type: ignore[no-untyped-def]
        """PortAudio thread: fill ``outdata`` from the queue, silence when empty."""
        out = np.frombuffer(outdata, dtype=np.int16) if not isinstance(outdata, np.ndarray) else outdata[:, 0]
        filled = 0
        now = time.monotonic()
        with self._lock:
            self.blocks += 1
            while filled < frames:
                if self._current is None:
                    if not self._chunks:
                        break
                    self._current, self._pos = self._chunks.popleft(), 0
                    if self._current.first:
                        self.events.put(("start", self._current.utterance, now + filled / self.rate))
                cur = self._current
                n = min(frames - filled, cur.samples.size - self._pos)
                out[filled : filled + n] = cur.samples[self._pos : self._pos + n]
                filled += n
                self._pos += n
                if self._pos >= cur.samples.size:
                    if cur.last:
                        self.events.put(("end", cur.utterance, now + filled / self.rate))
                    self._current = None
        if filled < frames:
            out[filled:] = 0
        for tap in self.taps:
            with contextlib.suppress(Exception):  # a listener's bug must not silence the coach
                tap(out, self.rate, now)

    def alive(self) -> bool:
        """True while the stream is running."""
        return self._stream is not None and bool(self._stream.active)

    def close(self) -> None:
        """Stop and close the stream."""
        self.clear()
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # closing a broken stream is best-effort
                stream.abort()
                stream.close()
