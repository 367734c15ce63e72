"""Early-training robustness of the decoder upsampling variants on the dSprites
net: per seed, the training-loss curve and the held-out negative ELBO at
checkpoints, tensorflow backend.

    python bench/decoder_robustness.py --seeds 0 1 2 3 4 --steps 1500
    python bench/decoder_robustness.py --variants subpixel transpose --json out.json

Each (variant, seed) trains `keras_vae.VAE` on procedural dSprites (batch 64,
Adam, `--learning-rate`) for `--steps` steps; the mean training loss of every
`--window` steps is recorded, and at every `--eval-every` steps the negative
ELBO of 2,000 held-out random dSprites images (one posterior sample per image,
nats per image). "Plateau steps" is the first window whose mean training loss
is below `--plateau-threshold` nats: dSprites VAEs first learn to draw the
background only (a training loss of ~490 nats), and the question this script
answers is how long each decoder stays there.

Variants: the library's `upsampling` options (`transpose`, `subpixel`,
`resize`), and `subpixel-glorot`, the sub-pixel block with Keras' plain
`glorot_uniform` on its convolutions instead of
`keras_vae.networks.subpixel_initializer` (the transposed convolution's
initial variance). `--report FILE` prints the tables of the runs stored with
`--json FILE` (runs of earlier versions of the library included: the variant
names are what the library meant by them when they ran, see
`bench/RESULTS.md`).
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import _harness  # noqa: E402  (CONFIGS, the model, the held-out images)

VARIANTS = ("transpose", "subpixel", "subpixel-glorot", "resize")


def _glorot_subpixel(model, seed):
    """Re-draws the sub-pixel kernels from plain glorot_uniform."""
    import keras

    for i, layer in enumerate(model.decoder.layers):
        if layer.name.startswith("decoder_subpixel_conv_"):
            init = keras.initializers.GlorotUniform(seed=seed + i)
            layer.kernel.assign(init(layer.kernel.shape))


def run(variant, seed, steps, window, eval_every, learning_rate, test):
    import keras

    from keras_vae.datasets import load

    keras.utils.clear_session(free_memory=True)
    keras.utils.set_random_seed(seed)
    upsampling = "subpixel" if variant == "subpixel-glorot" else variant
    model = _harness.build_vae("dsprites", upsampling, seed)
    if variant == "subpixel-glorot":
        _glorot_subpixel(model, seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    train = load("dsprites", "train", batch_size=_harness.CONFIGS["dsprites"]["batch_size"],
                 seed=seed)

    class Record(keras.callbacks.Callback):
        # One fit call: its data iterator runs on across the windows.
        def __init__(self):
            super().__init__()
            self.losses, self.evals = [], {}

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append(round(float(logs["loss"]), 1))
            done = (epoch + 1) * window
            if done % eval_every == 0 or done == steps:
                result = self.model.evaluate(test, batch_size=500, verbose=0,
                                             return_dict=True)
                self.evals[done] = round(float(result["loss"]), 1)

    record = Record()
    start = time.perf_counter()
    model.fit(train, epochs=steps // window, steps_per_epoch=window, verbose=0,
              callbacks=[record])
    return {"variant": variant, "seed": seed, "steps": steps, "window": window,
            "learning_rate": learning_rate, "train_s": round(time.perf_counter() - start, 1),
            "window_losses": record.losses, "held_out_neg_elbo": record.evals}


def plateau_steps(row, threshold):
    for i, loss in enumerate(row["window_losses"]):
        if loss < threshold:
            return (i + 1) * row["window"]
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", choices=VARIANTS,
                        default=["subpixel", "transpose", "subpixel-glorot"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--plateau-threshold", type=float, default=300.0)
    parser.add_argument("--json", help="append one JSON line per run to this file")
    parser.add_argument("--report", metavar="JSONL",
                        help="print the tables of the runs stored in this file and exit")
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as f:
            print_tables([json.loads(line) for line in f if line.strip()],
                         args.plateau_threshold)
        return
    if args.steps % args.window:
        parser.error(f"--steps must be a multiple of --window; received {args.steps} "
                     f"and {args.window}")

    test = _harness.dsprites_held_out(2_000)
    rows = []
    for seed in args.seeds:
        for variant in args.variants:
            row = run(variant, seed, args.steps, args.window, args.eval_every,
                      args.learning_rate, test)
            row["plateau_steps"] = plateau_steps(row, args.plateau_threshold)
            rows.append(row)
            _harness.emit(row)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(row) + "\n")

    print_tables(rows, args.plateau_threshold)


def print_tables(rows, threshold):
    """Markdown: one row per run, then a summary per variant."""
    import statistics

    checkpoints = sorted({int(k) for r in rows for k in r["held_out_neg_elbo"]})
    print(f"\n| variant | seed | first window below {threshold:g} nats | "
          + " | ".join(f"-ELBO @ {c}" for c in checkpoints) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in checkpoints) + " |")
    for r in sorted(rows, key=lambda r: (r["variant"], r["seed"])):
        cells = [str(r["held_out_neg_elbo"].get(str(c), r["held_out_neg_elbo"].get(c, "")))
                 for c in checkpoints]
        steps = plateau_steps(r, threshold)
        print(f"| {r['variant']} | {r['seed']} | {steps or 'not within ' + str(r['steps'])} | "
              + " | ".join(cells) + " |")
    last = checkpoints[-1]
    print(f"\n| variant | runs | left the plateau by step 500 | median first window below "
          f"{threshold:g} | median -ELBO @ {last} | worst -ELBO @ {last} |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for variant in sorted({r["variant"] for r in rows}):
        mine = [r for r in rows if r["variant"] == variant]
        steps = [plateau_steps(r, threshold) or float("inf") for r in mine]
        final = [r["held_out_neg_elbo"].get(str(last), r["held_out_neg_elbo"].get(last))
                 for r in mine]
        final = [v for v in final if v is not None]
        print(f"| {variant} | {len(mine)} | {sum(s <= 500 for s in steps)} | "
              f"{statistics.median(steps):g} | {statistics.median(final):.1f} | "
              f"{max(final):.1f} |")

if __name__ == "__main__":
    main()
