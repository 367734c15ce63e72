"""The Sampling layer: reparameterization, seeding, deterministic mode, config."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_vae import Sampling


def test_statistics_match_mean_and_variance():
    mean = np.full((20_000, 3), [0.0, 2.0, -1.0], "float32")
    log_var = np.full((20_000, 3), [0.0, np.log(4.0), np.log(0.25)], "float32")
    z = ops.convert_to_numpy(Sampling(seed=1)([mean, log_var]))
    np.testing.assert_allclose(z.mean(0), [0.0, 2.0, -1.0], atol=0.05)
    np.testing.assert_allclose(z.std(0), [1.0, 2.0, 0.5], rtol=0.03)


def test_fresh_noise_each_call_and_reproducible_with_seed():
    inputs = [np.zeros((4, 2), "float32"), np.zeros((4, 2), "float32")]
    a = Sampling(seed=7)
    first, second = (ops.convert_to_numpy(a(inputs)) for _ in range(2))
    assert not np.allclose(first, second)
    b = Sampling(seed=7)
    np.testing.assert_array_equal(first, ops.convert_to_numpy(b(inputs)))


def test_deterministic_mode_returns_mean():
    mean = np.arange(6, dtype="float32").reshape(2, 3)
    log_var = np.zeros((2, 3), "float32")
    np.testing.assert_array_equal(
        ops.convert_to_numpy(Sampling(deterministic=True)([mean, log_var])), mean)
    np.testing.assert_array_equal(
        ops.convert_to_numpy(Sampling()([mean, log_var], deterministic=True)), mean)


def test_reparameterization_is_mean_plus_scaled_noise():
    # Same seed -> same eps, so z = mean + exp(log_var / 2) * eps exactly:
    # a deterministic, differentiable function of (mean, log_var).
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=(2, 5, 3)).astype("float32")
    lv1, lv2 = rng.normal(size=(2, 5, 3)).astype("float32")
    z1 = ops.convert_to_numpy(Sampling(seed=5)([m1, lv1]))
    z2 = ops.convert_to_numpy(Sampling(seed=5)([m2, lv2]))
    eps1, eps2 = (z1 - m1) / np.exp(0.5 * lv1), (z2 - m2) / np.exp(0.5 * lv2)
    np.testing.assert_allclose(eps1, eps2, rtol=1e-4, atol=1e-5)


def test_symbolic_call_keeps_the_mean_shape():
    inputs = keras.Input((2,)), keras.Input((2,))
    model = keras.Model(inputs, Sampling()(list(inputs)))
    assert tuple(model.output.shape) == (None, 2)
    assert ops.convert_to_numpy(model([np.zeros((5, 2)), np.zeros((5, 2))])).shape == (5, 2)


def test_config_round_trip_and_validation():
    layer = Sampling(seed=11, deterministic=True, name="s")
    config = layer.get_config()
    assert config["seed"] == 11 and config["deterministic"] is True
    clone = Sampling.from_config(config)
    assert clone.seed == 11 and clone.deterministic
    with pytest.raises(TypeError, match="seed"):
        Sampling(seed="1")
    with pytest.raises(ValueError, match="pair"):
        Sampling()(np.zeros((2, 2), "float32"))
