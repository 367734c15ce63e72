"""The keras-vae command line, end to end on a tiny run."""

import json
import os

import pytest

from keras_vae import cli
from keras_vae import presets
from conftest import BACKEND


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "sample", "reconstruct", "traverse", "presets",
                    "export"):
        assert command in out


def test_unknown_recipe_is_a_clear_error(capsys):
    assert cli.main(["train", "no_such_recipe", "--steps", "1"]) == 1
    assert "Available recipes" in capsys.readouterr().err


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="the CLI runs the same library code on every backend; "
                           "training per backend is covered by test_recipes")
def test_train_then_use_the_preset(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "beta_tcvae_dsprites", "--steps", "2", "--steps-per-epoch", "1",
                     "--out", str(out), "--quick", "--verbose", "0"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "mig" in printed and "test_elbo" in printed
    meta = json.loads((out / "preset" / "metadata.json").read_text())
    assert meta["steps"] == 2 and "mig" in meta["metrics"] and meta["recipe"] == "beta_tcvae_dsprites"
    figures = sorted(os.listdir(out / "figures"))
    assert figures == ["interpolation.png", "latent_scatter.png", "reconstructions.png",
                       "samples.png", "traversal.gif", "traversal.png"]
    assert os.path.isfile(out / "export" / "saved_model.pb")
    preset = str(out / "preset")
    for args in (["sample", preset, str(tmp_path / "s.png"), "--n", "4"],
                 ["reconstruct", preset, str(tmp_path / "r.png")],
                 ["traverse", preset, str(tmp_path / "t.png"), "--gif", str(tmp_path / "t.gif")]):
        assert cli.main(args) == 0, args
        assert os.path.getsize(args[2]) > 0
    assert cli.main(["evaluate", preset, "--num-examples", "64", "--quick"]) == 0
    assert "test_iwae_nll" in capsys.readouterr().out


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="the demo runs the same library code on every backend")
def test_demo_loads_evaluates_exports_and_fine_tunes(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--quick", "--fine-tune-steps", "3"]) == 0
    printed = capsys.readouterr().out
    assert "sha256 verified" in printed and "mig" in printed
    diff = float(printed.split("max |diff| ")[1].split()[0])
    assert diff < 1e-4
    assert os.path.isfile(out / "export" / "saved_model.pb")
    meta = json.loads((out / "fine_tuned" / "metadata.json").read_text())
    shipped = presets.list_presets()["beta_tcvae_dsprites"]
    assert meta["steps"] == shipped["steps"] + 3 and meta["fine_tuned_from"] == "beta_tcvae_dsprites"

TINY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "tiny_digits_recipe.py")


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.mark.parametrize("args, word", [
    (["--steps", "0"], "--steps"),
    (["--steps", "-3"], "--steps"),
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "-3"], "--epochs"),
    (["--epochs", "nan"], "--epochs"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch"),
    (["--learning-rate", "-1e-3"], "--learning-rate"),
    (["--learning-rate", "nan"], "--learning-rate"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2**70)], "--seed"),
    (["--no-such-option"], "--no-such-option"),
])
def test_bad_train_arguments_are_one_line_usage_errors(args, word, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", TINY, "--out", str(tmp_path / "run")] + args)
    assert exit_info.value.code == 2
    _one_line_error(capsys, word)
    assert not (tmp_path / "run").exists()


def test_file_errors_are_one_line_naming_the_file(capsys, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert cli.main(["train", TINY, "--steps", "1", "--out", str(blocker)]) == 1
    _one_line_error(capsys, "blocker")
    assert cli.main(["train", TINY, "--steps", "1", "--out", str(blocker / "run")]) == 1
    _one_line_error(capsys, "blocker")
    truncated = tmp_path / "model.keras"
    truncated.write_bytes(b"PK\x03\x04 truncated")
    assert cli.main(["sample", str(truncated), str(tmp_path / "s.png")]) == 1
    _one_line_error(capsys, "model.keras", "truncated or damaged")
    weights = tmp_path / "model.weights.h5"
    weights.write_bytes(b"\x89HDF\r\n")
    config = tmp_path / "config.json"
    config.write_text("{broken")
    assert cli.main(["sample", str(weights), str(tmp_path / "s.png"), "--config",
                     str(config)]) == 1
    _one_line_error(capsys, "config.json", "not valid JSON")
    config.write_text(json.dumps({"class_name": "VAE", "config": {
        "input_shape": [8, 8, 1], "latent_dim": 2, "architecture": "mlp"}}))
    assert cli.main(["sample", str(weights), str(tmp_path / "s.png"), "--config",
                     str(config)]) == 1
    _one_line_error(capsys, "model.weights.h5", "damaged")
    assert cli.main(["sample", "zoo_preset_that_does_not_exist",
                     str(tmp_path / "missing" / "s.png")]) == 1
    _one_line_error(capsys, "OUT", "missing")


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(ValueError, match="Available recipes"):
        cli.main(["--debug", "train", "no_such_recipe", "--steps", "1"])
    with pytest.raises(ValueError, match="Available recipes"):
        cli.main(["train", "no_such_recipe", "--steps", "1", "--debug"])


def test_unknown_backend_is_one_line(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    env = dict(os.environ, KERAS_BACKEND="bogus", PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-m", "keras_vae.cli", "presets"], env=env,
                            capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "KERAS_BACKEND" in lines[0] and "'bogus'" in lines[0], lines


def test_non_finite_loss_is_one_line(capsys, tmp_path, monkeypatch):
    from keras_vae import training
    from keras_vae.callbacks import NonFiniteLossError

    def diverge(*args, **kwargs):
        raise NonFiniteLossError("The training loss became non-finite at epoch 1, step 2.")

    monkeypatch.setattr(training, "train_run", diverge)
    assert cli.main(["train", TINY, "--steps", "1", "--out", str(tmp_path / "run")]) == 1
    _one_line_error(capsys, "non-finite")


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="the CLI runs the same library code on every backend")
def test_train_writes_the_preset_once_after_evaluating(capsys, tmp_path, monkeypatch):
    from keras_vae import assessment

    out = tmp_path / "run"
    command = ["train", TINY, "--steps", "2", "--out", str(out), "--no-export", "--verbose", "0"]
    evaluate = assessment.evaluate

    def failing(*args, **kwargs):
        raise ValueError("Evaluation failed. Received: nothing")

    monkeypatch.setattr(assessment, "evaluate", failing)
    assert cli.main(command) == 1
    _one_line_error(capsys, "Evaluation failed")
    # Trained and checkpointed, but no preset without its metrics.
    assert (out / "checkpoint.weights.h5").is_file() and not (out / "preset").exists()
    monkeypatch.setattr(assessment, "evaluate", evaluate)
    saved, save = [], presets.save_preset

    def counting_save(model, directory, *args, **kwargs):
        saved.append(directory)
        return save(model, directory, *args, **kwargs)

    monkeypatch.setattr(presets, "save_preset", counting_save)
    assert cli.main(command) == 0  # the run's training is complete: evaluate, then save
    assert saved == [str(out / "preset")]
    meta = json.loads((out / "preset" / "metadata.json").read_text())
    assert meta["steps"] == 2 and "test_elbo" in meta["metrics"]
    assert json.loads((out / "run.json").read_text())["steps_done"] == 2


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="the CLI runs the same library code on every backend")
def test_a_rerun_into_another_runs_out_is_refused_then_forced(capsys, tmp_path):
    import dataclasses

    from keras_vae import recipes

    out = str(tmp_path / "run")
    assert cli.main(["train", TINY, "--steps", "2", "--out", out, "--quick", "--no-export",
                     "--verbose", "0"]) == 0
    other = tmp_path / "other_recipe.py"
    other.write_text(open(TINY).read().replace('name="tiny_digits"', 'name="tiny_other"')
                     .replace("latent_dim=2", "latent_dim=3"))
    capsys.readouterr()
    assert cli.main(["train", str(other), "--steps", "2", "--out", out, "--verbose", "0"]) == 1
    _one_line_error(capsys, "--force", out, "tiny_other")
    assert cli.main(["train", str(other), "--steps", "2", "--out", out, "--force", "--quick",
                     "--no-export", "--verbose", "0"]) == 0
    meta = json.loads((tmp_path / "run" / "preset" / "metadata.json").read_text())
    assert meta["recipe"] == "tiny_other" and meta["steps"] == 2
    assert dataclasses.asdict(recipes.load_recipe(str(other)))["model_kwargs"]["latent_dim"] == 3


@pytest.mark.parametrize("args, word", [(["--jobs", "0"], "--jobs"),
                                        (["--steps", "-1"], "--steps"),
                                        (["--seeds", "0", "-2"], "--seeds")])
def test_bad_study_arguments_are_one_line_usage_errors(args, word, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["study", "cpu_dsprites", "--out", str(tmp_path / "s")] + args)
    assert exit_info.value.code == 2
    _one_line_error(capsys, word)
    assert not (tmp_path / "s").exists()
