"""Train the dSprites recipes for the literature's schedule on one GPU, many runs at once.

disentanglement_lib's schedule (Locatello et al. 2019) is 300,000 steps of
batch 64 with Adam 1e-4 for every run. This script trains several runs
(seeds, and recipes) in ONE process on ONE device as a
`keras_vae.ensemble.SeedEnsemble`: exactly K independent runs (one Adam over
the sum of K disjoint losses), on JAX on a GPU with the seeds of one recipe
vectorized (`jax.vmap`; `--vectorize fastest` times a block each way and
keeps the faster), many steps per jitted call (`lax.fori_loop`), and the
training images on the device (all 737,280 procedural dSprites as uint8,
3 GB; batches gathered on the device by indices drawn from a counter-based
hash of seed and step).

    KERAS_BACKEND=jax python zoo/gpu_study.py \\
        --recipes beta_vae_dsprites beta_tcvae_dsprites --seeds 0 1 2 \\
        --steps 300000 --out studies/gpu --max-seconds 540

    python zoo/gpu_study.py --study dsprites_300k --out studies/gpu --max-seconds 540
    keras-vae study dsprites_300k --out studies/gpu --report    # the table

It is resumable: the ensemble checkpoints atomically into
`OUT/ensembles/ensemble-<hash>/` every `--checkpoint-every` steps and when it
stops, and a rerun with the same arguments continues from the last
checkpoint. `--max-seconds` is a wall-clock budget counted from the start of
the process (data drawing and compilation included): training stops with a
checkpoint before the next block of steps would overrun it; evaluation and
presets come after, for a run that reached `--steps`. So on a machine lent
for 10 minutes at a time, `--max-seconds 420` leaves room for the rest, and
the next invocation picks up where this one stopped.

When the runs reach `--steps`, each is evaluated (`keras_vae.assessment.
evaluate`, the recipe's metrics: ELBO, IWAE, active units, MIG, FactorVAE
score, DCI, SAP; `--no-evaluate` to skip) and written as a keras-vae preset
in `OUT/runs/<run>/preset` (`keras_vae.from_preset` loads it), named as
`keras_vae.study` names its runs (`<recipe>__default__seed0`, or a study's
`<recipe>__beta-4__seed0`), with `keras_vae.training.write_preset`'s metadata
(recipe, seed, steps, learning rate, batch size, wall time, hardware) and
the metrics: `keras-vae study NAME --out OUT --report` then tabulates them.
`OUT/gpu_study.json` records the timings (drawing, compilation, training,
steps/s, checkpoints, evaluation).

What it costs. `--estimate-flops` prints XLA's count of one training step
(JAX cost analysis, on any machine). For the standard 64x64 network of these
recipes (4 conv layers of 32-32-64-64 filters, 256 dense units, 10 latents,
the mirrored decoder; 0.76M parameters) one step of batch 64 (forward,
backward, Adam) is 6.4 GFLOP per run, so 300,000 steps are 1.9 PFLOP per run
(FactorVAE, with its 6 x 1000 discriminator: 11.6 GFLOP and 3.5 PFLOP).
300,000 steps in 10 minutes is 500 steps/s of the ensemble, 2 ms a step,
whatever the number of runs K in it; the arithmetic that takes grows with
K: 3.2 TFLOP/s for one run, 9.6 for three seeds of a recipe, 75 for the 21
runs of `dsprites_300k` (150 GFLOP a step). An H200 does about 495 TFLOP/s
of dense TF32 at best (67 in plain float32), but one run of this small
network is latency-bound: a step is a few hundred small kernels, each
launched and waited for, which is why K runs share each step (vectorized:
one set of kernels with K times the work each). Split a study that does not
fit over several invocations (it resumes) or several ensembles (`--recipes`
subsets). bench/RESULTS.md has the measured speeds.

FactorVAE's discriminators train with their own Adam (as `FactorVAE.compile`
does); every recipe here can join an ensemble.
"""

import argparse
import dataclasses
import os
import sys
import threading
import time

import numpy as np

# Run from a source checkout (`python zoo/gpu_study.py`): import its keras_vae.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_ROOT, "keras_vae")) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

DEFAULT_RECIPES = ("vae_dsprites", "beta_vae_dsprites", "annealed_vae_dsprites",
                   "beta_tcvae_dsprites", "dip_vae_i_dsprites", "dip_vae_ii_dsprites",
                   "factor_vae_dsprites")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="gpu_study.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--recipes", nargs="+", default=None, metavar="RECIPE",
                      help="recipes (names or files) to train with each seed "
                           f"(default: {' '.join(DEFAULT_RECIPES)})")
    what.add_argument("--study", default=None,
                      help="a named study of keras_vae.study (its grid of recipes and "
                           "settings, its learning rate; --seeds and --steps override)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="seeds (default 0 1 2, or the study's)")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per run (default: the recipes' 300,000, or "
                             "the study's)")
    parser.add_argument("--out", default=os.path.join("studies", "gpu"),
                        help="output folder (runs/, ensembles/, gpu_study.json)")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="wall-clock budget of this invocation, from its start: stop "
                             "training with a checkpoint before overrunning it")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="most steps to train in this invocation")
    parser.add_argument("--num-images", type=int, default=None,
                        help="train on a seeded random subset of this many images "
                             "(default: all 737,280)")
    parser.add_argument("--data-seed", type=int, default=0,
                        help="seed of the --num-images subset")
    parser.add_argument("--steps-per-call", type=int, default=1000,
                        help="training steps per jitted device call (JAX)")
    parser.add_argument("--checkpoint-every", type=int, default=20_000,
                        help="steps between checkpoints")
    parser.add_argument("--backend", choices=("jax", "tensorflow", "torch"), default=None,
                        help="Keras backend (default: $KERAS_BACKEND, else jax)")
    parser.add_argument("--vectorize", choices=("auto", "yes", "no", "fastest"), default="auto",
                        help="JAX: run the seeds of a recipe under jax.vmap (yes; auto on "
                             "JAX), one after the other in the step (no), or time a block of "
                             "each and keep the faster (fastest)")
    parser.add_argument("--device-loop", choices=("auto", "yes", "no"), default="auto",
                        help="JAX: many steps per call in a lax.fori_loop (yes; auto on an "
                             "accelerator) or a host loop over the jitted step (no; auto on a CPU)")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="write the presets without metrics")
    parser.add_argument("--quick-eval", action="store_true",
                        help="smaller samples for the metrics (keras-vae train --quick)")
    parser.add_argument("--eval-workers", type=int, default=None,
                        help="processes evaluating the runs in parallel, on the CPU "
                             "(default: half the CPU cores, at most one per run; 1 evaluates "
                             "in this process)")
    parser.add_argument("--presets-at-stop", action="store_true",
                        help="also write presets (without metrics) when training stops "
                             "before --steps; their metadata records the steps done")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes drawing the images (default: the CPU count)")
    parser.add_argument("--estimate-flops", action="store_true",
                        help="print XLA's FLOP count of one training step (JAX) and stop")
    parser.add_argument("--force", action="store_true",
                        help="discard the checkpoint of another ensemble in the same folder")
    args = parser.parse_args(argv)
    for name in ("steps", "max_steps", "num_images", "steps_per_call", "checkpoint_every",
                 "workers", "eval_workers"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "max_steps" else 1):
            parser.error(f"argument --{name.replace('_', '-')} must be >= "
                         f"{0 if name == 'max_steps' else 1}. Received: {value}")
    if args.seeds is not None and not args.seeds:
        parser.error("argument --seeds needs at least one seed. Received: none")
    if args.seeds is not None and len(set(args.seeds)) != len(args.seeds):
        parser.error(f"argument --seeds must not repeat a seed. Received: {args.seeds}")
    if args.max_seconds is not None and args.max_seconds <= 0:
        parser.error(f"argument --max-seconds must be > 0. Received: {args.max_seconds}")
    return args


# === Runs ===


def plan_runs(recipes=None, study=None, seeds=None, steps=None):
    """`[keras_vae.ensemble.Member]` of a list of recipes x seeds, or of a study.

    Runs are named as `keras_vae.study` names them, so a study's report
    finds their presets.
    """
    from keras_vae import ensemble
    from keras_vae import recipes as recipes_lib
    from keras_vae import study as study_lib

    if study is not None:
        spec = study_lib.get_study(study)
        planned = study_lib.plan(spec, steps=steps, seeds=seeds)
        learning_rate = spec.learning_rate
    else:
        names = list(DEFAULT_RECIPES if recipes is None else recipes)
        if not names:
            raise ValueError("Argument `recipes` must name at least one recipe. Received: []")
        seeds = (0, 1, 2) if seeds is None else tuple(seeds)
        if not seeds:
            raise ValueError("Argument `seeds` must hold at least one seed. Received: seeds=()")
        planned = [study_lib.Run(name, (), seed, steps or recipes_lib.load_recipe(name).steps)
                   for seed in seeds for name in names]
        learning_rate = None
    members = []
    for run in planned:
        recipe = study_lib.run_recipe(run)
        recipe = dataclasses.replace(
            recipe, learning_rate=recipe.learning_rate if learning_rate is None else learning_rate,
            steps=run.steps)
        members.append(ensemble.Member(run.name, recipe, run.seed))
    steps_seen = sorted({m.recipe.steps for m in members})
    if len(steps_seen) > 1:
        raise ValueError("The runs of one ensemble train for one number of steps; pass "
                         f"--steps. Received: steps {steps_seen}")
    return members, planned


# === Images ===

_SHARED = {}


def _render_blocks(blocks):
    data, index, out = _SHARED["data"], _SHARED["index"], _SHARED["out"]
    for start, stop in blocks:
        out[start:stop] = data.imgs(index[start:stop])


def _fork_is_safe():
    if sys.platform == "win32" or threading.active_count() > 1:
        return False
    jax_bridge = sys.modules.get("jax._src.xla_bridge")
    return not (jax_bridge is not None and getattr(jax_bridge, "_backends", None))


def render_dsprites(num_images=None, seed=0, workers=None):
    """Procedural dSprites as uint8 `(N, 64, 64)` of 0/1, drawn in parallel.

    All 737,280 images (3 GB), or a seeded random subset of `num_images`
    (sorted indices). Drawn by `workers` forked processes into shared
    memory (serially where forking is not safe, e.g. after JAX started).

    Returns:
        `(images, description)`: the array, and a dict naming the data.
    """
    import mmap
    import multiprocessing

    from keras_vae.datasets import open_dsprites

    data = open_dsprites()
    total = len(data)
    if num_images is None or num_images >= total:
        index, subset = np.arange(total), None
    else:
        index = np.sort(np.random.default_rng(seed).choice(total, num_images, replace=False))
        subset = seed
    n = len(index)
    buffer = mmap.mmap(-1, n * 64 * 64)
    out = np.frombuffer(buffer, np.uint8).reshape(n, 64, 64)
    workers = workers or os.cpu_count() or 1
    blocks = [(a, min(a + 4096, n)) for a in range(0, n, 4096)]
    _SHARED.update(data=data, index=index, out=out)
    try:
        if workers > 1 and len(blocks) > 1 and _fork_is_safe():
            # Forked children write their share of the blocks into the shared
            # buffer (nothing is pickled).
            context = multiprocessing.get_context("fork")
            children = [context.Process(target=_render_blocks, args=(blocks[i::workers],))
                        for i in range(min(workers, len(blocks)))]
            for child in children:
                child.start()
            for child in children:
                child.join()
            failed = [c.exitcode for c in children if c.exitcode != 0]
            if failed:
                raise RuntimeError(f"Drawing the images failed in {len(failed)} worker "
                                   f"processes (exit codes {failed})")
        else:
            _render_blocks(blocks)
    finally:
        _SHARED.clear()
    description = {"dataset": "dsprites", "source": "procedural", "num_images": n,
                   "subset_seed": subset}
    return out, description


# === Evaluation ===


def _evaluate_preset(task):
    """One run's metrics, from its preset (in a worker process or here)."""
    name, preset_dir, recipe, seed, quick = task
    import keras_vae
    from keras_vae import assessment

    tic = time.monotonic()
    try:
        model = keras_vae.from_preset(preset_dir)
        metrics = assessment.evaluate(model, recipe, seed=seed, quick=quick)
    except Exception as e:  # one run's failure leaves the others' metrics
        return name, None, f"{type(e).__name__}: {e}", time.monotonic() - tic
    return name, metrics, None, time.monotonic() - tic


def evaluate_runs(members, presets, quick=False, workers=1):
    """`{run name: metrics}` of the written presets (`keras_vae.assessment.evaluate`).

    With `workers > 1`, in that many spawned processes on the CPU (the
    metrics' classifiers run on the CPU; the device stays free), each
    loading its run's preset.
    """
    import multiprocessing

    tasks = [(m.name, presets[m.name], m.recipe, m.seed, quick) for m in members]
    if workers <= 1 or len(tasks) <= 1:
        results = [_evaluate_preset(task) for task in tasks]
    else:
        hidden = {"JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
        saved = {k: os.environ.get(k) for k in hidden}
        os.environ.update(hidden)  # the workers start with this environment
        try:
            with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
                results = pool.map(_evaluate_preset, tasks)
        finally:  # this process's environment as it was
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    metrics = {}
    for name, values, error, seconds in results:
        if error is not None:
            _log(f"{name}: evaluation failed after {seconds:.0f}s: {error}")
            continue
        metrics[name] = values
        _log(f"{name} ({seconds:.0f}s): " + ", ".join(
            f"{k} {v:.3f}" for k, v in values.items() if isinstance(v, float)))
    return metrics


# === FLOPs ===


def estimate_flops(members):
    """XLA's FLOP count of one training step of the ensemble (JAX)."""
    import jax
    import keras

    from keras_vae import ensemble

    model = ensemble.SeedEnsemble([ensemble.build_member(m.recipe, m.seed) for m in members])
    model.compile(optimizer=keras.optimizers.Adam(members[0].recipe.learning_rate))
    model.optimizer.build(model.trainable_variables)
    state = tuple([v.value for v in vs] for vs in (
        model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
        model.metrics_variables))
    x = jax.numpy.zeros((len(members), members[0].recipe.batch_size)
                        + tuple(model.image_shape), "float32")
    compiled = jax.jit(model.train_step).lower(state, (x,)).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return float(cost["flops"]), int(model.count_params())


# === Main ===


def _log(message):
    print(f"[gpu_study {time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv=None):
    started = time.monotonic()
    args = parse_args(argv)
    backend = args.backend or os.environ.get("KERAS_BACKEND") or "jax"
    loaded = sys.modules.get("keras")
    if loaded is not None and loaded.backend.backend() != backend:
        raise ValueError(f"Keras is already imported with the {loaded.backend.backend()} "
                         f"backend. Received: --backend {backend}")
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

    members, planned = plan_runs(args.recipes, args.study, args.seeds, args.steps)
    steps = members[0].recipe.steps
    if args.estimate_flops:
        flops, params = estimate_flops(members)
        per_run = flops / len(members)
        _log(f"{len(members)} runs, {params:,} parameters: {flops / 1e9:.1f} GFLOP per step "
             f"({per_run / 1e9:.1f} per run-step); {steps:,} steps = "
             f"{flops * steps / 1e15:.1f} PFLOP; in 10 minutes: "
             f"{flops * steps / 600 / 1e12:.0f} TFLOP/s sustained")
        return 0

    from keras_vae import study as study_lib

    out = os.fspath(args.out)
    runs_dir = os.path.join(out, study_lib.RUNS_DIR)
    todo = [m for m, run in zip(members, planned) if study_lib.run_metadata(out, run) is None]
    summary_path = os.path.join(out, "gpu_study.json")
    os.makedirs(out, exist_ok=True)
    if not todo:
        _log(f"all {len(members)} runs are finished in {runs_dir}")
        _report(args, out, planned)
        return 0
    _log(f"{len(todo)} runs to train ({len(members) - len(todo)} finished): "
         + ", ".join(m.name for m in todo))

    tic = time.monotonic()
    images, data = render_dsprites(args.num_images, args.data_seed, args.workers)
    render_s = time.monotonic() - tic
    _log(f"drew {len(images):,} dSprites images in {render_s:.1f}s")

    import keras

    from keras_vae import ensemble

    result = ensemble.train_ensemble(
        todo, images, ensemble.ensemble_dir(out, todo), steps,
        steps_per_call=args.steps_per_call, checkpoint_every=args.checkpoint_every,
        max_seconds=args.max_seconds, max_steps=args.max_steps, started=started,
        vectorize={"yes": True, "no": False}.get(args.vectorize, args.vectorize),
        device_loop={"yes": True, "no": False}.get(args.device_loop, args.device_loop),
        data=data, force=args.force, log=_log)
    timings = {"render_s": round(render_s, 1), **result.timings}
    _log(f"trained to step {result.steps_done:,} of {steps:,} ({timings})")

    written = {}
    if result.finished or args.presets_at_stop:
        tic = time.monotonic()
        written = ensemble.write_presets(result, runs_dir)
        timings["presets_s"] = round(time.monotonic() - tic, 1)
        _log(f"wrote {len(written)} presets in {runs_dir}")
        if result.finished and not args.no_evaluate:
            tic = time.monotonic()
            workers = args.eval_workers or min(len(todo), max(1, (os.cpu_count() or 1) // 2))
            metrics = evaluate_runs(todo, written, args.quick_eval, workers)
            timings["evaluate_s"] = round(time.monotonic() - tic, 1)
            ensemble.write_presets(result, runs_dir, metrics)  # again, with the metrics
            _log(f"wrote the metrics of {len(metrics)} runs into their presets")
    else:
        _log(f"not finished: rerun the same command to continue from step "
             f"{result.steps_done:,}")

    summary = {
        "command": [os.path.basename(sys.argv[0])] + list(sys.argv[1:] if argv is None else argv),
        "backend": keras.backend.backend(), "hardware": ensemble.hardware(),
        "runs": [m.name for m in todo], "steps": steps, "steps_done": result.steps_done,
        "finished": result.finished, "vectorized_groups": [list(g) for g in result.ensemble.groups],
        "data": data, "timings": timings, "wall_s": round(time.monotonic() - started, 1),
        "ensemble_dir": result.out, "presets": written,
    }
    from keras_vae import _atomic

    _atomic.write_json(summary_path, summary)
    _log(f"wrote {summary_path}")
    if result.finished:
        _report(args, out, planned)
    return 0


def _report(args, out, planned):
    """The study table of the finished runs (for a named study)."""
    if args.study is None:
        return
    from keras_vae import study as study_lib

    rows = study_lib.report(args.study, out, planned)
    print(study_lib.markdown_table(rows))
    _log(f"wrote {os.path.join(out, 'study.md')}")


if __name__ == "__main__":
    sys.exit(main())
