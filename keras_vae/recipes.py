"""Zoo recipes: a config with cited hyperparameters, and the registry of them.

A recipe file in `zoo/recipes/<name>.py` defines `RECIPE = Recipe(...)`; it
holds only what differs between recipes (the settings shared by one data set
are `FASHION_MNIST`, `DSPRITES`, ... here). This module lists and loads
recipes and builds what a recipe names: its model, its training pipeline and
its held-out data.

The jobs done with a recipe live in their own modules, and their public names
are importable from here too:

- `keras_vae.training`: `train` (checkpoints that resume with the schedule
  intact, a run manifest, the preset directory), `train_run` and
  `write_preset` (train, then write the preset once with its metrics).
- `keras_vae.assessment`: `evaluate` (the recipe's metrics with
  `keras_vae.evaluation`) and `write_figures`.
"""

import dataclasses
import importlib
import importlib.util
import os

import keras
import numpy as np

from keras_vae import _zoo
from keras_vae._atomic import write_json  # noqa: F401  (a public name of this module)


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
        train_split: the split trained on, e.g. `"train[:55000]"` to hold
            out the rest of `"train"` for validation.
        validation_split: None, or a split (disjoint from `train_split` and
            `test_split`) measured after every epoch: training stops when
            its `validation_metric` has not improved by more than
            `min_delta` nats for `patience` epochs in a row (`steps` is then
            a cap), and the preset holds the weights of the last improvement
            (`keras_vae.training.HeldOutStopping`).
        validation_metric: `"elbo"` (the held-out ELBO: the objective of a
            VAE, and of a beta-VAE once beta is 1) or `"loss"` (the held-out
            value of the model's own training loss, for models such as
            MMD-VAE or beta-TCVAE that do not maximize the ELBO, whose ELBO
            can worsen while their objective improves).
        patience, min_delta: the stopping criterion (see above).
        iwae_samples: k of the importance-weighted bound that `evaluate`
            reports (Burda et al. 2016 report k = 5000).
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
    train_split: str = "train"
    validation_split: str = None
    validation_metric: str = "elbo"
    patience: int = 4
    min_delta: float = 0.2
    iwae_samples: int = 100
    metrics: tuple = ("elbo", "iwae", "knn", "active_units")
    references: str = ""

    @property
    def steps_per_dataset_epoch(self):
        """Training steps in one pass over the training split."""
        from keras_vae import datasets

        return max(1, datasets.num_examples(self.dataset, self.train_split) // self.batch_size)


# Settings shared by the recipes of one data set (the literature's, cited in
# each recipe): a recipe spells out only its model.
# Fashion-MNIST recipes train on the first 55,000 training images until the
# ELBO of the last 5,000 stops improving (at most 60 epochs of 429 batches);
# the test split stays untouched for the reported numbers.
FASHION_MNIST = dict(dataset="fashion_mnist", batch_size=128, learning_rate=1e-3,
                     steps=25_740, train_split="train[:55000]",
                     validation_split="train[55000:]", patience=4, min_delta=0.2,
                     iwae_samples=1000)
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

    return datasets.load(recipe.dataset, recipe.train_split, batch_size=recipe.batch_size, seed=seed,
                         binarize=recipe.binarize, drop_remainder=True,
                         data_dir=data_dir).repeat()


def validation_data(recipe, data_dir=None):
    """The images of the recipe's `validation_split` (numpy), in order."""
    from keras_vae import datasets

    return datasets.load(recipe.dataset, recipe.validation_split, as_numpy=True, shuffle=False,
                         binarize="threshold" if recipe.binarize else None, data_dir=data_dir)


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


# Public names of the modules split off this one, importable from here as
# before (loaded on first use: those modules import this one).
_MOVED = {
    "train": "keras_vae.training",
    "train_run": "keras_vae.training",
    "write_preset": "keras_vae.training",
    "TrainedRun": "keras_vae.training",
    "ImageSummaries": "keras_vae.training",
    "evaluate": "keras_vae.assessment",
    "write_figures": "keras_vae.assessment",
}


def __getattr__(name):
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_MOVED))
