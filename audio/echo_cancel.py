"""Acoustic echo cancellation through the sound server, so the user can talk over the coach.

On a PulseAudio or PipeWire-pulse server (``pactl`` reachable) ``EchoCanceller`` loads
``module-echo-cancel`` (``aec_method=webrtc``) between the server's default source and default sink. The
module makes a source (``massage_coach_mic``: the microphone minus what the speaker plays) and a sink
(``massage_coach_out``: the speaker, with what is played there taken as the echo reference). The app then
records from that source and plays into that sink: libpulse (and so the ALSA ``pulse`` plugin PortAudio
opens) takes the default device of each new connection from ``PULSE_SOURCE`` / ``PULSE_SINK``, which are
set in this process while echo cancelling is on, and streams are opened on PortAudio's ``pulse`` device.

A pair the user already set up (any loaded ``module-echo-cancel``) is used as it is and left loaded.
When the server restarts (the module is gone with it), ``ensure()`` loads it again before the microphone
is reopened. ``close()`` (or leaving the ``with`` block, also on Ctrl-C or an error) unloads the module it
loaded and restores the environment; an ``atexit`` hook does the same if the app ends some other way.
When it cannot be set up, ``reason`` says why in a few words and the plain devices are used.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

MODES: tuple[str, ...] = ("auto", "off")
"""Values of the ``echo_cancel`` setting."""

SOURCE_NAME = "massage_coach_mic"
SINK_NAME = "massage_coach_out"
MODULE = "module-echo-cancel"
AEC_ARGS = 'aec_args="analog_gain_control=0 digital_gain_control=0"'
"""No automatic gain control: webrtc's analog AGC would turn the user's microphone volume up and down."""
GATE_FLOOR_DB = -60.0
"""Microphone audio below this (dBFS, per chunk) is taken for residual echo while echo cancelling is on."""
PULSE_DEVICE = "pulse"
"""PortAudio's device for the ALSA pulse plugin (which honours ``PULSE_SOURCE`` / ``PULSE_SINK``)."""

Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class ServerInfo:
    """What ``pactl info`` says: the server's name and its default source and sink."""

    name: str
    default_source: str
    default_sink: str


def parse_info(text: str) -> ServerInfo:
    """Parse ``pactl info`` output (English labels; pactl is run with ``LC_ALL=C``)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return ServerInfo(fields.get("Server Name", ""), fields.get("Default Source", ""),
                      fields.get("Default Sink", ""))


def parse_args(text: str) -> dict[str, str]:
    """``key=value key2="quoted value"`` module arguments as a dict."""
    out: dict[str, str] = {}
    for part in _split_args(text):
        key, sep, value = part.partition("=")
        if sep:
            out[key] = value.strip("\"'")
    return out


def _split_args(text: str) -> list[str]:
    parts, cur, quote = [], "", ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            cur, quote = cur + ch, ch
        elif ch.isspace():
            if cur:
                parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def _names(listing: str) -> list[str]:
    """Second column of ``pactl list short sources|sinks``."""
    return [cols[1] for cols in (line.split("\t") for line in listing.splitlines()) if len(cols) > 1]


class EchoCanceller:
    """Sets up echo cancelling for one app run; a context manager.

    ``mode`` is ``auto`` (set it up when possible) or ``off``. After ``start()``: ``active`` is True and
    ``source`` / ``sink`` name the echo-cancelled pair, or ``reason`` says why the plain devices are used.
    ``run`` runs a pactl command line (tests pass a fake); ``environ`` is the environment to set.
    """

    def __init__(self, mode: str = "auto", pactl: str = "pactl", run: Runner | None = None,
                 environ: MutableMapping[str, str] | None = None,
                 on_fallback: Callable[[str], None] | None = None) -> None:
        self.mode = mode
        self.pactl = pactl
        self._run = run if run is not None else self._run_pactl
        self.environ: MutableMapping[str, str] = environ if environ is not None else os.environ
        self.on_fallback = on_fallback
        self.active = False
        self.reason = ""
        self.source: str | None = None
        self.sink: str | None = None
        self.module: int | None = None
        """Index of the module this object loaded (None when it loaded none)."""
        self._saved: dict[str, str | None] = {}
        self._atexit = False

    # -- pactl ---------------------------------------------------------------------------------------
    def _run_pactl(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, LC_ALL="C")
        for key in ("PULSE_SOURCE", "PULSE_SINK"):  # pactl must see the server's own defaults
            env.pop(key, None)
        return subprocess.run([self.pactl, *args], capture_output=True, text=True, timeout=10, env=env,
                              stdin=subprocess.DEVNULL, check=False)

    def _pactl(self, *args: str) -> str:
        """stdout of ``pactl ARGS``; RuntimeError with pactl's message when it fails."""
        try:
            result = self._run(list(args))
        except (OSError, subprocess.SubprocessError) as exc:
            raise RuntimeError(str(exc)) from exc
        if result.returncode != 0:
            lines = (result.stderr or result.stdout or "").strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"pactl {args[0]} failed")
        return result.stdout

    # -- setting up ----------------------------------------------------------------------------------
    def start(self) -> bool:
        """Set up echo cancelling (or find out why not); True when it is on."""
        if self.mode == "off":
            return self._off("turned off")
        if self._run == self._run_pactl and shutil.which(self.pactl) is None:
            return self._off("pactl not found; install pulseaudio-utils")
        try:
            info = parse_info(self._pactl("info"))
        except RuntimeError as exc:
            return self._off(f"no PulseAudio/PipeWire server ({exc})")
        try:
            pair = self._existing() or self._load(info)
        except RuntimeError as exc:
            return self._off(str(exc))
        self.source, self.sink = pair
        self.active, self.reason = True, ""
        self._set_env()
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True
        return True

    def _off(self, reason: str) -> bool:
        self.active, self.reason = False, reason
        return False

    def _existing(self) -> tuple[str, str] | None:
        """An echo-cancel source/sink pair that is already loaded (ours or the user's), if any."""
        sources = set(_names(self._pactl("list", "short", "sources")))
        sinks = set(_names(self._pactl("list", "short", "sinks")))
        for line in self._pactl("list", "short", "modules").splitlines():
            cols = line.split("\t")
            if len(cols) < 2 or "echo-cancel" not in cols[1]:
                continue
            args = parse_args(cols[2] if len(cols) > 2 else "")
            source = args.get("source_name") or f"{args.get('source_master', '')}.echo-cancel"
            sink = args.get("sink_name") or f"{args.get('sink_master', '')}.echo-cancel"
            if source in sources and sink in sinks:
                return source, sink
        if SOURCE_NAME in sources and SINK_NAME in sinks:
            return SOURCE_NAME, SINK_NAME
        return None

    def _load(self, info: ServerInfo) -> tuple[str, str]:
        """Load the module between the default source and sink; RuntimeError with the reason."""
        source, sink = info.default_source, info.default_sink
        if not source or not sink:
            raise RuntimeError("the sound server has no default microphone or speaker")
        if source == f"{sink}.monitor":
            raise RuntimeError(f"the default microphone is the monitor of the speaker ({source})")
        base = [f"source_master={source}", f"sink_master={sink}", "aec_method=webrtc",
                f"source_name={SOURCE_NAME}", f"sink_name={SINK_NAME}",
                "source_properties=device.description=massage-coach-echo-cancelled-microphone",
                "sink_properties=device.description=massage-coach-echo-cancelled-speaker"]
        error = ""
        for extra in (["use_master_format=1", AEC_ARGS], [AEC_ARGS], []):  # PipeWire may refuse some
            try:
                out = self._pactl("load-module", MODULE, *base, *extra)
            except RuntimeError as exc:
                error = str(exc)
                continue
            with contextlib.suppress(ValueError):
                self.module = int(out.strip().split()[-1])
            return SOURCE_NAME, SINK_NAME
        raise RuntimeError(f"the sound server could not load {MODULE} with webrtc ({error})")

    def _set_env(self) -> None:
        for key, value in (("PULSE_SOURCE", self.source), ("PULSE_SINK", self.sink)):
            if key not in self._saved:
                self._saved[key] = self.environ.get(key)
            assert value is not None
            self.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                self.environ.pop(key, None)
            else:
                self.environ[key] = value
        self._saved.clear()

    # -- during the run -------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Before (re)opening a device: load the module again if the server lost it (restarted).

        With no server reachable nothing changes (opening fails and is retried); if the server is back
        but the module cannot be loaded, the plain devices are used from now on (said once).
        """
        if not self.active:
            return
        try:
            sources = _names(self._pactl("list", "short", "sources"))
        except RuntimeError:
            return  # no server right now: the device cannot open either; tried again later
        if self.source in sources:
            return
        self.module = None
        try:
            info = parse_info(self._pactl("info"))
            self.source, self.sink = self._existing() or self._load(info)
            self._set_env()
        except RuntimeError as exc:
            self._restore_env()
            self._off(str(exc))
            if self.on_fallback is not None:
                self.on_fallback(exc.args[0] if exc.args else str(exc))

    def device(self, kind: str, wanted: int | str | None) -> int | str | None:
        """The PortAudio device to open for ``kind`` (input/output): ``pulse`` while echo cancelling is on
        and no device was chosen (the ALSA pulse plugin honours the environment), else ``wanted``."""
        return PULSE_DEVICE if self.active and wanted in (None, "") else wanted

    def describe(self) -> str:
        """``on (massage_coach_mic)`` or ``off (reason)`` for the banner."""
        return f"on ({self.source})" if self.active else f"off ({self.reason})"

    # -- ending ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Unload the module this object loaded and restore the environment; safe to call twice."""
        module, self.module = self.module, None
        self._restore_env()
        self.active = False
        if module is not None:
            with contextlib.suppress(RuntimeError):
                self._pactl("unload-module", str(module))
        if self._atexit:
            with contextlib.suppress(Exception):
                atexit.unregister(self.close)
            self._atexit = False

    def __enter__(self) -> EchoCanceller:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()



class ResidualGate:
    """Silences what is left of the coach's voice after echo cancelling (webrtc leaves it at -70 to -100
    dBFS, and a speech recognizer, which normalizes levels, still takes it for words that merge with the
    user's). A chunk quieter than ``floor_db`` dBFS becomes digital silence, unless louder audio came less
    than ``hold_s`` before (so word endings are kept); the user's speech, tens of dB louder, passes as is.
    """

    def __init__(self, floor_db: float = GATE_FLOOR_DB, hold_s: float = 0.3) -> None:
        self.floor = 32768.0 * 10 ** (floor_db / 20)
        self.hold_s = hold_s
        self._open_s = 0.0
        self.gated = 0
        """Chunks silenced so far."""

    def apply(self, pcm: bytes) -> bytes:
        """``pcm`` (s16le 16 kHz mono) or silence of the same length."""
        import numpy as np

        samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64)
        seconds = samples.size / 16000
        if samples.size and float(np.sqrt(np.mean(samples * samples))) >= self.floor:
            self._open_s = self.hold_s
            return pcm
        if self._open_s > 0:
            self._open_s -= seconds
            return pcm
        self.gated += 1
        return bytes(len(pcm))


def echo_cancelled_microphone(canceller: EchoCanceller, **kwargs: Any) -> Any:
    """A ``MicrophoneSource`` that calls ``canceller.ensure()`` before every (re)open of the device."""
    from audio.mic import MicrophoneSource

    class EchoCancelledMicrophone(MicrophoneSource):
        """The microphone, reopened on the echo-cancelled source (loaded again after a server restart)."""

        def _open(self) -> None:
            canceller.ensure()
            if self.device == PULSE_DEVICE and not canceller.active:
                self.device = None  # echo cancelling gave up: the plain default device
            super()._open()

        def chunks(self):  # type: ignore[no-untyped-def]
            gate = ResidualGate()
            for chunk in super().chunks():
                yield gate.apply(chunk) if canceller.active else chunk

    return EchoCancelledMicrophone(**kwargs)
