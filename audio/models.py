"""Finding, checking, loading and downloading Vosk models.

Discovery order (``find_model``): an explicit ``--model DIR``, the ``VOSK_MODEL_PATH`` environment variable
(a model folder, or a folder of models), then Vosk's own folders (``vosk.MODEL_DIRS``: /usr/share/vosk,
~/AppData/Local/vosk, ~/.cache/vosk) where a ``vosk-model-*en-us*`` folder is picked.

Downloading is split in two so the installation step is testable without a network: ``fetch(url, dest)``
gets the zip from Vosk's model site (``vosk.MODEL_PRE_URL``) with a timeout, ``install_zip(zip, dest)``
unpacks and checks it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from audio.errors import ModelError
from audio.model_check import kaldi_reason
from audio.model_check import validate as validate_model

DEFAULT_MODEL = "vosk-model-small-en-us-0.15"
MODEL_URL = "https://alphacephei.com/vosk/models/"  # same as vosk.MODEL_PRE_URL
ENV_VAR = "VOSK_MODEL_PATH"


def _vosk() -> Any:
    """Import vosk with Kaldi's logging silenced (it prints pages on a bad model)."""
    try:
        import vosk
    except ImportError as exc:  # pragma: no cover - vosk is a dependency
        raise ModelError(f"the vosk package is not installed ({exc})") from None
    vosk.SetLogLevel(-1)
    return vosk


def vosk_dirs() -> list[Path]:
    """Vosk's usual model folders, without the environment variable (looked up separately)."""
    dirs = [Path("/usr/share/vosk"), Path.home() / "AppData/Local/vosk", Path.home() / ".cache/vosk"]
    try:
        from vosk import MODEL_DIRS
        dirs = [Path(d) for d in MODEL_DIRS[1:] if d is not None] or dirs
    except ImportError:  # pragma: no cover
        pass
    return dirs


def default_download_dir() -> Path:
    """Where ``download_model`` installs models: Vosk's own cache, ~/.cache/vosk."""
    return Path.home() / ".cache" / "vosk"


def looks_like_model(path: Path) -> bool:
    """True when ``path`` has the files of a Vosk model (no loading)."""
    try:
        check_model(path, validate=False)
    except (ModelError, OSError):
        return False
    return True


def _models_in(folder: Path, english_only: bool) -> list[Path]:
    if not folder.is_dir():
        return []
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    found = []
    for p in entries:
        name = p.name.lower()
        if not p.is_dir() or not name.startswith("vosk-model"):
            continue
        if english_only and "en-us" not in name:
            continue
        found.append(p)
    # small models first: they load in a second and are what a laptop wants
    return sorted(found, key=lambda p: ("small" not in p.name, p.name))


def list_models() -> list[tuple[Path, str]]:
    """Every Vosk model folder in the usual places, with where it was found (env var or folder)."""
    out: list[tuple[Path, str]] = []
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if looks_like_model(p):
            out.append((p, ENV_VAR))
        else:
            out.extend((m, ENV_VAR) for m in _models_in(p, english_only=False))
    for d in vosk_dirs():
        out.extend((m, str(d)) for m in _models_in(d, english_only=False))
    return out


def find_model(explicit: str | Path | None = None) -> Path | None:
    """The model to use: ``explicit`` as given (check it with ``check_model``), else the first English
    model in ``VOSK_MODEL_PATH`` or Vosk's folders that has all its files; None when there is none."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    places: list[Path] = []
    if env:
        p = Path(env).expanduser()
        if looks_like_model(p):
            return p
        places.append(p)
    places.extend(vosk_dirs())
    for folder in places:
        for m in _models_in(folder, english_only=True):
            if looks_like_model(m):
                return m
    return None


def _layout(p: Path) -> tuple[Path, Path]:
    """The files a model must have: (acoustic model, graph folder); ModelError naming what is missing."""
    if not p.exists():
        raise ModelError(f"Vosk model folder not found: {p}")
    if not p.is_dir():
        raise ModelError(f"not a Vosk model: {p} is a file, not a folder")
    if (p / "am" / "final.mdl").is_file():
        mdl, graph, conf = p / "am" / "final.mdl", p / "graph", p / "conf" / "model.conf"
    elif (p / "final.mdl").is_file():  # the old flat layout Vosk still reads
        mdl, graph, conf = p / "final.mdl", p, p / "mfcc.conf"
    else:
        raise ModelError(f"not a Vosk model: no am/final.mdl in {p}")
    if mdl.stat().st_size == 0:
        raise ModelError(f"corrupt Vosk model: {mdl.relative_to(p)} is empty in {p}")
    has_static = (graph / "HCLG.fst").is_file()
    has_lookahead = (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()
    if not (has_static or has_lookahead):
        raise ModelError(f"not a Vosk model: no graph files (graph/HCLG.fst or HCLr.fst + Gr.fst) in {p}")
    if not conf.is_file():
        raise ModelError(f"not a Vosk model: no {conf.relative_to(p)} in {p}")
    return mdl, graph


def check_model(path: str | Path, validate: bool = True) -> Path:
    """Check that ``path`` holds an undamaged Vosk model (acoustic model, graph, config); return it.

    Raises a one-line ModelError naming what is missing or damaged. With ``validate`` (the default) a model
    is also checked for damage (``audio.model_check``): cheap header checks every time, and the first time
    a model (in this exact state) is seen, a trial load in a child process, since a cut-short graph makes
    Vosk crash with SIGSEGV rather than raise. ``validate=False`` only looks at which files are there.
    """
    p = Path(path).expanduser()
    mdl, graph = _layout(p)
    if validate:
        validate_model(p, mdl, graph)
    return p


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[list[str]]:
    """Send the process's fd 2 to a temporary file (Kaldi prints its errors there whatever the log level)."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", "replace").splitlines())


def load_model(path: str | Path) -> Any:
    """Check (``check_model``: validated in a child process the first time) and load a Vosk model
    (``vosk.Model``); any failure becomes a one-line ModelError, a damaged model never crashes the process."""
    p = check_model(path)
    vosk = _vosk()
    with _native_stderr_captured() as lines:
        try:
            return vosk.Model(str(p))
        except Exception as exc:
            failure = str(exc)
    reason = kaldi_reason(lines) or failure
    raise ModelError(f"corrupt Vosk model: Vosk could not load {p} ({reason})")


def fetch(url: str, dest: Path, timeout: float = 10.0, progress: bool = True) -> Path:
    """Download ``url`` to the file ``dest`` (requests + tqdm, as Vosk's own downloader uses).

    Raises ModelError when there is no network, the server refuses, or the connection drops.
    """
    import requests

    name = url.rsplit("/", 1)[-1]
    tmp = dest.with_name(dest.name + ".part")
    try:
        with requests.get(url, stream=True, timeout=timeout) as resp:
            if resp.status_code != 200:
                raise ModelError(f"cannot download {name}: {url} answered HTTP {resp.status_code}")
            total = int(resp.headers.get("content-length", 0)) or None
            bar = None
            if progress:
                from tqdm import tqdm
                bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name)
            try:
                with open(tmp, "wb") as f:
                    for block in resp.iter_content(chunk_size=1 << 16):
                        f.write(block)
                        if bar is not None:
                            bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
    except (requests.ConnectionError, requests.Timeout) as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot download {name}: no network ({_short_reason(exc)})") from None
    except requests.RequestException as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot download {name}: {_short_reason(exc)}") from None
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"cannot download {name}: cannot write {tmp} ({exc.strerror or exc})") from None
    tmp.replace(dest)
    return dest


def _short_reason(exc: BaseException) -> str:
    text = str(exc)
    for marker in ("Failed to resolve", "Connection refused", "timed out", "Network is unreachable",
                   "Name or service not known", "Temporary failure in name resolution"):
        if marker in text:
            return marker.lower() if marker != "Failed to resolve" else "cannot resolve the host name"
    return type(exc).__name__


def install_zip(zip_path: str | Path, dest: str | Path, name: str | None = None) -> Path:
    """Unpack a model zip into ``dest`` and check it; return the installed model folder.

    A zip with one top folder installs as that folder; a zip of bare model files installs as ``name``
    (default: the zip's stem). Unpacking goes to a temporary folder first, so a bad zip leaves nothing.
    """
    zp, dest = Path(zip_path), Path(dest)
    try:
        zf = zipfile.ZipFile(zp)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"cannot install model: {zp} is not a readable zip ({exc})") from None
    with zf:
        members = [m for m in zf.namelist() if m and not m.startswith("__MACOSX")]
        for m in members:
            if m.startswith("/") or ".." in Path(m).parts:
                raise ModelError(f"cannot install model: unsafe path {m!r} in {zp}")
        tops = {m.split("/", 1)[0] for m in members}
        single_top = len(tops) == 1 and all("/" in m for m in members)
        target_name = next(iter(tops)) if single_top else (name or zp.stem)
        target = dest / target_name
        if target.exists():
            raise ModelError(f"cannot install model: {target} already exists")
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest))
        try:
            try:
                zf.extractall(staging, members)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise ModelError(f"cannot install model: {zp} is damaged ({exc})") from None
            unpacked = staging / target_name if single_top else staging
            check_model(unpacked, validate=False)  # the trial load is paid at the first start, in place
            if single_top:
                unpacked.replace(target)
            else:
                staging.replace(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return target


def download_model(name: str = DEFAULT_MODEL, dest: str | Path | None = None, progress: bool = True,
                   timeout: float = 10.0, base_url: str = MODEL_URL) -> Path:
    """Download and install a model from Vosk's site into ``dest`` (default ~/.cache/vosk); return its folder.

    An already installed, complete model is returned without downloading. ModelError on no network.
    """
    folder = Path(dest).expanduser() if dest is not None else default_download_dir()
    existing = folder / name
    if existing.exists():
        return check_model(existing)
    folder.mkdir(parents=True, exist_ok=True)
    zip_path = folder / f"{name}.zip"
    fetch(f"{base_url}{name}.zip", zip_path, timeout=timeout, progress=progress)
    try:
        return install_zip(zip_path, folder, name=name)
    finally:
        zip_path.unlink(missing_ok=True)
