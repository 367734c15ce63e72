"""Run by test_distributed.py in a fresh process with 4 virtual CPU devices.

Usage: python tests/distributed_worker.py OUT_DIR RECIPE_FILE
(JAX: started with XLA_FLAGS=--xla_force_host_platform_device_count=4;
TensorFlow: `keras_vae.distribute.use_virtual_cpu_devices(4)` below.)

For each model, trains the same tiny model from the same seed on the same
global batches of 32 digits (`keras_vae.datasets.load`), once on one device and once data-parallel over
4 replicas, and prints one JSON line with both runs' per-step metrics, the
step counters and the largest difference of the final weights; then checks
how the data are split and runs `keras-vae train --distribute` in-process.
"""

import contextlib
import json
import os
import sys
import time

import keras
import numpy as np

import keras_vae
from keras_vae import cli

BACKEND = keras.backend.backend()
if BACKEND == "tensorflow":
    keras_vae.distribute.use_virtual_cpu_devices(4)

import tensorflow as tf  # noqa: E402  (after the virtual devices are set)

STEPS = 5
BATCH = 32
MODELS = {
    "VAE": {},
    "BetaVAE": dict(beta=4.0, schedule="linear", beta_end=1.0, anneal_steps=4),
    "MMDVAE": {},
    "BetaTCVAE": dict(dataset_size=1497),
    "DIPVAE": dict(variant="ii", lambda_od=1.0, lambda_d=2.0),
    "AnnealedVAE": dict(c_max=2.0, iteration_threshold=4, gamma=4.0),
    "FactorVAE": dict(gamma=2.0, discriminator_units=[16, 16]),
}


def batches():
    """The library's pipeline (reshuffled on each iteration), as recipes use."""
    from keras_vae import datasets

    return datasets.load("digits", "train", batch_size=BATCH, seed=0,
                         drop_remainder=True).repeat()


def train(name, scope):
    keras.utils.set_random_seed(0)
    with scope if scope is not None else contextlib.nullcontext():
        model = getattr(keras_vae, name)(
            input_shape=(8, 8, 1), latent_dim=4, architecture="mlp",
            network_kwargs={"hidden_units": [32]}, seed=0, **MODELS[name])
        # Plain SGD: unlike Adam, it is not invariant to the scale of the
        # gradients, so a wrongly scaled gradient changes the curve.
        # FactorVAE: SGD on its discriminator too, so that a wrongly scaled
        # discriminator gradient (summed over replicas) shows.
        extra = ({"discriminator_optimizer": keras.optimizers.SGD(0.05)}
                 if name == "FactorVAE" else {})
        model.compile(optimizer=keras.optimizers.SGD(0.05), **extra)
        initial = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
        start = time.perf_counter()
        history = model.fit(batches(), epochs=STEPS, steps_per_epoch=1, verbose=0,
                            shuffle=False).history
        seconds = time.perf_counter() - start
    weights = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    change = max(float(np.max(np.abs(w - i))) for w, i in zip(weights, initial))
    return {
        "history": {k: [float(v) for v in values] for k, values in history.items()},
        "step_counter": int(keras.ops.convert_to_numpy(model.step_counter)),
        "weight_change": change,
        "seconds": seconds,
    }, weights


def uneven_batches(scope):
    """102 images in batches of 32: the last global batch of 6 splits
    unevenly over 4 replicas (TensorFlow: 2, 2, 2, 0), or cannot be sharded
    (JAX: a clear error)."""
    from sklearn.datasets import load_digits

    x = (load_digits().images[:102] / 16.0).astype("float32")[..., None]
    runs = []
    for current in (None, scope):
        keras.utils.set_random_seed(0)
        with current if current is not None else contextlib.nullcontext():
            model = keras_vae.MMDVAE(input_shape=(8, 8, 1), latent_dim=4,
                                     architecture="mlp", network_kwargs={"hidden_units": [32]},
                                     seed=0)
            model.compile(optimizer=keras.optimizers.SGD(0.02))
            try:
                loss = model.fit(x, batch_size=32, epochs=2, verbose=0,
                                 shuffle=False).history["loss"]
            except ValueError as e:
                return {"error": str(e)}
        runs.append(([float(v) for v in loss],
                     [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]))
    (single, w1), (replicated, w4) = runs
    return {"single": single, "replicated": replicated,
            "weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w4))}


def data_split(scope):
    """How one global batch of 16 indices reaches the replicas."""
    if BACKEND == "tensorflow":
        batches = tf.data.Dataset.range(32).batch(16, drop_remainder=True)
        per_step = []
        for batch in scope.engine.experimental_distribute_dataset(batches):
            per_step.append([[int(i) for i in t.numpy()]
                             for t in scope.engine.experimental_local_results(batch)])
        return per_step
    layout = scope.engine.get_data_layout((16, 8, 8, 1))
    sharded = keras.distribution.distribute_tensor(np.arange(16, dtype="float32"),
                                                   keras.distribution.TensorLayout(
                                                       layout.axes[:1],
                                                       scope.engine.device_mesh))
    return [[[int(v) for v in np.asarray(shard.data)] for shard in sharded.addressable_shards]]


def main(out, recipe_file):
    scope = keras_vae.distributed()
    results = {"num_replicas": scope.num_replicas, "devices": scope.devices, "models": {}}
    for name in MODELS:
        single, w1 = train(name, None)
        replicated, w4 = train(name, scope)
        results["models"][name] = {
            "single": single, "replicated": replicated,
            "weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w4)),
        }
    results["data_split"] = data_split(scope)
    results["uneven"] = uneven_batches(scope)
    try:
        scope.check_batch_size(30)
        results["odd_batch_error"] = None
    except ValueError as e:
        results["odd_batch_error"] = str(e)
    start = time.perf_counter()
    results["cli_exit"] = cli.main([
        "train", recipe_file, "--steps", "3", "--steps-per-epoch", "2",
        "--out", os.path.join(out, "run"), "--quick", "--verbose", "0",
        "--distribute", "--virtual-devices", "4"])
    results["cli_seconds"] = time.perf_counter() - start
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
