"""FactorVAE: the permutation, the density-ratio TC estimate, the two
updates of one training step, saving and resuming both optimizers, presets
and exports."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_vae
from testing import BACKEND, keras_file_round_trip, tiny_model, variable_value
from keras_vae import estimators
from keras_vae.models.factor_vae import Discriminator


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


def _correlated(rho, n, dim, rng):
    cov = np.full((dim, dim), rho) + (1 - rho) * np.eye(dim)
    return rng.multivariate_normal(np.zeros(dim), cov, n).astype("float32"), cov


# === The permutation ===

def test_permutation_keeps_each_marginal_and_breaks_the_dependence():
    z, _ = _correlated(0.9, 4096, 3, np.random.default_rng(0))
    permuted = _numpy(estimators.permute_dims(z, seed=keras.random.SeedGenerator(1)))
    assert permuted.shape == z.shape
    # Each column is a rearrangement of the same column: the marginal is kept.
    np.testing.assert_array_equal(np.sort(permuted, axis=0), np.sort(z, axis=0))
    # Every column moved, each by its own permutation: the correlation is gone.
    assert all(np.mean(permuted[:, j] != z[:, j]) > 0.99 for j in range(3))
    before, after = np.corrcoef(z.T), np.corrcoef(permuted.T)
    off = ~np.eye(3, dtype=bool)
    assert np.all(before[off] > 0.88)
    assert np.all(np.abs(after[off]) < 0.06)


def test_permutation_draws_a_new_permutation_per_call():
    z = np.arange(40, dtype="float32").reshape(20, 2)
    seed = keras.random.SeedGenerator(3)
    first = _numpy(estimators.permute_dims(z, seed=seed))
    second = _numpy(estimators.permute_dims(z, seed=seed))
    assert not np.array_equal(first, second)
    with pytest.raises(ValueError, match=r"z.shape=\(20,\)"):
        estimators.permute_dims(z[:, 0])


# === The discriminator and the density-ratio TC estimate ===

class DensityRatio(keras.Model):
    """FactorVAE's discriminator alone, trained by its cross-entropy on codes
    against their permutation."""

    def __init__(self, dim):
        super().__init__()
        self.discriminator = Discriminator(units=(64, 64))
        self.discriminator.build((None, dim))
        self.seed_generator = keras.random.SeedGenerator(0)

    def call(self, z):
        return self.discriminator(z)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        permuted = estimators.permute_dims(x, self.seed_generator)
        return estimators.discriminator_loss(self.discriminator(x),
                                             self.discriminator(permuted))


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_discriminator_estimates_the_total_correlation_of_gaussian_codes(rho):
    """For z ~ N(0, R) with unit variances, TC = KL(q(z) || prod_j q(z_j)) =
    -1/2 log det R: 0, 0.223 and 0.830 nats for rho = 0, 0.6, 0.9. The
    discriminator trained on codes against their permutation estimates it
    within 0.08 + 10% (measured here: within 0.06 on each backend); the
    three bands do not overlap, so the estimate grows with the correlation.
    At rho = 0.9 it tells the codes from their permutation (Bayes accuracy
    ~0.76); at rho = 0 it cannot (cross-entropy log 2)."""
    rng = np.random.default_rng(int(rho * 10))
    keras.utils.set_random_seed(0)
    train, cov = _correlated(rho, 12_800, 2, rng)
    model = DensityRatio(2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(train, batch_size=256, epochs=5, verbose=0).history["loss"]
    test, _ = _correlated(rho, 20_000, 2, rng)
    logits = model.predict(test, batch_size=4096, verbose=0)
    estimate = float(_numpy(estimators.density_ratio_tc(logits)))
    answer = -0.5 * np.log(np.linalg.det(cov))
    assert abs(estimate - answer) < 0.08 + 0.1 * answer, (estimate, answer)
    permuted = np.stack([rng.permutation(test[:, j]) for j in range(2)], 1)
    logits_permuted = model.predict(permuted, batch_size=4096, verbose=0)
    accuracy = 0.5 * (np.mean(logits[:, 0] > logits[:, 1])
                      + np.mean(logits_permuted[:, 1] > logits_permuted[:, 0]))
    if rho == 0.9:
        assert accuracy > 0.7 and history[-1] < 0.55  # chance: 0.5 and log 2
    elif rho == 0.0:
        assert abs(accuracy - 0.5) < 0.03 and history[-1] == pytest.approx(np.log(2), abs=0.01)


def test_estimator_formulas():
    logits = np.array([[2.0, -1.0], [0.5, 0.5], [-1.0, 1.0]], "float32")
    assert float(_numpy(estimators.density_ratio_tc(logits))) == pytest.approx((3 + 0 - 2) / 3)
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    expected = -0.5 * (log_softmax[:, 0].mean() + log_softmax[:2, 1].mean())
    value = float(_numpy(estimators.discriminator_loss(logits, logits[:2])))
    assert value == pytest.approx(expected, rel=1e-6)
    # A discriminator that cannot tell the classes apart: log 2.
    zeros = np.zeros((5, 2), "float32")
    assert float(_numpy(estimators.discriminator_loss(zeros, zeros))) == pytest.approx(np.log(2))


# === One training step = the two updates of disentanglement_lib ===

def _gradients(model, loss_fns, groups):
    """[grad of loss_fns()[k] w.r.t. groups[k]] for each k, by the backend's
    autodiff, from one forward pass (TF, torch) or a stateless one (JAX)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(persistent=True) as tape:
            losses = loss_fns()
        return [[_numpy(g) for g in tape.gradient(loss, [v.value for v in group])]
                for loss, group in zip(losses, groups)]
    if BACKEND == "torch":
        import torch

        losses = loss_fns()
        return [[_numpy(g) for g in torch.autograd.grad(loss, [v.value for v in group],
                                                        retain_graph=True)]
                for loss, group in zip(losses, groups)]
    import jax

    grads = []
    for k, group in enumerate(groups):
        others = [v for v in model.variables if all(v is not w for w in group)]

        def loss(values, k=k, group=group, others=others):
            mapping = list(zip(group, values)) + [(v, v.value) for v in others]
            with keras.StatelessScope(state_mapping=mapping):
                return loss_fns()[k]

        grads.append([_numpy(g) for g in jax.grad(loss)([v.value for v in group])])
    return grads


def test_one_step_applies_the_vae_and_the_discriminator_updates(digits):
    """With SGD on both sides, one `fit` step must move the encoder/decoder by
    -lr_vae * grad(recon + KL + gamma TC) and the discriminator by
    -lr_d * grad(its cross-entropy), each gradient computed here separately,
    as disentanglement_lib's two `minimize` calls do."""
    x, _ = digits
    batch = x[:64]
    gamma, lr_vae, lr_d = 5.0, 0.1, 0.5

    def build():
        model = tiny_model(keras_vae.FactorVAE, gamma=gamma)
        model.sampler.deterministic = True
        return model

    model, reference = build(), build()
    reference.set_weights(model.get_weights())
    discriminator = reference.discriminator.trainable_variables
    vae_vars = [v for v in reference.trainable_variables
                if all(v is not w for w in discriminator)]
    assert len(vae_vars) + len(discriminator) == len(reference.trainable_variables)

    def losses():
        z_mean, z_log_var = reference.encoder(batch)
        z = z_mean  # deterministic sampler
        recon = ops.mean(reference.likelihood.negative_log_likelihood(
            batch, reference.decoder(z)))
        kl = ops.mean(0.5 * ops.sum(ops.square(z_mean) + ops.exp(z_log_var) - 1.0
                                    - z_log_var, axis=1))
        logits = reference.discriminator(z)
        vae_loss = recon + kl + gamma * ops.mean(logits[:, 0] - logits[:, 1])
        codes = ops.stop_gradient(z)
        permuted = estimators.permute_dims(codes, reference.permutation_seed_generator)
        real = ops.log_softmax(reference.discriminator(codes), axis=-1)
        fake = ops.log_softmax(reference.discriminator(permuted), axis=-1)
        return vae_loss, -0.5 * (ops.mean(real[:, 0]) + ops.mean(fake[:, 1]))

    grads_vae, grads_d = _gradients(reference, losses, [vae_vars, discriminator])

    model.compile(optimizer=keras.optimizers.SGD(lr_vae),
                  discriminator_optimizer=keras.optimizers.SGD(lr_d))
    model.fit(batch, batch_size=64, epochs=1, shuffle=False, verbose=0)
    after = {id(r): variable_value(v) for r, v in
             zip(reference.trainable_variables, model.trainable_variables)}
    moved = 0.0
    for group, grads, lr in ((vae_vars, grads_vae, lr_vae), (discriminator, grads_d, lr_d)):
        for variable, grad in zip(group, grads):
            expected = variable_value(variable) - lr * grad
            np.testing.assert_allclose(after[id(variable)], expected, rtol=1e-4, atol=2e-5,
                                       err_msg=variable.path)
            moved = max(moved, float(np.max(np.abs(lr * grad))))
    assert moved > 1e-2
    assert int(variable_value(model.optimizer.vae_optimizer.iterations)) == 1
    assert int(variable_value(model.discriminator_optimizer.iterations)) == 1


# === Training, saving, resuming ===

@pytest.fixture(scope="module")
def trained(digits):
    x, _ = digits
    model = tiny_model(keras_vae.FactorVAE, gamma=5.0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3),
                  discriminator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9))
    history = model.fit(x[:1024], batch_size=128, epochs=2, verbose=0)
    return model, history.history


def test_reports_the_terms_and_the_default_optimizers(trained):
    model, h = trained
    assert {"loss", "reconstruction_loss", "kl_loss", "total_correlation",
            "discriminator_loss"} <= set(h)
    assert all(np.isfinite(v).all() for v in h.values())
    assert int(variable_value(model.optimizer.iterations)) == 16
    assert int(variable_value(model.discriminator_optimizer.iterations)) == 16
    fresh = tiny_model(keras_vae.FactorVAE)
    fresh.compile()
    d = fresh.discriminator_optimizer
    assert isinstance(d, keras.optimizers.Adam)
    assert (float(variable_value(d.learning_rate)), d.beta_1, d.beta_2, d.epsilon) == (
        pytest.approx(1e-4), 0.5, 0.9, 1e-8)
    paper = keras_vae.FactorVAE(input_shape=(8, 8, 1), latent_dim=10, architecture="mlp",
                                network_kwargs={"hidden_units": [8]})
    sizes = [tuple(w.shape) for w in paper.discriminator.weights if len(w.shape) == 2]
    assert sizes == [(10, 1000)] + [(1000, 1000)] * 5 + [(1000, 2)]


def _optimizer_state(model):
    return [variable_value(v) for v in model.optimizer.variables]


def _same_draws(clone, model):
    # Seed-generator states are not saved with the weights (Keras keeps them
    # out of `weights`); copy them so the two continuations draw alike.
    for mine, theirs in ((clone.sampler.seed_generator, model.sampler.seed_generator),
                         (clone.permutation_seed_generator, model.permutation_seed_generator)):
        mine.state.assign(variable_value(theirs.state).copy())


def _continue(model, x):
    model.fit(x[:128], batch_size=64, epochs=1, shuffle=False, verbose=0)
    return [variable_value(w) for w in model.weights]


def _check_resumes(clone, model, x):
    """`clone` holds `model`'s optimizer states, both of them, and training
    it continues exactly where the original continues."""
    state, restored = _optimizer_state(model), _optimizer_state(clone)
    assert len(state) == len(restored)
    for a, b in zip(state, restored):
        np.testing.assert_array_equal(a, b)
    _same_draws(clone, model)
    for a, b in zip(_continue(clone, x), _continue(model, x)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_weights_file_resumes_both_optimizers(trained, digits, tmp_path):
    x, _ = digits
    model, _ = trained
    path = str(tmp_path / "factor.weights.h5")
    model.save_weights(path)
    clone = keras_vae.FactorVAE.from_config(model.get_config())
    clone.compile(optimizer=keras.optimizers.Adam(3e-3),
                  discriminator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5, beta_2=0.9))
    clone.load_weights(path)
    assert len(_optimizer_state(clone)) > 2 * len(model.trainable_variables)
    # The discriminator's Adam moments are among them, and non-zero.
    moments = [variable_value(v) for v in clone.discriminator_optimizer.variables
               if tuple(v.shape) == (16, 16)]
    assert moments and all(np.abs(m).sum() > 0 for m in moments)
    _check_resumes(clone, model, x)


def test_keras_file_resumes_both_optimizers(trained, digits, tmp_path):
    x, _ = digits
    model, _ = trained
    loaded = keras_file_round_trip(model, tmp_path, "factor.keras")
    d = loaded.discriminator_optimizer
    assert isinstance(d, keras.optimizers.Adam) and (d.beta_1, d.beta_2) == (0.5, 0.9)
    assert float(variable_value(d.learning_rate)) == pytest.approx(1e-3)
    _check_resumes(loaded, model, x)


def test_preset_and_export_serve_the_encoder_and_decoder(trained, digits, tmp_path):
    x, _ = digits
    model, _ = trained
    keras_vae.presets.save_preset(model, str(tmp_path / "preset"), {"steps": 16})
    preset = keras_vae.FactorVAE.from_preset(str(tmp_path / "preset"))
    np.testing.assert_allclose(preset.reconstruct(x[:8]), model.reconstruct(x[:8]), atol=1e-6)
    # The discriminator's weights travel with the preset (fine-tuning keeps
    # its TC estimate).
    for a, b in zip(preset.discriminator.weights, model.discriminator.weights):
        np.testing.assert_array_equal(variable_value(a), variable_value(b))
    if BACKEND != "tensorflow":
        return  # export from jax and torch: tests/test_export.py
    import tensorflow as tf

    model.export(str(tmp_path / "saved"))
    served = tf.saved_model.load(str(tmp_path / "saved"))
    served_shapes = sorted(tuple(v.shape) for v in served.variables)
    networks = sorted(tuple(w.shape) for w in model.encoder.weights + model.decoder.weights)
    assert served_shapes == networks  # no discriminator weights
    out = served.signatures["reconstruct"](x=tf.constant(x[:4]))
    np.testing.assert_allclose(out["x"].numpy(), model.reconstruct(x[:4]), atol=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(gamma=-1.0), ValueError, "gamma"),
    (dict(discriminator_units=[]), ValueError, "discriminator_units"),
    (dict(discriminator_units=16), TypeError, "discriminator_units"),
    (dict(discriminator_units=[16, 0]), ValueError, "discriminator_units"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        tiny_model(keras_vae.FactorVAE, **kwargs)
    assert "Received:" in str(info.value)


def test_bad_optimizers():
    model = tiny_model(keras_vae.FactorVAE)
    with pytest.raises(ValueError, match="two optimizer objects"):
        adam = keras.optimizers.Adam()
        model.compile(optimizer=adam, discriminator_optimizer=adam)
    with pytest.raises(ValueError, match="loss"):
        model.compile(loss="mse")
