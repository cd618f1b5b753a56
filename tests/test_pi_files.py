"""The Raspberry Pi files: the systemd user service, the set-up script's package list, scripts/pi-check's
helpers (apt sources, WAV conversion, JSON parsing) and the figures it wrote. Fast; no emulation here
(scripts/pi-check itself takes 20-40 minutes and is run by hand, see its --help)."""

from __future__ import annotations

import array
import configparser
import glob
import itertools
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVICE = REPO / "deploy" / "massage-coach.service"
SETUP = REPO / "scripts" / "setup.sh"
PI_CHECK = REPO / "scripts" / "pi-check"
PI_JSON = REPO / "bench" / "results" / "pi.json"

sys.path.insert(0, str(REPO / "scripts"))
from pi import hostcfg, smoke, wavs  # noqa: E402

# what a minimal Raspberry Pi OS (bookworm, arm64) image lacks for the coach (found with scripts/pi-check)
PI_NEEDS = {
    "libatomic1": "vosk's libvosk.so: 'libatomic.so.1: cannot open shared object file' without it",
    "espeak-ng": "the espeak speaker and the test speech",
    "libespeak-ng1": "pyttsx3's espeak driver",
    "libportaudio2": "sounddevice (microphone and speech playback)",
    "libasound2-plugins": "ALSA clients reach PulseAudio/PipeWire",
    "alsa-utils": "an ALSA client (aplay/arecord) to check the USB microphone",
    "pulseaudio-utils": "a PulseAudio client (pactl)",
    "python3-venv": "the .venv",
}


def service() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(SERVICE)
    return parser


def wanted_map() -> dict[str, str]:
    """The ``wanted`` map of scripts/setup.sh: Debian package -> proof file (glob)."""
    text = SETUP.read_text()
    block = re.search(r"declare -A wanted=\((.*?)\n\)", text, re.S)
    assert block, "scripts/setup.sh has no 'declare -A wanted=(...)' block"
    return dict(re.findall(r"^\s*\[([\w.+-]+)\]=(\S+)", block.group(1), re.M))


# --- the systemd user service ------------------------------------------------------------------------

def test_service_file_has_the_sections_a_user_unit_needs():
    unit = service()
    assert {"Unit", "Service", "Install"} <= set(unit.sections())
    assert unit["Unit"]["Description"]
    assert unit["Install"]["WantedBy"] == "default.target", "a user service starts with the user manager"
    assert unit["Service"].get("Restart") == "on-failure"
    assert "User" not in unit["Service"], "a user unit runs as its user; User= belongs to system units"


def test_service_runs_the_venv_console_script_in_the_project():
    unit = service()["Service"]
    argv = shlex.split(unit["ExecStart"])
    workdir = unit["WorkingDirectory"]
    assert argv[0] == f"{workdir}/.venv/bin/massage-coach"
    assert workdir.startswith("%h/"), "the project lives in the user's home (%h)"
    scripts = (REPO / "pyproject.toml").read_text().split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^massage-coach\s*=\s*"[\w.]+:\w+"', scripts, re.M), "no massage-coach console script"


def test_service_command_line_is_one_the_cli_accepts():
    argv = shlex.split(service()["Service"]["ExecStart"])
    assert argv[1] == "session", "at boot the coach runs a live session"
    res = subprocess.run([sys.executable, "-m", "skill", *argv[1:], "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-500:]


def test_service_needs_no_desktop_session():
    text = SERVICE.read_text()
    assert "DISPLAY" not in text and "graphical-session" not in text


# --- the set-up script's system packages ---------------------------------------------------------------

def test_setup_installs_what_a_minimal_pi_image_lacks():
    missing = sorted(set(PI_NEEDS) - set(wanted_map()))
    why = "; ".join(PI_NEEDS[m] for m in missing)
    assert not missing, f"scripts/setup.sh does not install {missing}: {why}"


def test_setup_proof_files_are_architecture_neutral():
    for pkg, proof in wanted_map().items():
        assert not re.search(r"(x86_64|aarch64|arm-linux|i386)-linux-gnu", proof), (pkg, proof)


def _installed(pkg: str) -> bool:
    res = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", pkg], capture_output=True,
                         text=True)
    return res.returncode == 0 and res.stdout.startswith("ii")


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")
def test_setup_proof_files_exist_for_installed_packages():
    """A proof path that does not match would make every ./run.sh call apt-get (slow, needs sudo)."""
    for pkg, proof in wanted_map().items():
        if _installed(pkg):
            assert glob.glob(proof), f"{pkg} is installed but its proof {proof} matches nothing"


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")
def test_setup_proof_files_belong_to_their_package():
    """A proof that another package ships (e.g. venv/ is in libpython3-stdlib, not python3-venv) would let
    set-up skip a package the machine lacks."""
    for pkg, proof in wanted_map().items():
        if not _installed(pkg):
            continue
        deps = subprocess.run(["dpkg-query", "-W", "-f", "${Depends}", pkg], capture_output=True,
                              text=True).stdout
        allowed = {pkg} | {d.strip().split()[0] for d in re.split(r"[,|]", deps) if d.strip()}
        owners = set()
        for path in glob.glob(proof):
            out = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():
                owners |= {o.strip().split(":")[0] for o in line.split(": ")[0].split(",")}
        assert owners & allowed, f"{pkg}: {proof} belongs to {sorted(owners)}, not {pkg} or its dependencies"


# --- scripts/pi-check and its helpers -------------------------------------------------------------------

def test_pi_check_is_executable_and_kept_out_of_the_default_ci():
    assert os.access(PI_CHECK, os.X_OK)
    for path in (REPO / ".ci" / "run", REPO / "run.sh"):
        assert "pi-check" not in path.read_text()
    res = subprocess.run([sys.executable, str(PI_CHECK), "--help"], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and "--keep" in res.stdout


def test_no_registry_host_is_written_into_the_pi_files():
    """Mirror and index come from the build machine's own configuration at run time."""
    files = [PI_CHECK, SERVICE, *sorted((REPO / "scripts" / "pi").glob("*.py"))]
    for path in files:
        text = path.read_text()
        for host in ("debian.org", "pypi.org", "pythonhosted.org", "raspberrypi.com", "raspberrypi.org"):
            assert host not in text, f"{path.name} names {host}"


def test_apt_sources_are_read_from_deb822_and_one_line_files(tmp_path):
    apt = tmp_path / "etc" / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: https://vendor.invalid/apt\nSuites: bookworm\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/vendor.gpg\n\n"
        "Types: deb\nURIs: http://amd64-only.invalid/debian\nSuites: bookworm\nComponents: main\n"
        "Architectures: amd64\n")
    (apt / "sources.list").write_text("deb http://old.invalid/debian-security bookworm-security main\n"
                                      "# deb http://commented.invalid/debian bookworm main\n"
                                      "deb-src http://src.invalid/debian bookworm main\n")
    found = [(s.uri, s.suite) for s in hostcfg.apt_sources(str(tmp_path))]
    assert found == [("http://mirror.invalid/debian", "bookworm"),
                     ("http://mirror.invalid/debian", "bookworm-updates"),
                     ("http://old.invalid/debian-security", "bookworm-security")]


def test_local_pip_paths_are_found_in_settings():
    paths = hostcfg._local_paths("file:///srv/pypi/simple /opt/wheels https://index.invalid/simple")
    assert paths == [Path("/srv/pypi"), Path("/opt/wheels")]


def test_resampling_keeps_pitch_and_loudness():
    src_rate, freq = 22050, 440.0
    tone = array.array("h", (round(10000 * math.sin(2 * math.pi * freq * n / src_rate))
                             for n in range(src_rate // 4)))
    out = wavs.resample(tone, src_rate, 16000)
    assert abs(len(out) - 4000) <= 1
    body = out[200:-200]
    crossings = sum(1 for a, b in itertools.pairwise(body) if (a < 0) != (b < 0))
    assert crossings / 2 / (len(body) / 16000) == pytest.approx(freq, rel=0.02)
    assert max(body) == pytest.approx(10000, rel=0.03)


def test_recognize_json_lines_are_parsed_per_file():
    text = ('{"file": "/x/next_stroke.wav", "text": "next stroke", "intent": "next"}\n'
            'some log line\n{"file": "/x/b.wav", "intent": {"name": "stop"}}\n')
    records = smoke.json_records(text)
    assert [(smoke.file_of(r), smoke.intent_of(r)) for r in records] == [("next_stroke.wav", "next"),
                                                                         ("b.wav", "stop")]


# --- the figures scripts/pi-check wrote ------------------------------------------------------------------

@pytest.mark.skipif(not PI_JSON.is_file(), reason="bench/results/pi.json not written yet (scripts/pi-check)")
def test_pi_figures_have_notes_and_stay_within_the_memory_limit():
    data = json.loads(PI_JSON.read_text())
    assert data["notes"]
    native = data["peak_rss_mb"]["native_x86_64"]
    assert native and all(v is None or v <= data["rss_limit_mb"] for v in native.values()), native
    assert data["pi4_estimate"]["factor_source"]
