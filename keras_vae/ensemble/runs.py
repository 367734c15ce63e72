"""`train_ensemble` into a run directory and `write_presets`.

See `keras_vae.ensemble`.
"""

import dataclasses
import hashlib
import json
import os
import time

import keras

from keras_vae import _atomic
from keras_vae import _validation
from keras_vae.ensemble.data import Member
from keras_vae.ensemble.data import build_member
from keras_vae.ensemble.data import check_runs
from keras_vae.ensemble.device import DeviceTrainer
from keras_vae.ensemble.device import hardware
from keras_vae.ensemble.model import SeedEnsemble
from keras_vae.ensemble.model import _groups


MANIFEST = "ensemble.json"


@dataclasses.dataclass
class EnsembleResult:
    """What `train_ensemble` returns.

    Attributes:
        ensemble: the trained `SeedEnsemble` (its members in `runs` order).
        runs: the `Member`s.
        steps_done: steps trained in total (over every invocation).
        finished: whether `steps_done` reached the target steps.
        metadata: per run name, its preset metadata (without metrics).
        timings: seconds of this invocation (`compile`, `train`, `checkpoint`)
            and its steps.
        out: the ensemble's run directory.
    """

    ensemble: SeedEnsemble
    runs: list
    steps_done: int
    finished: bool
    metadata: dict
    timings: dict
    out: str

    def models(self):
        """`{run name: trained model}`."""
        return {run.name: m for run, m in zip(self.runs, self.ensemble.members)}


def _identity(runs, batch_size, learning_rate, data):
    from keras_vae import _runs

    return _runs._json_ready({
        "members": [{"name": r.name, "recipe": r.recipe.name, "model": r.recipe.model,
                     "model_kwargs": r.recipe.model_kwargs, "seed": r.seed} for r in runs],
        "batch_size": batch_size, "learning_rate": learning_rate, "data": data or {},
    })


def ensemble_dir(out, runs):
    """`out/ensembles/<hash>`: the run directory of this list of runs."""
    key = hashlib.sha1(json.dumps([r.name for r in runs]).encode()).hexdigest()[:10]
    return os.path.join(os.fspath(out), "ensembles", f"ensemble-{key}")


def train_ensemble(runs, images, out, steps, steps_per_call=1000, checkpoint_every=10_000,
                   max_seconds=None, max_steps=None, started=None, vectorize="auto",
                   jit_compile="auto", device_loop="auto", data=None, force=False, log=print,
                   log_every_s=10.0, trial_steps=200):
    """Trains the runs as one `SeedEnsemble` into the directory `out`, resumably.

    Writes `out/checkpoint.weights.h5` (every member's weights, sampling
    state and step counter, and the optimizer) atomically after every
    `checkpoint_every` steps and when stopping, keeping the previous one
    (`keras_vae._runs.save_checkpoint`), and a manifest `out/ensemble.json`
    (the runs, batch size, learning rate, data, steps done, wall time). A
    rerun resumes from the newest loadable checkpoint; one with other runs,
    data, batch size or learning rate is refused unless `force`.

    Args:
        runs: `Member`s sharing a data set, batch size and learning rate.
        images: the training images, `(N,) + image_shape` or `(N, H, W)`;
            uint8 0/1 for dSprites (cast per batch, not scaled).
        out: the ensemble's run directory.
        steps: the target number of steps.
        steps_per_call: most steps per device call (JAX).
        checkpoint_every: steps between checkpoints.
        max_seconds: wall-clock budget, counted from `started`: training stops
            (with a checkpoint) when the next block of steps and the checkpoint
            would not fit; None for no budget.
        max_steps: most steps to train in this invocation (None: no limit).
        started: `time.monotonic()` at the start of the budget (default now).
        vectorize, jit_compile: see `SeedEnsemble` and `keras.Model.compile`;
            `vectorize="fastest"` (JAX) trains one block of `trial_steps` steps
            vectorized and one not (both programs compiled; the same
            arithmetic, the steps count), then continues with the faster.
        device_loop: see `DeviceTrainer`.
        data: a JSON-able description of `images` (data set, subset), part of
            the run's identity and of each preset's metadata.
        force: discard another run's state in `out`.
        log: called with one line per progress report (at most one every
            `log_every_s` seconds, and at each checkpoint).

    Returns:
        An `EnsembleResult`.
    """
    from keras_vae import _runs

    started = time.monotonic() if started is None else started
    runs = check_runs(runs)
    steps = _validation.check_int("steps", steps, minimum=1)
    checkpoint_every = _validation.check_int("checkpoint_every", checkpoint_every, minimum=1)
    if max_seconds is not None:
        max_seconds = _validation.check_float("max_seconds", max_seconds, minimum=0.0)
    if max_steps is not None:
        max_steps = _validation.check_int("max_steps", max_steps, minimum=0)
    recipe = runs[0].recipe
    batch_size, learning_rate = recipe.batch_size, recipe.learning_rate
    out = os.fspath(out)
    _runs.check_writable(out)
    _atomic.remove_stale_in(out)
    manifest = _start_manifest(out, _identity(runs, batch_size, learning_rate, data), force)

    members = [build_member(r.recipe, r.seed) for r in runs]
    trials = []  # vectorize="fastest": a timed block with each program, then the faster
    if vectorize == "fastest":
        if keras.backend.backend() == "jax" and any(len(g) > 1 for g in _groups(members)):
            trials = [True, False]
        vectorize = keras.backend.backend() == "jax"
    ensemble = SeedEnsemble(members, vectorize=vectorize)
    ensemble.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit_compile)
    ensemble.optimizer.build(ensemble.trainable_variables)
    done = _runs.restore(ensemble, out)
    if done:
        log(f"resuming {len(runs)} runs from {out} at step {done}")
    trainer = DeviceTrainer(ensemble, images, [r.seed for r in runs], batch_size,
                            steps_per_call=steps_per_call, device_loop=device_loop)
    wall_before = float(manifest.get("wall_time_s", 0.0))
    tic = time.monotonic()
    target = steps if max_steps is None else min(steps, done + max_steps)
    timings = {"compile_s": 0.0, "train_s": 0.0, "checkpoint_s": 0.0, "steps": 0}
    per_step, save_cost, saved_at = None, 2.0, done
    next_checkpoint = (done // checkpoint_every + 1) * checkpoint_every
    logs, last_log = {}, None

    def save():
        nonlocal save_cost, saved_at
        t = time.monotonic()
        _runs.save_checkpoint(ensemble, out)
        manifest.update(steps_done=done, wall_time_s=round(wall_before + time.monotonic() - tic, 2))
        _atomic.write_json(os.path.join(out, MANIFEST), manifest)
        save_cost = time.monotonic() - t
        timings["checkpoint_s"] += save_cost
        saved_at = done

    trial, rates = None, {}
    while done < target:
        if trials and trial is None:
            trial = trials.pop(0)
            ensemble.set_vectorize(trial)
        n = min(steps_per_call, target - done, next_checkpoint - done)
        if trial is not None:
            n = min(n, trial_steps)  # one block of each program, timed
        if max_seconds is not None:
            left = max_seconds - (time.monotonic() - started) - 2 * save_cost
            if per_step is not None:
                n = min(n, int(left / per_step))
            elif trial is None:
                n = min(n, 100)  # a short first block measures the speed
            if n < 1 or left <= 0:
                log(f"stopping at step {done}: the budget of {max_seconds:g}s is spent")
                break
        t = time.monotonic()
        compiled_before = trainer.compile_seconds
        logs = trainer.run(done, n)
        seconds = time.monotonic() - t
        compiled = trainer.compile_seconds - compiled_before
        if compiled:
            timings["compile_s"] += compiled
            seconds -= compiled
            program = "vectorized" if ensemble.vectorize else "members one by one"
            log(f"compiled the training step ({program}) in {compiled:.1f}s")
        seconds = max(seconds, 1e-6)
        timings["train_s"] += seconds
        timings["steps"] += n
        per_step = seconds / n if per_step is None else 0.5 * per_step + 0.5 * seconds / n
        done += n
        if trial is not None:
            rates[trial] = n / seconds
            trial = None
            if not trials:
                best = max(rates, key=rates.get)
                ensemble.set_vectorize(best)
                timings["vectorize"] = {"chosen": best, "steps_per_s": {
                    "vectorized": round(rates[True], 1), "one_by_one": round(rates[False], 1)}}
                log(f"vectorized {rates[True]:.0f} steps/s, one by one {rates[False]:.0f} "
                    f"steps/s: continuing {'vectorized' if best else 'one by one'}")
                per_step = 1.0 / rates[best]
        checkpoint = done >= next_checkpoint
        if checkpoint or last_log is None or time.monotonic() - last_log >= log_every_s:
            last_log = time.monotonic()
            members = " ".join(f"{logs.get(f'loss_{k}', float('nan')):.1f}"
                               for k in range(len(runs)))
            log(f"step {done}/{steps}: {1.0 / per_step:.0f} steps/s, member losses {members}")
        if checkpoint:
            save()
            next_checkpoint += checkpoint_every
    if saved_at != done or not os.path.exists(os.path.join(out, _runs.CHECKPOINT)):
        save()
    wall = wall_before + time.monotonic() - tic
    timings = {k: round(v, 2) if isinstance(v, float) else v for k, v in timings.items()}
    if timings["train_s"] > 0:
        timings["steps_per_s"] = round(timings["steps"] / timings["train_s"], 1)
    timings["logs"] = logs
    device = hardware()
    metadata = {}
    for k, run in enumerate(runs):
        r = run.recipe
        metadata[run.name] = {
            "recipe": r.name, "dataset": r.dataset, "seed": run.seed, "steps": done,
            "wall_time_s": round(wall, 1), "references": r.references,
            "learning_rate": learning_rate, "batch_size": batch_size,
            "learning_rates": [[0, learning_rate]], "hardware": device,
            "ensemble": {"members": len(runs), "member": k,
                         "vectorized": len(next(g for g in ensemble.groups if k in g)) > 1,
                         "backend": keras.backend.backend(), "target_steps": steps,
                         "data": data or {}, "directory": os.path.abspath(out),
                         "note": "trained with the other members in one process "
                                 "(keras_vae.ensemble); wall_time_s is the ensemble's"},
        }
    return EnsembleResult(ensemble, runs, done, done >= steps, metadata, timings, out)


def _start_manifest(out, identity, force):
    from keras_vae import _runs
    from keras_vae.presets import read_json

    path = os.path.join(out, MANIFEST)
    if force:
        for name in (_runs.CHECKPOINT, _runs.PREVIOUS, MANIFEST):
            if os.path.exists(os.path.join(out, name)):
                os.remove(os.path.join(out, name))
    manifest = read_json(path) if os.path.exists(path) else None
    if manifest is not None:
        differ = [k for k in identity if manifest.get(k) != identity[k]]
        if differ:
            raise _runs.StaleRunError(
                f"The ensemble directory {out!r} holds another ensemble (its {', '.join(differ)} "
                "differ); pass force=True (--force) to discard it, or choose another "
                f"directory. Received: out={out!r}")
        return manifest
    manifest = {**identity, "steps_done": 0, "wall_time_s": 0.0}
    _atomic.write_json(path, manifest)
    return manifest


def write_presets(result, runs_dir, metrics=None):
    """Writes each run's preset to `runs_dir/<run name>/preset` (the layout
    `keras_vae.study` reads), with its metadata and, if given, its metrics.

    Args:
        result: an `EnsembleResult`.
        runs_dir: the folder of the run folders (a study's `OUT/runs`).
        metrics: None, or `{run name: metrics dict}` (e.g. from
            `keras_vae.assessment.evaluate`).

    Returns:
        `{run name: preset directory}`.
    """
    from keras_vae import presets

    if not isinstance(result, EnsembleResult):
        raise TypeError("Argument `result` must be a keras_vae.ensemble.EnsembleResult. "
                        f"Received: result of type {type(result).__name__}")
    _validation.check_optional_dict("metrics", metrics, "a dict {run name: metrics}")
    written = {}
    for run, model in zip(result.runs, result.ensemble.members):
        meta = dict(result.metadata[run.name])
        if metrics and metrics.get(run.name) is not None:
            meta["metrics"] = metrics[run.name]
        directory = os.path.join(os.fspath(runs_dir), run.name, "preset")
        os.makedirs(os.path.dirname(directory), exist_ok=True)
        model.preset_metadata = presets.save_preset(model, directory, meta, overwrite=True)
        written[run.name] = directory
    return written
