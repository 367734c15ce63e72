"""BetaTCVAE: training on digits, its loss terms, saving and argument checks."""

import keras
import numpy as np
import pytest

import keras_vae
from testing import keras_file_round_trip, tiny_model, variable_value
from keras_vae import estimators

TERMS = ("kl_loss", "mutual_info", "total_correlation", "dimwise_kl")


@pytest.fixture(scope="module")
def trained(digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaTCVAE, dataset_size=1500)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x[:1500], epochs=4, batch_size=100, verbose=0)
    return model, history.history


def test_trains_on_digits_and_reports_the_decomposition(trained):
    model, h = trained
    assert {"loss", "reconstruction_loss", *TERMS} <= set(h)
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    for key in ("loss", *TERMS):
        assert len(h[key]) == 4 and all(np.isfinite(h[key]))
    assert int(variable_value(model.step_counter)) == 60


def test_loss_weighs_the_three_terms_of_the_shared_estimator(digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaTCVAE, dataset_size=1000, alpha=2.0, beta=5.0,
                       gamma=0.5, estimator="mws")
    out = model(x[:32])
    penalty, terms = model.regularizer(out["z_mean"], out["z_log_var"], out["z"])
    expected = estimators.minibatch_kl_decomposition(
        out["z"], out["z_mean"], out["z_log_var"], 1000, "mws")
    value = {k: float(keras.ops.convert_to_numpy(v)) for k, v in terms.items()}
    expected = {k: float(keras.ops.convert_to_numpy(v)) for k, v in expected.items()}
    for key in expected:
        assert value[key] == pytest.approx(expected[key], rel=1e-5)
    assert float(keras.ops.convert_to_numpy(penalty)) == pytest.approx(
        2.0 * expected["mutual_info"] + 5.0 * expected["total_correlation"]
        + 0.5 * expected["dimwise_kl"], rel=1e-5)
    m = keras.ops.convert_to_numpy(out["z_mean"])
    lv = keras.ops.convert_to_numpy(out["z_log_var"])
    assert value["kl_loss"] == pytest.approx(
        np.mean(0.5 * np.sum(m**2 + np.exp(lv) - 1 - lv, 1)), rel=1e-5)
    assert set(terms) == set(TERMS)


def test_keras_file_round_trip(trained, digits, tmp_path):
    x, _ = digits
    model, _ = trained
    loaded = keras_file_round_trip(model, tmp_path, "btc.keras")
    assert type(loaded) is keras_vae.BetaTCVAE
    config = loaded.get_config()
    assert (config["dataset_size"], config["alpha"], config["beta"], config["gamma"],
            config["estimator"]) == (1500, 1.0, 6.0, 1.0, "mss")
    np.testing.assert_allclose(loaded.predict(x[:8]), model.predict(x[:8]), atol=1e-6)
    clone = keras_vae.BetaTCVAE.from_config(
        tiny_model(keras_vae.BetaTCVAE, dataset_size=7, beta=2.5, estimator="MWS").get_config())
    assert (clone.dataset_size, clone.beta, clone.estimator) == (7, 2.5, "mws")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(), ValueError, "dataset_size.*Received: dataset_size=None"),
    (dict(dataset_size=0), ValueError, "dataset_size"),
    (dict(dataset_size="1000"), TypeError, "dataset_size"),
    (dict(dataset_size=100, alpha=-1.0), ValueError, "alpha"),
    (dict(dataset_size=100, beta=-0.5), ValueError, "beta"),
    (dict(dataset_size=100, gamma=float("nan")), ValueError, "gamma"),
    (dict(dataset_size=100, estimator="kde"), ValueError, "estimator"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny_model(keras_vae.BetaTCVAE, **kwargs)


def test_batch_larger_than_dataset_size_raises(digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaTCVAE, dataset_size=32)
    model.compile()
    with pytest.raises(ValueError, match="dataset_size=32 with a batch of 64"):
        model.fit(x[:64], batch_size=64, epochs=1, verbose=0)
