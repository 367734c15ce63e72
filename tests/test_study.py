"""Studies: a tiny grid trained in subprocesses, interrupted, resumed and reported."""

import json
import os
import time

import pytest

from keras_vae import study
from conftest import BACKEND

RECIPE = '''
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="{name}", description="tiny digits model for the study tests", model="{model}",
    model_kwargs=dict(input_shape=(8, 8, 1), latent_dim=2, architecture="mlp",
                      network_kwargs={{"hidden_units": [16]}}{extra}),
    dataset="digits", batch_size=32, learning_rate=1e-3, steps=5, metrics=("elbo",),
)
'''


def _recipes(tmp_path):
    paths = []
    for name, model, extra in (("tiny_vae", "VAE", ""), ("tiny_beta", "BetaVAE", ", beta=2.0")):
        path = tmp_path / f"{name}.py"
        path.write_text(RECIPE.format(name=name, model=model, extra=extra))
        paths.append(str(path))
    return paths


def test_plan_crosses_settings_and_seeds(tmp_path):
    vae, beta = _recipes(tmp_path)
    spec = study.Study(name="t", grid={vae: {}, beta: {"beta": (1.0, 4.0)}}, seeds=(0, 1),
                       steps=7)
    runs = study.plan(spec)
    assert len(runs) == 6 and {r.steps for r in runs} == {7}
    assert [r.seed for r in runs] == [0, 0, 0, 1, 1, 1]  # seed-major
    assert runs[1].name == "tiny_beta__beta-1__seed0" and runs[0].setting == "default"
    assert len({r.name for r in runs}) == 6
    with pytest.raises(ValueError, match="seed"):
        study.plan(spec, seeds=())
    with pytest.raises(ValueError, match="Unknown study"):
        study.get_study("nope")


def test_aggregate_gives_medians_and_quartiles():
    runs = [study.Run("a", (("beta", 2.0),), s, 5) for s in range(4)]
    values = [0.1, 0.2, 0.3, 0.9]
    rows = study.aggregate([(r, {"mig": v}) for r, v in zip(runs, values)])
    by_setting = {row["setting"]: row for row in rows}
    assert set(by_setting) == {"beta=2", "all"}
    mig = by_setting["beta=2"]["metrics"]["mig"]
    assert mig["median"] == pytest.approx(0.25)
    assert mig["q25"] == pytest.approx(0.175) and mig["q75"] == pytest.approx(0.45)
    table = study.markdown_table(rows)
    assert "0.25 [0.175, 0.45]" in table
    assert "| all |" not in table  # one setting: its pooled row would repeat it
    other = [study.Run("a", (("beta", 8.0),), s, 5) for s in range(2)]
    rows = study.aggregate([(r, {"mig": v}) for r, v in zip(runs + other, values + [0.5, 0.7])])
    assert "| `a` | all | 6 | 0.4 [0.225, 0.65] |" in study.markdown_table(rows)


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="runs are subprocesses of the same library code on every backend")
def test_tiny_study_resumes_reports_and_estimates(tmp_path):
    vae, beta = _recipes(tmp_path)
    spec = study.Study(name="tiny", grid={vae: {}, beta: {"beta": (3.0,)}}, seeds=(0, 1),
                       steps=4)
    out = tmp_path / "study"
    measured = study.measure_run_time(spec, str(out), probe_steps=4)
    assert set(measured) == {vae, beta}
    estimate = study.estimate_seconds(study.plan(spec), measured)

    def interrupt_after_two(message, seen=[]):
        seen.append(message)
        if len(seen) == 2:
            raise KeyboardInterrupt
    tic = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        study.run_study(spec, str(out), log=interrupt_after_two)
    finished = [r for r in study.plan(spec) if study.run_metadata(str(out), r)]
    assert len(finished) == 2
    stamps = {r.name: os.path.getmtime(out / "runs" / r.name / "preset" / "metadata.json")
              for r in finished}
    log = []
    rows = study.run_study(spec, str(out), log=log.append)
    elapsed = time.perf_counter() - tic
    assert sum("skipped" in line for line in log) == 2
    for name, stamp in stamps.items():  # finished runs were not trained again
        assert os.path.getmtime(out / "runs" / name / "preset" / "metadata.json") == stamp
    assert estimate / 2 <= elapsed <= estimate * 2, (estimate, elapsed)

    report = json.loads((out / "study.json").read_text())
    assert report["finished_runs"] == 4
    pooled = {(r["recipe"], r["setting"]): r for r in rows}
    assert pooled[("tiny_beta", "beta=3")]["runs"] == 2
    elbos = [r["metrics"]["test_elbo"] for r in report["runs"] if r["recipe"] == "tiny_vae"]
    median = pooled[("tiny_vae", "all")]["metrics"]["test_elbo"]["median"]
    assert median == pytest.approx(sum(elbos) / 2)  # the median of two runs
    assert "| `tiny_beta` | beta=3 | 2 |" in (out / "study.md").read_text()
    for figure in report["figures"].values():
        assert os.path.getsize(out / figure) > 1000
    config = json.loads((out / "runs" / "tiny_beta__beta-3__seed1" / "preset" /
                         "config.json").read_text())
    assert config["config"]["beta"] == 3.0


def test_ship_presets_copies_the_median_seed_with_every_seeds_metrics(tmp_path):
    import keras_vae
    from keras_vae import presets
    from testing import tiny_model

    vae, beta = _recipes(tmp_path)
    spec = study.Study(name="t", grid={vae: {}, beta: {"beta": (4.0,)}}, seeds=(0, 1, 2),
                       steps=7)
    out = tmp_path / "study"
    migs = {0: 0.30, 1: 0.10, 2: 0.20}  # median: seed 2
    for run in study.plan(spec):
        if run.method == "tiny_beta" and run.seed == 2:
            continue  # an unfinished setting is not shipped
        model = tiny_model(keras_vae.VAE, seed=run.seed)
        presets.save_preset(model, out / "runs" / run.name / "preset", metadata={
            "recipe": run.method, "steps": run.steps, "seed": run.seed,
            "metrics": {"mig": migs[run.seed], "test_elbo": -50.0 - run.seed}})
    shipped = study.ship_presets(spec, out, tmp_path / "zoo")
    assert list(shipped) == ["tiny_vae"]
    loaded = keras_vae.from_preset(shipped["tiny_vae"])
    meta = loaded.preset_metadata
    assert meta["seed"] == 2 and meta["study"]["selected_by"] == "median mig"
    assert meta["study"]["run"] == "tiny_vae__default__seed2" and meta["study"]["overrides"] == {}
    assert meta["study"]["seeds"] == {str(s): {"mig": migs[s], "test_elbo": -50.0 - s}
                                      for s in (0, 1, 2)}
    assert meta["study"]["spread"]["mig"] == pytest.approx(
        {"median": 0.2, "q25": 0.15, "q75": 0.25})
    card = (tmp_path / "zoo" / "tiny_vae" / "README.md").read_text()
    assert "## Seeds" in card and "median mig among 3 seeds" in card
    assert "| median [IQR] | 0.2 [0.15, 0.25] |" in card
    with pytest.raises(ValueError, match="must report 'dci'"):
        study.ship_presets(spec, out, tmp_path / "zoo2", metric="dci")
    with pytest.raises(TypeError, match="Received: metric=3 of type int"):
        study.ship_presets(spec, out, tmp_path / "zoo2", metric=3)


def _setting_loss(run):
    """The run's regularizer at step 1,000 on fixed codes, with a tiny network."""
    import keras
    import numpy as np

    import keras_vae

    recipe = study.run_recipe(run)
    kwargs = {**recipe.model_kwargs, "input_shape": (8, 8, 1), "architecture": "mlp",
              "network_kwargs": {"hidden_units": [8]}}
    model = getattr(keras_vae, recipe.model)(**kwargs, seed=0)
    model.step_counter.assign(1_000)
    rng = np.random.default_rng(0)
    z_mean = rng.normal(size=(32, kwargs["latent_dim"])).astype("float32")
    z_log_var = rng.normal(scale=0.3, size=z_mean.shape).astype("float32")
    z = z_mean + np.exp(z_log_var / 2) * rng.normal(size=z_mean.shape).astype("float32")
    loss, _ = model.regularizer(*(keras.ops.convert_to_tensor(a) for a in (z_mean, z_log_var, z)),
                                training=True)
    return float(keras.ops.convert_to_numpy(loss))


@pytest.mark.parametrize("name", ["unsupervised_study_v1", "cpu_dsprites"])
def test_every_setting_of_a_named_study_changes_the_objective(name):
    # A grid value the model ignores (as `beta` was under the capacity schedule)
    # would train one model six times under six names.
    spec = study.get_study(name)
    for recipe, arguments in spec.grid.items():
        for argument, values in arguments.items():
            default = study.run_recipe(study.Run(recipe, (), 0, 1)).model_kwargs.get(argument)
            distinct = sorted({*values, default} - {None})
            losses = [_setting_loss(study.Run(recipe, ((argument, v),), 0, 1)) for v in distinct]
            assert len(distinct) >= 2, (recipe, argument)
            assert len({round(x, 5) for x in losses}) == len(losses), (recipe, argument, losses)


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="runs are subprocesses of the same library code on every backend")
def test_a_run_of_an_edited_recipe_is_trained_again(tmp_path):
    vae, _ = _recipes(tmp_path)
    spec = study.Study(name="edit", grid={vae: {}}, seeds=(0,), steps=3)
    out = tmp_path / "study"
    study.run_study(spec, str(out), log=lambda line: None)
    (run,) = study.plan(spec)
    assert study.run_metadata(str(out), run) is not None
    with open(vae) as f:
        text = f.read()
    with open(vae, "w") as f:
        f.write(text.replace("latent_dim=2", "latent_dim=3"))
    assert study.stale_keys(str(out), run) == ["model_kwargs"]
    assert study.run_metadata(str(out), run) is None  # its metrics are another model's
    log = []
    study.run_study(spec, str(out), log=log.append)
    assert "holds a run of another model_kwargs" in log[0] and "skipped" not in log[0]
    config = json.loads((out / "runs" / run.name / "preset" / "config.json").read_text())
    assert config["config"]["latent_dim"] == 3
    assert study.stale_keys(str(out), run) == [] and study.run_metadata(str(out), run)


def test_job_environment_shares_the_cores(monkeypatch):
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                 "XLA_FLAGS"):
        monkeypatch.delenv(name, raising=False)
    one = study.job_environment(1, cpus=8)
    assert "TF_NUM_INTRAOP_THREADS" not in one and "XLA_FLAGS" not in one
    four = study.job_environment(2, cpus=8)
    assert (four["TF_NUM_INTRAOP_THREADS"], four["TF_NUM_INTEROP_THREADS"],
            four["OMP_NUM_THREADS"]) == ("4", "4", "4")
    assert "XLA_FLAGS" not in four  # XLA keeps its threads when a job has several cores
    single = study.job_environment(3, cpus=2)  # more jobs than cores: one thread each
    assert single["OMP_NUM_THREADS"] == "1"
    assert single["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")
    kept = study.job_environment(2, cpus=2)
    assert kept["OMP_NUM_THREADS"] == "3" and kept["TF_NUM_INTRAOP_THREADS"] == "1"
    assert kept["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"
    with pytest.raises(ValueError, match="jobs"):
        study.job_environment(0)


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="runs are subprocesses of the same library code on every backend")
def test_parallel_jobs_train_every_run_and_a_failure_stops_new_ones(tmp_path):
    vae, beta = _recipes(tmp_path)
    spec = study.Study(name="jobs", grid={vae: {}, beta: {}}, seeds=(0, 1), steps=3)
    out = tmp_path / "study"
    log = []
    study.run_study(spec, str(out), log=log.append, jobs=2)
    assert sum("trained 3 steps" in line for line in log) == 4
    assert all(study.run_metadata(str(out), r) for r in study.plan(spec))
    assert json.loads((out / "study.json").read_text())["finished_runs"] == 4
    log = []
    study.run_study(spec, str(out), log=log.append, jobs=2)
    assert sum("skipped" in line for line in log) == 4

    bad = tmp_path / "tiny_bad.py"
    bad.write_text(RECIPE.format(name="tiny_bad", model="VAE", extra="").replace(
        "latent_dim=2", "latent_dim=0"))
    spec = study.Study(name="fails", grid={str(bad): {}, vae: {}}, seeds=(0,), steps=3)
    out = tmp_path / "fails"
    with pytest.raises(RuntimeError, match=r"Run tiny_bad__default__seed0 failed"):
        study.run_study(spec, str(out), log=lambda line: None, jobs=2)
    good = [r for r in study.plan(spec) if r.method == "tiny_vae"]
    assert study.run_metadata(str(out), good[0])  # the run already started finished


def test_ship_presets_refuses_a_training_layers_that_is_not_a_bool(tmp_path):
    with pytest.raises(TypeError, match=r"`training_layers` must be True or False. "
                                        r"Received: training_layers=None"):
        study.ship_presets("cpu_dsprites", str(tmp_path), str(tmp_path / "zoo"),
                           training_layers=None)
    assert not (tmp_path / "zoo").exists()
