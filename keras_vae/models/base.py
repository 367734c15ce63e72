"""BaseVAE: everything the VAE family shares; a model adds only its regularizer."""

import keras
import numpy as np
from keras import ops

from keras_vae import _inputs
from keras_vae import _keras_compat
from keras_vae import _validation
from keras_vae import likelihoods as likelihoods_lib
from keras_vae import networks
from keras_vae.distribute import replica
from keras_vae.models._checked_training import CheckedTrainingMixin
from keras_vae.sampling import Sampling


class BaseVAE(_keras_compat.KerasCompatMixin, CheckedTrainingMixin, keras.Model):
    """Encoder, reparameterized sampling, decoder, and the loss
    `reconstruction + regularizer`.

    Subclasses implement `regularizer(z_mean, z_log_var, z, training)` and
    list the names of the terms they report in `regularizer_terms`; nothing
    else differs between the models of the family.

    **Loss and reduction.** For a batch of N examples,

        loss = mean_i [ sum_pixels -log p(x_i | z_i) ] + regularizer

    where `z_i = z_mean_i + exp(z_log_var_i / 2) * eps_i` is one reparameterized
    draw per example and the regularizer is itself a mean over the batch of
    sums over latent dimensions (or a batch statistic such as MMD). So the
    loss is in nats per example, and for the plain VAE it is the negative ELBO.

    **Where the training logic lives.** Keras 3's `train_step` differs per
    backend (a `tf.GradientTape`, a stateless `jax.value_and_grad`, a torch
    `backward()`), but all three trainers call `compute_loss(x, y, y_pred,
    sample_weight, training)` inside their differentiated function. The VAE
    losses are implemented there once, in `keras.ops`, and the metric trackers
    (`reconstruction_loss`, `kl_loss` / `mmd_loss`, ...) are updated there;
    on JAX the trainer runs it in a `StatelessScope` and carries the updated
    tracker and step-counter state out. No backend-specific `train_step` is
    needed, and `evaluate()` reports the same terms through `test_step`.
    `compile`, `fit` and `evaluate` check their arguments first
    (`keras_vae.models._checked_training`); the overrides that adapt Keras
    to such a model are `keras_vae._keras_compat`.

    **On several devices** (`keras_vae.distributed()`): the loss, the
    reported terms and the gradients are those of the global batch. Under
    JAX's `DataParallel` the step is one global program and nothing changes;
    under `tf.distribute` each replica gathers the global batch's codes so the
    regularizer (a batch statistic for MMD-VAE and beta-TCVAE) is computed
    over the global batch, and returns its loss divided by the number of
    replicas, as Keras' losses do (`keras_vae.distribute.replica.scale_loss`).
    `step_counter` advances once per global step.

    `call(x)` returns a dict with `z_mean`, `z_log_var`, `z` (one sample),
    `decoder_output` (the likelihood's raw parameter, e.g. logits) and
    `reconstruction` (the decoder mean). `predict(x)` returns only the
    reconstruction from the posterior mean, ready to plot.

    Args:
        input_shape: image shape `(H, W, C)`, channels last.
        latent_dim: size of the latent code, >= 1.
        architecture: `"conv"`, `"mlp"` or `"disentanglement"` (see
            `keras_vae.networks`); ignored for a network given explicitly.
        likelihood: `"bernoulli"` (logits, binary cross-entropy; targets in
            [0, 1]), `"gaussian"` (squared error) or `"laplace"` (absolute
            error), or a `keras_vae.likelihoods` layer such as
            `Gaussian(scale=0.1, learn_scale=True)`.
        encoder: optional `keras.Model` mapping `(batch, H, W, C)` to
            `[z_mean, z_log_var]`, each `(batch, latent_dim)`.
        decoder: optional `keras.Model` mapping `(batch, latent_dim)` to the
            decoder output `(batch, H, W, C)` with no output activation.
        network_kwargs: options of the built-in networks (`hidden_units`,
            `filters`, `kernel_size`, `upsampling`).
        seed: optional integer seed of the sampling noise.
        **kwargs: passed to `keras.Model` (e.g. `name`, `dtype`).
    """

    regularizer_terms = ()
    # Sub-layers (attribute names) that only training uses, such as
    # FactorVAE's discriminator: a preset may leave their weights out
    # (`keras_vae.presets.save_preset(..., training_layers=False)`).
    training_only_layers = ()

    def __init__(
        self,
        input_shape=(28, 28, 1),
        latent_dim=16,
        architecture="conv",
        likelihood="bernoulli",
        encoder=None,
        decoder=None,
        network_kwargs=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # === Config ===
        self._image_shape = _validation.check_image_shape("input_shape", input_shape)
        self.latent_dim = _validation.check_int("latent_dim", latent_dim, minimum=1)
        self.architecture = _validation.check_choice(
            "architecture", architecture, networks.ARCHITECTURES
        )
        if network_kwargs is not None and not isinstance(network_kwargs, dict):
            raise TypeError(
                "Argument `network_kwargs` must be a dict or None. "
                f"Received: network_kwargs={network_kwargs!r}"
            )
        self.network_kwargs = dict(network_kwargs or {})
        self.seed = _validation.check_seed("seed", seed, allow_none=True)

        # === Layers ===
        self.likelihood = likelihoods_lib.get(likelihood)
        # A network passed in is custom (serialized whole by get_config).
        self._custom_encoder = encoder is not None
        self._custom_decoder = decoder is not None
        if encoder is None:
            encoder = networks.build_encoder(self._image_shape, self.latent_dim,
                                             self.architecture, **self.network_kwargs)
        if decoder is None:
            decoder = networks.build_decoder(self._image_shape, self.latent_dim,
                                             self.architecture, **self.network_kwargs)
        _check_network(encoder, "encoder", (None,) + self._image_shape,
                       [(None, self.latent_dim)] * 2)
        _check_network(decoder, "decoder", (None, self.latent_dim),
                       [(None,) + self._image_shape])
        self.encoder = encoder
        self.decoder = decoder
        self.sampler = Sampling(seed=seed, name="sampler")

        # === State ===
        # Training steps taken; drives schedules, saved with the weights.
        self.step_counter = self.add_weight(
            name="step_counter",
            shape=(),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
        )
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        for term in self.regularizer_terms:
            setattr(self, f"{term}_tracker", keras.metrics.Mean(name=term))
        self.built = True

    # === Subclass hook ===

    def regularizer(self, z_mean, z_log_var, z, training=False):
        """Returns `(penalty, terms)`.

        `penalty` is the scalar added to the reconstruction loss; `terms`
        maps each name of `regularizer_terms` to a scalar to report.
        """
        raise NotImplementedError

    # === Forward pass and loss ===

    @property
    def image_shape(self):
        """The model's input shape `(H, W, C)`."""
        return self._image_shape

    def call(self, inputs, training=None):
        z_mean, z_log_var = self.encoder(inputs, training=training)
        z = self.sampler([z_mean, z_log_var])
        decoder_output = self.decoder(z, training=training)
        return {
            "z_mean": z_mean,
            "z_log_var": z_log_var,
            "z": z,
            "decoder_output": decoder_output,
            "reconstruction": self.likelihood.mean(decoder_output),
        }

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if sample_weight is not None:
            raise ValueError(
                "keras-vae models do not support `sample_weight`: the "
                "regularizers (KL, MMD) are batch statistics. Received: "
                "sample_weight of shape "
                f"{tuple(getattr(sample_weight, 'shape', ()))}"
            )
        target = x if y is None else y
        if tuple(target.shape[1:]) != self._image_shape:
            raise ValueError(
                "A VAE reconstructs its input, so the target `y` must be "
                f"omitted or have the shape of `x`, (batch,) + "
                f"{self._image_shape}. If your data are (image, label) "
                "pairs, keep only the images, e.g. "
                "`dataset.map(lambda x, y: x)`. Received: "
                f"y.shape={tuple(target.shape)}"
            )
        if y_pred is None:
            y_pred = self(x, training=training)
        # The batch mean; under tf.distribute this replica's share of the
        # global batch's mean (see keras_vae.distribute.replica.batch_mean).
        reconstruction_loss = replica.batch_mean(
            self.likelihood.negative_log_likelihood(target, y_pred["decoder_output"])
        )
        # Under tf.distribute the regularizer sees the global batch's codes,
        # as on one device and under JAX's DataParallel (see
        # keras_vae.distribute); elsewhere `gather` returns its input.
        z_mean, z_log_var, z = replica.gather(
            [y_pred["z_mean"], y_pred["z_log_var"], y_pred["z"]]
        )
        penalty, terms = self.regularizer(z_mean, z_log_var, z, training=training)
        local_loss = reconstruction_loss
        if self.losses:  # e.g. kernel regularizers of a user's network
            local_loss = local_loss + ops.sum(ops.stack(self.losses))

        batch_size = ops.shape(target)[0]
        self.reconstruction_loss_tracker.update_state(
            reconstruction_loss, sample_weight=batch_size
        )
        for name in self.regularizer_terms:
            getattr(self, f"{name}_tracker").update_state(
                terms[name], sample_weight=batch_size
            )
        if training:
            self.step_counter.assign_add(1)
        # On one device and under JAX: reconstruction + penalty. Under
        # tf.distribute: this replica's share, whose value is divided by the
        # number of replicas, as Keras' own losses return it.
        return replica.scale_loss(local_loss, penalty)

    # === Representation and generation ===

    def predict(self, x, batch_size=None, verbose=0, **kwargs):
        """Reconstructions from the posterior mean (decoder mean, e.g. pixel
        probabilities for Bernoulli), as a numpy array of `x`'s shape."""
        return self.reconstruct(x, batch_size=batch_size, verbose=verbose, **kwargs)

    def encode(self, x, batch_size=None, verbose=0):
        """Returns `(z_mean, z_log_var)` of q(z | x) as numpy arrays."""
        batch_size = _validation.check_optional_int("batch_size", batch_size)
        x = self._check_data(x, "x")
        with _keras_compat.keep_usable(self, self.encoder), _inputs.translate_errors():
            x, _, batch_size = _keras_compat.without_autotuning(x, batch_size=batch_size)
            z_mean, z_log_var = self.encoder.predict(
                x, batch_size=batch_size, verbose=verbose
            )
        return z_mean, z_log_var

    def decode(self, z, batch_size=None, verbose=0):
        """Returns the decoder mean (e.g. pixel probabilities) for codes `z`."""
        batch_size = _validation.check_optional_int("batch_size", batch_size)
        if _inputs._is_dataset(z) or _inputs._is_unreadable(z):
            raise TypeError(
                f"Argument `z` must be an array of codes (num_codes, {self.latent_dim}). "
                f"Received: z of type {type(z).__name__}"
            )
        z = _inputs.check_array("z", z, (self.latent_dim,), what="codes")
        z = np.asarray(_inputs._to_numpy(z), dtype="float32")
        model = self._inference_model("decode")
        z, _, batch_size = _keras_compat.without_autotuning(z, batch_size=batch_size)
        with _keras_compat.keep_usable(self, model):
            return model.predict(z, batch_size=batch_size, verbose=verbose)

    def reconstruct(self, x, batch_size=None, verbose=0, **kwargs):
        """Decodes the posterior mean of each input: `decode(encode(x)[0])`."""
        batch_size = _validation.check_optional_int("batch_size", batch_size)
        if kwargs.get("steps") is not None:
            kwargs["steps"] = _validation.check_optional_int("steps", kwargs["steps"])
        x = self._check_data(x, "x")
        model = self._inference_model("reconstruct")
        if kwargs.get("steps") is None:
            x, _, batch_size = _keras_compat.without_autotuning(x, batch_size=batch_size)
        with _keras_compat.keep_usable(self, model), _inputs.translate_errors():
            return model.predict(x, batch_size=batch_size, verbose=verbose, **kwargs)

    def sample(self, n, seed=None, batch_size=None):
        """Decodes `n` draws of the prior N(0, I).

        The draws come from numpy's generator with `seed`, so the same seed
        and weights give the same images on every backend.
        """
        n = _validation.check_int("n", n, minimum=1)
        seed = _validation.check_seed("seed", seed, allow_none=True)
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        return self.decode(z.astype("float32"), batch_size=batch_size)

    def _inference_model(self, kind):
        # Built lazily and kept outside Keras' attribute tracking, so the
        # shared layers are not saved twice.
        cache = self.__dict__.setdefault("_inference_models", {})
        if kind not in cache:
            if kind == "decode":
                inputs = keras.Input((self.latent_dim,), name="z")
                outputs = self.likelihood.mean(self.decoder(inputs))
            else:
                inputs = keras.Input(self._image_shape, name="image")
                z_mean, _ = self.encoder(inputs)
                outputs = self.likelihood.mean(self.decoder(z_mean))
            cache[kind] = keras.Model(inputs, outputs, name=kind)
        return cache[kind]

    def _check_data(self, data, name):
        """Clear errors for wrong shapes, dtypes, ranges and empty inputs
        before Keras runs (`keras_vae._inputs`); returns what Keras gets."""
        low, high = getattr(self.likelihood, "target_range", None) or (None, None)
        target_range = None if low is None else (self.likelihood.name_, low, high)
        return _inputs.check_data(name, data, self._image_shape, target_range)

    def export(self, filepath, format="saved_model", **kwargs):
        """Exports for serving with `keras_vae.export` (encode / decode /
        reconstruct / sample signatures, deterministic graphs), not Keras'
        generic export, which would bake the random sampler into the graph."""
        from keras_vae._export import export

        return export(self, filepath, format=format, **kwargs)

    # === Presets ===

    @classmethod
    def from_preset(cls, name_or_dir):
        """Loads a pretrained preset by name (`keras_vae.presets.list_presets()`)
        or from a preset directory; its weights' checksum is verified first."""
        from keras_vae import presets

        return presets.load_preset(name_or_dir, expected_class=cls)

    # === Config ===

    def get_config(self):
        config = {
            **super().get_config(),
            "input_shape": list(self._image_shape),
            "latent_dim": self.latent_dim,
            "architecture": self.architecture,
            "likelihood": keras.saving.serialize_keras_object(self.likelihood),
            "network_kwargs": {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in networks.resolve_options(
                    self.architecture, self.network_kwargs).items()
            },
            "seed": self.seed,
            "encoder": None,
            "decoder": None,
        }
        if self._custom_encoder:
            config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
        if self._custom_decoder:
            config["decoder"] = keras.saving.serialize_keras_object(self.decoder)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "likelihood"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _check_network(network, name, input_shape, output_shapes):
    """Checks a network's output shapes on a symbolic input."""
    if not callable(network):
        raise TypeError(
            f"Argument `{name}` must be a keras.Model or layer. "
            f"Received: {name}={network!r}"
        )
    try:
        outputs = network(keras.KerasTensor(input_shape))
    except Exception as e:  # report what the network could not do
        raise ValueError(
            f"Argument `{name}` must accept inputs of shape {input_shape}; "
            f"calling it failed with: {e}"
        ) from e
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    shapes = [tuple(o.shape) for o in outputs]
    if len(shapes) != len(output_shapes) or any(
        s[1:] != tuple(e[1:]) for s, e in zip(shapes, output_shapes)
    ):
        raise ValueError(
            f"Argument `{name}` must map {input_shape} to outputs of shapes "
            f"{output_shapes}. Received: {name} with output shapes {shapes}"
        )
