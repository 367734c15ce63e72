"""Shared fixtures. The suite runs once per Keras backend (see ./dev test)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's bundled 8x8 digits as float32 images in [0, 1]."""
    from sklearn.datasets import load_digits

    data = load_digits()
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
