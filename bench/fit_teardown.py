"""What ending a `fit` call costs: the recipe pipeline with and without
tf.data autotuning, on the current Keras backend.

    python bench/fit_teardown.py                              # tensorflow
    KERAS_BACKEND=torch python bench/fit_teardown.py --steps 40 160
    python bench/fit_teardown.py --input numpy --steps 40 --epochs 5 --repeats 4

A recipe's training (`keras-vae train`) is a sequence of `model.fit` calls of
`steps_per_epoch` steps each; every call makes a new iterator over the
`tf.data` pipeline and ends it when it returns. This bench trains the
recipe's model on `recipes.training_data` for `--steps` steps per `fit`
call, the two variants alternating call by call, `--repeats` times each:

- **library**: the pipeline as keras-vae builds it (`keras_vae.datasets`:
  autotuning off);
- **autotune on**: the same pipeline with `tf.data.Options().autotune.enabled
  = True` set on top (tf.data's default, which the pipelines had before).

For each call it reports the whole `fit` call's seconds and the part after
Keras' `on_train_end` callback, i.e. the iterator's teardown as the caller
waits for it. The elements are the same in both variants.

With `--input numpy` the first `max(--steps)` batches of the pipeline are
held in a numpy array and each call is `fit(x, batch_size=..., epochs=
--epochs)` over `steps` batches of it:

- **library**: `model.fit(x)`, which on tensorflow batches the arrays as
  Keras does, in a pipeline with autotuning off
  (`keras_vae._keras_compat.untuned_array_dataset`);
- **Keras' array pipeline (before)**: `keras.Model.fit(model, x)`, Keras'
  own path for arrays (autotuned), which keras-vae's `fit` took before.

Keras makes one iterator per epoch, so with `--epochs` > 1 the waits fall
between epochs too, inside the call.
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras_vae  # noqa: E402  (thread settings before Keras)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_vae import recipes  # noqa: E402


class _EndTime(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.time = time.perf_counter()


def _autotuned(ds):
    options = tf.data.Options()
    options.autotune.enabled = True
    return ds.with_options(options)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="vae_dsprites")
    parser.add_argument("--steps", type=int, nargs="+", default=[40, 160])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--input", choices=("dataset", "numpy"), default="dataset")
    parser.add_argument("--epochs", type=int, default=1,
                        help="epochs per fit call (--input numpy only)")
    args = parser.parse_args(argv)
    if min(args.steps) < 1 or args.repeats < 1 or args.epochs < 1:
        parser.error(f"--steps, --repeats and --epochs must be >= 1. Received: "
                     f"steps={args.steps}, repeats={args.repeats}, epochs={args.epochs}")
    if args.epochs > 1 and args.input != "numpy":
        parser.error(f"--epochs applies to --input numpy. Received: epochs={args.epochs}, "
                     f"input={args.input}")
    recipe = recipes.load_recipe(args.recipe)
    model = recipes.build_model(recipe)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate))
    data = recipes.training_data(recipe)
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)  # trace
    if args.input == "dataset":
        variants = {
            "library": lambda steps, cb: model.fit(
                data, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=cb, shuffle=False),
            "autotune on": lambda steps, cb: model.fit(
                _autotuned(data), steps_per_epoch=steps, epochs=1, verbose=0, callbacks=cb,
                shuffle=False),
        }
    else:
        batches = [b[0] if isinstance(b, tuple) else b
                   for b in data.take(max(args.steps)).as_numpy_iterator()]
        x, batch = np.concatenate(batches), len(batches[0])

        def numpy_fit(fit):
            return lambda steps, cb: fit(model, x[:steps * batch], batch_size=batch,
                                         epochs=args.epochs, verbose=0, callbacks=cb)

        variants = {"library": numpy_fit(type(model).fit),
                    "Keras' array pipeline (before)": numpy_fit(keras.Model.fit)}
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, backend "
          f"{keras.backend.backend()}, recipe {args.recipe}, input {args.input}, "
          f"epochs per call {args.epochs}, load {os.getloadavg()[0]:.2f}")
    print("| pipeline | steps per fit | fit s (median) | after on_train_end s (each call) |")
    print("| --- | ---: | ---: | --- |")
    for steps in args.steps:
        results = {name: ([], []) for name in variants}
        for _ in range(args.repeats):
            for name, fit in variants.items():
                end = _EndTime()
                start = time.perf_counter()
                fit(steps, [end])
                stop = time.perf_counter()
                results[name][0].append(stop - start)
                results[name][1].append(stop - end.time)
        for name, (totals, tails) in results.items():
            print(f"| {name} | {steps} | {statistics.median(totals):.2f} | "
                  f"{', '.join(f'{t:.2f}' for t in tails)} |", flush=True)


if __name__ == "__main__":
    main()
