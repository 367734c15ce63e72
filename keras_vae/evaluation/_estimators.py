"""Small deterministic numpy estimators used inside the metrics.

* `fit_softmax_regression`: multinomial logistic regression solved by
  Newton's method (the BetaVAE score's linear classifier).
* `fit_boosted_stumps`: least-squares gradient boosting of decision stumps
  on quantile-binned features (the DCI importance regressor).

Neither uses randomness: same inputs, same outputs, on any scikit-learn
version. Each is written once and reused.
"""

from statistics import NormalDist

import numpy as np

from keras_vae.evaluation._info import contingency_tables


def standardize(x, reference=None):
    """Scales columns to zero mean, unit variance using `reference` stats.

    Constant columns (zero variance) are centered but left unscaled.
    """
    reference = x if reference is None else reference
    mean = reference.mean(axis=0)
    std = reference.std(axis=0)
    return (x - mean) / np.where(std > 0, std, 1.0)


def _logits(weights, x):
    """Logits `(n, K)` for the reference-class parameterization."""
    z = x @ weights[:-1] + weights[-1]
    return np.concatenate([z, np.zeros((x.shape[0], 1))], axis=1)


def _softmax_objective(weights, x, y, l2):
    logits = _logits(weights, x)
    top = logits.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    nll = np.mean(lse - logits[np.arange(x.shape[0]), y])
    return nll + 0.5 * l2 * np.sum(weights**2)


def fit_softmax_regression(x, y, num_classes, l2=1e-3, max_iter=100, tol=1e-8):
    """Multinomial logistic regression by damped Newton iterations.

    Minimizes the L2-regularized mean cross-entropy
    `-(1/n) sum_i log softmax(W^T x_i + b)_{y_i} + (l2 / 2) ||(W, b)||^2`
    (Bishop, 2006, Sec. 4.3.4, multiclass logistic regression, with the
    Newton-Raphson / IRLS update of Sec. 4.3.3). Class `K - 1` is the
    reference class (its logit is fixed at 0), so the objective is strictly
    convex and the minimizer unique. Each step solves the exact Newton
    system and backtracks (Armijo rule) until the objective decreases;
    iterations stop when the largest gradient entry is below `tol` or after
    `max_iter`.

    Args:
        x: float array `(n, p)`, ideally standardized.
        y: int array `(n,)` with values in `[0, num_classes)`.
        num_classes: int, number of classes `K`.
        l2: float >= 0, L2 penalty on all weights and biases.
        max_iter: int, maximum number of Newton steps.
        tol: float, gradient tolerance.

    Returns:
        float array `(p + 1, K - 1)`: weights with the biases in the last
        row. Use `predict_softmax_regression` to classify.
    """
    n, p = x.shape
    m = num_classes - 1
    weights = np.zeros((p + 1, m))
    if m == 0:
        return weights
    xb = np.concatenate([x, np.ones((n, 1))], axis=1)
    onehot = np.eye(num_classes)[y][:, :m]
    objective = _softmax_objective(weights, x, y, l2)
    for _ in range(max_iter):
        logits = _logits(weights, x)
        prob = np.exp(logits - logits.max(axis=1, keepdims=True))
        prob = (prob / prob.sum(axis=1, keepdims=True))[:, :m]
        grad = xb.T @ (prob - onehot) / n + l2 * weights
        if np.max(np.abs(grad)) < tol:
            break
        hessian = np.empty((m, p + 1, m, p + 1))
        for a in range(m):
            for b in range(a, m):
                w = prob[:, a] * ((a == b) - prob[:, b])
                block = (xb * w[:, None]).T @ xb / n
                hessian[a, :, b, :] = block
                hessian[b, :, a, :] = block.T
        hessian = hessian.reshape(m * (p + 1), m * (p + 1))
        hessian += l2 * np.eye(m * (p + 1))
        step = np.linalg.solve(hessian, grad.T.ravel()).reshape(m, p + 1).T
        decrease = np.sum(grad * step)
        t = 1.0
        while t > 1e-10:
            candidate = weights - t * step
            value = _softmax_objective(candidate, x, y, l2)
            if value <= objective - 1e-4 * t * decrease:
                break
            t *= 0.5
        else:
            break
        weights, objective = candidate, value
    return weights


def predict_softmax_regression(weights, x):
    """Class predictions `(n,)` of `fit_softmax_regression` weights."""
    return np.argmax(_logits(weights, x), axis=1)


def quantile_edges(x, num_bins):
    """Inner bin edges `(num_bins - 1, d)` at the column quantiles of `x`."""
    q = np.arange(1, num_bins) / num_bins
    return np.quantile(x, q, axis=0).reshape(num_bins - 1, x.shape[1])


def apply_bins(x, edges):
    """Bin index in `[0, num_bins)` of each entry: #edges <= value."""
    out = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        out[:, j] = np.searchsorted(edges[:, j], x[:, j], side="right")
    return out


def fit_boosted_stumps(x, y, num_rounds=200, learning_rate=0.1, num_bins=32,
                       significance=0.01):
    """Least-squares gradient boosting of decision stumps, one per target.

    Friedman's (2001) LS_Boost (Algorithm 2) with depth-1 trees: starting
    from the target mean, each round fits to the current residuals the stump
    `h(x) = left if x_f <= t else right` that maximizes the squared-error
    reduction `gain = S_L^2 / n_L + S_R^2 / n_R - S^2 / n` (`S_*` residual
    sums, `n_*` counts on each side), and adds `learning_rate * h`. Split
    thresholds are restricted to the `num_bins` quantile bins of each
    feature (as in histogram gradient boosting), the search is exhaustive
    (no subsampling), and ties go to the lowest (feature, bin) index, so the
    fit is deterministic.

    Pre-pruning: a split is only made if its gain is significant, i.e.
    exceeds `z^2 * SSE / n` (`SSE` the current residual sum of squares,
    `z` the normal quantile at `1 - significance / (2 m)`, `m` the number
    of candidate splits). For a fixed split on residuals without signal the
    gain is `sigma^2 chi^2_1`, so this is a Bonferroni-corrected test of the
    best split at level `significance`; once it fails for a target, that
    target's boosting stops (its residuals no longer change). This keeps
    pure-noise features from collecting spurious importance: without
    signal, (almost) no split is made at all.

    Importance of feature `f` for target `j` is the total gain of the splits
    on `f` (Breiman et al., 1984, "variable importance"; Friedman, 2001,
    Sec. 8.1, reports its square root). When several features achieve the
    best gain exactly (e.g. duplicated latents), the gain is shared equally
    among them: the expected importance under random tie-breaking.

    All targets are fitted at once: residual bin sums are updated from
    precomputed pairwise bin co-occurrence counts, so a round costs
    `O(num_targets * d * num_bins)` operations, independent of `n`.

    Args:
        x: float array `(n, d)` of features.
        y: float array `(n, k)` of regression targets.
        num_rounds: int, number of boosting rounds.
        learning_rate: float in (0, 1], shrinkage of each stump.
        num_bins: int >= 2, number of quantile bins per feature.
        significance: float in (0, 1) for the split test above, or None to
            split whenever the gain is positive.

    Returns:
        A dict with `edges` `(num_bins - 1, d)`, `intercept` `(k,)`, `table`
        `(d, num_bins, k)` (the fitted additive model: the prediction for
        target `j` is `intercept[j] + sum_f table[f, bin_f(x), j]`) and
        `importance` `(d, k)` (unnormalized total gains).
    """
    n, d = x.shape
    k = y.shape[1]
    edges = quantile_edges(x, num_bins)
    bins = apply_bins(x, edges)
    flat = (bins + np.arange(d) * num_bins).ravel()
    counts = np.bincount(flat, minlength=d * num_bins).reshape(d, num_bins)
    intercept = y.mean(axis=0)
    residual = y - intercept
    sums = np.stack(
        [
            np.bincount(flat, np.repeat(residual[:, j], d), d * num_bins)
            for j in range(k)
        ],
        axis=-1,
    ).reshape(d, num_bins, k)
    # left_cover[g, c, f, b]: samples with bin_g <= c and bin_f == b.
    pairs = contingency_tables(bins, bins).transpose(0, 2, 1, 3)
    left_cover = np.cumsum(pairs, axis=1).astype(np.float64)
    n_left = np.cumsum(counts, axis=1)[:, :-1].astype(np.float64)
    n_right = n - n_left
    valid = (n_left > 0) & (n_right > 0)
    inv_left = np.where(valid, 1.0 / np.maximum(n_left, 1), 0.0)[..., None]
    inv_right = np.where(valid, 1.0 / np.maximum(n_right, 1), 0.0)[..., None]
    sse = (residual**2).sum(axis=0)
    tol = 1e-10 * np.maximum(sse, 1e-300)
    num_candidates = max(int(valid.sum()), 1)
    critical = 0.0
    if significance is not None:
        z = NormalDist().inv_cdf(1 - significance / (2 * num_candidates))
        critical = z**2 / n
    table = np.zeros((d, num_bins, k))
    importance = np.zeros((d, k))
    targets = np.arange(k)
    for _ in range(num_rounds):
        total = sums[0].sum(axis=0)  # (k,): same for every feature
        s_left = np.cumsum(sums, axis=1)[:, :-1, :]  # (d, num_bins - 1, k)
        s_right = total - s_left
        gain = s_left**2 * inv_left + s_right**2 * inv_right - total**2 / n
        gain = np.where(valid[..., None], gain, -np.inf)
        best = np.argmax(gain.reshape(-1, k), axis=0)
        feature, split = np.divmod(best, num_bins - 1)
        best_gain = gain[feature, split, targets]
        active = (best_gain > tol) & (best_gain > critical * sse)
        if not active.any():
            break
        n_l = np.clip(n_left[feature, split], 1, n - 1)
        left = np.where(active, s_left[feature, split, targets] / n_l, 0.0)
        right = np.where(active, s_right[feature, split, targets] / (n - n_l),
                         0.0)
        tied = (gain.max(axis=1) >= best_gain * (1 - 1e-9)) & active
        importance += np.where(
            tied, best_gain / np.maximum(tied.sum(axis=0), 1), 0.0
        )
        goes_left = np.arange(num_bins)[None, :] <= split[:, None]  # (k, nb)
        step = learning_rate * np.where(goes_left, left[:, None],
                                        right[:, None])
        table[feature, :, targets] += step
        cover = left_cover[feature, split]  # (k, d, num_bins)
        delta = left[:, None, None] * cover + right[:, None, None] * (
            counts - cover
        )
        sums -= learning_rate * delta.transpose(1, 2, 0)
        fitted = np.where(active, best_gain + total**2 / n, 0.0)  # |h|^2
        sse = sse - (2 - learning_rate) * learning_rate * fitted
    return {
        "edges": edges,
        "intercept": intercept,
        "table": table,
        "importance": importance,
    }


def predict_boosted_stumps(model, x):
    """Predictions `(n, k)` of a `fit_boosted_stumps` model."""
    bins = apply_bins(x, model["edges"])
    table = model["table"]
    contributions = table[np.arange(table.shape[0])[None, :], bins]  # (n,d,k)
    return model["intercept"] + contributions.sum(axis=1)
