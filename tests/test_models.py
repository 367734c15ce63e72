"""VAE, BetaVAE, MMDVAE, DIPVAE, AnnealedVAE, FactorVAE: training on real
data, outputs, API and errors."""

import keras
import numpy as np
import pytest

import keras_vae
from testing import tiny_model, variable_value

MODELS = [keras_vae.VAE, keras_vae.BetaVAE, keras_vae.MMDVAE, keras_vae.DIPVAE,
          keras_vae.AnnealedVAE, keras_vae.FactorVAE]
TERMS = {keras_vae.VAE: "kl_loss", keras_vae.BetaVAE: "kl_loss", keras_vae.MMDVAE: "mmd_loss",
         keras_vae.DIPVAE: "dip_off_diagonal", keras_vae.AnnealedVAE: "capacity",
         keras_vae.FactorVAE: "total_correlation"}
# gamma = 40 on a 4-dimensional code of 8x8 digits, with the VAE's learning
# rate 30x the discriminator's, lets the encoder fool the discriminator
# (negative TC estimates); 5 keeps the test about training.
KWARGS = {keras_vae.FactorVAE: dict(gamma=5.0)}


@pytest.mark.parametrize("cls", MODELS)
def test_trains_on_digits_and_loss_falls(cls, digits):
    x, _ = digits
    model = tiny_model(cls, **KWARGS.get(cls, {}))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(x[:1500], epochs=4, batch_size=100, verbose=0,
                        validation_data=x[1500:])
    h = history.history
    term = TERMS[cls]
    expected = {"loss", "reconstruction_loss", term}
    assert expected <= set(h) and {"val_loss", f"val_reconstruction_loss", f"val_{term}"} <= set(h)
    assert ("mmd_loss" in h) == (cls is keras_vae.MMDVAE)
    assert h["loss"][-1] < 0.8 * h["loss"][0]
    assert h["val_loss"][-1] < h["val_loss"][0]
    assert all(np.isfinite(v) for v in h["loss"])
    result = model.evaluate(x[1500:], verbose=0, return_dict=True)
    assert expected <= set(result)


def test_conv_vae_trains_on_digits(digits):
    x, _ = digits
    model = tiny_model(keras_vae.VAE, architecture="conv",
                       network_kwargs={"filters": [8, 16], "hidden_units": [32]})
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    h = model.fit(x, epochs=3, batch_size=128, verbose=0).history
    assert h["loss"][-1] < 0.85 * h["loss"][0]


def test_vae_loss_is_reconstruction_plus_kl(digits):
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    model.sampler.deterministic = True
    batch = x[:64]
    out = model(batch)
    loss = float(keras.ops.convert_to_numpy(
        model.compute_loss(x=batch, y_pred=out, training=False)))
    logits = keras.ops.convert_to_numpy(out["decoder_output"]).astype("float64")
    recon = np.mean(np.sum((np.logaddexp(0, logits) - batch * logits).reshape(64, -1), 1))
    m = keras.ops.convert_to_numpy(out["z_mean"]).astype("float64")
    lv = keras.ops.convert_to_numpy(out["z_log_var"]).astype("float64")
    kl = np.mean(0.5 * np.sum(m**2 + np.exp(lv) - 1 - lv, 1))
    assert loss == pytest.approx(recon + kl, rel=1e-5)


def test_outputs_and_inference_methods(digits):
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    out = model(x[:5])
    assert set(out) == {"z_mean", "z_log_var", "z", "decoder_output", "reconstruction"}
    assert tuple(out["z"].shape) == (5, 4)
    recon = model.predict(x[:5])
    assert recon.shape == (5, 8, 8, 1) and 0 <= recon.min() and recon.max() <= 1
    np.testing.assert_allclose(recon, model.reconstruct(x[:5]), rtol=1e-6)
    z_mean, z_log_var = model.encode(x[:5])
    assert z_mean.shape == z_log_var.shape == (5, 4)
    np.testing.assert_allclose(model.decode(z_mean), recon, rtol=1e-5, atol=1e-6)
    samples = model.sample(6, seed=3)
    assert samples.shape == (6, 8, 8, 1)
    np.testing.assert_array_equal(samples, model.sample(6, seed=3))
    assert not np.allclose(samples, model.sample(6, seed=4))


def test_learned_gaussian_scale_is_trained(digits):
    x, _ = digits
    likelihood = keras_vae.likelihoods.Gaussian(scale=1.0, learn_scale=True)
    model = tiny_model(keras_vae.VAE, likelihood=likelihood)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=2, batch_size=128, verbose=0)
    # Pixel errors are << 1, so the maximum-likelihood scale shrinks.
    assert float(variable_value(model.likelihood.log_scale)) < -0.1


def test_custom_encoder_and_decoder(digits):
    x, _ = digits
    inp = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inp)
    encoder = keras.Model(inp, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    z = keras.Input((2,))
    decoder = keras.Model(z, keras.layers.Reshape((8, 8, 1))(keras.layers.Dense(64)(z)))
    model = keras_vae.VAE(input_shape=(8, 8, 1), latent_dim=2, encoder=encoder, decoder=decoder)
    model.compile()
    model.fit(x[:256], epochs=1, batch_size=128, verbose=0)
    assert model.encoder is encoder
    bad = keras.Model(inp, keras.layers.Dense(2)(h))
    with pytest.raises(ValueError, match="encoder"):
        keras_vae.VAE(input_shape=(8, 8, 1), latent_dim=2, encoder=bad)


def test_non_finite_loss_stops_training_and_restores_weights(digits):
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e30))
    before = [variable_value(w) for w in model.weights]
    with pytest.raises(keras_vae.NonFiniteLossError, match="epoch 1"):
        model.fit(x, epochs=2, batch_size=64, verbose=0)
    after = [variable_value(w) for w in model.weights]
    assert all(np.isfinite(a).all() for a in after)
    for a, b in zip(after, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(latent_dim=0), ValueError, "latent_dim"),
        (dict(latent_dim=-3), ValueError, "latent_dim"),
        (dict(likelihood="poisson"), ValueError, "likelihood"),
        (dict(architecture="vit"), ValueError, "architecture"),
        (dict(input_shape=(8, 8)), ValueError, "input_shape"),
        (dict(network_kwargs=[32]), TypeError, "network_kwargs"),
        (dict(seed="0"), TypeError, "seed"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny_model(keras_vae.VAE, **kwargs)


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (keras_vae.BetaVAE, dict(beta=-1.0), "beta"),
        (keras_vae.BetaVAE, dict(schedule="exponential"), "schedule"),
        (keras_vae.BetaVAE, dict(anneal_steps=0), "anneal_steps"),
        (keras_vae.BetaVAE, dict(gamma=-5.0), "gamma"),
        (keras_vae.BetaVAE, dict(capacity_max=-1.0), "capacity_max"),
        (keras_vae.MMDVAE, dict(kernel="laplacian"), "kernel"),
        (keras_vae.MMDVAE, dict(mmd_weight=-1.0), "mmd_weight"),
        (keras_vae.MMDVAE, dict(bandwidth=0.0), "bandwidth"),
        (keras_vae.MMDVAE, dict(scales=[1.0], multiscale=True), "multiscale"),
    ],
)
def test_bad_model_specific_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_model(cls, **kwargs)


def test_bad_data_raises_clear_errors(digits):
    x, labels = digits
    model = tiny_model(keras_vae.VAE)
    model.compile()
    with pytest.raises(ValueError, match=r"x.shape=\(10, 8, 8\)"):
        model.fit(x[:10, ..., 0], verbose=0)
    with pytest.raises(ValueError, match=r"\(num_images,\) \+ \(8, 8, 1\)"):
        model.predict(np.zeros((3, 28, 28, 1), "float32"))
    with pytest.raises(ValueError, match="x.shape"):
        model.encode(np.zeros((3, 64), "float32"))
    with pytest.raises(TypeError, match="dtype"):
        model.fit(np.full((4, 8, 8, 1), "a"), verbose=0)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(np.full((4, 8, 8, 1), np.nan, "float32"), verbose=0)
    with pytest.raises(ValueError, match=r"\[0.0, 1.0\].*x / 255"):
        model.fit(x * 16 * 255, verbose=0)
    with pytest.raises(ValueError, match=r"\(image, label\) pairs"):
        model.fit(x[:64], labels[:64], verbose=0)
    with pytest.raises(ValueError, match="z.shape"):
        model.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="loss"):
        model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="n"):
        model.sample(0)


def test_label_pairs_from_tf_data_are_rejected(digits):
    import tensorflow as tf

    x, labels = digits
    model = tiny_model(keras_vae.VAE)
    model.compile()
    ds = tf.data.Dataset.from_tensor_slices((x[:64], labels[:64])).batch(32)
    with pytest.raises(ValueError, match=r"\(image, label\) pairs"):
        model.fit(ds, verbose=0)
    bad = tf.data.Dataset.from_tensor_slices(np.zeros((8, 4, 4, 1), "float32")).batch(4)
    with pytest.raises(ValueError, match="x.shape"):
        model.fit(bad, verbose=0)


def test_model_export_routes_to_keras_vae_export(tmp_path):
    model = tiny_model(keras_vae.VAE)
    with pytest.raises(ValueError, match="format"):
        model.export(str(tmp_path / "x"), format="tflite")
