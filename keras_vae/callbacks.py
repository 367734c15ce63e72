"""Training callbacks of keras-vae."""

import math

import keras
import numpy as np


class NonFiniteLossError(FloatingPointError):
    """Raised when a training loss becomes NaN or infinite."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and restores clean weights.

    Keras' `TerminateOnNaN` stops after the bad step has already written NaN
    into the weights. This callback snapshots the model and optimizer
    variables at the start of every epoch; when a batch reports a NaN or
    infinite loss it restores that snapshot and raises `NonFiniteLossError`
    with the epoch, the step, every logged term and what to try. Every keras-vae
    model adds it to `fit` unless the caller passes one.

    Checking reads the batch loss (a scalar) every step; it touches the model
    only at epoch starts and on failure, so the JAX backend keeps its
    training state on device between steps.
    """

    def __init__(self):
        super().__init__()
        self._snapshot = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        model = self.model
        optimizer_vars = model.optimizer.variables if model.optimizer else []
        self._snapshot = (
            [keras.ops.convert_to_numpy(v) for v in model.variables],
            [keras.ops.convert_to_numpy(v) for v in optimizer_vars],
        )

    def on_train_batch_end(self, batch, logs=None):
        if not logs or "loss" not in logs:
            return
        loss = float(np.asarray(logs["loss"]))
        if math.isfinite(loss):
            return
        model = self.model  # on JAX, this syncs the (bad) state back first
        if self._snapshot is not None:
            weights, optimizer_values = self._snapshot
            for variable, value in zip(model.variables, weights):
                variable.assign(value)
            if model.optimizer:
                for variable, value in zip(model.optimizer.variables, optimizer_values):
                    variable.assign(value)
        terms = ", ".join(
            f"{k}={float(np.asarray(v)):.6g}" for k, v in sorted(logs.items())
        )
        model.stop_training = True
        rate = _learning_rate(model.optimizer)
        if rate is not None and not (math.isfinite(rate) and rate > 0):
            cause = (f"The optimizer's learning rate is {rate:g}: it must be a finite "
                     "positive number.")
        else:
            cause = ("Common causes: a learning rate too high (try 10x lower or "
                     "`clipnorm=1.0` in the optimizer), inputs that are not finite or "
                     "not scaled (a Bernoulli likelihood needs targets in [0, 1]), or a "
                     "very small fixed Gaussian/Laplace scale.")
        raise NonFiniteLossError(
            f"The training loss became non-finite at epoch {self._epoch + 1}, "
            f"step {batch + 1} ({terms}). Training stopped and the weights and "
            "optimizer state were restored to the start of that epoch. " + cause
        )


def _learning_rate(optimizer):
    """The optimizer's current learning rate as a float, or None."""
    try:
        rate = optimizer.learning_rate
        if callable(rate) and not hasattr(rate, "numpy") and not hasattr(rate, "value"):
            rate = rate(optimizer.iterations)
        return float(np.asarray(keras.ops.convert_to_numpy(rate)))
    except Exception:  # an exotic schedule: say nothing about it
        return None
