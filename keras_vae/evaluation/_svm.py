"""Exact one-dimensional linear SVMs with scikit-learn `LinearSVC` semantics.

`fit_linear_svc_1d` solves, for one feature `x` and every one-vs-rest
problem at once, the primal problem of liblinear's L2-regularized
squared-hinge SVM (Fan et al., 2008) that scikit-learn's `LinearSVC`
(`penalty="l2"`, `loss="squared_hinge"`, `fit_intercept=True`,
`intercept_scaling=1`) solves:

    min_{w, b}  (w^2 + b^2) / 2 + sum_i c_i max(0, 1 - s_i (w x_i + b))^2

(the intercept is the weight of a constant feature 1, hence regularized),
`s_i = +1` for the positive class. With `class_weight="balanced"` the class
weight is `n / (K n_k)`; in a multi-class (`K > 2`) one-vs-rest problem
for class `k` positives get `C * weight_k` and negatives plain `C`; with
two classes the positive class is the second one and each sample gets
`C` times its own class weight (liblinear's conventions, checked against
scikit-learn). Prediction: the sign of `w x + b` for two classes, else the
class of the largest decision value.

The objective is convex, piecewise quadratic and continuously
differentiable; the solver is Newton's method with backtracking, where
the sums over the active set `{i : s_i (w x_i + b) < 1}` -- a prefix or a
suffix of the sorted positives and negatives -- come from cumulative sums
over the sorted `x`, so an iteration costs `O(log n)` per problem. It
returns the exact minimizer (to rounding), where liblinear stops at a
relative gradient tolerance; decisions can only differ for points within
that tolerance of the boundary.
"""

import numpy as np


def _range_sums(stats, lo, hi):
    """Sums of `(1, x, x^2)` over sorted positions `[lo, hi)`, per problem.

    `stats` holds the cumulative sums `total` `(n + 1, 3)` over the sorted
    samples, and `keys`, `cum` for the positive class of every problem: the
    positive samples of all problems in one array, ordered by (problem's
    class id, sorted position), with `keys = class_id * (n + 1) +
    position` and their cumulative sums `cum`.
    """
    total, keys, cum, group, stride = stats
    pos = (cum[np.searchsorted(keys, group * stride + hi)]
           - cum[np.searchsorted(keys, group * stride + lo)])
    return pos, total[hi] - total[lo] - pos


def _active_ranges(xs, w, b, sign):
    """Sorted index range `[lo, hi)` where `sign * (w x + b) < 1`."""
    n = xs.size
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = (sign - b) / w  # the boundary s (w x + b) = 1
    # sign * w > 0: active where x < cut (a prefix); < 0: x > cut (suffix).
    up = sign * w > 0
    down = sign * w < 0
    left = np.searchsorted(xs, np.where(up, cut, 0.0), side="left")
    right = np.searchsorted(xs, np.where(down, cut, 0.0), side="right")
    flat_active = sign * b < 1  # w == 0: all or nothing
    lo = np.where(up, 0, np.where(down, right, np.where(flat_active, 0, n)))
    hi = np.where(up, left, n)
    return lo, hi


def _terms(stats, signs, xs, w, b):
    """Objective, gradient, Hessian entries and active ranges per problem."""
    value = 0.5 * (w * w + b * b)
    g_w, g_b = w.copy(), b.copy()
    h_ww, h_wb, h_bb = np.ones_like(w), np.zeros_like(w), np.ones_like(w)
    ranges = []
    for index, (sign, c) in enumerate(signs):
        lo, hi = _active_ranges(xs, w, b, sign)
        ranges += [lo, hi]
        s = _range_sums(stats, lo, hi)[index]
        s1, sx, sxx = s[:, 0] * c, s[:, 1] * c, s[:, 2] * c
        # sum c (w x + b - s)^2 and its derivatives (s^2 = 1).
        value = value + (w * w * sxx + 2 * w * b * sx + b * b * s1
                         - 2 * sign * (w * sx + b * s1) + s1)
        g_w = g_w + 2 * (w * sxx + b * sx - sign * sx)
        g_b = g_b + 2 * (w * sx + b * s1 - sign * s1)
        h_ww = h_ww + 2 * sxx
        h_wb = h_wb + 2 * sx
        h_bb = h_bb + 2 * s1
    return value, (g_w, g_b), (h_ww, h_wb, h_bb), np.stack(ranges)


def fit_linear_svc_1d(x, labels, C=0.01, max_iter=100):
    """Solves every one-vs-rest problem of one feature (see module).

    Args:
        x: float array `(n,)`.
        labels: a list of int arrays `(n,)`, each with classes
            `0..K-1`, all present (one classification task each, solved
            together).
        C: float > 0, the SVM's C.
        max_iter: int, Newton iterations.

    Returns:
        A list with one pair `(w, b)` per task, arrays of shape `(K,)`, or
        `(1,)` for two classes.
    """
    n = x.size
    order = np.argsort(x, kind="stable")
    xs = x[order].astype(np.float64)
    # Class ids: task t's class k is `offset_t + k`; every problem's
    # positives are one class.
    class_ids, group, c_pos, c_neg, sizes = [], [], [], [], []
    offset = 0
    for y in labels:
        num_classes = int(y.max()) + 1
        weight = n / (num_classes * np.bincount(y, minlength=num_classes))
        class_ids.append(offset + y[order])
        if num_classes == 2:
            group.append([offset + 1])
            c_pos.append([C * weight[1]])
            c_neg.append([C * weight[0]])
        else:
            group.append(offset + np.arange(num_classes))
            c_pos.append(C * weight)
            c_neg.append(np.full(num_classes, C))
        sizes.append(len(group[-1]))
        offset += num_classes
    stride = n + 1
    keys = (np.concatenate(class_ids) * stride
            + np.tile(np.arange(n), len(labels)))
    by_key = np.argsort(keys, kind="stable")
    feats = np.stack([np.ones(n), xs, xs * xs], axis=1)  # (n, 3)
    zero = np.zeros((1, 3))
    cum = np.concatenate(
        [zero, np.cumsum(np.tile(feats, (len(labels), 1))[by_key], axis=0)])
    total = np.concatenate([zero, np.cumsum(feats, axis=0)])
    stats = (total, keys[by_key], cum, np.concatenate(group), stride)
    signs = ((1.0, np.concatenate(c_pos)), (-1.0, np.concatenate(c_neg)))
    prefixes = (stats, signs)
    w = np.zeros(len(stats[3]))
    b = np.zeros(len(stats[3]))
    value, grad, hess, ranges = _terms(*prefixes, xs, w, b)
    for _ in range(max_iter):
        h_ww, h_wb, h_bb = hess
        det = h_ww * h_bb - h_wb * h_wb
        step_w = (h_bb * grad[0] - h_wb * grad[1]) / det
        step_b = (h_ww * grad[1] - h_wb * grad[0]) / det
        decrease = grad[0] * step_w + grad[1] * step_b
        t = np.ones_like(w)
        for _ in range(60):
            trial = _terms(*prefixes, xs, w - t * step_w, b - t * step_b)
            # On an unchanged active set the full Newton step is exact.
            same = np.all(trial[3] == ranges, axis=0) & (t == 1)
            ok = same | (trial[0] <= value - 1e-4 * t * decrease)
            if ok.all():
                break
            t = np.where(ok, t, t / 2)
        w = w - t * step_w
        b = b - t * step_b
        value, grad, hess, ranges = trial if ok.all() else _terms(
            *prefixes, xs, w, b)
        if same.all():
            break
    bounds = np.cumsum([0] + sizes)
    return [(w[i:j], b[i:j]) for i, j in zip(bounds[:-1], bounds[1:])]


def predict_linear_svc_1d(w, b, x):
    """Class indices `(n,)` predicted by `fit_linear_svc_1d`'s `(w, b)`."""
    decision = w[:, None] * np.asarray(x, np.float64)[None, :] + b[:, None]
    if w.size == 1:
        return (decision[0] > 0).astype(np.int64)
    return np.argmax(decision, axis=0)
