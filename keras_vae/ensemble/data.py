"""The runs of an ensemble and the batches each draws (`batch_indices`).

See `keras_vae.ensemble`.
"""

import dataclasses

import keras
import numpy as np

from keras_vae import _validation


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
    runs = _validation.check_instances("runs", runs, Member, "keras_vae.ensemble.Member",
                                       "run")
    for i, run in enumerate(runs):
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
