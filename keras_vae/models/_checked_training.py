"""`compile`, `fit` and `evaluate` of `BaseVAE`, with their input checks.

Keras' own entry points, called with arguments checked first: every input
kind is checked before Keras sees it (`keras_vae._inputs`), arguments a VAE
cannot honour (`loss`, `metrics`, `sample_weight`, `class_weight`) raise with
the reason, and `fit` adds a non-finite-loss guard. Mixed into `BaseVAE`,
which provides `image_shape`, `_check_data` and `regularizer_terms`.
"""

import math

import keras
import numpy as np

from keras_vae import _inputs
from keras_vae import _keras_compat
from keras_vae import _validation
from keras_vae.callbacks import StopOnNonFiniteLoss
from keras_vae.distribute import scope


class CheckedTrainingMixin:
    """`compile`, `fit` and `evaluate` with input checks; see the module."""

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
        _check_learning_rate(optimizer)
        super().compile(optimizer=optimizer, **kwargs)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto",
            callbacks=None, **kwargs):
        """`keras.Model.fit` with input checks and a non-finite-loss guard.

        Every input kind is checked before Keras sees it (see
        `keras_vae._inputs`): numpy arrays, nested lists and backend tensors
        by value, `tf.data` datasets by element spec and an in-graph
        finiteness/range assertion. Empty inputs, `sample_weight`,
        `class_weight` and out-of-range `batch_size`, `epochs`,
        `steps_per_epoch` or `validation_split` raise. Adds
        `keras_vae.callbacks.StopOnNonFiniteLoss` unless present.
        """
        _refuse_weights(kwargs)
        batch_size = _validation.check_optional_int("batch_size", batch_size)
        epochs = _validation.check_int("epochs", epochs, minimum=1)
        initial_epoch = _validation.check_int("initial_epoch", kwargs.get("initial_epoch", 0),
                                              minimum=0)
        if initial_epoch >= epochs:
            raise ValueError(
                "Argument `initial_epoch` must be smaller than `epochs` (it is the index "
                f"of the first epoch to run). Received: initial_epoch={initial_epoch}, "
                f"epochs={epochs}"
            )
        for arg in ("steps_per_epoch", "validation_steps", "validation_batch_size",
                    "validation_freq"):
            if kwargs.get(arg) is not None:
                kwargs[arg] = _validation.check_optional_int(arg, kwargs[arg])
        split = kwargs.get("validation_split", 0.0)
        if split is not None:
            split = _validation.check_float("validation_split", split, minimum=0.0)
            if split >= 1.0:
                raise ValueError(
                    "Argument `validation_split` must be in [0, 1): the fraction of `x` "
                    f"held out for validation. Received: validation_split={split}"
                )
            if split and (_inputs._is_dataset(x) or _inputs._is_unreadable(x)):
                raise ValueError(
                    "Argument `validation_split` applies to arrays only; pass "
                    "`validation_data` with a dataset or generator. Received: "
                    f"validation_split={split} with x of type {type(x).__name__}"
                )
        x = self._check_data(x, "x")
        y = self._check_data(y, "y")
        if y is not None and (_inputs._is_dataset(x) or _inputs._is_unreadable(x)):
            raise ValueError(
                "Argument `y` must be omitted when `x` is a dataset or generator (it "
                f"yields its own targets). Received: y of type {type(y).__name__}"
            )
        if split and hasattr(x, "shape") and int(x.shape[0] * (1 - split)) < 1:
            raise ValueError(
                "Argument `validation_split` leaves no training example. Received: "
                f"validation_split={split} with {x.shape[0]} examples"
            )
        if not split:
            scope.check_array_batches(x, batch_size)
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)) and not _looks_like_images(
                validation_data, self.image_shape):
            if len(validation_data) > 2 and validation_data[2] is not None:
                raise ValueError(
                    "keras-vae models do not support `sample_weight`, in `validation_data` "
                    "neither: the regularizers (KL, MMD) are batch statistics. Received: "
                    "validation_data=(x, y, sample_weight)"
                )
            parts = list(validation_data[:2])
            parts[0] = self._check_data(parts[0], "validation_data")
            if len(parts) > 1:
                parts[1] = self._check_data(parts[1], "y")
            kwargs["validation_data"] = tuple(parts)
        elif validation_data is not None:
            kwargs["validation_data"] = self._check_data(validation_data, "validation_data")
        callbacks = list(callbacks or [])
        if not any(isinstance(c, StopOnNonFiniteLoss) for c in callbacks):
            callbacks.append(StopOnNonFiniteLoss())
        x, y, batch_size = _untuned_fit_inputs(x, y, batch_size, kwargs)
        with _keras_compat.keep_usable(self), _inputs.translate_errors():
            return super().fit(x, y, batch_size=batch_size, epochs=epochs,
                               verbose=verbose, callbacks=callbacks, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """`keras.Model.evaluate` with the input checks of `fit`."""
        _refuse_weights(kwargs)
        batch_size = _validation.check_optional_int("batch_size", batch_size)
        if kwargs.get("steps") is not None:
            kwargs["steps"] = _validation.check_optional_int("steps", kwargs["steps"])
        x = self._check_data(x, "x")
        y = self._check_data(y, "y")
        if kwargs.get("steps") is None:
            x, y, batch_size = _keras_compat.without_autotuning(x, y, batch_size)
        with _keras_compat.keep_usable(self), _inputs.translate_errors():
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)


def _untuned_fit_inputs(x, y, batch_size, kwargs):
    """`fit`'s in-memory arrays as Keras' own pipeline without tf.data
    autotuning (`_keras_compat.untuned_array_dataset`); updates `kwargs`.

    Where it applies, the split of `validation_split` is made here as Keras
    makes it (`train_validation_split` in
    `trainers/data_adapters/array_slicing.py`: the last fraction of the
    arrays, before shuffling, and only without `validation_data`), and
    validation arrays become a dataset too. Elsewhere (other backends,
    datasets and generators, `steps_per_epoch`) Keras gets them unchanged.
    """
    if not _keras_compat.feeds_tf_data(x, y) or kwargs.get("steps_per_epoch") is not None:
        return x, y, batch_size
    split = kwargs.get("validation_split") or 0.0
    if split and kwargs.get("validation_data") is None:
        split_at = int(math.floor(x.shape[0] * (1.0 - split)))
        if not 0 < split_at < x.shape[0]:
            return x, y, batch_size  # Keras' own error says why
        kwargs["validation_data"] = (x[split_at:], None if y is None else y[split_at:])
        x, y = x[:split_at], None if y is None else y[:split_at]
    kwargs.pop("validation_split", None)
    validation = kwargs.get("validation_data")
    if validation is not None:
        parts = tuple(validation) if isinstance(validation, tuple) else (validation,)
        dataset = _keras_compat.untuned_array_dataset(
            parts[0], parts[1] if len(parts) > 1 else None,
            kwargs.get("validation_batch_size") or batch_size)
        if dataset is not None:
            kwargs["validation_data"] = dataset
            kwargs.pop("validation_batch_size", None)
    x, y, batch_size = _keras_compat.without_autotuning(
        x, y, batch_size, shuffle=kwargs.get("shuffle", True))
    if not isinstance(x, np.ndarray):
        kwargs["shuffle"] = False  # the dataset shuffles; Keras would warn
    return x, y, batch_size


def _check_learning_rate(optimizer):
    """A constant learning rate must be finite and > 0 (schedules pass)."""
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        return
    if callable(getattr(optimizer, "_learning_rate", None)):
        return  # a LearningRateSchedule
    value = float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate)))
    if not (np.isfinite(value) and value > 0):
        raise ValueError(
            "The optimizer's `learning_rate` must be a finite number > 0 (a negative "
            f"one ascends the loss). Received: learning_rate={value:g}"
        )


def _refuse_weights(kwargs):
    for arg in ("sample_weight", "class_weight"):
        if kwargs.get(arg) is not None:
            value = kwargs[arg]
            raise ValueError(
                f"keras-vae models do not support `{arg}`: the regularizers (KL, MMD) "
                "are batch statistics over unweighted examples. Received: "
                f"{arg} of type {type(value).__name__}"
                + (f" and shape {tuple(value.shape)}" if hasattr(value, "shape") else "")
            )


def _looks_like_images(data, image_shape):
    """Whether a list passed as `validation_data` is a nested list of images
    rather than an `(x, y)` tuple."""
    try:
        return np.asarray(data[0]).shape == tuple(image_shape)
    except Exception:  # ragged: a tuple of arrays of different shapes
        return False
