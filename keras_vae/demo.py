"""The main job: the zoo in one command (`keras-vae demo`, `./dev demo`).

Loads a shipped preset (checksum verified), measures it with its recipe's
metrics on a fixed held-out sample (so the printed scores are the same on
every run), writes its figures, exports it as a SavedModel and checks that
the served encoder gives the model's own codes, then fine-tunes it with a
plain `model.fit` for a few hundred steps and reports the held-out ELBO
before and after on the same images, and the steps/s after the first step
(which traces the train step: seconds that do not recur per step). No data
or weights are downloaded.
"""

import os
import time

import keras
import numpy as np

from keras_vae import _validation

DEFAULT_PRESET = "beta_tcvae_dsprites"


def run_demo(out="out/demo", preset=DEFAULT_PRESET, fine_tune_steps=300, seed=0,
             verbose=0, quick=False):
    """Runs the demo; returns a dict of what it measured.

    Args:
        out: folder for the figures, the export and the fine-tuned preset.
        preset: a preset handle (shipped name, directory, file://, hf://,
            kaggle://).
        fine_tune_steps: steps of `model.fit` after the evaluation (0 skips).
        seed: seed of the held-out sample, the evaluation and the fine-tune.
        verbose: `fit`'s verbosity.
        quick: the recipe's smaller evaluation samples (smoke runs).
    """
    import keras_vae
    from keras_vae import assessment
    from keras_vae import evaluation
    from keras_vae import presets
    from keras_vae import recipes

    fine_tune_steps = _validation.check_int("fine_tune_steps", fine_tune_steps, minimum=0)
    seed = _validation.check_int("seed", seed, minimum=0)
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    model = presets.load_preset(preset)
    meta = model.preset_metadata
    recipe = recipes.load_recipe(meta["recipe"])
    print(f"loaded {preset}: {type(model).__name__}, {meta.get('steps'):,} training steps, "
          f"sha256 verified")

    metrics = assessment.evaluate(model, recipe, seed=seed, quick=quick)
    print(f"held-out metrics (fixed sample, seed {seed}):")
    print("\n".join(assessment.format_metrics(metrics)))
    figures = assessment.write_figures(model, recipe, os.path.join(out, "figures"), seed=seed)
    print(f"wrote {len(figures)} figures to {os.path.join(out, 'figures')}")

    export_dir = os.path.abspath(os.path.join(out, "export"))
    keras_vae.export(model, export_dir, overwrite=True)
    x = recipes.test_data(recipe, 512, seed)
    served = _served_codes(export_dir, x[:64])
    ours = model.encode(x[:64])[0]
    gap = float(np.max(np.abs(served - ours)))
    print(f"exported a SavedModel to {export_dir}; served z_mean vs model: max |diff| {gap:.2e}")

    result = {"metrics": metrics, "export_max_abs_diff": gap}
    if fine_tune_steps:
        before = evaluation.evaluate_elbo(model, x, seed=seed)["elbo"]
        model.compile(optimizer=keras.optimizers.Adam(meta.get("learning_rate", 1e-4)))
        data = recipes.training_data(recipe, seed=seed)
        clock = _FirstStepClock()
        tic = time.perf_counter()
        model.fit(data, steps_per_epoch=fine_tune_steps, epochs=1, verbose=verbose,
                  shuffle=False, callbacks=[clock])  # the pipeline shuffles
        seconds = time.perf_counter() - tic
        first = (clock.after_first or time.perf_counter()) - tic
        after = evaluation.evaluate_elbo(model, x, seed=seed)["elbo"]
        presets.save_preset(model, os.path.join(out, "fine_tuned"),
                            {**{k: v for k, v in meta.items() if k != "metrics"},
                             "steps": meta.get("steps", 0) + fine_tune_steps,
                             "fine_tuned_from": str(preset)}, overwrite=True)
        steady = ((fine_tune_steps - 1) / (seconds - first)
                  if fine_tune_steps > 1 and seconds > first else None)
        rate = f", then {steady:.1f} steps/s" if steady else ""
        print(f"fine-tuned {fine_tune_steps} steps with model.fit in {seconds:.0f}s "
              f"(first step {first:.1f}s with tracing{rate}): held-out ELBO {before:.2f} -> "
              f"{after:.2f} on {len(x)} images; wrote {os.path.join(out, 'fine_tuned')}")
        result.update(elbo_before=before, elbo_after=after, fine_tune_seconds=seconds,
                      first_step_seconds=first, steps_per_second=steady)
    result["wall_time_s"] = time.perf_counter() - start
    print(f"demo finished in {result['wall_time_s']:.0f}s")
    return result


class _FirstStepClock(keras.callbacks.Callback):
    """Records when the first step ended (`after_first`), i.e. when the
    second began: the first step of `fit` carries the tracing or compiling
    of the train step, which the demo reports apart from the steps/s. Only a
    batch-begin hook, so the backends keep dispatching steps asynchronously."""

    after_first = None

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 1:
            self.after_first = time.perf_counter()


def _served_codes(export_dir, x):
    """`z_mean` of the exported `encode` signature, run by TensorFlow."""
    import tensorflow as tf

    loaded = tf.saved_model.load(export_dir)
    return loaded.signatures["encode"](x=tf.constant(x))["z_mean"].numpy()
