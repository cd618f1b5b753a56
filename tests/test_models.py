"""Vosk model discovery, checks, loading errors and the download/install path (with the real toy model)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from audio import models
from audio.errors import ModelError
from audio.models import check_model, download_model, find_model, install_zip, list_models, load_model
from tests.speech_fixtures import toy_model_path


@pytest.fixture
def toy_copy(tmp_path) -> Path:
    dest = tmp_path / "vosk-model-small-en-us-toy"
    shutil.copytree(toy_model_path(), dest)
    return dest


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
