"""Batch estimators of aggregate-posterior statistics, each written once in `keras.ops`.

The regularizers of the disentangling VAEs look at the aggregate posterior
q(z) = E_x q(z | x) through the codes of one batch:

* DIP-VAE (Kumar et al. 2018) penalizes the distance of Cov_q(z) from the
  identity: `batch_covariance`, `dip_covariance`, `covariance_penalties`.
* FactorVAE (Kim & Mnih 2018) estimates the total correlation
  TC = KL(q(z) || prod_j q(z_j)) with a classifier between codes of q(z) and
  codes whose dimensions were shuffled independently across the batch (the
  density-ratio trick, Nguyen et al. 2010; Sugiyama et al. 2012):
  `permute_dims`, `discriminator_loss`, `density_ratio_tc`.

All functions accept backend tensors or numpy arrays and return backend
tensors.
"""

import keras
from keras import ops

from keras_vae import _validation

DIP_VARIANTS = ("i", "ii")


def _float_tensor(x):
    x = ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, keras.backend.floatx())
    return x


def _check_matrix(name, x):
    if len(x.shape) != 2:
        raise ValueError(
            f"`{name}` must be a 2-D matrix (batch, latent_dim). "
            f"Received: {name}.shape={tuple(x.shape)}"
        )


# === Covariance of the aggregate posterior (DIP-VAE) ===


def batch_covariance(x):
    """The covariance of the rows of `x`, `E[x x^T] - E[x] E[x]^T`.

    The maximum-likelihood (biased, divide-by-N) estimate, as in Kumar et al.
    2018 and disentanglement_lib's `compute_covariance_z_mean`.

    Args:
        x: `(batch, d)`.

    Returns:
        `(d, d)` matrix.
    """
    x = _float_tensor(x)
    _check_matrix("x", x)
    centred = x - ops.mean(x, axis=0, keepdims=True)
    n = ops.cast(ops.shape(x)[0], x.dtype)
    return ops.matmul(ops.transpose(centred), centred) / n


def dip_covariance(z_mean, z_log_var, variant="i"):
    """The covariance of the aggregate posterior that DIP-VAE regularizes.

    - `"i"` (DIP-VAE-I, Kumar et al. 2018, eq. 6): `Cov_p(x)[mu(x)]`, the
      covariance of the encoder means over the batch.
    - `"ii"` (DIP-VAE-II, eq. 7): `Cov_q(z) = E_p(x)[Sigma(x)] +
      Cov_p(x)[mu(x)]`, adding the batch mean of the diagonal encoder
      covariances `diag(exp(z_log_var))` (law of total covariance).

    Args:
        z_mean: `(batch, d)` encoder means.
        z_log_var: `(batch, d)` encoder log-variances (used by `"ii"`).
        variant: `"i"` or `"ii"`.

    Returns:
        `(d, d)` matrix.
    """
    variant = _validation.check_choice("variant", variant, DIP_VARIANTS)
    covariance = batch_covariance(z_mean)
    if variant == "ii":
        z_log_var = ops.cast(z_log_var, covariance.dtype)
        covariance = covariance + ops.diag(ops.mean(ops.exp(z_log_var), axis=0))
    return covariance


def covariance_penalties(covariance):
    """The two distances of a covariance matrix from the identity.

    Returns `(off_diagonal, diagonal)`: `sum_{i != j} C_ij^2` and
    `sum_i (C_ii - 1)^2` (Kumar et al. 2018, eqs. 6-7); DIP-VAE's penalty is
    `lambda_od * off_diagonal + lambda_d * diagonal`.

    Args:
        covariance: `(d, d)` matrix.
    """
    covariance = _float_tensor(covariance)
    diagonal = ops.diagonal(covariance)
    total = ops.sum(ops.square(covariance))
    off_diagonal = total - ops.sum(ops.square(diagonal))
    return off_diagonal, ops.sum(ops.square(diagonal - 1.0))


# === Density-ratio estimate of the total correlation (FactorVAE) ===


def permute_dims(z, seed=None):
    """Shuffles each column of `z` across the batch, independently per column.

    Kim & Mnih 2018, algorithm 1: the result is a sample of the product of
    the batch's marginals, prod_j q(z_j): each column keeps its values (so
    each dimension's marginal is unchanged) while the dependence between
    dimensions is broken. Implemented as an `argsort` of uniform noise per
    column, so it is traceable (jit, tf.function) on every backend.

    Args:
        z: `(batch, d)` codes.
        seed: a `keras.random.SeedGenerator` or integer seed.

    Returns:
        `(batch, d)` permuted codes.
    """
    z = _float_tensor(z)
    _check_matrix("z", z)
    keys = keras.random.uniform(ops.shape(z), seed=seed)
    order = ops.argsort(keys, axis=0)
    return ops.take_along_axis(z, order, axis=0)


def density_ratio_tc(logits):
    """The total-correlation estimate `E_q(z)[log D(z) - log(1 - D(z))]`.

    With a two-logit discriminator whose class 0 is "from q(z)" and class 1
    "from prod_j q(z_j)", `log D / (1 - D)` is `logits[:, 0] - logits[:, 1]`;
    at the optimal discriminator it equals `log q(z) / prod_j q(z_j)`, whose
    mean over codes of q(z) is the total correlation (Kim & Mnih 2018, eq. 3;
    disentanglement_lib's FactorVAE).

    Args:
        logits: `(batch, 2)` discriminator logits of codes drawn from q(z).

    Returns:
        Scalar tensor (nats).
    """
    logits = _float_tensor(logits)
    return ops.mean(logits[:, 0] - logits[:, 1])


def discriminator_loss(logits_codes, logits_permuted):
    """The discriminator's cross-entropy, class 0 for codes of q(z) and
    class 1 for permuted codes, each side averaged and weighted 1/2.

    `-0.5 * mean log softmax(logits_codes)[:, 0]
     - 0.5 * mean log softmax(logits_permuted)[:, 1]`
    (Kim & Mnih 2018, algorithm 1; the negative of disentanglement_lib's
    `discr_loss`). It is log 2 for a discriminator that cannot tell them apart.

    Args:
        logits_codes: `(batch, 2)` logits of codes drawn from q(z).
        logits_permuted: `(batch', 2)` logits of `permute_dims` codes.

    Returns:
        Scalar tensor (nats).
    """
    logits_codes = _float_tensor(logits_codes)
    logits_permuted = ops.cast(logits_permuted, logits_codes.dtype)
    real = ops.log_softmax(logits_codes, axis=-1)[:, 0]
    fake = ops.log_softmax(logits_permuted, axis=-1)[:, 1]
    return -0.5 * (ops.mean(real) + ops.mean(fake))
