"""MMD-VAE (InfoVAE with alpha = 1; Zhao et al. 2019)."""

import keras
from keras import ops

from keras_vae import _validation
from keras_vae import divergences
from keras_vae.models.base import BaseVAE


@keras.saving.register_keras_serializable(package="keras_vae")
class MMDVAE(BaseVAE):
    """VAE whose KL term is replaced by the MMD between q(z) and the prior.

    `loss = mean_i [ -log p(x_i | z_i) ] + mmd_weight * MMD^2(q(z), N(0, I))`
    (Zhao et al. 2019, InfoVAE eq. 7 with alpha = 1, lambda = mmd_weight):
    the batch's codes `z_i ~ q(z | x_i)` are compared with as many fresh prior
    draws by the unbiased estimator `divergences.mmd2`. Matching the
    aggregate posterior q(z) instead of each q(z|x) avoids the KL's push of
    every code to the prior (Zhao et al. 2019, section 3). Reports `mmd_loss`
    (unweighted MMD^2; it can be slightly negative, being unbiased).

    Args:
        kernel: `"imq"` (default; heavy tails, Tolstikhin et al. 2018) or
            `"gaussian"`.
        mmd_weight: lambda, >= 0. Default 100: with the reconstruction
            summed over pixels, MMD^2 of codes is orders of magnitude
            smaller, and InfoVAE recommends a large lambda.
        bandwidth: the kernel's C; default `2 * latent_dim`
            (`divergences.default_bandwidth`).
        scales: multipliers of the bandwidth summed into a multi-scale
            kernel; default `(1.0,)`. `multiscale=True` uses
            `(0.1, 0.2, 0.5, 1, 2, 5, 10)` as in WAE.
        **kwargs: the shared arguments of `BaseVAE`.
    """

    regularizer_terms = ("mmd_loss",)
    MULTISCALE = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

    def __init__(
        self,
        kernel="imq",
        mmd_weight=100.0,
        bandwidth=None,
        scales=None,
        multiscale=False,
        **kwargs,
    ):
        self.kernel = _validation.check_choice("kernel", kernel, divergences.KERNELS)
        self.mmd_weight = _validation.check_float("mmd_weight", mmd_weight, minimum=0.0)
        if bandwidth is not None:
            bandwidth = _validation.check_float(
                "bandwidth", bandwidth, minimum=0.0, exclusive_minimum=True
            )
        self.bandwidth = bandwidth
        if multiscale is True and scales is not None:
            raise ValueError(
                "Pass either `scales` or `multiscale=True`, not both. "
                f"Received: scales={scales}, multiscale={multiscale}"
            )
        self.multiscale = _validation.check_bool("multiscale", multiscale)
        if scales is None:
            scales = self.MULTISCALE if multiscale else (1.0,)
        scales = _validation.check_sequence("scales", scales)
        if not scales:
            raise ValueError("Argument `scales` must hold at least one positive number. "
                             f"Received: scales={scales}")
        self.scales = tuple(
            _validation.check_float("scales", s, minimum=0.0, exclusive_minimum=True)
            for s in scales
        )
        super().__init__(**kwargs)
        seed = None if self.seed is None else (self.seed + 1) % (_validation.MAX_SEED + 1)
        self.prior_seed_generator = keras.random.SeedGenerator(seed)

    def regularizer(self, z_mean, z_log_var, z, training=False):
        prior = keras.random.normal(
            ops.shape(z), dtype=z.dtype, seed=self.prior_seed_generator
        )
        mmd = divergences.mmd2(
            z, prior, self.kernel, self.bandwidth or divergences.default_bandwidth(
                self.latent_dim), self.scales, unbiased=True
        )
        return self.mmd_weight * mmd, {"mmd_loss": mmd}

    def get_config(self):
        config = {
            **super().get_config(),
            "kernel": self.kernel,
            "mmd_weight": self.mmd_weight,
            "bandwidth": self.bandwidth,
            "scales": None if self.multiscale else list(self.scales),
            "multiscale": self.multiscale,
        }
        return config
