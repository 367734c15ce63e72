"""`DeviceTrainer`: the training images on the device, many steps per call.

See `keras_vae.ensemble`.
"""

import os
import platform
import time

import keras
import numpy as np
from keras import ops

from keras_vae import _validation
from keras_vae.ensemble.data import batch_indices
from keras_vae.ensemble.model import SeedEnsemble


class DeviceTrainer:
    """Runs training steps of a compiled `SeedEnsemble` on images held on the device.

    The images are converted to a backend tensor once (keep them uint8 for
    dSprites' 0/1 pixels: a quarter of float32's memory; they are cast, not
    scaled, per batch). Each call of `run` trains `count` steps: member k's
    batch at step t holds the images `batch_indices(seeds, t, ...)[0, k]`,
    gathered on the device. On JAX, on an accelerator, the steps run in one
    jitted `lax.fori_loop` of `ensemble.train_step` (compiled once for any
    count up to `steps_per_call`, the state donated), so the host only
    launches a call every `steps_per_call` steps; on a CPU, where XLA runs
    convolutions inside a loop body an order of magnitude slower than
    outside one (measured: 3.3 s against 0.22 s for one step of the dSprites
    net), a host loop calls the jitted step. On TensorFlow and torch, a loop
    of `train_on_batch`.

    Args:
        ensemble: a compiled `SeedEnsemble`.
        images: array `(N,) + image_shape`, or `(N, H, W)` for one channel.
        seeds: the members' data seeds (one per member).
        batch_size: examples per member per step.
        steps_per_call: most steps per jitted call (JAX).
        device_loop: JAX: `"auto"` (the `fori_loop` on an accelerator, the
            host loop on a CPU), True or False.
    """

    def __init__(self, ensemble, images, seeds, batch_size, steps_per_call=1000,
                 device_loop="auto"):
        if not isinstance(ensemble, SeedEnsemble):
            raise TypeError("Argument `ensemble` must be a keras_vae.ensemble.SeedEnsemble. "
                            f"Received: ensemble of type {type(ensemble).__name__}")
        if getattr(ensemble, "optimizer", None) is None:
            raise ValueError("Argument `ensemble` must be compiled (it needs its optimizer). "
                             "Received: an ensemble that was not compiled")
        seeds = [_validation.check_seed("seeds", s)
                 for s in _validation.check_sequence("seeds", seeds)]
        if len(seeds) != ensemble.num_members:
            raise ValueError(
                f"Argument `seeds` must hold one data seed per member ({ensemble.num_members}). "
                f"Received: seeds={seeds} ({len(seeds)} seeds)")
        self.ensemble = ensemble
        self.seeds = seeds
        self.batch_size = _validation.check_int("batch_size", batch_size, minimum=1)
        self.steps_per_call = _validation.check_int("steps_per_call", steps_per_call, minimum=1)
        shape = tuple(getattr(images, "shape", ()))
        image_shape = tuple(ensemble.image_shape)
        if not (shape[1:] == image_shape
                or (image_shape[-1] == 1 and shape[1:] == image_shape[:-1])):
            raise ValueError(
                f"Argument `images` must have shape (N,) + {image_shape} (or without the "
                f"channel axis of one channel). Received: images.shape={shape}")
        if shape[0] < 1:
            raise ValueError("Argument `images` must hold at least one image. Received: "
                             f"images.shape={shape}")
        self.num_images = int(shape[0])
        self.compile_seconds = 0.0  # all compilations so far (JAX)
        self.backend = keras.backend.backend()
        if not ensemble.optimizer.built:
            ensemble.optimizer.build(ensemble.trainable_variables)
        if self.backend == "jax":
            import jax

            self.images = jax.device_put(np.asarray(images))
            self._steps = {}  # compiled programs, by the ensemble's groups
            if device_loop == "auto":
                device_loop = jax.devices()[0].platform != "cpu"
            self.device_loop = _validation.check_bool("device_loop", device_loop)
        else:
            self.images = ops.convert_to_tensor(np.asarray(images))

    def _batch_shape(self):
        return (self.ensemble.num_members, self.batch_size) + tuple(self.ensemble.image_shape)

    def run(self, first_step, count):
        """Trains `count` steps, the first being step `first_step`.

        Returns:
            The mean logs over these steps (`loss`, `loss_0`, ...), floats.
        """
        count = _validation.check_int("count", count, minimum=1)
        ensemble = self.ensemble
        ensemble.reset_metrics()
        done = 0
        while done < count:
            n = min(self.steps_per_call, count - done)
            indices = batch_indices(self.seeds, first_step + done, n, self.batch_size,
                                    self.num_images)
            if self.backend == "jax":
                self._run_jax(indices, n)
            else:
                self._run_eager(indices)
            done += n
        return {k: float(ops.convert_to_numpy(v)) for k, v in ensemble.get_metrics_result().items()}

    def _run_eager(self, indices):
        dtype = keras.config.floatx()
        for step in indices:
            x = ops.take(self.images, ops.convert_to_tensor(step), axis=0)
            self.ensemble.train_on_batch(ops.reshape(ops.cast(x, dtype), self._batch_shape()))

    # --- JAX: many steps per jitted call ---

    def _state(self):
        e = self.ensemble
        return tuple([v.value for v in variables] for variables in (
            e.trainable_variables, e.non_trainable_variables, e.optimizer.variables,
            e.metrics_variables))

    def _set_state(self, state):
        e = self.ensemble
        for variables, values in zip((e.trainable_variables, e.non_trainable_variables,
                                      e.optimizer.variables, e.metrics_variables), state):
            for variable, value in zip(variables, values):
                variable.assign(value)

    def _compile_jax(self, state, indices, count):
        import jax
        import jax.numpy as jnp

        ensemble, shape, dtype = self.ensemble, self._batch_shape(), keras.config.floatx()

        def body(i, state, images, indices):
            x = jnp.reshape(jnp.take(images, indices[i], axis=0).astype(dtype), shape)
            _, new = ensemble.train_step(state, (x,))
            return jax.tree_util.tree_map(lambda n, o: jnp.asarray(n, o.dtype),
                                          tuple(list(s) for s in new), state)

        def chunk(state, images, indices, count):
            return jax.lax.fori_loop(0, count, lambda i, s: body(i, s, images, indices), state)

        def step(state, images, indices, i):
            return body(i, state, images, indices)

        tic = time.perf_counter()
        compiled = jax.jit(chunk if self.device_loop else step, donate_argnums=(0,)).lower(
            state, self.images, indices, count).compile()
        self.compile_seconds += time.perf_counter() - tic
        return compiled

    def _run_jax(self, indices, n):
        import jax.numpy as jnp

        if len(indices) < self.steps_per_call:  # one compiled shape: pad the index block
            pad = np.zeros((self.steps_per_call - len(indices),) + indices.shape[1:], np.int32)
            indices = np.concatenate([indices, pad])
        state = self._state()
        indices = jnp.asarray(indices)
        count = jnp.asarray(n, jnp.int32)
        key = self.ensemble.groups
        if key not in self._steps:
            self._steps[key] = self._compile_jax(state, indices, count)
        compiled = self._steps[key]
        if self.device_loop:
            state = compiled(state, self.images, indices, count)
        else:
            for i in range(n):
                state = compiled(state, self.images, indices, jnp.asarray(i, jnp.int32))
        self._set_state(state)


def hardware():
    """The device the backend trains on, in words (a GPU's name, or the CPU)."""
    backend = keras.backend.backend()
    cpus = f"{os.cpu_count()} CPU cores"
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "cpu":
                return f"{device.device_kind} ({device.platform}), {cpus}"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"{torch.cuda.get_device_name(0)} (cuda), {cpus}"
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return f"{details.get('device_name', gpus[0].name)} (gpu), {cpus}"
    except Exception:  # a device query that fails names the CPU
        pass
    return f"{platform.machine()}, {cpus}"


# === A run directory ===
