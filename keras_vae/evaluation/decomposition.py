"""The KL decomposition of the ELBO, evaluated over a dataset (Chen et al. 2018).

Averaged over the data, the ELBO's KL term splits into three parts
(Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs", eq. 2):

    E_x KL(q(z|x) || p(z)) = I_q(x; z)                       index-code MI
                           + KL(q(z) || prod_j q(z_j))       total correlation
                           + sum_j KL(q(z_j) || p(z_j))      dimension-wise KL

where q(z) = 1/N sum_n q(z | x_n) is the aggregate posterior of the N
training examples. With z ~ q(z|x) the three parts are the expectations of
`log q(z|x) - log q(z)`, `log q(z) - sum_j log q(z_j)` and
`sum_j log q(z_j) - log p(z)`; they telescope to `log q(z|x) - log p(z)`,
whose mean is the KL. Everything hinges on `log q(z)` and `log q(z_j)`:

* `keras_vae.estimators.minibatch_kl_decomposition` estimates them from one
  minibatch, in `keras.ops`, so that it runs inside a training loss
  (`BetaTCVAE`): minibatch weighted sampling (MWS, Chen et al. section 4.1)
  or minibatch stratified sampling (MSS, their appendix C.2). Both need the
  dataset size N. It is re-exported here with its building blocks.
* `kl_decomposition` / `evaluate_kl_decomposition` (this module) evaluate
  the exact mixture `log q(z) = logsumexp_n log q(z | x_n) - log N` over
  all N posteriors, in chunks, for reporting.

Both paths share `estimators.log_density_matrix` (from
`divergences.gaussian_log_density`) and `estimators.decomposition_terms`.
"""

import functools
import math

import numpy as np
from keras import ops

from keras_vae import _validation
from keras_vae import divergences
from keras_vae._compile import compiled
from keras_vae.estimators import ESTIMATORS
from keras_vae.estimators import TERMS
from keras_vae.estimators import decomposition_terms
from keras_vae.estimators import log_density_matrix
from keras_vae.estimators import log_importance_weights
from keras_vae.estimators import log_mixture_densities
from keras_vae.estimators import minibatch_kl_decomposition
from keras_vae.evaluation import likelihood
from keras_vae.evaluation._sampling import to_float64 as _numpy


# === Full-dataset evaluation (reporting) ===


def kl_decomposition(z_mean, z_log_var, num_samples=1, seed=0, chunk_size=1000):
    """MI, TC and dimension-wise KL of the aggregate posterior of N examples.

    Monte Carlo estimate of Chen et al. 2018, eq. 2 with the exact mixture
    `q(z) = 1/N sum_n q(z | x_n)`: `num_samples` codes z ~ q(z | x_i) per
    example, each scored against all N posteriors,
    `log q(z) = logsumexp_n log q(z | x_n) - log N` (and per dimension),
    in chunks of `chunk_size` codes x `chunk_size` posteriors combined by a
    running logsumexp, so 10,000 x 10,000 x d fits in memory. The cost is
    `O(num_samples N^2 d)`. Passing a random subset of M < N posteriors
    estimates the decomposition of the subset's aggregate posterior; the
    mutual information of a mixture of M components is at most log M, so
    use a large subset (e.g. M >= 5,000 when I(x; z) may exceed ~7 nats).

    Args:
        z_mean: posterior means `(N, d)`, finite.
        z_log_var: posterior log-variances `(N, d)`, finite.
        num_samples: int >= 1, codes drawn per example.
        seed: int seed of the draws (numpy), for reproducible results.
        chunk_size: int >= 1, codes and posteriors per block.

    Returns:
        Dict of Python floats: `mutual_info`, `total_correlation`,
        `dimwise_kl`, and `kl`, the closed-form mean KL(q(z|x) || N(0, I))
        (`divergences.gaussian_kl`), which the three terms sum to up to
        Monte Carlo error.
    """
    z_mean, z_log_var = _check_posteriors(z_mean, z_log_var)
    num_samples = _validation.check_int("num_samples", num_samples, minimum=1)
    seed = _validation.check_int("seed", seed)
    chunk_size = _validation.check_int("chunk_size", chunk_size, minimum=1)
    n, d = z_mean.shape
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((num_samples, n, d)).astype("float32")
    z_all = (z_mean + np.exp(0.5 * z_log_var) * eps).reshape(-1, d)

    # Blocks of one shape (compiled once): the posteriors are padded to a
    # multiple of the block with log-weight -inf, the codes with zeros that
    # are dropped.
    block = min(chunk_size, n)
    cols = -(-n // block) * block
    means = _pad(z_mean, cols)
    log_vars = _pad(z_log_var, cols)
    log_weights = np.full((cols,), -np.inf, "float32")
    log_weights[:n] = -math.log(n)
    rows = -(-len(z_all) // block) * block
    codes = _pad(z_all, rows)
    log_qz = np.full((rows,), -np.inf)
    log_qz_marginals = np.full((rows, d), -np.inf)
    for row in range(0, rows, block):
        z = codes[row : row + block]
        for col in range(0, cols, block):
            joint, marginals = _block_mixture()(
                z, means[col : col + block], log_vars[col : col + block],
                log_weights[col : col + block],
            )
            log_qz[row : row + block] = np.logaddexp(
                log_qz[row : row + block], _numpy(joint))
            log_qz_marginals[row : row + block] = np.logaddexp(
                log_qz_marginals[row : row + block], _numpy(marginals))
    count = len(z_all)
    terms = _compiled_terms()(
        z_all,
        np.tile(z_mean, (num_samples, 1)),
        np.tile(z_log_var, (num_samples, 1)),
        log_qz[:count].astype("float32"),
        log_qz_marginals[:count].astype("float32"),
    )
    result = {name: float(_numpy(terms[name])) for name in TERMS}
    result["kl"] = float(np.mean(_numpy(divergences.gaussian_kl(z_mean, z_log_var))))
    return result


def evaluate_kl_decomposition(model, data, batch_size=256, max_examples=None,
                              num_samples=1, seed=0, chunk_size=1000):
    """`kl_decomposition` of a model's posteriors on a dataset.

    Encodes `data` (all of it, or a seeded random subset of `max_examples`;
    see `kl_decomposition` for what a subset estimates) and evaluates the
    decomposition with the exact mixture over the encoded examples.

    Args:
        model: a keras-vae model (`encoder`, `image_shape`).
        data: images `(N, H, W, C)` as a numpy array, or a `tf.data.Dataset`
            of images (batched or not).
        batch_size: int >= 1, images per encoder call (numpy input).
        max_examples: int >= 2 or None (all).
        num_samples, seed, chunk_size: see `kl_decomposition`.

    Returns:
        The dict of `kl_decomposition`.
    """
    z_mean, z_log_var = likelihood.posterior_parameters(
        model, data, batch_size=batch_size, max_examples=max_examples, seed=seed
    )
    return kl_decomposition(z_mean, z_log_var, num_samples=num_samples,
                            seed=seed, chunk_size=chunk_size)


# === Checks and helpers ===


@functools.cache
def _compiled_terms():
    return compiled(decomposition_terms)


@functools.cache
def _block_mixture():
    def block(z, z_mean, z_log_var, log_weights):
        matrix = log_density_matrix(z, z_mean, z_log_var)
        return log_mixture_densities(matrix, log_weights)

    return compiled(block)


def _pad(array, length):
    padding = np.zeros((length - len(array),) + array.shape[1:], array.dtype)
    return np.concatenate([array, padding])


def _check_posteriors(z_mean, z_log_var):
    arrays = []
    for name, value in (("z_mean", z_mean), ("z_log_var", z_log_var)):
        try:
            array = np.asarray(ops.convert_to_numpy(value))
        except Exception as error:
            raise TypeError(
                f"Argument `{name}` must be an array of posterior parameters. "
                f"Received: {name} of type {type(value).__name__}"
            ) from error
        _validation.check_finite_numeric(name, array)
        if array.ndim != 2 or 0 in array.shape:
            raise ValueError(
                f"Argument `{name}` must be a non-empty 2-D array (num_examples, "
                f"latent_dim). Received: {name}.shape={array.shape}"
            )
        arrays.append(array.astype("float32"))
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            "`z_mean` and `z_log_var` must have the same shape. Received: "
            f"z_mean.shape={arrays[0].shape}, z_log_var.shape={arrays[1].shape}"
        )
    return arrays


__all__ = [
    "ESTIMATORS",
    "TERMS",
    "compiled",
    "decomposition_terms",
    "evaluate_kl_decomposition",
    "kl_decomposition",
    "log_density_matrix",
    "log_importance_weights",
    "log_mixture_densities",
    "minibatch_kl_decomposition",
]
