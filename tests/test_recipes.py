"""Zoo recipes: every recipe builds, trains a few steps, resumes and evaluates."""

import os

import numpy as np
import pytest

import keras_vae
from keras_vae import assessment
from keras_vae import datasets
from keras_vae import presets
from keras_vae import recipes
from keras_vae import training
from conftest import BACKEND, ROOT, variable_value

FASHION = os.path.isdir("/usr/share/datasets/fashion-mnist")
ALL = recipes.list_recipes()
TINY = os.path.join(ROOT, "tests", "data", "tiny_digits_recipe.py")
# Training is the same code for every recipe; one per dataset (and the tfds
# path under the tensorflow run) keeps the suite fast. Every recipe builds.
TRAINED = ["vae_fashion_mnist", "beta_tcvae_dsprites"] + (
    ["vae_mnist"] if BACKEND == "tensorflow" else [])


def test_recipes_are_listed_and_valid():
    assert len(ALL) >= 17 and "beta_tcvae_dsprites" in ALL and "factor_vae_dsprites" in ALL
    for name in ALL:
        recipe = recipes.load_recipe(name)
        assert recipe.name == name and recipe.references
        assert recipe.model in {"VAE", "BetaVAE", "MMDVAE", "BetaTCVAE", "DIPVAE",
                                "AnnealedVAE", "FactorVAE"}
    with pytest.raises(ValueError, match="Available recipes"):
        recipes.load_recipe("no_such_recipe")


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="same code on every backend; jax/torch train one recipe per dataset")
@pytest.mark.parametrize("name", sorted(set(ALL) - set(TRAINED) - {"vae_mnist"}))
def test_every_other_recipe_runs_a_few_steps(name, tmp_path):
    recipe = recipes.load_recipe(name)
    _skip_unavailable(recipe)
    model, history, _ = training.train(recipe, str(tmp_path), steps=2, verbose=0)
    assert int(variable_value(model.step_counter)) == 2 and np.isfinite(history["loss"]).all()


@pytest.mark.parametrize("name", ALL)
def test_every_recipe_builds_its_model_for_its_data(name):
    recipe = recipes.load_recipe(name)
    model = recipes.build_model(recipe)
    assert type(model).__name__ == recipe.model and model.optimizer is not None
    assert model.image_shape == tuple(recipe.model_kwargs["input_shape"])
    if recipe.dataset == "dsprites":
        batch = next(iter(recipes.training_data(recipe)))
        assert tuple(batch.shape) == (recipe.batch_size,) + model.image_shape


def _skip_unavailable(recipe):
    if recipe.dataset == "fashion_mnist" and not FASHION:
        pytest.skip("Fashion-MNIST files absent (apt-get install dataset-fashion-mnist)")


@pytest.mark.parametrize("name", TRAINED)
def test_recipe_trains_resumes_and_writes_a_preset(name, tmp_path):
    recipe = recipes.load_recipe(name)
    context = _mock_tfds() if recipe.dataset == "mnist" else _nullcontext()
    if recipe.dataset != "mnist":
        _skip_unavailable(recipe)
    with context:
        model, history, _ = training.train(recipe, str(tmp_path), steps=2, steps_per_epoch=1,
                                           verbose=0)
        assert int(variable_value(model.step_counter)) == 2
        assert np.isfinite(history["loss"]).all()
        assert os.path.isfile(tmp_path / "checkpoint.weights.h5")
        resumed, history, _ = training.train(recipe, str(tmp_path), steps=3,
                                             steps_per_epoch=1, verbose=0)
    assert int(variable_value(resumed.step_counter)) == 3 and len(history["loss"]) == 1
    preset = keras_vae.from_preset(str(tmp_path / "preset"))
    assert type(preset).__name__ == recipe.model
    assert preset.preset_metadata["steps"] == 3


def test_steps_not_a_multiple_of_the_epoch_length(tmp_path):
    recipe = recipes.load_recipe("beta_tcvae_dsprites")
    model, history, _ = training.train(recipe, str(tmp_path), steps=3, steps_per_epoch=2,
                                       verbose=0)
    assert int(variable_value(model.step_counter)) == 3 and len(history["loss"]) == 2


@pytest.mark.skipif(BACKEND != "tensorflow", reason="evaluation is backend-independent")
def test_evaluate_reports_the_recipe_metrics(tmp_path):
    recipe = recipes.load_recipe("beta_tcvae_dsprites")
    model = recipes.build_model(recipe)
    results = assessment.evaluate(model, recipe, num_examples=64, iwae_samples=4, quick=True)
    for key in ("test_elbo", "test_iwae_nll", "active_units", "mig", "factor_vae_score",
                "dci_disentanglement"):
        assert key in results
    assert results["test_iwae_nll"] <= -results["test_elbo"] + 1.0


def test_names_moved_to_training_and_assessment_are_importable_from_recipes():
    from keras_vae.recipes import ImageSummaries, TrainedRun, evaluate, train  # noqa: F401
    from keras_vae.recipes import train_run, write_figures, write_preset  # noqa: F401

    assert train is training.train and train_run is training.train_run
    assert write_preset is training.write_preset and TrainedRun is training.TrainedRun
    assert ImageSummaries is training.ImageSummaries
    assert evaluate is assessment.evaluate and write_figures is assessment.write_figures
    assert {"train", "evaluate", "load_recipe"} <= set(dir(recipes))
    with pytest.raises(AttributeError, match="no_such_name"):
        recipes.no_such_name  # noqa: B018


def test_steps_per_dataset_epoch_counts_the_training_split():
    recipe = recipes.load_recipe(TINY)
    x = datasets.load("digits", "train", as_numpy=True)
    assert recipe.steps_per_dataset_epoch == len(x) // recipe.batch_size == 1497 // 32


def test_train_run_writes_no_preset_and_write_preset_writes_it_with_metrics(tmp_path):
    recipe = recipes.load_recipe(TINY)
    run = training.train_run(recipe, str(tmp_path), steps=2, steps_per_epoch=1, verbose=0)
    assert not (tmp_path / "preset").exists()
    assert int(variable_value(run.model.step_counter)) == 2 and len(run.history["loss"]) == 2
    assert run.metadata["steps"] == 2 and run.metadata["recipe"] == "tiny_digits"
    assert run.preset_dir == str(tmp_path / "preset")
    metrics = assessment.evaluate(run.model, recipe, num_examples=64)
    written = training.write_preset(run, metrics)
    meta = presets.read_json(tmp_path / "preset" / presets.METADATA_FILE)
    assert meta == written == run.model.preset_metadata
    assert meta["metrics"] == pytest.approx(metrics) and meta["steps"] == 2
    assert "test_elbo" in (tmp_path / "preset" / "README.md").read_text()  # the model card
    x = datasets.load("digits", "test", as_numpy=True)[:16]
    loaded = keras_vae.from_preset(str(tmp_path / "preset"))
    np.testing.assert_allclose(loaded.encode(x)[0], run.model.encode(x)[0], rtol=1e-5,
                               atol=1e-6)
    # A rerun of a finished run trains nothing and gives the same model back.
    again = training.train_run(recipe, str(tmp_path), steps=2, steps_per_epoch=1, verbose=0)
    assert again.history == {} and again.metadata["steps"] == 2
    np.testing.assert_allclose(again.model.encode(x)[0], run.model.encode(x)[0], rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(TypeError, match="Received: run of type dict"):
        training.write_preset(dict(run.metadata))
    with pytest.raises(TypeError, match="Received: metrics of type list"):
        training.write_preset(run, [1.0])


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def _mock_tfds():
    import tensorflow_datasets as tfds

    return tfds.testing.mock_data(num_examples=256)
