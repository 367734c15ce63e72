"""DIPVAE (I and II) and AnnealedVAE: their regularizers against independent
numpy computations, defaults, configs and argument checks. Training on
digits, saving and cross-backend parity: test_models.py, test_saving.py."""

import keras
import numpy as np
import pytest

import keras_vae
from testing import keras_file_round_trip, tiny_model, variable_value
from keras_vae import estimators


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x), dtype="float64")


def _codes(seed=0, n=64, d=4):
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d))
    z_mean = (rng.normal(size=(n, d)) @ mixing + 0.3).astype("float32")
    z_log_var = rng.normal(scale=0.5, size=(n, d)).astype("float32")
    return z_mean, z_log_var


def _numpy_penalties(z_mean, z_log_var, variant):
    covariance = np.cov(z_mean.astype("float64").T, bias=True)  # divide by N
    if variant == "ii":
        covariance = covariance + np.diag(np.exp(z_log_var.astype("float64")).mean(0))
    off = covariance - np.diag(np.diag(covariance))
    return np.sum(off**2), np.sum((np.diag(covariance) - 1.0) ** 2), covariance


@pytest.mark.parametrize("variant", ["i", "ii"])
def test_covariance_penalties_equal_numpy(variant):
    z_mean, z_log_var = _codes()
    off, diag, covariance = _numpy_penalties(z_mean, z_log_var, variant)
    np.testing.assert_allclose(
        _numpy(estimators.dip_covariance(z_mean, z_log_var, variant)), covariance, rtol=1e-5)
    got_off, got_diag = estimators.covariance_penalties(
        estimators.dip_covariance(z_mean, z_log_var, variant))
    assert float(_numpy(got_off)) == pytest.approx(off, rel=1e-5)
    assert float(_numpy(got_diag)) == pytest.approx(diag, rel=1e-5)
    np.testing.assert_allclose(_numpy(estimators.batch_covariance(z_mean)),
                               np.cov(z_mean.T, bias=True), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("variant, lambda_od, lambda_d, expected_d", [
    ("i", 2.0, None, 20.0), ("ii", 2.0, None, 2.0), ("i", 3.0, 7.0, 7.0)])
def test_regularizer_is_kl_plus_weighted_penalties(variant, lambda_od, lambda_d, expected_d):
    z_mean, z_log_var = _codes(1)
    model = tiny_model(keras_vae.DIPVAE, variant=variant, lambda_od=lambda_od,
                       lambda_d=lambda_d)
    assert model.lambda_d == expected_d  # disentanglement_lib's lambda_d_factor
    penalty, terms = model.regularizer(z_mean, z_log_var, z_mean)
    off, diag, _ = _numpy_penalties(z_mean, z_log_var, variant)
    m, lv = z_mean.astype("float64"), z_log_var.astype("float64")
    kl = np.mean(0.5 * np.sum(m**2 + np.exp(lv) - 1 - lv, 1))
    assert float(_numpy(terms["kl_loss"])) == pytest.approx(kl, rel=1e-5)
    assert float(_numpy(terms["dip_off_diagonal"])) == pytest.approx(off, rel=1e-5)
    assert float(_numpy(terms["dip_diagonal"])) == pytest.approx(diag, rel=1e-5)
    assert float(_numpy(penalty)) == pytest.approx(
        kl + lambda_od * off + expected_d * diag, rel=1e-5)


def test_identity_covariance_costs_nothing():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4096, 3))
    z = (z - z.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True))).T
    off, diag = estimators.covariance_penalties(estimators.dip_covariance(
        z.astype("float32"), np.zeros_like(z, "float32") - 30.0, "ii"))
    assert float(_numpy(off)) < 1e-8 and float(_numpy(diag)) < 1e-8


def test_dip_config_round_trip_and_bad_arguments():
    model = tiny_model(keras_vae.DIPVAE, variant="II", lambda_od=5.0)
    clone = keras_vae.DIPVAE.from_config(model.get_config())
    assert (clone.variant, clone.lambda_od, clone.lambda_d) == ("ii", 5.0, 5.0)
    for kwargs, error, match in [(dict(variant="iii"), ValueError, "variant"),
                                 (dict(lambda_od=-1.0), ValueError, "lambda_od"),
                                 (dict(lambda_d=float("nan")), ValueError, "lambda_d"),
                                 (dict(lambda_od="1"), TypeError, "lambda_od")]:
        with pytest.raises(error, match=match):
            tiny_model(keras_vae.DIPVAE, **kwargs)


# === AnnealedVAE ===

def test_annealed_capacity_follows_disentanglement_lib():
    """C = min(c_max, c_max * step / iteration_threshold); loss term
    gamma * |KL - C| (Burgess et al. 2018, eq. 8)."""
    model = tiny_model(keras_vae.AnnealedVAE, c_max=10.0, iteration_threshold=8, gamma=3.0)
    z_mean, z_log_var = _codes(2)
    m, lv = z_mean.astype("float64"), z_log_var.astype("float64")
    kl = np.mean(0.5 * np.sum(m**2 + np.exp(lv) - 1 - lv, 1))
    for step in (0, 2, 8, 20):
        model.step_counter.assign(step)
        penalty, terms = model.regularizer(z_mean, z_log_var, z_mean)
        capacity = min(10.0, 10.0 * step / 8)
        assert float(_numpy(terms["capacity"])) == pytest.approx(capacity)
        assert float(_numpy(penalty)) == pytest.approx(3.0 * abs(kl - capacity), rel=1e-5)
    same = tiny_model(keras_vae.BetaVAE, schedule="capacity", capacity_max=10.0,
                      anneal_steps=8, gamma=3.0)
    same.step_counter.assign(3)
    model.step_counter.assign(3)
    assert float(_numpy(same.regularizer(z_mean, z_log_var, z_mean)[0])) == pytest.approx(
        float(_numpy(model.regularizer(z_mean, z_log_var, z_mean)[0])))


def test_annealed_defaults_config_and_arguments(digits, tmp_path):
    x, _ = digits
    model = tiny_model(keras_vae.AnnealedVAE)
    assert (model.c_max, model.iteration_threshold, model.gamma) == (25.0, 100_000, 1000.0)
    model = tiny_model(keras_vae.AnnealedVAE, c_max=5.0, iteration_threshold=40, gamma=10.0)
    config = model.get_config()
    assert {"c_max": 5.0, "iteration_threshold": 40, "gamma": 10.0}.items() <= config.items()
    assert "schedule" not in config and "beta" not in config
    model.compile()
    model.fit(x[:64], batch_size=32, verbose=0)
    loaded = keras_file_round_trip(model, tmp_path, "annealed.keras")
    assert type(loaded) is keras_vae.AnnealedVAE and loaded.get_config() == config
    assert int(variable_value(loaded.step_counter)) == 2
    for kwargs, error, match in [(dict(c_max=-1.0), ValueError, "c_max"),
                                 (dict(iteration_threshold=0), ValueError, "iteration_threshold"),
                                 (dict(gamma=-2.0), ValueError, "gamma"),
                                 (dict(schedule="linear"), TypeError, "schedule")]:
        with pytest.raises(error, match=match) as info:
            tiny_model(keras_vae.AnnealedVAE, **kwargs)
        assert "Received:" in str(info.value)
