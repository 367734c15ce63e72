"""Saving: .keras and .weights.h5 round trips, and portability across backends."""

import json
import os

import keras
import numpy as np
import pytest

import keras_vae
from backend_worker import deterministic_loss
from conftest import BACKEND, ROOT, run_backend, tiny_model, variable_value

MODELS = [keras_vae.VAE, keras_vae.BetaVAE, keras_vae.MMDVAE]


def _trained(cls, x, **kwargs):
    model = tiny_model(cls, **kwargs)
    model.compile()
    model.fit(x[:128], batch_size=32, epochs=1, verbose=0)
    return model


@pytest.mark.parametrize("cls", MODELS)
def test_keras_file_round_trip(cls, digits, tmp_path):
    x, _ = digits
    model = _trained(cls, x)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is cls
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded.predict(x[:8]), model.predict(x[:8]), atol=1e-6)
    assert int(variable_value(loaded.step_counter)) == 4
    assert int(variable_value(loaded.optimizer.iterations)) == 4
    loaded.fit(x[:64], batch_size=32, epochs=1, verbose=0)  # compiled, resumes
    assert int(variable_value(loaded.step_counter)) == 6


def test_weights_round_trip_and_configs(digits, tmp_path):
    x, _ = digits
    model = _trained(keras_vae.BetaVAE, x, beta=8.0, schedule="cosine", anneal_steps=50,
                     likelihood=keras_vae.likelihoods.Gaussian(scale=0.3, learn_scale=True))
    path = str(tmp_path / "model.weights.h5")
    model.save_weights(path)
    clone = keras_vae.BetaVAE.from_config(model.get_config())
    clone.load_weights(path)
    np.testing.assert_allclose(clone.predict(x[:8]), model.predict(x[:8]), atol=1e-6)
    assert clone.likelihood.learn_scale and clone.likelihood.scale == 0.3
    assert float(variable_value(clone.likelihood.log_scale)) == pytest.approx(
        float(variable_value(model.likelihood.log_scale)))
    mmd = keras_vae.MMDVAE.from_config(tiny_model(keras_vae.MMDVAE, multiscale=True,
                                                  kernel="gaussian").get_config())
    assert mmd.scales == keras_vae.MMDVAE.MULTISCALE and mmd.kernel == "gaussian"


def test_custom_networks_round_trip(digits, tmp_path):
    x, _ = digits
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Dense(8, name="my_dense")(keras.layers.Flatten()(inp))
    encoder = keras.Model(inp, [keras.layers.Dense(2, name="m")(h),
                                keras.layers.Dense(2, name="v")(h)], name="my_encoder")
    model = keras_vae.VAE(input_shape=(8, 8, 1), latent_dim=2, encoder=encoder,
                          architecture="mlp", network_kwargs={"hidden_units": [8]})
    path = str(tmp_path / "custom.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.encoder.name == "my_encoder"
    np.testing.assert_allclose(loaded.encode(x[:4])[0], model.encode(x[:4])[0], atol=1e-6)


@pytest.mark.parametrize("upsampling", ["transpose", "subpixel"])
def test_weights_and_losses_agree_across_backends(digits, tmp_path, upsampling):
    """Weights written under this backend load under the other two with the
    same outputs; the same weights and batch with deterministic sampling give
    the same loss on all three backends; a .keras file from this backend
    (torch included) loads compiled and trains elsewhere."""
    x, _ = digits
    model = _trained(keras_vae.VAE, x, architecture="conv",
                     network_kwargs={"filters": [4, 8], "hidden_units": [16],
                                     "upsampling": upsampling})
    batch = x[:16]
    model.save_weights(str(tmp_path / "model.weights.h5"))
    model.save(str(tmp_path / "model.keras"))
    np.save(tmp_path / "batch.npy", batch)
    with open(tmp_path / "spec.json", "w") as f:
        json.dump({"class_name": "VAE", "config": model.get_config()}, f)
    here = {"reconstruction": model.reconstruct(batch), "loss": deterministic_loss(model, batch)}
    worker = os.path.join(ROOT, "tests", "backend_worker.py")
    for other in sorted({"tensorflow", "jax", "torch"} - {BACKEND}):
        line = run_backend(other, f"import runpy, sys; sys.argv = ['w', {str(tmp_path)!r}]; "
                                  f"runpy.run_path({worker!r}, run_name='__main__')")
        result = json.loads(line.strip().splitlines()[-1])
        assert result["backend"] == other
        np.testing.assert_allclose(result["reconstruction"], here["reconstruction"],
                                   atol=1e-5, err_msg=f"{BACKEND} -> {other}")
        assert result["loss"] == pytest.approx(here["loss"], rel=1e-4)
        assert result["keras_file_loss"] == pytest.approx(here["loss"], rel=1e-4)
        assert np.isfinite(result["keras_file_fit_loss"])
        assert result["step_counter"] == 5
