"""Likelihood evaluation: ELBO, IWAE bound, reconstruction, KL per dimension, active units."""

import keras
import numpy as np
import pytest

import keras_vae
from testing import tiny_model
from keras_vae.evaluation import likelihood as lik


@pytest.fixture(scope="module")
def trained(digits):
    """A tiny VAE trained briefly on 1500 digits; the other 297 are held out."""
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x[:1500], epochs=2, batch_size=100, verbose=0)
    return model, x[1500:]


def test_iwae_bound_is_above_the_elbo_and_tightens_with_k(trained):
    model, x = trained
    elbo = lik.evaluate_elbo(model, x, batch_size=100, num_samples=10, seed=0)
    assert elbo["elbo"] == pytest.approx(
        -(elbo["reconstruction_loss"] + elbo["kl_loss"]))
    bounds = {k: lik.iwae_bound(model, x, k, batch_size=100, seed=1,
                                return_per_example=True) for k in (1, 10, 100)}
    # MC noise of the k = 1 mean (between-example variation cancels in a
    # difference of two seeds).
    other = lik.iwae_bound(model, x, 1, batch_size=100, seed=2, return_per_example=True)
    noise = np.std(bounds[1] - other) / np.sqrt(2 * len(x))
    # E[L_1] is the ELBO (Burda et al. 2016).
    assert np.mean(bounds[1]) == pytest.approx(elbo["elbo"], abs=5 * noise + 0.02)
    # E[L_1] <= E[L_10] <= E[L_100] <= log p(x), strictly here.
    means = {k: float(np.mean(b)) for k, b in bounds.items()}
    assert means[10] > means[1] + 3 * noise
    assert means[100] > means[10]
    assert means[100] > elbo["elbo"] + 0.1


def test_iwae_chunks_combine_exactly_and_results_are_seeded(trained):
    model, x = trained
    x = x[:100]
    # Chunks of 20 or 10 samples consume the same draws: the same bound.
    whole = lik.iwae_bound(model, x, 20, batch_size=100, samples_per_chunk=20)
    split = lik.iwae_bound(model, x, 20, batch_size=100, samples_per_chunk=10)
    assert split == pytest.approx(whole, abs=1e-4)
    # A last chunk cut short, and k = 1000 in 25 chunks of 40.
    assert np.isfinite(lik.iwae_bound(model, x, 17, batch_size=100, samples_per_chunk=10))
    k1000 = lik.iwae_bound(model, x, 1000, batch_size=100, samples_per_chunk=40)
    assert k1000 > lik.iwae_bound(model, x, 100, batch_size=100) - 0.05
    assert lik.iwae_bound(model, x, 20, batch_size=100, samples_per_chunk=10, seed=3) != whole
    assert lik.evaluate_elbo(model, x, 100, seed=5) == lik.evaluate_elbo(model, x, 100, seed=5)


def test_tf_data_input_gives_the_numpy_result(trained):
    import tensorflow as tf

    model, x = trained
    expected = lik.evaluate_elbo(model, x, batch_size=100, seed=0)
    unbatched = tf.data.Dataset.from_tensor_slices(x)
    for data in (unbatched, unbatched.batch(100)):
        got = lik.evaluate_elbo(model, data, batch_size=100, seed=0)
        for key in expected:
            assert got[key] == pytest.approx(expected[key], rel=1e-6)
    assert lik.iwae_bound(model, unbatched.batch(100), 10, batch_size=100) == pytest.approx(
        lik.iwae_bound(model, x, 10, batch_size=100), rel=1e-6)


def test_reconstruction_kl_per_dimension_and_active_units(trained):
    model, x = trained
    rec = lik.reconstruction_error(model, x, batch_size=100)
    probs = model.predict(x)
    assert rec["reconstruction_mse"] == pytest.approx(np.mean((probs - x) ** 2), rel=1e-4)
    z_mean, z_log_var = model.encode(x)
    logits = keras.ops.convert_to_numpy(model.decoder(z_mean)).astype("float64")
    nll = np.sum((np.logaddexp(0, logits) - x * logits).reshape(len(x), -1), 1)
    assert rec["reconstruction_nll"] == pytest.approx(np.mean(nll), rel=1e-4)

    kl = lik.kl_per_dimension(model, x, batch_size=100)
    assert kl.shape == (4,) and np.all(kl >= 0)
    expected = np.mean(0.5 * (z_mean**2 + np.exp(z_log_var) - 1 - z_log_var), 0)
    np.testing.assert_allclose(kl, expected, rtol=1e-4, atol=1e-6)
    assert np.sum(kl) == pytest.approx(
        lik.evaluate_elbo(model, x, batch_size=100)["kl_loss"], rel=1e-5)

    activity = lik.unit_activity(model, x, batch_size=100)
    np.testing.assert_allclose(activity, np.var(z_mean, 0), rtol=1e-4)
    assert lik.active_units(model, x, batch_size=100) == int(np.sum(activity > 0.01))
    assert lik.active_units(model, x, threshold=1e9) == 0


def test_a_dead_unit_is_not_active(digits):
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    layer = model.encoder.get_layer("z_mean")
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
    kernel[:, 0] = 0.0
    layer.set_weights([kernel * 20.0, bias])  # large means for units 1-3
    assert lik.active_units(model, x[:200], batch_size=100) == 3
    assert lik.unit_activity(model, x[:200], batch_size=100)[0] == 0.0


def test_bad_input_raises_clear_errors(trained):
    import tensorflow as tf

    model, x = trained
    with pytest.raises(ValueError, match="num_samples.*Received: num_samples=0"):
        lik.iwae_bound(model, x, 0)
    with pytest.raises(ValueError, match="samples_per_chunk"):
        lik.iwae_bound(model, x, 10, samples_per_chunk=0)
    with pytest.raises(TypeError, match="num_samples"):
        lik.iwae_bound(model, x, 2.5)
    with pytest.raises(ValueError, match=r"Received: data.shape=\(5, 8, 8\)"):
        lik.evaluate_elbo(model, x[:5, ..., 0])
    with pytest.raises(ValueError, match="NaN"):
        lik.iwae_bound(model, np.full((3, 8, 8, 1), np.nan, "float32"), 2)
    with pytest.raises(TypeError, match="data"):
        lik.evaluate_elbo(model, "images.npy")
    with pytest.raises(ValueError, match="at least one image"):
        lik.evaluate_elbo(model, x[:0])
    pairs = tf.data.Dataset.from_tensor_slices((x[:8], np.zeros(8))).batch(4)
    with pytest.raises(ValueError, match=r"\(image, label\) pairs"):
        lik.evaluate_elbo(model, pairs)
    with pytest.raises(ValueError, match="threshold"):
        lik.active_units(model, x, threshold=-1.0)


def test_non_finite_codes_raise(digits):
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    layer = model.encoder.get_layer("z_mean")
    layer.set_weights([np.full_like(w, np.nan) for w in layer.get_weights()])
    with pytest.raises(ValueError, match="encoder returned NaN"):
        lik.evaluate_elbo(model, x[:10])
