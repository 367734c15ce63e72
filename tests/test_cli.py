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
