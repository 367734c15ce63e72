"""FactorVAE (Kim & Mnih 2018): penalize the total correlation of q(z),
estimated by a discriminator between codes and dimension-wise shuffled codes."""

import keras
from keras import ops

from keras_vae import _validation
from keras_vae.distribute import replica
from keras_vae import divergences
from keras_vae import estimators
from keras_vae.models.base import BaseVAE

DISCRIMINATOR_UNITS = (1000,) * 6


def default_discriminator_optimizer():
    """Adam(1e-4, beta_1=0.5, beta_2=0.9, epsilon=1e-8): Kim & Mnih 2018,
    appendix A, and disentanglement_lib's `discriminator/AdamOptimizer`."""
    return keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.5, beta_2=0.9, epsilon=1e-8)


@keras.saving.register_keras_serializable(package="keras_vae")
class Discriminator(keras.layers.Layer):
    """A fully connected classifier of codes with two logits.

    Hidden layers of `units` with leaky ReLU (negative slope 0.2), then a
    linear layer to 2 logits: class 0 "drawn from q(z)", class 1 "drawn from
    the product of its marginals". The default `units` are the 6 x 1000 of
    Kim & Mnih 2018 (appendix A) and disentanglement_lib's `fc_discriminator`.

    `call(z, frozen=True)` computes the same logits with the weights behind a
    stop-gradient: the logits' gradient reaches `z` (the encoder) but not the
    discriminator's weights.

    Args:
        units: hidden layer sizes, a non-empty sequence of ints >= 1.
        negative_slope: slope of the leaky ReLU for negative inputs.
    """

    def __init__(self, units=DISCRIMINATOR_UNITS, negative_slope=0.2, **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units(units)
        self.negative_slope = _validation.check_float(
            "negative_slope", negative_slope, minimum=0.0)
        self.dense_layers = [keras.layers.Dense(u, name=f"dense_{i}")
                             for i, u in enumerate(self.units)]
        self.dense_layers.append(keras.layers.Dense(2, name="logits"))

    def build(self, input_shape):
        size = input_shape[-1]
        for layer in self.dense_layers:
            layer.build((None, size))
            size = layer.units

    def call(self, z, frozen=False):
        h = z
        last = len(self.dense_layers) - 1
        for i, layer in enumerate(self.dense_layers):
            kernel, bias = layer.kernel, layer.bias
            if frozen:
                kernel, bias = ops.stop_gradient(kernel), ops.stop_gradient(bias)
            h = ops.add(ops.matmul(h, kernel), bias)
            if i < last:
                h = ops.leaky_relu(h, negative_slope=self.negative_slope)
        return h

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2,)

    def get_config(self):
        return {**super().get_config(), "units": list(self.units),
                "negative_slope": self.negative_slope}


@keras.saving.register_keras_serializable(package="keras_vae")
class FactorVAE(BaseVAE):
    """VAE with a penalty on the total correlation of the aggregate posterior,
    estimated by a discriminator (the density-ratio trick).

    `loss = recon + KL + gamma * TC`, with `TC = mean_i [D_0(z_i) - D_1(z_i)]`
    over the batch's codes `z_i ~ q(z | x_i)` (Kim & Mnih 2018, eq. 2 and
    algorithm 1; `keras_vae.estimators.density_ratio_tc`). The discriminator
    D (`Discriminator`, 6 x 1000 leaky-ReLU units by default) is trained at
    the same step, on the same batch, to tell the codes (class 0) from the
    codes with each dimension shuffled across the batch (class 1,
    `estimators.permute_dims`), by its cross-entropy
    (`estimators.discriminator_loss`) with its own optimizer. Reports
    `kl_loss`, `total_correlation` (the estimate) and `discriminator_loss`.

    **One loss, two optimizers, no backend-specific train step.** The two
    updates of disentanglement_lib's FactorVAE (Adam on the encoder and
    decoder for `recon + KL + gamma * TC`; a second Adam on the discriminator
    for its cross-entropy, both from the same forward pass) are obtained from
    the single loss that every Keras trainer differentiates:

        recon + KL + gamma * TC(D_frozen(z)) + [L_D(sg(z)) - sg(L_D(sg(z)))]

    where `sg` is a stop-gradient and `D_frozen` evaluates D with its weights
    behind a stop-gradient. So the gradient with respect to the encoder and
    decoder is exactly that of `recon + KL + gamma * TC` (L_D sees no path to
    them), the gradient with respect to the discriminator is exactly that of
    L_D (the TC term sees no path to its weights), and the value is the VAE
    loss. `compile()` wraps the two optimizers in one Keras optimizer that
    hands each variable's gradient to its own optimizer. Every trainer calls
    only `optimizer.apply` / `stateless_apply` on that, so TensorFlow's
    `GradientTape` step, JAX's stateless step (the discriminator optimizer's
    moments are part of `model.optimizer.variables`, hence of the carried
    state) and torch's step all run unchanged; `tests/test_factor_vae.py`
    checks one step against the two updates computed separately on every
    backend. The cost over disentanglement_lib's two discriminator passes is
    one extra forward pass of the discriminator (on the batch's codes with
    frozen weights).

    **Data parallelism** (`keras_vae.distributed()`): the codes are permuted
    over the global batch (the same permutation as on one device with the
    same seed), and the discriminator's loss is that of the global batch.

    **Saving.** The discriminator is a layer of the model: its weights are in
    `.weights.h5`, `.keras` files and presets (a preset saved with
    `training_layers=False` leaves them out, as the zoo's does: the model
    encodes, decodes and samples the same, and fine-tuning starts the
    discriminator afresh), and the state of both
    optimizers (`model.optimizer.vae_optimizer`,
    `model.optimizer.discriminator_optimizer`) in `.weights.h5` and `.keras`
    files of a compiled model, portable across backends. Exports
    (`keras_vae.export`) serve only the encoder and decoder.

    Args:
        gamma: weight of the total correlation, >= 0. Default 40, within the
            sweep {10, 20, 30, 40, 50, 100} of Locatello et al. 2019.
        discriminator_units: hidden layer sizes of the discriminator;
            default six layers of 1000.
        **kwargs: the shared arguments of `BaseVAE`.
    """

    regularizer_terms = ("kl_loss", "total_correlation", "discriminator_loss")
    training_only_layers = ("discriminator",)

    def __init__(self, gamma=40.0, discriminator_units=DISCRIMINATOR_UNITS, **kwargs):
        self.gamma = _validation.check_float("gamma", gamma, minimum=0.0)
        self.discriminator_units = _check_units(discriminator_units)
        super().__init__(**kwargs)
        self.discriminator = Discriminator(self.discriminator_units, name="discriminator")
        self.discriminator.build((None, self.latent_dim))
        seed = None if self.seed is None else self.seed + 1
        self.permutation_seed_generator = keras.random.SeedGenerator(seed)

    def regularizer(self, z_mean, z_log_var, z, training=False):
        kl = ops.mean(divergences.gaussian_kl(z_mean, z_log_var))
        # The VAE's term: gradient to the codes, none to the discriminator.
        tc = estimators.density_ratio_tc(self.discriminator(z, frozen=True))
        # The discriminator's term: gradient to its weights, none to the codes.
        codes = ops.stop_gradient(z)
        permuted = estimators.permute_dims(codes, self.permutation_seed_generator)
        logits = self.discriminator(ops.concatenate([codes, permuted], axis=0))
        n = ops.shape(codes)[0]
        discriminator_loss = estimators.discriminator_loss(logits[:n], logits[n:])
        penalty = kl + self.gamma * tc + replica.gradient_only(discriminator_loss)
        return penalty, {"kl_loss": kl, "total_correlation": tc,
                         "discriminator_loss": discriminator_loss}

    # === Two optimizers ===

    def compile(self, optimizer="adam", discriminator_optimizer=None, **kwargs):
        """Configures training with an optimizer for the encoder and decoder
        and one for the discriminator.

        Args:
            optimizer: the VAE's optimizer, any Keras optimizer; default
                Adam(1e-3). Kim & Mnih use Adam(1e-4, beta_1=0.9,
                beta_2=0.999), the recipes' setting.
            discriminator_optimizer: the discriminator's optimizer; default
                Adam(1e-4, beta_1=0.5, beta_2=0.9, epsilon=1e-8) (Kim & Mnih
                2018, appendix A; disentanglement_lib).
            **kwargs: as for `BaseVAE.compile`.

        `model.optimizer` is then a `FactorVAEOptimizers` holding both; its
        `learning_rate` and `iterations` are those of the VAE's optimizer.
        """
        if discriminator_optimizer is None:
            discriminator_optimizer = default_discriminator_optimizer()
        combined = FactorVAEOptimizers(
            keras.optimizers.get(optimizer),
            keras.optimizers.get(discriminator_optimizer),
            self.discriminator.trainable_variables,
        )
        super().compile(optimizer=combined, **kwargs)

    @property
    def discriminator_optimizer(self):
        """The discriminator's optimizer (None before `compile`)."""
        optimizer = getattr(self, "optimizer", None)
        return getattr(optimizer, "discriminator_optimizer", None)

    def get_compile_config(self):
        # The two optimizers under the names of `compile`'s arguments, so that
        # a loaded `.keras` file re-compiles through `compile()`.
        config = super().get_compile_config()
        if config is not None and isinstance(self.optimizer, FactorVAEOptimizers):
            serialize = keras.saving.serialize_keras_object
            config["optimizer"] = serialize(self.optimizer.vae_optimizer)
            config["discriminator_optimizer"] = serialize(
                self.optimizer.discriminator_optimizer)
        return config

    def compile_from_config(self, config):
        config = dict(config)
        saved = config.get("discriminator_optimizer")
        if isinstance(saved, dict) and "class_name" in saved:
            # As BaseVAE does for `optimizer`: the public class for this
            # backend, not the saving backend's (e.g. torch's) module.
            config["discriminator_optimizer"] = {
                "module": "keras.optimizers", "class_name": saved["class_name"],
                "config": saved.get("config", {}), "registered_name": None}
        super().compile_from_config(config)

    def get_config(self):
        return {
            **super().get_config(),
            "gamma": self.gamma,
            "discriminator_units": list(self.discriminator_units),
        }


class FactorVAEOptimizers(keras.optimizers.Optimizer):
    """One Keras optimizer made of two: the discriminator's variables are
    updated by `discriminator_optimizer`, all others by `vae_optimizer`.

    Keras' trainers update a model through one optimizer (`apply` on
    TensorFlow and torch, `stateless_apply` on JAX, whose state is this
    optimizer's `variables`: its own and both inner optimizers'). Each inner
    optimizer receives exactly its variables' gradients and keeps its own
    step count, learning rate and moments; `learning_rate` and `iterations`
    are the VAE optimizer's. Saved files hold both inner optimizers' state
    (`optimizer/vae_optimizer`, `optimizer/discriminator_optimizer`).

    Built by `FactorVAE.compile`; not meant to be constructed directly.
    """

    def __init__(self, vae_optimizer, discriminator_optimizer, discriminator_variables,
                 name="factor_vae_optimizers"):
        super().__init__(learning_rate=0.0, name=name)
        for arg, value in (("optimizer", vae_optimizer),
                           ("discriminator_optimizer", discriminator_optimizer)):
            if not isinstance(value, keras.optimizers.Optimizer) or isinstance(
                    value, FactorVAEOptimizers):
                raise TypeError(
                    f"Argument `{arg}` must be a Keras optimizer. "
                    f"Received: {arg}={value!r}")
        if vae_optimizer is discriminator_optimizer:
            raise ValueError(
                "The VAE and the discriminator need two optimizer objects, each "
                "with its own state. Received: the same object for `optimizer` "
                "and `discriminator_optimizer`")
        self.vae_optimizer = vae_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self._discriminator_ids = frozenset(id(v) for v in discriminator_variables)

    def _split(self, values, variables):
        vae, discriminator = ([], []), ([], [])
        for value, variable in zip(values, variables):
            side = discriminator if id(variable) in self._discriminator_ids else vae
            side[0].append(value)
            side[1].append(variable)
        return vae, discriminator

    def build(self, var_list):
        var_list = list(var_list)
        (_, vae), (_, discriminator) = self._split(var_list, var_list)
        self.vae_optimizer.build(vae)
        self.discriminator_optimizer.build(discriminator)
        super().build(var_list)

    @property
    def variables(self):
        return (self._variables[:] + self.vae_optimizer.variables
                + self.discriminator_optimizer.variables)

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
        (vae_grads, vae_vars), (d_grads, d_vars) = self._split(list(grads),
                                                               trainable_variables)
        self.vae_optimizer.apply(vae_grads, vae_vars)
        self.discriminator_optimizer.apply(d_grads, d_vars)

    def finalize_variable_values(self, var_list):
        (_, vae), (_, discriminator) = self._split(list(var_list), list(var_list))
        self.vae_optimizer.finalize_variable_values(vae)
        self.discriminator_optimizer.finalize_variable_values(discriminator)

    @property
    def learning_rate(self):
        return self.vae_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.vae_optimizer.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.vae_optimizer.iterations

    def save_own_variables(self, store):
        # The inner optimizers save their own state as children.
        for i, variable in enumerate(self._variables):
            store[str(i)] = keras.ops.convert_to_numpy(variable)

    def load_own_variables(self, store):
        for i, variable in enumerate(self._variables):
            if str(i) in store:
                variable.assign(store[str(i)])

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {"name": self.name,
                "vae_optimizer": serialize(self.vae_optimizer),
                "discriminator_optimizer": serialize(self.discriminator_optimizer)}


def _check_units(units):
    if isinstance(units, (str, bytes)) or not hasattr(units, "__iter__"):
        raise TypeError(
            "Argument `discriminator_units` must be a sequence of layer sizes, "
            f"e.g. (1000,) * 6. Received: discriminator_units={units!r}")
    units = tuple(units)
    if not units:
        raise ValueError(
            "Argument `discriminator_units` must hold at least one layer size. "
            f"Received: discriminator_units={units!r}")
    return tuple(_validation.check_int("discriminator_units", u, minimum=1) for u in units)
