"""Discrete information theory in pure numpy: binning, entropy, mutual info.

Every metric that needs an entropy or a mutual information goes through the
four functions below, so the numbers depend on numpy alone (never on the
scikit-learn version installed). Entropies are in nats (natural logarithm).

All functions work column-wise on 2D integer "label" arrays of shape
`(num_samples, num_variables)`: each column is one discrete variable and each
row one joint observation. They are vectorized with `np.bincount` over flat
joint indices; the only Python loops run over columns, never over samples.
"""

import numpy as np

# Upper bound on the number of (sample, column pair) entries that one
# `np.bincount` call in `contingency_tables` handles (about 32 MB of int64).
_MAX_JOINT_ENTRIES = 1 << 22


def discretize(x, num_bins, reference=None):
    """Equal-width histogram discretization of each column.

    Column `j` is cut into `num_bins` equal-width bins spanning
    `[min_j, max_j]` of `reference[:, j]` (of `x` itself when `reference` is
    None), exactly the bins of `np.histogram(reference[:, j], num_bins)`:
    bins are half-open `[e_b, e_{b+1})` except the last, which is closed, and
    a constant column uses the range `[v - 0.5, v + 0.5]` as numpy does.
    Values of `x` outside the reference range fall in the first or last bin.
    With 20 bins this is the discretization of mean codes used for MIG in
    the disentanglement_lib study (Locatello et al., 2019).

    Args:
        x: float array of shape `(num_samples, num_columns)`.
        num_bins: int >= 1, number of bins per column.
        reference: optional float array of shape `(m, num_columns)` whose
            per-column range defines the bins (e.g. training codes, to bin
            test codes consistently).

    Returns:
        int64 array of the shape of `x` with values in `[0, num_bins)`.
    """
    x = np.asarray(x, dtype=np.float64)
    reference = x if reference is None else np.asarray(reference, np.float64)
    lo = reference.min(axis=0)
    hi = reference.max(axis=0)
    constant = lo == hi
    lo = np.where(constant, lo - 0.5, lo)
    hi = np.where(constant, hi + 0.5, hi)
    edges = np.linspace(lo, hi, num_bins + 1)  # (num_bins + 1, num_columns)
    with np.errstate(over="ignore", invalid="ignore"):
        index = np.floor((x - lo) / (hi - lo) * num_bins)
    index = np.clip(index, 0, num_bins - 1).astype(np.int64)
    # Floating point can put a value one bin off near an edge: compare with
    # the actual edges, like `np.histogram` does.
    index -= (index > 0) & (x < np.take_along_axis(edges, index, axis=0))
    index += (index < num_bins - 1) & (
        x >= np.take_along_axis(edges, index + 1, axis=0)
    )
    return index


def encode_labels(labels):
    """Maps each column's distinct values to consecutive ints `0..K_j - 1`.

    Args:
        labels: array of shape `(num_samples, num_columns)` of discrete
            values (any sortable dtype).

    Returns:
        A tuple `(codes, num_values)`: int64 array of the shape of `labels`,
        and int64 array `(num_columns,)` with the number of distinct values
        `K_j` of each column.
    """
    labels = np.asarray(labels)
    codes = np.empty(labels.shape, dtype=np.int64)
    num_values = np.empty(labels.shape[1], dtype=np.int64)
    for j in range(labels.shape[1]):
        values, codes[:, j] = np.unique(labels[:, j], return_inverse=True)
        num_values[j] = values.size
    return codes, num_values


def contingency_tables(a, b, sizes=None):
    """Joint counts of every column of `a` with every column of `b`.

    Args:
        a: int array `(n, da)` with values in `[0, A)`, e.g. from
            `encode_labels` or `discretize`.
        b: int array `(n, db)` with values in `[0, B)`.
        sizes: optional `(A, B)`; by default one more than the maxima.

    Returns:
        int64 array `(da, db, A, B)`; entry `[i, j, u, v]` counts the samples
        with `a[:, i] == u` and `b[:, j] == v`.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    n, da = a.shape
    db = b.shape[1]
    if sizes is None:
        sizes = (int(a.max()) + 1, int(b.max()) + 1)
    size_a, size_b = sizes
    table = size_a * size_b
    # Flat joint index of (column of b, value of a, value of b) per sample;
    # columns of `a` are processed in chunks that bound the memory use.
    offsets = np.arange(db, dtype=np.int64) * table
    chunk = max(1, _MAX_JOINT_ENTRIES // max(1, n * db))
    out = np.empty((da, db, size_a, size_b), dtype=np.int64)
    for start in range(0, da, chunk):
        cols = a[:, start : start + chunk]  # (n, c)
        c = cols.shape[1]
        flat = (
            np.arange(c, dtype=np.int64)[None, :, None] * (db * table)
            + offsets[None, None, :]
            + cols[:, :, None] * size_b
            + b[:, None, :]
        )
        counts = np.bincount(flat.ravel(), minlength=c * db * table)
        out[start : start + c] = counts.reshape(c, db, size_a, size_b)
    return out


def _entropy_from_counts(counts, axis):
    """Plug-in entropy (nats) of histograms `counts` summed over `axis`."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=axis)
    c_log_c = np.where(counts > 0, counts * np.log(np.maximum(counts, 1)), 0.0)
    safe_total = np.maximum(total, 1)
    return np.log(safe_total) - c_log_c.sum(axis=axis) / safe_total


def discrete_entropy(labels):
    """Plug-in (maximum likelihood) entropy of each column, in nats.

    `H(X) = -sum_x p(x) log p(x)` with `p` the empirical frequencies
    (Cover & Thomas, 2006, Eq. 2.1), computed as
    `log n - (1 / n) sum_x c_x log c_x` from the counts `c_x`.

    Args:
        labels: array `(num_samples, num_columns)` of discrete values.

    Returns:
        float64 array `(num_columns,)`.
    """
    codes, num_values = encode_labels(labels)
    n, k = codes.shape
    size = int(num_values.max()) if k else 1
    flat = codes + np.arange(k, dtype=np.int64) * size
    counts = np.bincount(flat.ravel(), minlength=k * size).reshape(k, size)
    return _entropy_from_counts(counts, axis=1)


def discrete_mutual_info(a, b):
    """Plug-in mutual information between every column of `a` and of `b`.

    `I(A; B) = sum_{u,v} p(u, v) log(p(u, v) / (p(u) p(v)))` with empirical
    frequencies (Cover & Thomas, 2006, Eq. 2.28), in nats, clipped at 0
    against rounding. Equals `H(A) + H(B) - H(A, B)`; `I(A; A) = H(A)`.

    Args:
        a: array `(n, da)` of discrete values (e.g. discretized codes).
        b: array `(n, db)` of discrete values (e.g. factor classes).

    Returns:
        float64 array `(da, db)`: entry `[i, j]` is `I(a[:, i]; b[:, j])`.
    """
    a, _ = encode_labels(a)
    b, _ = encode_labels(b)
    n = a.shape[0]
    joint = contingency_tables(a, b).astype(np.float64)  # (da, db, A, B)
    count_a = joint.sum(axis=3, keepdims=True)
    count_b = joint.sum(axis=2, keepdims=True)
    ratio = joint * n / np.maximum(count_a * count_b, 1)
    terms = np.where(joint > 0, joint * np.log(np.maximum(ratio, 1e-300)), 0)
    return np.maximum(terms.sum(axis=(2, 3)) / n, 0.0)
