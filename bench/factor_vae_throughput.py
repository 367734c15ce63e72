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
import sys

import _harness

CONFIG = "dsprites"
MODELS = ("VAE", "FactorVAE")


def measure(name, epochs):
    import keras

    import keras_vae

    config = _harness.CONFIGS[CONFIG]
    batch_size, n = config["batch_size"], config["num_examples"]
    x = _harness.random_images(config)
    keras.utils.clear_session(free_memory=True)
    keras.utils.set_random_seed(0)
    model = getattr(keras_vae, name)(**_harness.model_kwargs(CONFIG), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    timer = _harness.epoch_timer()
    model.fit(x, batch_size=batch_size, epochs=1, steps_per_epoch=config["warmup_steps"],
              verbose=0)
    history = model.fit(x, batch_size=batch_size, epochs=epochs, verbose=0,
                        callbacks=[timer]).history
    backend = keras.backend.backend()
    variant = {"jax": "jit (XLA)", "tensorflow": "tf.function", "torch": "eager"}[backend]
    return _harness.result_row(
        runner=f"keras-{backend}", config=CONFIG, upsampling=_harness.default_upsampling(CONFIG),
        variant=variant, times=timer.times, n=n, losses=history["loss"],
        model=name, parameters=int(model.count_params()), jit_compile=model.jit_compile)


def child(epochs):
    for name in MODELS:
        _harness.emit(measure(name, epochs))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    args = parser.parse_args(argv)
    rows = []
    for backend in args.backends:
        found, error = _harness.spawn_call("factor_vae_throughput", "child",
                                           {"epochs": args.epochs}, backend)
        if error or len(found) != len(MODELS):
            print(f"{backend} failed:\n{error}", file=sys.stderr)
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
