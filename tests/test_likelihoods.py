"""Reconstruction terms against numpy references."""

import math

import numpy as np
import pytest
from keras import ops

from keras_vae import likelihoods


def test_bernoulli_is_binary_cross_entropy_with_logits():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 4, 4, 1)).astype("float32")
    logits = rng.normal(scale=3.0, size=x.shape).astype("float32")
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    ref = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(3, -1).sum(1)
    got = ops.convert_to_numpy(likelihoods.get("bernoulli").negative_log_likelihood(x, logits))
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    big = ops.convert_to_numpy(likelihoods.Bernoulli().negative_log_likelihood(
        np.ones((1, 2)), np.array([[100.0, -100.0]], "float32")))
    assert np.isfinite(big).all() and big[0] == pytest.approx(100.0, rel=1e-5)


@pytest.mark.parametrize("scale", [1.0, 0.1])
def test_gaussian_is_scaled_squared_error_plus_constant(scale):
    rng = np.random.default_rng(1)
    x, mu = rng.uniform(size=(2, 3, 3, 2)), rng.uniform(size=(2, 3, 3, 2))
    d = 18
    ref = (0.5 * ((x - mu) / scale) ** 2).reshape(2, -1).sum(1) + d * (
        math.log(scale) + 0.5 * math.log(2 * math.pi))
    got = likelihoods.Gaussian(scale=scale).negative_log_likelihood(
        x.astype("float32"), mu.astype("float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(got), ref, rtol=1e-5)


def test_laplace_is_absolute_error_plus_constant():
    rng = np.random.default_rng(2)
    x, mu = rng.uniform(size=(2, 2, 2, 1)), rng.uniform(size=(2, 2, 2, 1))
    ref = (np.abs(x - mu) / 0.5).reshape(2, -1).sum(1) + 4 * math.log(2 * 0.5)
    got = likelihoods.Laplace(scale=0.5).negative_log_likelihood(
        x.astype("float32"), mu.astype("float32"))
    np.testing.assert_allclose(ops.convert_to_numpy(got), ref, rtol=1e-5)


def test_learned_scale_is_a_trainable_weight():
    fixed, learned = likelihoods.Gaussian(), likelihoods.Gaussian(scale=0.2, learn_scale=True)
    assert len(fixed.trainable_weights) == 0
    assert len(learned.trainable_weights) == 1
    assert float(ops.convert_to_numpy(learned.log_scale)) == pytest.approx(math.log(0.2))


def test_mean_and_errors():
    logits = np.array([[0.0, 100.0]], "float32")
    np.testing.assert_allclose(ops.convert_to_numpy(likelihoods.Bernoulli().mean(logits)),
                               [[0.5, 1.0]])
    with pytest.raises(ValueError, match="likelihood"):
        likelihoods.get("poisson")
    with pytest.raises(ValueError, match="scale"):
        likelihoods.Gaussian(scale=0.0)
    with pytest.raises(TypeError, match="learn_scale"):
        likelihoods.Laplace(learn_scale="yes")
