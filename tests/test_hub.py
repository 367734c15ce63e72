"""Preset handles (file://, hf://, kaggle://) through the real client libraries, offline.

The hub clients run their own code paths against caches laid out here, in
the layouts they read (huggingface_hub's `models--OWNER--REPO/refs` +
`snapshots`, kagglehub's own `Cache`); nothing reaches the network.
"""

import os
import shutil
import stat
import sys

import numpy as np
import pytest

import keras_vae
from keras_vae import hub
from keras_vae import presets
from testing import tiny_model

huggingface_hub = pytest.importorskip("huggingface_hub")
hf_constants = pytest.importorskip("huggingface_hub.constants")
kagglehub = pytest.importorskip("kagglehub")
kaggle_cache = pytest.importorskip("kagglehub.cache")
kaggle_handle = pytest.importorskip("kagglehub.handle")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaVAE, beta=3.0)
    directory = tmp_path_factory.mktemp("presets") / "beta_digits"
    keras_vae.save_to_preset(model, directory, {"dataset": "digits"})
    return directory, model, x[:4]


def _same_model(loaded, model, x):
    assert type(loaded) is type(model) and loaded.beta == model.beta
    np.testing.assert_allclose(loaded.encode(x)[0], model.encode(x)[0], atol=1e-6)


def test_file_handle_and_upload_round_trip(saved, tmp_path):
    directory, model, x = saved
    _same_model(keras_vae.from_preset(f"file://{directory}"), model, x)
    target = tmp_path / "published" / "beta"
    handle = keras_vae.upload_preset(f"file://{target}", str(directory))
    assert handle == f"file://{target}"
    assert sorted(os.listdir(target)) == sorted(os.listdir(directory))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o777 & ~umask
    _same_model(keras_vae.from_preset(handle), model, x)
    with pytest.raises(ValueError, match="exists"):
        keras_vae.upload_preset(f"file://{target}", str(directory))
    assert not [n for n in os.listdir(target.parent) if n.startswith(".")]  # no staging left


def test_upload_refuses_a_damaged_preset(saved, tmp_path):
    directory, _, _ = saved
    damaged = tmp_path / "damaged"
    shutil.copytree(directory, damaged)
    with open(damaged / presets.WEIGHTS_FILE, "r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(b"\xff" * 8)
    with pytest.raises(ValueError, match="checksum"):
        keras_vae.upload_preset(f"file://{tmp_path / 'out'}", str(damaged))
    assert not (tmp_path / "out").exists()


def _hf_cache(tmp_path, directory, repo, monkeypatch):
    cache = tmp_path / "hf-cache"
    commit = "0123456789abcdef0123456789abcdef01234567"
    root = cache / ("models--" + repo.replace("/", "--"))
    shutil.copytree(directory, root / "snapshots" / commit)
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    return root / "snapshots" / commit


def test_hf_handle_served_from_the_cache_offline(saved, tmp_path, monkeypatch):
    directory, model, x = saved
    snapshot = _hf_cache(tmp_path, directory, "someone/beta-digits", monkeypatch)
    assert os.path.samefile(presets.resolve("hf://someone/beta-digits"), snapshot)
    _same_model(keras_vae.from_preset("hf://someone/beta-digits"), model, x)
    # The checksum is verified on hub presets too.
    with open(snapshot / presets.WEIGHTS_FILE, "r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(b"\xff" * 8)
    with pytest.raises(ValueError, match="checksum"):
        keras_vae.from_preset("hf://someone/beta-digits")


def test_hf_handle_not_cached_offline_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OSError, match="hf://someone/absent.*file://PATH.*HF_HUB_OFFLINE"):
        keras_vae.from_preset("hf://someone/absent")


def test_kaggle_versioned_handle_served_from_the_cache(saved, tmp_path, monkeypatch):
    directory, model, x = saved
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kaggle-cache"))
    handle = kaggle_handle.parse_model_handle("someone/beta-digits/keras/digits/2")
    cache = kaggle_cache.Cache()
    shutil.copytree(directory, cache.get_path(handle))
    cache.mark_as_complete(handle)
    _same_model(keras_vae.from_preset("kaggle://someone/beta-digits/keras/digits/2"), model, x)


@pytest.mark.parametrize("handle, message", [
    ("ftp://host/preset", "Unknown preset handle scheme 'ftp'"),
    ("hf://", "names nothing"),
    ("hf://only-owner", "hf://OWNER/REPO"),
    ("hf://a/b/c", "hf://OWNER/REPO"),
    ("kaggle://a/b", "kaggle://OWNER/MODEL/keras/VARIATION"),
    ("kaggle://a/b/keras/v/latest", "version of a Kaggle handle"),
])
def test_malformed_handles(handle, message):
    with pytest.raises(ValueError, match=message):
        keras_vae.from_preset(handle)


def test_missing_client_library_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError, match=r"keras-vae\[hub\]"):
        keras_vae.from_preset("hf://someone/repo")


def test_upload_needs_a_handle(saved):
    directory, _, _ = saved
    with pytest.raises(ValueError, match="uri"):
        keras_vae.upload_preset(str(directory), str(directory))
    with pytest.raises(TypeError, match="handle"):
        hub.split_handle(3)
