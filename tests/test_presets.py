"""Preset directories: save, verified load, and clear refusals."""

import json
import os

import numpy as np
import pytest

import keras_vae
from keras_vae import presets
from conftest import tiny_model


@pytest.fixture()
def preset_dir(tmp_path, digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaVAE, beta=2.0)
    model.compile()
    model.fit(x[:64], batch_size=32, epochs=1, verbose=0)
    directory = tmp_path / "beta_digits"
    meta = presets.save_preset(model, directory, {"dataset": "digits", "steps": 2})
    return directory, model, meta


def test_round_trip_and_metadata(preset_dir, digits):
    x, _ = digits
    directory, model, meta = preset_dir
    assert sorted(os.listdir(directory)) == ["README.md", "config.json", "metadata.json",
                                            "model.weights.h5"]
    assert meta["sha256"] == presets.sha256(directory / "model.weights.h5")
    assert meta["parameters"] == model.count_params() and meta["dataset"] == "digits"
    loaded = keras_vae.from_preset(str(directory))
    assert type(loaded) is keras_vae.BetaVAE and loaded.beta == 2.0
    np.testing.assert_allclose(loaded.predict(x[:4]), model.predict(x[:4]), atol=1e-6)
    assert keras_vae.BetaVAE.from_preset(str(directory)).preset_metadata["steps"] == 2
    with pytest.raises(ValueError, match="not a MMDVAE"):
        keras_vae.MMDVAE.from_preset(str(directory))


def test_tampered_weights_are_refused(preset_dir):
    directory, _, _ = preset_dir
    with open(directory / "model.weights.h5", "r+b") as f:
        f.seek(-16, os.SEEK_END)
        f.write(b"\x00" * 16)
    with pytest.raises(ValueError, match="checksum"):
        keras_vae.from_preset(str(directory))


def test_unknown_class_and_missing_files(preset_dir):
    directory, _, _ = preset_dir
    config = json.loads((directory / "config.json").read_text())
    config["class_name"] = "os.system"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="model class"):
        keras_vae.from_preset(str(directory))
    os.remove(directory / "metadata.json")
    with pytest.raises(ValueError, match="lacks metadata.json"):
        keras_vae.from_preset(str(directory))


def test_unknown_name_lists_available(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_VAE_PRESETS", str(tmp_path))
    with pytest.raises(ValueError, match=r"Available presets: none found"):
        keras_vae.from_preset("no_such_preset")
    with pytest.raises(TypeError, match="name_or_dir"):
        keras_vae.from_preset(3)


def test_save_refuses_existing_directory(preset_dir):
    directory, model, _ = preset_dir
    with pytest.raises(ValueError, match="overwrite=True"):
        presets.save_preset(model, directory)
    presets.save_preset(model, directory, overwrite=True)
    assert not [p for p in os.listdir(directory.parent) if p.startswith(".preset-")]
    with pytest.raises(TypeError, match="keras-vae model"):
        presets.save_preset(object(), directory.parent / "x")
