"""The "virtual room": a private PulseAudio server whose null sink is the room everything sounds in.

Layout (stereo null sinks at 16 kHz, ``norewinds=1``: ``room``, the air, whose monitor is the default
input, the microphone; ``speaker``, the default output, looped back into ``room`` with 30 ms latency, as a
laptop's speaker plays into the air its microphone hears; so the sound server can cancel the speaker's echo
in the microphone, ``module-echo-cancel`` refuses a sink and its own monitor):

- the coach (any PulseAudio or ALSA client: pyttsx3/espeak-ng, PortAudio) plays mono into the speaker,
  which PulseAudio puts on both channels;
- the partner (``Room.say`` / ``Room.play``, paplay) plays on the left channel only.

So the room recording (``Recorder``, ``parec`` of ``room.monitor``) holds ``left = partner + coach`` and
``right = coach``: ``partner = left - right`` exactly, sample-aligned with the coach, from one recording
(``bench.room_latency.split_room``). The coach's microphone (the default source, downmixed to mono by
PulseAudio) hears ``coach + partner / 2``, as a laptop microphone hears its own speaker louder than the
person in front of it.

Children reach the server through ``Room.env``: a private HOME (with ``.asoundrc`` routing ALSA's default
device to PulseAudio, so PortAudio via sounddevice sees ``pulse`` and ``default``), XDG dirs,
``PULSE_RUNTIME_PATH`` and ``PULSE_SERVER=unix:...``. Every child runs in its own process group and is
killed with its group when the room closes, also when a test fails (``room`` fixture).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tests.room_audio import RATE, espeak, music, partner_track, read_wav, write_wav
from tests.speech_fixtures import toy_model_path

__all__ = ["RATE", "REPO", "Room", "Turn", "espeak", "music", "open_room", "partner_track", "read_wav",
           "room", "write_wav"]

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("pulseaudio", "pactl", "paplay", "parec", "espeak-ng")
ASOUNDRC = "pcm.!default { type pulse }\nctl.!default { type pulse }\n"


def find_toy_model() -> Path | None:
    """The Vosk toy model: ``tests/models`` copy first, then the shared one; None if neither is there."""
    path = toy_model_path()
    return path if (path / "am" / "final.mdl").is_file() else None


def unavailable_reason() -> str | None:
    """Why a room cannot be built on this machine (a missing program), or None."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"virtual room needs {', '.join(missing)} (packages pulseaudio, pulseaudio-utils, espeak-ng)"
    if not Path("/usr/share/alsa").is_dir():
        return "virtual room needs ALSA's configuration (/usr/share/alsa; package libasound2)"
    return None


def kill_group(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """Stop ``proc`` and its process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group may outlive its leader
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Turn:
    """One thing the partner played: a label (e.g. the command's intent), the text, and rough times.

    ``t_start``/``t_end`` are seconds on the room recording's timeline taken when paplay started and
    ended (rough: tens of ms); the exact onset and end come from the recording (``bench.room_latency``).
    """

    label: str
    text: str
    t_start: float
    t_end: float | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def wait(self, timeout: float = 30.0) -> Turn:
        """Block until the partner finished playing this turn."""
        if self.proc is not None:
            self.proc.wait(timeout)
        return self


class Recorder:
    """``parec`` of ``room.monitor`` (stereo s16le 16 kHz) to raw files; restartable after a server crash.

    Each run of parec is a segment with its start on the room's timeline (seconds since the room
    started, from the monotonic clock); ``now()`` is the current position in samples written / rate.
    """

    def __init__(self, room: Room) -> None:
        self.room = room
        self.segments: list[tuple[float, Path]] = []
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start a new segment."""
        path = self.room.dir / f"room-{len(self.segments)}.raw"
        out = path.open("wb")
        self.proc = self.room.spawn(["parec", "-d", "room.monitor", "--rate", str(RATE), "--channels", "2",
                                     "--format", "s16le", "--latency-msec", "10", "--raw"], stdout=out)
        out.close()
        self.segments.append((time.monotonic() - self.room.t0, path))
        deadline = time.monotonic() + 5
        while path.stat().st_size == 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the current segment (if any)."""
        if self.proc is not None:
            kill_group(self.proc, grace=1.0)
            self.proc = None

    def now(self) -> float:
        """Current time on the recording timeline (seconds)."""
        if not self.segments:
            return 0.0
        start, path = self.segments[-1]
        return start + path.stat().st_size / 4 / RATE

    def audio(self) -> np.ndarray:
        """The whole recording as int16 (n, 2), segments placed at their start times, gaps as silence."""
        parts: list[np.ndarray] = []
        pos = 0
        for start, path in self.segments:
            raw = np.fromfile(path, dtype=np.int16)
            data = raw[: raw.size // 2 * 2].reshape(-1, 2)
            begin = max(round(start * RATE), pos)
            if begin > pos:
                parts.append(np.zeros((begin - pos, 2), np.int16))
            parts.append(data)
            pos = begin + len(data)
        return np.concatenate(parts) if parts else np.zeros((0, 2), np.int16)

    def tail(self, seconds: float) -> np.ndarray:
        """The last ``seconds`` of the current segment, int16 (n, 2)."""
        if not self.segments:
            return np.zeros((0, 2), np.int16)
        path = self.segments[-1][1]
        size = path.stat().st_size // 4 * 4
        want = int(seconds * RATE) * 4
        with path.open("rb") as src:
            src.seek(max(0, size - want))
            raw = src.read(min(size, want))
        return np.frombuffer(raw, dtype=np.int16).reshape(-1, 2)


class Room:
    """A private PulseAudio server with the ``room`` null sink, its recorder and the partner.

    Use ``open_room(dir)`` (or the ``room`` fixture); ``close()`` stops everything it started.
    """

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.home = self.dir / "home"
        self.runtime = self.dir / "run"
        self.socket = self.runtime / "native"
        self.t0 = time.monotonic()
        self.server: subprocess.Popen | None = None
        self.children: list[subprocess.Popen] = []
        self.turns: list[Turn] = []
        self.recorder = Recorder(self)
        self._tracks: dict[str, Path] = {}
        for path in (self.home, self.runtime, self.home / ".config", self.home / ".local" / "share",
                     self.home / ".cache"):
            path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.runtime, 0o700)
        (self.home / ".asoundrc").write_text(ASOUNDRC)
        self.env = self._make_env()

    def _make_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MASSAGE_COACH_", "PULSE_", "ALSA_", "XDG_"))}
        env.update(HOME=str(self.home), XDG_RUNTIME_DIR=str(self.runtime),
                   PULSE_RUNTIME_PATH=str(self.runtime), PULSE_SERVER=f"unix:{self.socket}",
                   XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_DATA_HOME=str(self.home / ".local" / "share"),
                   XDG_CACHE_HOME=str(self.home / ".cache"),
                   PYTHONUNBUFFERED="1")
        return env

    # --- processes -------------------------------------------------------------------------------
    def spawn(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start ``argv`` in the room's environment, in its own process group; killed by ``close()``."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        kwargs.setdefault("stdout", subprocess.DEVNULL)
        kwargs.setdefault("stderr", subprocess.DEVNULL)
        env = dict(self.env, **kwargs.pop("env", {}))
        proc = subprocess.Popen(list(argv), env=env, start_new_session=True, **kwargs)
        self.children.append(proc)
        return proc

    def run(self, *argv: str, timeout: float = 10.0, check: bool = True) -> subprocess.CompletedProcess:
        """Run a short command (e.g. ``pactl``) in the room's environment and return its result."""
        return subprocess.run(list(argv), env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=check, start_new_session=True)

    def pactl(self, *args: str, check: bool = True) -> str:
        """``pactl ARGS`` against the room's server; its stdout."""
        return self.run("pactl", *args, check=check).stdout

    # --- the server ------------------------------------------------------------------------------
    def start_server(self, timeout: float = 10.0) -> None:
        """Start (or restart) the server with the room's script; raise RuntimeError if it does not come up."""
        script = self.dir / "room.pa"
        script.write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            f"load-module module-null-sink sink_name=room norewinds=1 rate={RATE} channels=2 "
            "sink_properties=device.description=room\n"
            f"load-module module-null-sink sink_name=speaker norewinds=1 rate={RATE} channels=2 "
            "sink_properties=device.description=speaker\n"
            "load-module module-loopback source=speaker.monitor sink=room latency_msec=30\n"
            "set-default-sink speaker\nset-default-source room.monitor\n")
        log = (self.dir / "pulseaudio.log").open("ab")
        self.server = self.spawn(["pulseaudio", "-n", "-F", str(script), "--daemonize=no",
                                  "--exit-idle-time=-1", "--system=false", "--use-pid-file=no",
                                  "--disable-shm=yes", "--realtime=no",
                                  "--high-priority=no", "--log-target=stderr"], stderr=log, stdout=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                break
            if self.socket.exists() and self.run("pactl", "info", check=False).returncode == 0:
                return
            time.sleep(0.05)
        tail = (self.dir / "pulseaudio.log").read_text(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"PulseAudio did not start: {tail[0] if tail else 'no log'}")

    def kill_server(self) -> None:
        """Kill the server at once (SIGKILL), as a crashed server or an unplugged sound device does."""
        if self.server is not None:
            kill_group(self.server, grace=0.0)
            self.server = None
        self.recorder.stop()
        self.socket.unlink(missing_ok=True)

    def restart_server(self) -> None:
        """Start the server again after ``kill_server`` and resume recording."""
        self.start_server()
        self.recorder.start()

    def open(self) -> Room:
        """Start the server and the recorder."""
        self.start_server()
        self.recorder.start()
        return self

    def close(self) -> None:
        """Stop every child (newest first), the recorder and the server; safe to call twice."""
        self.recorder.stop()
        for proc in reversed(self.children):
            kill_group(proc)
        self.children.clear()
        self.server = None

    # --- what is in the room ---------------------------------------------------------------------
    def now(self) -> float:
        """Seconds on the room recording's timeline."""
        return self.recorder.now()

    def mic_streams(self) -> list[str]:
        """Recording streams of clients other than the harness's own recorder (i.e. the coach's mic); the
        streams of modules (loopback, echo-cancel: no client) are left out."""
        lines = [line for line in self.pactl("list", "short", "source-outputs", check=False).splitlines()
                 if len(line.split("\t")) > 2 and line.split("\t")[2] != "-"]
        ours = set()
        for block in self.pactl("list", "source-outputs", check=False).split("Source Output #")[1:]:
            if 'application.process.binary = "parec"' in block or 'application.name = "parec"' in block:
                ours.add(block.split()[0])
        return [line for line in lines if line.split() and line.split()[0] not in ours]

    def wait_for_mic(self, timeout: float = 20.0) -> bool:
        """Wait until some client (the coach's microphone) records from the server."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.mic_streams():
                return True
            time.sleep(0.1)
        return False

    def track(self, key: str, make) -> Path:
        """The partner's stereo WAV for ``make()`` (int16 mono at 16 kHz), made once per ``key``."""
        if key not in self._tracks:
            path = self.dir / f"partner-{len(self._tracks)}.wav"
            self._tracks[key] = write_wav(path, partner_track(make()))
        return self._tracks[key]

    def play_file(self, label: str, path: Path, text: str = "", wait: bool = True) -> Turn:
        """The partner plays a stereo WAV (left channel = partner) into the room; returns the Turn."""
        turn = Turn(label, text, self.now())
        turn.proc = self.spawn(["paplay", "-d", "room", "--latency-msec", "20", str(path)])
        self.turns.append(turn)
        if wait:
            self.finish(turn)
        return turn

    def play(self, label: str, mono: np.ndarray, wait: bool = True) -> Turn:
        """The partner plays ``mono`` (int16, 16 kHz, e.g. ``music()``) into the room."""
        return self.play_file(label, self.track(f"{label}|{id(mono)}", lambda: mono), "", wait)

    def say(self, text: str, label: str | None = None, wait: bool = True, voice: str = "en-us") -> Turn:
        """The partner says ``text`` (espeak-ng ``voice``) into the room; ``label`` names it in the log."""
        path = self.track(f"say|{voice}|{text}", lambda: espeak(text, voice))
        return self.play_file(label or text, path, text, wait)

    def finish(self, turn: Turn, timeout: float = 60.0) -> Turn:
        """Wait for ``turn`` to end playing and note its end time."""
        turn.wait(timeout)
        turn.t_end = self.now()
        return turn

    def levels(self, seconds: float = 0.3) -> tuple[float, float]:
        """Loudest 10 ms frame (RMS, fraction of full scale) of (partner, coach) in the last ``seconds``."""
        tail = self.recorder.tail(seconds).astype(np.float64)
        frames = len(tail) // 160
        if not frames:
            return 0.0, 0.0
        tail = tail[: frames * 160]
        partner = (tail[:, 0] - tail[:, 1]).reshape(frames, 160)
        coach = tail[:, 1].reshape(frames, 160)
        loudest = [float(np.sqrt(np.mean(x**2, axis=1)).max()) / 32768 for x in (partner, coach)]
        return loudest[0], loudest[1]

    def wait_coach(self, speaking: bool, timeout: float = 20.0, hold: float = 0.6,
                   threshold: float = 0.003) -> bool:
        """Wait until the coach is heard (``speaking``) or has been quiet for ``hold`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            coach = self.levels(0.05 if speaking else hold)[1]
            if (coach > threshold) == speaking and self.now() > hold:
                return True
            time.sleep(0.03)
        return False

    def save(self, path: Path) -> Path:
        """Write the room recording (left = partner + coach, right = coach) as a WAV file."""
        return write_wav(Path(path), self.recorder.audio())


def open_room(directory: Path) -> Room:
    """A started room in ``directory``; pytest.skip (one line, with the reason) if no server can start."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    room = Room(directory)
    try:
        room.open()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        room.close()
        pytest.skip(f"virtual room: cannot start a PulseAudio server here: {exc}")
    return room


@pytest.fixture
def room(tmp_path: Path) -> Iterator[Room]:
    """A started virtual room for one test; closed (every child killed) afterwards, pass or fail."""
    r = open_room(tmp_path)
    try:
        yield r
    finally:
        close_and_keep(r, tmp_path.name)


def close_and_keep(room: Room, name: str) -> None:
    """Close ``room``; with ``ROOM_KEEP=DIR`` set, keep its recording as ``DIR/<name>.wav``."""
    room.close()
    keep = os.environ.get("ROOM_KEEP")
    if keep and room.recorder.segments:
        room.save(Path(keep) / f"{name}.wav")

