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


@pytest.mark.parametrize("name", SHIPPED)
def test_preset_reproduces_its_recorded_test_elbo(name):
    # The weights must still mean what they meant when the preset was
    # trained: a change of the network code that keeps the weight shapes
    # (e.g. a decoder's padding) loads silently and only shows here. 400 of
    # the 2,000 held-out images the metadata's test ELBO was measured on.
    from keras_vae import evaluation
    from keras_vae.datasets import fashion_mnist

    model = keras_vae.from_preset(name)
    recipe = recipes.load_recipe(name)
    if recipe.dataset == "fashion_mnist" and not os.path.isdir(fashion_mnist.DEBIAN_DIR):
        pytest.skip("Fashion-MNIST Debian files absent: apt-get install dataset-fashion-mnist")
    x = recipes.test_data(recipe, 2000, seed=0)[:400]
    recorded = model.preset_metadata["metrics"]["test_elbo"]
    measured = evaluation.evaluate_elbo(model, x, seed=0)["elbo"]
    assert abs(measured - recorded) < 0.1 * abs(recorded), (name, measured, recorded)


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
