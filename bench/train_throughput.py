"""Training throughput of `model.fit` per Keras backend.

Each backend runs in its own process (Keras picks its backend at import).
For every configuration it builds a VAE, runs one warm-up epoch (tracing /
compilation excluded), then times `--epochs` more epochs and reports the
median samples/s, with the peak RSS of the process.

    python bench/train_throughput.py                      # all backends, both decoders
    python bench/train_throughput.py --backends jax --upsampling transpose

Default configuration: the Fashion-MNIST-sized conv VAE (28x28x1, latent 16,
conv 32-64, dense 256, batch 128) on random [0, 1] images (throughput does not
depend on pixel values; no data set needed).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

CONFIGS = {
    "fashion_mnist": dict(input_shape=(28, 28, 1), latent_dim=16, architecture="conv",
                          batch_size=128, num_examples=12_800),
    "dsprites": dict(input_shape=(64, 64, 1), latent_dim=10,
                     architecture="disentanglement", batch_size=64, num_examples=3_200),
}


def _worker(spec):
    import resource

    import keras
    import numpy as np

    import keras_vae

    config = dict(CONFIGS[spec["config"]])
    batch_size = config.pop("batch_size")
    n = config.pop("num_examples")
    x = np.random.default_rng(0).uniform(size=(n,) + config["input_shape"]).astype("float32")
    model = keras_vae.VAE(**config, network_kwargs={"upsampling": spec["upsampling"]}, seed=0)
    compile_args = {}
    if spec["jit_compile"] is not None:
        compile_args["jit_compile"] = spec["jit_compile"]
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_args)
    model.fit(x, batch_size=batch_size, epochs=1, verbose=0)  # warm-up
    rates = []
    for _ in range(spec["epochs"]):
        start = time.perf_counter()
        model.fit(x, batch_size=batch_size, epochs=1, verbose=0)
        rates.append(n / (time.perf_counter() - start))
    return {
        "backend": keras.backend.backend(),
        "samples_per_s": float(np.median(rates)),
        "all": [round(r) for r in rates],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(backend, config, upsampling, epochs, jit_compile=None):
    spec = dict(config=config, upsampling=upsampling, epochs=epochs, jit_compile=jit_compile)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    code = (f"import json, sys; sys.path.insert(0, {os.path.dirname(__file__)!r}); "
            f"import train_throughput as t; print(json.dumps(t._worker({spec!r})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="fashion_mnist")
    parser.add_argument("--upsampling", nargs="+", default=["resize", "transpose"])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    import keras

    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}, "
          f"keras {keras.__version__}; config {args.config} {CONFIGS[args.config]}")
    print("| backend | decoder upsampling | samples/s (median) | epochs | peak RSS MB |")
    print("| --- | --- | --- | --- | --- |")
    for backend in args.backends:
        for upsampling in args.upsampling:
            r = run(backend, args.config, upsampling, args.epochs)
            print(f"| {backend} | {upsampling} | {r['samples_per_s']:,.0f} | {r['all']} | "
                  f"{r['peak_rss_mb']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
