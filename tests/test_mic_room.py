"""Live microphone and speaker tests in the virtual room (a private PulseAudio server, tests/room.py).

Every client runs in a child process: PortAudio enumerates devices once, when it starts, so a child
started with the room's environment (``PULSE_SERVER``, an ``.asoundrc`` routing ALSA's default to pulse)
is what sees the room's devices. Time stamps from the children are ``time.monotonic()``, the clock the
room's recording timeline is built on, so the recording measures what was really played.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from bench.room_latency import segments, split_room
from tests.room import RATE, REPO, Room, room

__all__ = ["room"]  # the fixture, imported for pytest

pytestmark = pytest.mark.room


def child(room: Room, code: str, *args: str) -> subprocess.Popen:
    """Run ``code`` in the room's environment with the project importable; stdout is a pipe of lines."""
    return room.spawn([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, text=True, cwd=REPO, env={"PYTHONPATH": str(REPO)})


def read_line(proc: subprocess.Popen, timeout: float = 20.0) -> dict:
    """The next JSON line the child prints (its stderr tail on failure)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("{"):
            return json.loads(line)
        if not line and proc.poll() is not None:
            break
    err = proc.stderr.read()[-1500:] if proc.stderr else ""
    raise AssertionError(f"child printed no result: {err}")


MIC_READS = """
    import json, sys, time
    from audio.mic import MicrophoneSource, rms
    mic = MicrophoneSource(chunk_ms=40, device_rate=int(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(json.dumps({"ready": mic.device_name, "rate": mic.rate}), flush=True)
    loud, count, sizes, t_end = 0, 0, set(), time.monotonic() + 8
    for chunk in mic.chunks():
        count += 1
        sizes.add(len(chunk))
        if rms(chunk) > 500:
            loud += 1
        if time.monotonic() > t_end or loud > 10:
            break
    mic.close()
    print(json.dumps({"count": count, "loud": loud, "sizes": sorted(sizes), "overflows": mic.overflows,
                      "dropped": mic.dropped}), flush=True)
"""


@pytest.mark.parametrize("device_rate", [None, 48000])
def test_microphone_hears_the_partner(room: Room, device_rate: int | None) -> None:
    proc = child(room, MIC_READS, *([str(device_rate)] if device_rate else []))
    ready = read_line(proc)
    assert ready["ready"] and ready["rate"] == (device_rate or 16000)  # 48 kHz: resampled with soxr
    assert room.wait_for_mic(10)
    room.say("stop whenever it hurts")
    result = read_line(proc)
    assert result["loud"] > 10, "speech played into the room reached MicrophoneSource"
    assert result["sizes"] == [1280]  # 40 ms of 16 kHz s16le, always
    assert result["dropped"] == 0


DEVICES = """
    import json
    from audio.devices import find_device, format_devices, list_devices
    from audio.errors import DeviceError
    out = {"listing": format_devices(list_devices())}
    out["by_name"] = find_device("PULSE", "input").name
    out["by_index"] = find_device(str(find_device("pulse", "input").index), "input").name
    out["default_out"] = find_device(None, "output").name
    try:
        find_device("no such mic", "input")
    except DeviceError as exc:
        out["missing"] = str(exc)
    print(json.dumps(out))
"""


def test_devices_are_listed_and_picked_by_index_or_name(room: Room) -> None:
    out = read_line(child(room, DEVICES))
    assert "pulse" in out["listing"] and "default" in out["listing"]
    assert out["by_name"] == out["by_index"] == "pulse"
    assert out["default_out"] == "default"
    assert "no microphone matching 'no such mic'" in out["missing"]


LOST_AND_BACK = """
    import json, time
    from audio.mic import MicrophoneSource, rms
    events = []
    mic = MicrophoneSource(chunk_ms=40, retry_s=0.5, stall_s=0.5,
                           on_status=lambda status, detail: events.append((status, detail)))
    print(json.dumps({"ready": True}), flush=True)
    during_loss, after_back_loud, t_end, told = 0, 0, time.monotonic() + 30, False
    for chunk in mic.chunks():
        state = events[-1][0] if events else "ok"
        if state == "lost":
            during_loss += 1
            assert chunk == bytes(len(chunk))
        if state == "back":
            if not told:
                print(json.dumps({"back": True}), flush=True)
                told = True
            if rms(chunk) > 500:
                after_back_loud += 1
        if after_back_loud > 5 or time.monotonic() > t_end:
            break
    mic.close()
    print(json.dumps({"events": events, "during_loss": during_loss, "loud_after_back": after_back_loud,
                      "losses": mic.losses}), flush=True)
"""


@pytest.mark.slow
def test_microphone_survives_the_device_vanishing(room: Room) -> None:
    proc = child(room, LOST_AND_BACK)
    read_line(proc)
    assert room.wait_for_mic(10)
    room.kill_server()  # as an unplugged USB microphone or a crashed sound server
    time.sleep(1.5)
    room.restart_server()
    read_line(proc, timeout=30)  # {"back": true}
    room.say("next step")
    result = read_line(proc, timeout=30)
    kinds = [status for status, _ in result["events"]]
    assert kinds[:2] == ["lost", "back"]
    assert "lost" in result["events"][0][1] and "\n" not in result["events"][0][1]
    assert result["during_loss"] > 5, "chunks() kept yielding (silence) while the device was gone"
    assert result["loud_after_back"] > 5, "audio flows again after the device came back"


SPEAKER = """
    import json, time
    from audio.echo_guard import EchoGuard
    from audio.tts import open_speaker
    speaker, why = open_speaker(engine="auto")
    guard = EchoGuard()
    speaker.add_listener(guard)
    out = {"why": why, "kind": type(speaker).__name__, "renderers": speaker.renderer.name}
    time.sleep(0.3)
    out["t_say"] = time.monotonic()
    speaker.say("Tell me to stop whenever it hurts.")
    out["finished"] = speaker.wait(20)
    out["guard_texts"] = guard.spoken_texts
    out["guard_allows_own_stop"] = guard.allow("stop", "stop", time.monotonic())
    time.sleep(0.5)
    long = ("Now glide both hands slowly up along the spine, from the lower back to the shoulders, "
            "keeping an even pressure with the flat of your palms the whole way up and back down again")
    samples, rate = speaker.renderer.render(long, speaker.voice)
    if samples.size == 0:  # a side render through the pyttsx3 worker came back empty once in CI: ask again
        samples, rate = speaker.renderer.render(long, speaker.voice)
    out["long_s"] = samples.size / rate
    speaker.say(long)
    deadline = time.monotonic() + 10
    while not guard.guarding(time.monotonic()) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.8)
    out["t_stop"] = time.monotonic()
    speaker.stop()
    out["speaking_after_stop"] = speaker.speaking()
    out["busy_after_stop"] = speaker.player.busy()
    out["wait_after_stop"] = speaker.wait(0)
    out["guard_speaking_after_stop"] = guard._speaking
    out["latencies"] = speaker.latencies
    out["device_latency"] = speaker.player.latency_s
    time.sleep(1.0)
    speaker.close()
    print(json.dumps(out), flush=True)
"""


def test_speaker_plays_into_the_room_and_stops_at_once(room: Room) -> None:
    out = read_line(child(room, SPEAKER), timeout=60)
    assert out["why"] is None and out["kind"] == "PlaybackSpeaker"
    assert out["finished"]
    assert out["guard_texts"] == ["tell me to stop whenever it hurts"]
    assert out["speaking_after_stop"] is False and out["busy_after_stop"] is False
    assert out["wait_after_stop"] is True and out["guard_speaking_after_stop"] is False
    coach = split_room(room.recorder.audio())[1]
    heard = segments(coach)
    assert len(heard) >= 2, "both utterances were heard in the room"
    first, last = heard[0], heard[-1]
    assert first[1] - first[0] > 1.0
    # the long sentence was cut off: far less of it sounded than its full length
    assert last[1] - last[0] < 0.6 * out["long_s"]
    t0 = room.t0
    say_to_sound = first[0] - (out["t_say"] - t0)
    stop_to_silence = last[1] - (out["t_stop"] - t0)
    print(f"\nsay() -> first sound in the room: {say_to_sound * 1000:.0f} ms; "
          f"say() -> first sample to PortAudio: {out['latencies'][0] * 1000:.0f} ms; "
          f"stop() -> silence: {stop_to_silence * 1000:.0f} ms; "
          f"device latency {out['device_latency'] * 1000:.0f} ms; renderers {out['renderers']}")
    assert RATE == 16000


SPEAKER_RESTART = """
    import json, sys
    from audio.tts import open_speaker
    speaker, why = open_speaker(engine="espeak")
    speaker.say("Before the restart.")
    print(json.dumps({"ready": speaker.wait(20)}), flush=True)
    sys.stdin.readline()
    speaker.say("After the restart.")
    finished = speaker.wait(20)
    print(json.dumps({"finished": finished, "reopens": speaker.player.reopens}), flush=True)
    speaker.close()
"""


@pytest.mark.slow
def test_speaker_reopens_the_output_after_the_server_restarted(room: Room) -> None:
    proc = room.spawn([sys.executable, "-c", textwrap.dedent(SPEAKER_RESTART)], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                      env={"PYTHONPATH": str(REPO)})
    assert read_line(proc)["ready"]
    room.kill_server()
    time.sleep(0.5)
    room.restart_server()
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    out = read_line(proc, timeout=30)
    assert out["finished"] and out["reopens"] == 1
    segment_start = room.recorder.segments[-1][0]
    coach = split_room(room.recorder.audio())[1]
    assert any(start > segment_start for start, _ in segments(coach)), "heard after the restart"
