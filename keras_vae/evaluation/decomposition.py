"""The KL decomposition of the ELBO (lecture slide 41; Chen et al. 2018).

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

* `minibatch_kl_decomposition` estimates them from one minibatch, in
  `keras.ops`, so that it runs inside a training loss (`BetaTCVAE`): minibatch
  weighted sampling (MWS, Chen et al. section 4.1) or minibatch stratified
  sampling (MSS, their appendix C.2). Both need the dataset size N.
* `kl_decomposition` / `evaluate_kl_decomposition` evaluate the exact
  mixture `log q(z) = logsumexp_n log q(z | x_n) - log N` over all N
  posteriors, in chunks, for reporting.

Both paths share `log_density_matrix` (from
`divergences.gaussian_log_density`) and `decomposition_terms`.
"""

import functools
import math

import keras
import numpy as np
from keras import ops

from keras_vae import _validation
from keras_vae import divergences

ESTIMATORS = ("mss", "mws")

TERMS = ("mutual_info", "total_correlation", "dimwise_kl")


# === Shared building blocks (keras.ops) ===


def compiled(fn, static_argnames=()):
    """`fn` compiled with `jax.jit` on JAX, `fn` itself on other backends.

    JAX's eager mode compiles every operation anew for every new shape,
    which makes the estimators below take seconds per call on CPU; one
    jitted function compiles once per shape (and nests inside a jitted
    train step). Only for pure functions of their tensor arguments: a
    variable read inside would be frozen at its traced value.
    """
    if keras.backend.backend() != "jax":
        return fn
    import jax

    return jax.jit(fn, static_argnames=static_argnames)


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
    z = divergences._float_tensor(z)
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
    z = divergences._float_tensor(z)
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


# === Minibatch estimators (training) ===


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
    std 0.8), vanishing as B grows. For reporting, prefer `kl_decomposition`.

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
    dataset_size = _check_dataset_size(dataset_size)
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

    return compiled(terms, static_argnames=("dataset_size", "estimator"))


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
    from keras_vae.evaluation import likelihood  # imports this module

    z_mean, z_log_var = likelihood.posterior_parameters(
        model, data, batch_size=batch_size, max_examples=max_examples, seed=seed
    )
    return kl_decomposition(z_mean, z_log_var, num_samples=num_samples,
                            seed=seed, chunk_size=chunk_size)


# === Checks and helpers ===


def _numpy(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


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


def _check_dataset_size(dataset_size):
    if dataset_size is None:
        raise ValueError(
            "Argument `dataset_size` is required: the number of training "
            "examples N, which the minibatch estimators of q(z) need "
            "(Chen et al. 2018). Received: dataset_size=None"
        )
    return _validation.check_int("dataset_size", dataset_size, minimum=1)


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
