"""Zoo recipes: a config with cited hyperparameters, trained and evaluated here.

A recipe file in `zoo/recipes/<name>.py` defines `RECIPE = Recipe(...)`; it
holds only what differs between recipes. This module builds the model and the
data, trains with checkpoints that resume with the schedule intact, writes a
preset directory, and evaluates with `keras_vae.evaluation`.
"""

import contextlib
import dataclasses
import importlib.util
import os
import time

import keras
import numpy as np

from keras_vae import _validation
from keras_vae import _zoo


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One training recipe.

    Attributes:
        name: recipe (and preset) name.
        description: one line.
        model: class name in `keras_vae` (`"VAE"`, `"BetaTCVAE"`, ...).
        model_kwargs: constructor arguments, including `input_shape` and
            `latent_dim`.
        dataset: name for `keras_vae.datasets.load`.
        batch_size, learning_rate: Adam training settings.
        steps: training steps of the shipped preset.
        binarize: binarization mode passed to `datasets.load`.
        test_split: held-out split, or None (dSprites: a random sample).
        metrics: what `evaluate` reports: any of "elbo", "iwae", "knn",
            "mig", "factor_vae", "dci", "sap", "active_units".
        references: where the hyperparameters come from.
    """

    name: str
    description: str
    model: str
    model_kwargs: dict
    dataset: str
    batch_size: int
    learning_rate: float
    steps: int
    binarize: str = None
    test_split: str = "test"
    metrics: tuple = ("elbo", "iwae", "knn", "active_units")
    references: str = ""

    @property
    def steps_per_dataset_epoch(self):
        """Training steps in one pass over the training split."""
        return max(1, TRAIN_SIZES.get(self.dataset, 60_000) // self.batch_size)


TRAIN_SIZES = {"fashion_mnist": 60_000, "mnist": 60_000, "dsprites": 737_280, "digits": 1_497}


# Settings shared by the recipes of one data set (the literature's, cited in
# each recipe): a recipe spells out only its model.
FASHION_MNIST = dict(dataset="fashion_mnist", batch_size=128, learning_rate=1e-3,
                     steps=4_680)  # 10 epochs of 468 batches
FASHION_MNIST_NET = dict(input_shape=(28, 28, 1), latent_dim=16, architecture="conv")
DSPRITES = dict(dataset="dsprites", batch_size=64, learning_rate=1e-4, steps=300_000,
                test_split=None,
                metrics=("elbo", "iwae", "active_units", "mig", "factor_vae", "dci", "sap"))
DSPRITES_NET = dict(input_shape=(64, 64, 1), latent_dim=10, architecture="disentanglement")


def recipes_dir():
    """The folder of the shipped recipes (`zoo/recipes`, installed with the package)."""
    return os.environ.get("KERAS_VAE_RECIPES", os.path.join(_zoo.zoo_dir(), "recipes"))


def list_recipes():
    """Names of the shipped recipes."""
    base = recipes_dir()
    if not os.path.isdir(base):
        return []
    return sorted(f[:-3] for f in os.listdir(base)
                  if f.endswith(".py") and not f.startswith("_"))


def load_recipe(name_or_path):
    """Returns the `Recipe` of a shipped recipe name or of a recipe file path."""
    path = os.fspath(name_or_path)
    if not path.endswith(".py"):
        path = os.path.join(recipes_dir(), f"{path}.py")
    if not os.path.isfile(path):
        raise ValueError(
            f"Unknown recipe {name_or_path!r}. Available recipes: {list_recipes()}; "
            f"or pass the path of a recipe file. Received: recipe={name_or_path!r}"
        )
    spec = importlib.util.spec_from_file_location(f"keras_vae_recipe_{os.path.basename(path)[:-3]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recipe = getattr(module, "RECIPE", None)
    if not isinstance(recipe, Recipe):
        raise ValueError(f"Recipe file {path!r} must define RECIPE = Recipe(...). "
                         f"Received: RECIPE={recipe!r}")
    return recipe


def build_model(recipe, seed=0):
    """Instantiates and compiles the recipe's model."""
    import keras_vae

    model = getattr(keras_vae, recipe.model)(**recipe.model_kwargs, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate))
    return model


def training_data(recipe, seed=0, data_dir=None):
    """The recipe's training pipeline, repeated (steps, not epochs, count)."""
    from keras_vae import datasets

    return datasets.load(recipe.dataset, "train", batch_size=recipe.batch_size, seed=seed,
                         binarize=recipe.binarize, drop_remainder=True,
                         data_dir=data_dir).repeat()


def test_data(recipe, num_examples, seed=0, data_dir=None, with_labels=False):
    """Held-out images (numpy), the test split or a seeded dSprites sample."""
    from keras_vae import datasets

    if recipe.dataset == "dsprites":
        data = datasets.open_dsprites(data_dir)
        index = np.random.default_rng(seed + 1).choice(len(data), num_examples, replace=False)
        images = data.images(index)
        return (images, data.index_to_classes(index)) if with_labels else images
    out = datasets.load(recipe.dataset, recipe.test_split, as_numpy=True, shuffle=False,
                        binarize="threshold" if recipe.binarize else None,
                        with_labels=with_labels, data_dir=data_dir)
    if with_labels:
        return out[0][:num_examples], out[1][:num_examples]
    return out[:num_examples]


def train(recipe, out, steps=None, steps_per_epoch=None, seed=0, verbose=1,
          tensorboard=False, data_dir=None, distribute=None, force=False):
    """Trains a recipe into `out/`, resuming from `out/checkpoint.weights.h5`.

    Writes the checkpoint after every `steps_per_epoch` steps (default
    `min(steps, 500)`; weights, optimizer state and the model's
    `step_counter`, so an interrupted run continues its schedule) atomically,
    keeping the previous one (see `keras_vae._runs`); a manifest `out/run.json`
    of what the run is; optional TensorBoard logs in `out/logs`; and at the
    end a preset directory `out/preset`.

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
    from keras_vae import _runs

    steps = recipe.steps if steps is None else _validation.check_int("steps", steps, minimum=1)
    if steps_per_epoch is None:
        steps_per_epoch = min(steps, 500)
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
        model, history, seconds = _train(recipe, out, steps, steps_per_epoch, seed, verbose,
                                         tensorboard, data_dir, metadata, manifest)
    return model, history, seconds


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
    from keras_vae import presets

    model = build_model(recipe, seed)
    done = _runs.restore(model, out)
    if done and verbose:
        print(f"resuming {recipe.name} from {out} at step {done}")
    _runs.apply_learning_rate(model, manifest, recipe.learning_rate, done, verbose)
    checkpoint = _runs.AtomicCheckpoint(out, manifest)
    checkpoint.set_model(model)
    checkpoint.update_manifest()
    callbacks = [checkpoint]
    if tensorboard:
        logs = os.path.join(out, "logs")
        callbacks += [keras.callbacks.TensorBoard(logs),
                      ImageSummaries(test_data(recipe, 8, seed, data_dir), logs)]
    start = time.time()
    history = {}
    data = training_data(recipe, seed, data_dir)
    for first, epochs, length in _epoch_chunks(done, steps, steps_per_epoch):
        fit = model.fit(data, epochs=epochs, initial_epoch=first, steps_per_epoch=length,
                        callbacks=callbacks, shuffle=False, verbose=verbose).history
        for key, values in fit.items():
            history.setdefault(key, []).extend(values)
    seconds = time.time() - start
    checkpoint.update_manifest()
    presets.save_preset(model, os.path.join(out, "preset"), {
        "recipe": recipe.name, "dataset": recipe.dataset, "seed": seed,
        "steps": int(keras.ops.convert_to_numpy(model.step_counter)),
        "wall_time_s": round(checkpoint.wall_time(), 1), "references": recipe.references,
        "learning_rate": recipe.learning_rate, "batch_size": recipe.batch_size,
        "learning_rates": manifest["learning_rates"],
        **metadata,
    }, overwrite=True)
    return model, history, seconds


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


def evaluate(model, recipe, num_examples=2000, iwae_samples=100, seed=0, data_dir=None,
             quick=False):
    """Measures the recipe's metrics on held-out data.

    Args:
        num_examples: held-out images used (ELBO, IWAE, k-NN test set).
        iwae_samples: k of the importance-weighted bound.
        quick: smaller samples for the disentanglement scores (smoke runs).

    Returns:
        Dict of floats.
    """
    from keras_vae import evaluation

    results = {}
    x_test = test_data(recipe, num_examples, seed, data_dir)
    if "elbo" in recipe.metrics:
        results.update({f"test_{k}": v for k, v in
                        evaluation.evaluate_elbo(model, x_test, seed=seed).items()})
    if "iwae" in recipe.metrics:
        results["test_iwae_nll"] = -evaluation.iwae_bound(
            model, x_test[:max(1, num_examples // 4)], num_samples=iwae_samples, seed=seed)
    if "active_units" in recipe.metrics:
        results["active_units"] = int(evaluation.active_units(model, x_test))
    if "knn" in recipe.metrics:
        results.update(_knn(model, recipe, num_examples, seed, data_dir))
    disentanglement = [m for m in ("mig", "factor_vae", "dci", "sap") if m in recipe.metrics]
    if disentanglement:
        results.update(_disentanglement(model, disentanglement, seed, quick, data_dir))
    return results


def _knn(model, recipe, num_examples, seed, data_dir):
    from keras_vae import datasets
    from keras_vae.evaluation import knn_accuracy

    x_train, y_train = datasets.load(recipe.dataset, "train", as_numpy=True, shuffle=False,
                                     with_labels=True, data_dir=data_dir)
    x_train, y_train = x_train[:10_000], y_train[:10_000]
    x_test, y_test = test_data(recipe, num_examples, seed, data_dir, with_labels=True)
    z_train, z_test = model.encode(x_train)[0], model.encode(x_test)[0]
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    return {
        "knn_latent": knn_accuracy(z_train, y_train, z_test, y_test, k=5),
        "knn_pixels": knn_accuracy(flat(x_train), y_train, flat(x_test), y_test, k=5),
    }


def _disentanglement(model, metrics, seed, quick, data_dir=None):
    from keras_vae import datasets
    from keras_vae import evaluation

    data = datasets.open_dsprites(data_dir)
    represent = lambda obs: model.encode(obs, batch_size=512)[0]  # noqa: E731
    n = 2000 if quick else 10_000
    results, protocols = {}, {}
    if "mig" in metrics:
        mig = evaluation.compute_mig(data, represent, seed, num_train=n, batch_size=512)
        results["mig"], protocols["mig"] = mig["mig"], mig["protocol"]
    if "factor_vae" in metrics:
        fvae = evaluation.compute_factor_vae_score(
            data, represent, seed, num_train=n // 10, num_eval=n // 20,
            num_variance_estimate=n)
        results["factor_vae_score"] = fvae["eval_accuracy"]
        protocols["factor_vae_score"] = fvae["protocol"]
    if "dci" in metrics:
        dci = evaluation.compute_dci(data, represent, seed, num_train=n, num_test=n // 2,
                                     batch_size=512)
        results.update({"dci_disentanglement": dci["disentanglement"],
                        "dci_completeness": dci["completeness"],
                        "dci_informativeness": dci["informativeness_test"]})
        protocols["dci"] = dci["protocol"]
    if "sap" in metrics:
        sap = evaluation.compute_sap(data, represent, seed, num_train=n, num_test=n // 2,
                                     batch_size=512)
        results["sap"], protocols["sap"] = sap["sap"], sap["protocol"]
    # How each number was obtained (protocol, variant, sample sizes, seed).
    results["disentanglement_protocols"] = protocols
    return results


def write_json(path, data):
    """Writes `data` as JSON to `path` atomically."""
    from keras_vae import _atomic

    _atomic.write_json(path, data)


def write_figures(model, recipe, out, seed=0, data_dir=None):
    """Writes the recipe's figures to `out/`; returns their paths."""
    from keras_vae import plots

    os.makedirs(out, exist_ok=True)
    x, labels = test_data(recipe, 2000, seed, data_dir, with_labels=True)
    if labels.ndim > 1:  # dSprites: colour the scatter by shape
        labels = labels[:, 0]
    path = lambda name: os.path.join(out, name)  # noqa: E731
    plots.reconstruction_grid(model, x, path("reconstructions.png"))
    plots.sample_grid(model, path("samples.png"), seed=seed)
    plots.latent_traversal(model, x[:500], path("traversal.png"),
                           gif_path=path("traversal.gif"))
    plots.latent_scatter(model, x, labels, path("latent_scatter.png"))
    plots.interpolation(model, x[0], x[1], path("interpolation.png"))
    return sorted(path(f) for f in os.listdir(out) if f.endswith((".png", ".gif")))
