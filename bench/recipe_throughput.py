"""What users wait for: a recipe's training path (`keras-vae train`), timed
next to the bare `model.fit` step of the same network, per Keras backend,
with a breakdown of a step and the machine's limit.

    python bench/recipe_throughput.py                       # 4 recipes x 3 backends
    python bench/recipe_throughput.py --backends tensorflow --recipes vae_dsprites
    python bench/recipe_throughput.py --json out.json       # machine-readable

Per backend (one child process each) and per recipe, four stages of the
same network and batch size, each trained for `--rounds` timed epochs of
`--steps` steps, the stages alternating epoch by epoch (round 1: A B C D,
round 2: A B C D, ...) so that a drift of the machine's load hits them
alike:

- **A, bare step**: `keras_vae.VAE` of the recipe's network, `model.fit` on
  random [0, 1] images held in memory as numpy (what
  `bench/train_throughput.py` times), Adam with the recipe's learning rate.
- **B, + regularizer**: the recipe's model (`recipes.build_model`: BetaTCVAE's
  O(B^2 d) batch estimator, FactorVAE's discriminator, ...) on the same
  numpy data.
- **C, + input pipeline**: the same model fed by the recipe's training
  pipeline (`recipes.training_data`: procedural dSprites drawn per batch,
  Fashion-MNIST from memory), as `keras-vae train` feeds it.
- **D, recipe path**: `keras_vae.training.train_run` itself into a temporary
  run directory, as `keras-vae train RECIPE` runs it (its checkpoint
  callback, manifest, the `fit` chunking, `verbose=2`): each round resumes
  the run for one more epoch (`steps=(round + 1) * --steps`), so each round
  also pays a model build, a checkpoint restore and a trace, which are
  reported as `setup s` and not counted in the step time.

A stage's time per step is measured from the start of an epoch's second
batch to the end of its last (the first batch of each `fit` carries the
tracing or compilation, and the epoch's iterator set-up); the checkpoint
written at the end of each recipe-path epoch is timed on its own
(`checkpoint s`), and so is the held-out validation of a recipe that
validates (`training.HeldOutStopping`, the Fashion-MNIST recipes:
`validation s`, taken out of the epoch's step time). Users get a checkpoint
every `min(steps, 500)` steps, or, with a validation, one checkpoint and one
validation per pass over the training split (`training.train_run`'s default
`steps_per_epoch`), so the "recipe path as users run it" adds
`(checkpoint s + validation s) / that many steps` per step; the bench's short
epochs would otherwise weigh them hundreds of times more.

**Breakdown.** The ratios B / A (the regularizer), C / B (the input
pipeline and its input check), D / C (what `train_run` adds: callbacks,
checkpoint) explain the recipe path's time; the pipeline is also timed
alone (`pipeline img/s`: batches of `recipes.training_data` read through
the backend's Keras data adapter, as `fit` reads them), which says whether
it can keep up with training.

**The limit.** Each network's forward FLOPs per example are counted from
its layers' shapes (2 x multiply-adds of every Conv2D, Conv2DTranspose and
Dense, plus FactorVAE's discriminator, which runs three times per step); a
training step costs ~3x the forward pass (forward, input gradient, weight
gradient; the first layer's input gradient is not computed and not
counted; each discriminator pass needs one of the two gradients, 2x). Achieved GFLOP/s = training FLOPs per example x examples/s,
reported next to the machine's measured float32 matrix-multiply (sgemm,
numpy, torch and tensorflow, 1024 x 1024, best of 20: a short call finds
the machine's quiet moments) and convolution rates (torch and tensorflow,
a 64 x 32 x 32 x 32 kernel-4 stride-2 convolution of the dSprites net,
forward), measured in a child process of their own.

Child processes get keras-vae's OpenMP wait settings (`--omp-wait-policy`,
as in `bench/train_throughput.py`); `--omp-wait-policy environment` leaves
the caller's `OMP_WAIT_POLICY` and `GOMP_SPINCOUNT` as they are, which is
how the settings were compared (`OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=300
python bench/recipe_throughput.py --omp-wait-policy environment ...`; an
empty `OMP_WAIT_POLICY=` gives OpenMP's own default, spinning for
milliseconds before sleeping). Every row records the 1-minute load average
when it was measured.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time

import _harness
from _results_md import RECIPE_BACKENDS
from _results_md import RECIPE_STAGES
from _results_md import fill
from _results_md import recipes_md

BACKENDS = RECIPE_BACKENDS
RECIPES = ("vae_fashion_mnist", "beta_tcvae_dsprites", "vae_dsprites", "factor_vae_dsprites")
STAGES = RECIPE_STAGES  # A, B, C, D of the module docstring
USER_STEPS_PER_EPOCH = 500  # training.train_run's default min(steps, 500)


def user_steps_per_epoch(recipe):
    """Steps between a user's checkpoints (and held-out validations):
    `train_run`'s default `steps_per_epoch`, one pass over the training split
    for a recipe that validates, else 500."""
    return recipe.steps_per_dataset_epoch if recipe.validation_split else USER_STEPS_PER_EPOCH


# === FLOPs of a network (from its layers' shapes) ===


def _layer_flops(layer):
    """Forward FLOPs per example of one layer (2 x multiply-adds), 0 for the
    layers without multiply-adds (activations, reshapes, padding)."""
    import keras

    if isinstance(layer, keras.layers.Dense):
        return 2 * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
        kh, kw, cin, cout = (int(d) for d in layer.kernel.shape)
        if isinstance(layer, keras.layers.Conv2DTranspose):
            # (kh, kw, out, in): every input pixel scatters a kernel
            cout, cin = cin, cout
            shape = layer.input.shape
        else:
            shape = layer.output.shape
        first = layer.data_format == "channels_first"
        h, w = (shape[2], shape[3]) if first else (shape[1], shape[2])
        return 2 * int(h) * int(w) * kh * kw * cin * cout
    return 0


def network_flops(model):
    """`{"forward": ..., "train": ...}` FLOPs per training example.

    Forward: encoder + decoder (+ FactorVAE's discriminator, three passes);
    train: 3 x the networks' forward pass (forward, input gradient, weight
    gradient) minus the first encoder layer's input gradient, plus 2 x each
    discriminator pass (each needs one gradient: to the codes through the
    frozen pass, to the weights through the two others).
    """
    forward = first = 0
    for net in (model.encoder, model.decoder):
        for layer in net.layers:
            flops = _layer_flops(layer)
            if flops and not first:
                first = flops
            forward += flops
    train = 3 * forward - first
    discriminator = getattr(model, "discriminator", None)
    if discriminator is not None:  # three passes, each with one gradient
        per_pass = sum(_layer_flops(layer) for layer in discriminator.dense_layers)
        forward += 3 * per_pass
        train += 3 * 2 * per_pass
    return {"forward": forward, "train": train}


# === Timing callbacks ===


class _StepClock:
    """Times an epoch from its second batch's start to its end (`times`,
    `steps`): the first batch of a `fit` carries tracing and iterator set-up.
    `cpu_times`: the process's CPU seconds over the same span (all its
    threads), which another job on the machine disturbs less than the wall
    time."""

    def __init__(self):
        self.times, self.cpu_times, self.steps = [], [], []
        self._start, self._cpu, self._batches = None, None, 0

    def epoch_begin(self):
        self._start, self._batches = None, 0

    def batch_begin(self, batch):
        self._batches += 1
        if self._start is None and batch >= 1:
            self._start, self._cpu = time.perf_counter(), time.process_time()

    def epoch_end(self):
        if self._start is not None:
            self.times.append(time.perf_counter() - self._start)
            self.cpu_times.append(time.process_time() - self._cpu)
            self.steps.append(self._batches - 1)


def _clocked(base, clock):
    """`base` (a Keras callback class) with `clock` timing each epoch's steps."""

    class Clocked(base):
        def on_epoch_begin(self, epoch, logs=None):
            clock.epoch_begin()
            super().on_epoch_begin(epoch, logs)

        def on_train_batch_begin(self, batch, logs=None):
            clock.batch_begin(batch)
            super().on_train_batch_begin(batch, logs)

        def on_epoch_end(self, epoch, logs=None):
            clock.epoch_end()
            super().on_epoch_end(epoch, logs)

    return Clocked


def _clock_callback(clock):
    import keras

    return _clocked(keras.callbacks.Callback, clock)()


def _timing(base, times):
    """`base` with each `on_epoch_end` timed into `times` as (wall, CPU) seconds."""

    class Timed(base):
        def on_epoch_end(self, epoch, logs=None):
            start, cpu = time.perf_counter(), time.process_time()
            super().on_epoch_end(epoch, logs)
            times.append((time.perf_counter() - start, time.process_time() - cpu))

    return Timed


@contextlib.contextmanager
def _timed_callbacks(clock, checkpoint_times, validation_times):
    """`train_run` with its callbacks timed: the epoch's steps by `clock`,
    each checkpoint's save and manifest in `checkpoint_times`, each held-out
    validation (`training.HeldOutStopping`, before the checkpoint at every
    epoch's end) in `validation_times`, taken out of the clock's epoch."""
    from keras_vae import _runs
    from keras_vae import training

    originals = _runs.AtomicCheckpoint, training.HeldOutStopping
    checkpoints, seen = [], [len(validation_times)]

    class Checkpoint(_timing(_clocked(originals[0], clock), checkpoints)):
        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            checkpoint_times.append(checkpoints[-1][0])
            if len(validation_times) > seen[0] and clock.times:
                seen[0] = len(validation_times)  # it ran inside this epoch's clock
                clock.times[-1] -= validation_times[-1][0]
                clock.cpu_times[-1] -= validation_times[-1][1]

    _runs.AtomicCheckpoint = Checkpoint
    training.HeldOutStopping = _timing(originals[1], validation_times)
    try:
        yield
    finally:
        _runs.AtomicCheckpoint, training.HeldOutStopping = originals


# === The stages (in a child process of one backend) ===


def _pipeline_rate(recipe, batches):
    """Images/s of the recipe's pipeline read through the backend's Keras
    data adapter (what `fit` iterates), `batches` batches after one."""
    import keras
    from keras.src.trainers.data_adapters import get_data_adapter

    from keras_vae import recipes

    adapter = get_data_adapter(recipes.training_data(recipe, 0), steps_per_epoch=batches + 1)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        iterator = iter(adapter.get_tf_dataset())
    elif backend == "jax":
        iterator = adapter.get_jax_iterator()
    else:
        iterator = iter(adapter.get_torch_dataloader())
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * recipe.batch_size / (time.perf_counter() - start)


class _Stages:
    """The four stages of one recipe, each run one epoch at a time."""

    def __init__(self, recipe, steps, out):
        import keras
        import numpy as np

        import keras_vae
        from keras_vae import recipes

        self.recipe, self.steps, self.out = recipe, steps, out
        net = {k: recipe.model_kwargs[k] for k in ("input_shape", "latent_dim", "architecture")}
        shape = (steps * recipe.batch_size,) + tuple(net["input_shape"])
        self.x = np.random.default_rng(0).uniform(size=shape).astype("float32")
        keras.utils.set_random_seed(0)
        self.bare = keras_vae.VAE(**net, seed=0)
        self.bare.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate))
        self.model = recipes.build_model(recipe, 0)
        self.data = recipes.training_data(recipe, 0)
        self.clocks = {stage: _StepClock() for stage in STAGES}
        self.checkpoint_s, self.validation_s, self.setup_s, self.rounds_done = [], [], [], 0
        self.flops = {"bare": network_flops(self.bare), "model": network_flops(self.model)}
        for model, data in ((self.bare, self.x), (self.model, self.x), (self.model, self.data)):
            fit_kwargs = {"batch_size": recipe.batch_size} if data is self.x else {}
            model.fit(data, epochs=1, steps_per_epoch=3, verbose=0, **fit_kwargs)  # trace

    def run(self, stage):
        """One timed epoch of `stage`."""
        callbacks = [_clock_callback(self.clocks[stage])]
        if stage == "bare":
            self.bare.fit(self.x, batch_size=self.recipe.batch_size, epochs=1, verbose=0,
                          callbacks=callbacks)
        elif stage == "model":
            self.model.fit(self.x, batch_size=self.recipe.batch_size, epochs=1, verbose=0,
                           callbacks=callbacks)
        elif stage == "pipeline":
            self.model.fit(self.data, epochs=1, steps_per_epoch=self.steps, verbose=0,
                           callbacks=callbacks)
        else:
            self._recipe_epoch()

    def _recipe_epoch(self):
        """`train_run` resumed for one more epoch of `steps` steps."""
        import io

        from keras_vae import training

        self.rounds_done += 1
        clock = self.clocks["recipe"]
        before, validations = len(clock.times), len(self.validation_s)
        start = time.perf_counter()
        with _timed_callbacks(clock, self.checkpoint_s, self.validation_s), \
                contextlib.redirect_stdout(io.StringIO()):  # its verbose=2 lines
            run = training.train_run(self.recipe, self.out, steps=self.rounds_done * self.steps,
                                     steps_per_epoch=self.steps, verbose=2)
        wall = time.perf_counter() - start
        timed = sum(clock.times[before:])
        validated = sum(t for t, _ in self.validation_s[validations:])
        self.setup_s.append(wall - timed - self.checkpoint_s[-1] - validated)
        self.final_loss = run.history.get("loss", [None])[-1]

    def rows(self, pipeline_rate):
        """One result row per stage."""
        import keras

        recipe, backend = self.recipe, keras.backend.backend()
        base = {"backend": backend, "recipe": recipe.name, "model": recipe.model,
                "batch_size": recipe.batch_size, "steps_per_epoch": self.steps,
                "pipeline_images_per_s": round(pipeline_rate),
                "loadavg_1min": round(os.getloadavg()[0], 2),
                "peak_rss_mb": round(_harness.peak_rss_mb())}
        out = []
        for stage in STAGES:
            clock = self.clocks[stage]
            per_step = [t / s for t, s in zip(clock.times, clock.steps)]
            ms = 1000 * statistics.median(per_step)
            flops = self.flops["bare" if stage == "bare" else "model"]
            cpu = [t / s for t, s in zip(clock.cpu_times, clock.steps)]
            row = {**base, "stage": stage, "ms_per_step": round(ms, 2),
                   "cpu_ms_per_step": round(1000 * statistics.median(cpu), 2),
                   "epoch_ms_per_step": [round(1000 * t, 1) for t in per_step],
                   "examples_per_s": round(1000 * recipe.batch_size / ms, 1),
                   "train_flops_per_example": flops["train"],
                   "gflops_per_s": round(flops["train"] * recipe.batch_size / ms / 1e6, 2)}
            if stage == "recipe":
                checkpoint = statistics.median(self.checkpoint_s)
                validation = (statistics.median(t for t, _ in self.validation_s)
                              if self.validation_s else 0.0)
                every = user_steps_per_epoch(recipe)
                user_ms = ms + 1000 * (checkpoint + validation) / every
                row.update(checkpoint_s=round(checkpoint, 3), validation_s=round(validation, 3),
                           user_steps_per_epoch=every,
                           setup_s=[round(s, 1) for s in self.setup_s],
                           ms_per_step_with_checkpoint=round(ms + 1000 * checkpoint / self.steps, 2),
                           ms_per_step_as_users=round(user_ms, 2),
                           final_loss=None if self.final_loss is None
                           else round(float(self.final_loss), 2))
            out.append(row)
        return out


def recipe_worker(recipes, steps, rounds, pipeline_batches=50):
    """In a child of one backend: the stages of each recipe; emits rows."""
    from keras_vae import recipes as recipes_lib

    for name in recipes:
        start = time.perf_counter()
        try:
            # Never converged within the bench's rounds: every round trains.
            recipe = dataclasses.replace(recipes_lib.load_recipe(name), patience=10**6)
            with tempfile.TemporaryDirectory() as out:
                stages = _Stages(recipe, steps[name], out)
                for _ in range(rounds):
                    for stage in STAGES:
                        stages.run(stage)
                rate = _pipeline_rate(recipe, pipeline_batches)
                rows = stages.rows(rate)
        except Exception as e:  # report, go on with the other recipes
            import traceback

            traceback.print_exc()
            rows = [{"recipe": name, "error": f"{type(e).__name__}: {e}"}]
        for row in rows:
            row["job_s"] = round(time.perf_counter() - start, 1)
            _harness.emit(row)


# === The machine's limit ===


def _rate(fn, flops, repeats=20):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return flops / min(times) / 1e9


def machine_rates(size=1024):
    """GFLOP/s of float32 matrix multiplication and of a convolution of the
    dSprites net, numpy / torch / tensorflow; emits one row."""
    import numpy as np

    row = {"kind": "machine", "cores": os.cpu_count(), "matrix": size}
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    row["numpy_sgemm"] = _rate(lambda: a @ b, 2 * size**3)
    # conv: batch 64, 32x32x32 -> 16x16x32, kernel 4, stride 2 (dSprites layer 2)
    conv_flops = 2 * 64 * 16 * 16 * 4 * 4 * 32 * 32
    try:
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        row["torch_sgemm"] = _rate(lambda: ta @ tb, 2 * size**3)
        x = torch.randn(64, 32, 32, 32)
        conv = torch.nn.Conv2d(32, 32, 4, 2, padding=1)
        with torch.no_grad():
            row["torch_conv"] = _rate(lambda: conv(x), conv_flops)
        row["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        import tensorflow as tf

        ta, tb = tf.constant(a), tf.constant(b)
        row["tensorflow_sgemm"] = _rate(lambda: tf.linalg.matmul(ta, tb).numpy(), 2 * size**3)
        x = tf.random.normal((64, 32, 32, 32))
        kernel = tf.random.normal((4, 4, 32, 32))
        row["tensorflow_conv"] = _rate(
            lambda: tf.nn.conv2d(x, kernel, 2, "SAME").numpy(), conv_flops)
    except ImportError:
        pass
    row = {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}
    row["loadavg_1min"] = round(os.getloadavg()[0], 2)
    _harness.emit(row)


# === Orchestration ===


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per stage")
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per timed epoch (default: 40 for 28x28 recipes, 16 for "
                             "64x64 ones)")
    parser.add_argument("--no-machine", action="store_true",
                        help="skip the sgemm / convolution rates")
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds allowed to one backend's process")
    parser.add_argument("--omp-wait-policy", choices=_harness.WAIT_POLICIES,
                        default="keras-vae", help=_harness.WAIT_POLICY_HELP)
    parser.add_argument("--json", help="write all measurements to this file")
    parser.add_argument("--results", metavar="PATH",
                        help="also fill the `recipes` block of this RESULTS.md (the other "
                             "blocks are left as they are; bench/run_all.py fills them all)")
    return parser.parse_args(argv)


def _steps(names, steps):
    if steps:
        return {n: steps for n in names}
    return {n: 40 if "fashion_mnist" in n or "mnist" in n else 16 for n in names}


def run_backend(backend, args):
    """One child process: every recipe on `backend`; its rows."""
    start = time.perf_counter()
    rows, error = _harness.spawn_call(
        "recipe_throughput", "recipe_worker",
        {"recipes": list(args.recipes), "steps": _steps(args.recipes, args.steps),
         "rounds": args.rounds}, backend, args.timeout)
    if error:
        done = {r.get("recipe") for r in rows}
        rows += [{"backend": backend, "recipe": n, "error": error}
                 for n in args.recipes if n not in done]
    for r in rows:
        r.setdefault("backend", backend)
    return rows, round(time.perf_counter() - start, 1)


def measure(args):
    _harness.set_wait_policy(args.omp_wait_policy)
    report = {"machine": _harness.machine_info(), "rounds": args.rounds, "rows": [],
              "user_steps_per_epoch": USER_STEPS_PER_EPOCH,
              "seconds": {}, "load_before": round(os.getloadavg()[0], 2)}
    if not args.no_machine:
        rates, error = _harness.spawn_call("recipe_throughput", "machine_rates", {})
        report["machine_rates"] = rates[0] if rates else {"error": error}
    for backend in args.backends:
        rows, seconds = run_backend(backend, args)
        report["rows"] += rows
        report["seconds"][backend] = seconds
        print(f"# {backend}: {seconds:.0f} s", flush=True)
    report["load_after"] = round(os.getloadavg()[0], 2)
    return report


def main(argv=None):
    args = _parse(argv)
    report = measure(args)
    table = recipes_md(report)
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.results:
        with open(args.results) as f:
            template = f.read()
        shown = list(sys.argv[1:] if argv is None else argv)
        if "--json" in shown:  # where the measurements were saved: not part of the run
            del shown[shown.index("--json"):shown.index("--json") + 2]
        command = "python bench/recipe_throughput.py " + " ".join(shown)
        header = (f"Run {report['machine']['date']} with `{command}`; load average (1 min) "
                  f"{report['load_before']} before, {report['load_after']} after.\n\n")
        with open(args.results, "w") as f:
            f.write(fill(template, {"recipes": header + table}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
