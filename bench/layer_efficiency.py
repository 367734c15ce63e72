"""Where a tensorflow training step's time goes, layer by layer, against the
machine's matrix-multiplication rate (the "limit" of issue 19).

    KERAS_BACKEND=tensorflow python bench/layer_efficiency.py
    KERAS_BACKEND=tensorflow python bench/layer_efficiency.py --config dsprites --json out.json

tensorflow is the fastest Keras backend on CPU (bench/RESULTS.md), so its
step is the one set against the sgemm rate. For one configuration's network
(`bench/_harness.py`: the library's encoder and decoder with the default
decoder, the configuration's batch size), in this process:

- **Per layer**: every layer with multiply-adds (Conv2D, Conv2DTranspose,
  Dense, with its bias and activation) is run alone on the activations it
  gets in the network, in one `tf.function` per measurement: the forward
  pass, and the forward pass with the gradients a training step takes of it
  (its weights, and its input except for the network's first layer). FLOPs
  are counted as `bench/recipe_throughput.py` counts them (2 x
  multiply-adds; a gradient costs as much as the forward pass).
- **Per stage of the step**: the model's loss (`compute_loss`, forward),
  the loss and its gradients, the bare step (the same plus Adam's update),
  each a `tf.function`; and `model.fit` on numpy arrays (what
  `bench/train_throughput.py` times): one call, the best of its epochs
  after the first (which traces).

Each time is the best of `--repeats` runs of `--calls` calls (a run's mean),
so the figures are the machine's quiet moments; the sgemm rate (1024 x 1024
float32 `tf.linalg.matmul`) is measured the same way in the same process.
A layer's time includes a `tf.function` call's fixed cost (~0.1 ms on the
reference machine, the time of a layer without multiply-adds such as
Flatten), which is why the layers' times add up to more than the step's.
"""

import argparse
import json
import os
import time

import numpy as np

import _harness
from recipe_throughput import _layer_flops
from recipe_throughput import network_flops


def _best_ms(fn, arg, calls, repeats):
    """Best over `repeats` runs of the mean time of `calls` calls, in ms."""
    for _ in range(3):
        fn(arg)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = fn(arg)
        float(out)  # the result is computed (tf.function calls return when done)
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e3


def sgemm_rate(calls, repeats, size=1024):
    """GFLOP/s of a float32 size x size matrix product on tensorflow."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    matmul = tf.function(lambda a: tf.reduce_sum(tf.linalg.matmul(a, a)))
    return 2 * size**3 / _best_ms(matmul, a, calls, repeats) / 1e6


def _layer_inputs(model, x):
    """`[(network, layer, input activation)]` for every layer with
    multiply-adds, in the order the step runs them."""
    import keras

    out = []
    z = model.encoder(x)[0]
    for network, inputs in ((model.encoder, x), (model.decoder, z)):
        for layer in network.layers:
            if not _layer_flops(layer):
                continue
            if layer.input is network.inputs[0]:
                out.append((network, layer, inputs))
            else:
                out.append((network, layer, keras.Model(network.inputs, layer.input)(inputs)))
    return out


def _layer_functions(layer, input_grad):
    """`tf.function`s of one layer: its forward pass, and its forward pass with
    the gradients of its weights (and of its input if `input_grad`)."""
    import tensorflow as tf

    @tf.function
    def forward(a):
        return tf.reduce_sum(layer(a))

    @tf.function
    def forward_backward(a):
        with tf.GradientTape() as tape:
            tape.watch(a)
            total = tf.reduce_sum(layer(a))
        sources = ([a] if input_grad else []) + layer.trainable_variables
        grads = tape.gradient(total, sources)
        # The forward value is returned too: a layer without an activation
        # would otherwise have its forward pass pruned from the graph.
        return total + tf.add_n([tf.reduce_sum(g) for g in grads])

    return forward, forward_backward


def layer_rows(model, x, calls, repeats):
    """One row per layer with multiply-adds: forward and forward + backward."""
    rows = []
    first = True
    for network, layer, activation in _layer_inputs(model, x):
        batch = int(x.shape[0])
        flops = _layer_flops(layer) * batch
        input_grad = not first
        first = False

        forward, forward_backward = _layer_functions(layer, input_grad)
        fwd = _best_ms(forward, activation, calls, repeats)
        both = _best_ms(forward_backward, activation, calls, repeats)
        train_flops = flops * (3 if input_grad else 2)
        rows.append({
            "network": network.name, "layer": layer.name,
            "kind": type(layer).__name__,
            "input": list(activation.shape[1:]), "kernel": list(layer.kernel.shape),
            "forward_mflop": round(flops / 1e6, 1),
            "forward_ms": round(fwd, 3), "forward_gflops": round(flops / fwd / 1e6, 1),
            "train_mflop": round(train_flops / 1e6, 1),
            "train_ms": round(both, 3), "train_gflops": round(train_flops / both / 1e6, 1),
        })
    return rows


def stage_rows(model, x, calls, repeats, fit_epochs, config):
    """The step in stages: loss, + gradients, + Adam (bare), `model.fit`."""
    import keras
    import tensorflow as tf

    variables = model.trainable_variables
    model.optimizer.build(variables)

    @tf.function
    def loss(x):
        return model.compute_loss(x, training=True)

    @tf.function
    def loss_and_gradients(x):
        with tf.GradientTape() as tape:
            value = model.compute_loss(x, training=True)
        grads = tape.gradient(value, variables)
        return value + tf.add_n([tf.reduce_sum(g) for g in grads]) * 0.0

    @tf.function
    def bare_step(x):
        with tf.GradientTape() as tape:
            value = model.compute_loss(x, training=True)
        model.optimizer.apply(tape.gradient(value, variables), variables)
        return value

    batch = int(x.shape[0])
    flops = network_flops(model)
    per_step = {"forward": flops["forward"] * batch, "train": flops["train"] * batch}
    rows = []
    for name, fn, kind in (("loss (forward)", loss, "forward"),
                           ("loss + gradients", loss_and_gradients, "train"),
                           ("bare step (+ Adam)", bare_step, "train")):
        ms = _best_ms(fn, x, calls, repeats)
        rows.append({"stage": name, "ms": round(ms, 3), "gflop": round(per_step[kind] / 1e9, 3),
                     "gflops": round(per_step[kind] / ms / 1e6, 1)})

    data = _harness.random_images(config)
    steps = -(-len(data) // batch)
    timer = _harness.epoch_timer()
    model.fit(data, batch_size=batch, epochs=1 + fit_epochs, verbose=0, callbacks=[timer])
    ms = min(timer.times[1:]) / steps * 1e3  # the first epoch traces
    rows.append({"stage": "model.fit (numpy)", "ms": round(ms, 3),
                 "gflop": round(per_step["train"] / 1e9, 3),
                 "gflops": round(per_step["train"] / ms / 1e6, 1)})
    return rows


def _print(report):
    sgemm = report["sgemm_gflops"]
    print(f"# {report['date']}, {report['config']} ({report['upsampling']} decoder), "
          f"batch {report['batch_size']}, tensorflow {report['tensorflow']}, load "
          f"{report['loadavg_1min']}; sgemm {sgemm:,.0f} GFLOP/s")
    print()
    print("| layer | input -> kernel | forward MFLOP | forward ms | forward GFLOP/s | "
          "train MFLOP | fwd + grads ms | fwd + grads GFLOP/s | % of sgemm |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in report["layers"]:
        print(f"| {r['network']}/{r['layer']} ({r['kind']}) | {r['input']} -> {r['kernel']} | "
              f"{r['forward_mflop']} | {r['forward_ms']} | {r['forward_gflops']:,.0f} | "
              f"{r['train_mflop']} | {r['train_ms']} | {r['train_gflops']:,.0f} | "
              f"{100 * r['train_gflops'] / sgemm:.0f}% |")
    print()
    print("| stage | ms per step | GFLOP per step | GFLOP/s | % of sgemm |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in report["stages"]:
        print(f"| {r['stage']} | {r['ms']} | {r['gflop']} | {r['gflops']:,.0f} | "
              f"{100 * r['gflops'] / sgemm:.0f}% |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(_harness.CONFIGS), default="fashion_mnist")
    parser.add_argument("--calls", type=int, default=30, help="calls per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs; the best is kept")
    parser.add_argument("--fit-epochs", type=int, default=3,
                        help="timed model.fit epochs after the first; the best is kept")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    for name in ("calls", "repeats", "fit_epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")

    import keras

    if keras.backend.backend() != "tensorflow":
        parser.error("run it on tensorflow (KERAS_BACKEND=tensorflow), the fastest CPU "
                     f"backend; this process has {keras.backend.backend()!r}")
    import tensorflow as tf

    config = _harness.CONFIGS[args.config]
    upsampling = _harness.default_upsampling(args.config)
    model = _harness.build_vae(args.config, upsampling)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batch = config["batch_size"]
    x = tf.constant(_harness.random_images(config)[:batch])
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "config": args.config, "upsampling": upsampling, "batch_size": batch,
        "tensorflow": tf.__version__, "cores": os.cpu_count(),
        "sgemm_gflops": round(sgemm_rate(args.calls, args.repeats), 1),
        "layers": layer_rows(model, x, args.calls, args.repeats),
        "stages": stage_rows(model, x, args.calls, args.repeats, args.fit_epochs, config),
    }
    report["loadavg_1min"] = round(os.getloadavg()[0], 2)
    _print(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
