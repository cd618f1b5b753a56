"""Read the build machine's own package configuration, so the emulated Pi uses the same sources.

Nothing here names a mirror or an index: the Debian mirror comes from this machine's apt sources and
pip's index settings from its pip configuration files and ``PIP_*`` environment, at run time.
"""

from __future__ import annotations

import configparser
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

SUITE = "bookworm"
DEBIAN_KEYRING = "debian-archive-keyring"


@dataclass(frozen=True)
class AptSource:
    """One enabled ``deb`` entry: where, which suite and which components."""

    uri: str
    suite: str
    components: tuple[str, ...]


def _sources_stanzas(text: str) -> list[dict[str, str]]:
    """The stanzas of a deb822 ``.sources`` file, keys lower-cased, comments dropped."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for raw in [*text.splitlines(), ""]:
        line = raw.rstrip()
        if line.startswith("#"):
            continue
        if not line.strip():
            if current:
                stanzas.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t" and last:
            current[last] += " " + line.strip()
            continue
        key, _, value = line.partition(":")
        last = key.strip().lower()
        current[last] = value.strip()
    return stanzas


def _entry_ok(types: str, signed_by: str, archs: str, enabled: str = "yes") -> bool:
    """Whether an entry is a usable Debian ``deb`` source for an arm64 root."""
    if "deb" not in types.split() or enabled.lower() == "no":
        return False
    if signed_by and DEBIAN_KEYRING not in signed_by:
        return False
    return not archs or "arm64" in archs.split()


def apt_sources(root: str = "/") -> list[AptSource]:
    """Every enabled Debian ``deb`` entry for the bookworm suites in this machine's apt configuration."""
    base = Path(root) / "etc/apt"
    found: list[AptSource] = []
    for path in sorted(glob.glob(str(base / "sources.list.d/*.sources"))):
        for st in _sources_stanzas(Path(path).read_text(errors="replace")):
            if not _entry_ok(st.get("types", ""), st.get("signed-by", ""), st.get("architectures", ""),
                             st.get("enabled", "yes")):
                continue
            comps = tuple(st.get("components", "").split())
            for uri in st.get("uris", "").split():
                for suite in st.get("suites", "").split():
                    found.append(AptSource(uri.rstrip("/"), suite, comps))
    lists = [base / "sources.list", *sorted(Path(p) for p in glob.glob(str(base / "sources.list.d/*.list")))]
    for path in lists:
        if not path.is_file():
            continue
        for raw in path.read_text(errors="replace").splitlines():
            line = raw.split("#", 1)[0].strip()
            opts = ""
            m = re.match(r"^(deb)\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
            if not m:
                continue
            opts = m.group(2) or ""
            archs = re.search(r"arch=([\w,]+)", opts)
            signed = re.search(r"signed-by=(\S+)", opts)
            if not _entry_ok("deb", signed.group(1) if signed else "",
                             archs.group(1).replace(",", " ") if archs else ""):
                continue
            found.append(AptSource(m.group(3).rstrip("/"), m.group(4), tuple(m.group(5).split())))
    return [s for s in found if s.suite.split("-")[0] == SUITE and "main" in s.components]


def debian_mirror(override: str | None = None) -> str:
    """The mirror debootstrap uses: ``override`` or this machine's apt entry for plain ``bookworm``."""
    if override:
        return override
    for src in apt_sources():
        if src.suite == SUITE:
            return src.uri
    raise SystemExit(
        "pi-check: no Debian bookworm 'main' entry in this machine's apt sources; "
        "give a mirror with --mirror URL (or PI_CHECK_MIRROR)"
    )


def root_sources_list(mirror: str) -> str:
    """The emulated Pi's ``sources.list``: the host's bookworm entries, or the mirror alone."""
    lines = [f"deb {s.uri} {s.suite} main" for s in apt_sources()]
    if not lines:
        lines = [f"deb {mirror} {SUITE} main"]
    return "\n".join(dict.fromkeys(lines)) + "\n"


def apt_conf_files() -> list[Path]:
    """The host's ``apt.conf.d`` files that set ``Acquire::`` options (proxies, validity checks).

    Files that run hooks (``...::Invoke``) are left out: their programs need not exist in the root.
    """
    out = []
    for path in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
        try:
            text = path.read_text(errors="replace") if path.is_file() else ""
            if "Acquire::" in text and "Invoke" not in text:
                out.append(path)
        except OSError:
            continue
    return out


@dataclass
class PipConfig:
    """What the root needs to use the host's pip index settings."""

    files: list[Path] = field(default_factory=list)  # config files and files they name: copied as is
    dirs: list[Path] = field(default_factory=list)  # local indexes and wheel folders: bind-mounted read-only
    cert: Path | None = None  # CA bundle pip is told to use
    env: dict[str, str] = field(default_factory=dict)  # PIP_* variables to pass through


def _config_paths() -> list[Path]:
    """pip's configuration files on this machine, in pip's own order (site files left out)."""
    home = Path(os.environ.get("HOME", "/root"))
    xdg = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    paths = [Path(d) / "pip/pip.conf" for d in xdg] + [Path("/etc/pip.conf")]
    paths += [home / ".pip/pip.conf", home / ".config/pip/pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        paths.append(Path(os.environ["PIP_CONFIG_FILE"]))
    return [p for p in paths if p.is_file()]


def _local_paths(value: str) -> list[Path]:
    """Absolute local paths named in a pip setting (plain paths and ``file://`` URLs)."""
    out = []
    for word in value.split():
        if word.startswith("file://"):
            word = word[len("file://"):]
        if word.startswith("/"):
            p = Path(word)
            # an index URL names .../simple; mount the folder that holds it and its files
            out.append(p.parent if p.name == "simple" else p)
    return out


def pip_config() -> PipConfig:
    """The host's pip configuration files, the local paths they name and the ``PIP_*`` environment."""
    cfg = PipConfig()
    values: list[tuple[str, str]] = []
    for path in _config_paths():
        cfg.files.append(path)
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in parser.sections():
            values += [(k.lower(), v) for k, v in parser.items(section)]
    for key, value in os.environ.items():
        if key.startswith("PIP_") and key != "PIP_CONFIG_FILE":
            cfg.env[key] = value
            values.append((key[4:].lower().replace("_", "-"), value))
    for key, value in values:
        for p in _local_paths(value):
            if key == "cert" and p.is_file():
                cfg.cert = p
            elif p.is_dir():
                if p not in cfg.dirs:
                    cfg.dirs.append(p)
            elif p.is_file() and p not in cfg.files:
                cfg.files.append(p)
    return cfg
