"""Keras-torch train step of the dSprites net: depth-to-space on the
channels-last view (the library's) against the NCHW view (before).

torch's CPU convolutions propagate the memory format of their input. The
encoder's first convolution turns the permuted NHWC input into channels-last
activations; a depth-to-space done with reshapes of the NCHW view copies them
into contiguous NCHW tensors, and every later decoder convolution then runs
on NCHW memory. `keras_vae.networks._depth_to_space` works on the NHWC view
instead, so the whole decoder stays channels-last. This script builds the
default dSprites VAE both ways on the torch backend, with the same weights,
checks that they compute the same logits, and times `train_step` on a batch
of 64, alternating between the two models round by round:

    python bench/torch_memory_format.py [--rounds 6] [--steps 4]
"""

import argparse
import os
import time

os.environ["KERAS_BACKEND"] = "torch"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from keras import layers  # noqa: E402

import keras_vae  # noqa: E402
from keras_vae import networks  # noqa: E402


def nchw_depth_to_space(h, filters, data_format, name):
    """The former channels-first depth-to-space: reshapes of the NCHW view."""
    if data_format != "channels_first":
        return LIBRARY(h, filters, data_format, name)
    _, height, width = h.shape[1:]
    h = layers.Reshape((2, 2, filters, height, width), name=name + "_split")(h)
    h = layers.Permute((3, 4, 1, 5, 2), name=name + "_interleave")(h)
    return layers.Reshape((filters, 2 * height, 2 * width), name=name)(h)


LIBRARY = networks._depth_to_space


def build(depth_to_space):
    networks._depth_to_space = depth_to_space
    try:
        return keras_vae.VAE(input_shape=(64, 64, 1), latent_dim=10,
                             architecture="disentanglement", seed=0)
    finally:
        networks._depth_to_space = LIBRARY


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per model per round")
    args = parser.parse_args()
    x = np.random.default_rng(0).random((64, 64, 64, 1)).astype("float32")
    batch = torch.from_numpy(x)
    models = {"channels-last view (library)": build(LIBRARY),
              "NCHW view (before)": build(nchw_depth_to_space)}
    first, second = models.values()
    second.set_weights(first.get_weights())
    z = first.encoder(batch)[0]
    logits = [keras.ops.convert_to_numpy(m.decoder(z)) for m in models.values()]
    print(f"same weights, max |logit difference| {np.abs(logits[0] - logits[1]).max():.3g} "
          f"(logits up to {np.abs(logits[0]).max():.3g})")
    for model in models.values():
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        model.fit(x, batch_size=64, epochs=1, verbose=0)  # warm-up
    times = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            tic = time.perf_counter()
            for _ in range(args.steps):
                model.train_step((batch,))
            times[name].append((time.perf_counter() - tic) / args.steps * 1e3)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load "
          f"{os.getloadavg()[0]:.2f}")
    print("| depth-to-space | ms per train step (median) | rounds |\n| --- | ---: | --- |")
    for name, values in times.items():
        print(f"| {name} | {np.median(values):.1f} | {[round(v) for v in values]} |")
    names = list(times)
    print(f"ratio library / before: {np.median(times[names[0]]) / np.median(times[names[1]]):.2f}")


if __name__ == "__main__":
    main()
