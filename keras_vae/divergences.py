"""Divergences between distributions, each written once in `keras.ops`.

The KL divergence compares two densities through their ratio (in closed form
for Gaussians, Kingma & Welling 2014, appendix B); the maximum mean
discrepancy (MMD, Gretton et al. 2012) compares two sets of samples through
the distance of their mean embeddings in a reproducing-kernel Hilbert space.
Every model and estimator of the library calls these functions; none carries
its own copy.

All functions accept backend tensors or numpy arrays and return backend
tensors, except `mmd_permutation_test`, which returns Python floats.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_vae import _validation

LOG_2PI = math.log(2.0 * math.pi)

KERNELS = ("gaussian", "imq")


def _float_tensor(x):
    """A backend tensor of `x`, cast to floatx unless already floating."""
    x = ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, keras.backend.floatx())
    return x


# === Gaussian densities and KL ===


def gaussian_log_density(z, mean, log_var):
    """Element-wise log-density of a diagonal Gaussian.

    `log N(z; mean, exp(log_var)) = -0.5 * (log(2 pi) + log_var +
    (z - mean)^2 / exp(log_var))`, one value per dimension (not summed), with
    broadcasting, so that the estimators of the KL decomposition can sum over
    whichever axes they need.

    Args:
        z: points, any shape broadcastable with `mean`.
        mean: mean of the Gaussian.
        log_var: log-variance of the Gaussian.

    Returns:
        The per-dimension log-density, the broadcast shape of the inputs.
    """
    z = _float_tensor(z)
    mean = ops.cast(mean, z.dtype)
    log_var = ops.cast(log_var, z.dtype)
    return -0.5 * (LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var))


def gaussian_kl(mean, log_var, prior_mean=None, prior_log_var=None, axis=-1):
    """Closed-form KL(N(mean, diag exp(log_var)) || N(prior_mean, diag exp(prior_log_var))).

    Per dimension (Kingma & Welling 2014, appendix B, for the standard normal):

        KL = 0.5 * (prior_log_var - log_var
                    + (exp(log_var) + (mean - prior_mean)^2) / exp(prior_log_var)
                    - 1)

    With the default prior N(0, I) this is
    `0.5 * (mean^2 + exp(log_var) - 1 - log_var)`; for mean 1 and log_var 1
    over 10 dimensions it is 5 (e - 1) = 8.5914.

    Args:
        mean: mean of q, shape `(..., latent_dim)`.
        log_var: log-variance of q, same shape.
        prior_mean: mean of p; `None` means 0.
        prior_log_var: log-variance of p; `None` means 0 (unit variance).
        axis: axis summed over (the latent dimensions); `None` returns the
            per-dimension terms.

    Returns:
        The KL in nats, summed over `axis`.
    """
    mean = _float_tensor(mean)
    log_var = ops.cast(log_var, mean.dtype)
    prior_mean = (
        ops.zeros_like(mean) if prior_mean is None else ops.cast(prior_mean, mean.dtype)
    )
    prior_log_var = (
        ops.zeros_like(log_var)
        if prior_log_var is None
        else ops.cast(prior_log_var, mean.dtype)
    )
    per_dim = 0.5 * (
        prior_log_var
        - log_var
        + (ops.exp(log_var) + ops.square(mean - prior_mean))
        * ops.exp(-prior_log_var)
        - 1.0
    )
    return per_dim if axis is None else ops.sum(per_dim, axis=axis)


def monte_carlo_kl(z, mean, log_var, prior_mean=None, prior_log_var=None, axis=-1):
    """Single-sample Monte Carlo estimate of the KL, `log q(z) - log p(z)`.

    Unbiased for z ~ q: averaging it over many draws converges to
    `gaussian_kl(mean, log_var, prior_mean, prior_log_var)`. Useful where no
    closed form exists and as a check of the closed form.

    Args:
        z: draws from q, shape `(..., latent_dim)`, broadcastable with `mean`
            (e.g. a leading axis of samples).
        mean, log_var: parameters of q.
        prior_mean, prior_log_var: parameters of p; `None` means N(0, I).
        axis: axis summed over (the latent dimensions).

    Returns:
        One estimate per draw.
    """
    z = _float_tensor(z)
    prior_mean = ops.zeros_like(z) if prior_mean is None else prior_mean
    prior_log_var = ops.zeros_like(z) if prior_log_var is None else prior_log_var
    log_ratio = gaussian_log_density(z, mean, log_var) - gaussian_log_density(
        z, prior_mean, prior_log_var
    )
    return ops.sum(log_ratio, axis=axis)


# === Kernels ===


def squared_distances(x, y):
    """Pairwise squared Euclidean distances between rows of `x` and `y`.

    Args:
        x: `(n, d)`.
        y: `(m, d)`.

    Returns:
        `(n, m)` matrix of `||x_i - y_j||^2`. Rounding can make the expanded
        form `|x|^2 + |y|^2 - 2 x.y` slightly negative; such values are set to
        0, the exact value they approximate.
    """
    x = _float_tensor(x)
    y = ops.cast(y, x.dtype)
    xx = ops.sum(ops.square(x), axis=-1)[:, None]
    yy = ops.sum(ops.square(y), axis=-1)[None, :]
    return ops.maximum(xx + yy - 2.0 * ops.matmul(x, ops.transpose(y)), 0.0)


def gaussian_kernel(x, y, bandwidth):
    """Gaussian (RBF) kernel matrix `k(x, y) = exp(-||x - y||^2 / bandwidth)`.

    `bandwidth` is `2 * sigma^2` of the usual `exp(-||x-y||^2 / (2 sigma^2))`.
    """
    return ops.exp(-squared_distances(x, y) / bandwidth)


def imq_kernel(x, y, bandwidth):
    """Inverse multiquadratic kernel matrix `k(x, y) = C / (C + ||x - y||^2)`.

    Heavier tails than the Gaussian kernel, so its gradients do not vanish for
    distant codes (Tolstikhin et al. 2018, WAE, section 4), with `C =
    bandwidth`.
    """
    return bandwidth / (bandwidth + squared_distances(x, y))


_KERNEL_FNS = {"gaussian": gaussian_kernel, "imq": imq_kernel}


def default_bandwidth(latent_dim):
    """The default kernel bandwidth `C = 2 * latent_dim`.

    This is `2 * d * sigma_prior^2` with the unit-variance prior, the value
    used by WAE (Tolstikhin et al. 2018) and the expected squared distance
    between two independent N(0, I) draws.
    """
    return 2.0 * float(latent_dim)


def kernel_matrix(x, y, kernel="gaussian", bandwidth=None, scales=(1.0,)):
    """Kernel matrix between the rows of `x` and `y`, optionally multi-scale.

    Args:
        x: `(n, d)`.
        y: `(m, d)`.
        kernel: `"gaussian"` or `"imq"`.
        bandwidth: the kernel's `C`; `None` means `default_bandwidth(d)`.
        scales: the kernel is the sum over `s` in `scales` of the kernel with
            bandwidth `s * bandwidth` (WAE's multi-scale kernel uses
            `(0.1, 0.2, 0.5, 1, 2, 5, 10)`).

    Returns:
        `(n, m)` kernel matrix.
    """
    kernel, bandwidth, scales = _check_kernel_args(kernel, bandwidth, scales, x)
    fn = _KERNEL_FNS[kernel]
    total = None
    for scale in scales:
        k = fn(x, y, bandwidth * scale)
        total = k if total is None else total + k
    return total


def _check_kernel_args(kernel, bandwidth, scales, x):
    kernel = _validation.check_choice("kernel", kernel, KERNELS)
    if bandwidth is None:
        bandwidth = default_bandwidth(x.shape[-1])
    bandwidth = _validation.check_float(
        "bandwidth", bandwidth, minimum=0.0, exclusive_minimum=True
    )
    if isinstance(scales, (int, float)):
        scales = (scales,)
    scales = tuple(scales)
    if not scales:
        raise ValueError(
            "Argument `scales` must hold at least one positive number. "
            f"Received: scales={scales}"
        )
    for s in scales:
        _validation.check_float("scales", s, minimum=0.0, exclusive_minimum=True)
    return kernel, bandwidth, scales


# === MMD ===


def _mmd2_from_sums(sum_xx, sum_yy, sum_xy, trace_xx, trace_yy, n, m, unbiased):
    """MMD^2 from kernel sums (Gretton et al. 2012, eqs. 3 and 5).

    Biased (V-statistic): `sum_xx / n^2 + sum_yy / m^2 - 2 sum_xy / (n m)`.
    Unbiased (U-statistic): the within-sample sums drop their diagonals and
    divide by `n (n - 1)` and `m (m - 1)`.
    """
    if unbiased:
        return (
            (sum_xx - trace_xx) / (n * (n - 1.0))
            + (sum_yy - trace_yy) / (m * (m - 1.0))
            - 2.0 * sum_xy / (n * m)
        )
    return sum_xx / (n * n) + sum_yy / (m * m) - 2.0 * sum_xy / (n * m)


def mmd2(x, y, kernel="gaussian", bandwidth=None, scales=(1.0,), unbiased=True):
    """Squared maximum mean discrepancy between two samples.

    `MMD^2(P, Q) = E k(x, x') + E k(y, y') - 2 E k(x, y)` (Gretton et al.
    2012, lemma 6), estimated
    from `x ~ P` and `y ~ Q`. The unbiased estimator (default) averages to
    0 when P = Q and can be slightly negative on finite samples; the biased
    one is always >= 0.

    Args:
        x: `(n, d)` samples of P (n >= 2 for the unbiased estimator).
        y: `(m, d)` samples of Q.
        kernel, bandwidth, scales: see `kernel_matrix`.
        unbiased: use the U-statistic (True) or the V-statistic (False).

    Returns:
        Scalar tensor.
    """
    x = _float_tensor(x)
    y = ops.cast(y, x.dtype)
    if len(x.shape) != 2 or len(y.shape) != 2:
        raise ValueError(
            "`x` and `y` must be 2-D sample matrices (num_samples, dim). "
            f"Received: x.shape={tuple(x.shape)}, y.shape={tuple(y.shape)}"
        )
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            "`x` and `y` must have the same number of columns. "
            f"Received: x.shape={tuple(x.shape)}, y.shape={tuple(y.shape)}"
        )
    kernel, bandwidth, scales = _check_kernel_args(kernel, bandwidth, scales, x)
    kxx = kernel_matrix(x, x, kernel, bandwidth, scales)
    kyy = kernel_matrix(y, y, kernel, bandwidth, scales)
    kxy = kernel_matrix(x, y, kernel, bandwidth, scales)
    n = ops.cast(ops.shape(x)[0], x.dtype)
    m = ops.cast(ops.shape(y)[0], x.dtype)
    return _mmd2_from_sums(
        ops.sum(kxx),
        ops.sum(kyy),
        ops.sum(kxy),
        ops.trace(kxx),
        ops.trace(kyy),
        n,
        m,
        unbiased,
    )


def mmd_permutation_test(
    x,
    y,
    kernel="gaussian",
    bandwidth=None,
    scales=(1.0,),
    num_permutations=1000,
    seed=None,
):
    """Two-sample test of P = Q with the unbiased MMD^2 as statistic.

    The pooled samples are re-split at random `num_permutations` times; the
    p-value is `(1 + #{permuted statistic >= observed}) / (1 + num_permutations)`
    (Gretton et al. 2012, section 5), which is exact in level: under P = Q it
    is below `alpha` with probability at most `alpha`. The pooled kernel
    matrix is computed once and every permutation is evaluated from it with
    one matrix product.

    Args:
        x: `(n, d)` samples of P, n >= 2.
        y: `(m, d)` samples of Q, m >= 2.
        kernel, bandwidth, scales: see `kernel_matrix`; the bandwidth defaults
            to `2 * d`.
        num_permutations: number of random re-splits, >= 1.
        seed: integer seed of the permutations (numpy), for reproducibility.

    Returns:
        `(statistic, p_value)` as Python floats.
    """
    num_permutations = _validation.check_int(
        "num_permutations", num_permutations, minimum=1
    )
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            "`x` and `y` must be 2-D sample matrices with the same number of "
            f"columns. Received: x.shape={x.shape}, y.shape={y.shape}"
        )
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(
            "The permutation test needs at least 2 samples on each side. "
            f"Received: x.shape={x.shape}, y.shape={y.shape}"
        )
    pooled = ops.convert_to_tensor(np.concatenate([x, y]).astype("float32"))
    k = kernel_matrix(pooled, pooled, kernel, bandwidth, scales)
    k = k - ops.diag(ops.diagonal(k))  # drop k(z_i, z_i): U-statistic sums

    rng = np.random.default_rng(seed)
    in_x = np.zeros((num_permutations + 1, n + m), dtype="float32")
    in_x[0, :n] = 1.0  # row 0: the observed split
    for row in in_x[1:]:
        row[rng.permutation(n + m)[:n]] = 1.0
    a = ops.convert_to_tensor(in_x)
    b = 1.0 - a
    ka = ops.matmul(a, k)
    kb = ops.matmul(b, k)
    zero = ops.zeros((num_permutations + 1,))
    stats = _mmd2_from_sums(
        ops.sum(ka * a, axis=1),
        ops.sum(kb * b, axis=1),
        ops.sum(ka * b, axis=1),
        zero,
        zero,
        float(n),
        float(m),
        unbiased=True,
    )
    stats = ops.convert_to_numpy(stats).astype("float64")
    observed = float(stats[0])
    exceed = int(np.sum(stats[1:] >= observed))
    return observed, (1.0 + exceed) / (1.0 + num_permutations)
