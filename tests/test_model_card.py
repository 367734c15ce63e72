"""Model cards generated from a preset's metadata, and the presets registry as JSON."""

import json
import os

import pytest

import keras_vae
from keras_vae import cli
from keras_vae import model_card
from keras_vae import presets
from testing import tiny_model

yaml = pytest.importorskip("yaml")

METADATA = {
    "dataset": "dsprites", "recipe": "beta_tcvae_dsprites", "steps": 6000,
    "learning_rate": 0.0005, "seed": 3, "batch_size": 64, "backend": "jax",
    "keras_version": "3.15.1", "parameters": 764633, "hardware": "x86_64, 2 CPU cores",
    "wall_time_s": 600.0, "references": "Chen et al. 2018",
    "metrics": {"mig": 0.1613, "test_elbo": -96.77, "active_units": 6},
    "metric_protocols": {"mig": {"protocol": "disentanglement_lib", "num_train": 10000}},
}
CONFIG = {"class_name": "BetaTCVAE", "config": {"latent_dim": 10,
                                               "architecture": "disentanglement"}}


def _split(card):
    assert card.startswith("---\n")
    front, body = card[4:].split("\n---\n", 1)
    return yaml.safe_load(front), body


def test_front_matter_is_hugging_face_metadata():
    front, body = _split(model_card.model_card("tc", CONFIG, METADATA))
    assert front["library_name"] == "keras" and front["datasets"] == ["dsprites"]
    assert {"keras-vae", "beta-tcvae"} <= set(front["tags"])
    results = front["model-index"][0]["results"][0]
    assert front["model-index"][0]["name"] == "tc"
    metrics = {m["type"]: m for m in results["metrics"]}
    assert set(metrics) == {"mig", "test_elbo", "active_units"}
    assert metrics["mig"]["value"] == pytest.approx(0.1613)
    assert metrics["mig"]["args"] == {"protocol": "disentanglement_lib", "num_train": 10000}
    assert "args" not in metrics["test_elbo"]
    # The prose: the command that made it, the numbers, how to load it.
    assert "keras-vae train beta_tcvae_dsprites --steps 6000 --learning-rate 0.0005 --seed 3" in body
    assert "| MIG | 0.1613 |" in body and "| test ELBO (nats) | -96.77 |" in body
    assert 'keras_vae.from_preset("tc")' in body and "10.0 min" in body
    assert "Intended use and limits" in body


def test_card_refuses_non_json_objects():
    with pytest.raises(TypeError, match="metadata"):
        model_card.model_card("x", CONFIG, ["not", "a", "dict"])


def test_save_preset_writes_the_card(tmp_path):
    model = tiny_model(keras_vae.VAE)
    directory = tmp_path / "digits_vae"
    presets.save_preset(model, directory, {"dataset": "digits", "metrics": {"test_elbo": -30.5}})
    front, body = _split((directory / "README.md").read_text())
    assert front["model-index"][0]["results"][0]["metrics"][0]["value"] == -30.5
    assert "# digits_vae" in body and "`VAE`" in body
    assert not [n for n in os.listdir(directory) if n.endswith(".tmp")]


def test_presets_json_registry(capsys):
    assert cli.main(["presets", "--json"]) == 0
    registry = json.loads(capsys.readouterr().out)
    assert set(registry) == set(presets.list_presets())
    for name, entry in registry.items():
        assert os.path.isfile(os.path.join(entry["path"], presets.WEIGHTS_FILE))
        assert entry["metadata"]["sha256"] == presets.list_presets()[name]["sha256"]


def test_a_validated_preset_says_where_it_stopped_and_is_reproduced_without_steps():
    validation = {"split": "train[55000:]", "examples": 5000, "patience": 4, "min_delta": 0.2,
                  "metric": "elbo", "best": -237.8441, "best_step": 12870, "converged": True,
                  "stopped_step": 14586, "curve": [[429, 250.1, -249.0]] * 34}
    meta = {"recipe": "vae_fashion_mnist", "steps": 12870, "learning_rate": 0.001, "seed": 0,
            "batch_size": 128, "train_split": "train[:55000]", "validation": validation}
    assert model_card.training_command(meta) == \
        "keras-vae train vae_fashion_mnist --learning-rate 0.001 --seed 0"
    card = model_card.model_card("p", {"class_name": "VAE", "config": {}}, meta)
    assert ("Trained on `train[:55000]` and validated after every epoch on `train[55000:]` "
            "(5,000 images") in card
    assert "it stopped at step 14586, after 4 epochs in a row" in card
    assert "by its held-out ELBO: it stopped" in card
    assert "elbo -237.84 nats at step 12870 (34 epochs measured)" in card
    capped = dict(meta, validation=dict(validation, converged=False))
    assert "reached its cap at step 14586" in model_card.model_card(
        "p", {"class_name": "VAE", "config": {}}, capped)
    plain = {k: v for k, v in meta.items() if k != "validation"}
    assert model_card.training_command(plain) == \
        "keras-vae train vae_fashion_mnist --steps 12870 --learning-rate 0.001 --seed 0"


def test_a_study_preset_with_overrides_is_reproduced_by_its_study():
    study = {"study": "cpu_dsprites", "setting": "iteration_threshold=2000",
             "run": "annealed_vae_dsprites__iteration_threshold-2000__seed1",
             "overrides": {"iteration_threshold": 2000}, "selected_by": "median mig",
             "seeds": {"0": {"mig": 0.1}, "1": {"mig": 0.2}, "2": {"mig": 0.3}},
             "spread": {"mig": {"median": 0.2, "q25": 0.15, "q75": 0.25}}}
    meta = {"recipe": "annealed_vae_dsprites", "steps": 6000, "learning_rate": 0.0005,
            "seed": 1, "batch_size": 64, "study": study}
    # `keras-vae train annealed_vae_dsprites` would train its recipe's 100k-step threshold
    assert model_card.training_command(meta) == "keras-vae study cpu_dsprites --seeds 1"
    card = model_card.model_card("p", {"class_name": "AnnealedVAE", "config": {}}, meta)
    assert "run `annealed_vae_dsprites__iteration_threshold-2000__seed1`" in card
    no_overrides = dict(meta, study=dict(study, overrides={}))
    assert model_card.training_command(no_overrides) == \
        "keras-vae train annealed_vae_dsprites --steps 6000 --learning-rate 0.0005 --seed 1"
