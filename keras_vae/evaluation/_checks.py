"""Argument checks specific to the evaluation metrics.

Generic checks (scalars, array rank, finiteness, matching lengths) live in
`keras_vae._validation`; these add the checks on code, factor and label
arrays and the metrics' shared bookkeeping. Every error names the argument,
says what was expected and ends with "Received: ..." like Keras' own
messages.
"""

import warnings

import numpy as np

from keras_vae._validation import as_array
from keras_vae._validation import check_all_finite
from keras_vae._validation import check_num_columns
from keras_vae._validation import check_num_samples
from keras_vae._validation import check_rank


def check_codes(name, codes, ndim=2, layout="(num_samples, num_latents)"):
    """Checks a real array of rank `ndim` with finite values, >= 1 sample.

    Returns:
        The codes as a float64 numpy array.
    """
    codes = as_array(name, codes)
    if codes.dtype == bool or not np.issubdtype(codes.dtype, np.number):
        raise _dtype_error(name, codes, "be a real-valued (float or int) array")
    if np.iscomplexobj(codes):
        raise _dtype_error(name, codes, "be real-valued, not complex")
    _check_rank_and_size(name, codes, ndim, layout, "column")
    check_all_finite(name, codes)
    return np.asarray(codes, dtype=np.float64)  # no copy if float64


def check_factors(name, factors, ndim=2, layout="(num_samples, num_factors)"):
    """Checks integer-valued ground-truth factor classes of rank `ndim`.

    Floats are accepted when every value is integral (e.g. `1.0`).

    Returns:
        The factors as an int64 numpy array.
    """
    factors = as_array(name, factors)
    if factors.dtype == bool:
        factors = factors.astype(np.int64)
    if not np.issubdtype(factors.dtype, np.number) or np.iscomplexobj(factors):
        raise _dtype_error(name, factors, "hold integer factor classes")
    _check_rank_and_size(name, factors, ndim, layout, "factor")
    if not np.issubdtype(factors.dtype, np.integer):
        check_all_finite(name, factors)
        if np.any(factors != np.round(factors)):
            raise ValueError(
                f"Argument `{name}` must hold integer factor classes (class "
                f"indices), but some values are not integers. Discretize "
                f"continuous factors first. Received: {name}.dtype="
                f"{factors.dtype} with values such as "
                f"{float(factors[factors != np.round(factors)][0])}"
            )
    return factors.astype(np.int64)


def _dtype_error(name, array, expected):
    return TypeError(
        f"Argument `{name}` must {expected}. Received: {name}.dtype={array.dtype}"
    )


def _check_rank_and_size(name, array, ndim, layout, column):
    """`check_rank`, and at least one sample and one `column`."""
    check_rank(name, array, ndim, layout)
    if 0 in array.shape:
        raise ValueError(
            f"Argument `{name}` must contain at least one sample and one "
            f"{column}. Received: {name}.shape={array.shape}"
        )


def check_group_codes(train_codes, train_factor_index, eval_codes, eval_factor_index,
                      ndim, layout):
    """Validates the grouped codes of the BetaVAE and FactorVAE scores.

    Returns `(train_codes, train_factor_index, eval_codes,
    eval_factor_index)` as arrays: codes of rank `ndim` laid out as
    `layout`, one factor index per point.
    """
    checked = []
    for name, codes, index_name, index in (
            ("train_codes", train_codes, "train_factor_index", train_factor_index),
            ("eval_codes", eval_codes, "eval_factor_index", eval_factor_index)):
        codes = check_codes(name, codes, ndim=ndim, layout=layout)
        index = check_factors(index_name, index, ndim=1, layout="(num_points,)")
        check_num_samples(**{name: codes, index_name: index})
        checked += [codes, index]
    return tuple(checked)


def check_labels(name, labels):
    """Checks a 1D array of class labels (ints, strings, integral floats)."""
    labels = as_array(name, labels)
    check_rank(name, labels, 1, "(num_samples,)")
    if labels.size == 0:
        raise ValueError(
            f"Argument `{name}` must contain at least one sample. "
            f"Received: {name}.shape={labels.shape}"
        )
    if np.issubdtype(labels.dtype, np.floating):
        check_all_finite(name, labels)
    return labels


def check_test_pair(codes_name, codes, factors_name, factors, train_codes,
                    train_factors):
    """Checks an optional held-out `(codes, factors)` pair.

    Both must be given or both None; None means "evaluate on the training
    data". Returns the checked pair (the training pair when both are None).
    """
    if (codes is None) != (factors is None):
        raise ValueError(
            f"Arguments `{codes_name}` and `{factors_name}` must be given "
            f"together (or both left as None). Received: {codes_name} is "
            f"{'None' if codes is None else 'an array'}, {factors_name} is "
            f"{'None' if factors is None else 'an array'}"
        )
    if codes is None:
        return train_codes, train_factors
    codes = check_codes(codes_name, codes)
    factors = check_factors(factors_name, factors)
    check_num_samples(**{codes_name: codes, factors_name: factors})
    check_num_columns(codes=train_codes, **{codes_name: codes})
    check_num_columns(factors=train_factors, **{factors_name: factors})
    return codes, factors


def excluded_factors(name, exclude_factors, num_factors):
    """Checks a collection of factor column indices; returns a bool mask."""
    try:
        indices = [int(i) for i in exclude_factors]
        valid = all(
            isinstance(i, (int, np.integer)) and not isinstance(i, bool)
            for i in exclude_factors
        )
    except (TypeError, ValueError):
        valid = False
    if not valid or any(i < 0 or i >= num_factors for i in indices):
        raise ValueError(
            f"Argument `{name}` must be a collection of factor indices in "
            f"[0, {num_factors}). Received: {name}={exclude_factors!r}"
        )
    mask = np.zeros(num_factors, dtype=bool)
    mask[indices] = True
    return mask


def informative_factors(name, factors, excluded=None):
    """Returns a bool mask of the factors a metric scores.

    Excluded factors (`excluded` mask) are skipped silently. A factor that
    takes a single value in the sample carries no information, so no code
    can be informative about it and entropy-normalized scores are undefined
    (0 / 0): such factors are skipped too, with a `UserWarning` naming them.
    A `ValueError` is raised when no factor is left.
    """
    candidates = np.ones(factors.shape[1], bool) if excluded is None else (
        ~excluded
    )
    varies = np.any(factors != factors[:1], axis=0)
    constant = candidates & ~varies
    if not (candidates & varies).any():
        raise ValueError(
            f"Argument `{name}` must have at least one (non-excluded) factor "
            f"that takes two or more values; the factors "
            f"{np.flatnonzero(candidates).tolist()} are constant in this "
            f"sample. Received: {name}.shape={factors.shape}"
        )
    if constant.any():
        warnings.warn(
            f"Factors {np.flatnonzero(constant).tolist()} of `{name}` take a "
            f"single value in this sample; they are excluded from the "
            f"metric (reported as NaN per factor).",
            UserWarning,
            stacklevel=4,
        )
    return candidates & varies


def check_codes_and_factors(codes, factors, exclude_factors):
    """Validates `(codes, factors)`; returns them and the scored mask."""
    codes = check_codes("codes", codes)
    factors = check_factors("factors", factors)
    check_num_samples(codes=codes, factors=factors)
    excluded = excluded_factors("exclude_factors", exclude_factors,
                                factors.shape[1])
    scored = informative_factors("factors", factors, excluded)
    return codes, factors, scored


def top_two_gap(scores):
    """Per column, the largest entry minus the second largest (0 if d=1)."""
    ordered = np.sort(scores, axis=0)[::-1]
    second = ordered[1] if scores.shape[0] > 1 else 0.0
    return ordered[0] - second


def per_factor(values, scored):
    """Scatters per-scored-factor values into a NaN-filled full vector."""
    out = np.full(scored.shape[0], np.nan)
    out[scored] = values
    return out


def gap_score(name, matrix_name, matrix, scored, protocol, normalizer=1.0):
    """The result dict of a gap score (MIG, SAP).

    `matrix` `(num_latents, num_factors)` scores each code dimension for each
    factor; a factor's gap is the difference of its two largest scores
    (`top_two_gap`) divided by `normalizer` (one per scored factor, or a
    scalar). The dict holds the mean gap over the scored factors as `name`,
    the gaps as `name + "_per_factor"` (NaN for skipped factors), `matrix`
    as `matrix_name`, and `protocol`.
    """
    gaps = top_two_gap(matrix[:, scored]) / normalizer
    return {
        name: float(np.mean(gaps)),
        f"{name}_per_factor": per_factor(gaps, scored),
        matrix_name: matrix,
        "protocol": protocol,
    }


def protocol(name, variant, reference, seed=None, **sizes):
    """The record of how a metric value was obtained.

    Args:
        name: the protocol whose numbers the value is comparable with, e.g.
            `"disentanglement_lib"`.
        variant: the estimator variant.
        reference: the publication(s) whose tables use this protocol.
        seed: the int seed of the sampling, or None (codes given, or a
            random state object).
        **sizes: sample sizes and settings (None values are dropped).

    Returns:
        A dict, stored under `"protocol"` in every metric result.
    """
    record = {"name": name, "variant": variant, "reference": reference,
              "seed": seed}
    record.update({k: v for k, v in sizes.items() if v is not None})
    return record
