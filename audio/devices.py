"""Audio devices as PortAudio (through sounddevice) sees them: listing, picking one by index or name.

On a headless Linux box PortAudio only sees what ALSA offers; a PulseAudio (or PipeWire-pulse) server is
reached through the ALSA ``pulse`` plugin (package libasound2-plugins), which shows up as the devices
``pulse`` and ``default`` once the server is reachable (``PULSE_SERVER`` or the usual runtime socket).
PortAudio enumerates devices only when it is initialised, so ``refresh()`` re-initialises it to see a
device that appeared (or vanished) after start-up.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from audio.errors import DeviceError


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool = False
    is_default_output: bool = False

    @property
    def is_input(self) -> bool:
        """True when the device can record."""
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        """True when the device can play."""
        return self.max_output_channels > 0


def _sd():  # type: ignore[no-untyped-def]
    """Import sounddevice, turning a missing PortAudio library into a DeviceError."""
    try:
        import sounddevice
    except (ImportError, OSError) as exc:
        raise DeviceError(f"PortAudio is not available ({exc}); install libportaudio2") from exc
    return sounddevice


def refresh() -> None:
    """Re-initialise PortAudio so that devices added or removed since start-up are seen."""
    sd = _sd()
    with contextlib.suppress(Exception):  # fails harmlessly when not initialised
        sd._terminate()
    sd._initialize()


def list_devices() -> list[DeviceInfo]:
    """Every input and output device PortAudio knows, with the defaults marked."""
    sd = _sd()
    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except Exception as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from exc
    devices = []
    for i, dev in enumerate(raw):
        devices.append(
            DeviceInfo(
                index=i,
                name=str(dev["name"]),
                hostapi=str(apis[dev["hostapi"]]["name"]),
                max_input_channels=int(dev["max_input_channels"]),
                max_output_channels=int(dev["max_output_channels"]),
                default_samplerate=float(dev["default_samplerate"]),
                is_default_input=i == default_in,
                is_default_output=i == default_out,
            )
        )
    return devices


def format_devices(devices: list[DeviceInfo]) -> str:
    """A plain listing for ``massage-coach devices``: one line per device, defaults starred."""
    lines = []
    for d in devices:
        kinds = []
        if d.is_input:
            kinds.append(f"in {d.max_input_channels}" + ("*" if d.is_default_input else ""))
        if d.is_output:
            kinds.append(f"out {d.max_output_channels}" + ("*" if d.is_default_output else ""))
        rate = f"{d.default_samplerate:.0f} Hz"
        lines.append(f"{d.index:3d}  {d.name}  ({d.hostapi}; {', '.join(kinds)}; {rate})")
    return "\n".join(lines)


def find_device(spec: int | str | None, kind: str) -> DeviceInfo:
    """The device to open for ``kind`` ("input" or "output").

    ``spec`` is None (the default device), an index (int or digits) or a case-insensitive name substring
    (the first match wins). Raises DeviceError with one line when there is none.
    """
    devices = list_devices()
    want_input = kind == "input"
    usable = [d for d in devices if (d.is_input if want_input else d.is_output)]
    what = "microphone" if want_input else "audio output device"
    if not usable:
        raise DeviceError(f"no {what} found (PortAudio sees none; is a sound server or card available?)")
    if spec is None or spec == "":
        for d in usable:
            if d.is_default_input if want_input else d.is_default_output:
                return d
        return usable[0]
    if isinstance(spec, int) or str(spec).strip().isdigit():
        index = int(spec)
        for d in usable:
            if d.index == index:
                return d
        raise DeviceError(f"no {what} with index {index}; run 'massage-coach devices' to list them")
    needle = str(spec).lower()
    for d in usable:
        if needle in d.name.lower():
            return d
    raise DeviceError(f"no {what} matching {spec!r}; run 'massage-coach devices' to list them")


def has_output() -> bool:
    """True when some output device exists (False also when PortAudio itself is missing)."""
    try:
        return any(d.is_output for d in list_devices())
    except DeviceError:
        return False
