"""Shared test helpers and the contract every keras-vae model meets.

Importable from any test module (`from testing import tiny_model`); the
suite's `conftest.py` re-exports the helpers, so `from conftest import ...`
keeps working.

`run_vae_model_test(cls, init_kwargs, x, tmp_path, penalty)` checks what
every `keras_vae.BaseVAE` subclass promises: argument errors, training with
a falling loss, the loss identity, the `.keras` / weights / preset round
trips and (on TensorFlow, where it runs in-process) the export round trip.
`tests/test_model_contract.py` runs it for every model class that
`keras_vae` exports.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_digits():
    """scikit-learn's bundled 8x8 digits as float32 images in [0, 1], labels."""
    from sklearn.datasets import load_digits as sklearn_load_digits

    data = sklearn_load_digits()
    return (data.images / 16.0).astype("float32")[..., None], data.target


def tiny_model(cls, **kwargs):
    """A model small enough to train in seconds on every backend."""
    args = dict(
        input_shape=(8, 8, 1),
        latent_dim=4,
        architecture="mlp",
        network_kwargs={"hidden_units": [32]},
        seed=0,
    )
    if getattr(cls, "__name__", "") == "FactorVAE":  # not the paper's 6 x 1000
        args["discriminator_units"] = [16, 16]
    args.update(kwargs)
    return cls(**args)


def run_backend(backend, code, timeout=240):
    """Runs `code` in a fresh Python process under `backend`; returns stdout."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True,
        timeout=timeout, cwd=ROOT,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{backend} subprocess failed:\n{result.stdout}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def variable_value(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable))


# === The model contract ===

TRAIN_EXAMPLES = 1000
BATCH_SIZE = 100
EPOCHS = 3


def run_vae_model_test(cls, init_kwargs, x, tmp_path, penalty):
    """Checks the contract of a `BaseVAE` subclass on 8x8 images `x`.

    Args:
        cls: the model class.
        init_kwargs: its own constructor arguments (the shared ones come from
            `tiny_model`).
        x: float32 images `(N, 8, 8, 1)` in [0, 1], N >= 1264.
        tmp_path: a `pathlib.Path` folder for the saved files.
        penalty: `penalty(model, metrics)`, the model's regularizer as its
            paper writes it, from the reported terms (e.g. `beta * kl_loss`);
            the contract checks `loss == reconstruction_loss + penalty`.
    """
    check_bad_arguments(cls, init_kwargs)
    model = check_training(cls, init_kwargs, x)
    check_loss_identity(model, x[TRAIN_EXAMPLES:TRAIN_EXAMPLES + 64], penalty)
    check_round_trips(model, x[:8], tmp_path)
    if BACKEND == "tensorflow":
        check_export(model, x[:8], tmp_path)


def check_bad_arguments(cls, init_kwargs):
    """The shared constructor arguments are checked by every model."""
    cases = [
        (dict(latent_dim=0), ValueError, "Received: latent_dim=0"),
        (dict(latent_dim=2.5), TypeError, "Received: latent_dim=2.5"),
        (dict(input_shape=(8, 8)), ValueError, r"Received: input_shape=\(8, 8\)"),
        (dict(architecture="rnn"), ValueError, "Received: architecture='rnn'"),
        (dict(seed=-1), ValueError, "Received: seed=-1"),
        (dict(network_kwargs=[32]), TypeError, r"Received: network_kwargs=\[32\]"),
        (dict(no_such_argument=1), ValueError, "no_such_argument"),
    ]
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match):
            tiny_model(cls, **{**init_kwargs, **kwargs})


def check_training(cls, init_kwargs, x):
    """Trains a tiny model; the training and validation losses fall and
    every term is reported for both."""
    model = tiny_model(cls, **init_kwargs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    held_out = x[TRAIN_EXAMPLES + 64:TRAIN_EXAMPLES + 264]
    history = model.fit(x[:TRAIN_EXAMPLES], epochs=EPOCHS, batch_size=BATCH_SIZE,
                        validation_data=held_out, verbose=0).history
    names = {"loss", "reconstruction_loss", *model.regularizer_terms}
    assert names | {f"val_{name}" for name in names} <= set(history)
    for name, values in history.items():
        assert len(values) == EPOCHS and np.all(np.isfinite(values)), (name, values)
    assert history["loss"][-1] < 0.9 * history["loss"][0], history["loss"]
    assert history["val_loss"][-1] < history["val_loss"][0], history["val_loss"]
    steps = EPOCHS * TRAIN_EXAMPLES // BATCH_SIZE
    assert int(variable_value(model.step_counter)) == steps
    return model


def check_loss_identity(model, batch, penalty):
    """`loss = reconstruction_loss + penalty(terms)`, as `evaluate` reports
    them, with the reconstruction and the KL recomputed in numpy."""
    model.sampler.deterministic = True  # z = z_mean: numpy can follow
    try:
        result = model.evaluate(batch, batch_size=len(batch), verbose=0,
                                return_dict=True)
        out = model(batch)
    finally:
        model.sampler.deterministic = False
    assert {"loss", "reconstruction_loss", *model.regularizer_terms} <= set(result)
    expected = result["reconstruction_loss"] + penalty(model, result)
    assert result["loss"] == pytest.approx(expected, rel=1e-4, abs=1e-4)

    # Bernoulli decoder (tiny_model's default): binary cross-entropy with
    # logits, summed over pixels, averaged over examples.
    logits = variable_value(out["decoder_output"]).astype("float64")
    target = np.asarray(batch, "float64")
    nll = np.logaddexp(0.0, logits) - target * logits
    recon = np.mean(np.sum(nll.reshape(len(batch), -1), axis=1))
    assert result["reconstruction_loss"] == pytest.approx(recon, rel=1e-4)
    if "kl_loss" in result:
        mean = variable_value(out["z_mean"]).astype("float64")
        log_var = variable_value(out["z_log_var"]).astype("float64")
        kl = np.mean(0.5 * np.sum(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=1))
        assert result["kl_loss"] == pytest.approx(kl, rel=1e-4)


def keras_file_round_trip(model, tmp_path, name="model.keras"):
    """Saves `model` as `tmp_path/name` and loads it back: the same class and
    config. Returns the loaded model."""
    path = str(tmp_path / name)
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    assert loaded.get_config() == model.get_config()
    return loaded


def check_round_trips(model, batch, tmp_path):
    """`.keras` (compiled, resumable), `.weights.h5` and preset round trips."""
    import keras_vae

    cls = type(model)
    reconstruction = model.predict(batch)
    steps = int(variable_value(model.step_counter))

    loaded = keras_file_round_trip(model, tmp_path)
    np.testing.assert_allclose(loaded.predict(batch), reconstruction, atol=1e-6)
    assert int(variable_value(loaded.step_counter)) == steps
    assert int(variable_value(loaded.optimizer.iterations)) == steps
    loaded.fit(np.concatenate([batch] * 4), batch_size=len(batch), epochs=1, verbose=0)
    assert int(variable_value(loaded.step_counter)) == steps + 4  # resumes compiled

    path = str(tmp_path / "model.weights.h5")
    model.save_weights(path)
    clone = cls.from_config(model.get_config())
    clone.load_weights(path)
    np.testing.assert_allclose(clone.predict(batch), reconstruction, atol=1e-6)
    assert int(variable_value(clone.step_counter)) == steps

    directory = tmp_path / "preset"
    keras_vae.save_to_preset(model, directory, {"dataset": "digits"})
    preset = cls.from_preset(str(directory))
    assert type(preset) is cls and preset.get_config() == model.get_config()
    np.testing.assert_allclose(preset.predict(batch), reconstruction, atol=1e-6)


def check_export(model, batch, tmp_path):
    """A SavedModel's `encode` and `reconstruct` serve what the model computes."""
    import tensorflow as tf

    import keras_vae

    path = keras_vae.export(model, str(tmp_path / "saved_model"))
    served = tf.saved_model.load(path)
    codes = served.signatures["encode"](x=tf.constant(batch))
    z_mean, z_log_var = model.encode(batch)
    np.testing.assert_allclose(codes["z_mean"].numpy(), z_mean, atol=1e-5)
    np.testing.assert_allclose(codes["z_log_var"].numpy(), z_log_var, atol=1e-5)
    images = served.signatures["reconstruct"](x=tf.constant(batch))["x"].numpy()
    np.testing.assert_allclose(images, model.reconstruct(batch), atol=1e-5)
