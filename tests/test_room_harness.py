"""Self-test of the virtual room: what the partner plays lands in the room recording whole (start not
clipped), the coach side (ALSA clients) lands on both channels, PortAudio sees the room as its default
device and hears the partner, and closing the room leaves no process behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bench.room_latency import first_sound, frame_db, segments, split_room
from tests.room import RATE, Room, espeak, open_room, partner_track, read_wav, room, write_wav

__all__ = ["room"]  # the fixture, imported for pytest

pytestmark = pytest.mark.room


def test_partner_sound_lands_in_the_room_whole(room: Room) -> None:
    turn = room.say("next step")
    room.wait_coach(False, timeout=2, hold=0.3)
    partner, coach = split_room(room.recorder.audio())
    track = read_wav(room.track("say|en-us|next step", lambda: None))[0][:, 0].astype(np.float64)
    first = np.flatnonzero(partner)[0]
    head = np.flatnonzero(track)[0]
    got = partner[first - head: first - head + len(track)]
    assert np.array_equal(got, track), "the partner's WAV is in the recording sample for sample"
    assert not coach.any(), "nothing but the partner sounded"
    assert turn.t_start - 0.5 < first / RATE < turn.t_end + 0.1


def test_alsa_clients_sound_on_both_channels(room: Room, tmp_path) -> None:
    mono = espeak("hello there")
    write_wav(tmp_path / "coach.wav", mono)
    room.run("aplay", "-q", str(tmp_path / "coach.wav"), timeout=20)
    room.wait_coach(False, timeout=2, hold=0.3)
    partner, coach = split_room(room.recorder.audio())
    assert not partner.any()
    spoken = segments(coach)
    assert spoken, "aplay through the ALSA pulse plugin was heard in the room"
    source = segments(mono.astype(np.float64))
    assert spoken[-1][1] - spoken[0][0] == pytest.approx(source[-1][1] - source[0][0], abs=0.03)


def test_portaudio_microphone_hears_the_room(room: Room, tmp_path) -> None:
    script = textwrap.dedent("""
        import json, sys, numpy as np, sounddevice as sd
        names = [d["name"] for d in sd.query_devices()]
        data = sd.rec(int(4 * 16000), samplerate=16000, channels=1, dtype="int16", device="default")
        sd.wait()
        np.save(sys.argv[1], data[:, 0])
        print(json.dumps(names))
    """)
    mic = room.spawn([sys.executable, "-c", script, str(tmp_path / "mic.npy")], stdout=subprocess.PIPE)
    deadline_ok = room.wait_for_mic(timeout=10)
    assert deadline_ok, "the PortAudio client opened a recording stream on the room's server"
    room.say("stop")
    out, _ = mic.communicate(timeout=20)
    names = json.loads(out)
    assert "default" in names and "pulse" in names
    heard = np.load(tmp_path / "mic.npy").astype(np.float64)
    partner = split_room(room.recorder.audio())[0]
    # the mic gets the room downmixed to mono: the partner at half level
    assert frame_db(heard).max() == pytest.approx(frame_db(partner).max() - 6, abs=1.5)
    assert first_sound(heard, 0.0) is not None


def test_closing_the_room_stops_everything(tmp_path) -> None:
    room = open_room(tmp_path)
    player = room.say("what are the warning signs", wait=False).proc
    server = room.server
    room.close()
    assert server is not None and server.poll() is not None
    assert player is not None and player.poll() is not None
    assert room.recorder.proc is None


def test_server_restart_keeps_the_timeline(room: Room) -> None:
    room.say("next")
    room.kill_server()
    assert room.run("pactl", "info", check=False).returncode != 0
    room.restart_server()
    room.say("slower")
    audio = room.recorder.audio()
    found = segments(split_room(audio)[0])
    assert len(found) == 2 and found[1][0] > found[0][1]
    assert len(room.recorder.segments) == 2


def test_partner_track_is_left_only() -> None:
    track = partner_track(np.array([0, 1000, -2000, 0], dtype=np.int16))
    assert track[:, 1].tolist() == [0, 0, 0, 0]
    assert np.abs(track[:, 0]).max() == pytest.approx(0.6 * 32767, abs=1)
