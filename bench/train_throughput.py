"""Training throughput of keras-vae's `model.fit` per Keras backend, side by
side with hand-written pure-PyTorch and pure-JAX (+ optax) loops of the same
networks, plus the peak memory of a full Fashion-MNIST epoch and the quality
of the decoder upsampling variants.

    python bench/train_throughput.py                          # throughput, everything
    python bench/train_throughput.py --runners keras-jax jax --configs dsprites
    python bench/train_throughput.py --memory                 # + full-epoch peak RSS
    python bench/train_throughput.py --quality 2              # + test -ELBO, 2 epochs
    python bench/train_throughput.py --json out.json          # machine-readable

Runners, each in its own process (Keras picks its backend at import, and the
frameworks' thread pools and allocators must not share a process):

- `keras-tensorflow`: `model.fit` with `jit_compile=False` (what "auto"
  resolves to on a CPU-only machine) and, for the default decoder of each
  configuration (`--xla`), `jit_compile=True` (XLA).
- `keras-jax`: `model.fit`; "auto" resolves to `jax.jit` (XLA). JAX has no
  compiled/uncompiled choice worth timing: `jit_compile=False` runs every op
  eagerly, one dispatch per op, a debugging mode.
- `keras-torch`: `model.fit` eager (`jit_compile=False`, the "auto" choice).
- `keras-torch-compile`: `jit_compile=True`, i.e. `torch.compile` of the
  train step, in its own process with a time limit
  (`--torch-compile-timeout`); compiling takes ~30-60 s per network on a
  2-core CPU, so by default only the Fashion-MNIST default decoder is
  measured (`--torch-compile all` for every configuration); the others are
  reported as skipped.
- `torch`: `bench/native_torch.py`, pure PyTorch, eager.
- `jax`: `bench/native_jax.py`, pure JAX + optax, jitted.
- `pythae`: `bench/pythae_peer.py`, pythae's VAE and `BaseTrainer` with the
  same networks (a peer library; skipped when pythae is not installed).

Configurations: the Fashion-MNIST conv VAE (28x28x1, latent 16,
`architecture="conv"`, batch 128) and the dSprites net (64x64x1, latent 10,
`architecture="disentanglement"`, batch 64), each with the decoder
`upsampling="transpose"`, `"subpixel"` and `"resize"` (`--upsampling`; all
runners build all three, through `network_kwargs={"upsampling": ...}` in
Keras). Each configuration's *default* decoder is the library's
(`keras_vae.networks.ARCHITECTURE_DEFAULTS`, which `bench/_harness.py` reads
without importing keras, as the parent and the native runners must not:
transpose for `"conv"`, subpixel for `"disentanglement"`); the targets are checked on it, the others are
measured for comparison. The data are random [0, 1] images of that shape
held in memory (throughput does not depend on pixel values). A few warm-up
steps (`warmup_steps`: tracing, compilation, allocator warm-up) run first and
are not timed (for Keras a first `fit(..., steps_per_epoch=...)` call; the
compiled step is reused); then `--epochs` epochs (default decoder) or
`--other-epochs` epochs (the other decoders) of `num_examples` images each
(40 batches, shuffled each epoch) are timed and the median samples/s is
reported. Per-epoch costs of `fit` (iterator set-up and teardown, metric
sync, callbacks) are included, spread over 40 batches where a real
Fashion-MNIST epoch spreads them over 469 and a recipe's `fit` call over
500. They are not small on tensorflow: ending a `fit` call stops the
`tf.data` autotuning thread of the iterator Keras builds over numpy input,
and in about half of the calls the caller waited up to as long as the
iterator had run (the dSprites epochs, 12 batches until 2026-12-05, then
measured 35 or 55 ms per step depending on that alone; bench/RESULTS.md,
"tf.data autotuning"). `--skip
RUNNER:UPSAMPLING` leaves out runs (default: the pure-JAX resize decoder,
to save time in `bench/run_all.py`); they are reported as skipped.

Every child process gets keras-vae's OpenMP wait settings
(`--omp-wait-policy keras-vae`, `keras_vae/_threads.py`: a short spin, then
sleep): with OpenMP's default, PyTorch's threads spin for milliseconds while
waiting, and on a machine shared with other jobs a spinning thread holds a
core another thread needs (measured: pure PyTorch 450 vs 1,280 samples/s
under a load of ~3). Only PyTorch uses OpenMP here; Keras-torch, pure
PyTorch and pythae get the same setting.

Loss and optimizer are the same everywhere: Bernoulli NLL with logits summed
over pixels + closed-form Gaussian KL summed over latent dims, batch mean,
one reparameterized sample; Adam(1e-3). On the random data the lowest
expected loss is H * W * ln 2 nats (predict 0.5 for every pixel, posterior =
prior); the "same-loss check" of `bench/run_all.py` compares every run's
last-epoch loss with it.

`--memory`: per Keras backend, one process trains one full epoch of the real
Fashion-MNIST training set (60,000 images, `keras_vae.datasets.load`, batch
128, `--memory-upsampling` decoder, default the library's) and reports the
peak RSS (`getrusage`), the RSS before `fit`, and the epoch's samples/s
(tracing included).

`--quality N`: on the tensorflow backend, trains the Fashion-MNIST conv VAE
for N epochs of the real data with each `--upsampling` decoder (same seed,
same budget) and reports the test-set negative ELBO (`model.evaluate`, one
posterior sample per image, mean of two passes, nats per image). With
`--memory` too, this process also gives the tensorflow memory row (peak RSS
after training the `--memory-upsampling` decoder first), instead of a
separate process. `--quality-config dsprites --quality-steps S` compares on
the dSprites net instead (S steps per epoch; held out: 10,000 random
dSprites images), `--quality-seed` changes the seed.
"""

import argparse
import json
import os
import sys
import time

import _harness
from _harness import CONFIGS, UPSAMPLINGS, default_upsampling

RUNNERS = ("keras-tensorflow", "keras-jax", "keras-torch", "keras-torch-compile",
           "torch", "jax", "pythae")
NATIVE_SCRIPTS = {"torch": "native_torch.py", "jax": "native_jax.py",
                  "pythae": "pythae_peer.py"}


# === Keras runner (one backend per process) ===


def _keras_measure(config_name, upsampling, jit_compile, epochs):
    import keras

    config = CONFIGS[config_name]
    batch_size, n = config["batch_size"], config["num_examples"]
    x = _harness.random_images(config)
    keras.utils.clear_session(free_memory=True)
    keras.utils.set_random_seed(0)
    model = _harness.build_vae(config_name, upsampling)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)

    # Warm-up: a few steps on the same data (tracing, compilation), then a
    # second fit() whose epochs are timed; the compiled step is reused.
    start = time.perf_counter()
    model.fit(x, batch_size=batch_size, epochs=1, steps_per_epoch=config["warmup_steps"],
              verbose=0)
    warmup_s = time.perf_counter() - start
    timer = _harness.epoch_timer()
    model.fit(x, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[timer])
    backend = keras.backend.backend()
    if backend == "jax":
        variant = "jit (XLA)"
    elif backend == "tensorflow":
        variant = "XLA" if model.jit_compile else "tf.function, no XLA"
    else:
        variant = "torch.compile" if model.jit_compile else "eager"
    return _harness.result_row(
        runner=f"keras-{backend}", config=config_name, upsampling=upsampling,
        variant=variant, times=timer.times, n=n, losses=timer.losses,
        jit_compile=model.jit_compile, warmup_s=round(warmup_s, 2),
        versions=_harness.keras_versions())


def keras_worker(jobs):
    """Runs `(config, upsampling, jit_compile, epochs)` jobs; prints one JSON
    line each."""
    for config, upsampling, jit_compile, epochs in jobs:
        start = time.perf_counter()
        try:
            out = _keras_measure(config, upsampling, jit_compile, epochs)
        except Exception as e:  # report and go on with the other jobs
            out = {"config": config, "upsampling": upsampling,
                   "jit_compile": jit_compile, "error": f"{type(e).__name__}: {e}"}
        out["job_s"] = round(time.perf_counter() - start, 1)
        _harness.emit(out)


def memory_worker(upsampling=None):
    """One full epoch of the real Fashion-MNIST training set; peak RSS."""
    import keras

    import keras_vae
    from keras_vae import networks
    from keras_vae.datasets import load

    before_data = _harness.rss_mb()
    ds = load("fashion_mnist", "train", batch_size=128, seed=0)
    kwargs = {} if upsampling is None else {"network_kwargs": {"upsampling": upsampling}}
    model = keras_vae.VAE(input_shape=(28, 28, 1), latent_dim=16, seed=0, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before_fit = _harness.rss_mb()
    start = time.perf_counter()
    history = model.fit(ds, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    _harness.emit({
        "kind": "memory",
        "runner": f"keras-{keras.backend.backend()}",
        "note": "1 epoch",
        "upsampling": networks.resolve_options("conv", model.network_kwargs)["upsampling"],
        "examples": 60_000,
        "epoch_s": round(seconds, 1),
        "samples_per_s": round(60_000 / seconds),
        "loss": round(history.history["loss"][-1], 2),
        "rss_mb_after_imports": round(before_data),
        "rss_mb_before_fit": round(before_fit),
        "peak_rss_mb": round(_harness.peak_rss_mb()),
        "tensorflow_imported": "tensorflow" in sys.modules,
        "versions": _harness.keras_versions(),
    })


def _quality_data(config_name, batch_size, seed=0):
    """(training pipeline, held-out numpy images) of a configuration."""
    from keras_vae.datasets import load

    train = load(config_name, "train", batch_size=batch_size, seed=seed)
    if config_name == "fashion_mnist":
        return train, load("fashion_mnist", "test", as_numpy=True, shuffle=False)
    # dSprites has no test split: 10,000 random images of the full set.
    return train, _harness.dsprites_held_out(10_000)


def quality_worker(epochs, upsamplings, memory_upsampling=None,
                   config_name="fashion_mnist", steps_per_epoch=None, seed=0):
    """Same budget per decoder; held-out negative ELBO on the tensorflow backend.

    With `memory_upsampling`, that decoder is trained first and the process's
    peak RSS right after its training and evaluation is reported as the
    tensorflow row of the memory table (a Fashion-MNIST training run of
    `epochs` full epochs), which saves a separate tensorflow memory process.
    """
    import keras
    import numpy as np

    rss_imports = _harness.rss_mb()
    batch_size = CONFIGS[config_name]["batch_size"]
    _, test = _quality_data(config_name, batch_size)
    if memory_upsampling in upsamplings:
        upsamplings = [memory_upsampling] + [u for u in upsamplings if u != memory_upsampling]

    for i, upsampling in enumerate(upsamplings):
        keras.utils.clear_session(free_memory=True)
        keras.utils.set_random_seed(seed)
        train, _ = _quality_data(config_name, batch_size, seed)
        model = _harness.build_vae(config_name, upsampling, seed)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        rss_before_fit = _harness.rss_mb()
        timer = _harness.epoch_timer()
        start = time.perf_counter()
        history = model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch,
                            verbose=0, callbacks=[timer])
        seconds = time.perf_counter() - start
        # Average two evaluation passes: each draws one posterior sample per image.
        evals = [model.evaluate(test, batch_size=500, verbose=0, return_dict=True)
                 for _ in range(2)]
        _harness.emit({
            "kind": "quality",
            "config": config_name,
            "upsampling": upsampling,
            "epochs": epochs,
            "steps_per_epoch": steps_per_epoch,
            "seed": seed,
            "train_s": round(seconds, 1),
            "train_loss": round(history.history["loss"][-1], 2),
            "test_neg_elbo": round(float(np.mean([e["loss"] for e in evals])), 2),
            "test_reconstruction": round(float(np.mean(
                [e["reconstruction_loss"] for e in evals])), 2),
            "test_kl": round(float(np.mean([e["kl_loss"] for e in evals])), 2),
            "params": model.count_params(),
            "backend": keras.backend.backend(),
        })
        if i == 0 and upsampling == memory_upsampling and config_name == "fashion_mnist":
            _harness.emit({
                "kind": "memory",
                "runner": "keras-tensorflow",
                "upsampling": upsampling,
                "examples": 60_000,
                "epoch_s": round(timer.times[0], 1),
                "samples_per_s": round(60_000 / timer.times[0]),
                "loss": round(history.history["loss"][0], 2),
                "rss_mb_after_imports": round(rss_imports),
                "rss_mb_before_fit": round(rss_before_fit),
                "peak_rss_mb": round(_harness.peak_rss_mb()),
                "tensorflow_imported": True,
                "note": f"quality run: {epochs} epochs + 2 test evaluations",
                "versions": _harness.keras_versions(),
            })


# === Orchestration ===


def run_runner(runner, config, jobs, timeout=None):
    """One process: `runner` on `config`; `jobs` are `(upsampling, jit_compile,
    epochs)` (`jit_compile` is ignored by the native runners)."""
    if runner.startswith("keras-"):
        backend = runner[len("keras-"):].replace("-compile", "")
        keras_jobs = [(config, u, j, e) for u, j, e in jobs]
        return _harness.spawn_call("train_throughput", "keras_worker", {"jobs": keras_jobs},
                                   backend, timeout)
    script = os.path.join(_harness.BENCH, NATIVE_SCRIPTS[runner])
    return _harness.spawn([script, "--config", config, "--upsampling", *[u for u, _, _ in jobs],
                   "--epochs", *[str(e) for _, _, e in jobs]], timeout=timeout)


TORCH_COMPILE_SKIP_REASON = (
    "torch.compile compiles each network for ~30-60 s on a 2-core CPU (plus a "
    "fresh process), which the 15-minute budget of bench/run_all.py leaves "
    "room for in one configuration only; `python bench/train_throughput.py "
    "--runners keras-torch-compile --torch-compile all` measures them all")
XLA_SKIP_REASON = (
    "jit_compile=True on tensorflow is measured on each configuration's default "
    "decoder only, to keep bench/run_all.py within its time budget (it is not "
    "what jit_compile=\"auto\" runs on a CPU); `--xla all` measures every decoder")
SKIP_REASON = (
    "left out by `--skip` (default: the resize decoder of pure JAX and of pythae, to "
    "keep bench/run_all.py within its time budget; `--skip none` measures them)")
RUNNER_VARIANTS = {  # the "variant" of each runner's result rows
    "keras-tensorflow": ("tf.function, no XLA", "XLA"),
    "keras-jax": ("jit (XLA)",),
    "keras-torch": ("eager",),
    "keras-torch-compile": ("torch.compile",),
    "torch": ("eager",),
    "jax": ("jit",),
    "pythae": ("BaseTrainer",),
}


def _parse_compile_jobs(spec, configs, upsamplings):
    """`{(config, upsampling)}` measured by keras-torch-compile."""
    if spec == ["all"]:
        return {(c, u) for c in configs for u in upsamplings}
    if spec == ["none"]:
        return set()
    jobs = set()
    for item in spec:
        config, _, upsampling = item.partition(":")
        if config not in CONFIGS or upsampling not in UPSAMPLINGS + ("default",):
            raise SystemExit(f"--torch-compile: expected CONFIG:UPSAMPLING, got {item!r}")
        jobs.add((config, default_upsampling(config) if upsampling == "default"
                  else upsampling))
    return jobs


def plan_runner(runner, config, args, compile_jobs):
    """What one runner process measures on one configuration.

    Returns `(jobs, skipped)`: `jobs` are `(upsampling, jit_compile, epochs)`;
    `skipped` are result rows (`"skipped": True`, the reason in `"error"`) for
    the runs left out (`--skip`, `--xla`, `--torch-compile`).
    """
    default = default_upsampling(config)
    jobs, skipped = [], []

    def skip(upsampling, variant, reason):
        skipped.append({"runner": runner, "config": config, "upsampling": upsampling,
                        "variant": variant, "skipped": True, "error": "not run: " + reason})

    for u in args.upsampling:
        epochs = args.epochs if u == default else args.other_epochs
        if f"{runner}:{u}" in args.skip:
            for variant in RUNNER_VARIANTS[runner]:
                skip(u, variant, SKIP_REASON)
        elif runner == "keras-tensorflow":
            jobs.append((u, False, epochs))
            if args.xla == "all" or (args.xla == "default" and u == default):
                jobs.append((u, True, epochs))
            else:
                skip(u, "XLA", XLA_SKIP_REASON)
        elif runner == "keras-torch-compile":
            if (config, u) in compile_jobs:
                jobs.append((u, True, epochs))
            else:
                skip(u, "torch.compile", TORCH_COMPILE_SKIP_REASON)
        else:
            jit = {"keras-jax": "auto", "keras-torch": False}.get(runner)
            jobs.append((u, jit, epochs))
    return jobs, skipped


def _print_throughput_table(rows):
    for r in rows:
        if "error" in r:
            print(f"| {r.get('runner')} | {r.get('config')} | {r.get('upsampling')} | "
                  f"{r.get('variant', '')} | skipped: {r['error']} | | | |")
            continue
        print(f"| {r['runner']} | {r['config']} | {r['upsampling']} | {r['variant']} | "
              f"{r['samples_per_s']:,.0f} | {r['epoch_rates']} | {r['peak_rss_mb']:,} | "
              f"{r['loadavg_1min']} |", flush=True)


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runners", nargs="+", default=list(RUNNERS), choices=RUNNERS)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--upsampling", nargs="+", default=list(UPSAMPLINGS),
                        choices=UPSAMPLINGS, help="decoder variants (throughput and quality)")
    parser.add_argument("--epochs", type=int, default=3,
                        help="timed epochs of each configuration's default decoder")
    parser.add_argument("--other-epochs", type=int, default=2,
                        help="timed epochs of the other decoders")
    parser.add_argument("--xla", choices=["default", "all", "none"], default="default",
                        help="decoders keras-tensorflow also measures with jit_compile=True "
                             "(XLA): each configuration's default one, all, or none")
    parser.add_argument("--skip", nargs="+", default=["jax:resize", "pythae:resize"],
                        metavar="RUNNER:UPSAMPLING",
                        help="runs left out, for every configuration ('none': none)")
    parser.add_argument("--torch-compile", nargs="+", default=["fashion_mnist:default"],
                        metavar="CONFIG:UPSAMPLING",
                        help="configurations the keras-torch-compile runner measures "
                             "('all', 'none', or config:upsampling pairs, where "
                             "upsampling may be 'default')")
    parser.add_argument("--torch-compile-timeout", type=float, default=240,
                        help="seconds allowed to one keras-torch-compile process")
    parser.add_argument("--memory", action="store_true",
                        help="also measure a full Fashion-MNIST epoch's peak RSS")
    parser.add_argument("--memory-backends", nargs="+",
                        default=["tensorflow", "jax", "torch"])
    parser.add_argument("--memory-upsampling", default="default",
                        choices=("default",) + UPSAMPLINGS,
                        help="decoder of the memory runs ('default': the library's)")
    parser.add_argument("--quality", type=int, default=0, metavar="EPOCHS",
                        help="also compare the decoders' test -ELBO after EPOCHS epochs")
    parser.add_argument("--quality-config", choices=list(CONFIGS), default="fashion_mnist",
                        help="data and network of the quality runs (dsprites: held-out "
                             "set = 10,000 random images of the full set)")
    parser.add_argument("--quality-steps", type=int, default=None,
                        help="steps per quality epoch (default: a full pass)")
    parser.add_argument("--quality-seed", type=int, default=0)
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--omp-wait-policy", choices=_harness.WAIT_POLICIES,
                        default="keras-vae", help=_harness.WAIT_POLICY_HELP)
    parser.add_argument("--json", help="write all measurements to this file")
    args = parser.parse_args(argv)
    args.skip = [] if args.skip == ["none"] else args.skip
    return args


def _new_report(args, argv):
    report = {"machine": _harness.machine_info(),
              "argv": list(sys.argv[1:] if argv is None else argv),
              "epochs": args.epochs, "other_epochs": args.other_epochs,
              "defaults": {c: default_upsampling(c) for c in CONFIGS},
              "upsamplings": list(args.upsampling),
              "throughput": [], "memory": [], "quality": [], "seconds": {}}
    m = report["machine"]
    print(f"# {m['date']}: {m['cpu']}, {m['cores']} cores, {m.get('memory_gb')} GB, "
          f"python {m['python']}; keras {m['keras']}, tensorflow {m['tensorflow']}, "
          f"jax {m['jax']}, optax {m['optax']}, torch {m['torch']}, numpy {m['numpy']}; "
          f"load {os.getloadavg()[0]:.2f}; default decoders: " + ", ".join(
              f"{c} {u}" for c, u in report["defaults"].items()), flush=True)
    return report


def _timed(report, key, fn, *args, **kwargs):
    """`fn(*args, **kwargs)`, its seconds recorded as `report["seconds"][key]`."""
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    report["seconds"][key] = round(time.perf_counter() - start, 1)
    return out


def measure_throughput(args, report):
    """Every runner on every configuration, configuration by configuration
    (the runs compared with each other are close in time, so slow drifts of
    the machine's load affect them alike)."""
    compile_jobs = _parse_compile_jobs(args.torch_compile, args.configs, args.upsampling)
    print("| runner | config | upsampling | variant | samples/s (median) | "
          "epoch samples/s | peak RSS MB | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for config in args.configs:
        for runner in args.runners:
            jobs, skipped = plan_runner(runner, config, args, compile_jobs)
            _print_throughput_table(skipped)
            report["throughput"] += skipped
            if not jobs:
                continue
            timeout = args.torch_compile_timeout if runner == "keras-torch-compile" else None
            rows, error = _timed(report, f"{runner} {config}", run_runner,
                                 runner, config, jobs, timeout)
            for row in rows:
                row["runner"] = runner
            if error:
                done = {r.get("upsampling") for r in rows}
                rows += [{"runner": runner, "config": config, "upsampling": u,
                          "error": error} for u, _, _ in jobs if u not in done]
            _print_throughput_table(rows)
            report["throughput"] += rows


def _print_table(header, rows, first, cells):
    """A Markdown table on stdout: `cells(row)` per row, or `first` and the
    error of a failed one."""
    print("\n| " + " | ".join(header) + " |\n|" + " --- |" * len(header))
    for r in rows:
        values = ([r[first], f"error: {r['error']}"] + [""] * (len(header) - 2)
                  if "error" in r else cells(r))
        print("| " + " | ".join(str(v) for v in values) + " |", flush=True)


def _print_quality_table(rows):
    _print_table(["config", "decoder upsampling", "epochs", "train s", "test -ELBO",
                  "test recon", "test KL"], rows, "config",
                 lambda r: [r["config"], r["upsampling"], r["epochs"], r["train_s"],
                            r["test_neg_elbo"], r["test_reconstruction"], r["test_kl"]])


def measure_quality(args, report, memory_backends, memory_up):
    """The tensorflow quality run; a Fashion-MNIST one doubles as the
    tensorflow memory run (removed from `memory_backends` then)."""
    from_quality = ("tensorflow" in memory_backends and memory_up in args.upsampling
                    and args.quality_config == "fashion_mnist")
    if from_quality:
        memory_backends.remove("tensorflow")
    rows, error = _timed(report, f"quality {args.quality_config}", _harness.spawn_call,
                         "train_throughput", "quality_worker", {
                             "epochs": args.quality, "upsamplings": list(args.upsampling),
                             "memory_upsampling": memory_up if from_quality else None,
                             "config_name": args.quality_config,
                             "steps_per_epoch": args.quality_steps,
                             "seed": args.quality_seed}, "tensorflow")
    report["memory"] += [r for r in rows if r.get("kind") == "memory"]
    rows = [r for r in rows if r.get("kind") != "memory"]
    if error:
        rows.append({"config": args.quality_config, "error": error})
    _print_quality_table(rows)
    report["quality"] = rows


def measure_memory(report, memory_backends, memory_up):
    for backend in memory_backends:
        rows, error = _timed(report, f"memory-{backend}", _harness.spawn_call,
                             "train_throughput", "memory_worker",
                             {"upsampling": memory_up}, backend)
        if error:
            rows = [{"runner": f"keras-{backend}", "error": error}]
        report["memory"] += rows
    if not report["memory"]:
        return
    _print_table(["backend", "decoder", "full-epoch samples/s", "RSS MB after imports",
                  "before fit", "peak RSS MB"], report["memory"], "runner",
                 lambda r: [r["runner"], r["upsampling"], f"{r['samples_per_s']:,}",
                            f"{r['rss_mb_after_imports']:,}", f"{r['rss_mb_before_fit']:,}",
                            f"{r['peak_rss_mb']:,}"])


def main(argv=None):
    args = _parse(argv)
    _harness.set_wait_policy(args.omp_wait_policy)
    report = _new_report(args, argv)
    if not args.no_throughput:
        measure_throughput(args, report)
    memory_backends = list(args.memory_backends) if args.memory else []
    memory_up = (_harness.DEFAULT_UPSAMPLING["conv"] if args.memory_upsampling == "default"
                 else args.memory_upsampling)
    if args.quality:
        measure_quality(args, report, memory_backends, memory_up)
    measure_memory(report, memory_backends, memory_up)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
