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


def _group_sums(prefix, lo, hi):
    """Sums over the sorted range `[lo, hi)` from `prefix` `(Q, n + 1, 3)`."""
    rows = np.arange(prefix.shape[0])
    return prefix[rows, hi] - prefix[rows, lo]  # (Q, 3): count, sum x, x^2


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


def _terms(prefix_pos, prefix_neg, xs, w, b, c_pos, c_neg):
    """Objective, gradient and Hessian entries of every problem."""
    out = []
    for prefix, sign, c in ((prefix_pos, 1.0, c_pos),
                            (prefix_neg, -1.0, c_neg)):
        lo, hi = _active_ranges(xs, w, b, sign)
        s = _group_sums(prefix, lo, hi)
        out.append((s[:, 0] * c, s[:, 1] * c, s[:, 2] * c, sign))
    value = 0.5 * (w * w + b * b)
    g_w, g_b = w.copy(), b.copy()
    h_ww, h_wb, h_bb = np.ones_like(w), np.zeros_like(w), np.ones_like(w)
    for s1, sx, sxx, sign in out:
        # sum c (w x + b - s)^2 and its derivatives (s^2 = 1).
        value = value + (w * w * sxx + 2 * w * b * sx + b * b * s1
                         - 2 * sign * (w * sx + b * s1) + s1)
        g_w = g_w + 2 * (w * sxx + b * sx - sign * sx)
        g_b = g_b + 2 * (w * sx + b * s1 - sign * s1)
        h_ww = h_ww + 2 * sxx
        h_wb = h_wb + 2 * sx
        h_bb = h_bb + 2 * s1
    return value, g_w, g_b, h_ww, h_wb, h_bb


def _objective(prefix_pos, prefix_neg, xs, w, b, c_pos, c_neg):
    return _terms(prefix_pos, prefix_neg, xs, w, b, c_pos, c_neg)[0]


def fit_linear_svc_1d(x, y, num_classes, C=0.01, max_iter=100):
    """Solves every one-vs-rest problem of one feature (see module).

    Args:
        x: float array `(n,)`.
        y: int array `(n,)` of classes `0..num_classes-1`, each present.
        num_classes: int >= 2.
        C: float > 0, the SVM's C.
        max_iter: int, Newton iterations.

    Returns:
        Arrays `(w, b)` of shape `(num_classes,)`, or `(1,)` for two classes.
    """
    n = x.size
    order = np.argsort(x, kind="stable")
    xs = x[order].astype(np.float64)
    ys = y[order]
    counts = np.bincount(y, minlength=num_classes)
    weight = n / (num_classes * counts)
    feats = np.stack([np.ones(n), xs, xs * xs], axis=1)  # (n, 3)
    if num_classes == 2:
        positive = [1]
        c_pos = np.array([C * weight[1]])
        c_neg = np.array([C * weight[0]])
    else:
        positive = list(range(num_classes))
        c_pos = C * weight
        c_neg = np.full(num_classes, C)
    member = ys[None, :] == np.asarray(positive)[:, None]  # (Q, n)
    zero = np.zeros((len(positive), 1, 3))
    prefix_pos = np.concatenate(
        [zero, np.cumsum(member[:, :, None] * feats[None], axis=1)], axis=1)
    total = np.concatenate([zero[0], np.cumsum(feats, axis=0)])[None]
    prefix_neg = total - prefix_pos
    w = np.zeros(len(positive))
    b = np.zeros(len(positive))
    args = (prefix_pos, prefix_neg, xs)
    for _ in range(max_iter):
        value, g_w, g_b, h_ww, h_wb, h_bb = _terms(*args, w, b, c_pos, c_neg)
        det = h_ww * h_bb - h_wb * h_wb
        step_w = (h_bb * g_w - h_wb * g_b) / det
        step_b = (h_ww * g_b - h_wb * g_w) / det
        decrease = g_w * step_w + g_b * step_b
        if np.all(decrease <= 1e-30 + 1e-15 * np.abs(value)):
            break
        t = np.ones_like(w)
        for _ in range(60):
            trial = _objective(*args, w - t * step_w, b - t * step_b, c_pos,
                               c_neg)
            ok = trial <= value - 1e-4 * t * decrease
            if ok.all():
                break
            t = np.where(ok, t, t / 2)
        w = w - t * step_w
        b = b - t * step_b
    return w, b


def predict_linear_svc_1d(w, b, x):
    """Class indices `(n,)` predicted by `fit_linear_svc_1d`'s `(w, b)`."""
    decision = w[:, None] * np.asarray(x, np.float64)[None, :] + b[:, None]
    if w.size == 1:
        return (decision[0] > 0).astype(np.int64)
    return np.argmax(decision, axis=0)
