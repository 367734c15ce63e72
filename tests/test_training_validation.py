"""Recipes with a validation split: held-out ELBO early stopping that resumes
and ends with the best epoch's weights."""

import dataclasses
import json

import numpy as np
import pytest

from keras_vae import datasets
from keras_vae import evaluation
from keras_vae import recipes
from keras_vae import training
from conftest import ROOT, variable_value

TINY_PATH = f"{ROOT}/tests/data/tiny_digits_recipe.py"
TINY = recipes.load_recipe(TINY_PATH)
VALIDATING = dataclasses.replace(TINY, train_split="train[:1200]",
                                 validation_split="train[1200:]", steps=100)


def _manifest(out):
    with open(out / "run.json") as f:
        return json.load(f)


def test_training_stops_after_patience_epochs_and_restores_the_best(tmp_path):
    # A learning rate too small to move the ELBO by min_delta: the first epoch
    # is the best and training stops `patience` epochs later.
    recipe = dataclasses.replace(VALIDATING, learning_rate=1e-9, patience=2, min_delta=0.5)
    run = training.train_run(recipe, tmp_path, steps_per_epoch=5, verbose=0)
    state = run.metadata["validation"]
    assert [row[0] for row in state["curve"]] == [5, 10, 15]
    assert state["converged"] and state["best_step"] == 5 and state["stopped_step"] == 15
    assert state["split"] == "train[1200:]" and state["examples"] == 1497 - 1200
    assert int(variable_value(run.model.step_counter)) == 5 == run.metadata["steps"]
    assert run.metadata["train_split"] == "train[:1200]"
    assert _manifest(tmp_path)["steps_done"] == 15


def test_the_recorded_elbo_is_the_held_out_elbo_of_the_restored_weights(tmp_path):
    recipe = dataclasses.replace(VALIDATING, learning_rate=1e-2, min_delta=0.0, patience=3)
    run = training.train_run(recipe, tmp_path, steps=20, steps_per_epoch=5, verbose=0)
    state = run.metadata["validation"]
    assert len(state["curve"]) == 4 and not state["converged"]
    assert state["metric"] == "elbo" and state["best"] == max(row[2] for row in state["curve"])
    assert all(row[3] is None for row in state["curve"])
    held_out = datasets.load("digits", "train", as_numpy=True, shuffle=False)[1200:]
    elbo = evaluation.evaluate_elbo(run.model, held_out, seed=0)["elbo"]
    assert elbo == pytest.approx(state["best"], abs=1e-3)
    losses = [row[1] for row in state["curve"]]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_a_resumed_run_continues_the_count_and_a_converged_one_trains_no_more(tmp_path):
    recipe = dataclasses.replace(VALIDATING, learning_rate=1e-9, patience=2, min_delta=0.5)
    first = training.train_run(recipe, tmp_path, steps=10, steps_per_epoch=5, verbose=0)
    assert not first.metadata["validation"]["converged"]
    assert _manifest(tmp_path)["validation"]["epochs_without_improvement"] == 1
    second = training.train_run(recipe, tmp_path, steps_per_epoch=5, verbose=0)
    state = second.metadata["validation"]
    assert state["converged"] and [row[0] for row in state["curve"]] == [5, 10, 15]
    third = training.train_run(recipe, tmp_path, steps_per_epoch=5, verbose=0)
    assert third.history == {} and third.metadata["validation"]["curve"] == state["curve"]
    assert int(variable_value(third.model.step_counter)) == 5


def test_the_training_split_is_part_of_what_a_run_is(tmp_path):
    training.train_run(TINY, tmp_path, steps=1, verbose=0)
    manifest = _manifest(tmp_path)
    assert manifest["train_split"] == "train"
    del manifest["train_split"]  # a manifest written before the key existed
    (tmp_path / "run.json").write_text(json.dumps(manifest))
    training.train_run(TINY, tmp_path, steps=2, verbose=0)  # resumes
    with pytest.raises(ValueError, match="train_split='train' there, 'train\\[:1200\\]' now"):
        training.train_run(VALIDATING, tmp_path, steps=3, verbose=0)


def test_the_loss_criterion_follows_the_held_out_training_loss(tmp_path):
    # An MMD-VAE does not maximize the ELBO: its criterion is its own loss.
    recipe = dataclasses.replace(
        VALIDATING, model="MMDVAE", validation_metric="loss", learning_rate=1e-2,
        min_delta=0.0, patience=5,
        model_kwargs={k: v for k, v in TINY.model_kwargs.items()
                      if k not in ("beta", "schedule", "beta_end", "anneal_steps")})
    run = training.train_run(recipe, tmp_path, steps=15, steps_per_epoch=5, verbose=0)
    state = run.metadata["validation"]
    assert state["metric"] == "loss" and len(state["curve"]) == 3
    assert all(row[2] is None for row in state["curve"])  # only the criterion is measured
    assert state["best"] == min(row[3] for row in state["curve"])
    assert state["best_step"] == min(state["curve"], key=lambda row: row[3])[0]
    held_out = datasets.load("digits", "train", as_numpy=True, shuffle=False)[1200:]
    loss = run.model.evaluate(held_out, batch_size=recipe.batch_size, verbose=0,
                              return_dict=True)["loss"]
    assert loss == pytest.approx(state["best"], rel=0.05)  # z is sampled anew


@pytest.mark.parametrize("field, value", [("patience", 0), ("validation_metric", "nll")])
def test_validation_settings_are_checked(tmp_path, field, value):
    recipe = dataclasses.replace(VALIDATING, **{field: value})
    with pytest.raises(ValueError, match=field):
        training.train_run(recipe, tmp_path, steps=1, verbose=0)


def test_the_cli_reports_the_stop_and_draws_the_learning_curve(tmp_path, capsys):
    from keras_vae import cli

    recipe_file = tmp_path / "validating_digits.py"
    recipe_file.write_text(
        "import dataclasses\nfrom keras_vae.recipes import load_recipe\n"
        f"RECIPE = dataclasses.replace(load_recipe({TINY_PATH!r}), name='validating_digits', "
        "train_split='train[:1200]', validation_split='train[1200:]', learning_rate=1e-9, "
        "patience=1, min_delta=0.5)\n")
    out = tmp_path / "run"
    assert cli.main(["train", str(recipe_file), "--steps", "6", "--steps-per-epoch", "2",
                     "--out", str(out), "--no-export", "--verbose", "0"]) == 0
    printed = capsys.readouterr().out
    assert "trained validating_digits to step 4 in" in printed and "(converged)" in printed
    assert "kept step 2, held-out elbo" in printed
    assert (out / "figures" / "learning_curve.png").is_file()
    assert json.loads((out / "preset" / "metadata.json").read_text())["steps"] == 2
