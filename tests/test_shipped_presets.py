"""Every shipped preset loads on this backend, verified, and works."""

import os
import shutil

import numpy as np
import pytest

import keras_vae
from keras_vae import presets
from keras_vae import recipes

SHIPPED = sorted(presets.list_presets())


def test_at_least_six_presets_within_50_mb():
    assert len(SHIPPED) >= 6, SHIPPED
    total = sum(os.path.getsize(os.path.join(presets.presets_dir(), n, presets.WEIGHTS_FILE))
                for n in SHIPPED)
    assert total <= 50 * 2**20, total


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_loads_and_runs(name):
    model = keras_vae.from_preset(name)
    meta = model.preset_metadata
    assert meta["recipe"] == name and meta["parameters"] == model.count_params()
    assert type(model).__name__ == recipes.load_recipe(name).model
    x = np.random.default_rng(0).uniform(size=(2,) + model.image_shape).astype("float32")
    recon = model.predict(x)
    assert recon.shape == x.shape and np.isfinite(recon).all()
    assert model.sample(2, seed=0).shape == x.shape


def test_tampered_shipped_preset_is_refused(tmp_path):
    copy = tmp_path / SHIPPED[0]
    shutil.copytree(presets.resolve(SHIPPED[0]), copy)
    with open(copy / presets.WEIGHTS_FILE, "r+b") as f:
        f.seek(2048)
        byte = f.read(1)
        f.seek(2048)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="checksum"):
        keras_vae.from_preset(str(copy))
