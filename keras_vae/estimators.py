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
* beta-TCVAE (Chen et al. 2018) splits the mean KL into index-code mutual
  information, total correlation and dimension-wise KL (their eq. 2),
  estimating log q(z) and log q(z_j) from one minibatch:
  `minibatch_kl_decomposition`, with minibatch weighted sampling (MWS) or
  minibatch stratified sampling (MSS), built from `log_density_matrix`,
  `log_importance_weights`, `log_mixture_densities` and
  `decomposition_terms`. The full-dataset evaluation that reuses these
  blocks for reporting is `keras_vae.evaluation.kl_decomposition`.

All functions accept backend tensors or numpy arrays and return backend
tensors.
"""

import functools
import math

import keras
from keras import ops

from keras_vae import _compile
from keras_vae import _validation
from keras_vae import divergences
from keras_vae.divergences import _float_tensor

DIP_VARIANTS = ("i", "ii")

ESTIMATORS = ("mss", "mws")

TERMS = ("mutual_info", "total_correlation", "dimwise_kl")


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


# === Minibatch KL decomposition (beta-TCVAE) ===


def log_density_matrix(z, z_mean, z_log_var):
    """Per-dimension log-densities of every code under every posterior.

    `log q(z_i,d | x_j) = log N(z_i,d; z_mean_j,d, exp(z_log_var_j,d))`, the
    matrix behind all estimators of Chen et al. 2018 (section 4.1).

    Args:
        z: codes `(num_codes, latent_dim)`.
        z_mean: posterior means `(num_posteriors, latent_dim)`.
        z_log_var: posterior log-variances, same shape as `z_mean`.

    Returns:
        Tensor `(num_codes, num_posteriors, latent_dim)`.
    """
    z = _float_tensor(z)
    z_mean = ops.cast(z_mean, z.dtype)
    z_log_var = ops.cast(z_log_var, z.dtype)
    return divergences.gaussian_log_density(
        z[:, None, :], z_mean[None, :, :], z_log_var[None, :, :]
    )


def log_importance_weights(batch_size, dataset_size, estimator="mss"):
    """Log-weights `log w_ij` of posterior j when estimating q(z_i) from a batch.

    `q(z_i) ~= sum_j w_ij q(z_i | x_j)`, where z_i was drawn from q(z | x_i)
    and the batch holds B = `batch_size` examples of a dataset of N.

    * MWS (Chen et al. 2018, section 4.1): `w_ij = 1 / (N B)` for every j.
      Its log q(z) is the batch-mixture value minus log N, so its MI is
      offset by +log N, its TC by +(d - 1) log N and its dimension-wise KL by
      -d log N (d latent dimensions); the offsets are constant, so gradients
      are unaffected, but the reported values are not the true ones.
    * MSS (appendix C.2): with M = B - 1 other examples, `w_ii = 1 / N` for
      the example's own posterior, `(N - M) / (N M)` for one "stratum"
      example (here j = i + 1 mod B) and `1 / M` for the other M - 1. The
      weights sum to 1 and the estimate of q(z_i) is unbiased (that of its
      log is biased down by Jensen's inequality). For B = 1 only the own
      posterior remains, with weight 1 / N. (This is the formula of the
      appendix; the authors' published weight matrix puts 1 / N in column 0
      of every row instead of on the diagonal.)

    Args:
        batch_size: B, a Python int or a scalar integer tensor (dynamic batch
            sizes in graph mode).
        dataset_size: N, an int >= B.
        estimator: `"mss"` or `"mws"`.

    Returns:
        `(B, B)` tensor of log-weights.
    """
    estimator = _validation.check_choice("estimator", estimator, ESTIMATORS)
    n = float(dataset_size)
    index = ops.arange(batch_size)
    own = ops.equal(index[:, None], index[None, :])
    b = ops.cast(batch_size, "float32")
    if estimator == "mws":
        log_w = -ops.log(n * b)
        return ops.zeros(ops.shape(own), "float32") + log_w
    m = ops.maximum(b - 1.0, 1.0)
    stratum = ops.equal(index[None, :], (index[:, None] + 1) % batch_size)
    log_w = ops.where(
        stratum,
        ops.log((n - m) / (n * m)) + ops.zeros(ops.shape(own), "float32"),
        -ops.log(m),
    )
    return ops.where(own, -math.log(n), log_w)


def log_mixture_densities(matrix, log_weights):
    """`log q(z_i)` and `log q(z_i,d)` from `log_density_matrix` and weights.

    `log q(z_i) = logsumexp_j (log w_ij + sum_d log q(z_i,d | x_j))` and
    `log q(z_i,d) = logsumexp_j (log w_ij + log q(z_i,d | x_j))` (Chen et al.
    2018, section 4.1: the joint and the marginals share the weights).

    Args:
        matrix: `(num_codes, num_posteriors, latent_dim)` log-densities.
        log_weights: log-weights `(num_codes, num_posteriors)`, or
            `(num_posteriors,)` shared by all codes, or a scalar (e.g.
            `-log N` for the exact mixture).

    Returns:
        A pair `(log_qz, log_qz_marginals)` of shapes `(num_codes,)` and
        `(num_codes, latent_dim)`.
    """
    log_weights = ops.cast(log_weights, matrix.dtype)
    if len(log_weights.shape) == 1:
        log_weights = log_weights[None, :]
    log_qz = ops.logsumexp(ops.sum(matrix, axis=-1) + log_weights, axis=1)
    if len(log_weights.shape) == 2:
        log_weights = log_weights[:, :, None]
    log_qz_marginals = ops.logsumexp(matrix + log_weights, axis=1)
    return log_qz, log_qz_marginals


def decomposition_terms(z, z_mean, z_log_var, log_qz, log_qz_marginals):
    """The three terms of Chen et al. 2018, eq. 2, as Monte Carlo means.

    With `z_i ~ q(z | x_i)`:

        mutual_info       = mean_i [log q(z_i | x_i) - log q(z_i)]
        total_correlation = mean_i [log q(z_i) - sum_d log q(z_i,d)]
        dimwise_kl        = mean_i [sum_d log q(z_i,d) - log p(z_i)]

    with p = N(0, I). They sum to `mean_i [log q(z_i|x_i) - log p(z_i)]`,
    the single-sample estimate of the mean KL, whatever the estimates of
    `log q(z)` and `log q(z_d)`.

    Args:
        z: codes `(num_codes, latent_dim)`, z_i drawn from q(z | x_i).
        z_mean, z_log_var: the parameters of q(z | x_i), same shape.
        log_qz: `(num_codes,)` estimates of log q(z_i).
        log_qz_marginals: `(num_codes, latent_dim)` estimates of log q(z_i,d).

    Returns:
        Dict of scalar tensors `mutual_info`, `total_correlation`,
        `dimwise_kl`.
    """
    z = _float_tensor(z)
    log_qz = ops.cast(log_qz, z.dtype)
    log_qzx = ops.sum(divergences.gaussian_log_density(z, z_mean, z_log_var), -1)
    zeros = ops.zeros_like(z)
    log_pz = ops.sum(divergences.gaussian_log_density(z, zeros, zeros), -1)
    log_prod = ops.sum(ops.cast(log_qz_marginals, z.dtype), axis=-1)
    return {
        "mutual_info": ops.mean(log_qzx - log_qz),
        "total_correlation": ops.mean(log_qz - log_prod),
        "dimwise_kl": ops.mean(log_prod - log_pz),
    }


def minibatch_kl_decomposition(z, z_mean, z_log_var, dataset_size, estimator="mss"):
    """MI, TC and dimension-wise KL estimated from one minibatch, in keras.ops.

    Implements the minibatch estimators of Chen et al. 2018 (section 4.1,
    MWS; appendix C.2, MSS; see `log_importance_weights`) for eq. 2, with
    `z` one draw of each example's posterior. Differentiable, and traceable
    on every backend, so it can sit in a training loss; its cost is
    `O(B^2 d)` for B examples of d dimensions.

    Both estimators are biased for finite batches. MWS carries the constant
    offsets of `log_importance_weights`. MSS estimates q(z) and each q(z_j)
    without bias, but their logs are biased down, the d-dimensional joint
    more than the 1-D marginals, so on independent codes its TC is slightly
    negative for small batches of narrow posteriors (about -0.18 nats at
    B = 64 and -0.05 at B = 256 for d = 5, posterior std 0.6 around means of
    std 0.8), vanishing as B grows. For reporting, prefer
    `keras_vae.evaluation.kl_decomposition`.

    Args:
        z: codes `(B, d)`, z_i ~ q(z | x_i).
        z_mean: posterior means `(B, d)`.
        z_log_var: posterior log-variances `(B, d)`.
        dataset_size: N, the number of training examples; an int >= B.
        estimator: `"mss"` (default, as in Chen et al.'s experiments) or
            `"mws"` (its values carry constant offsets, see
            `log_importance_weights`).

    Returns:
        Dict of scalar tensors `mutual_info`, `total_correlation`,
        `dimwise_kl`.
    """
    estimator = _validation.check_choice("estimator", estimator, ESTIMATORS)
    dataset_size = check_dataset_size(dataset_size)
    shapes = [tuple(t.shape) for t in (z, z_mean, z_log_var)]
    if len(shapes[0]) != 2 or len(set(shapes)) != 1:
        raise ValueError(
            "`z`, `z_mean` and `z_log_var` must be 2-D and of the same shape "
            "(batch_size, latent_dim). Received: z.shape="
            f"{shapes[0]}, z_mean.shape={shapes[1]}, z_log_var.shape={shapes[2]}"
        )
    batch_size = shapes[0][0]
    if batch_size is not None and batch_size > dataset_size:
        raise ValueError(
            "Argument `dataset_size` must be the number of training examples, "
            "at least the batch size. Received: dataset_size="
            f"{dataset_size} with a batch of {batch_size}"
        )
    return _minibatch_terms()(z, z_mean, z_log_var, dataset_size, estimator)


@functools.cache
def _minibatch_terms():
    def terms(z, z_mean, z_log_var, dataset_size, estimator):
        batch_size = z.shape[0]
        if batch_size is None:  # TensorFlow graph with a dynamic batch size
            batch_size = ops.shape(z)[0]
        matrix = log_density_matrix(z, z_mean, z_log_var)
        log_weights = log_importance_weights(batch_size, dataset_size, estimator)
        log_qz, log_qz_marginals = log_mixture_densities(matrix, log_weights)
        return decomposition_terms(z, z_mean, z_log_var, log_qz, log_qz_marginals)

    return _compile.compiled(terms, static_argnames=("dataset_size", "estimator"))


def check_dataset_size(dataset_size):
    """`dataset_size` as an int >= 1; the minibatch estimators require it."""
    if dataset_size is None:
        raise ValueError(
            "Argument `dataset_size` is required: the number of training "
            "examples N, which the minibatch estimators of q(z) need "
            "(Chen et al. 2018). Received: dataset_size=None"
        )
    return _validation.check_int("dataset_size", dataset_size, minimum=1)
