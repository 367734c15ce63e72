"""Step-based schedules for regularizer weights.

A schedule maps the model's training-step counter (a non-trainable model
variable saved with the weights, advanced once per training step and never by
evaluation) to a float. Used for beta annealing (a high beta at the start,
reduced towards one) and for the capacity C of Burgess et al. 2018.
"""

import math

import keras
from keras import ops

from keras_vae import _validation


class Schedule:
    """Base class: `value(step)` returns a float tensor for an integer step."""

    def value(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="keras_vae")
class Constant(Schedule):
    """The same value at every step."""

    def __init__(self, value):
        self.constant = _validation.check_float("value", value)

    def value(self, step):
        return ops.cast(self.constant, "float32") + 0.0 * ops.cast(step, "float32")

    def get_config(self):
        return {"value": self.constant}


class _Anneal(Schedule):
    """Goes from `start` at step 0 to `end` at step `steps`, then stays at `end`."""

    def __init__(self, start, end, steps):
        self.start = _validation.check_float("start", start)
        self.end = _validation.check_float("end", end)
        self.steps = _validation.check_int("steps", steps, minimum=1)

    def value(self, step):
        progress = ops.minimum(ops.cast(step, "float32") / float(self.steps), 1.0)
        return self.start + (self.end - self.start) * self._shape(progress)

    def get_config(self):
        return {"start": self.start, "end": self.end, "steps": self.steps}


@keras.saving.register_keras_serializable(package="keras_vae")
class LinearAnneal(_Anneal):
    """`start + (end - start) * min(step / steps, 1)`."""

    def _shape(self, progress):
        return progress


@keras.saving.register_keras_serializable(package="keras_vae")
class CosineAnneal(_Anneal):
    """`end + (start - end) * 0.5 * (1 + cos(pi * min(step / steps, 1)))`.

    Flat near both ends, steepest in the middle.
    """

    def _shape(self, progress):
        return 0.5 * (1.0 - ops.cos(math.pi * progress))
