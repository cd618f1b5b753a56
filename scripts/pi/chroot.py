"""An emulated Raspberry Pi OS (Debian bookworm arm64) root: build it once, cache it, mount, run, clean up.

The base root is a plain ``debootstrap --variant=minbase`` (what a minimal image has, nothing of ours),
kept as a tar file outside the repository and unpacked afresh for every run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pi import hostcfg

HOST_TOOLS = {  # Debian package -> a file proving it is installed
    "debootstrap": "/usr/sbin/debootstrap",
    "qemu-user-static": "/usr/bin/qemu-aarch64-static",
    "binfmt-support": "/usr/sbin/update-binfmts",
    "espeak-ng": "/usr/bin/espeak-ng",
    "p7zip": "/usr/bin/7zr",  # the CPU factor for the Pi 4 estimate
}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
CACHE_VERSION = "1"  # bump when the base root recipe changes


def log(msg: str) -> None:
    """One progress line, time-stamped, flushed at once (the check runs for many minutes)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd: Sequence[str], **kw) -> subprocess.CompletedProcess:
    """Run a host command, failing loudly."""
    return subprocess.run(list(cmd), check=True, **kw)


def ensure_host_tools() -> None:
    """Install debootstrap, qemu-user-static, binfmt-support and espeak-ng on the host where missing."""
    missing = [pkg for pkg, proof in HOST_TOOLS.items() if not Path(proof).exists()]
    if not missing:
        return
    log(f"host: installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env,
        stdout=subprocess.DEVNULL)


def ensure_binfmt() -> str:
    """Mount binfmt_misc if needed and enable qemu-aarch64; return the handler's flags."""
    if not (BINFMT / "register").exists():
        log("host: mounting binfmt_misc")
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)])
    entry = BINFMT / "qemu-aarch64"
    if not entry.exists() or "enabled" not in entry.read_text():
        run(["update-binfmts", "--enable", "qemu-aarch64"])
    text = entry.read_text()
    if "enabled" not in text:
        raise SystemExit("pi-check: could not enable the qemu-aarch64 binfmt handler")
    flags = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("flags:")), "")
    return flags


def base_tar(cache_dir: Path) -> Path:
    """Where the cached base root lives."""
    return cache_dir / f"pi-root-base-{hostcfg.SUITE}-arm64-v{CACHE_VERSION}.tar"


def build_base(cache_dir: Path, mirror: str) -> Path:
    """Debootstrap a minimal bookworm arm64 root (once) and keep it as a tar file; return its path."""
    tar = base_tar(cache_dir)
    if tar.is_file():
        log(f"base root: cached {tar} ({tar.stat().st_size // 2**20} MB)")
        return tar
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = cache_dir / "debootstrap.tmp"
    if work.exists():
        safe_remove(work)
    log(f"base root: debootstrap --arch=arm64 --variant=minbase {hostcfg.SUITE} (mirror from apt sources)")
    started = time.monotonic()
    run(["debootstrap", "--arch=arm64", "--variant=minbase", hostcfg.SUITE, str(work), mirror],
        stdout=subprocess.DEVNULL)
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in (work / sub).glob("*"):
            if f.is_file():
                f.unlink()
    partial = tar.with_suffix(".partial")
    run(["tar", "--numeric-owner", "-C", str(work), "-cpf", str(partial), "."])
    partial.rename(tar)
    safe_remove(work)
    log(f"base root: built in {time.monotonic() - started:.0f} s, cached as {tar}")
    return tar


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` (deepest first)."""
    prefix = str(path.resolve())
    points = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)


def safe_remove(path: Path) -> None:
    """Delete a root folder, but never while anything is mounted below it."""
    if mounts_under(path):
        raise SystemExit(f"pi-check: refusing to delete {path}: still mounted: {mounts_under(path)}")
    run(["rm", "-rf", "--one-file-system", str(path)])


class PiRoot:
    """A fresh emulated Pi: unpacked from the base tar, with /proc, /sys, /dev mounted while in use."""

    def __init__(self, tar: Path, where: Path, mirror: str, qemu_flags: str):
        self.tar, self.path, self.mirror, self.qemu_flags = tar, where, mirror, qemu_flags
        self.pip = hostcfg.pip_config()
        self.env: dict[str, str] = {}

    # -- set-up -------------------------------------------------------------------------------------
    def unpack(self) -> None:
        """Unpack the base root into a fresh folder and give it the host's apt, DNS and pip settings."""
        if self.path.exists():
            safe_remove(self.path)
        self.path.mkdir(parents=True)
        run(["tar", "--numeric-owner", "-C", str(self.path), "-xpf", str(self.tar)])
        r = self.path
        if "F" not in self.qemu_flags:  # the kernel does not hold the interpreter open: copy it in
            shutil.copy2("/usr/bin/qemu-aarch64-static", r / "usr/bin/qemu-aarch64-static")
        (r / "etc/apt/sources.list").write_text(hostcfg.root_sources_list(self.mirror))
        for f in hostcfg.apt_conf_files():
            shutil.copy2(f, r / "etc/apt/apt.conf.d" / f"99host-{f.name}")
        shutil.copy2("/etc/resolv.conf", r / "etc/resolv.conf", follow_symlinks=True)
        policy = r / "usr/sbin/policy-rc.d"  # no services start inside a chroot
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        self.configure()

    def reuse(self, keep: str) -> None:
        """Carry on with a root kept from an earlier run (``--keep``): everything below ``keep`` (a folder
        inside the root) is deleted except its ``.venv``, so the caller copies the project in afresh."""
        target = self.path / keep.lstrip("/")
        if target.is_dir():
            for child in target.iterdir():
                if child.name == ".venv":
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        self.configure()

    def configure(self) -> None:
        """Give the root the host's pip settings and build the environment commands run with."""
        r = self.path
        for f in self.pip.files:
            self._copy_in(f)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
               "LANG": "C.UTF-8", "TERM": "dumb", "DEBIAN_FRONTEND": "noninteractive"}
        env.update(self.pip.env)
        if self.pip.cert:  # the host's CA bundle under a name of its own: the root's own stays untouched
            dest = r / "etc/pi-check/host-ca.pem"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.pip.cert, dest)
            env["PIP_CERT"] = "/etc/pi-check/host-ca.pem"
        self.env = env

    def _copy_in(self, src: Path) -> None:
        dest = self.path / str(src).lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)

    def copy_tree(self, src: Path, dest: str, files: Sequence[str] | None = None) -> None:
        """Copy a folder (or just ``files`` of it, relative paths) to ``dest`` inside the root."""
        target = self.path / dest.lstrip("/")
        if files is None:
            shutil.copytree(src, target, symlinks=True, dirs_exist_ok=True)
            return
        for rel in files:
            s = src / rel
            if s.is_file():
                d = target / rel
                d.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(s, d, follow_symlinks=False)

    # -- mounts -------------------------------------------------------------------------------------
    def mount(self) -> None:
        """Mount /proc, /sys, /dev (+pts, shm) and the host's local pip indexes (read-only)."""
        r = self.path
        run(["mount", "-t", "proc", "proc", str(r / "proc")])
        run(["mount", "-t", "sysfs", "sysfs", str(r / "sys")])
        run(["mount", "--rbind", "/dev", str(r / "dev")])
        run(["mount", "--make-rslave", str(r / "dev")])
        for d in self.pip.dirs:
            target = r / str(d).lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            run(["mount", "--bind", str(d), str(target)])
            run(["mount", "-o", "remount,bind,ro", str(target)])

    def processes(self) -> list[int]:
        """Processes running inside this root (their root directory is it): ours, left by a failed step."""
        target, pids = str(self.path.resolve()), []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if os.readlink(entry / "root") == target:
                        pids.append(int(entry.name))
                except OSError:
                    continue
        return pids

    def stop_processes(self, grace: float = 3.0) -> None:
        """End what still runs inside the root (SIGTERM, then SIGKILL), so its mounts can go."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.processes()
            if not pids:
                return
            log(f"root: stopping {len(pids)} process(es) left inside it")
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.1)

    def unmount(self) -> None:
        """Unmount everything below the root, deepest first; lazily where a mount is still busy."""
        self.stop_processes()
        for point in mounts_under(self.path):
            if point == str(self.path.resolve()):
                continue
            if subprocess.run(["umount", point], stderr=subprocess.DEVNULL).returncode != 0:
                subprocess.run(["umount", "-R", point], stderr=subprocess.DEVNULL)
        for point in mounts_under(self.path):
            if point != str(self.path.resolve()):
                subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL)
        left = [p for p in mounts_under(self.path) if p != str(self.path.resolve())]
        if left:
            print(f"pi-check: WARNING: still mounted: {left}", file=sys.stderr)

    def remove(self) -> None:
        """Delete the unpacked root (never while anything is mounted in it)."""
        if self.path.exists():
            safe_remove(self.path)

    # -- running ------------------------------------------------------------------------------------
    def sh(self, script: str, *, check: bool = True, capture: bool = False,
           stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run a bash script inside the root, as root, with a clean environment."""
        cmd = ["chroot", str(self.path), "/usr/bin/env", "-i",
               *[f"{k}={v}" for k, v in self.env.items()], "/bin/bash", "-c", script]
        return subprocess.run(cmd, check=check, text=True, input=stdin,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.STDOUT if capture else None)

    def packages(self) -> set[str]:
        """The Debian packages installed in the root."""
        out = self.sh("dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n'", capture=True).stdout
        return {ln.split()[1].split(":")[0] for ln in out.splitlines() if ln.startswith("ii")}
