"""`keras_vae.ensemble` and `zoo/gpu_study.py`: K runs trained as one model.

The claim checked here is that a `SeedEnsemble` of K models, trained on the
sum of their losses with one optimizer, is K independent runs: each member
ends with the weights (and step counter, and sampling state) it reaches when
trained alone on the same batches. Then: interrupted runs resume to the
uninterrupted result, presets load and carry their metadata, and bad
arguments are refused. Tiny models, CPU, every backend; no GPU needed.
"""

import importlib.util
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_vae
from keras_vae import ensemble as ens
from keras_vae import study
from keras_vae.recipes import load_recipe
from testing import BACKEND
from testing import ROOT
from testing import load_digits

DIGITS_RECIPE = os.path.join(ROOT, "tests", "data", "tiny_digits_recipe.py")
DSPRITES_RECIPE = os.path.join(ROOT, "tests", "data", "tiny_dsprites_recipe.py")
VECTORIZE = [False, True] if BACKEND == "jax" else [False]
# JAX: members vectorized or not, steps in the device's fori_loop (the GPU
# path) or in a host loop (the CPU default); other backends: one way.
MODES = ([(v, d) for v in (False, True) for d in (False, True)] if BACKEND == "jax"
         else [(False, "auto")])


@pytest.fixture(scope="module")
def images():
    return load_digits()[0]


def _values(model):
    return [np.asarray(keras.ops.convert_to_numpy(v), dtype=np.float64) for v in model.weights]


def _assert_same_weights(got, want, atol=1e-6):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=atol, rtol=1e-5)


def _alone(build, images, indices, member, learning_rate):
    """A member trained alone, one `train_on_batch` per step."""
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    for step in indices:
        model.train_on_batch(images[step[member]])
    return _values(model)


# === Equivalence with independent training ===


@pytest.mark.parametrize("vectorize,device_loop", MODES)
def test_an_ensemble_trains_each_member_as_if_alone(images, vectorize, device_loop):
    recipe = load_recipe(DIGITS_RECIPE)  # beta annealed over steps: the step counter matters
    seeds, steps = [3, 5], 5
    indices = ens.batch_indices(seeds, 0, steps, recipe.batch_size, len(images))
    want = [_alone(lambda s=s: ens.build_member(recipe, s), images, indices, k,
                   recipe.learning_rate) for k, s in enumerate(seeds)]

    model = ens.SeedEnsemble([ens.build_member(recipe, s) for s in seeds], vectorize=vectorize)
    assert model.groups == (((0, 1),) if vectorize else ((0,), (1,)))
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate))
    trainer = ens.DeviceTrainer(model, images, seeds, recipe.batch_size, steps_per_call=2,
                                device_loop=device_loop)
    logs = trainer.run(0, steps)
    assert set(logs) >= {"loss", "loss_0", "loss_1"}
    np.testing.assert_allclose(logs["loss"], logs["loss_0"] + logs["loss_1"], rtol=1e-5)
    assert int(keras.ops.convert_to_numpy(model.step_counter)) == steps
    for member, expected in zip(model.members, want):
        # Every variable: weights, the step counter and the sampler's state.
        _assert_same_weights(_values(member), expected)


@pytest.mark.parametrize("vectorize", VECTORIZE)
def test_factor_vae_and_beta_tcvae_members_train_as_if_alone(images, vectorize):
    device_loop = vectorize if BACKEND == "jax" else "auto"
    # FactorVAE's discriminators keep their own Adam (as FactorVAE.compile
    # does); beta-TCVAE's penalty is a batch statistic of its own batch.
    def build(cls, seed, **kwargs):
        keras.utils.set_random_seed(seed)
        return cls(input_shape=(8, 8, 1), latent_dim=2, architecture="mlp",
                   network_kwargs={"hidden_units": [16]}, seed=seed, **kwargs)

    specs = [(keras_vae.FactorVAE, 1, dict(gamma=10.0, discriminator_units=[16, 16])),
             (keras_vae.BetaTCVAE, 2, dict(beta=6.0, dataset_size=1797)),
             (keras_vae.FactorVAE, 3, dict(gamma=10.0, discriminator_units=[16, 16]))]
    seeds, steps, batch = [s for _, s, _ in specs], 4, 32
    indices = ens.batch_indices(seeds, 0, steps, batch, len(images))
    want = [_alone(lambda c=c, s=s, kw=kw: build(c, s, **kw), images, indices, k, 1e-3)
            for k, (c, s, kw) in enumerate(specs)]
    model = ens.SeedEnsemble([build(c, s, **kw) for c, s, kw in specs], vectorize=vectorize)
    assert model.groups == (((0, 2), (1,)) if vectorize else ((0,), (1,), (2,)))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    ens.DeviceTrainer(model, images, seeds, batch, steps_per_call=3,
                      device_loop=device_loop).run(0, steps)
    for member, expected in zip(model.members, want):
        _assert_same_weights(_values(member), expected)


def test_train_on_batch_takes_one_batch_per_member(images):
    recipe = load_recipe(DIGITS_RECIPE)
    model = ens.SeedEnsemble([ens.build_member(recipe, s) for s in (0, 1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = model.train_on_batch(np.stack([images[:16], images[16:32]]), return_dict=True)
    assert np.isfinite(logs["loss"]) and logs["loss"] > logs["loss_0"] > 0
    outputs = model(np.stack([images[:4], images[4:8]]))
    assert len(outputs) == 2 and tuple(outputs[1]["reconstruction"].shape) == (4, 8, 8, 1)


# === Batches ===


def test_batch_indices_depend_on_seed_and_step_only():
    full = ens.batch_indices([3, 5], 0, 6, 4, 1000)
    assert full.shape == (6, 2, 4) and full.dtype == np.int32
    assert full.min() >= 0 and full.max() < 1000
    # A resumed run draws the rest of an uninterrupted one's batches ...
    np.testing.assert_array_equal(ens.batch_indices([3, 5], 2, 4, 4, 1000), full[2:])
    # ... and a member the same batches in any ensemble.
    np.testing.assert_array_equal(ens.batch_indices([5], 0, 6, 4, 1000)[:, 0], full[:, 1])
    assert not np.array_equal(full[:, 0], full[:, 1])
    many = ens.batch_indices([0], 0, 2000, 64, 10)
    counts = np.bincount(many.ravel(), minlength=10)
    assert counts.min() > 0.9 * counts.mean()  # uniform over the images


# === Run directories: resume, budget, presets ===


def _runs(seeds=(0, 1)):
    recipe = load_recipe(DIGITS_RECIPE)
    return [ens.Member(f"tiny_digits__default__seed{s}", recipe, s) for s in seeds]


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(images, tmp_path):
    lines = []
    whole = ens.train_ensemble(_runs(), images, tmp_path / "whole", steps=7, steps_per_call=7,
                               log=lines.append)
    assert whole.finished and whole.steps_done == 7

    # On JAX the interrupted run takes the device loop (the GPU path), the
    # uninterrupted one the host loop: the same steps either way.
    first = ens.train_ensemble(_runs(), images, tmp_path / "parts", steps=7, max_steps=3,
                               steps_per_call=2, checkpoint_every=2, log=lines.append,
                               device_loop=True if BACKEND == "jax" else "auto")
    assert not first.finished and first.steps_done == 3
    manifest = json.loads((tmp_path / "parts" / ens.MANIFEST).read_text())
    assert manifest["steps_done"] == 3 and [m["seed"] for m in manifest["members"]] == [0, 1]
    assert (tmp_path / "parts" / "checkpoint.weights.h5").exists()
    assert (tmp_path / "parts" / "checkpoint.prev.weights.h5").exists()  # the step-2 one kept

    rest = ens.train_ensemble(_runs(), images, tmp_path / "parts", steps=7, steps_per_call=3,
                              log=lines.append)
    assert rest.finished and rest.steps_done == 7
    assert any("resuming 2 runs" in line and "at step 3" in line for line in lines)
    for a, b in zip(rest.ensemble.members, whole.ensemble.members):
        _assert_same_weights(_values(a), _values(b))
    assert rest.metadata[_runs()[0].name]["wall_time_s"] >= first.metadata[
        _runs()[0].name]["wall_time_s"]


@pytest.mark.skipif(BACKEND != "jax", reason="vectorization is JAX's")
def test_fastest_times_both_programs_and_trains_the_same_runs(images, tmp_path):
    lines = []
    plain = ens.train_ensemble(_runs(), images, tmp_path / "plain", steps=6, vectorize=False,
                               log=lines.append)
    timed = ens.train_ensemble(_runs(), images, tmp_path / "timed", steps=6, trial_steps=2,
                               vectorize="fastest", max_seconds=600, log=lines.append)
    choice = timed.timings["vectorize"]
    assert set(choice["steps_per_s"]) == {"vectorized", "one_by_one"}
    assert timed.ensemble.vectorize == choice["chosen"]
    assert any(line.startswith("vectorized ") and "continuing" in line for line in lines)
    for a, b in zip(timed.ensemble.members, plain.ensemble.members):
        _assert_same_weights(_values(a), _values(b))


def test_a_spent_budget_stops_with_a_checkpoint_and_the_rerun_continues(images, tmp_path):
    lines = []
    stopped = ens.train_ensemble(_runs(), images, tmp_path, steps=4, max_seconds=1e-6,
                                 log=lines.append)
    assert not stopped.finished and stopped.steps_done == 0
    assert any("budget" in line for line in lines)
    assert (tmp_path / "checkpoint.weights.h5").exists()
    done = ens.train_ensemble(_runs(), images, tmp_path, steps=4, max_seconds=600, log=lines.append)
    assert done.finished and done.steps_done == 4 and done.timings["steps"] == 4


def test_another_ensemble_in_the_same_directory_is_refused(images, tmp_path):
    ens.train_ensemble(_runs(), images, tmp_path, steps=1, log=lambda line: None)
    with pytest.raises(ValueError, match="holds another ensemble .*Received: out="):
        ens.train_ensemble(_runs((0, 2)), images, tmp_path, steps=1, log=lambda line: None)
    fresh = ens.train_ensemble(_runs((0, 2)), images, tmp_path, steps=1, force=True,
                               log=lambda line: None)
    assert fresh.steps_done == 1


def test_presets_load_and_carry_the_metadata_the_study_reads(images, tmp_path):
    runs = _runs()
    result = ens.train_ensemble(runs, images, tmp_path / "ensemble", steps=3,
                                data={"dataset": "digits", "num_images": len(images)},
                                log=lambda line: None)
    metrics = {runs[0].name: {"test_elbo": -12.5}, runs[1].name: {"test_elbo": -13.0}}
    written = ens.write_presets(result, tmp_path / "runs", metrics)
    assert sorted(written) == sorted(r.name for r in runs)
    for run, member in zip(runs, result.ensemble.members):
        model = keras_vae.from_preset(written[run.name])
        assert type(model) is keras_vae.BetaVAE
        meta = model.preset_metadata
        assert meta["recipe"] == "tiny_digits" and meta["seed"] == run.seed
        assert meta["steps"] == 3 and meta["batch_size"] == 32
        assert meta["learning_rate"] == 1e-3 and meta["learning_rates"] == [[0, 1e-3]]
        assert meta["wall_time_s"] >= 0 and meta["hardware"] == ens.hardware()
        assert meta["metrics"] == metrics[run.name]
        assert meta["ensemble"]["members"] == 2 and meta["ensemble"]["data"]["dataset"] == "digits"
        trained = [v for v in _values(member)]
        loaded = [v for v in _values(model)]
        _assert_same_weights(loaded, trained, atol=0)
        # The study finds the finished run in its layout (OUT/runs/<name>/preset).
        planned = study.Run(DIGITS_RECIPE, (), run.seed, 3)
        assert planned.name == run.name.replace("tiny_digits", "tiny_digits_recipe")


# === Bad arguments ===


def test_bad_members_are_refused():
    recipe = load_recipe(DIGITS_RECIPE)
    member = ens.build_member(recipe, 0)
    with pytest.raises(ValueError, match=r"at least one model. Received: members=\[\]"):
        ens.SeedEnsemble([])
    with pytest.raises(TypeError,
                       match="list of keras-vae models. Received: members of type BetaVAE"):
        ens.SeedEnsemble(member)
    with pytest.raises(TypeError, match=r"Received: members\[1\] of type Dense"):
        ens.SeedEnsemble([member, keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="distinct models .*Received: the same model"):
        ens.SeedEnsemble([member, member])
    other = keras_vae.VAE(input_shape=(4, 4, 1), latent_dim=2, architecture="mlp")
    with pytest.raises(ValueError, match=r"one image shape .*Received: image shapes"):
        ens.SeedEnsemble([member, other])

    class OwnStep(keras_vae.VAE):
        def train_step(self, *args, **kwargs):
            return super().train_step(*args, **kwargs)

    odd = OwnStep(input_shape=(8, 8, 1), latent_dim=2, architecture="mlp")
    with pytest.raises(ValueError,
                       match=r"own `train_step` .*Received: members\[1\] of type OwnStep"):
        ens.SeedEnsemble([member, odd])
    with pytest.raises(TypeError, match="Received: vectorize='yes'"):
        ens.SeedEnsemble([member], vectorize="yes")
    if BACKEND != "jax":
        with pytest.raises(ValueError, match="needs the JAX backend .*Received: vectorize=True"):
            ens.SeedEnsemble([member], vectorize=True)


def test_an_optimizer_that_couples_the_members_is_refused():
    recipe = load_recipe(DIGITS_RECIPE)
    model = ens.SeedEnsemble([ens.build_member(recipe, s) for s in (0, 1)])
    with pytest.raises(ValueError, match="couples the runs .*Received: global_clipnorm=1.0"):
        model.compile(optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=1.0))
    with pytest.raises(ValueError, match="Received: loss='mse'"):
        model.compile(optimizer="adam", loss="mse")


def test_a_batch_per_member_is_required(images):
    recipe = load_recipe(DIGITS_RECIPE)
    model = ens.SeedEnsemble([ens.build_member(recipe, s) for s in (0, 1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match=r"one batch per member: shape \(2, batch\) \+ "
                                         r"\(8, 8, 1\). Received: x.shape=\(3, 4, 8, 8, 1\)"):
        model(np.zeros((3, 4, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match=r"Received: x.shape=\(4, 8, 8, 1\)"):
        model.compute_loss(np.zeros((4, 8, 8, 1), "float32"))
    with pytest.raises(ValueError, match=r"one data seed per member \(2\). Received: seeds=\[0\]"):
        ens.DeviceTrainer(model, images, [0], 32)
    with pytest.raises(ValueError, match=r"Received: images.shape=\(10, 28, 28\)"):
        ens.DeviceTrainer(model, np.zeros((10, 28, 28), "uint8"), [0, 1], 32)
    uncompiled = ens.SeedEnsemble([ens.build_member(recipe, s) for s in (0, 1)])
    with pytest.raises(ValueError, match="must be compiled"):
        ens.DeviceTrainer(uncompiled, images, [0, 1], 32)
    with pytest.raises(ValueError, match=r"at least one seed. Received: seeds=\(\)"):
        ens.batch_indices([], 0, 1, 4, 10)
    with pytest.raises(TypeError, match="Received: seeds=3"):
        ens.batch_indices(3, 0, 1, 4, 10)


def test_runs_of_one_ensemble_must_share_data_batch_and_learning_rate(images, tmp_path):
    import dataclasses

    runs = _runs()
    faster = dataclasses.replace(runs[1], recipe=dataclasses.replace(runs[1].recipe,
                                                                     learning_rate=1e-2))
    with pytest.raises(ValueError, match=r"one learning_rate .*Received: learning_rate values"):
        ens.train_ensemble([runs[0], faster], images, tmp_path, steps=1)
    with pytest.raises(ValueError, match=r"at least one run. Received: runs=\[\]"):
        ens.train_ensemble([], images, tmp_path, steps=1)
    with pytest.raises(ValueError, match="distinct names"):
        ens.train_ensemble([runs[0], runs[0]], images, tmp_path, steps=1)
    with pytest.raises(ValueError, match="Received: steps=0"):
        ens.train_ensemble(runs, images, tmp_path, steps=0)


# === The script ===


def _script():
    spec = importlib.util.spec_from_file_location(
        "gpu_study", os.path.join(ROOT, "zoo", "gpu_study.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_trains_evaluates_and_writes_study_presets(tmp_path, capsys):
    script = _script()
    args = ["--recipes", DSPRITES_RECIPE, "--seeds", "0", "1", "--steps", "4",
            "--num-images", "300", "--out", str(tmp_path), "--workers", "1",
            "--steps-per-call", "3"]
    assert script.main(args + ["--max-steps", "2"]) == 0
    summary = json.loads((tmp_path / "gpu_study.json").read_text())
    assert summary["steps_done"] == 2 and not summary["finished"] and not summary["presets"]
    assert summary["data"] == {"dataset": "dsprites", "source": "procedural", "num_images": 300,
                               "subset_seed": 0}

    assert script.main(args) == 0  # resumes at step 2
    summary = json.loads((tmp_path / "gpu_study.json").read_text())
    assert summary["finished"] and summary["steps_done"] == 4
    assert {"render_s", "compile_s", "train_s", "evaluate_s",
            "presets_s"} <= set(summary["timings"])
    for seed in (0, 1):
        run = study.Run(DSPRITES_RECIPE, (), seed, 4)
        meta = study.run_metadata(str(tmp_path), run)  # what `keras-vae study --report` reads
        assert meta is not None and meta["seed"] == seed and "test_elbo" in meta["metrics"]
        model = keras_vae.from_preset(str(tmp_path / "runs" / run.name / "preset"))
        assert model.image_shape == (64, 64, 1)
    assert "resuming 2 runs" in capsys.readouterr().out
    assert script.main(args) == 0  # nothing left to train
    assert "all 2 runs are finished" in capsys.readouterr().out


def test_the_script_draws_the_images_it_names():
    script = _script()
    images, data = script.render_dsprites(num_images=100, seed=4, workers=1)
    index = np.sort(np.random.default_rng(4).choice(737_280, 100, replace=False))
    np.testing.assert_array_equal(images, keras_vae.datasets.open_dsprites().imgs(index))
    assert data["num_images"] == 100 and data["subset_seed"] == 4


def test_the_script_refuses_bad_arguments(capsys):
    script = _script()
    with pytest.raises(ValueError, match=r"at least one seed. Received: seeds=\(\)"):
        script.plan_runs(["vae_dsprites"], seeds=())
    with pytest.raises(ValueError, match=r"at least one recipe. Received: \[\]"):
        script.plan_runs([], seeds=(0,))
    for argv, message in ((["--seeds", "1", "1"], "must not repeat a seed"),
                          (["--steps", "0"], "--steps must be >= 1. Received: 0"),
                          (["--max-seconds", "-5"], "--max-seconds must be > 0. Received: -5")):
        with pytest.raises(SystemExit):
            script.parse_args(argv)
        assert message in capsys.readouterr().err


@pytest.mark.skipif(BACKEND != "jax", reason="one process is enough: it runs JAX without TF")
def test_the_gpu_path_imports_without_tensorflow():
    # The GPU machine has JAX and no TensorFlow: the script, the ensemble,
    # dSprites and the assessment must import without it.
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None\n"
        "sys.modules['tensorflow_datasets'] = None\n"
        "import importlib.util, numpy as np\n"
        "spec = importlib.util.spec_from_file_location('g', 'zoo/gpu_study.py')\n"
        "g = importlib.util.module_from_spec(spec); spec.loader.exec_module(g)\n"
        "images, _ = g.render_dsprites(num_images=50, workers=2)\n"
        "import keras_vae.ensemble, keras_vae.assessment, keras_vae.study\n"
        "from keras_vae.recipes import load_recipe, test_data\n"
        "print(images.shape, test_data(load_recipe('beta_vae_dsprites'), 3).shape)\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "(50, 64, 64) (3, 64, 64, 1)" in result.stdout
