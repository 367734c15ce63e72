"""`python -m keras_vae`: the main job on embedded data (no download).

Trains a conv VAE on scikit-learn's bundled 8x8 digits (1,497 train / 300
test images), then prints the held-out negative ELBO, the k-NN accuracy of
the 4-d latent means next to k-NN on the 64 raw pixels, saves the model as
`.keras`, reloads it and checks the reload, and writes reconstruction and
prior-sample grids as PNG files.
"""

import argparse
import os
import time

import keras
import numpy as np

import keras_vae
from keras_vae import datasets
from keras_vae.evaluation import knn_accuracy
from keras_vae.images import image_grid
from keras_vae.images import write_png

MODELS = {"vae": keras_vae.VAE, "beta_vae": keras_vae.BetaVAE, "mmd_vae": keras_vae.MMDVAE}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m keras_vae", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="vae")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--latent-dim", type=int, default=4)
    parser.add_argument("--out", default="out/demo")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    x_train, y_train = datasets.load("digits", "train", as_numpy=True, with_labels=True,
                                     shuffle=False)
    x_test, y_test = datasets.load("digits", "test", as_numpy=True, with_labels=True,
                                   shuffle=False)
    model = MODELS[args.model](
        input_shape=x_train.shape[1:], latent_dim=args.latent_dim, architecture="conv",
        network_kwargs={"filters": [32, 64], "hidden_units": [128]}, seed=args.seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    print(f"backend={keras.backend.backend()} model={type(model).__name__} "
          f"params={model.count_params():,} train={len(x_train)} test={len(x_test)}")
    start = time.time()
    history = model.fit(x_train, epochs=args.epochs, batch_size=64, verbose=0,
                        validation_data=x_test)
    seconds = time.time() - start
    h = history.history
    print(f"trained {args.epochs} epochs in {seconds:.1f}s "
          f"({args.epochs * len(x_train) / seconds:,.0f} samples/s)")
    print(f"train loss {h['loss'][0]:.2f} -> {h['loss'][-1]:.2f} nats/image")
    result = model.evaluate(x_test, batch_size=300, verbose=0, return_dict=True)
    print("test:", ", ".join(f"{k}={v:.3f}" for k, v in sorted(result.items())))

    z_train, _ = model.encode(x_train)
    z_test, _ = model.encode(x_test)
    knn_latent = knn_accuracy(z_train, y_train, z_test, y_test, k=5)
    knn_pixels = knn_accuracy(x_train.reshape(len(x_train), -1), y_train,
                              x_test.reshape(len(x_test), -1), y_test, k=5)
    print(f"5-NN test accuracy: latent means ({args.latent_dim}-d) {knn_latent:.3f}, "
          f"raw pixels (64-d) {knn_pixels:.3f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{args.model}_digits.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    max_diff = float(np.max(np.abs(reloaded.predict(x_test) - model.predict(x_test))))
    print(f"saved {path}; reloaded, max |difference| of reconstructions {max_diff:.1e}")
    recon = model.predict(x_test[:16])
    write_png(os.path.join(args.out, "reconstructions.png"),
              image_grid(np.concatenate([x_test[:16], recon]), columns=16, zoom=4))
    write_png(os.path.join(args.out, "samples.png"),
              image_grid(model.sample(32, seed=args.seed), columns=16, zoom=4))
    print(f"wrote {args.out}/reconstructions.png (top: inputs, bottom: reconstructions) "
          f"and {args.out}/samples.png")


if __name__ == "__main__":
    main()
