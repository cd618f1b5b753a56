"""Vosk model discovery, checks, loading errors and the download/install path (with the real toy model)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from audio import model_check, models
from audio.errors import ModelError
from audio.models import check_model, download_model, find_model, install_zip, list_models, load_model
from tests.speech_fixtures import toy_model_path

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch) -> Path:
    """A fresh validation cache per test (not the user's), and no verdicts remembered in this process."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setattr(model_check, "_validated", set())
    return tmp_path / "xdg-cache" / "massage-coach" / model_check.CACHE_FILE_NAME


@pytest.fixture
def toy_copy(tmp_path) -> Path:
    dest = tmp_path / "vosk-model-small-en-us-toy"
    shutil.copytree(toy_model_path(), dest)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest


def cut(path: Path, keep: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture
def no_usual_dirs(monkeypatch, tmp_path):
    """Point Vosk's usual folders at empty temp folders so the machine's own models do not interfere."""
    dirs = [tmp_path / "usr_share_vosk", tmp_path / "cache_vosk"]
    monkeypatch.setattr(models, "vosk_dirs", lambda: dirs)
    monkeypatch.delenv(models.ENV_VAR, raising=False)
    return dirs


def one_line_model_error(path) -> str:
    with pytest.raises(ModelError) as info:
        load_model(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_toy_model_checks_and_loads():
    assert check_model(toy_model_path()) == toy_model_path()
    assert load_model(toy_model_path()) is not None


def test_empty_folder_is_not_a_model(tmp_path):
    assert "no am/final.mdl" in one_line_model_error(tmp_path)


def test_missing_folder(tmp_path):
    assert "not found" in one_line_model_error(tmp_path / "absent")


def test_missing_graph(toy_copy):
    shutil.rmtree(toy_copy / "graph")
    assert "no graph files" in one_line_model_error(toy_copy)


def test_missing_conf(toy_copy):
    (toy_copy / "conf" / "model.conf").unlink()
    assert "conf/model.conf" in one_line_model_error(toy_copy)


def test_empty_final_mdl(toy_copy):
    (toy_copy / "am" / "final.mdl").write_bytes(b"")
    assert "is empty" in one_line_model_error(toy_copy)


def test_truncated_final_mdl_is_corrupt_in_one_line(toy_copy, capfd):
    mdl = toy_copy / "am" / "final.mdl"
    with open(mdl, "r+b") as f:
        f.truncate(mdl.stat().st_size // 3)
    message = one_line_model_error(toy_copy)
    assert message.startswith("corrupt Vosk model")
    assert str(toy_copy) in message
    _out, err = capfd.readouterr()
    assert "ERROR" not in err  # Kaldi's own log lines were captured, not printed


@pytest.mark.parametrize("part,keep", [
    ("graph/HCLr.fst", 0.33), ("graph/HCLr.fst", 0.9), ("graph/HCLr.fst", 0.999), ("graph/Gr.fst", 0.5),
    ("graph/Gr.fst", 0.99), ("am/final.mdl", 0.4), ("am/final.mdl", 0.999), ("graph/HCLr.fst", 0.001),
])
def test_a_model_cut_short_is_one_line_not_a_crash(toy_copy, part, keep):
    """Interrupted copies: HCLr.fst cut short made Vosk's KaldiRecognizer crash with SIGSEGV (0.9: the
    lookahead data is cut and Vosk silently decodes with half of it)."""
    cut(toy_copy / part, keep)
    message = one_line_model_error(toy_copy)
    assert message.startswith("corrupt Vosk model") and str(toy_copy) in message
    assert models.looks_like_model(toy_copy)  # discovery still finds it: the load says what is wrong


def test_a_crash_on_a_damaged_model_is_caught_by_the_trial_load(toy_copy, own_cache):
    """A damage the header checks cannot size (the wrapped FST's type renamed): Vosk fails to read the
    graph, and the recognizer the app builds then crashes. In a fresh process, the real path: one line."""
    hclr = toy_copy / "graph" / "HCLr.fst"
    data = bytearray(hclr.read_bytes())
    at = data.index(b"const")
    data[at:at + 5] = b"conzt"
    hclr.write_bytes(bytes(data))
    code = ("import sys\n"
            "from audio.errors import ModelError\n"
            "from audio.vosk_engine import VoskRecognizer\n"
            "try:\n"
            "    VoskRecognizer(sys.argv[1], ['next stroke', '[unk]'])\n"
            "except ModelError as exc:\n"
            "    print(exc)\n"
            "    sys.exit(4)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(toy_copy)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False,
                          env={**os.environ, "XDG_CACHE_HOME": str(own_cache.parents[1])})
    assert proc.returncode == 4, proc.stderr[-2000:]
    (line,) = proc.stdout.splitlines()
    assert line.startswith(f"corrupt Vosk model: {toy_copy} is damaged") and "SIGSEGV" in line
    assert not own_cache.exists() or str(toy_copy) not in own_cache.read_text()  # bad verdicts not cached


def test_a_good_model_is_validated_once_then_cached(toy_copy, own_cache, monkeypatch):
    before = model_check.probes_run
    assert check_model(toy_copy) == toy_copy
    assert model_check.probes_run == before + 1
    assert str(toy_copy.resolve()) in own_cache.read_text()
    monkeypatch.setattr(model_check, "_validated", set())  # as if this were the next start of the program
    assert check_model(toy_copy) == toy_copy
    assert load_model(toy_copy) is not None
    assert model_check.probes_run == before + 1  # the cache file answered: no child process
    st = (toy_copy / "graph" / "Gr.fst").stat()
    os.utime(toy_copy / "graph" / "Gr.fst", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    monkeypatch.setattr(model_check, "_validated", set())
    check_model(toy_copy)  # a file changed (copied again, say): validated again
    assert model_check.probes_run == before + 2


def test_an_unreadable_cache_file_means_validate_again(toy_copy, own_cache):
    own_cache.parent.mkdir(parents=True)
    own_cache.write_bytes(b"\xff{ not json")
    before = model_check.probes_run
    assert check_model(toy_copy) == toy_copy
    assert model_check.probes_run == before + 1
    assert str(toy_copy.resolve()) in own_cache.read_text()


def test_a_cache_folder_that_cannot_be_written_is_not_an_error(toy_copy, own_cache):
    own_cache.parents[1].mkdir(parents=True)
    own_cache.parents[1].joinpath("massage-coach").write_text("a file where the folder should be")
    assert check_model(toy_copy) == toy_copy


def test_find_model_order(no_usual_dirs, toy_copy, tmp_path, monkeypatch):
    assert find_model() is None
    assert find_model("/some/explicit/dir") == Path("/some/explicit/dir")
    # a model in Vosk's cache folder
    cache = no_usual_dirs[1]
    cache.mkdir()
    shutil.copytree(toy_copy, cache / "vosk-model-en-us-0.22")
    shutil.copytree(toy_copy, cache / "vosk-model-small-en-us-0.15")
    (cache / "vosk-model-small-en-us-broken").mkdir()  # not complete: skipped
    shutil.copytree(toy_copy, cache / "vosk-model-small-fr-0.22")  # not English: skipped
    assert find_model() == cache / "vosk-model-small-en-us-0.15"
    # the environment variable wins over the folders: as a model folder, or as a folder of models
    monkeypatch.setenv(models.ENV_VAR, str(toy_copy))
    assert find_model() == toy_copy
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path))
    assert find_model() == toy_copy
    # the explicit folder wins over everything
    assert find_model(tmp_path / "x") == tmp_path / "x"
    listed = list_models()
    assert (toy_copy, models.ENV_VAR) in listed
    assert (cache / "vosk-model-small-fr-0.22", str(cache)) in listed


def test_vosk_dirs_follow_vosk_package():
    import vosk

    assert [Path(d) for d in vosk.MODEL_DIRS[1:]] == models.vosk_dirs()


def zip_model(src: Path, zip_path: Path, top: str | None) -> Path:
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(src.rglob("*")):
            if f.is_file():
                rel = f.relative_to(src).as_posix()
                zf.write(f, f"{top}/{rel}" if top else rel)
    return zip_path


def test_install_zip_with_top_folder_gives_a_working_model(tmp_path):
    name = "vosk-model-small-en-us-0.15"
    zp = zip_model(toy_model_path(), tmp_path / f"{name}.zip", name)
    dest = tmp_path / "cache"
    installed = install_zip(zp, dest)
    assert installed == dest / "vosk-model-small-en-us-0.15"
    assert load_model(installed) is not None
    assert [p.name for p in dest.iterdir()] == ["vosk-model-small-en-us-0.15"]  # no staging left over


def test_install_zip_of_bare_files_uses_the_name(tmp_path):
    zp = zip_model(toy_model_path(), tmp_path / "bare.zip", None)
    assert install_zip(zp, tmp_path / "d", name="vosk-model-x").name == "vosk-model-x"


def test_download_model_installs_through_fetch(tmp_path, monkeypatch):
    """The full download path with fetch() replaced by a copy of a zip built from the toy model."""
    name = "vosk-model-small-en-us-0.15"
    zp = zip_model(toy_model_path(), tmp_path / "served.zip", name)
    fetched: list[str] = []

    def fake_fetch(url, dest, timeout=10.0, progress=True):
        fetched.append(url)
        shutil.copy(zp, dest)
        return dest

    monkeypatch.setattr(models, "fetch", fake_fetch)
    dest = tmp_path / "cache"
    path = download_model(name, dest=dest, progress=False)
    assert path == dest / name
    assert fetched == [f"{models.MODEL_URL}{name}.zip"]
    assert not (dest / f"{name}.zip").exists()
    assert load_model(path) is not None
    assert download_model(name, dest=dest, progress=False) == path  # already there: no second fetch
    assert len(fetched) == 1


def test_damaged_zip_installs_nothing(tmp_path):
    zp = zip_model(toy_model_path(), tmp_path / "m.zip", "vosk-model-small-en-us-0.15")
    zp.write_bytes(zp.read_bytes()[: zp.stat().st_size // 2])
    dest = tmp_path / "cache"
    with pytest.raises(ModelError, match="cannot install model"):
        install_zip(zp, dest)
    assert not (dest / "vosk-model-small-en-us-0.15").exists()


def test_zip_without_a_model_is_rejected(tmp_path):
    zp = tmp_path / "notes.zip"
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr("notes/readme.txt", "hello")
    with pytest.raises(ModelError, match=r"no am/final\.mdl"):
        install_zip(zp, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_download_without_network_fails_fast_in_one_line(tmp_path):
    """This machine has no network: the error must be one clear line, quickly (closed port, short timeout)."""
    with pytest.raises(ModelError) as info:
        download_model("vosk-model-small-en-us-0.15", dest=tmp_path, progress=False, timeout=3.0,
                       base_url="http://127.0.0.1:9/")  # discard port: nothing listens
    message = str(info.value)
    assert message.startswith("cannot download vosk-model-small-en-us-0.15")
    assert "no network" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_download_from_the_real_site_without_network(tmp_path):
    with pytest.raises(ModelError, match="no network"):
        download_model(dest=tmp_path, progress=False, timeout=3.0)
