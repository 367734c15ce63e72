"""Gradient-boosted classification trees in numpy, scikit-learn semantics.

`fit_gbt_classifier` reproduces scikit-learn's
`GradientBoostingClassifier()` with its default settings (log-loss, 100
stages, learning rate 0.1, regression trees of depth 3 on the negative
gradient with the squared-error split criterion, `min_samples_split=2`,
`min_samples_leaf=1`, no subsampling, prior initialization, one Newton step
per leaf), which disentanglement_lib fits per factor for DCI (Locatello et
al., 2019). The algorithm is Friedman's (2001) gradient boosting with
Friedman, Hastie & Tibshirani's (2000) Newton leaf values; the details that
fix the numbers follow the scikit-learn implementation:

* features are cast to float32; a split sits halfway between two
  consecutive sorted values of a node (computed in float64), and only where
  they differ by more than 1e-7; samples with `x <= threshold` go left;
* a node splits at the (feature, position) maximizing
  `S_L^2 / n_L + S_R^2 / n_R` (residual sums and counts of the children);
  it is a leaf at depth 3, with fewer than 2 samples, impurity (residual
  variance) `<= machine epsilon`, or no valid split;
* leaf value `(K - 1) / K * mean(r) / mean(p (1 - p))` (`r` the negative
  gradient, `p` the class probability; the factor `(K-1)/K` only for
  `K > 2` classes), 0 when the denominator is below 1e-150;
* importances: per tree, the sum over its splits of
  `n_node * var_node - n_left * var_left - n_right * var_right` divided by
  `n`; averaged over the trees that split at least once and normalized to
  sum 1 (zeros if no tree splits).

Where the best splits of several features are exactly equal (duplicated
codes, or tiny nodes), scikit-learn keeps the first of them in a random
visiting order, so a uniformly random one; here too, from a seeded
generator, so the importances equal scikit-learn's for some seed of its
(in disentanglement_lib unseeded) generator.

Speed: the features are sorted once; every node keeps each feature's
samples in sorted order (a stable partition of its parent's), and a node's
split search is one vectorized pass over all features and positions, so no
sorting happens inside the trees.
"""

import numpy as np

_FEATURE_THRESHOLD = 1e-7  # scikit-learn's minimal gap between split values
_EPSILON = np.finfo(np.float64).eps
_MAX_DEPTH = 3


def _softmax(raw):
    z = np.exp(raw - raw.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _expit(raw):
    return 1.0 / (1.0 + np.exp(-raw))


def _grow_tree(x, perm, tied, target, max_depth, rng):
    """Grows one depth-limited regression tree on `target` `(n,)`.

    `x` `(n, d)` float32 features, `perm` `(d, n)` the sorted order of every
    feature; `tied` lists the features with two sorted neighbours at most
    1e-7 apart, the only ones where a split position can be invalid (a
    node's consecutive values are never closer than the data's). Every node
    keeps, per feature, its samples in sorted order (a stable partition of
    the parent's). Returns the split features and thresholds
    `(2**max_depth - 1,)` in heap layout (a node that does not split sends
    everything left: threshold +inf), the leaf slot `(n,)` of every sample
    at depth `max_depth` and the unnormalized importances `(d,)`. `rng`
    (a `np.random.RandomState`) breaks exact ties between features.
    """
    d, n = perm.shape
    features = np.zeros(2**max_depth - 1, dtype=np.int64)
    thresholds = np.full(2**max_depth - 1, np.inf)
    importance = np.zeros(d)
    slot = np.zeros(n, dtype=np.int64)
    total = target.sum()
    root_impurity = np.dot(target, target) / n - (total / n) ** 2
    # Nodes of the current level: (heap index, orders, sum, impurity).
    level = [(0, perm, total, root_impurity)]
    for depth in range(max_depth):
        children = []
        for heap, order, node_sum, impurity in level:
            size = order.shape[1]
            if size < 2 or impurity <= _EPSILON:
                continue
            # proxy = S_L^2 / n_L + S_R^2 / n_R at each split position.
            left = np.cumsum(target[order[:, :-1]], axis=1)  # (d, size - 1)
            n_left = np.arange(1, size, dtype=np.float64)
            right = node_sum - left
            right *= right
            right /= size - n_left
            left *= left
            left /= n_left
            proxy = left
            proxy += right
            best_pos = np.argmax(proxy, axis=1)  # first best per feature
            for j in tied:
                # A position is valid only where the next value of the node
                # is more than 1e-7 larger; check the best one, and only if
                # it is invalid mask the whole row (rare for real codes).
                q = best_pos[j]
                if x[order[j, q + 1], j] > np.float64(x[order[j, q], j]) + (
                        _FEATURE_THRESHOLD):
                    continue
                xs = x[order[j], j].astype(np.float64)
                proxy[j, xs[1:] <= xs[:-1] + _FEATURE_THRESHOLD] = -np.inf
                best_pos[j] = np.argmax(proxy[j])
            per_feature = proxy[np.arange(d), best_pos]
            top = per_feature.max()
            if top == -np.inf:
                continue  # no valid split: a leaf
            tied_best = np.flatnonzero(per_feature == top)
            # scikit-learn visits the features in a random order and keeps
            # the first best one: a uniform pick among exact ties.
            f = int(tied_best[rng.randint(tied_best.size)]
                    if tied_best.size > 1 else tied_best[0])
            p = int(best_pos[f])
            lo = np.float64(x[order[f, p], f])
            hi = np.float64(x[order[f, p + 1], f])
            thr = lo / 2.0 + hi / 2.0
            features[heap], thresholds[heap] = f, thr
            # Stable partition of every feature's order (each row has the
            # same n_l samples on the left).
            go = (x[:, f] > thr)[order].ravel()
            n_l, n_r = p + 1, size - p - 1
            flat = order.ravel()
            left_order = np.compress(~go, flat).reshape(d, n_l)
            right_order = np.compress(go, flat).reshape(d, n_r)
            left_t = target[left_order[0]]
            right_t = target[right_order[0]]
            s_l, s_r = left_t.sum(), right_t.sum()
            imp_l = np.dot(left_t, left_t) / n_l - (s_l / n_l) ** 2
            imp_r = np.dot(right_t, right_t) / n_r - (s_r / n_r) ** 2
            importance[f] += (size * impurity - n_l * imp_l - n_r * imp_r) / n
            slot[right_order[0]] += 2 ** (max_depth - 1 - depth)
            if depth + 1 < max_depth:
                children.append((2 * heap + 1, left_order, s_l, imp_l))
                children.append((2 * heap + 2, right_order, s_r, imp_r))
        level = children
    return features, thresholds, slot, importance


def _grow_trees(x, perm, target, max_depth, rng):
    """`_grow_tree` for each row of `target` `(K, n)`; stacked outputs."""
    xs = np.take_along_axis(x.T, perm, 1).astype(np.float64)
    tied = np.flatnonzero(
        np.any(xs[:, 1:] <= xs[:, :-1] + _FEATURE_THRESHOLD, axis=1))
    parts = [_grow_tree(x, perm, tied, t, max_depth, rng) for t in target]
    return tuple(np.stack(p, axis=0) for p in zip(*parts))


def _leaf_values(slot, num_slots, neg_gradient, y, factor):
    """Newton leaf values `(K, num_slots)` of the slots of every sample."""
    k_trees, n = slot.shape
    flat = (slot + np.arange(k_trees)[:, None] * num_slots).ravel()
    size = k_trees * num_slots
    count = np.maximum(np.bincount(flat, minlength=size), 1)
    prob = y - neg_gradient
    numerator = np.bincount(flat, neg_gradient.ravel(), size) / count
    denominator = np.bincount(flat, (prob * (1 - prob)).ravel(), size) / count
    small = np.abs(denominator) < 1e-150
    value = np.where(small, 0.0,
                     factor * numerator / np.where(small, 1.0, denominator))
    return value.reshape(k_trees, num_slots)


def _apply(x, features, thresholds, max_depth):
    """Leaf slots `(K, n)` of samples `x` (float32) in heap-layout trees."""
    k_trees = features.shape[0]
    n = x.shape[0]
    rows = np.arange(k_trees)[:, None]
    node = np.zeros((k_trees, n), dtype=np.int64)
    for depth in range(max_depth):
        heap = 2**depth - 1 + node
        f = features[rows, heap]
        t = thresholds[rows, heap]
        node = 2 * node + (x[np.arange(n)[None, :], f] > t)
    return node


def fit_gbt_classifier(x, y, num_stages=100, learning_rate=0.1,
                       max_depth=_MAX_DEPTH, random_state=0):
    """Fits scikit-learn's default gradient-boosted classifier (see module).

    Args:
        x: float array `(n, d)` (cast to float32 like scikit-learn).
        y: int array `(n,)` of class labels `0..K-1`, `K >= 2` present.
        num_stages, learning_rate, max_depth: boosting settings
            (scikit-learn's defaults 100, 0.1, 3).
        random_state: int seed of the tie-breaking between features.

    Returns:
        A dict with the model (`init`, `features`, `thresholds`, `values`
        per stage) and `importance` `(d,)` (scikit-learn's
        `feature_importances_`).
    """
    x = np.asarray(x, dtype=np.float32)
    n, d = x.shape
    rng = np.random.RandomState(random_state)
    num_classes = int(y.max()) + 1
    prior = np.bincount(y, minlength=num_classes) / n
    eps = np.finfo(np.float64).eps
    if num_classes == 2:
        p1 = np.clip(prior[1], eps, 1 - eps)
        init = np.array([np.log(p1 / (1 - p1))])
        onehot = (y == 1).astype(np.float64)[None, :]
        factor = 1.0
    else:
        logp = np.log(np.clip(prior, eps, 1 - eps))
        init = logp - logp.mean()
        onehot = (y[None, :] == np.arange(num_classes)[:, None]).astype(
            np.float64)
        factor = (num_classes - 1) / num_classes
    k_trees = onehot.shape[0]
    raw = np.broadcast_to(init[:, None], (k_trees, n)).copy()
    perm = np.argsort(x.T, axis=1, kind="stable")
    num_slots = 2**max_depth
    stages = []
    importance = np.zeros(d)
    relevant = 0
    for _ in range(num_stages):
        if k_trees == 1:
            prob = _expit(raw)
        else:
            prob = _softmax(raw.T).T
        neg_gradient = onehot - prob
        features, thresholds, slot, tree_importance = _grow_trees(
            x, perm, neg_gradient, max_depth, rng)
        values = _leaf_values(slot, num_slots, neg_gradient, onehot, factor)
        raw += learning_rate * np.take_along_axis(values, slot, 1)
        split = np.isfinite(thresholds[:, 0])
        relevant += int(split.sum())
        importance += tree_importance[split].sum(axis=0)
        stages.append((features, thresholds, values))
    total = importance.sum()
    importance = importance / total if relevant and total > 0 else np.zeros(d)
    return {
        "init": init,
        "stages": stages,
        "learning_rate": learning_rate,
        "max_depth": max_depth,
        "importance": importance,
        "num_classes": num_classes,
    }


def predict_gbt_classifier(model, x):
    """Class predictions `(n,)` of a `fit_gbt_classifier` model."""
    x = np.asarray(x, dtype=np.float32)
    raw = np.broadcast_to(model["init"][:, None],
                          (model["init"].size, x.shape[0])).copy()
    for features, thresholds, values in model["stages"]:
        slot = _apply(x, features, thresholds, model["max_depth"])
        raw += model["learning_rate"] * np.take_along_axis(values, slot, 1)
    if raw.shape[0] == 1:
        return (raw[0] >= 0).astype(np.int64)
    return np.argmax(raw, axis=0)
