"""beta-TCVAE (Chen et al. 2018): weigh the three parts of the KL, penalizing
the total correlation of the aggregate posterior."""

import keras
from keras import ops

from keras_vae import _validation
from keras_vae import divergences
from keras_vae import estimators
from keras_vae.models.base import BaseVAE


@keras.saving.register_keras_serializable(package="keras_vae")
class BetaTCVAE(BaseVAE):
    """VAE with the KL split into mutual information, total correlation and
    dimension-wise KL, each with its own weight.

    `loss = recon + alpha * I_q(x; z) + beta * TC(q(z)) + gamma * sum_j
    KL(q(z_j) || p(z_j))` (Chen et al. 2018, eq. 4), the three terms
    estimated on each batch by `keras_vae.estimators.minibatch_kl_decomposition`
    from the batch's codes and posteriors, with minibatch stratified sampling
    (`"mss"`, the default, appendix C.2) or minibatch weighted sampling
    (`"mws"`, section 4.1). Both estimators need the number N of training
    examples, `dataset_size`, and a batch of at most N examples; the batch
    estimate costs O(B^2 d). With alpha = beta = gamma = 1 the loss is the
    negative ELBO (with a Monte Carlo KL).

    Reports `kl_loss` (the closed-form KL of the batch, comparable with the
    other models), `mutual_info`, `total_correlation` and `dimwise_kl`
    (unweighted batch estimates; with `"mws"` they carry constant offsets,
    see `estimators.log_importance_weights`).

    The batch estimates are strongly biased once the posteriors are narrow: a
    batch of B codes covers the d-dimensional aggregate posterior poorly, so
    `log q(z_i)` is dominated by the example's own posterior (weight 1/N)
    and the reported `mutual_info` approaches log N and `total_correlation`
    goes negative, although the true TC is >= 0. Report the full-mixture
    estimate over many examples
    (`keras_vae.evaluation.evaluate_kl_decomposition`) instead; the batch
    terms are the training signal of the paper.

    Args:
        dataset_size: N, the number of training examples, an int >= the
            batch size. Required.
        alpha: weight of the index-code mutual information, >= 0. Default 1.
        beta: weight of the total correlation, >= 0. Default 6.
        gamma: weight of the dimension-wise KL, >= 0. Default 1.
        estimator: `"mss"` or `"mws"`.
        **kwargs: the shared arguments of `BaseVAE`.
    """

    regularizer_terms = ("kl_loss", "mutual_info", "total_correlation", "dimwise_kl")

    def __init__(self, dataset_size=None, alpha=1.0, beta=6.0, gamma=1.0,
                 estimator="mss", **kwargs):
        self.dataset_size = estimators.check_dataset_size(dataset_size)
        self.alpha = _validation.check_float("alpha", alpha, minimum=0.0)
        self.beta = _validation.check_float("beta", beta, minimum=0.0)
        self.gamma = _validation.check_float("gamma", gamma, minimum=0.0)
        self.estimator = _validation.check_choice(
            "estimator", estimator, estimators.ESTIMATORS
        )
        super().__init__(**kwargs)

    def regularizer(self, z_mean, z_log_var, z, training=False):
        terms = estimators.minibatch_kl_decomposition(
            z, z_mean, z_log_var, self.dataset_size, self.estimator
        )
        penalty = (
            self.alpha * terms["mutual_info"]
            + self.beta * terms["total_correlation"]
            + self.gamma * terms["dimwise_kl"]
        )
        terms["kl_loss"] = ops.mean(divergences.gaussian_kl(z_mean, z_log_var))
        return penalty, terms

    def get_config(self):
        return {
            **super().get_config(),
            "dataset_size": self.dataset_size,
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "estimator": self.estimator,
        }
