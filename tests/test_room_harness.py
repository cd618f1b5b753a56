"""Self-test of the virtual room: what the partner plays lands in the room recording whole (start not
clipped), the coach side (ALSA clients) lands on both channels, PortAudio sees the room as its default
device and hears the partner, and closing the room leaves no process behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from bench.room_latency import departure, find_commands, first_sound, segments, split_room
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
    energy_db = [10 * np.log10(np.sum(x**2)) for x in (heard, partner)]
    assert energy_db[0] == pytest.approx(energy_db[1] - 6.02, abs=0.5)
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


def test_departure_finds_a_cut_and_ignores_drift() -> None:
    passage = espeak("See a doctor right away if your partner has any of these: severe pain that does not "
                     "ease, a fall or other injury in the recent past, pain that is worse at night.")
    ref = passage.astype(np.float64)
    on = first_sound(ref, 0.0)
    cut = round(2.0 * RATE)
    reply = espeak("Stop pressing right now and ease off.").astype(np.float64)
    interrupted = np.concatenate([ref[:cut], np.zeros(round(0.15 * RATE)), reply])
    found = departure(interrupted[round(on * RATE):], ref[round(on * RATE):], 1.5 - on)
    assert found is not None and 2.0 <= on + found < 2.06  # at the cut, or the next sound it silenced
    drifted = np.concatenate([ref[: RATE], np.zeros(round(0.02 * RATE)), ref[RATE:]])
    assert departure(drifted[round(on * RATE):], ref[round(on * RATE):], 1.5 - on) is None
    hiccup = np.concatenate([ref[:cut], np.zeros(round(0.2 * RATE)), ref[cut:]])  # a playback underrun
    assert departure(hiccup[round(on * RATE):], ref[round(on * RATE):], 1.5 - on) is None


def test_barge_in_measurement_on_a_known_cut(room: Room, tmp_path) -> None:
    """A stand-in coach (aplay, through ALSA like the app) reads a passage twice; the second time the
    harness kills it 0.2 s after the partner's "stop": the measurement finds the cut where it was made."""
    passage = espeak("See a doctor right away if your partner has any of these: severe pain that does not "
                     "ease, a fall or other injury in the recent past, pain that is worse at night.")
    wav = write_wav(tmp_path / "coach.wav", passage)
    room.run("aplay", "-q", str(wav), timeout=30)
    time.sleep(1.0)
    reader = room.spawn(["aplay", "-q", str(wav)])
    assert room.wait_coach(True, 5)
    time.sleep(1.5)
    barge = room.say("stop")
    time.sleep(0.2)
    cut_at = room.now()
    reader.kill()
    room.wait_coach(False, 5, hold=0.3)
    partner, coach = split_room(room.recorder.audio())
    spoken = segments(coach, bridge_s=0.6)
    assert len(spoken) == 2, spoken
    (ref_on, ref_off), (on2, _) = spoken
    stop = find_commands(partner, [("stop", barge.t_start, barge.t_end)])[0]
    moved = departure(coach[round(on2 * RATE):], coach[round(ref_on * RATE): round(ref_off * RATE)],
                      stop.start - on2)
    assert moved is not None
    # found at the cut (plus the ~40 ms speaker loopback), or, when the cut fell into a pause between
    # words, where the reference speaks again: a cut is only visible where there would have been sound
    assert -0.05 < on2 + moved - cut_at < 0.45
    assert on2 + moved > stop.end
