"""The reparameterization trick (Kingma & Welling 2014, section 2.4) as a seeded layer."""

import keras
from keras import ops

from keras_vae import _validation
from keras_vae.distribute import replica


@keras.saving.register_keras_serializable(package="keras_vae")
class Sampling(keras.layers.Layer):
    """Draws z ~ N(z_mean, exp(z_log_var)) as `z = z_mean + exp(0.5 * z_log_var) * eps`.

    `eps ~ N(0, I)` comes from a `keras.random.SeedGenerator`, so each call
    draws fresh noise, a given `seed` reproduces the same sequence of draws,
    and the layer works inside JAX's stateless traced training (the
    generator's state is a model variable). Gradients flow to `z_mean` and
    `z_log_var` through the deterministic transformation of `eps` (Kingma &
    Welling 2014, section 2.4).

    The layer samples in training and in inference alike: a VAE's ELBO is an
    expectation over q(z|x). For the posterior mean instead, construct with
    `deterministic=True` or call with `deterministic=True`.

    Under `tf.distribute` each replica draws the noise of the global batch
    and keeps its own rows (`keras_vae.distribute.replica.local_normal`), so a
    data-parallel step uses the noise of a one-device step with the same
    seed.

    Args:
        seed: optional integer seed of the noise.
        deterministic: if True, return `z_mean` (no noise).

    Call arguments:
        inputs: a pair `(z_mean, z_log_var)` of tensors of the same shape.
        deterministic: overrides the layer's `deterministic` for this call.
    """

    def __init__(self, seed=None, deterministic=False, **kwargs):
        super().__init__(**kwargs)
        seed = _validation.check_seed("seed", seed, allow_none=True)
        self.seed = seed
        self.deterministic = _validation.check_bool("deterministic", deterministic)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._build_at_init()

    def call(self, inputs, deterministic=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                "`Sampling` expects a pair (z_mean, z_log_var). "
                f"Received: inputs of type {type(inputs).__name__}"
            )
        z_mean, z_log_var = inputs
        if deterministic is None:
            deterministic = self.deterministic
        if deterministic:
            return z_mean
        # Under tf.distribute, this replica's rows of the global batch's
        # noise, so that R replicas draw what one device would.
        eps = replica.local_normal(
            ops.shape(z_mean), self.compute_dtype, self.seed_generator
        )
        return z_mean + ops.exp(0.5 * z_log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "seed": self.seed,
            "deterministic": self.deterministic,
        }
