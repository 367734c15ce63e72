"""Latency and throughput of the exported encoder against the Keras model.

Exports one model (random weights; the timings do not depend on them) from
the current backend as a SavedModel and as ONNX, then times the `encode`
path four ways on the same weights:

- `saved_model`: `tf.saved_model.load(path).signatures["encode"]`;
- `onnxruntime`: `encoder.onnx` in an `InferenceSession` (CPU provider);
- `keras call`: `model.encoder(x, training=False)`, converted to numpy;
- `keras predict`: `model.encoder.predict(x)` (what `model.encode` runs).

Reports the median latency of one image (batch 1) and the throughput at
batch 256, plus the machine. Usage:

    KERAS_BACKEND=jax python bench/export_latency.py [--repeats 200]
"""

import argparse
import os
import platform
import statistics
import tempfile
import time

import keras
import numpy as np

import keras_vae


def machine_info():
    """One line per fact about the machine and the software versions."""
    import onnxruntime
    import tensorflow as tf

    cpu = platform.processor() or "unknown CPU"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f
                     if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return [
        f"machine: {platform.machine()} {cpu}, {os.cpu_count()} cores, "
        f"load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}",
        f"python {platform.python_version()}, keras {keras.__version__} "
        f"(backend {keras.backend.backend()}), tensorflow {tf.__version__}, "
        f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__}",
    ]


def time_calls(fn, x, repeats, warmup=5):
    """Median seconds per call of `fn(x)` over `repeats` calls."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def runners(model, saved_model_dir, onnx_dir):
    """`{name: fn(x) -> numpy z_mean}` for each way of encoding."""
    import onnxruntime
    import tensorflow as tf

    encode = tf.saved_model.load(saved_model_dir).signatures["encode"]
    session = onnxruntime.InferenceSession(
        os.path.join(onnx_dir, "encoder.onnx"),
        providers=["CPUExecutionProvider"],
    )
    return {
        "saved_model": lambda x: encode(x=tf.constant(x))["z_mean"].numpy(),
        "onnxruntime": lambda x: session.run(["z_mean"], {"x": x})[0],
        "keras call": lambda x: keras.ops.convert_to_numpy(
            model.encoder(x, training=False)[0]),
        "keras predict": lambda x: model.encoder.predict(
            x, batch_size=len(x), verbose=0)[0],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=28)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=200,
                        help="timed batch-1 calls per runner")
    parser.add_argument("--batches", type=int, default=10,
                        help="timed batch-256 calls per runner")
    args = parser.parse_args(argv)

    for line in machine_info():
        print(line)
    size = args.image_size
    model = keras_vae.VAE(input_shape=(size, size, 1), latent_dim=args.latent_dim,
                          architecture="conv", seed=0)
    print(f"model: conv VAE {size}x{size}x1, latent_dim={args.latent_dim}, "
          f"{model.count_params():,} parameters")

    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for format in ("saved_model", "onnx"):
            start = time.perf_counter()
            paths[format] = keras_vae.export(model, os.path.join(tmp, format),
                                             format=format)
            print(f"export {format}: {time.perf_counter() - start:.1f} s")
        fns = runners(model, paths["saved_model"], paths["onnx"])

        rng = np.random.default_rng(0)
        one = rng.random((1, size, size, 1), dtype="float32")
        batch = rng.random((256, size, size, 1), dtype="float32")
        reference = fns["keras call"](batch)
        print()
        print("| encode | batch 1 p50 (ms) | batch 256 (images/s) | max abs diff vs keras |")
        print("| --- | ---: | ---: | ---: |")
        for name, fn in fns.items():
            latency = time_calls(fn, one, args.repeats)
            per_batch = time_calls(fn, batch, args.batches, warmup=2)
            diff = float(np.max(np.abs(fn(batch) - reference)))
            print(f"| {name} | {latency * 1e3:.3f} | {256 / per_batch:,.0f} "
                  f"| {diff:.1e} |")


if __name__ == "__main__":
    main()
