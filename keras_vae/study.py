"""Studies: grids of recipes x hyperparameters x seeds, run and reported as the literature does.

Disentanglement scores vary more between random seeds than between methods
(Locatello et al. 2019, "Challenging common assumptions in the unsupervised
learning of disentangled representations", ICML), so a method is compared by
the distribution of its scores over seeds and settings: medians and
interquartile ranges, violin plots per method, and reconstruction against
disentanglement.

A study is a `Study`: for each recipe, the values of one (or more) model
hyperparameters, and the seeds. `run_study` trains every run as its own
resumable `keras-vae train` directory (`OUT/runs/<run>`), in a subprocess so
that runs do not share state; a run whose preset already holds its metrics
for the requested steps is skipped, so an interrupted study picks up where it
stopped. `plan` lists the runs and estimates the study's time from a
measured steps/s; `report` writes `OUT/study.md`, `OUT/study.json` and PNG
plots.
"""

import concurrent.futures
import dataclasses
import itertools
import json
import os
import subprocess
import sys
import time

import numpy as np

from keras_vae import _atomic
from keras_vae import _validation

RUNS_DIR = "runs"
RECIPES_DIR = "recipes"
# Metrics shown in the study table and plots, with their column titles.
TABLE_METRICS = (
    ("mig", "MIG"), ("factor_vae_score", "FactorVAE"), ("dci_disentanglement", "DCI D"),
    ("sap", "SAP"), ("beta_vae_score", "BetaVAE"), ("test_reconstruction_loss", "recon (nats)"),
    ("test_elbo", "test ELBO"),
)


@dataclasses.dataclass(frozen=True)
class Study:
    """A grid of recipes x hyperparameter values x seeds.

    Attributes:
        name: the study's name.
        grid: `{recipe: {model_argument: (value, ...)}}`; a recipe with an
            empty dict runs its own settings. Several arguments of one recipe
            are crossed.
        seeds: the seeds every setting is trained with.
        steps: training steps per run (None: each recipe's own).
        learning_rate: Adam learning rate for every run (None: each recipe's).
        description: one line, with the source of the grid.
    """

    name: str
    grid: dict
    seeds: tuple = (0, 1, 2)
    steps: int = None
    learning_rate: float = None
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of a study."""

    recipe: str
    overrides: tuple  # ((argument, value), ...)
    seed: int
    steps: int

    @property
    def setting(self):
        """`"beta=4"`-style label of the hyperparameters ("default" if none)."""
        return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in self.overrides) or "default"

    @property
    def method(self):
        """The recipe's name (a recipe file's name without `.py`)."""
        base = os.path.basename(os.fspath(self.recipe))
        return base[:-3] if base.endswith(".py") else base

    @property
    def name(self):
        setting = self.setting.replace("=", "-").replace(",", "_")
        return f"{self.method}__{setting}__seed{self.seed}"


# disentanglement_lib's unsupervised_study_v1 (Locatello et al. 2019, table 2
# of the appendix): six methods, six values of each one's regularization
# strength, batch 64, Adam 1e-4, 300,000 steps; the paper trained 50 seeds.
UNSUPERVISED_STUDY_V1 = Study(
    name="unsupervised_study_v1",
    grid={
        "beta_vae_dsprites": {"beta": (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)},
        "annealed_vae_dsprites": {"c_max": (5.0, 10.0, 25.0, 50.0, 75.0, 100.0)},
        "factor_vae_dsprites": {"gamma": (10.0, 20.0, 30.0, 40.0, 50.0, 100.0)},
        "dip_vae_i_dsprites": {"lambda_od": (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)},
        "dip_vae_ii_dsprites": {"lambda_od": (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)},
        "beta_tcvae_dsprites": {"beta": (1.0, 2.0, 4.0, 6.0, 8.0, 10.0)},
    },
    seeds=tuple(range(50)),
    steps=300_000,
    learning_rate=1e-4,
    description="disentanglement_lib unsupervised_study_v1 (Locatello et al. 2019): "
                "6 methods x 6 settings x 50 seeds, 300k steps",
)

# The six methods at one setting each (the one disentanglement_lib's best
# models favour), three seeds, a CPU budget of steps. The AnnealedVAE's
# capacity reaches c_max at a third of the run, as 100k of disentanglement_lib's
# 300k steps do (at its own 100k it would end the run at 1.5 of 25 nats).
CPU_STUDY = Study(
    name="cpu_dsprites",
    grid={
        "vae_dsprites": {},
        "beta_vae_dsprites": {},
        "annealed_vae_dsprites": {"iteration_threshold": (2_000,)},
        "factor_vae_dsprites": {},
        "dip_vae_i_dsprites": {},
        "dip_vae_ii_dsprites": {},
        "beta_tcvae_dsprites": {},
    },
    seeds=(0, 1, 2),
    steps=6_000,
    learning_rate=5e-4,
    description="each method at its recipe's setting, 3 seeds, 6,000 steps at lr 5e-4 "
                "(a CPU budget; AnnealedVAE's capacity reaches c_max at step 2,000)",
)

# The seven dSprites recipes at their own settings, three seeds, the
# literature's schedule: a GPU's study (`zoo/gpu_study.py --study
# dsprites_300k` trains its runs together on one device, in this layout).
DSPRITES_300K = Study(
    name="dsprites_300k",
    grid={name: {} for name in CPU_STUDY.grid},
    seeds=(0, 1, 2),
    steps=300_000,
    description="each method at its recipe's setting, 3 seeds, the literature's 300k steps "
                "of batch 64 at Adam 1e-4 (a GPU budget: zoo/gpu_study.py)",
)

STUDIES = {study.name: study
           for study in (UNSUPERVISED_STUDY_V1, CPU_STUDY, DSPRITES_300K)}


def get_study(name_or_study):
    """A `Study` from itself or a named study."""
    if isinstance(name_or_study, Study):
        return name_or_study
    if name_or_study in STUDIES:
        return STUDIES[name_or_study]
    raise ValueError(f"Unknown study {name_or_study!r}; expected one of {sorted(STUDIES)} "
                     f"or a keras_vae.study.Study. Received: study={name_or_study!r}")


def plan(study, steps=None, seeds=None):
    """The study's runs, in the order they are trained (seed-major, so a
    partial study has every setting at its first seeds).

    Args:
        steps: overrides the study's steps per run.
        seeds: overrides the study's seeds.
    """
    from keras_vae import recipes

    study = get_study(study)
    if steps is not None:
        steps = _validation.check_int("steps", steps, minimum=1)
    seeds = study.seeds if seeds is None else tuple(
        _validation.check_int("seeds", s, minimum=0) for s in seeds)
    if not seeds:
        raise ValueError(f"A study needs at least one seed. Received: seeds={seeds!r}")
    settings = []
    for recipe_name, arguments in study.grid.items():
        recipe = recipes.load_recipe(recipe_name)
        names = sorted(arguments)
        for values in itertools.product(*(arguments[n] for n in names)):
            settings.append((recipe_name, tuple(zip(names, values)),
                             steps or study.steps or recipe.steps))
    return [Run(recipe, overrides, seed, run_steps)
            for seed in seeds for recipe, overrides, run_steps in settings]


def _recipe_file(out, run, learning_rate):
    """Writes the run's recipe (the base recipe with its overrides) as a file."""
    folder = os.path.join(out, RECIPES_DIR)
    os.makedirs(folder, exist_ok=True)
    name = run.name.rsplit("__seed", 1)[0]
    path = os.path.join(folder, f"{name}.py")
    base = os.path.abspath(run.recipe) if run.recipe.endswith(".py") else run.recipe
    text = (
        '"""Written by keras_vae.study: a shipped recipe with a study\'s overrides."""\n\n'
        "import dataclasses\n\nfrom keras_vae.recipes import load_recipe\n\n"
        f"_BASE = load_recipe({base!r})\n"
        "RECIPE = dataclasses.replace(\n    _BASE,\n"
        f"    model_kwargs={{**_BASE.model_kwargs, **{dict(run.overrides)!r}}},\n"
        + (f"    learning_rate={learning_rate!r},\n" if learning_rate is not None else "")
        + ")\n"
    )
    with _atomic.atomic_open(path) as f:
        f.write(text)
    return path


def run_recipe(run):
    """The run's `Recipe`: its base recipe with the run's overrides."""
    from keras_vae.recipes import load_recipe

    base = load_recipe(run.recipe)
    return dataclasses.replace(base, model_kwargs={**base.model_kwargs, **dict(run.overrides)})


def stale_keys(out, run):
    """What the run directory's `run.json` records differently from the run asked for.

    A recipe edited after a study trained it (another model argument, data
    set, batch size...) makes the run's directory hold another run: its
    metrics are not this run's. Returns the identity keys that differ (see
    `keras_vae.training.train`'s run directories), `[]` if none do or the run
    has not started.
    """
    from keras_vae import _runs

    manifest = _runs.read_manifest(os.path.join(out, RUNS_DIR, run.name))
    if manifest is None:
        return []
    return _runs.identity_differences(manifest, run_recipe(run), run.seed)


def run_metadata(out, run):
    """The finished run's preset metadata, or None if it has not finished.

    A run trained from another version of its recipe (`stale_keys`) has not
    finished either.
    """
    path = os.path.join(out, RUNS_DIR, run.name, "preset", "metadata.json")
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    if meta.get("steps") != run.steps or "metrics" not in meta or stale_keys(out, run):
        return None
    return meta


def _train_command(out, run, learning_rate, quick, force=False):
    command = [sys.executable, "-m", "keras_vae.cli", "train",
               _recipe_file(out, run, learning_rate), "--steps", str(run.steps),
               "--seed", str(run.seed), "--out", os.path.join(out, RUNS_DIR, run.name),
               "--no-export", "--verbose", "0"]
    return command + (["--quick"] if quick else []) + (["--force"] if force else [])


def measure_run_time(study, out, probe_steps=30, quick=False, jobs=1):
    """Seconds per run of each recipe: a probe run's fixed cost plus steps/s.

    Trains the first setting of every recipe twice in a scratch folder, for
    `probe_steps` and `2 * probe_steps` steps, each timed end to end (process
    start, data, training, evaluation, figures); the difference gives the
    steps/s, the rest the fixed cost. With `jobs` > 1 the probes run with
    the threads each of `jobs` concurrent runs gets (`job_environment`).

    Returns:
        `{recipe: (fixed_seconds, steps_per_second)}`.
    """
    study = get_study(study)
    probe_steps = _validation.check_int("probe_steps", probe_steps, minimum=1)
    jobs = _validation.check_int("jobs", jobs, minimum=1)
    scratch = os.path.join(out, "probe")
    measured = {}
    for run in plan(study, steps=probe_steps, seeds=(0,)):
        if run.recipe in measured:
            continue
        times = []
        for steps in (probe_steps, 2 * probe_steps):
            probe = dataclasses.replace(run, steps=steps, seed=len(times))
            tic = time.perf_counter()
            _execute(_train_command(scratch, probe, study.learning_rate, quick), probe,
                     job_environment(jobs))
            times.append(time.perf_counter() - tic)
        per_step = max((times[1] - times[0]) / probe_steps, 1e-6)
        measured[run.recipe] = (max(times[0] - probe_steps * per_step, 0.0), 1.0 / per_step)
    return measured


def estimate_seconds(runs, measured, jobs=1):
    """The study's estimated seconds from `measure_run_time`'s numbers (measured
    with the same `jobs`): `jobs` runs at a time share the total."""
    jobs = _validation.check_int("jobs", jobs, minimum=1)
    return sum(measured[r.recipe][0] + r.steps / measured[r.recipe][1] for r in runs) / jobs


def job_environment(jobs, cpus=None):
    """The environment of each run's process when `jobs` runs train at once.

    Each run gets `cpus // jobs` threads (at least one) for TensorFlow's
    intra- and inter-op pools and OpenMP (PyTorch), and with one thread
    XLA's CPU backend (JAX) runs single-threaded: `jobs` processes with
    all the cores each would oversubscribe the machine. Variables the
    environment already sets are kept. One job changes nothing.
    """
    jobs = _validation.check_int("jobs", jobs, minimum=1)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    if jobs == 1:
        return env
    threads = max(1, (cpus or os.cpu_count() or 1) // jobs)
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(name, str(threads))
    flags = env.get("XLA_FLAGS", "")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in flags:
        env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    return env


def _execute(command, run, env):
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"Run {run.name} failed (exit {result.returncode}): {tail[0]}. "
                           f"Command: {' '.join(command)}")


def run_study(study, out, steps=None, seeds=None, quick=False, log=print, jobs=1):
    """Trains every unfinished run of the study into `out/runs/`, then reports.

    Args:
        jobs: how many runs train at once, each in its own process with
            its share of the cores (`job_environment`). On a machine with
            more cores than one small run uses, more jobs finish the study
            sooner; results are those of one job up to float noise (threads
            change the order of float sums). If a run fails, the runs
            already started finish, no new one starts, and the error is
            raised.

    Returns:
        The report's rows (see `aggregate`).
    """
    study = get_study(study)
    out = os.fspath(out)
    jobs = _validation.check_int("jobs", jobs, minimum=1)
    runs = plan(study, steps=steps, seeds=seeds)
    os.makedirs(out, exist_ok=True)
    _atomic.write_json(os.path.join(out, "plan.json"), {
        "study": study.name, "runs": [dataclasses.asdict(r) | {"name": r.name} for r in runs]})
    env = job_environment(jobs)
    todo = []
    for index, run in enumerate(runs, 1):
        if run_metadata(out, run) is not None:
            log(f"[{index}/{len(runs)}] {run.name}: done, skipped")
        else:
            todo.append((index, run))

    def train(index, run):
        stale = stale_keys(out, run)
        if stale:
            log(f"[{index}/{len(runs)}] {run.name}: its directory holds a run of another "
                f"{', '.join(stale)} (the recipe changed): training it from the start")
        tic = time.perf_counter()
        _execute(_train_command(out, run, study.learning_rate, quick, force=bool(stale)), run,
                 env)
        log(f"[{index}/{len(runs)}] {run.name}: trained {run.steps} steps in "
            f"{time.perf_counter() - tic:.0f}s")

    if jobs == 1:
        for index, run in todo:
            train(index, run)
    else:
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            futures = [pool.submit(train, index, run) for index, run in todo]
            try:
                for future in concurrent.futures.as_completed(futures):
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    return report(study, out, runs)


def collect(out, runs):
    """`[(run, metrics)]` of the finished runs."""
    found = []
    for run in runs:
        meta = run_metadata(out, run)
        if meta is not None:
            found.append((run, meta["metrics"]))
    return found


def _quartiles(values):
    q25, median, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(median), float(q25), float(q75)


def aggregate(results):
    """Per (recipe, setting) and per recipe: each metric's median and IQR.

    Returns:
        A list of rows `{"recipe", "setting", "runs", "metrics": {name:
        {"median", "q25", "q75"}}}`; rows whose setting is `"all"` pool every
        setting and seed of the recipe.
    """
    groups = {}
    for run, metrics in results:
        for key in ((run.method, run.setting), (run.method, "all")):
            groups.setdefault(key, []).append(metrics)
    rows = []
    for (recipe, setting), members in sorted(groups.items()):
        summary = {}
        for name in sorted({k for m in members for k in m}):
            values = [m[name] for m in members if isinstance(m.get(name), (int, float))]
            if values:
                median, q25, q75 = _quartiles(values)
                summary[name] = {"median": median, "q25": q25, "q75": q75}
        rows.append({"recipe": recipe, "setting": setting, "runs": len(members),
                     "metrics": summary})
    return rows


def markdown_table(rows, metrics=TABLE_METRICS):
    """The rows as Markdown: `median [q25, q75]` per metric.

    A recipe's pooled `"all"` row is left out where the recipe has a single
    setting (it would repeat that setting's row).
    """
    settings = {}
    for row in rows:
        if row["setting"] != "all":
            settings.setdefault(row["recipe"], set()).add(row["setting"])
    rows = [r for r in rows if r["setting"] != "all" or len(settings.get(r["recipe"], ())) != 1]
    present = [(k, t) for k, t in metrics if any(k in r["metrics"] for r in rows)]
    lines = ["| recipe | setting | runs | " + " | ".join(t for _, t in present) + " |",
             "| --- | --- | ---: | " + " | ".join("---" for _ in present) + " |"]
    for row in rows:
        cells = []
        for key, _ in present:
            m = row["metrics"].get(key)
            cells.append("-" if m is None else
                         f"{m['median']:.3g} [{m['q25']:.3g}, {m['q75']:.3g}]")
        lines.append(f"| `{row['recipe']}` | {row['setting']} | {row['runs']} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(study, out, runs=None):
    """Writes `study.md`, `study.json` and the plots; returns the rows."""
    from keras_vae import plots

    study = get_study(study)
    runs = plan(study) if runs is None else runs
    results = collect(out, runs)
    rows = aggregate(results)
    figures = {}
    if results:
        figures = plots.study_figures(
            [(r.method, m) for r, m in results], os.path.join(out, "figures"),
            metrics=[k for k, _ in TABLE_METRICS])
    payload = {"study": study.name, "description": study.description,
               "finished_runs": len(results), "planned_runs": len(runs), "rows": rows,
               "runs": [{"name": r.name, "recipe": r.method, "setting": r.setting,
                         "seed": r.seed, "steps": r.steps, "metrics": m} for r, m in results],
               "figures": {k: os.path.relpath(v, out) for k, v in figures.items()}}
    _atomic.write_json(os.path.join(out, "study.json"), payload)
    text = [f"# Study {study.name}", "", study.description, "",
            f"{len(results)} of {len(runs)} runs finished. Each cell: median "
            "[25th, 75th percentile] over the runs of that row.", "", markdown_table(rows), ""]
    text += [f"![{k}]({os.path.relpath(v, out)})" for k, v in figures.items()]
    with _atomic.atomic_open(os.path.join(out, "study.md")) as f:
        f.write("\n".join(text) + "\n")
    return rows


def median_runs(study, out, metric="mig", runs=None):
    """For every setting whose seeds have all finished, the run of median `metric`.

    With an even number of seeds the lower of the two middle runs is taken;
    ties go to the smaller seed.

    Returns:
        `{(method, setting): (run, [(run, metrics) of every seed])}`.
    """
    study = get_study(study)
    if not isinstance(metric, str):
        raise TypeError("Argument `metric` must be a metric name string, e.g. 'mig'. "
                        f"Received: metric={metric!r} of type {type(metric).__name__}")
    runs = plan(study) if runs is None else runs
    finished = dict(((r.method, r.setting, r.seed), (r, m)) for r, m in collect(out, runs))
    chosen = {}
    for key in sorted({(r.method, r.setting) for r in runs}):
        members = [finished.get(key + (r.seed,)) for r in runs if (r.method, r.setting) == key]
        if not members or any(m is None for m in members):
            continue  # not every seed has finished
        if any(not isinstance(m.get(metric), (int, float)) for _, m in members):
            raise ValueError(f"Every run of {key[0]} ({key[1]}) must report {metric!r} to pick "
                             f"the median run. Received: metrics {sorted(members[0][1])}")
        ranked = sorted(members, key=lambda rm: (rm[1][metric], rm[0].seed))
        chosen[key] = (ranked[(len(ranked) - 1) // 2][0], members)
    return chosen


def ship_presets(study, out, destination, metric="mig", runs=None, training_layers=True):
    """Copies each setting's median-`metric` run's preset to `destination/<recipe>`.

    The copied `metadata.json` gains a `"study"` record: the study, the
    setting, how the run was chosen, every seed's metrics and each metric's
    median and interquartile range; the model card is written again from it.
    Each preset directory is replaced atomically. `training_layers=False`
    leaves out the weights only training uses (FactorVAE's discriminator;
    see `keras_vae.presets.save_preset`).

    Returns:
        `{recipe: preset directory}` of the presets written.
    """
    import shutil

    from keras_vae import model_card
    from keras_vae import presets
    from keras_vae._export import staging

    study = get_study(study)
    training_layers = _validation.check_bool("training_layers", training_layers)
    written = {}
    for (method, setting), (run, members) in median_runs(study, out, metric, runs).items():
        source = os.path.join(out, RUNS_DIR, run.name, "preset")
        with open(os.path.join(source, "metadata.json")) as f:
            metadata = json.load(f)
        summary = aggregate([(r, m) for r, m in members])[0]["metrics"]
        metadata["study"] = {
            "study": study.name, "setting": setting, "run": run.name,
            "overrides": dict(run.overrides), "selected_by": f"median {metric}",
            "seeds": {str(r.seed): {k: v for k, v in m.items() if isinstance(v, (int, float))}
                      for r, m in members},
            "spread": {k: summary[k] for k, _ in TABLE_METRICS if k in summary},
        }
        target = os.path.join(os.fspath(destination), method)
        with staging.staged_directory(target, overwrite=True) as tmp:
            for name in os.listdir(source):
                if name != "metadata.json":
                    shutil.copy2(os.path.join(source, name), tmp)
            if not training_layers:
                metadata = presets.leave_out_training_layers(tmp, metadata)
            _atomic.write_json(os.path.join(tmp, "metadata.json"), metadata)
            model_card.write_model_card(tmp, name=method)
        written[method] = target
    return written
