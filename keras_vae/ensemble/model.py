"""SeedEnsemble: K keras-vae models trained as one `keras.Model`.

See `keras_vae.ensemble`.
"""

import json

import keras
import numpy as np
from keras import ops

from keras_vae import _validation
from keras_vae.models.base import BaseVAE
from keras_vae.models.factor_vae import FactorVAE
from keras_vae.models.factor_vae import FactorVAEOptimizers
from keras_vae.models.factor_vae import default_discriminator_optimizer


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
    members = _validation.check_instances("members", members, BaseVAE, "keras-vae models",
                                          "model")
    for i, member in enumerate(members):
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
        # of the members' convolutions far slower than one by one (measured
        # in bench/RESULTS.md, "Several runs in one process").
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
