"""keras_vae._threads: OMP_WAIT_POLICY=PASSIVE by default, results unchanged."""

import os
import subprocess
import sys

import pytest

from testing import BACKEND
from testing import ROOT


def _run(code, backend=BACKEND, **env):
    base = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=ROOT,
        env=dict(base, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", **env))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


POLICY = "import os, keras_vae; print(os.environ.get('OMP_WAIT_POLICY'))"


def test_passive_when_unset():
    assert _run(POLICY) == "PASSIVE"


def test_an_explicit_policy_is_kept():
    assert _run(POLICY, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_not_set_once_torch_is_loaded():
    pytest.importorskip("torch")
    code = "import torch, os, keras_vae; print(os.environ.get('OMP_WAIT_POLICY'))"
    assert _run(code) == "None"


TRAIN = """
import numpy as np, keras, keras_vae
keras.utils.set_random_seed(0)
x = np.random.default_rng(0).uniform(size=(256, 16, 16, 1)).astype("float32")
model = keras_vae.VAE(input_shape=(16, 16, 1), latent_dim=4, architecture="conv",
                      network_kwargs={"filters": [8, 16], "hidden_units": [32]}, seed=0)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(x, batch_size=64, epochs=2, verbose=0, shuffle=False)
weights = np.concatenate([np.ravel(keras.ops.convert_to_numpy(w)) for w in model.weights])
print(weights.astype(np.float32).tobytes().hex()[:64], float(np.sum(weights.astype(np.float64))))
"""


@pytest.mark.skipif(BACKEND != "torch", reason="OpenMP runs the torch backend's kernels")
def test_same_training_result_under_both_policies():
    """The wait policy changes how idle threads wait, not what they compute:
    the same steps give the same weights, bit for bit."""
    passive = _run(TRAIN, "torch")
    active = _run(TRAIN, "torch", OMP_WAIT_POLICY="ACTIVE")
    assert passive == active
