"""What the bench/ scripts share: configurations, child processes, timing
and result rows (RESULTS.md's tables: `_results_md.py`).

The scripts import it as a sibling module (`python bench/x.py` puts bench/
on `sys.path`). It imports no Keras: a parent process picks each child's
backend through `KERAS_BACKEND`, so it must not load one itself. The
library's network defaults are therefore read from
`keras_vae/_network_defaults.py` by file path (that module imports nothing),
not through `keras_vae`, whose `__init__` imports Keras.

Children run a real function of a bench module with JSON arguments:

    python bench/_harness.py MODULE FUNCTION '{"keyword": value, ...}'

(`spawn_call`), and report by printing `RESULT {json}` lines (`spawn`
collects them, and the bare JSON lines of the native runners).
"""

import importlib
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
if ROOT not in sys.path:  # the library of this checkout, as children get it (child_env)
    sys.path.insert(0, ROOT)


def _load_architecture_defaults():
    path = os.path.join(ROOT, "keras_vae", "_network_defaults.py")
    spec = importlib.util.spec_from_file_location("keras_vae_network_defaults", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ARCHITECTURE_DEFAULTS


# `keras_vae.networks.ARCHITECTURE_DEFAULTS`, without importing Keras.
ARCHITECTURE_DEFAULTS = _load_architecture_defaults()
# Layer sizes of the convolutional architectures (the native runners build
# them by hand) and the library's default decoder upsampling of each.
NETWORKS = {arch: {k: v for k, v in ARCHITECTURE_DEFAULTS[arch].items() if k != "upsampling"}
            for arch in ("conv", "disentanglement")}
DEFAULT_UPSAMPLING = {arch: ARCHITECTURE_DEFAULTS[arch]["upsampling"] for arch in NETWORKS}
UPSAMPLINGS = ("transpose", "subpixel", "resize")

CONFIGS = {
    "fashion_mnist": dict(input_shape=(28, 28, 1), latent_dim=16, architecture="conv",
                          batch_size=128, num_examples=40 * 128, warmup_steps=5),
    "dsprites": dict(input_shape=(64, 64, 1), latent_dim=10,
                     architecture="disentanglement", batch_size=64,
                     num_examples=40 * 64, warmup_steps=3),
}
_TRAINING_KEYS = ("batch_size", "num_examples", "warmup_steps")


def default_upsampling(config_name):
    """The library's default decoder upsampling of a configuration."""
    return DEFAULT_UPSAMPLING[CONFIGS[config_name]["architecture"]]


def model_kwargs(config_name):
    """The `keras_vae.VAE` arguments of a configuration (shape, latent size,
    architecture), without its training settings."""
    return {k: v for k, v in CONFIGS[config_name].items() if k not in _TRAINING_KEYS}


def build_vae(config_name, upsampling, seed=0, model="VAE"):
    """A `keras_vae` model of a configuration with the given decoder."""
    import keras_vae

    return getattr(keras_vae, model)(**model_kwargs(config_name),
                                     network_kwargs={"upsampling": upsampling}, seed=seed)


def epochs_per_upsampling(upsamplings, epochs):
    """Pairs each decoder with its timed epochs (`epochs`: one, or one each)."""
    if len(epochs) == 1:
        epochs = list(epochs) * len(upsamplings)
    if len(epochs) != len(upsamplings):
        raise SystemExit(f"--epochs needs 1 or {len(upsamplings)} numbers, got {epochs}")
    return list(zip(upsamplings, epochs))


def native_main(measure, doc):
    """Command line of a native loop (`native_torch.py`, `native_jax.py`):
    measures each `--config` x `--upsampling` and prints one JSON line each."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--config", nargs="+", default=["fashion_mnist"],
                        choices=sorted(CONFIGS))
    parser.add_argument("--upsampling", nargs="+", default=list(UPSAMPLINGS),
                        choices=UPSAMPLINGS)
    parser.add_argument("--epochs", type=int, nargs="+", default=[3],
                        help="timed epochs: one number, or one per --upsampling entry")
    args = parser.parse_args()
    for config in args.config:
        for upsampling, epochs in epochs_per_upsampling(args.upsampling, args.epochs):
            start = time.perf_counter()
            out = measure(config, upsampling, epochs)
            out["job_s"] = round(time.perf_counter() - start, 1)
            print(json.dumps(out), flush=True)


def random_images(config):
    """`num_examples` uniform [0, 1] images of a configuration (fixed seed)."""
    import numpy as np

    shape = (config["num_examples"],) + tuple(config["input_shape"])
    return np.random.default_rng(0).uniform(size=shape).astype("float32")


def dsprites_held_out(n):
    """`n` random dSprites images (a fixed seed), `(n, 64, 64, 1)` float32."""
    import numpy as np

    from keras_vae.datasets import DSprites

    data = DSprites()
    index = np.sort(np.random.default_rng(1).choice(len(data), n, replace=False))
    return np.asarray(data.imgs(index), dtype="float32").reshape((-1, 64, 64, 1))


# === Timing and result rows ===


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def epoch_timer():
    """A Keras callback recording each epoch's seconds (`.times`) and
    training loss (`.losses`)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.losses = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)
            if logs and "loss" in logs:
                self.losses.append(float(logs["loss"]))

    return EpochTimer()


def result_row(runner, config, upsampling, variant, times, n, losses=None, **extra):
    """One throughput measurement: median samples/s over the timed epochs."""
    rates = [n / t for t in times]
    return {
        "runner": runner,
        "config": config,
        "upsampling": upsampling,
        "variant": variant,
        "samples_per_s": statistics.median(rates),
        "epoch_rates": [round(r) for r in rates],
        "epoch_examples": n,
        "final_loss": None if not losses else round(losses[-1], 2),
        "peak_rss_mb": round(peak_rss_mb()),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        **extra,
    }


def emit(row):
    """Reports a row from a child process (see `spawn`)."""
    print("RESULT " + json.dumps(row), flush=True)


def keras_versions():
    import keras

    versions = {"keras": keras.__version__}
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax

        versions["jax"] = jax.__version__
    else:
        import torch

        versions["torch"] = torch.__version__
    return versions


def machine_info():
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f
                               if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or platform.machine()
    try:
        with open("/proc/meminfo") as f:
            info["memory_gb"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    from importlib import metadata

    for package in ("keras", "tensorflow", "jax", "jaxlib", "optax", "torch", "numpy"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    return info


# === Child processes ===


CHILD_ENV = {}  # extra environment of every child (None removes a variable): thread settings

WAIT_POLICIES = ("keras-vae", "passive", "active", "environment")
WAIT_POLICY_HELP = (
    "OpenMP wait settings of every child process, keras-vae and native loops alike: "
    "'keras-vae' the library's defaults (keras_vae/_threads.py, DEFAULTS), 'passive' or "
    "'active' that OMP_WAIT_POLICY alone, 'environment' "
    "the caller's variables as they are (children that import keras_vae add its defaults "
    "where neither variable is set; native loops get OpenMP's own default)")


def library_thread_defaults():
    """`keras_vae._threads.DEFAULTS`, read from the file (the bench's parent
    process does not import keras_vae, which imports Keras)."""
    spec = importlib.util.spec_from_file_location(
        "_keras_vae_threads", os.path.join(ROOT, "keras_vae", "_threads.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.DEFAULTS)


def set_wait_policy(policy):
    """Sets the children's OpenMP wait settings (`WAIT_POLICIES`)."""
    if policy not in WAIT_POLICIES:
        raise ValueError(f"policy must be one of {WAIT_POLICIES}. Received: policy={policy!r}")
    names = library_thread_defaults()
    if policy == "keras-vae":
        CHILD_ENV.update(names)
    elif policy in ("passive", "active"):
        CHILD_ENV.update({name: None for name in names}, OMP_WAIT_POLICY=policy.upper())


def child_env(backend=None, **extra):
    """The environment of a child: the library of this checkout first on the
    path, TensorFlow's C++ logging off, `KERAS_BACKEND=backend`, and
    `CHILD_ENV` (a None value removes the variable)."""
    path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=path, **CHILD_ENV, **extra)
    env = {name: value for name, value in env.items() if value is not None}
    if backend:
        env["KERAS_BACKEND"] = backend
    return env


def spawn(argv, backend=None, timeout=None):
    """Runs `python *argv`; returns (its RESULT rows, an error message or None)."""
    try:
        proc = subprocess.run([sys.executable] + list(argv), env=child_env(backend),
                              capture_output=True, text=True, timeout=timeout)
        stdout, error = proc.stdout, None
        if proc.returncode != 0:
            error = f"exit {proc.returncode}: {proc.stderr.strip()[-1500:]}"
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        error = f"did not finish within {timeout} s"
    results = []
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            results.append(json.loads(line[len("RESULT "):]))
        elif line.startswith("{"):  # native runners print bare JSON
            results.append(json.loads(line))
    return results, error


def spawn_call(module, function, kwargs, backend=None, timeout=None):
    """`spawn` of `module.function(**kwargs)` (a bench/ module; JSON arguments)."""
    return spawn([os.path.abspath(__file__), module, function, json.dumps(kwargs)],
                 backend, timeout)


def _call(argv):
    module, function, kwargs = argv
    return getattr(importlib.import_module(module), function)(**json.loads(kwargs))


if __name__ == "__main__":
    _call(sys.argv[1:])
