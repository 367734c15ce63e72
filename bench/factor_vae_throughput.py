"""FactorVAE's training cost against the VAE's on the same network.

For each Keras backend (one process each), `model.fit` of `VAE` and of
`FactorVAE` (the paper's discriminator, 6 x 1000 leaky-ReLU units, and its
second optimizer) on the dSprites configuration of `train_throughput.py`
(64x64 disentanglement net, batch 64, random images), timed per epoch after
a warm-up fit; prints one JSON line per measurement and a markdown table
with the median samples/s and FactorVAE's ratio to VAE.

    python bench/factor_vae_throughput.py [--epochs 3] [--backends tensorflow jax torch]
"""

import argparse
import json
import os
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import train_throughput as tt  # noqa: E402

CONFIG = "dsprites"
MODELS = ("VAE", "FactorVAE")


def measure(name, epochs):
    import keras

    import keras_vae

    config = dict(tt.CONFIGS[CONFIG])
    batch_size, n = config.pop("batch_size"), config.pop("num_examples")
    warmup_steps = config.pop("warmup_steps")
    x = tt.random_images(tt.CONFIGS[CONFIG])
    keras.utils.clear_session(free_memory=True)
    keras.utils.set_random_seed(0)
    model = getattr(keras_vae, name)(**config, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(x, batch_size=batch_size, epochs=1, steps_per_epoch=warmup_steps, verbose=0)
    history = model.fit(x, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=[Timer()]).history
    backend = keras.backend.backend()
    variant = {"jax": "jit (XLA)", "tensorflow": "tf.function", "torch": "eager"}[backend]
    return tt.result(runner=f"keras-{backend}", config=CONFIG, upsampling=tt.DEFAULT_UPSAMPLING[
        "disentanglement"], variant=variant, times=times, n=n, losses=history["loss"],
        model=name, parameters=int(model.count_params()), jit_compile=model.jit_compile)


def child(epochs):
    for name in MODELS:
        print("RESULT " + json.dumps(measure(name, epochs)), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.epochs)
        return 0
    rows = []
    for backend in args.backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
                   PYTHONPATH=tt.ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        out = subprocess.run([sys.executable, __file__, "--child", "--epochs", str(args.epochs)],
                             env=env, capture_output=True, text=True, cwd=tt.ROOT)
        found = [json.loads(line[7:]) for line in out.stdout.splitlines()
                 if line.startswith("RESULT ")]
        if out.returncode or len(found) != len(MODELS):
            print(f"{backend} failed:\n{out.stderr[-3000:]}", file=sys.stderr)
            return 1
        for row in found:
            print(json.dumps(row))
        rows += found
    print("\n| backend | VAE samples/s | FactorVAE samples/s | FactorVAE / VAE | load |")
    print("|---|---:|---:|---:|---:|")
    for backend in args.backends:
        vae, factor = (next(r for r in rows if r["runner"] == f"keras-{backend}"
                            and r["model"] == m) for m in MODELS)
        print(f"| {backend} ({vae['variant']}) | {vae['samples_per_s']:.0f} | "
              f"{factor['samples_per_s']:.0f} | "
              f"{factor['samples_per_s'] / vae['samples_per_s']:.2f} | "
              f"{vae['loadavg_1min']} / {factor['loadavg_1min']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
