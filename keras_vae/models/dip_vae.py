"""DIP-VAE-I and DIP-VAE-II (Kumar et al. 2018): match the covariance of the
aggregate posterior to the identity."""

import keras
from keras import ops

from keras_vae import _validation
from keras_vae import divergences
from keras_vae import estimators
from keras_vae.models.base import BaseVAE

# lambda_d / lambda_od when lambda_d is not given (disentanglement_lib's
# unsupervised_study_v1: lambda_d_factor 10 for DIP-VAE-I, 1 for DIP-VAE-II).
LAMBDA_D_FACTORS = {"i": 10.0, "ii": 1.0}


@keras.saving.register_keras_serializable(package="keras_vae")
class DIPVAE(BaseVAE):
    """VAE whose aggregate posterior is pushed to a decorrelated, unit-variance
    covariance.

    `loss = recon + KL + lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i
    (C_ii - 1)^2` (Kumar et al. 2018, eqs. 6 and 7), where C is the batch
    estimate of the covariance of the aggregate posterior
    (`keras_vae.estimators.dip_covariance`):

    - `variant="i"` (DIP-VAE-I): C = Cov[mu(x)], the covariance of the
      encoder means;
    - `variant="ii"` (DIP-VAE-II): C = E[diag(exp(log_var(x)))] + Cov[mu(x)],
      the covariance of q(z).

    KL is the batch mean of the closed-form KL to N(0, I). Reports `kl_loss`,
    `dip_off_diagonal` and `dip_diagonal` (the two unweighted sums).

    Args:
        variant: `"i"` or `"ii"`.
        lambda_od: weight of the off-diagonal penalty, >= 0. Default 10, in
            the sweep {1, 2, 5, 10, 20, 50} of Locatello et al. 2019.
        lambda_d: weight of the diagonal penalty, >= 0; default
            `10 * lambda_od` for DIP-VAE-I and `lambda_od` for DIP-VAE-II, as
            in disentanglement_lib (`lambda_d_factor`), following Kumar et al.
        **kwargs: the shared arguments of `BaseVAE`.
    """

    regularizer_terms = ("kl_loss", "dip_off_diagonal", "dip_diagonal")

    def __init__(self, variant="i", lambda_od=10.0, lambda_d=None, **kwargs):
        self.variant = _validation.check_choice("variant", variant, estimators.DIP_VARIANTS)
        self.lambda_od = _validation.check_float("lambda_od", lambda_od, minimum=0.0)
        if lambda_d is None:
            lambda_d = LAMBDA_D_FACTORS[self.variant] * self.lambda_od
        self.lambda_d = _validation.check_float("lambda_d", lambda_d, minimum=0.0)
        super().__init__(**kwargs)

    def regularizer(self, z_mean, z_log_var, z, training=False):
        kl = ops.mean(divergences.gaussian_kl(z_mean, z_log_var))
        covariance = estimators.dip_covariance(z_mean, z_log_var, self.variant)
        off_diagonal, diagonal = estimators.covariance_penalties(covariance)
        penalty = kl + self.lambda_od * off_diagonal + self.lambda_d * diagonal
        return penalty, {"kl_loss": kl, "dip_off_diagonal": off_diagonal,
                         "dip_diagonal": diagonal}

    def get_config(self):
        return {
            **super().get_config(),
            "variant": self.variant,
            "lambda_od": self.lambda_od,
            "lambda_d": self.lambda_d,
        }
