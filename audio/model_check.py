"""Is a Vosk model folder damaged? Cheap header checks, then one trial load in a child process, cached.

A model cut short by an interrupted copy or download does not always make Vosk raise: with ``graph/HCLr.fst``
truncated, ``vosk.Model`` loads "fine" (the graph read fails quietly) and the first ``KaldiRecognizer`` with
a grammar dereferences the missing graph and kills the process with SIGSEGV. Native crashes cannot be caught
in-process, so a model is validated the first time it is seen:

1. cheap checks, every time (a few headers read): ``final.mdl`` starts like a Kaldi model; every graph FST
   (``HCLG.fst``, ``HCLr.fst``, ``Gr.fst``) starts with OpenFst's magic number ``0x7eb2fdd6`` and is not
   shorter than its header implies (const and vector FSTs, and the lookahead wrapper around a const FST);
2. once per model version: the lookahead add-on data is walked to its exact end, then a child Python process
   loads the model and decodes a little noise with and without a grammar, as the app does; a negative exit
   status means Vosk crashed on the model;
3. the good verdict is cached in ``user_cache_dir("massage-coach")/validated-models.json``, keyed by the
   model's path and every file's size and mtime (and the vosk version), so later starts pay only a few stats.

Bad verdicts are not cached (a child killed for lack of memory is not a damaged model); a damaged model is
usually caught by the cheap checks anyway.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from audio.errors import ModelError

FST_MAGIC = 0x7EB2FDD6
ADDON_MAGIC = 0x1A9FD15A  # OpenFst's AddOnImpl, between the lookahead header and the wrapped FST
_HAS_SYMBOLS = 0x1 | 0x2  # FstHeader flags: input/output symbol tables follow the header
_IS_ALIGNED = 0x4
CACHE_FILE_NAME = "validated-models.json"
CACHE_LIMIT = 32
"""Models remembered in the cache file (the most recently validated ones)."""
PROBE_TIMEOUT_S = 600.0
GRAPH_FILES = ("HCLG.fst", "HCLr.fst", "Gr.fst")
_VOSK_FAILED = 3
"""The probe's exit status when Vosk raised (it cannot import vosk: 5)."""


class _NoVerdict(Exception):
    """The trial load could not be run: neither good nor bad (not cached)."""

probes_run = 0
"""Child-process validations started by this process (tests read it to see the cache work)."""
_validated: set[str] = set()
"""Cache keys already known good in this process."""

_PROBE = r"""
import json, sys
try:
    import vosk
except ImportError:
    sys.exit(5)
vosk.SetLogLevel(-1)
path, word = sys.argv[1], sys.argv[2]
try:
    model = vosk.Model(path)
    noise = bytes((i * 7919 + 13) % 256 if i % 2 == 0 else 0 for i in range(16000))
    for grammar in (json.dumps([word, "[unk]"] if word else ["[unk]"]), None):
        rec = vosk.KaldiRecognizer(model, 16000, grammar) if grammar else vosk.KaldiRecognizer(model, 16000)
        rec.AcceptWaveform(noise)
        rec.FinalResult()
except Exception as exc:
    print("probe-error:", exc, flush=True)
    sys.exit(3)  # _VOSK_FAILED
print("probe-ok", flush=True)
"""


def kaldi_reason(lines: list[str]) -> str:
    """The first Kaldi ERROR line of a log, shortened to its message ("" when there is none)."""
    for line in lines:
        if line.startswith("ERROR") or "ERROR (" in line:
            text = line.split(") ", 1)[-1].strip()
            return text.split(".  ")[0].rstrip(".")[:160]
    return ""


def _damaged(model: Path, why: str) -> ModelError:
    return ModelError(f"corrupt Vosk model: {model} is damaged ({why}); download it or copy it again")


class _Header:
    """An OpenFst header read from a file; ``end`` is the offset just after it."""

    def __init__(self, data: bytes, pos: int, name: str):
        def take(fmt: str) -> tuple:
            nonlocal pos
            size = struct.calcsize(fmt)
            if pos + size > len(data):
                raise ValueError(f"{name} is cut short in its header")
            values = struct.unpack_from(fmt, data, pos)
            pos += size
            return values

        def text() -> str:
            nonlocal pos
            (n,) = take("<i")
            if not 0 < n <= 64 or pos + n > len(data):
                raise ValueError(f"{name} has a damaged header")
            value = data[pos:pos + n].decode("latin-1")
            pos += n
            return value

        (magic,) = take("<I")
        if magic != FST_MAGIC:
            raise ValueError(f"{name} is not an OpenFst file (bad magic number)")
        self.fst_type, self.arc_type = text(), text()
        self.version, self.flags, self.properties, self.start, self.states, self.arcs = take("<iiQqqq")
        if self.states < 0 or self.arcs < 0:
            raise ValueError(f"{name} has a damaged header")
        self.end = pos


def _fst_body_end(data: bytes, name: str) -> tuple[int | None, bool]:
    """Where the FST in ``data`` (its first bytes) ends as its header implies: (offset or None when the size
    cannot be told, whether lookahead add-on data follows that offset)."""
    head = _Header(data, 0, name)
    addon = False
    if head.fst_type.endswith("_lookahead"):
        if head.end + 4 > len(data) or struct.unpack_from("<I", data, head.end)[0] != ADDON_MAGIC:
            raise ValueError(f"{name} has a damaged lookahead header")
        head = _Header(data, head.end + 4, name)
        addon = True
    if head.flags & (_HAS_SYMBOLS | _IS_ALIGNED) or head.arc_type != "standard":
        return None, addon
    if head.fst_type == "const":
        return head.end + head.states * 20 + head.arcs * 16, addon  # ConstState 20 bytes, StdArc 16
    if head.fst_type == "vector":
        return head.end + head.states * 12 + head.arcs * 16, addon  # final weight + int64 arc count per state
    return None, addon


def check_fst(path: Path, model: Path) -> None:
    """Cheap check of one FST: magic number and header, and not shorter than the header implies."""
    name = str(path.relative_to(model))
    try:
        with open(path, "rb") as f:
            data = f.read(4096)
        size = path.stat().st_size
        end, addon = _fst_body_end(data, name)
    except ValueError as exc:
        raise _damaged(model, str(exc)) from None
    except OSError as exc:
        raise ModelError(f"cannot read Vosk model {model}: {name}: {exc.strerror or exc}") from None
    if end is not None and size < end + (3 if addon else 0):
        raise _damaged(model, f"{name} is cut short: {size} bytes, its header needs {end + 3 * addon}")


def walk_lookahead_addon(path: Path, model: Path) -> None:
    """Follow a lookahead FST's label-reachability data to its end: a cut there does not make Vosk fail, it
    silently decodes with half the data. The walk trusts the layout only when the number of interval sets
    read equals the wrapped FST's state count (another OpenFst layout is left to the trial load)."""
    name = str(path.relative_to(model))
    with open(path, "rb") as f:
        head = f.read(4096)
        end, addon = _fst_body_end(head, name)
        if end is None or not addon:
            return
        states = _Header(head, _Header(head, 0, name).end + 4, name).states
        f.seek(end)
        tail = f.read()
    pos = 0

    class OtherLayout(Exception):
        pass

    def take(fmt: str) -> int:
        nonlocal pos
        if pos + struct.calcsize(fmt) > len(tail):
            raise _damaged(model, f"{name} is cut short in its lookahead data")
        (value,) = struct.unpack_from(fmt, tail, pos)
        pos += struct.calcsize(fmt)
        return value

    def skip(n: int) -> None:
        nonlocal pos
        if n < 0 or n > 1 << 40:
            raise OtherLayout
        if pos + n > len(tail):
            raise _damaged(model, f"{name} is cut short in its lookahead data")
        pos += n

    def reachable_data() -> None:
        take("<B")  # reach_input
        if take("<B"):  # keep_relabel_data: the label -> index map follows
            skip(8 * take("<q"))
        take("<i")  # final_label
        if take("<q") != states:  # one interval set per state
            raise OtherLayout
        for _ in range(states):
            skip(8 * take("<q") + 4)

    try:
        if take("<B"):  # AddOnImpl: has an add-on
            for _ in range(2):  # AddOnPair: the input side, then the output side
                if take("<B"):
                    reachable_data()
    except OtherLayout:
        return


def check_am(mdl: Path, model: Path) -> None:
    """Cheap check of the acoustic model: not empty, and it starts like a Kaldi model (text or binary)."""
    try:
        with open(mdl, "rb") as f:
            head = f.read(32)
    except OSError as exc:
        raise ModelError(f"cannot read Vosk model {model}: {exc.strerror or exc}") from None
    name = str(mdl.relative_to(model))
    if not head:
        raise ModelError(f"corrupt Vosk model: {name} is empty in {model}")
    if not head.lstrip(b"\0B \n").startswith(b"<TransitionModel>"):
        raise _damaged(model, f"{name} does not start like a Kaldi model")


def graph_files(model: Path, graph: Path) -> list[Path]:
    """The FST files of the model's decoding graph that exist."""
    return [graph / n for n in GRAPH_FILES if (graph / n).is_file()]


def cache_file() -> Path:
    """``validated-models.json`` in the user cache folder (platformdirs; honours XDG_CACHE_HOME)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("massage-coach")) / CACHE_FILE_NAME


def _vosk_version() -> str:
    try:
        from importlib.metadata import version

        return version("vosk")
    except Exception:  # pragma: no cover - vosk is a dependency
        return "?"


def model_state(model: Path) -> dict:
    """What the cache is keyed by besides the path: the vosk version and every file's size and mtime."""
    root = model.resolve()
    files: dict[str, list[int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            st = os.stat(os.path.join(dirpath, fn))
            files[os.path.relpath(os.path.join(dirpath, fn), root)] = [st.st_size, st.st_mtime_ns]
    return {"vosk": _vosk_version(), "files": files}


def _read_cache(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    entries = data.get("models") if isinstance(data, dict) else None
    return {k: v for k, v in entries.items() if isinstance(v, dict)} if isinstance(entries, dict) else {}


def _remember(root: str, state: dict) -> None:
    path = cache_file()
    entries = _read_cache(path)
    entries.pop(root, None)
    entries[root] = state
    entries = dict(list(entries.items())[-CACHE_LIMIT:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".validated-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": 1, "models": entries}, f)
        os.replace(tmp, path)
    except OSError:  # a read-only cache folder only costs a validation at each start
        pass


def is_cached(root: str, state: dict) -> bool:
    """True when this exact model state was validated before (in this process or in the cache file)."""
    return _key(root, state) in _validated or _read_cache(cache_file()).get(root) == state


def _key(root: str, state: dict) -> str:
    return json.dumps([root, state], sort_keys=True)


def _probe_word(graph: Path) -> str:
    try:
        with open(graph / "words.txt", encoding="utf-8", errors="replace") as f:
            for line in f:
                word = line.split(" ", 1)[0].strip()
                if word and word.isalpha():
                    return word
    except OSError:
        pass
    return ""


def probe_in_child(model: Path, graph: Path) -> None:
    """Load ``model`` and decode noise in a child Python; ModelError when it crashes or Vosk fails on it.
    ``_NoVerdict`` when the probe cannot be run (a frozen app, no vosk in the child): the load will tell."""
    global probes_run
    if getattr(sys, "frozen", False) or not sys.executable:  # no interpreter to run the probe with
        raise _NoVerdict
    probes_run += 1
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE, str(model), _probe_word(graph)],
                              capture_output=True, timeout=PROBE_TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL, env=env)
    except subprocess.TimeoutExpired:
        raise ModelError(f"Vosk model {model} took over {PROBE_TIMEOUT_S:.0f} s to load; "
                         "it may be damaged: download it or copy it again") from None
    except OSError:  # no interpreter to start (an embedded Python): load in-process as before
        raise _NoVerdict from None
    if proc.returncode < 0:
        try:
            sig = signal.Signals(-proc.returncode).name
        except ValueError:
            sig = f"signal {-proc.returncode}"
        if sig == "SIGKILL":  # the kernel's out-of-memory killer, most likely: not a damaged model
            raise ModelError(f"cannot load Vosk model {model}: the trial load was killed (out of memory?)")
        raise _damaged(model, f"Vosk crashed loading it with {sig}")
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode == _VOSK_FAILED:
        reason = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                       if line.startswith("probe-error:")), "")
        kaldi = kaldi_reason(proc.stderr.decode("utf-8", "replace").splitlines())
        reason = kaldi or reason or "unknown error"
        raise ModelError(f"corrupt Vosk model: Vosk could not load {model} ({reason})")
    if proc.returncode != 0 or "probe-ok" not in out:  # no vosk in the child, or the probe itself failed
        raise _NoVerdict


def validate(model: Path, mdl: Path, graph: Path) -> None:
    """The whole check of a model whose files are all there: cheap checks, then (once) the trial load."""
    check_am(mdl, model)
    fsts = graph_files(model, graph)
    for fst in fsts:
        check_fst(fst, model)
    try:
        root, state = str(model.resolve()), model_state(model)
    except OSError as exc:
        raise ModelError(f"cannot read Vosk model {model}: {exc.strerror or exc}") from None
    if is_cached(root, state):
        _validated.add(_key(root, state))
        return
    for fst in fsts:
        walk_lookahead_addon(fst, model)
    try:
        probe_in_child(model, graph)
    except _NoVerdict:
        return
    _validated.add(_key(root, state))
    _remember(root, state)
