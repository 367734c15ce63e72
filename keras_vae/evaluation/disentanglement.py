"""Disentanglement metrics on data with known ground-truth factors.

Five metrics, each in two layers:

* `compute_<metric>(ground_truth_data, representation_fn, random_state,
  ...)` samples factors and observations from a ground-truth dataset
  (disentanglement_lib's `GroundTruthData` interface, see `_sampling`),
  encodes them with `representation_fn` (e.g. a VAE encoder's means) and
  calls the core;
* `<metric>_from_codes(codes, factors, ...)` is the pure, deterministic
  numpy core for users with precomputed codes.

Entropies and mutual informations come from our own numpy estimators
(`_info`), the classifiers and regressors from small deterministic numpy
models (`_estimators`), so a score depends only on the codes, the factors
and the documented hyperparameters -- never on the scikit-learn version.
All scores are in `[0, 1]`, higher is better. Factors with a single value
in the sample are skipped with a warning (see `_checks.informative_factors`)
and factors declared with a single value by the dataset are skipped
silently.
"""

import numpy as np

from keras_vae._validation import check_choice
from keras_vae._validation import check_float
from keras_vae._validation import check_int
from keras_vae.evaluation import _checks
from keras_vae.evaluation import _estimators
from keras_vae.evaluation import _info
from keras_vae.evaluation import _sampling
from keras_vae.evaluation._group_scores import beta_vae_score_from_codes
from keras_vae.evaluation._group_scores import compute_beta_vae_score
from keras_vae.evaluation._group_scores import compute_factor_vae_score
from keras_vae.evaluation._group_scores import factor_vae_score_from_codes

__all__ = [
    "beta_vae_score_from_codes",
    "compute_beta_vae_score",
    "compute_dci",
    "compute_factor_vae_score",
    "compute_mig",
    "compute_sap",
    "dci_from_codes",
    "dci_from_importance",
    "factor_vae_score_from_codes",
    "mig_from_codes",
    "sap_from_codes",
]


def _check_codes_and_factors(codes, factors, exclude_factors):
    """Validates `(codes, factors)`; returns them and the scored mask."""
    codes = _checks.check_codes("codes", codes)
    factors = _checks.check_factors("factors", factors)
    _checks.check_num_samples(codes=codes, factors=factors)
    excluded = _checks.excluded_factors(
        "exclude_factors", exclude_factors, factors.shape[1]
    )
    scored = _checks.informative_factors("factors", factors, excluded)
    return codes, factors, scored


def _top_two_gap(scores):
    """Per column, the largest entry minus the second largest (0 if d=1)."""
    ordered = np.sort(scores, axis=0)[::-1]
    second = ordered[1] if scores.shape[0] > 1 else 0.0
    return ordered[0] - second


def _per_factor(values, scored):
    """Scatters per-scored-factor values into a NaN-filled full vector."""
    out = np.full(scored.shape[0], np.nan)
    out[scored] = values
    return out


# --------------------------------------------------------------------- MIG


def mig_from_codes(codes, factors, num_bins=20,
                   variant="disentanglement_lib", exclude_factors=()):
    """Mutual Information Gap (Chen et al., 2018) from precomputed codes.

    Implements the MIG equation of Chen et al. (2018)

        MIG = 1/K sum_k (I(z_{j(k)}; v_k) - max_{j != j(k)} I(z_j; v_k))
                        / H(v_k),   j(k) = argmax_j I(z_j; v_k),

    with the estimator of the disentanglement_lib study (Locatello et al.,
    2019): each code dimension `z_j` (the mean codes) is discretized into
    `num_bins` equal-width bins over its observed range (`np.histogram`
    bins, see `_info.discretize`), factors `v_k` are used as given (their
    classes), and `I` and `H` are plug-in (empirical frequency) estimates in
    nats. The mean runs over all scored factors. With a single code
    dimension the second-best information is 0.

    `variant` selects the normalizer `H(v_k)`:

    * `"disentanglement_lib"` (default): the empirical entropy of the
      factor in the sample, as in the equation above and disentanglement_lib.
    * `"chen2018"`: `log K_k`, `K_k` the number of distinct values of the
      factor, i.e. the entropy of a uniform factor, as in Chen et al.'s
      reference code. To reproduce their dSprites protocol also pass
      `exclude_factors=(shape_index,)`: they leave the categorical shape
      factor out and average over scale, orientation, x and y. Note that
      Chen et al. estimate `I` from the stochastic encoder `q(z|x)` over the
      full dataset; both variants here use the histogram estimate on mean
      codes, so values are close but not identical to that paper's.

    Args:
        codes: float array `(num_samples, num_latents)`, e.g. encoder means.
        factors: int array `(num_samples, num_factors)` of factor classes.
        num_bins: int >= 2, histogram bins per code dimension.
        variant: `"disentanglement_lib"` or `"chen2018"`, see above.
        exclude_factors: indices of factor columns to leave out.

    Returns:
        A dict with `"mig"` (float in [0, 1]), `"mig_per_factor"` (array
        `(num_factors,)`, NaN for skipped factors) and `"mutual_info"`
        (array `(num_latents, num_factors)` of `I(z_j; v_k)` in nats, 0 for
        skipped factors).
    """
    num_bins = check_int("num_bins", num_bins, minimum=2)
    variant = check_choice("variant", variant, ("disentanglement_lib",
                                                "chen2018"))
    codes, factors, scored = _check_codes_and_factors(
        codes, factors, exclude_factors
    )
    labels, num_values = _info.encode_labels(factors[:, scored])
    mutual_info = np.zeros((codes.shape[1], factors.shape[1]))
    mutual_info[:, scored] = _info.discrete_mutual_info(
        _info.discretize(codes, num_bins), labels
    )
    if variant == "disentanglement_lib":
        normalizer = _info.discrete_entropy(labels)
    else:
        normalizer = np.log(num_values)
    gaps = _top_two_gap(mutual_info[:, scored]) / normalizer
    return {
        "mig": float(np.mean(gaps)),
        "mig_per_factor": _per_factor(gaps, scored),
        "mutual_info": mutual_info,
    }


def compute_mig(ground_truth_data, representation_fn, random_state,
                num_train=10000, batch_size=16, num_bins=20,
                variant="disentanglement_lib", exclude_factors=()):
    """Mutual Information Gap (Chen et al., 2018) of a representation.

    Samples `num_train` factor vectors uniformly, encodes their observations
    with `representation_fn` and scores them with `mig_from_codes` (see there
    for the estimator and the variants).

    Args:
        ground_truth_data: a GroundTruthData dataset (`num_factors`,
            `factors_num_values`, `sample_factors`,
            `sample_observations_from_factors`).
        representation_fn: callable mapping observations `(n, H, W, C)` to
            codes `(n, num_latents)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        num_train: int >= 2, number of sampled points.
        batch_size: int >= 1, observations per `representation_fn` call.
        num_bins: int >= 2, histogram bins per code dimension.
        variant: `"disentanglement_lib"` or `"chen2018"`.
        exclude_factors: indices of factors to leave out.

    Returns:
        The dict of `mig_from_codes`.
    """
    num_train = check_int("num_train", num_train, minimum=2)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    random_state, _, excluded = _sampling.prepare(
        ground_truth_data, random_state, exclude_factors
    )
    codes, factors = _sampling.sample_codes(
        ground_truth_data, representation_fn, num_train, random_state,
        batch_size,
    )
    return mig_from_codes(codes, factors, num_bins, variant, excluded)


# --------------------------------------------------------------------- DCI


def _normalized_entropy(p, axis):
    """Entropy of distributions `p` along `axis` in base `p.shape[axis]`."""
    size = p.shape[axis]
    if size == 1:
        return np.zeros(np.delete(p.shape, axis))
    terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=axis) / np.log(size)


def dci_from_importance(importance):
    """Disentanglement and completeness of an importance matrix.

    Eastwood & Williams (2018), definitions of D and C: with `R_ij >= 0`
    the importance of code `c_i` for factor `z_j`, `P_ij = R_ij / sum_k R_ik`,
    `D_i = 1 - H_K(P_i.)` (entropy in base K = number of factors),
    `D = sum_i rho_i D_i` with `rho_i = sum_j R_ij / sum_ij R_ij`;
    `C_j = 1 - H_D(P~_.j)` with `P~_ij = R_ij / sum_k R_kj` (base D =
    number of codes), and `C` the mean of `C_j` over factors. Codes (rows)
    or factors (columns) with zero total importance score 0; with a single
    factor (code) the entropies are 0, so `D_i` (`C_j`) is 1.

    Args:
        importance: non-negative array `(num_latents, num_factors)`.

    Returns:
        A dict with `"disentanglement"`, `"completeness"` (floats),
        `"disentanglement_per_code"` and `"completeness_per_factor"`.
    """
    importance = np.asarray(importance, dtype=np.float64)
    row = importance.sum(axis=1)
    col = importance.sum(axis=0)
    total = importance.sum()
    p_rows = importance / np.where(row > 0, row, 1.0)[:, None]
    p_cols = importance / np.where(col > 0, col, 1.0)[None, :]
    per_code = np.where(row > 0, 1.0 - _normalized_entropy(p_rows, 1), 0.0)
    per_factor = np.where(col > 0, 1.0 - _normalized_entropy(p_cols, 0), 0.0)
    weights = row / total if total > 0 else np.zeros_like(row)
    return {
        "disentanglement": float(np.sum(weights * per_code)),
        "completeness": float(np.mean(per_factor)),
        "disentanglement_per_code": per_code,
        "completeness_per_factor": per_factor,
    }


def _r_squared(targets, predictions):
    """Per-column `max(0, 1 - MSE)` for targets standardized on train."""
    mse = np.mean((targets - predictions) ** 2, axis=0)
    return np.clip(1.0 - mse, 0.0, 1.0)


def dci_from_codes(codes, factors, test_codes=None, test_factors=None,
                   exclude_factors=(), num_rounds=200, learning_rate=0.1,
                   num_bins=32):
    """DCI scores (Eastwood & Williams, 2018) from precomputed codes.

    One regressor per factor predicts the factor class (as a number,
    standardized on the training set) from all codes. The regressor is
    least-squares gradient boosting of decision stumps on quantile-binned
    codes (`_estimators.fit_boosted_stumps`); the importance `R_ij` of code
    `i` for factor `j` is the total squared-error reduction of the splits on
    code `i`, normalized so that each factor's importances sum to 1 (as
    scikit-learn's `feature_importances_` used by disentanglement_lib).

    Why this regressor: Eastwood & Williams use Lasso and random forests;
    disentanglement_lib uses scikit-learn's gradient boosted trees, whose
    random tie-breaking and version drift change the scores. Stumps keep
    the tree methods' ability to read non-linear, non-monotone codes (e.g.
    a categorical factor in any order) while being exhaustively searched,
    hence deterministic; their importance is attributed to a single code
    per split, and exact ties (duplicated codes) share it equally. A split
    is only made when its gain passes a Bonferroni-corrected significance
    test at level 0.01, so codes without signal collect no importance: a
    pure-noise representation scores D = C = 0 instead of the 0.05-0.15
    that unpruned boosting gives by fitting noise. Rescaling or any
    increasing transform of a code leaves the binning, and therefore every
    score, unchanged.

    Scores (Eastwood & Williams, 2018, see `dci_from_importance`):
    disentanglement `D`, completeness `C`, and informativeness, reported
    here as `1 - NMSE` (higher is better): the mean over factors of
    `max(0, 1 - MSE_j / Var_train(z_j))`, the complement of the paper's
    normalized prediction error, on the training and on the test data.

    Args:
        codes: float array `(num_train, num_latents)`.
        factors: int array `(num_train, num_factors)` of factor classes.
        test_codes, test_factors: optional held-out pair for
            `informativeness_test`; both None reuse the training data.
        exclude_factors: indices of factor columns to leave out.
        num_rounds: int >= 1, boosting rounds per factor.
        learning_rate: float in (0, 1], stump shrinkage.
        num_bins: int >= 2, quantile bins per code dimension.

    Returns:
        A dict with floats `"disentanglement"`, `"completeness"`,
        `"informativeness_train"`, `"informativeness_test"` and arrays
        `"importance_matrix"` `(num_latents, num_factors)` (0 for skipped
        factors), `"disentanglement_per_code"`, `"completeness_per_factor"`
        (NaN for skipped factors).
    """
    num_rounds = check_int("num_rounds", num_rounds, minimum=1)
    learning_rate = check_float("learning_rate", learning_rate, minimum=0,
                                exclusive_minimum=True)
    if learning_rate > 1:
        raise ValueError(
            "Argument `learning_rate` must be in (0, 1]. "
            f"Received: learning_rate={learning_rate}"
        )
    num_bins = check_int("num_bins", num_bins, minimum=2)
    codes, factors, scored = _check_codes_and_factors(
        codes, factors, exclude_factors
    )
    test_codes, test_factors = _checks.check_test_pair(
        "test_codes", test_codes, "test_factors", test_factors, codes, factors
    )
    targets = factors[:, scored].astype(np.float64)
    mean, std = targets.mean(axis=0), targets.std(axis=0)
    train_y = (targets - mean) / std
    test_y = (test_factors[:, scored] - mean) / std
    model = _estimators.fit_boosted_stumps(
        codes, train_y, num_rounds, learning_rate, num_bins
    )
    gains = model["importance"]
    sums = gains.sum(axis=0)
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    importance[:, scored] = gains / np.where(sums > 0, sums, 1.0)
    scores = dci_from_importance(importance[:, scored])
    train_r2 = _r_squared(
        train_y, _estimators.predict_boosted_stumps(model, codes)
    )
    test_r2 = _r_squared(
        test_y, _estimators.predict_boosted_stumps(model, test_codes)
    )
    return {
        "disentanglement": scores["disentanglement"],
        "completeness": scores["completeness"],
        "informativeness_train": float(np.mean(train_r2)),
        "informativeness_test": float(np.mean(test_r2)),
        "importance_matrix": importance,
        "disentanglement_per_code": scores["disentanglement_per_code"],
        "completeness_per_factor": _per_factor(
            scores["completeness_per_factor"], scored
        ),
    }


def compute_dci(ground_truth_data, representation_fn, random_state,
                num_train=10000, num_test=5000, batch_size=16,
                exclude_factors=(), num_rounds=200, learning_rate=0.1,
                num_bins=32):
    """DCI disentanglement, completeness, informativeness of a representation.

    Samples `num_train` training and `num_test` test points (in that order)
    and scores them with `dci_from_codes` (see there for the regressor and
    the definitions).

    Args:
        ground_truth_data: a GroundTruthData dataset.
        representation_fn: callable, observations -> codes `(n, d)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        num_train: int >= 2, number of training points.
        num_test: int >= 1, number of test points.
        batch_size: int >= 1, observations per `representation_fn` call.
        exclude_factors: indices of factors to leave out.
        num_rounds, learning_rate, num_bins: see `dci_from_codes`.

    Returns:
        The dict of `dci_from_codes`.
    """
    train, test, excluded = _sampling.sample_train_test(
        ground_truth_data, representation_fn, random_state, num_train,
        num_test, batch_size, exclude_factors)
    return dci_from_codes(*train, *test, excluded, num_rounds, learning_rate,
                          num_bins)


# --------------------------------------------------------------------- SAP


def _threshold_classifier_scores(codes, labels, test_codes, test_labels,
                                 num_bins, adjusted):
    """Balanced test accuracy `(d, k)` of per-code histogram classifiers.

    Each code dimension is cut into `num_bins` equal-width bins over its
    training range (`_info.discretize`); each bin predicts its most frequent
    training class (ties: the smallest class; empty bins: the factor's most
    frequent class). This is the training-error minimizing classifier with
    thresholds on the bin edges. With `adjusted`, the balanced accuracy `b`
    over `K` test classes is chance-corrected to `(b - 1/K) / (1 - 1/K)`
    and clipped at 0 (below chance is as uninformative as chance).
    """
    d = codes.shape[1]
    k = labels.shape[1]
    num_classes = int(max(labels.max(), test_labels.max())) + 1
    bins = _info.discretize(codes, num_bins)
    test_bins = _info.discretize(test_codes, num_bins, reference=codes)
    counts = _info.contingency_tables(bins, labels, (num_bins, num_classes))
    majority = np.argmax(counts, axis=3)  # (d, k, num_bins)
    class_counts = counts[0].sum(axis=1)  # (k, num_classes)
    empty = counts.sum(axis=3) == 0
    majority = np.where(empty, np.argmax(class_counts, axis=1)[:, None],
                        majority)
    predicted = majority[
        np.arange(d)[None, :, None], np.arange(k)[None, None, :],
        test_bins[:, :, None],
    ]  # (n_test, d, k)
    correct = predicted == test_labels[:, None, :]
    flat = (
        (np.arange(d)[None, :, None] * k + np.arange(k)[None, None, :])
        * num_classes
        + test_labels[:, None, :]
    )
    hits = np.bincount(flat.ravel(), correct.ravel().astype(np.float64),
                       d * k * num_classes).reshape(d, k, num_classes)
    support = np.stack(
        [np.bincount(test_labels[:, j], minlength=num_classes)
         for j in range(k)]
    )  # (k, num_classes)
    recall = hits / np.maximum(support, 1)
    present = support > 0
    balanced = (recall * present).sum(axis=2) / present.sum(axis=1)
    if not adjusted:
        return balanced
    chance = 1.0 / present.sum(axis=1)
    corrected = (balanced - chance) / np.where(chance < 1, 1 - chance, 1.0)
    return np.maximum(corrected, 0.0)


def _squared_correlations(codes, targets):
    """`(d, k)` squared Pearson correlations; 0 where a variance is 0."""
    x = codes - codes.mean(axis=0)
    y = targets - targets.mean(axis=0)
    cov = x.T @ y
    scale = np.sqrt(np.outer((x**2).sum(axis=0), (y**2).sum(axis=0)))
    return np.where(scale > 0, cov / np.where(scale > 0, scale, 1.0), 0) ** 2


def sap_from_codes(codes, factors, test_codes=None, test_factors=None,
                   continuous_factors=False, num_bins=20, exclude_factors=(),
                   adjusted=True):
    """Separated Attribute Predictability (Kumar et al., 2018).

    Kumar et al. (2018), "SAP score": build a score matrix
    `S (num_latents, num_factors)` where `S_ij` measures how well factor `j`
    is predicted from code dimension `i` alone; SAP is the mean over
    factors of the difference between the two largest entries of each
    column. Entries:

    * `continuous_factors=True`: the R^2 of the best line, i.e. the
      squared Pearson correlation `(Cov(z_i, v_j) / (s_z s_v))^2`, on the
      test data (nothing is fitted, so the training pair is only used when
      no test pair is given).
    * `continuous_factors=False` (default): the balanced accuracy, on the
      test data, of a classifier with thresholds on code `i` fitted to
      minimize the training error. Thresholds are restricted to the edges
      of `num_bins` equal-width bins of the training codes, where the
      optimal classifier gives each bin its most frequent training class.
      (disentanglement_lib uses a scikit-learn linear SVM here instead; a
      1D linear one-vs-rest SVM cannot represent middle classes.) A factor
      with more than `num_bins` values cannot be fully resolved; raise
      `num_bins` for such factors. With `adjusted=True` (default) the
      balanced accuracy `b` over the `K` classes of the factor is
      chance-corrected to `(b - 1/K) / (1 - 1/K)` (scikit-learn's
      `balanced_accuracy_score(adjusted=True)`) and clipped at 0, so that,
      as with R^2, a perfect code scores 1 and an uninformative one 0
      whatever `K`; without it (Kumar et al.'s raw balanced accuracy) a
      perfect representation scores only `mean_k (1 - 1/K_k)`. The
      adjustment rescales each factor's gap by `1 / (1 - 1/K_k)`.

    With a single code dimension the second-largest entry is 0.

    Args:
        codes: float array `(num_train, num_latents)`.
        factors: int array `(num_train, num_factors)` of factor classes.
        test_codes, test_factors: optional held-out pair on which the
            scores are computed; both None reuse the training data.
        continuous_factors: bool, see above.
        num_bins: int >= 2, classifier bins per code dimension.
        exclude_factors: indices of factor columns to leave out.
        adjusted: bool, chance-correct the balanced accuracies (discrete
            factors only).

    Returns:
        A dict with `"sap"` (float), `"sap_per_factor"` (NaN for skipped
        factors) and `"score_matrix"` `(num_latents, num_factors)` (NaN
        columns for skipped factors).
    """
    num_bins = check_int("num_bins", num_bins, minimum=2)
    codes, factors, scored = _check_codes_and_factors(
        codes, factors, exclude_factors
    )
    test_codes, test_factors = _checks.check_test_pair(
        "test_codes", test_codes, "test_factors", test_factors, codes, factors
    )
    if continuous_factors:
        scores = _squared_correlations(
            test_codes, test_factors[:, scored].astype(np.float64)
        )
    else:
        labels, _ = _info.encode_labels(
            np.concatenate([factors[:, scored], test_factors[:, scored]])
        )
        scores = _threshold_classifier_scores(
            codes, labels[: len(codes)], test_codes, labels[len(codes):],
            num_bins, adjusted,
        )
    score_matrix = np.full((codes.shape[1], factors.shape[1]), np.nan)
    score_matrix[:, scored] = scores
    gaps = _top_two_gap(scores)
    return {
        "sap": float(np.mean(gaps)),
        "sap_per_factor": _per_factor(gaps, scored),
        "score_matrix": score_matrix,
    }


def compute_sap(ground_truth_data, representation_fn, random_state,
                num_train=10000, num_test=5000, batch_size=16,
                continuous_factors=False, num_bins=20, exclude_factors=(),
                adjusted=True):
    """SAP score (Kumar et al., 2018) of a representation.

    Samples `num_train` training and `num_test` test points and scores them
    with `sap_from_codes` (see there).

    Args:
        ground_truth_data: a GroundTruthData dataset.
        representation_fn: callable, observations -> codes `(n, d)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        num_train: int >= 2, number of training points.
        num_test: int >= 1, number of test points.
        batch_size: int >= 1, observations per `representation_fn` call.
        continuous_factors, num_bins, exclude_factors, adjusted: see
            `sap_from_codes`.

    Returns:
        The dict of `sap_from_codes`.
    """
    train, test, excluded = _sampling.sample_train_test(
        ground_truth_data, representation_fn, random_state, num_train,
        num_test, batch_size, exclude_factors)
    return sap_from_codes(*train, *test, continuous_factors, num_bins,
                          excluded, adjusted)
