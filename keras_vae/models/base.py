"""BaseVAE: everything the VAE family shares; a model adds only its regularizer."""

import keras
import numpy as np
from keras import ops

from keras_vae import _validation
from keras_vae import distribute
from keras_vae import likelihoods as likelihoods_lib
from keras_vae import networks
from keras_vae.callbacks import StopOnNonFiniteLoss
from keras_vae.sampling import Sampling


class BaseVAE(keras.Model):
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

    **On several devices** (`keras_vae.distributed()`): the loss, the
    reported terms and the gradients are those of the global batch. Under
    JAX's `DataParallel` the step is one global program and nothing changes;
    under `tf.distribute` each replica gathers the global batch's codes so the
    regularizer (a batch statistic for MMD-VAE and beta-TCVAE) is computed
    over the global batch, and returns its loss divided by the number of
    replicas, as Keras' losses do (`keras_vae.distribute.scale_loss`).
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
        if seed is not None:
            _validation.check_int("seed", seed)
        self.seed = seed

        # === Layers ===
        self.likelihood = likelihoods_lib.get(likelihood)
        if encoder is None:
            encoder = networks.build_encoder(
                self._image_shape, self.latent_dim, self.architecture,
                **self.network_kwargs,
            )
            self._custom_encoder = False
        else:
            self._custom_encoder = True
        if decoder is None:
            decoder = networks.build_decoder(
                self._image_shape, self.latent_dim, self.architecture,
                **self.network_kwargs,
            )
            self._custom_decoder = False
        else:
            self._custom_decoder = True
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
        # global batch's mean (see keras_vae.distribute.batch_mean).
        reconstruction_loss = distribute.batch_mean(
            self.likelihood.negative_log_likelihood(target, y_pred["decoder_output"])
        )
        # Under tf.distribute the regularizer sees the global batch's codes,
        # as on one device and under JAX's DataParallel (see
        # keras_vae.distribute); elsewhere `gather` returns its input.
        z_mean, z_log_var, z = distribute.gather(
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
        return distribute.scale_loss(local_loss, penalty)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Keras' own, made to work on several TensorFlow workers (see
        # keras_vae.distribute.per_worker_logs).
        return distribute.per_worker_logs(
            super().compute_metrics(x, y, y_pred, sample_weight=sample_weight))

    # === Training entry points with input checks ===

    def compile(self, optimizer="adam", **kwargs):
        """Configures training. The loss is the model's own.

        Args:
            optimizer: any Keras optimizer; default Adam(learning_rate=1e-3).
            **kwargs: `jit_compile`, `steps_per_execution`, `run_eagerly`, ...
                Passing `loss`, `loss_weights` or `metrics` raises.
        """
        for arg in ("loss", "loss_weights", "metrics", "weighted_metrics"):
            if kwargs.get(arg) is not None:
                raise ValueError(
                    f"keras-vae models compute their own loss and metrics; "
                    f"do not pass `{arg}` to compile(). The reported terms are "
                    f"loss, reconstruction_loss and {list(self.regularizer_terms)}. "
                    f"Received: {arg}={kwargs[arg]!r}"
                )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Re-compiles a loaded model with its saved optimizer (`.keras` files).

        A `.keras` file written under torch records the torch-specific
        optimizer class (`keras.src.backend.torch.optimizers...`), which
        cannot update TensorFlow or JAX variables (the known Keras issue that
        forces `compile=False`). The optimizer is therefore rebuilt from its
        public class name and config with the current backend's class, and
        `jit_compile` is left to the loading backend's default.
        """
        config = dict(config)
        # The saved `jit_compile` is the saving backend's resolution of "auto"
        # (always True under JAX); under torch it would switch on
        # torch.compile. Let the loading backend choose again.
        config.pop("jit_compile", None)
        optimizer = config.pop("optimizer", None)
        if isinstance(optimizer, dict) and "class_name" in optimizer:
            optimizer = keras.optimizers.deserialize(
                {"class_name": optimizer["class_name"],
                 "config": optimizer.get("config", {})}
            )
        config = keras.saving.deserialize_keras_object(config)
        config = {k: v for k, v in config.items() if v is not None}
        if optimizer is not None:
            config["optimizer"] = optimizer
        self.compile(**config)
        self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto",
            callbacks=None, **kwargs):
        """`keras.Model.fit` with input checks and a non-finite-loss guard.

        Adds `keras_vae.callbacks.StopOnNonFiniteLoss` unless present.
        """
        self._check_data(x, "x")
        if y is not None:
            self._check_data(y, "y")
        if not kwargs.get("validation_split"):
            distribute.check_array_batches(x, batch_size)
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)):
            self._check_data(validation_data[0], "validation_data")
        elif validation_data is not None:
            self._check_data(validation_data, "validation_data")
        callbacks = list(callbacks or [])
        if not any(isinstance(c, StopOnNonFiniteLoss) for c in callbacks):
            callbacks.append(StopOnNonFiniteLoss())
        return super().fit(x, y, batch_size=batch_size, epochs=epochs,
                           verbose=verbose, callbacks=callbacks, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras' TensorFlow trainer, under a tf.distribute strategy, opens a
        # fresh iterator on the data at every fit()/evaluate() and pulls a
        # batch from it only to build the model symbolically. A VAE's input
        # spec is known, so it is built from that instead: pulling a batch
        # would start a pipeline that reshuffles on each iteration
        # (keras_vae.datasets) on its next permutation, and a data-parallel
        # run on other batches than the one-device run.
        if iterator is not None:
            iterator = None
            data_batch = (keras.KerasTensor((None,) + self._image_shape,
                                            dtype=keras.config.floatx()), None, None)
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights`, restoring the optimizer state too.

        A compiled model's optimizer is built first, so that a resumed run
        continues with the saved optimizer moments, as its schedules continue
        from the saved `step_counter`.
        """
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        return super().load_weights(filepath, *args, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        self._check_data(x, "x")
        if y is not None:
            self._check_data(y, "y")
        return super().evaluate(x, y, **kwargs)

    def predict(self, x, batch_size=None, verbose=0, **kwargs):
        """Reconstructions from the posterior mean (decoder mean, e.g. pixel
        probabilities for Bernoulli), as a numpy array of `x`'s shape."""
        return self.reconstruct(x, batch_size=batch_size, verbose=verbose, **kwargs)

    # === Representation and generation ===

    def encode(self, x, batch_size=None, verbose=0):
        """Returns `(z_mean, z_log_var)` of q(z | x) as numpy arrays."""
        self._check_data(x, "x")
        z_mean, z_log_var = self.encoder.predict(
            x, batch_size=batch_size, verbose=verbose
        )
        return z_mean, z_log_var

    def decode(self, z, batch_size=None, verbose=0):
        """Returns the decoder mean (e.g. pixel probabilities) for codes `z`."""
        z = np.asarray(z)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"`z` must have shape (num_codes, {self.latent_dim}). "
                f"Received: z.shape={z.shape}"
            )
        _validation.check_finite_numeric("z", z)
        return self._inference_model("decode").predict(
            z.astype("float32"), batch_size=batch_size, verbose=verbose
        )

    def reconstruct(self, x, batch_size=None, verbose=0, **kwargs):
        """Decodes the posterior mean of each input: `decode(encode(x)[0])`."""
        self._check_data(x, "x")
        return self._inference_model("reconstruct").predict(
            x, batch_size=batch_size, verbose=verbose, **kwargs
        )

    def sample(self, n, seed=None, batch_size=None):
        """Decodes `n` draws of the prior N(0, I) (lecture slides 13-14).

        The draws come from numpy's generator with `seed`, so the same seed
        and weights give the same images on every backend.
        """
        n = _validation.check_int("n", n, minimum=1)
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
        """Clear errors for wrong shapes, dtypes and ranges before Keras runs."""
        if data is None:
            return
        try:
            import tensorflow as tf

            if isinstance(data, tf.data.Dataset):
                specs = data.element_spec
                if not isinstance(specs, (tuple, list)):
                    specs = (specs,)
                for spec, part in zip(specs[:2], (name, "y")):
                    if isinstance(spec, tf.TensorSpec):
                        _check_shape(tuple(spec.shape), self._image_shape, part)
                return
        except ImportError:  # pragma: no cover - tensorflow is a dependency
            pass
        if isinstance(data, (list, tuple)):
            data = np.asarray(data)
        if not hasattr(data, "shape") or not hasattr(data, "dtype"):
            return  # generators, PyDataset, DataLoader: checked by Keras
        _check_shape(tuple(data.shape), self._image_shape, name)
        if isinstance(data, np.ndarray):
            _validation.check_finite_numeric(name, data)
            low, high = getattr(self.likelihood, "target_range", None) or (None, None)
            if low is not None and data.size and (data.min() < low or data.max() > high):
                raise ValueError(
                    f"likelihood='{self.likelihood.name_}' needs `{name}` in "
                    f"[{low}, {high}]. Scale your images, e.g. x / 255.0 for "
                    "uint8 pixels, or use likelihood='gaussian'. Received: "
                    f"{name} with min={data.min()} and max={data.max()}"
                )

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


def _check_shape(shape, image_shape, name):
    if len(shape) != 4 or tuple(shape[1:]) != image_shape:
        hint = ""
        if name == "y":
            hint = (
                " A VAE reconstructs its input: omit `y`. If your data are "
                "(image, label) pairs, keep only the images, e.g. "
                "`dataset.map(lambda x, y: x)`."
            )
        raise ValueError(
            f"`{name}` must be a batch of images of shape (num_images,) + "
            f"{image_shape}, the model's `input_shape`.{hint} Received: "
            f"{name}.shape={shape}"
        )


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
