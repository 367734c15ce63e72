"""keras_vae._threads: a short OpenMP spin, then sleep, by default; results unchanged."""

import os
import subprocess
import sys

import pytest

from testing import BACKEND
from testing import ROOT


def _run(code, backend=BACKEND, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, cwd=ROOT,
        env=dict(base, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", **env))
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


SHOW = "print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"
POLICY = "import os, keras_vae; " + SHOW


def test_passive_with_a_short_spin_when_unset():
    assert _run(POLICY) == "PASSIVE 1000"


def test_an_explicit_policy_is_kept_whole():
    # A spin count would override the user's policy in libgomp: none is added.
    assert _run(POLICY, OMP_WAIT_POLICY="ACTIVE") == "ACTIVE None"
    assert _run(POLICY, OMP_WAIT_POLICY="PASSIVE") == "PASSIVE None"


def test_an_explicit_spin_count_is_kept_whole():
    assert _run(POLICY, GOMP_SPINCOUNT="5") == "None 5"


def test_not_set_once_torch_is_loaded():
    pytest.importorskip("torch")
    assert _run("import torch, os, keras_vae; " + SHOW) == "None None"


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
def test_same_training_result_under_every_wait_setting():
    """How idle threads wait changes nothing they compute: the library's
    default, sleeping at once and spinning give the same weights, bit for
    bit."""
    default = _run(TRAIN, "torch")
    assert _run(TRAIN, "torch", OMP_WAIT_POLICY="PASSIVE") == default
    assert _run(TRAIN, "torch", OMP_WAIT_POLICY="ACTIVE") == default
