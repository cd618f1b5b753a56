"""Offline by design: no command but ``download-model`` ever opens a network socket.

Two independent proofs:

- in-process: ``socket.socket`` (and name lookups) are replaced by guards that refuse the internet
  families (AF_INET, AF_INET6) and record every attempt; local sockets (AF_UNIX) stay allowed. Then the
  real commands run through ``skill.app.cli.main``: a full demo, ``recognize``, ``session --text``,
  ``history``, ``phrases``;
- whole program, child processes and native code included: the commands run under ``strace -f``; no
  internet socket may connect or send, or be bound anywhere but the loopback address.

One known, harmless exception: ``import vosk`` imports ``requests`` -> ``urllib3``, which at import time
creates an AF_INET6 socket and binds it to ``::1`` to learn whether the machine has IPv6
(``urllib3.util.connection._has_ipv6``). It never leaves the machine; the guard refuses it too (urllib3
copes) and counts it apart, as ``probes``.

``download-model`` is the one command that may use the network: under the guard it tries, and fails in
one line.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skill.app.cli import main
from tests.speech_fixtures import toy_model_path

ROOT = Path(__file__).resolve().parents[1]
TOY = toy_model_path()
INTERNET = (socket.AF_INET, socket.AF_INET6)


class NetworkAttempts(list):  # type: ignore[type-arg]
    """Every refused attempt: ``("socket", family)`` or ``("getaddrinfo", host)``; ``probes`` holds the
    refused loopback IPv6 probes of urllib3's import (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.probes: list[str] = []


def _is_urllib3_ipv6_probe() -> bool:
    frame = sys._getframe(2)  # the caller of GuardedSocket.__init__
    code = frame.f_code
    return code.co_name == "_has_ipv6" and "urllib3" in code.co_filename


@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[NetworkAttempts]:
    """Refuse internet sockets and name lookups in this process; yield the list of attempts."""
    attempts = NetworkAttempts()
    real_socket = socket.socket

    class GuardedSocket(real_socket):  # type: ignore[misc,valid-type]
        def __init__(self, family: Any = -1, type: Any = -1, proto: Any = -1, fileno: Any = None) -> None:
            fam = socket.AF_INET if family == -1 and fileno is None else family
            if fileno is None and fam in INTERNET:
                if _is_urllib3_ipv6_probe():
                    attempts.probes.append(socket.AddressFamily(fam).name)
                else:
                    attempts.append(("socket", socket.AddressFamily(fam).name))
                raise OSError(101, "network blocked by test_offline")
            super().__init__(family, type, proto, fileno)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(("getaddrinfo", host))
        raise socket.gaierror(socket.EAI_NONAME, "name lookup blocked by test_offline")

    def guarded_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(("create_connection", address))
        raise OSError(101, "network blocked by test_offline")

    monkeypatch.setattr(socket, "socket", GuardedSocket)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", guarded_connection)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for key in list(os.environ):
        if key.startswith("MASSAGE_COACH_") or key == "VOSK_MODEL_PATH":
            monkeypatch.delenv(key)
    yield attempts


def test_the_guard_refuses_internet_sockets_but_not_local_ones(no_network: NetworkAttempts) -> None:
    with pytest.raises(OSError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(OSError):
        socket.socket()  # the default family is AF_INET
    with pytest.raises(OSError):
        socket.create_connection(("example.org", 80), timeout=1)
    a, b = socket.socketpair()  # AF_UNIX: fine
    a.close()
    b.close()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM):
        pass
    assert [kind for kind, _ in no_network] == ["socket", "socket", "create_connection"]


def test_a_full_demo_opens_no_network_socket(no_network: NetworkAttempts, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.wav"
    assert main(["demo", "--model", str(TOY), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Demo over:" in text and "commands understood" in text and out.stat().st_size > 0
    assert list(no_network) == []
    assert set(no_network.probes) <= {"AF_INET6"}  # at most urllib3's loopback probe when vosk is imported


def test_recognize_opens_no_network_socket(no_network: NetworkAttempts, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from audio.synth import pad, synthesize
    from audio.wav import write_wav

    wav = write_wav(tmp_path / "next.wav", pad(synthesize("next stroke"), 0.3, 0.5))
    assert main(["recognize", "--engine", "vosk", "--model", str(TOY), "--json", str(wav)]) == 0
    assert '"intent": "next"' in capsys.readouterr().out
    assert main(["recognize", "--engine", "sphinx", str(wav)]) == 0
    assert list(no_network) == []


def test_typed_session_history_and_phrases_open_no_network_socket(
        no_network: NetworkAttempts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    journal = str(tmp_path / "journal")
    monkeypatch.setattr("sys.stdin", io.StringIO("start\nno\nno\nstart\nnext\nhold for ten seconds\nstop\n"))
    assert main(["session", "--text", "--journal", journal]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("status\nstop\n"))
    assert main(["session", "--text", "--speech", "print", "--journal", journal, "--resume"]) == 0
    assert main(["history", "--journal", journal]) == 0
    assert main(["phrases"]) == 0
    assert main(["models"]) == 0
    assert "Step 2 of 10" in capsys.readouterr().out
    assert list(no_network) == []


def test_download_model_is_the_one_command_that_tries_the_network(
        no_network: NetworkAttempts, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["download-model", "--dest", str(tmp_path / "models")])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("massage-coach: error:")]
    assert code != 0 and len(errors) == 1 and "network" in errors[0]
    assert "Traceback" not in err
    assert list(no_network), "download-model should have tried to reach the network"


# ----------------------------------------------------------------- whole program under strace -f
INET_SOCKET = re.compile(r"^(\d+)\s+socket\((?:AF|PF)_INET6?\b.*=\s*(\d+)$")
BIND = re.compile(r"^(\d+)\s+bind\((\d+),\s*\{sa_family=AF_INET6?,.*\}")
SENDS = re.compile(r"^\d+\s+(?:connect|sendto|sendmsg)\(\d+,\s*\{sa_family=AF_INET6?\b")
LOOPBACK = ('"::1"', '"127.0.0.1"')


def internet_use(trace: str) -> list[str]:
    """Lines of an ``strace -f`` log that use the network: a connect/send to an internet address, or an
    internet socket that is not only bound to the loopback address (urllib3's IPv6 probe)."""
    bad = [line for line in trace.splitlines() if SENDS.match(line)]
    pending: dict[tuple[str, str], str] = {}
    for line in trace.splitlines():
        if m := INET_SOCKET.match(line):
            pending[(m[1], m[2])] = line
        elif (m := BIND.match(line)) and any(addr in line for addr in LOOPBACK):
            pending.pop((m[1], m[2]), None)
        elif (m := BIND.match(line)):
            bad.append(line)
    return bad + list(pending.values())


def test_internet_use_reads_strace_logs() -> None:
    probe = ('7 socket(AF_INET6, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3\n'
             '7 bind(3, {sa_family=AF_INET6, sin6_port=htons(0), sin6_flowinfo=htonl(0), '
             'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0\n'
             '7 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 4\n'
             '7 connect(4, {sa_family=AF_UNIX, sun_path="/run/x"}, 110) = 0\n')
    assert internet_use(probe) == []
    dial = ('8 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP) = 5\n'
            '8 connect(5, {sa_family=AF_INET, sin_port=htons(443), '
            'sin_addr=inet_addr("1.2.3.4")}, 16) = -1\n')
    assert len(internet_use(dial)) == 2
    assert len(internet_use("9 socket(AF_INET, SOCK_DGRAM, IPPROTO_IP) = 6\n")) == 1


def _strace(tmp_path: Path, *args: str, stdin: str = "") -> tuple[subprocess.CompletedProcess[str], str]:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    trace = tmp_path / "trace.txt"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MASSAGE_COACH_") and k != "VOSK_MODEL_PATH"}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=socket,connect,bind,sendto,sendmsg",
                           "-o", str(trace), sys.executable, "-m", "skill", *args], input=stdin,
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, check=False)
    if not trace.exists() or "ptrace" in proc.stderr[:500]:
        pytest.skip(f"strace cannot trace here: {proc.stderr.strip()[:200]}")
    return proc, trace.read_text(errors="replace")


@pytest.mark.parametrize("command", ["demo", "session-text", "recognize"])
def test_no_process_of_the_program_uses_the_network(tmp_path: Path, command: str) -> None:
    if command == "demo":
        args: tuple[str, ...] = ("demo", "--model", str(TOY), "--out", str(tmp_path / "demo.wav"))
        stdin = ""
    elif command == "session-text":  # speech rendered to a file through the real engines (pyttsx3 worker)
        args = ("session", "--text", "--speak-to", str(tmp_path / "said.wav"),
                "--journal", str(tmp_path / "j"))
        stdin = "start\nno\nno\nstart\nnext\nstop\n"
    else:
        from audio.synth import synthesize
        from audio.wav import write_wav

        wav = write_wav(tmp_path / "next.wav", synthesize("next stroke"))
        args = ("recognize", "--engine", "vosk", "--model", str(TOY), str(wav))
        stdin = ""
    proc, trace = _strace(tmp_path, *args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "socket(" in trace  # the trace saw the program's sockets (local ones at least)
    assert internet_use(trace) == []
