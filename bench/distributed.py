"""Data-parallel training: one device vs 4 virtual CPU devices, per zoo model.

Usage:
    python bench/distributed.py                       # jax and tensorflow
    python bench/distributed.py --backends jax --steps 100 --devices 2

For each backend and each model (the four Fashion-MNIST recipes: VAE,
beta-VAE, MMD-VAE, beta-TCVAE; the dSprites ones when Fashion-MNIST is
absent), trains the recipe's model from the same seed on the same batches
(the recipe's batch size is the global batch) for `--steps` steps, twice,
each in its own process: on one CPU device, and data-parallel
(`keras_vae.distributed()`) over `--devices` virtual CPU devices, the host's
cores split between them (`keras_vae.distribute.use_virtual_cpu_devices`).
It prints the mean training loss of the last `--chunk` steps of each run,
their relative difference, and the throughput in samples/s after the first
chunk (which includes compilation).

Virtual devices share the same cores, so no speed-up is expected: the
4-replica runs measure the overhead of the engines' collectives; what this
shows is that the loss is the same. The runs differ only by float32 rounding
(per-replica partial sums, then an all-reduce), agreeing to ~1e-7 at the
first steps; Adam, which divides each gradient component by its running
scale, amplifies that rounding over the steps, so after 50 steps the losses
agree to ~1e-3 or better rather than ~1e-7 (with SGD they stay at ~1e-7).
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = ["vae_fashion_mnist", "beta_vae_fashion_mnist", "mmd_vae_fashion_mnist",
           "beta_tcvae_fashion_mnist"]
DSPRITES = ["vae_dsprites", "beta_vae_dsprites", "mmd_vae_dsprites", "beta_tcvae_dsprites"]


def _child(args):
    sys.path.insert(0, ROOT)
    import keras

    import keras_vae
    from keras_vae import recipes

    if args.devices > 1:
        keras_vae.distribute.use_virtual_cpu_devices(args.devices)
    scope = keras_vae.distributed() if args.devices > 1 else None
    results = []
    for name in args.recipes:
        recipe = recipes.load_recipe(name)
        if scope is not None:
            scope.check_batch_size(recipe.batch_size)
        keras.utils.set_random_seed(0)
        times = []

        class Clock(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                times.append(time.perf_counter() - self.start)

        with scope if scope is not None else _null():
            model = recipes.build_model(recipe, seed=0)
            data = recipes.training_data(recipe, seed=0)
            history = model.fit(data, epochs=args.steps // args.chunk,
                                steps_per_epoch=args.chunk, callbacks=[Clock()],
                                verbose=0).history
        timed = times[1:]
        results.append({
            "recipe": name, "model": recipe.model, "batch_size": recipe.batch_size,
            "losses": [float(v) for v in history["loss"]],
            "steps": int(keras.ops.convert_to_numpy(model.step_counter)),
            "samples_per_s": args.chunk * len(timed) * recipe.batch_size / sum(timed),
            "first_chunk_s": times[0],
        })
        print(f"  {keras.backend.backend()} {args.devices} device(s) {name}: "
              f"{results[-1]['samples_per_s']:.0f} samples/s", file=sys.stderr, flush=True)
    print("RESULT " + json.dumps(results))


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def _run(backend, devices, args, names):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, __file__, "--child", "--devices", str(devices),
           "--steps", str(args.steps), "--chunk", str(args.chunk), "--recipes", *names]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"{backend} with {devices} device(s) failed")
    return json.loads(lines[-1][len("RESULT "):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["jax", "tensorflow"],
                        choices=["jax", "tensorflow"])
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--chunk", type=int, default=10,
                        help="steps per timing chunk (the loss is the last chunk's mean)")
    parser.add_argument("--recipes", nargs="+", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps % args.chunk or args.steps < 2 * args.chunk:
        parser.error("--steps must be a multiple of --chunk, at least two chunks")
    if args.child:
        return _child(args)
    names = args.recipes or (
        FASHION if os.path.isdir("/usr/share/datasets/fashion-mnist") else DSPRITES)
    print(f"{args.steps} steps from seed 0; loss = mean of the last {args.chunk} steps; "
          f"throughput after the first {args.chunk} steps; {os.cpu_count()} CPU cores")
    header = (f"{'backend':<10} {'recipe':<26} {'batch':>5} {'loss 1 dev':>11} "
              f"{'loss ' + str(args.devices) + ' rep':>11} {'rel diff':>9} "
              f"{'samples/s 1':>12} {'samples/s ' + str(args.devices):>12}")
    rows = []
    for backend in args.backends:
        one = _run(backend, 1, args, names)
        many = _run(backend, args.devices, args, names)
        for a, b in zip(one, many):
            assert a["steps"] == b["steps"] == args.steps, (a["steps"], b["steps"])
            diff = abs(a["losses"][-1] - b["losses"][-1]) / abs(a["losses"][-1])
            rows.append(f"{backend:<10} {a['recipe']:<26} {a['batch_size']:>5} "
                        f"{a['losses'][-1]:>11.4f} {b['losses'][-1]:>11.4f} {diff:>9.1e} "
                        f"{a['samples_per_s']:>12.0f} {b['samples_per_s']:>12.0f}")
    print(header)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
