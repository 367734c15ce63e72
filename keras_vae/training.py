"""Training a recipe into a run directory, resumable, ending in a preset.

`train(recipe, out)` trains (or resumes) a `keras_vae.recipes.Recipe` with
atomic checkpoints and a run manifest (see `keras_vae._runs`) and writes the
preset directory `out/preset`. `train_run` and `write_preset` are its two
halves, for a caller that measures the model before the preset is written,
so that the preset is written once, with its metrics (`keras-vae train`):

    run = train_run(recipe, out)
    write_preset(run, metrics=keras_vae.assessment.evaluate(run.model, recipe))
"""

import contextlib
import dataclasses
import os
import time

import keras

from keras_vae import _validation
from keras_vae import recipes

PRESET_DIR = "preset"  # the run's preset directory, inside `out`


@dataclasses.dataclass
class TrainedRun:
    """A trained (or resumed and finished) run whose preset is not written yet.

    Attributes:
        model: the trained model.
        history: `fit`'s history of this invocation, `{metric: [per epoch]}`
            (empty when the run had already reached its steps).
        seconds: training seconds of this invocation.
        out: the run directory.
        metadata: the preset metadata of the run (recipe, data set, seed,
            steps, wall time over every invocation, learning rates, ...);
            `write_preset` adds the metrics.
    """

    model: keras.Model
    history: dict
    seconds: float
    out: str
    metadata: dict

    @property
    def preset_dir(self):
        """Where `write_preset` writes the preset: `out/preset`."""
        return os.path.join(self.out, PRESET_DIR)


def train(recipe, out, steps=None, steps_per_epoch=None, seed=0, verbose=1,
          tensorboard=False, data_dir=None, distribute=None, force=False):
    """Trains a recipe into `out/`, resuming from `out/checkpoint.weights.h5`.

    Writes the checkpoint after every `steps_per_epoch` steps (default
    `min(steps, 500)`; weights, optimizer state and the model's
    `step_counter`, so an interrupted run continues its schedule) atomically,
    keeping the previous one (see `keras_vae._runs`); a manifest `out/run.json`
    of what the run is; optional TensorBoard logs in `out/logs`; and at the
    end a preset directory `out/preset` (without metrics: `train_run` and
    `write_preset` write one with them).

    A recipe with a `validation_split` measures the held-out ELBO and loss
    after every epoch (default: one pass over `train_split`), stops when its
    `validation_metric` has not improved by more than `recipe.min_delta`
    nats for `recipe.patience` epochs (`steps` is then a cap), and ends with
    the weights of its last improvement (`HeldOutStopping`); the curve is in
    `run.json` and the metadata.

    A rerun into the same `out` resumes from the newest complete checkpoint
    (a damaged one falls back to the previous one, with a warning). It must
    be the same run: another recipe, model, data set, batch size or seed is
    refused unless `force=True`, which discards the old state. The recipe's
    learning rate is applied from the step resumed at (and recorded in
    `run.json`), and the wall time adds up over invocations.

    Args:
        distribute: None to train on one device; True for data-parallel
            training on all local devices (`keras_vae.distributed()`); or a
            scope from `keras_vae.distributed(...)`. The model is built,
            compiled, resumed and trained inside it, with the recipe's
            `batch_size` as the global batch (it must be a multiple of the
            number of replicas), so a step is the same step as on one device.
        force: discard the checkpoints and manifest of another run in `out`.

    Returns:
        `(model, history_dict, seconds)`: seconds of this invocation.
    """
    run = train_run(recipe, out, steps=steps, steps_per_epoch=steps_per_epoch, seed=seed,
                    verbose=verbose, tensorboard=tensorboard, data_dir=data_dir,
                    distribute=distribute, force=force)
    write_preset(run)
    return run.model, run.history, run.seconds


def train_run(recipe, out, steps=None, steps_per_epoch=None, seed=0, verbose=1,
              tensorboard=False, data_dir=None, distribute=None, force=False):
    """Trains or resumes a run as `train` does, without writing its preset.

    Takes `train`'s arguments. A run that had already reached `steps` is
    restored and returned without training, so that its preset can still be
    written.

    Returns:
        A `TrainedRun`; pass it to `write_preset`.
    """
    from keras_vae import _runs

    steps = recipe.steps if steps is None else _validation.check_int("steps", steps, minimum=1)
    if steps_per_epoch is None:
        steps_per_epoch = (recipe.steps_per_dataset_epoch if recipe.validation_split
                           else min(steps, 500))
    steps_per_epoch = _validation.check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    seed = _validation.check_seed("seed", seed)
    _validation.check_float("learning_rate", recipe.learning_rate, minimum=0.0,
                            exclusive_minimum=True)
    out = os.fspath(out)
    scope = _distribution_scope(distribute)
    metadata = {}
    if scope is not None:
        scope.check_batch_size(recipe.batch_size)
        metadata = {"replicas": scope.num_replicas, "distribution": scope.describe()}
    manifest = _runs.start(out, recipe, seed, force=force)  # before any training
    keras.utils.set_random_seed(seed)
    with scope if scope is not None else contextlib.nullcontext():
        return _train(recipe, out, steps, steps_per_epoch, seed, verbose, tensorboard,
                      data_dir, metadata, manifest)


def write_preset(run, metrics=None):
    """Writes the run's preset directory `run.preset_dir` once, atomically.

    Args:
        run: a `TrainedRun` from `train_run`.
        metrics: None, or the run's measured metrics (a JSON-serializable
            dict, e.g. from `keras_vae.assessment.evaluate`), stored under
            `"metrics"` in the metadata and shown on the model card.

    Returns:
        The metadata written (also set as `run.model.preset_metadata`).
    """
    from keras_vae import presets

    if not isinstance(run, TrainedRun):
        raise TypeError("Argument `run` must be a keras_vae.training.TrainedRun from "
                        f"train_run(). Received: run of type {type(run).__name__}")
    _validation.check_optional_dict("metrics", metrics)
    metadata = dict(run.metadata)
    if metrics is not None:
        metadata["metrics"] = metrics
    written = presets.save_preset(run.model, run.preset_dir, metadata, overwrite=True)
    run.model.preset_metadata = written
    return written


def _epoch_chunks(done, steps, steps_per_epoch):
    """`(initial_epoch, epochs, steps_per_epoch)` of the `fit` calls that take
    the step counter from `done` to `steps` with a checkpoint at every
    multiple of `steps_per_epoch` (and at `steps`)."""
    chunks = []
    epoch = done // steps_per_epoch
    head = min(-done % steps_per_epoch, steps - done)
    if head > 0:  # a run resumed off the epoch grid (a changed steps_per_epoch)
        chunks.append((epoch, epoch + 1, head))
        done, epoch = done + head, epoch + 1
    full = max(steps - done, 0) // steps_per_epoch
    if full:
        chunks.append((epoch, epoch + full, steps_per_epoch))
        done, epoch = done + full * steps_per_epoch, epoch + full
    if steps > done:
        chunks.append((epoch, epoch + 1, steps - done))
    return chunks


def _distribution_scope(distribute):
    from keras_vae.distribute import DataParallelScope
    from keras_vae.distribute import distributed

    if distribute is None or distribute is False:
        return None
    if distribute is True:
        return distributed()
    if isinstance(distribute, DataParallelScope):
        return distribute
    raise TypeError(
        "Argument `distribute` must be None, True or a scope from "
        f"keras_vae.distributed(). Received: distribute={distribute!r}"
    )


def _train(recipe, out, steps, steps_per_epoch, seed, verbose, tensorboard, data_dir,
           metadata, manifest):
    from keras_vae import _runs

    model = recipes.build_model(recipe, seed)
    done = _runs.restore(model, out)
    if done and verbose:
        print(f"resuming {recipe.name} from {out} at step {done}")
    _runs.apply_learning_rate(model, manifest, recipe.learning_rate, done, verbose)
    checkpoint = _runs.AtomicCheckpoint(out, manifest)
    checkpoint.set_model(model)
    checkpoint.update_manifest()
    callbacks = [checkpoint]
    stopping = None
    if recipe.validation_split:
        stopping = HeldOutStopping(recipes.validation_data(recipe, data_dir), out, manifest,
                                   recipe.validation_split, recipe.patience, recipe.min_delta,
                                   metric=recipe.validation_metric,
                                   batch_size=recipe.batch_size, seed=seed, verbose=verbose)
        callbacks.insert(0, stopping)  # before the checkpoint, which writes the manifest
    if tensorboard:
        logs = os.path.join(out, "logs")
        callbacks += [keras.callbacks.TensorBoard(logs),
                      ImageSummaries(recipes.test_data(recipe, 8, seed, data_dir), logs)]
    start = time.time()
    history = {}
    data = recipes.training_data(recipe, seed, data_dir)
    for first, epochs, length in _epoch_chunks(done, steps, steps_per_epoch):
        if stopping is not None and stopping.converged:
            break
        fit = model.fit(data, epochs=epochs, initial_epoch=first, steps_per_epoch=length,
                        callbacks=callbacks, shuffle=False, verbose=verbose).history
        for key, values in fit.items():
            history.setdefault(key, []).extend(values)
    seconds = time.time() - start
    checkpoint.update_manifest()
    metadata = dict(metadata)
    if stopping is not None:
        metadata["validation"] = stopping.restore_best(model)
    return TrainedRun(model, history, seconds, out, {
        "recipe": recipe.name, "dataset": recipe.dataset, "seed": seed,
        "steps": int(keras.ops.convert_to_numpy(model.step_counter)),
        "wall_time_s": round(checkpoint.wall_time(), 1), "references": recipe.references,
        "learning_rate": recipe.learning_rate, "batch_size": recipe.batch_size,
        "learning_rates": manifest["learning_rates"],
        **({"train_split": recipe.train_split} if recipe.train_split != "train" else {}),
        **metadata,
    })


class HeldOutStopping(keras.callbacks.Callback):
    """Early stopping on held-out data, resumable, keeping the best weights.

    After every epoch it measures its criterion on `images`: the mean ELBO
    (`metric="elbo"`, higher is better; `keras_vae.evaluation.evaluate_elbo`,
    one seeded draw of z per image, the same draws each time) or the model's
    own loss (`metric="loss"`, lower is better; `model.evaluate`), and
    records `[step, training loss, held-out ELBO, held-out loss]` in the run
    manifest (the value not measured is None). A value better than the
    reference by more than `min_delta` nats is an improvement, becomes the
    reference, and its weights are written atomically to
    `out/best.weights.h5`. After `patience` epochs in a row without one,
    training stops: the criterion of Keras' `EarlyStopping` with
    `restore_best_weights`, on a held-out bound as in Burda et al. 2016. The
    state lives in the manifest, so a resumed run continues the count, and
    a converged run trains no further.
    """

    METRICS = ("elbo", "loss")

    def __init__(self, images, out, manifest, split, patience, min_delta, metric="elbo",
                 batch_size=128, seed=0, verbose=1):
        super().__init__()
        self.images = images
        self.out = out
        self.batch_size = batch_size
        self.seed = seed
        self.verbose = verbose
        self.state = manifest.setdefault("validation", {
            "split": split, "examples": int(len(images)),
            "metric": _validation.check_choice("validation_metric", metric, self.METRICS),
            "patience": _validation.check_int("patience", patience, minimum=1),
            "min_delta": _validation.check_float("min_delta", min_delta, minimum=0.0),
            "best": None, "best_step": None, "epochs_without_improvement": 0,
            "converged": False, "curve": [],
        })

    @property
    def converged(self):
        return bool(self.state["converged"])

    def on_epoch_end(self, epoch, logs=None):
        from keras_vae import _runs
        from keras_vae.evaluation import evaluate_elbo

        state = self.state
        step = int(keras.ops.convert_to_numpy(self.model.step_counter))
        elbo = loss = None  # only the criterion is measured: it costs a pass over `images`
        if state["metric"] == "elbo":
            elbo = evaluate_elbo(self.model, self.images, seed=self.seed)["elbo"]
        else:
            loss = float(self.model.evaluate(self.images, batch_size=self.batch_size,
                                             verbose=0, return_dict=True)["loss"])
        train_loss = (logs or {}).get("loss")
        state["curve"].append([step] + [None if v is None else round(float(v), 4)
                                        for v in (train_loss, elbo, loss)])
        if logs is not None:
            logs[f"val_{state['metric']}"] = elbo if loss is None else loss
        score = elbo if state["metric"] == "elbo" else -loss  # higher is better
        if state["best"] is None or score > _score(state) + state["min_delta"]:
            _runs.save_weights(self.model, os.path.join(self.out, _runs.BEST))
            state.update(best=round(score if state["metric"] == "elbo" else loss, 4),
                         best_step=step, epochs_without_improvement=0)
        else:
            state["epochs_without_improvement"] += 1
        if state["epochs_without_improvement"] >= state["patience"]:
            state["converged"] = True
            self.model.stop_training = True
        if self.verbose:
            print(f"step {step}: held-out {state['metric']} {elbo if loss is None else loss:.3f}; "
                  f"best {state['best']:.3f} at step {state['best_step']}"
                  f"{', converged' if state['converged'] else ''}", flush=True)

    def restore_best(self, model):
        """Loads the best epoch's weights into `model` (if any epoch was
        measured) and returns the record of the curve for the metadata."""
        from keras_vae import _runs

        path = os.path.join(self.out, _runs.BEST)
        if self.state["best_step"] is not None and os.path.exists(path):
            model.load_weights(path)
        return {**self.state, "stopped_step": self.state["curve"][-1][0]
                if self.state["curve"] else None}


def _score(state):
    """The reference value of the criterion, higher is better."""
    return state["best"] if state["metric"] == "elbo" else -state["best"]


class ImageSummaries(keras.callbacks.Callback):
    """Writes inputs, reconstructions and prior samples to TensorBoard each epoch."""

    def __init__(self, images, logdir):
        super().__init__()
        self.images = images
        self.logdir = os.path.join(logdir, "images")

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        model = self.model
        writer = tf.summary.create_file_writer(self.logdir)
        with writer.as_default():
            tf.summary.image("inputs", self.images, step=epoch, max_outputs=8)
            tf.summary.image("reconstructions", model.reconstruct(self.images),
                             step=epoch, max_outputs=8)
            tf.summary.image("samples", model.sample(8, seed=0), step=epoch, max_outputs=8)
        writer.close()
