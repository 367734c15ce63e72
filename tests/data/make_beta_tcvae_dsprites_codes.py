"""Makes tests/data/beta_tcvae_dsprites_codes.npz: real codes for the tests.

The posterior means (float32, 10 latents) of the shipped `beta_tcvae_dsprites`
preset on the procedural dSprites images (`keras_vae.datasets.DSprites`) of
1,500 factor vectors drawn with `np.random.RandomState(0)`, with those
factors (shape, scale, orientation, x, y). Made by this repository (Apache
2.0 like the rest of it); the conformance tests in test_disentanglement.py
compare the metrics with scikit-learn references on these codes.

Run: KERAS_BACKEND=tensorflow python tests/data/make_beta_tcvae_dsprites_codes.py
"""

import os

import numpy as np

from keras_vae import datasets
from keras_vae import presets

NUM_POINTS = 1500


def main():
    model = presets.load_preset("beta_tcvae_dsprites")
    data = datasets.DSprites()
    rng = np.random.RandomState(0)
    factors = np.asarray(data.sample_factors(NUM_POINTS, rng))
    images = data.sample_observations_from_factors(factors, rng)
    codes = model.encode(images, batch_size=500)[0].astype(np.float32)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "beta_tcvae_dsprites_codes.npz")
    np.savez_compressed(out, codes=codes, factors=factors.astype(np.int16))
    print(f"wrote {out}: codes {codes.shape}, factors {factors.shape}")


if __name__ == "__main__":
    main()
