"""audio.echo_cancel: module-echo-cancel loaded and unloaded on a private PulseAudio server (the virtual
room), an existing pair reused, reloaded after a server restart, PortAudio streams opened after the
environment is set land on the echo-cancelled devices, and one-line reasons when it cannot be set up."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from audio.echo_cancel import SINK_NAME, SOURCE_NAME, EchoCanceller, parse_args, parse_info
from tests.room import REPO, Room, room

__all__ = ["room"]  # the fixture, imported for pytest


def canceller(room: Room, mode: str = "auto") -> EchoCanceller:
    """An EchoCanceller talking to the room's server, with its own environment dict."""
    env: dict[str, str] = {}
    return EchoCanceller(mode, run=lambda args: room.run("pactl", *args, check=False), environ=env)


def modules(room: Room) -> list[str]:
    """``name args`` of every module loaded on the room's server."""
    return [" ".join(line.split("\t")[1:]) for line in room.pactl("list", "short", "modules").splitlines()]


def names(room: Room, kind: str) -> list[str]:
    return [line.split("\t")[1] for line in room.pactl("list", "short", kind).splitlines()]


def test_parsers() -> None:
    info = parse_info("Server Name: pulseaudio\nDefault Sink: speaker\nDefault Source: room.monitor\n")
    assert (info.name, info.default_sink, info.default_source) == ("pulseaudio", "speaker", "room.monitor")
    args = parse_args('source_master=a sink_master=b source_properties="device.description=x y" '
                      "aec_method=webrtc")
    assert args == {"source_master": "a", "sink_master": "b", "source_properties": "device.description=x y",
                    "aec_method": "webrtc"}


@pytest.mark.room
def test_loaded_for_the_session_and_unloaded_after(room: Room) -> None:
    before = modules(room)
    with canceller(room) as echo:
        assert echo.active, echo.reason
        assert (echo.source, echo.sink) == (SOURCE_NAME, SINK_NAME)
        loaded = [m for m in modules(room) if m.startswith("module-echo-cancel")]
        assert len(loaded) == 1
        assert "source_master=room.monitor" in loaded[0] and "sink_master=speaker" in loaded[0]
        assert "aec_method=webrtc" in loaded[0]
        assert SOURCE_NAME in names(room, "sources") and SINK_NAME in names(room, "sinks")
        assert echo.environ == {"PULSE_SOURCE": SOURCE_NAME, "PULSE_SINK": SINK_NAME}
        assert echo.describe() == f"on ({SOURCE_NAME})"
    assert modules(room) == before
    assert echo.environ == {}, "the environment is restored"


@pytest.mark.room
def test_unloaded_when_the_block_fails(room: Room) -> None:
    with pytest.raises(KeyboardInterrupt), canceller(room) as echo:
        assert echo.active
        raise KeyboardInterrupt
    assert not [m for m in modules(room) if m.startswith("module-echo-cancel")]


@pytest.mark.room
def test_an_existing_pair_is_used_and_left_alone(room: Room) -> None:
    room.pactl("load-module", "module-echo-cancel", "source_master=room.monitor", "sink_master=speaker",
               "aec_method=webrtc", "source_name=user_mic", "sink_name=user_out")
    with canceller(room) as echo:
        assert (echo.active, echo.source, echo.sink) == (True, "user_mic", "user_out")
        assert len([m for m in modules(room) if m.startswith("module-echo-cancel")]) == 1
    assert "user_mic" in names(room, "sources"), "the user's module is still loaded"


@pytest.mark.room
def test_loaded_again_after_a_server_restart(room: Room) -> None:
    echo = canceller(room)
    try:
        assert echo.start()
        room.kill_server()
        echo.ensure()  # no server: nothing to do yet
        assert echo.active
        room.restart_server()
        echo.ensure()
        assert echo.active and SOURCE_NAME in names(room, "sources")
    finally:
        echo.close()
    assert not [m for m in modules(room) if m.startswith("module-echo-cancel")]


@pytest.mark.room
def test_reasons_when_it_cannot_be_set_up(room: Room, tmp_path: Path) -> None:
    assert not canceller(room, "off").start()
    room.pactl("set-default-sink", "room")
    echo = canceller(room)
    assert not echo.start()
    assert "monitor of the speaker" in echo.reason and echo.environ == {}
    missing = EchoCanceller(pactl=str(tmp_path / "no-pactl"), environ={})
    assert not missing.start() and "pactl not found" in missing.reason


def test_no_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PULSE_SERVER", f"unix:{tmp_path}/nowhere")
    echo = EchoCanceller(environ={})
    assert not echo.start()
    assert echo.reason.startswith(("no PulseAudio/PipeWire server", "pactl not found")), echo.reason
    assert echo.describe().startswith("off (")


@pytest.mark.room
def test_portaudio_streams_open_on_the_echo_cancelled_devices(room: Room) -> None:
    """In the app's process: set up, then the microphone and the speaker opened afterwards (PortAudio ->
    ALSA pulse plugin) record from / play into the echo-cancel pair; at exit the module is gone."""
    script = textwrap.dedent("""
        import json, sys, time
        from audio.echo_cancel import EchoCanceller, echo_cancelled_microphone
        from audio.tts_player import SoundPlayer
        with EchoCanceller() as echo:
            mic = echo_cancelled_microphone(echo, device=echo.device("input", None))
            player = SoundPlayer(echo.device("output", None))
            print(json.dumps([echo.active, echo.reason]), flush=True)
            sys.stdin.readline()
            mic.close()
            player.close()
    """)
    app = room.spawn([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     cwd=str(REPO), env={"PYTHONPATH": str(REPO)})
    assert app.stdout is not None and app.stdin is not None
    active, reason = json.loads(app.stdout.readline() or "[false, \"no output\"]")
    assert active, reason
    sources = dict(line.split("\t")[:2] for line in room.pactl("list", "short", "sources").splitlines())
    sinks = dict(line.split("\t")[:2] for line in room.pactl("list", "short", "sinks").splitlines())
    recording = [sources.get(line.split("\t")[1]) for line in room.mic_streams()]
    inputs = room.pactl("list", "short", "sink-inputs").splitlines()
    playing = [sinks.get(line.split("\t")[1]) for line in inputs if line.split("\t")[2] != "-"]
    assert recording == [SOURCE_NAME]
    assert playing == [SINK_NAME]
    app.stdin.write(b"\n")
    app.stdin.flush()
    assert app.wait(20) == 0
    assert not [m for m in modules(room) if m.startswith("module-echo-cancel")]


def test_residual_gate_silences_only_quiet_audio_outside_speech() -> None:
    from audio.echo_cancel import ResidualGate

    def chunk(dbfs: float) -> bytes:
        t = np.arange(640) / 16000
        return (np.sin(2 * np.pi * 300 * t) * 32768 * 10 ** (dbfs / 20) * 2**0.5).astype("<i2").tobytes()

    gate = ResidualGate(floor_db=-60.0, hold_s=0.08)
    residual, speech = chunk(-80), chunk(-30)
    assert gate.apply(residual) == bytes(len(residual))
    assert gate.apply(speech) == speech
    assert gate.apply(residual) == residual and gate.apply(residual) == residual, "held after speech"
    assert gate.apply(residual) == bytes(len(residual)) and gate.gated == 2


def test_session_reasons_for_leaving_it_off() -> None:
    from skill.app.engines import echo_cancelling
    from skill.app.settings import Settings

    cases = [(Settings(echo_cancel="off"), True, "off (turned off)"),
             (Settings(echo_cancel="auto"), False, "off (typed commands)"),
             (Settings(echo_cancel="auto", speech="print"), True, "off (the coach's speech is not played)"),
             (Settings(echo_cancel="server", device="hw:1"), True,
              "off (a microphone was chosen with --device)"),
             (Settings(echo_cancel="app"), True, "off (the app cancels its own voice itself)")]
    for settings, enabled, described in cases:
        with echo_cancelling(settings, enabled=enabled) as echo:
            assert echo.describe() == described


def test_setting_and_flag() -> None:
    from skill.app.cli import build_parser, settings_from_args
    from skill.app.settings import load_settings

    assert load_settings({}, env={}).echo_cancel == "app"
    assert load_settings({}, env={"MASSAGE_COACH_ECHO_CANCEL": "auto"}).echo_cancel == "server", "old name"
    assert load_settings({}, env={"MASSAGE_COACH_ECHO_CANCEL": "Off"}).echo_cancel == "off"
    for flag, setting in (("auto", "server"), ("server", "server"), ("app", "app"), ("off", "off")):
        args = build_parser().parse_args(["session", "--echo-cancel", flag])
        assert settings_from_args(args).echo_cancel == setting
