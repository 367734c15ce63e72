"""Several keras-vae models trained as one: K runs (seeds, methods) in one
process, on one device, in one compiled program.

A study trains many small models (Locatello et al. 2019: 6 methods x 6
settings x 50 seeds of a 0.76M-parameter net, 300,000 steps of batch 64 each).
One such model leaves a GPU idle between its small kernels; K of them
stepping together fill it.

- `SeedEnsemble(members)` is a `keras.Model` over K independent keras-vae
  models. Its input is one batch per member, shape `(K, batch) + image_shape`;
  its loss is the sum of the members' own `compute_loss`, each on its own
  batch. Because the K parameter sets are disjoint, the gradient of the sum
  with respect to member k's parameters is the gradient of member k's loss,
  and Adam is elementwise (its moments are per parameter; its step count is
  the same for all), so one Adam over the sum is exactly K independent Adam
  runs: member k ends with the weights it would have trained to alone, on
  the same batches, from the same seed (`tests/test_ensemble.py` checks this
  on every backend). FactorVAE's discriminators get their own Adam, as in
  `FactorVAE.compile` (`FactorVAEOptimizers`).
- On JAX with an accelerator (by default; `vectorize=True` anywhere on JAX),
  members with the same class and configuration (one recipe, several seeds)
  are *vectorized*: their variables are stacked and their forward pass and
  loss run under `jax.vmap`, so K seeds take one set of kernels (batched
  matrix products, grouped convolutions) instead of K. Same arithmetic,
  other kernels: equal to float tolerance.
- `DeviceTrainer` keeps the training images on the device and runs many steps
  per call: on JAX with an accelerator a jitted `lax.fori_loop` over
  `ensemble.train_step` (on a CPU a host loop over the jitted step); on
  TensorFlow and torch a loop of `train_on_batch`. The images of each step
  are gathered on the device; only their indices cross from the host, drawn
  by `batch_indices`, a counter-based hash of (member seed, step, slot): a
  member's batches depend on its seed and the step alone, not on the other
  members nor on where a run was interrupted.
- `train_ensemble` trains into a run directory with atomic checkpoints,
  resumes from the last one, stops cleanly at a wall-clock budget, and
  returns each member's preset metadata; `write_presets` writes the presets
  in the layout of `keras_vae.study` (`OUT/runs/<run>/preset`).

`zoo/gpu_study.py` is the command line over these.
"""

import dataclasses
import hashlib
import json
import os
import platform
import time

import keras
import numpy as np
from keras import ops

from keras_vae import _atomic
from keras_vae import _validation
from keras_vae.models.base import BaseVAE
from keras_vae.models.factor_vae import FactorVAE
from keras_vae.models.factor_vae import FactorVAEOptimizers
from keras_vae.models.factor_vae import default_discriminator_optimizer

MANIFEST = "ensemble.json"


class SeedEnsemble(keras.Model):
    """K independent keras-vae models trained as one Keras model.

    Call it on `x` of shape `(K, batch) + image_shape`, one batch per member;
    it returns the list of the members' outputs. `compute_loss` is the sum of
    the members' losses, so `train_step` (any backend, `fit`,
    `train_on_batch`) trains each member as if alone; see the module
    docstring for why one optimizer over the sum is K independent Adam runs.
    Reports `loss` (the sum) and `loss_0` ... `loss_{K-1}` (each member's).

    Args:
        members: a non-empty list of distinct keras-vae models (`BaseVAE`
            subclasses, FactorVAE included) with one image shape.
        vectorize: `"auto"` (on JAX with an accelerator), True (JAX only) or
            False. Members of one class and configuration (seeds aside) then
            run under `jax.vmap`.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:

    >>> members = [keras_vae.BetaVAE(input_shape=(8, 8, 1), latent_dim=2,
    ...                              architecture="mlp", seed=s) for s in (0, 1)]
    >>> ensemble = SeedEnsemble(members)
    >>> ensemble.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> logs = ensemble.train_on_batch(np.zeros((2, 32, 8, 8, 1), "float32"))
    """

    def __init__(self, members, vectorize="auto", **kwargs):
        kwargs.setdefault("name", "seed_ensemble")
        super().__init__(**kwargs)
        members = _check_members(members)
        self.vectorize = _check_vectorize(vectorize)
        self.members = members
        self.num_members = len(members)
        self.member_loss_trackers = [keras.metrics.Mean(name=f"loss_{k}")
                                     for k in range(len(members))]
        self._set_groups()
        self.built = True

    def _set_groups(self):
        # Kept out of Keras' attribute tracking: plain tuples of indices.
        self.__dict__["_groups"] = (_groups(self.members) if self.vectorize
                                    else tuple((k,) for k in range(len(self.members))))

    def set_vectorize(self, vectorize):
        """Switches vectorization on or off (JAX), e.g. between blocks of
        steps: the same arithmetic, another program (retrace after it)."""
        self.vectorize = _check_vectorize(vectorize)
        self._set_groups()

    @property
    def image_shape(self):
        """The members' input shape `(H, W, C)`."""
        return self.members[0].image_shape

    @property
    def groups(self):
        """Tuples of member indices run together (vectorized when longer than one)."""
        return self._groups

    @property
    def step_counter(self):
        """Training steps taken: the optimizer's `iterations` (0 before compile)."""
        optimizer = getattr(self, "optimizer", None)
        return optimizer.iterations if optimizer is not None else 0

    # === Training configuration ===

    def compile(self, optimizer="adam", discriminator_optimizer=None, **kwargs):
        """Configures training: one optimizer for every member.

        Args:
            optimizer: the members' optimizer (default Adam(1e-3)); elementwise
                optimizers such as Adam, RMSprop or SGD give independent runs
                (`global_clipnorm`, which couples them, is refused).
            discriminator_optimizer: the optimizer of the FactorVAE members'
                discriminators (default: `FactorVAE`'s,
                Adam(1e-4, 0.5, 0.9)); unused without FactorVAE members.
            **kwargs: `jit_compile`, `steps_per_execution`, ...; passing
                `loss`, `loss_weights` or `metrics` raises.
        """
        for arg in ("loss", "loss_weights", "metrics", "weighted_metrics"):
            if kwargs.get(arg) is not None:
                raise ValueError(
                    f"A SeedEnsemble's loss is the sum of its members' own; do not pass "
                    f"`{arg}` to compile(). Received: {arg}={kwargs[arg]!r}")
        optimizer = keras.optimizers.get(optimizer)
        if getattr(optimizer, "global_clipnorm", None):
            raise ValueError(
                "A SeedEnsemble's optimizer must treat each variable on its own; "
                "`global_clipnorm` clips by the norm over every member's gradients, which "
                "couples the runs (use `clipnorm`, per variable). Received: "
                f"global_clipnorm={optimizer.global_clipnorm}")
        discriminators = [v for m in self.members if isinstance(m, FactorVAE)
                          for v in m.discriminator.trainable_variables]
        if discriminators:
            optimizer = FactorVAEOptimizers(
                optimizer,
                keras.optimizers.get(discriminator_optimizer
                                     or default_discriminator_optimizer()),
                discriminators)
        super().compile(optimizer=optimizer, **kwargs)

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights`, restoring the optimizer state too (the
        optimizer is built first, as `BaseVAE.load_weights` does)."""
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        return super().load_weights(filepath, *args, **kwargs)

    # === Saving: the sampling state too ===

    def _random_states(self):
        """The members' seed-generator states (sampling noise, FactorVAE's
        permutations): variables of the models that `weights` leaves out."""
        saved = {id(v) for v in self.weights}
        return [v for v in self.non_trainable_variables if id(v) not in saved]

    def save_own_variables(self, store):
        """Saves the members' seed-generator states with the weights.

        Keras saves a layer's weights, not the state of its
        `keras.random.SeedGenerator`s, so a model restored from a weights
        file draws its noise from the start of its seed again. An
        ensemble's checkpoint holds those states too, so that a resumed run
        draws the noise an uninterrupted one would.
        """
        own = self._trainable_variables + self._non_trainable_variables
        for i, variable in enumerate(own):
            store[f"own_{i}"] = ops.convert_to_numpy(variable)
        for i, variable in enumerate(self._random_states()):
            store[f"random_state_{i}"] = ops.convert_to_numpy(variable)

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        states = self._random_states()
        if len(store.keys()) != len(own) + len(states):
            raise ValueError(
                f"The weights file does not match this SeedEnsemble: it holds "
                f"{len(store.keys())} variables of the ensemble itself, this one has "
                f"{len(own) + len(states)} (its own and its members' seed states). "
                f"Received: {len(store.keys())} stored variables")
        for i, variable in enumerate(own):
            variable.assign(store[f"own_{i}"])
        for i, variable in enumerate(states):
            variable.assign(store[f"random_state_{i}"])

    def zero_grad(self, *args, **kwargs):
        """torch: clears the gradient of every member's variables.

        Keras' torch trainer calls `zero_grad()` before each step, and
        `torch.nn.Module.zero_grad` reaches the parameters that Keras
        registers by variable path (`TorchLayer._track_variables`). The
        members share paths (`encoder_dense_0/kernel`, ...), so only one
        member's would be cleared, and the others' gradients would add up
        over the steps.
        """
        super().zero_grad(*args, **kwargs)
        for variable in self.trainable_variables:
            variable.value.grad = None

    # === Forward pass and loss ===

    def call(self, inputs, training=None):
        self._check_batches(inputs, "x")
        outputs = [None] * self.num_members
        for group in self._groups:
            if len(group) == 1:
                outputs[group[0]] = self.members[group[0]](inputs[group[0]], training=training)
                continue
            stacked = self._vectorized_call(group, _take(inputs, group), training)
            for j, k in enumerate(group):
                outputs[k] = {name: value[j] for name, value in stacked.items()}
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if sample_weight is not None:
            raise ValueError(
                "A SeedEnsemble does not support `sample_weight` (its members' "
                "regularizers are batch statistics). Received: sample_weight of shape "
                f"{tuple(getattr(sample_weight, 'shape', ()))}")
        if y is not None:
            raise ValueError(
                "A SeedEnsemble reconstructs its input: pass only `x`, shape "
                f"(K, batch) + image_shape. Received: y of shape {tuple(y.shape)}")
        self._check_batches(x, "x")
        if y_pred is None:
            y_pred = self(x, training=training)
        total = None
        for group in self._groups:
            if len(group) == 1:
                k = group[0]
                losses = [self.members[k].compute_loss(x[k], None, y_pred[k],
                                                       training=training)]
            else:
                stacked = {name: ops.stack([y_pred[k][name] for k in group])
                           for name in y_pred[group[0]]}
                vector = self._vectorized_loss(group, _take(x, group), stacked, training)
                losses = [vector[j] for j in range(len(group))]
            for k, loss in zip(group, losses):
                self.member_loss_trackers[k].update_state(loss)
                total = loss if total is None else total + loss
        return total

    # === Vectorized members (JAX) ===

    def _vectorized_call(self, group, x, training):
        import jax

        members = [self.members[k] for k in group]
        template = members[0]

        def one(trainable, non_trainable, images):
            return template.stateless_call(trainable, non_trainable, images, training=training)

        outputs, non_trainable = jax.vmap(one)(
            _stacked(members, "trainable_variables"),
            _stacked(members, "non_trainable_variables"), x)
        _unstack_into(members, "non_trainable_variables", non_trainable)
        return outputs

    def _vectorized_loss(self, group, x, y_pred, training):
        import jax

        members = [self.members[k] for k in group]
        template = members[0]

        def one(trainable, non_trainable, metrics, images, predictions):
            loss, (_, non_trainable, _) = template.stateless_compute_loss(
                trainable, non_trainable, metrics, x=images, y=None, y_pred=predictions,
                training=training)
            return loss, non_trainable

        # The members' own trackers (reconstruction_loss, ...) are not kept:
        # the ensemble reports each member's loss (`loss_k`).
        losses, non_trainable = jax.vmap(one)(
            _stacked(members, "trainable_variables"),
            _stacked(members, "non_trainable_variables"),
            _stacked(members, "metrics_variables"), x, y_pred)
        _unstack_into(members, "non_trainable_variables", non_trainable)
        return losses

    def _check_batches(self, x, name):
        shape = tuple(x.shape)
        if (len(shape) != 2 + len(self.image_shape)
                or shape[0] not in (None, self.num_members)
                or tuple(shape[2:]) != tuple(self.image_shape)):
            raise ValueError(
                f"Argument `{name}` must hold one batch per member: shape "
                f"({self.num_members}, batch) + {tuple(self.image_shape)}. "
                f"Received: {name}.shape={shape}")


def _take(x, group):
    if list(group) == list(range(group[0], group[-1] + 1)):
        return x[group[0]:group[-1] + 1]
    return ops.stack([x[k] for k in group])


def _stacked(members, attribute):
    """The members' values of one variable list, stacked per variable."""
    values = [[v.value for v in getattr(m, attribute)] for m in members]
    return [ops.stack(list(column)) for column in zip(*values)]


def _unstack_into(members, attribute, stacked):
    for j, member in enumerate(members):
        for variable, value in zip(getattr(member, attribute), stacked):
            variable.assign(value[j])


def _check_members(members):
    if isinstance(members, BaseVAE) or not isinstance(members, (list, tuple)):
        raise TypeError(
            "Argument `members` must be a list of keras-vae models. "
            f"Received: members of type {type(members).__name__}")
    members = list(members)
    if not members:
        raise ValueError("Argument `members` must hold at least one model. Received: members=[]")
    for i, member in enumerate(members):
        if not isinstance(member, BaseVAE):
            raise TypeError(
                "Argument `members` must hold keras-vae models (BaseVAE subclasses). "
                f"Received: members[{i}] of type {type(member).__name__}")
        if type(member).train_step is not BaseVAE.train_step:
            raise ValueError(
                "Argument `members` must hold models trained by their `compute_loss` "
                "(a SeedEnsemble sums the members' losses); a model with its own "
                f"`train_step` cannot join. Received: members[{i}] of type "
                f"{type(member).__name__}, which overrides train_step")
    if len({id(m) for m in members}) != len(members):
        raise ValueError("Argument `members` must hold distinct models (each trains its own "
                         "weights). Received: the same model more than once")
    shapes = sorted({tuple(m.image_shape) for m in members})
    if len(shapes) > 1:
        raise ValueError("Argument `members` must share one image shape (one batch array "
                         f"holds every member's images). Received: image shapes {shapes}")
    return members


def _check_vectorize(vectorize):
    backend = keras.backend.backend()
    if vectorize == "auto":
        # Not on a CPU: XLA:CPU runs the grouped convolutions that vmap makes
        # of the members' convolutions ~17x slower than one by one (measured
        # on the dSprites net: 0.3 steps/s vectorized, 3 seeds).
        if backend != "jax":
            return False
        import jax

        return jax.devices()[0].platform != "cpu"
    vectorize = _validation.check_bool("vectorize", vectorize)
    if vectorize and backend != "jax":
        raise ValueError(
            "Argument `vectorize` needs the JAX backend (it runs members under jax.vmap). "
            f"Received: vectorize=True on the {backend} backend")
    return vectorize


def _signature(member):
    config = dict(member.get_config())
    for key in ("name", "seed"):
        config.pop(key, None)
    return type(member).__name__, json.dumps(config, sort_keys=True, default=str)


def _groups(members):
    """Indices of members of one class and configuration (seed and name aside)."""
    groups = {}
    for k, member in enumerate(members):
        groups.setdefault(_signature(member), []).append(k)
    return tuple(tuple(g) for g in sorted(groups.values()))


# === Members from recipes ===


@dataclasses.dataclass(frozen=True)
class Member:
    """One run of an ensemble: a recipe (with any overrides applied) and a seed.

    Attributes:
        name: the run's name, e.g. `keras_vae.study.Run.name`
            (`beta_vae_dsprites__default__seed0`); names its preset folder.
        recipe: a `keras_vae.recipes.Recipe`.
        seed: the model's seed (weights, sampling noise) and its data order.
    """

    name: str
    recipe: object
    seed: int


def build_member(recipe, seed):
    """The recipe's model with `seed`, initialized as `keras_vae.training`
    initializes it (`keras.utils.set_random_seed(seed)` first), uncompiled."""
    import keras_vae

    seed = _validation.check_seed("seed", seed)
    keras.utils.set_random_seed(seed)
    return getattr(keras_vae, recipe.model)(**recipe.model_kwargs, seed=seed)


def check_runs(runs):
    """Checks a list of `Member`s that can train as one ensemble."""
    if isinstance(runs, Member) or not isinstance(runs, (list, tuple)):
        raise TypeError(f"Argument `runs` must be a list of keras_vae.ensemble.Member. "
                        f"Received: runs of type {type(runs).__name__}")
    runs = list(runs)
    if not runs:
        raise ValueError("Argument `runs` must hold at least one run. Received: runs=[]")
    for i, run in enumerate(runs):
        if not isinstance(run, Member):
            raise TypeError("Argument `runs` must hold keras_vae.ensemble.Member items. "
                            f"Received: runs[{i}] of type {type(run).__name__}")
        _validation.check_seed(f"runs[{i}].seed", run.seed)
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"Argument `runs` must have distinct names. Received: names={names}")
    for field in ("dataset", "batch_size", "learning_rate"):
        values = sorted({getattr(r.recipe, field) for r in runs}, key=repr)
        if len(values) > 1:
            raise ValueError(
                f"Argument `runs` must share one {field} (one batch array, one optimizer). "
                f"Received: {field} values {values}")
    return runs


# === Batches ===

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z):
    """splitmix64's finalizer on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def batch_indices(seeds, first_step, num_steps, batch_size, num_images):
    """Image indices of `num_steps` training steps of each member.

    Index `[s, k, b]` is slot b of the batch of member k at step
    `first_step + s`: the `(step * batch_size + b)`-th output of splitmix64
    seeded by the member's seed, modulo `num_images` (uniform with
    replacement, as disentanglement_lib samples). It depends on the member's
    seed, the step and the slot only: a resumed run draws the batches of an
    uninterrupted one, and a member draws the same batches in any ensemble.

    Returns:
        int32 array `(num_steps, len(seeds), batch_size)`.
    """
    seeds = _validation.check_sequence("seeds", seeds)
    if not seeds:
        raise ValueError("Argument `seeds` must hold at least one seed. Received: seeds=()")
    seeds = np.asarray([_validation.check_seed("seeds", s) for s in seeds], np.uint64)
    first_step = _validation.check_int("first_step", first_step, minimum=0)
    num_steps = _validation.check_int("num_steps", num_steps, minimum=0)
    batch_size = _validation.check_int("batch_size", batch_size, minimum=1)
    num_images = _validation.check_int("num_images", num_images, minimum=1)
    if num_images > np.iinfo(np.int32).max:
        raise ValueError("Argument `num_images` must fit in int32. "
                         f"Received: num_images={num_images}")
    with np.errstate(over="ignore"):
        counter = (np.arange(first_step, first_step + num_steps, dtype=np.uint64)[:, None, None]
                   * np.uint64(batch_size) + np.arange(batch_size, dtype=np.uint64))
        keys = _mix(seeds * _GOLDEN + np.uint64(1))[None, :, None]
        hashed = _mix(keys + counter * _GOLDEN)
    return (hashed % np.uint64(num_images)).astype(np.int32)


# === Training on the device ===


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


@dataclasses.dataclass
class EnsembleResult:
    """What `train_ensemble` returns.

    Attributes:
        ensemble: the trained `SeedEnsemble` (its members in `runs` order).
        runs: the `Member`s.
        steps_done: steps trained in total (over every invocation).
        finished: whether `steps_done` reached the target steps.
        metadata: per run name, its preset metadata (without metrics).
        timings: seconds of this invocation (`compile`, `train`, `checkpoint`)
            and its steps.
        out: the ensemble's run directory.
    """

    ensemble: SeedEnsemble
    runs: list
    steps_done: int
    finished: bool
    metadata: dict
    timings: dict
    out: str

    def models(self):
        """`{run name: trained model}`."""
        return {run.name: m for run, m in zip(self.runs, self.ensemble.members)}


def _identity(runs, batch_size, learning_rate, data):
    from keras_vae import _runs

    return _runs._json_ready({
        "members": [{"name": r.name, "recipe": r.recipe.name, "model": r.recipe.model,
                     "model_kwargs": r.recipe.model_kwargs, "seed": r.seed} for r in runs],
        "batch_size": batch_size, "learning_rate": learning_rate, "data": data or {},
    })


def ensemble_dir(out, runs):
    """`out/ensembles/<hash>`: the run directory of this list of runs."""
    key = hashlib.sha1(json.dumps([r.name for r in runs]).encode()).hexdigest()[:10]
    return os.path.join(os.fspath(out), "ensembles", f"ensemble-{key}")


def train_ensemble(runs, images, out, steps, steps_per_call=1000, checkpoint_every=10_000,
                   max_seconds=None, max_steps=None, started=None, vectorize="auto",
                   jit_compile="auto", device_loop="auto", data=None, force=False, log=print,
                   log_every_s=10.0, trial_steps=200):
    """Trains the runs as one `SeedEnsemble` into the directory `out`, resumably.

    Writes `out/checkpoint.weights.h5` (every member's weights, sampling
    state and step counter, and the optimizer) atomically after every
    `checkpoint_every` steps and when stopping, keeping the previous one
    (`keras_vae._runs.save_checkpoint`), and a manifest `out/ensemble.json`
    (the runs, batch size, learning rate, data, steps done, wall time). A
    rerun resumes from the newest loadable checkpoint; one with other runs,
    data, batch size or learning rate is refused unless `force`.

    Args:
        runs: `Member`s sharing a data set, batch size and learning rate.
        images: the training images, `(N,) + image_shape` or `(N, H, W)`;
            uint8 0/1 for dSprites (cast per batch, not scaled).
        out: the ensemble's run directory.
        steps: the target number of steps.
        steps_per_call: most steps per device call (JAX).
        checkpoint_every: steps between checkpoints.
        max_seconds: wall-clock budget, counted from `started`: training stops
            (with a checkpoint) when the next block of steps and the checkpoint
            would not fit; None for no budget.
        max_steps: most steps to train in this invocation (None: no limit).
        started: `time.monotonic()` at the start of the budget (default now).
        vectorize, jit_compile: see `SeedEnsemble` and `keras.Model.compile`;
            `vectorize="fastest"` (JAX) trains one block of `trial_steps` steps
            vectorized and one not (both programs compiled; the same
            arithmetic, the steps count), then continues with the faster.
        device_loop: see `DeviceTrainer`.
        data: a JSON-able description of `images` (data set, subset), part of
            the run's identity and of each preset's metadata.
        force: discard another run's state in `out`.
        log: called with one line per progress report (at most one every
            `log_every_s` seconds, and at each checkpoint).

    Returns:
        An `EnsembleResult`.
    """
    from keras_vae import _runs

    started = time.monotonic() if started is None else started
    runs = check_runs(runs)
    steps = _validation.check_int("steps", steps, minimum=1)
    checkpoint_every = _validation.check_int("checkpoint_every", checkpoint_every, minimum=1)
    if max_seconds is not None:
        max_seconds = _validation.check_float("max_seconds", max_seconds, minimum=0.0)
    if max_steps is not None:
        max_steps = _validation.check_int("max_steps", max_steps, minimum=0)
    recipe = runs[0].recipe
    batch_size, learning_rate = recipe.batch_size, recipe.learning_rate
    out = os.fspath(out)
    _runs.check_writable(out)
    _atomic.remove_stale_in(out)
    manifest = _start_manifest(out, _identity(runs, batch_size, learning_rate, data), force)

    members = [build_member(r.recipe, r.seed) for r in runs]
    trials = []  # vectorize="fastest": a timed block with each program, then the faster
    if vectorize == "fastest":
        if keras.backend.backend() == "jax" and any(len(g) > 1 for g in _groups(members)):
            trials = [True, False]
        vectorize = keras.backend.backend() == "jax"
    ensemble = SeedEnsemble(members, vectorize=vectorize)
    ensemble.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit_compile)
    ensemble.optimizer.build(ensemble.trainable_variables)
    done = _runs.restore(ensemble, out)
    if done:
        log(f"resuming {len(runs)} runs from {out} at step {done}")
    trainer = DeviceTrainer(ensemble, images, [r.seed for r in runs], batch_size,
                            steps_per_call=steps_per_call, device_loop=device_loop)
    wall_before = float(manifest.get("wall_time_s", 0.0))
    tic = time.monotonic()
    target = steps if max_steps is None else min(steps, done + max_steps)
    timings = {"compile_s": 0.0, "train_s": 0.0, "checkpoint_s": 0.0, "steps": 0}
    per_step, save_cost, saved_at = None, 2.0, done
    next_checkpoint = (done // checkpoint_every + 1) * checkpoint_every
    logs, last_log = {}, None

    def save():
        nonlocal save_cost, saved_at
        t = time.monotonic()
        _runs.save_checkpoint(ensemble, out)
        manifest.update(steps_done=done, wall_time_s=round(wall_before + time.monotonic() - tic, 2))
        _atomic.write_json(os.path.join(out, MANIFEST), manifest)
        save_cost = time.monotonic() - t
        timings["checkpoint_s"] += save_cost
        saved_at = done

    trial, rates = None, {}
    while done < target:
        if trials and trial is None:
            trial = trials.pop(0)
            ensemble.set_vectorize(trial)
        n = min(steps_per_call, target - done, next_checkpoint - done)
        if trial is not None:
            n = min(n, trial_steps)  # one block of each program, timed
        if max_seconds is not None:
            left = max_seconds - (time.monotonic() - started) - 2 * save_cost
            if per_step is not None:
                n = min(n, int(left / per_step))
            elif trial is None:
                n = min(n, 100)  # a short first block measures the speed
            if n < 1 or left <= 0:
                log(f"stopping at step {done}: the budget of {max_seconds:g}s is spent")
                break
        t = time.monotonic()
        compiled_before = trainer.compile_seconds
        logs = trainer.run(done, n)
        seconds = time.monotonic() - t
        compiled = trainer.compile_seconds - compiled_before
        if compiled:
            timings["compile_s"] += compiled
            seconds -= compiled
            program = "vectorized" if ensemble.vectorize else "members one by one"
            log(f"compiled the training step ({program}) in {compiled:.1f}s")
        seconds = max(seconds, 1e-6)
        timings["train_s"] += seconds
        timings["steps"] += n
        per_step = seconds / n if per_step is None else 0.5 * per_step + 0.5 * seconds / n
        done += n
        if trial is not None:
            rates[trial] = n / seconds
            trial = None
            if not trials:
                best = max(rates, key=rates.get)
                ensemble.set_vectorize(best)
                timings["vectorize"] = {"chosen": best, "steps_per_s": {
                    "vectorized": round(rates[True], 1), "one_by_one": round(rates[False], 1)}}
                log(f"vectorized {rates[True]:.0f} steps/s, one by one {rates[False]:.0f} "
                    f"steps/s: continuing {'vectorized' if best else 'one by one'}")
                per_step = 1.0 / rates[best]
        checkpoint = done >= next_checkpoint
        if checkpoint or last_log is None or time.monotonic() - last_log >= log_every_s:
            last_log = time.monotonic()
            members = " ".join(f"{logs.get(f'loss_{k}', float('nan')):.1f}"
                               for k in range(len(runs)))
            log(f"step {done}/{steps}: {1.0 / per_step:.0f} steps/s, member losses {members}")
        if checkpoint:
            save()
            next_checkpoint += checkpoint_every
    if saved_at != done or not os.path.exists(os.path.join(out, _runs.CHECKPOINT)):
        save()
    wall = wall_before + time.monotonic() - tic
    timings = {k: round(v, 2) if isinstance(v, float) else v for k, v in timings.items()}
    if timings["train_s"] > 0:
        timings["steps_per_s"] = round(timings["steps"] / timings["train_s"], 1)
    timings["logs"] = logs
    device = hardware()
    metadata = {}
    for k, run in enumerate(runs):
        r = run.recipe
        metadata[run.name] = {
            "recipe": r.name, "dataset": r.dataset, "seed": run.seed, "steps": done,
            "wall_time_s": round(wall, 1), "references": r.references,
            "learning_rate": learning_rate, "batch_size": batch_size,
            "learning_rates": [[0, learning_rate]], "hardware": device,
            "ensemble": {"members": len(runs), "member": k,
                         "vectorized": len(next(g for g in ensemble.groups if k in g)) > 1,
                         "backend": keras.backend.backend(), "target_steps": steps,
                         "data": data or {}, "directory": os.path.abspath(out),
                         "note": "trained with the other members in one process "
                                 "(keras_vae.ensemble); wall_time_s is the ensemble's"},
        }
    return EnsembleResult(ensemble, runs, done, done >= steps, metadata, timings, out)


def _start_manifest(out, identity, force):
    from keras_vae import _runs
    from keras_vae.presets import read_json

    path = os.path.join(out, MANIFEST)
    if force:
        for name in (_runs.CHECKPOINT, _runs.PREVIOUS, MANIFEST):
            if os.path.exists(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
    manifest = read_json(path) if os.path.exists(path) else None
    if manifest is not None:
        differ = [k for k in identity if manifest.get(k) != identity[k]]
        if differ:
            raise _runs.StaleRunError(
                f"The ensemble directory {out!r} holds another ensemble (its {', '.join(differ)} "
                "differ); pass force=True (--force) to discard it, or choose another "
                f"directory. Received: out={out!r}")
        return manifest
    manifest = {**identity, "steps_done": 0, "wall_time_s": 0.0}
    _atomic.write_json(path, manifest)
    return manifest


def write_presets(result, runs_dir, metrics=None):
    """Writes each run's preset to `runs_dir/<run name>/preset` (the layout
    `keras_vae.study` reads), with its metadata and, if given, its metrics.

    Args:
        result: an `EnsembleResult`.
        runs_dir: the folder of the run folders (a study's `OUT/runs`).
        metrics: None, or `{run name: metrics dict}` (e.g. from
            `keras_vae.assessment.evaluate`).

    Returns:
        `{run name: preset directory}`.
    """
    from keras_vae import presets

    if not isinstance(result, EnsembleResult):
        raise TypeError("Argument `result` must be a keras_vae.ensemble.EnsembleResult. "
                        f"Received: result of type {type(result).__name__}")
    if metrics is not None and not isinstance(metrics, dict):
        raise TypeError("Argument `metrics` must be None or a dict {run name: metrics}. "
                        f"Received: metrics of type {type(metrics).__name__}")
    written = {}
    for run, model in zip(result.runs, result.ensemble.members):
        meta = dict(result.metadata[run.name])
        if metrics and metrics.get(run.name) is not None:
            meta["metrics"] = metrics[run.name]
        directory = os.path.join(os.fspath(runs_dir), run.name, "preset")
        os.makedirs(os.path.dirname(directory), exist_ok=True)
        model.preset_metadata = presets.save_preset(model, directory, meta, overwrite=True)
        written[run.name] = directory
    return written
