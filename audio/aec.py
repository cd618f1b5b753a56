"""Acoustic echo cancelling with the coach's own output as the reference: pure numpy, no audio I/O.

The microphone hears the coach's speaker louder than the person in front of it. The app knows exactly what
it plays, so it can subtract it: ``ReferenceCanceller.far(block, rate, at)`` receives every block the output
stream plays (silence too, from the player's callback, any thread), ``process(chunk, at)`` turns one
microphone chunk into the chunk with the coach's voice taken out. Three parts:

* alignment: both streams are counted in samples; the time stamps of the two callbacks give a coarse
  offset between the counters, a cross-correlation over the last second of coach speech finds the echo's
  delay within ``max_delay_s`` (output latency, the room, input latency);
* a partitioned-block frequency-domain adaptive filter (``_Fdaf``, 256 taps around that delay,
  normalized per frequency bin) models the echo path and follows its slow drift (clocks, resamplers);
* a residual-echo gate: a 10 ms frame whose remainder is more than ``gate_db`` below the modelled echo is
  the echo's residue and is silenced, so the recognizer hears silence around the partner's words instead of
  the coach's voice 30 dB down, which a speech model still decodes as words.

Until the delay is found (the first ~0.5 s of the first sentence) the microphone passes unchanged, and the
echo guard keeps protecting the app from its own voice.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

import numpy as np

from audio.protocols import SAMPLE_RATE

HISTORY_S = 10.0
"""How much of the remainder and the modelled echo ``near_end_db`` can look back on."""

DOUBLE_TALK = 0.1
"""A remainder within 10 dB of the modelled echo is the partner talking (the echo's own residue is ~30 dB
down once the filter has converged): such blocks do not count towards ``converged``."""


@dataclass(frozen=True)
class AecSettings:
    """Tuning of ``ReferenceCanceller`` (defaults measured in the virtual room, see bench/RESULTS.md)."""

    block: int = 64
    """Samples per filter block (4 ms)."""
    partitions: int = 4
    """Filter length in blocks (256 taps, 16 ms)."""
    step: float = 0.8
    """Adaptation step (normalized; 0-1)."""
    pre_taps: int = 64
    """Taps before the estimated delay (drift either way until the next estimate)."""
    max_delay_s: float = 0.5
    """Longest round trip speaker -> microphone searched for."""
    gate_db: float = -15.0
    """Residue below the modelled echo by more than this is silenced."""
    estimate_every_s: float = 0.25
    min_correlation: float = 0.5
    """A delay estimate is used only when the normalized cross-correlation peak reaches this."""
    converged_db: float = 25.0
    """``converged`` turns on after ``converged_windows`` windows in a row of the coach's speech cancelled
    by this much, and stays on until the streams must be lined up afresh."""
    converged_windows: int = 2
    converged_s: float = 0.5
    """Window length: seconds of the coach's speech (blocks with the partner talking left out)."""


class _Fdaf:
    """Partitioned-block frequency-domain adaptive filter (overlap-save, constrained gradient), in two
    copies: the background filter learns from every block; the foreground one, which the output uses,
    takes the background's weights whenever they cancel better. The partner talking over the coach pulls
    the background filter off the echo path for a moment, never the foreground one; a changed echo path is
    learnt by the background filter at full speed (no double-talk detector to mistake it for talk)."""

    def __init__(self, block: int, partitions: int, step: float, delta: float = 1e5) -> None:
        self.block, self.partitions, self.step, self.delta = block, partitions, step, delta
        self.weights = np.zeros((partitions, block + 1), complex)
        self.foreground = np.zeros((partitions, block + 1), complex)
        self.spectra = np.zeros((partitions, block + 1), complex)
        self.previous = np.zeros(block)
        self.power = np.full(block + 1, delta)

    def reset(self) -> None:
        self.weights[:] = 0
        self.foreground[:] = 0
        self.spectra[:] = 0
        self.previous[:] = 0
        self.power[:] = self.delta

    def taps(self) -> np.ndarray:
        """The foreground filter's impulse response (time domain, ``block * partitions`` taps)."""
        return np.fft.irfft(self.foreground, axis=1)[:, : self.block].reshape(-1)

    def shift(self, samples: int) -> None:
        """Move the foreground's impulse response ``samples`` later (earlier when negative); both filters
        go on from there."""
        b = self.block
        taps = np.roll(self.taps(), samples)
        if samples > 0:
            taps[:samples] = 0
        elif samples < 0:
            taps[samples:] = 0
        padded = np.zeros((self.partitions, 2 * b))
        padded[:, :b] = taps.reshape(self.partitions, b)
        self.foreground = np.fft.rfft(padded, axis=1)
        self.weights = self.foreground.copy()

    def predict(self, far: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Take in the next far-end block; the echo it and the blocks before it make in the microphone,
        as the background and the foreground filter model it."""
        b = self.block
        self.spectra = np.roll(self.spectra, 1, axis=0)
        self.spectra[0] = np.fft.rfft(np.concatenate([self.previous, far]))
        self.previous = far
        both = np.stack([self.weights, self.foreground]) * self.spectra
        echoes = np.fft.irfft(both.sum(axis=1), axis=1)[:, b:]
        return echoes[0], echoes[1]

    def adapt(self, error: np.ndarray) -> None:
        """Move the background filter towards the echo after ``predict``; ``error`` = microphone - its
        predicted echo."""
        b = self.block
        self.power = 0.9 * self.power + 0.1 * np.abs(self.spectra[0]) ** 2
        err_spec = np.fft.rfft(np.concatenate([np.zeros(b), error]))
        grad = np.conj(self.spectra) * err_spec / (self.partitions * self.power + self.delta)
        taps = np.fft.irfft(grad, axis=1)
        taps[:, b:] = 0  # the gradient constraint: a linear, not circular, convolution
        self.weights += self.step * np.fft.rfft(taps, axis=1)


class ReferenceCanceller:
    """Takes the coach's own output out of the microphone signal (see the module docstring).

    Thread-safe for one producer of ``far`` (the output callback) and one caller of ``process``.
    """

    def __init__(self, settings: AecSettings | None = None, rate: int = SAMPLE_RATE) -> None:
        self.settings = settings or AecSettings()
        self.rate = rate
        s = self.settings
        self._incoming: collections.deque[tuple[np.ndarray, int, float]] = collections.deque(maxlen=2000)
        self._lock = threading.Lock()
        self._resamplers: dict[int, object] = {}
        keep = int((s.max_delay_s + 3.0) * rate)
        self._far = np.zeros(keep)  # the last ``keep`` far samples at ``rate``; index = absolute - base
        self._far_end = 0  # absolute index after the newest far sample
        self._anchors: collections.deque[tuple[int, float]] = collections.deque(maxlen=64)
        self._mic = np.zeros(int(1.0 * rate))  # the last second of microphone samples
        self._mic_end = 0
        self._coarse: collections.deque[float] = collections.deque(maxlen=25)
        self.offset: int | None = None
        """far index - mic index of the echo path's start (None until estimated)."""
        self._candidate: int | None = None  # a new offset seen once, waiting to be seen again
        self._next_estimate = 0
        self._fdaf = _Fdaf(s.block, s.partitions, s.step)
        self._pending = np.zeros(0)
        # what was left and the modelled echo for the last HISTORY_S of microphone samples (for near_end_db)
        self._left = np.zeros(int(HISTORY_S * rate), dtype=np.float32)
        self._echo = np.zeros(int(HISTORY_S * rate), dtype=np.float32)
        self.echo_energy = 0.0
        self.residue_energy = 0.0
        self.gated_frames = 0
        self.estimates = 0
        self.converged = False
        """True once the echo has been cancelled well (see ``AecSettings.converged_db``): only then is
        what remains of the coach's voice looked at for the partner's words."""
        self._good_samples = 0
        self._good_windows = 0
        self._window = [0.0, 0.0]  # microphone and remaining energy of the current convergence window
        self._levels = [0.0, 0.0, 0.0]  # smoothed microphone, background and foreground remainders

    # -- far end (the output callback's thread) ---------------------------------------------------
    def far(self, samples: np.ndarray, rate: int, at: float) -> None:
        """The output stream handed ``samples`` (int16, mono, at ``rate``) to the device at time ``at``."""
        with self._lock:
            self._incoming.append((np.array(samples, dtype=np.int16, copy=True), int(rate), float(at)))

    def _drain_far(self) -> None:
        with self._lock:
            items = list(self._incoming)
            self._incoming.clear()
        for samples, rate, at in items:
            data = samples.astype(np.float32)
            if rate != self.rate:
                data = self._resampler(rate).resample_chunk(data)
            self._anchors.append((self._far_end, at))
            self._append_far(np.asarray(data, dtype=np.float64))

    def _resampler(self, rate: int):  # type: ignore[no-untyped-def]
        if rate not in self._resamplers:
            import soxr

            self._resamplers[rate] = soxr.ResampleStream(rate, self.rate, 1, dtype="float32")
        return self._resamplers[rate]

    def _append_far(self, data: np.ndarray) -> None:
        n = data.size
        if n == 0:
            return
        if n >= self._far.size:
            self._far[:] = data[-self._far.size :]
        else:
            self._far = np.roll(self._far, -n)
            self._far[-n:] = data
        self._far_end += n

    def _far_slice(self, start: int, stop: int) -> np.ndarray:
        """Far samples [start, stop) by absolute index; zeros where not (or no longer) known."""
        out = np.zeros(stop - start)
        base = self._far_end - self._far.size
        lo, hi = max(start, base), min(stop, self._far_end)
        if hi > lo:
            out[lo - start : hi - start] = self._far[lo - base : hi - base]
        return out

    def _far_index_at(self, at: float) -> float | None:
        """The far sample being handed to the device at time ``at`` (from the nearest earlier anchor)."""
        if not self._anchors:
            return None
        earlier = [anchor for anchor in self._anchors if anchor[1] <= at]
        index, stamp = earlier[-1] if earlier else self._anchors[0]
        return index + (at - stamp) * self.rate

    # -- near end ----------------------------------------------------------------------------------
    def process(self, pcm: bytes, at: float) -> bytes:
        """One microphone chunk (s16le at ``rate``) whose last sample arrived at ``at``: the chunk with the
        coach's voice cancelled (unchanged until the echo delay is known)."""
        self._drain_far()
        mic = np.frombuffer(pcm[: len(pcm) - len(pcm) % 2], dtype="<i2").astype(np.float64)
        start = self._mic_end
        self._mic_end += mic.size
        self._mic = np.concatenate([self._mic, mic])[-self._mic.size :]
        self._track_coarse(at)
        if self._mic_end >= self._next_estimate:
            self._next_estimate = self._mic_end + int(self.settings.estimate_every_s * self.rate)
            self._estimate_delay()
        if self.offset is None:
            self._remember(mic, np.zeros(mic.size))
            return pcm
        out = self._cancel(mic, start)
        return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()

    def _track_coarse(self, at: float) -> None:
        far_index = self._far_index_at(at)
        if far_index is not None:
            self._coarse.append(far_index - self._mic_end)

    def _estimate_delay(self) -> None:
        """Cross-correlate the last second of microphone with the far end around the coarse offset."""
        if len(self._coarse) < 5 or self._mic_end < self._mic.size:
            return
        coarse = float(np.median(self._coarse))
        width = int(self.settings.max_delay_s * self.rate)
        mic = self._mic
        m0 = self._mic_end - mic.size
        # mic[m] ~ far[m + off], off in [coarse - width, coarse + margin]
        margin = int(0.05 * self.rate)
        lo = int(coarse) - width
        far = self._far_slice(m0 + lo, self._mic_end + int(coarse) + margin)
        if float(np.mean(far * far)) < 1e4 or float(np.mean(mic * mic)) < 1e3:
            return
        size = 1 << int(np.ceil(np.log2(far.size + mic.size)))
        corr = np.fft.irfft(np.fft.rfft(far, size) * np.conj(np.fft.rfft(mic, size)), size)
        span = width + margin
        # corr[k] = sum far[i + k] mic[i]: mic[m] ~ far[m + lo + k]
        cumulative = np.concatenate([[0.0], np.cumsum(far * far)])
        window_energy = cumulative[mic.size : mic.size + span + 1] - cumulative[: span + 1]
        scores = np.abs(corr[: span + 1]) / np.sqrt(np.maximum(window_energy, 1.0) * float(mic @ mic))
        k = int(np.argmax(scores))
        if scores[k] < self.settings.min_correlation:
            return
        offset = lo + k + self.settings.pre_taps
        self.estimates += 1
        near = self.settings.pre_taps // 2
        if self.offset is not None and abs(offset - self.offset) > near:
            # a move must be seen twice in a row: one estimate can be thrown by the partner talking
            confirmed = self._candidate is not None and abs(offset - self._candidate) <= near
            self._candidate = offset
            if not confirmed:
                return
        self._candidate = None
        # Only the cross-correlation moves the alignment: the time stamps jitter by tens of ms when the
        # loop is busy, which must not cost the learnt filter. When the echo moved (the delay drifted, or a
        # stream lost or was reopened with samples missing), what was learnt keeps its shape: its peak is
        # moved to where the new alignment puts the echo, and the filter goes on from there.
        if self.offset is None:
            self.offset = offset
            self._fdaf.reset()
        elif abs(offset - self.offset) > near:
            self.offset = offset
            self._fdaf.shift(self.settings.pre_taps - int(np.argmax(np.abs(self._fdaf.taps()))))

    def _cancel(self, mic: np.ndarray, start: int) -> np.ndarray:
        assert self.offset is not None
        b = self.settings.block
        self._pending = np.concatenate([self._pending, mic])
        usable = self._pending.size - self._pending.size % b
        out = np.empty(usable)
        echo = np.empty(usable)
        first = start + mic.size - self._pending.size  # absolute mic index of _pending[0]
        for i in range(0, usable, b):
            far = self._far_slice(first + i + self.offset, first + i + self.offset + b)
            active = float(far @ far) > 1e3 * b
            mic_block = self._pending[i : i + b]
            background, predicted = self._fdaf.predict(far)
            error = mic_block - predicted
            left, modelled = float(error @ error), float(predicted @ predicted)
            if active:
                self._fdaf.adapt(mic_block - background)
                self._compare(float(mic_block @ mic_block), mic_block - background, left)
                if not (self.converged and left > DOUBLE_TALK * modelled):  # the partner talking
                    self._note_convergence(float(mic_block @ mic_block), error)
            echo[i : i + b] = predicted
            # while the filter is still learning it can add more than it takes away: never make it worse
            out[i : i + b] = error if left <= float(mic_block @ mic_block) else mic_block
        self._pending = self._pending[usable:]
        gated = self._gate(out, echo)
        # keep the chunk's length: samples still pending are returned next time (a delay below one block)
        if gated.size < mic.size:
            gated = np.concatenate([np.zeros(mic.size - gated.size), gated])
        return gated[-mic.size :]

    def near_end_db(self, start_s: float, end_s: float) -> float:
        """How loud what is left was against the modelled echo between ``start_s`` and ``end_s`` (seconds of
        microphone audio processed), counting only what the echo cannot explain: the part of the remainder
        that a short filter (+-8 taps) of the modelled echo reproduces is the echo's residue (a delay that
        drifted), not a person. About -20 to -40 dB for the residue, -8 to 0 dB for the partner talking
        over the coach; +inf when the coach was not playing then (or it is no longer remembered)."""
        size = self._left.size
        a = max(int(start_s * self.rate), self._mic_end - size, 0)
        b = min(int(np.ceil(end_s * self.rate)), self._mic_end)
        if b - a < 160:
            return float("inf")
        where = np.arange(a, b) % size  # a ring indexed by absolute microphone sample
        left = self._left[where].astype(np.float64)
        echo = self._echo[where].astype(np.float64)
        echo_energy = float(echo @ echo)
        if echo_energy < 100.0 * echo.size:
            return float("inf")
        taps = np.stack([np.roll(echo, k) for k in range(-8, 9)], axis=1)
        fit, *_ = np.linalg.lstsq(taps, left, rcond=None)
        unexplained = left - taps @ fit
        return 10 * float(np.log10(max(float(unexplained @ unexplained), 1.0) / echo_energy))

    def _remember(self, left: np.ndarray, echo: np.ndarray) -> None:
        """Keep the remainder and the modelled echo of the newest ``left.size`` microphone samples."""
        n = min(left.size, self._left.size)
        where = np.arange(self._mic_end - n, self._mic_end) % self._left.size
        self._left[where] = left[-n:]
        self._echo[where] = echo[-n:]

    def describe(self) -> str:
        """A one-line state for logs: delay, convergence, cancelled so far."""
        if self.offset is None:
            return "echo canceller: no delay found yet"
        erle = 10 * np.log10(max(self.echo_energy, 1.0) / max(self.residue_energy, 1.0))
        return (f"echo canceller: offset {self.offset}, converged {self.converged}, "
                f"{self.gated_frames} frames gated, echo/remainder {erle:.1f} dB")

    def _compare(self, mic: float, background_error: np.ndarray, foreground_left: float) -> None:
        """Smoothed remainders of both filters; the better background becomes the foreground, a background
        pulled far off (by the partner talking) starts again from the foreground."""
        k = 0.8
        self._levels = [k * self._levels[0] + (1 - k) * mic,
                        k * self._levels[1] + (1 - k) * float(background_error @ background_error),
                        k * self._levels[2] + (1 - k) * foreground_left]
        mic_level, back, fore = self._levels
        if back < 0.5 * fore:
            self._fdaf.foreground[:] = self._fdaf.weights
        elif back > 8 * fore and fore < 0.1 * mic_level:
            self._fdaf.weights[:] = self._fdaf.foreground

    def _note_convergence(self, mic_energy: float, error: np.ndarray) -> None:
        """Sum the coach's speech over windows of ``converged_s``; enough good windows in a row set
        ``converged``."""
        self._window[0] += mic_energy
        self._window[1] += float(error @ error)
        self._good_samples += error.size
        if self._good_samples >= self.settings.converged_s * self.rate:
            mic, left = self._window
            cancelled_db = 10 * float(np.log10(max(mic, 1.0) / max(left, 1.0)))
            self._good_windows = self._good_windows + 1 if cancelled_db >= self.settings.converged_db else 0
            if self._good_windows >= self.settings.converged_windows:
                self.converged = True
            self._good_samples, self._window = 0, [0.0, 0.0]

    def _gate(self, out: np.ndarray, echo: np.ndarray, frame: int = 160) -> np.ndarray:
        """Silence 10 ms frames that hold only the echo's residue."""
        self._remember(out, echo)
        ratio = 10 ** (self.settings.gate_db / 10)
        out = out.copy()
        for i in range(0, out.size, frame):
            e = out[i : i + frame]
            y = echo[i : i + frame]
            ee, ey = float(e @ e), float(y @ y)
            self.residue_energy += ee
            self.echo_energy += ey
            if ey > 1e3 * e.size and ee < ratio * ey:
                out[i : i + frame] = 0.0
                self.gated_frames += 1
        return out
