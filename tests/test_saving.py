"""Saving: .keras and .weights.h5 round trips, and portability across backends."""

import json
import os

import keras
import numpy as np
import pytest

import keras_vae
from backend_worker import deterministic_loss
from testing import BACKEND, ROOT, run_backend, tiny_model, variable_value

# The .keras round trip of every model is part of the model contract
# (tests/testing.py, tests/test_model_contract.py).


def _trained(cls, x, **kwargs):
    model = tiny_model(cls, **kwargs)
    model.compile()
    model.fit(x[:128], batch_size=32, epochs=1, verbose=0)
    return model


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


# One model per regularizer added with disentanglement_lib's model set; each
# has a deterministic loss with a deterministic sampler (FactorVAE's
# permutation enters only the discriminator's term, whose value is 0).
PARITY_MODELS = {
    "DIPVAE-i": (keras_vae.DIPVAE, dict(variant="i", lambda_od=2.0)),
    "DIPVAE-ii": (keras_vae.DIPVAE, dict(variant="ii", lambda_od=2.0)),
    "AnnealedVAE": (keras_vae.AnnealedVAE, dict(c_max=5.0, iteration_threshold=10)),
    "FactorVAE": (keras_vae.FactorVAE, dict(gamma=5.0)),
}

PARITY_CODE = """
import json, os, sys
import keras, numpy as np
import keras_vae
sys.path.insert(0, os.path.join({root!r}, "tests"))
from backend_worker import deterministic_loss
out = {{}}
for name, directory in {dirs!r}.items():
    with open(os.path.join(directory, "spec.json")) as f:
        spec = json.load(f)
    batch = np.load(os.path.join(directory, "batch.npy"))
    model = getattr(keras_vae, spec["class_name"]).from_config(spec["config"])
    model.load_weights(os.path.join(directory, "model.weights.h5"))
    loaded = keras.saving.load_model(os.path.join(directory, "model.keras"))
    state = [keras.ops.convert_to_numpy(v) for v in loaded.optimizer.variables]
    saved = np.load(os.path.join(directory, "optimizer.npz"))
    state_diff = max(float(np.max(np.abs(a - saved[str(i)]))) for i, a in enumerate(state))
    fit = loaded.fit(batch, batch_size=len(batch), epochs=1, verbose=0).history["loss"][0]
    out[name] = {{"loss": deterministic_loss(model, batch),
                 "reconstruction": model.reconstruct(batch).tolist(),
                 "optimizer_variables": len(state), "optimizer_state_diff": state_diff,
                 "fit_loss": fit, "step_counter": int(keras.ops.convert_to_numpy(loaded.step_counter))}}
print(json.dumps(out))
"""


def test_disentangling_models_agree_across_backends(digits, tmp_path):
    """DIP-VAE-I/II, AnnealedVAE and FactorVAE: the same weights and batch give
    the same loss and reconstructions on the three backends; the `.keras`
    file of a compiled model (FactorVAE: both optimizers' state) loads on the
    other backends with its optimizer state intact and trains."""
    x, _ = digits
    batch = x[:16]
    here, dirs = {}, {}
    for name, (cls, kwargs) in PARITY_MODELS.items():
        directory = tmp_path / name
        directory.mkdir()
        model = _trained(cls, x, **kwargs)
        model.save_weights(str(directory / "model.weights.h5"))
        model.save(str(directory / "model.keras"))
        np.save(directory / "batch.npy", batch)
        np.savez(directory / "optimizer.npz", **{
            str(i): variable_value(v) for i, v in enumerate(model.optimizer.variables)})
        with open(directory / "spec.json", "w") as f:
            json.dump({"class_name": cls.__name__, "config": model.get_config()}, f)
        here[name] = {"loss": deterministic_loss(model, batch),
                      "reconstruction": model.reconstruct(batch),
                      "optimizer_variables": len(model.optimizer.variables)}
        dirs[name] = str(directory)
    assert here["FactorVAE"]["optimizer_variables"] > here["DIPVAE-i"]["optimizer_variables"]
    for other in sorted({"tensorflow", "jax", "torch"} - {BACKEND}):
        line = run_backend(other, PARITY_CODE.format(root=ROOT, dirs=dirs))
        results = json.loads(line.strip().splitlines()[-1])
        for name, result in results.items():
            message = f"{name}: {BACKEND} -> {other}"
            assert result["loss"] == pytest.approx(here[name]["loss"], rel=1e-4), message
            np.testing.assert_allclose(result["reconstruction"], here[name]["reconstruction"],
                                       atol=1e-5, err_msg=message)
            assert result["optimizer_variables"] == here[name]["optimizer_variables"], message
            assert result["optimizer_state_diff"] == 0.0, message
            assert np.isfinite(result["fit_loss"]) and result["step_counter"] == 5, message
