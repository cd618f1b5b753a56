"""The microphone as an ``AudioSource``: 16 kHz mono s16le chunks from sounddevice (PortAudio).

PortAudio calls ``_callback`` in its own thread; the callback only copies the block into a bounded queue
(an overflowing queue drops its oldest chunk and counts it in ``dropped``; PortAudio's own input overflows
are counted in ``overflows``). A device that refuses 16 kHz is opened at its default rate and resampled
with soxr. When the device vanishes (the stream stops, or no audio arrives for ``stall_s``), ``chunks()``
does not raise: it reports ``"lost"`` to the ``on_status`` callbacks, yields silence at the real-time
pace (so the app's loop and timers keep running), retries opening every ``retry_s`` seconds and reports
``"back"`` when audio flows again.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from audio.devices import DeviceInfo, find_device, list_devices
from audio.errors import DeviceError
from audio.protocols import SAMPLE_RATE

__all__ = ["EnergyGate", "MicrophoneSource", "list_devices"]

StatusCallback = Callable[[str, str], None]
"""Called with ("lost" | "back", one-line detail)."""


def rms(pcm: bytes) -> float:
    """Root-mean-square of s16le PCM (the "energy" SpeechRecognition compares with its threshold)."""
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


class EnergyGate:
    """A noise-floor tracker on our chunks, the algorithm of SpeechRecognition's ``Recognizer``.

    ``calibrate(chunk)`` is ``adjust_for_ambient_noise``: the threshold moves towards ``ratio`` times the
    chunk energy, damped by ``damping ** chunk_seconds``. ``is_speech(chunk)`` compares the energy with the
    threshold and, like ``dynamic_energy_threshold``, keeps adapting on chunks that are not speech.
    Defaults are SpeechRecognition's (300, 0.15, 1.5).
    """

    def __init__(self, threshold: float = 300.0, damping: float = 0.15, ratio: float = 1.5,
                 dynamic: bool = True, minimum: float = 50.0) -> None:
        self.threshold = threshold
        self.damping = damping
        self.ratio = ratio
        self.dynamic = dynamic
        self.minimum = minimum

    def calibrate(self, pcm: bytes) -> float:
        """Adapt the threshold to one chunk of background noise; returns the new threshold."""
        seconds = len(pcm) / 2 / SAMPLE_RATE
        damping = self.damping**seconds
        target = rms(pcm) * self.ratio
        self.threshold = max(self.minimum, self.threshold * damping + target * (1 - damping))
        return self.threshold

    def is_speech(self, pcm: bytes) -> bool:
        """True when the chunk is louder than the noise floor allows; quiet chunks refine the floor."""
        if rms(pcm) > self.threshold:
            return True
        if self.dynamic:
            self.calibrate(pcm)
        return False


class MicrophoneSource:
    """Live PCM from an input device; ``device`` is None (default), an index or a name substring.

    ``device_rate`` forces the rate the device is opened at (resampled to 16 kHz); by default 16 kHz is
    used when the device accepts it, else the device's default rate.
    """

    def __init__(self, device: int | str | None = None, chunk_ms: int = 40, queue_max: int = 50,
                 retry_s: float = 2.0, stall_s: float = 1.5, on_status: StatusCallback | None = None,
                 device_rate: int | None = None) -> None:
        if not 10 <= chunk_ms <= 200:
            raise DeviceError(f"chunk_ms must be between 10 and 200, not {chunk_ms}")
        self.device = device
        self.device_rate = device_rate
        self.chunk_ms = chunk_ms
        self.chunk_bytes = SAMPLE_RATE * chunk_ms // 1000 * 2
        self.retry_s = retry_s
        self.stall_s = stall_s
        self.overflows = 0
        self.dropped = 0
        self.losses = 0
        self.status = "ok"
        self.device_name = ""
        self.rate = SAMPLE_RATE
        self._callbacks: list[StatusCallback] = [on_status] if on_status else []
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=max(2, queue_max))
        self._closed = threading.Event()
        self._stream = None
        self._resampler = None
        self.last_error = ""
        self._open()

    # -- opening -----------------------------------------------------------------------------------
    def _open(self) -> None:
        """Open and start the input stream (DeviceError with one line when it cannot)."""
        import sounddevice as sd

        info: DeviceInfo = find_device(self.device, "input")
        rate = self.device_rate or SAMPLE_RATE
        if not self.device_rate:
            try:
                sd.check_input_settings(device=info.index, channels=1, dtype="int16", samplerate=SAMPLE_RATE)
            except Exception:
                rate = int(info.default_samplerate)
        self._resampler = None
        if rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="int16")
        try:
            stream = sd.RawInputStream(device=info.index, samplerate=rate, channels=1, dtype="int16",
                                       blocksize=rate * self.chunk_ms // 1000, callback=self._callback)
            stream.start()
        except Exception as exc:
            raise DeviceError(f"cannot open microphone {info.name!r}: {exc}") from exc
        self._stream, self.device_name, self.rate = stream, info.name, rate

    def _callback(self, indata, frames, time_info, status) -> None:  # type: ignore[no-untyped-def]
        """PortAudio thread: queue a copy of the block; never block, never raise."""
        if status.input_overflow:
            self.overflows += 1
        data = bytes(indata)
        try:
            self._queue.put_nowait(data)
        except queue.Full:
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()  # keep the newest audio: drop the oldest chunk
            self.dropped += 1
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(data)

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.abort()
                stream.close()

    # -- status ------------------------------------------------------------------------------------
    def on_status(self, fn: StatusCallback) -> None:
        """Call ``fn(status, detail)`` when the device is lost ("lost") or works again ("back")."""
        self._callbacks.append(fn)

    def _report(self, status: str, detail: str) -> None:
        self.status = status
        for fn in self._callbacks:
            with contextlib.suppress(Exception):
                fn(status, detail)

    # -- reading -----------------------------------------------------------------------------------
    def chunks(self) -> Iterator[bytes]:
        """Yield ``chunk_ms`` chunks of 16 kHz PCM until ``close()``; a lost device yields silence."""
        pending = b""
        last_audio = time.monotonic()
        while not self._closed.is_set():
            if self._stream is None:
                yield from self._while_lost()
                pending, last_audio = b"", time.monotonic()
                continue
            if not self._stream.active:
                self._mark_lost("the audio stream stopped")
                continue
            try:
                data = self._queue.get(timeout=0.1)
            except queue.Empty:
                if time.monotonic() - last_audio > self.stall_s:
                    self._mark_lost(f"no audio for {self.stall_s:g} s")
                continue
            last_audio = time.monotonic()
            if self._resampler is not None:
                data = self._resampler.resample_chunk(np.frombuffer(data, np.int16)).tobytes()
            pending += data
            while len(pending) >= self.chunk_bytes:
                yield pending[: self.chunk_bytes]
                pending = pending[self.chunk_bytes :]

    def _mark_lost(self, why: str) -> None:
        """Close the broken stream and tell the listeners."""
        if self._closed.is_set():
            return
        self.losses += 1
        self._close_stream()
        self._report("lost", f"microphone {self.device_name or self.device!r} lost: {why}")

    def _while_lost(self) -> Iterator[bytes]:
        """Silence at the real-time pace, trying to reopen every ``retry_s``, until back or closed."""
        silence = bytes(self.chunk_bytes)
        step = self.chunk_ms / 1000
        next_try = time.monotonic() + self.retry_s
        tick = time.monotonic()
        while not self._closed.is_set() and self._stream is None:
            now = time.monotonic()
            if now >= next_try:
                try:
                    self._drain()
                    self._open()
                except DeviceError as exc:
                    self.last_error = str(exc)
                    next_try = time.monotonic() + self.retry_s
                else:
                    self._report("back", f"microphone {self.device_name!r} is back")
                    return
            tick += step
            delay = tick - time.monotonic()
            if delay > 0:
                self._closed.wait(delay)
            else:
                tick = time.monotonic()
            if not self._closed.is_set():
                yield silence

    def _drain(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()

    def close(self) -> None:
        """Stop reading and release the device; a running ``chunks()`` ends."""
        self._closed.set()
        self._close_stream()
