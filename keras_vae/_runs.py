"""Run directories of `keras_vae.training.train`: atomic checkpoints that fall
back to the previous good one, and a manifest (`run.json`) saying what the
run is, so that a rerun resumes only its own state.

A run directory holds:

- `checkpoint.weights.h5`: the latest checkpoint (weights, optimizer state and
  the model's `step_counter`), replaced atomically after every epoch: it is
  written to a temporary file in the same folder, fsynced, and renamed into
  place, and the checkpoint it replaces is kept as
  `checkpoint.prev.weights.h5`. A kill at any moment leaves at least one
  complete checkpoint.
- `best.weights.h5`: for a recipe with a `validation_split`, the weights of
  the best held-out ELBO so far, written atomically
  (`keras_vae.training.HeldOutStopping`).
- `run.json`: the recipe, model class and constructor arguments, data set,
  batch size and seed (what the checkpoint means), the learning rates applied
  and from which step, the steps done and the wall time summed over every
  invocation, and the held-out curve of a validating run. Written
  atomically at the start and after every checkpoint.
"""

import json
import os
import sys
import time

import keras

from keras_vae import _atomic

CHECKPOINT = "checkpoint.weights.h5"
PREVIOUS = "checkpoint.prev.weights.h5"
MANIFEST = "run.json"
BEST = "best.weights.h5"  # the best held-out checkpoint of a run that validates
# What a checkpoint means: a rerun that differs in any of these starts over
# only with `force` (CLI: --force) or in a new directory.
IDENTITY = ("recipe", "model", "model_kwargs", "dataset", "train_split", "binarize",
            "batch_size", "seed")
# The value of an identity key in a manifest written before the key existed.
IDENTITY_DEFAULTS = {"train_split": "train"}


class StaleRunError(ValueError):
    """A run directory holds the state of another run."""


def warn(message):
    """One line on stderr."""
    print(f"keras-vae: warning: {message}", file=sys.stderr, flush=True)


def _json_ready(value):
    return json.loads(json.dumps(value))


def identity(recipe, seed):
    return _json_ready({
        "recipe": recipe.name, "model": recipe.model, "model_kwargs": recipe.model_kwargs,
        "dataset": recipe.dataset, "train_split": recipe.train_split,
        "binarize": recipe.binarize,
        "batch_size": recipe.batch_size, "seed": seed,
    })


def identity_differences(manifest, recipe, seed):
    """The identity keys in which `manifest` records another run than `recipe` at `seed`."""
    wanted = identity(recipe, seed)
    return [k for k in IDENTITY if manifest.get(k, IDENTITY_DEFAULTS.get(k)) != wanted[k]]


def read_manifest(out):
    from keras_vae.presets import read_json

    path = os.path.join(out, MANIFEST)
    return read_json(path) if os.path.exists(path) else None


def write_manifest(out, manifest):
    _atomic.write_json(os.path.join(out, MANIFEST), manifest)


def check_writable(out):
    """Creates `out` and checks a file can be written there, before any
    training; a one-line `PermissionError` / `NotADirectoryError` otherwise."""
    try:
        os.makedirs(out, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(
            f"Argument `out` must be a directory. Received: out={out!r}, an existing file"
        ) from None
    except OSError as e:
        raise type(e)(f"Cannot create the run directory {out!r}: {e.strerror}. "
                      f"Received: out={out!r}") from None
    probe = _atomic.temp_sibling(os.path.join(out, MANIFEST), "tmp")
    try:
        with open(probe, "w") as f:
            f.write("")
        os.remove(probe)
    except OSError as e:
        raise PermissionError(f"Cannot write into the run directory {out!r}: {e.strerror}. "
                              f"Received: out={out!r}") from None


def start(out, recipe, seed, force=False):
    """Checks `out` against the run asked for and returns its manifest.

    Refuses (`StaleRunError`, one line) a directory whose `run.json` records a
    different recipe, model, data or seed; with `force`, its checkpoints and
    manifest are removed and the run starts over.
    """
    check_writable(out)
    _atomic.remove_stale_in(out)  # temporaries of a killed run
    wanted = identity(recipe, seed)
    manifest = read_manifest(out) if not force else None
    has_checkpoint = any(os.path.exists(os.path.join(out, f)) for f in (CHECKPOINT, PREVIOUS))
    if force:
        for name in (CHECKPOINT, PREVIOUS, MANIFEST, BEST):
            if os.path.exists(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
        has_checkpoint = False
    if manifest is not None:
        recorded = {k: manifest.get(k, IDENTITY_DEFAULTS.get(k)) for k in IDENTITY}
        differ = identity_differences(manifest, recipe, seed)
        if differ:
            shown = ", ".join(f"{k}={recorded[k]!r} there, {wanted[k]!r} now" for k in differ)
            raise StaleRunError(
                f"The run directory {out!r} holds another run ({shown}); pass --force "
                "(force=True) to discard it and start over, or choose a new --out. "
                f"Received: out={out!r}"
            )
    elif has_checkpoint:
        warn(f"{out!r} has a checkpoint but no {MANIFEST} (written by an older keras-vae); "
             "resuming it unverified")
    if manifest is None:
        manifest = {**wanted, "learning_rates": [], "wall_time_s": 0.0, "steps_done": 0}
    return manifest


def restore(model, out, verbose=True):
    """Loads the newest loadable checkpoint of `out` into `model`.

    Tries `checkpoint.weights.h5`, then `checkpoint.prev.weights.h5`; a
    damaged one is skipped with a one-line warning. Returns the step restored
    (0 if there is no checkpoint). Raises a one-line `ValueError` if
    checkpoints exist but none loads.
    """
    found = [os.path.join(out, f) for f in (CHECKPOINT, PREVIOUS)
             if os.path.exists(os.path.join(out, f))]
    failures = []
    for path in found:
        try:
            model.load_weights(path)
        except Exception as e:  # h5py OSError (truncated), Keras ValueError (mismatch)
            reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
            failures.append(f"{os.path.basename(path)}: {reason}")
            if path != found[-1]:
                warn(f"checkpoint {path!r} is damaged ({type(e).__name__}: {reason}); "
                     f"falling back to {os.path.basename(found[-1])!r}")
            continue
        if failures:
            warn(f"resumed from the previous checkpoint {path!r}")
        return int(keras.ops.convert_to_numpy(model.step_counter))
    if failures:
        raise StaleRunError(
            f"No checkpoint in {out!r} can be loaded into this run's {type(model).__name__} "
            f"(damaged, or written by another model); pass --force (force=True) to start "
            f"over or choose a new --out. Received: {'; '.join(failures)}"
        )
    return 0


def save_checkpoint(model, out):
    """Writes the checkpoint atomically, keeping the one it replaces as
    `checkpoint.prev.weights.h5`."""
    return save_weights(model, os.path.join(out, CHECKPOINT), previous=os.path.join(out, PREVIOUS))


def save_weights(model, path, previous=None):
    """Writes `model`'s weights to `path` atomically (a temporary file in the
    same folder, fsynced, renamed into place); the file it replaces is moved
    to `previous` if given."""
    out = os.path.dirname(path) or "."
    temp = _atomic.temp_sibling(path, "tmp", ".weights.h5")
    try:
        model.save_weights(temp)
        _atomic.fsync_file(temp)
        if previous is not None and os.path.exists(path):
            os.replace(path, previous)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise
    _atomic.fsync_dir(out)
    return path


class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the checkpoint of a run after every epoch (`save_checkpoint`)
    and updates its manifest with the steps done and the wall time."""

    def __init__(self, out, manifest):
        super().__init__()
        self.out = out
        self.manifest = manifest
        self.started = time.time()
        self.wall_before = float(manifest.get("wall_time_s", 0.0))

    def wall_time(self):
        return self.wall_before + time.time() - self.started

    def on_epoch_end(self, epoch, logs=None):
        save_checkpoint(self.model, self.out)
        self.update_manifest()

    def update_manifest(self):
        self.manifest["steps_done"] = int(keras.ops.convert_to_numpy(self.model.step_counter))
        self.manifest["wall_time_s"] = round(self.wall_time(), 2)
        write_manifest(self.out, self.manifest)


def apply_learning_rate(model, manifest, learning_rate, step, verbose=True):
    """Sets the optimizer's learning rate to the recipe's after a restore
    (the checkpoint holds the old one) and records it with its first step."""
    history = manifest.setdefault("learning_rates", [])
    previous = history[-1][1] if history else None
    model.optimizer.learning_rate = learning_rate
    if previous is None or previous != learning_rate:
        if previous is not None and verbose:
            print(f"learning rate {previous:g} -> {learning_rate:g} from step {step}")
        history.append([step, learning_rate])
    manifest["learning_rate"] = learning_rate
