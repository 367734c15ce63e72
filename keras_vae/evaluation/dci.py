"""DCI: disentanglement, completeness, informativeness.

Eastwood & Williams (2018). The default reproduces disentanglement_lib
(Locatello et al., 2019; `dci.gin` of unsupervised_study_v1: 10,000
training and 5,000 test points): per factor, scikit-learn's default
`GradientBoostingClassifier()` on all codes (here the exact numpy
re-implementation `_gbt`), importances its `feature_importances_`,
informativeness its train and test accuracy. The variant
`"boosted_stumps"` is this library's deterministic regression estimator.
"""

import functools

import numpy as np

from keras_vae._validation import check_choice
from keras_vae._validation import check_float
from keras_vae._validation import check_int
from keras_vae.evaluation import _checks
from keras_vae.evaluation import _estimators
from keras_vae.evaluation import _gbt
from keras_vae.evaluation import _sampling
from keras_vae.evaluation.mig import DISENTANGLEMENT_LIB

VARIANTS = ("disentanglement_lib", "boosted_stumps")


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
    number of codes), and `C = sum_j w_j C_j` with the factor weights
    `w_j = sum_i R_ij / sum_ij R_ij` as in disentanglement_lib (the mean
    when every factor's importances sum to the same value, as normalized
    importances do). Codes (rows) or factors (columns) with zero total
    importance score 0; with a single factor (code) the entropies are 0,
    so `D_i` (`C_j`) is 1.

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
    scale = total if total > 0 else 1.0
    return {
        "disentanglement": float(np.sum(row / scale * per_code)),
        "completeness": float(np.sum(col / scale * per_factor)),
        "disentanglement_per_code": per_code,
        "completeness_per_factor": per_factor,
    }


def _r_squared(targets, predictions):
    """Per-column `max(0, 1 - MSE)` for targets standardized on train."""
    mse = np.mean((targets - predictions) ** 2, axis=0)
    return np.clip(1.0 - mse, 0.0, 1.0)


def _gbt_importance(codes, factors, test_codes, test_factors, settings):
    """disentanglement_lib's `compute_importance_gbt` on scored factors."""
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    train_acc, test_acc = [], []
    for j in range(factors.shape[1]):
        classes, y = np.unique(factors[:, j], return_inverse=True)
        model = _gbt.fit_gbt_classifier(codes, y, **settings)
        importance[:, j] = model["importance"]
        train_acc.append(np.mean(
            _gbt.predict_gbt_classifier(model, codes) == y))
        test_pred = classes[_gbt.predict_gbt_classifier(model, test_codes)]
        test_acc.append(np.mean(test_pred == test_factors[:, j]))
    return importance, np.asarray(train_acc), np.asarray(test_acc)


def _stumps_importance(codes, factors, test_codes, test_factors,
                       num_rounds, learning_rate, num_bins):
    """The `"boosted_stumps"` regressor: importances, train/test 1 - NMSE."""
    targets = factors.astype(np.float64)
    mean, std = targets.mean(axis=0), targets.std(axis=0)
    train_y = (targets - mean) / std
    test_y = (test_factors - mean) / std
    model = _estimators.fit_boosted_stumps(
        codes, train_y, num_rounds, learning_rate, num_bins
    )
    gains = model["importance"]
    sums = gains.sum(axis=0)
    importance = gains / np.where(sums > 0, sums, 1.0)
    train = _r_squared(train_y,
                       _estimators.predict_boosted_stumps(model, codes))
    test = _r_squared(test_y,
                      _estimators.predict_boosted_stumps(model, test_codes))
    return importance, train, test


def dci_from_codes(codes, factors, test_codes=None, test_factors=None,
                   exclude_factors=(), num_rounds=None, learning_rate=0.1,
                   num_bins=32, variant="disentanglement_lib"):
    """DCI scores (Eastwood & Williams, 2018) from precomputed codes.

    `variant="disentanglement_lib"` (default): for each factor, a
    gradient-boosted classifier predicts the factor class from all codes,
    with exactly the model of scikit-learn's `GradientBoostingClassifier()`
    defaults that disentanglement_lib fits (`num_rounds=100` stages of
    depth-3 trees, learning rate 0.1; see `_gbt`, which reproduces its
    trees: the same splits, leaf values and predictions). The importance
    `R_ij` of code `i` for factor `j` is the classifier's impurity-based
    importance (scikit-learn's `feature_importances_`, summing to 1 per
    factor); informativeness is the classifier's accuracy, on the training
    and on the test data, averaged over factors. scikit-learn breaks exact
    ties between features at random (disentanglement_lib does not seed
    it), so its importances vary slightly from run to run where codes tie;
    here the lowest code index wins.

    `variant="boosted_stumps"`: this library's deterministic,
    version-independent estimator. One least-squares gradient boosting of
    decision stumps per factor on quantile-binned codes
    (`_estimators.fit_boosted_stumps`, `num_rounds=200`, `num_bins`
    quantile bins) regresses the standardized factor; a split is only made
    when its gain passes a Bonferroni-corrected significance test at level
    0.01, so codes without signal collect no importance (a pure-noise
    representation scores D = C = 0), and any increasing transform of a
    code leaves every score unchanged. Importance is the squared-error
    reduction of the splits on a code, normalized per factor;
    informativeness is `1 - NMSE`, `max(0, 1 - MSE_j / Var_train(z_j))`
    averaged over factors. Its numbers are not comparable with published
    DCI tables.

    D and C follow `dci_from_importance` in both variants.

    Args:
        codes: float array `(num_train, num_latents)`.
        factors: int array `(num_train, num_factors)` of factor classes.
        test_codes, test_factors: optional held-out pair for
            `informativeness_test`; both None reuse the training data.
        exclude_factors: indices of factor columns to leave out.
        num_rounds: int >= 1, boosting stages (None: 100, or 200 for
            `"boosted_stumps"`).
        learning_rate: float in (0, 1], shrinkage.
        num_bins: int >= 2, quantile bins per code (`"boosted_stumps"`).
        variant: `"disentanglement_lib"` or `"boosted_stumps"`.

    Returns:
        A dict with floats `"disentanglement"`, `"completeness"`,
        `"informativeness_train"`, `"informativeness_test"`, arrays
        `"importance_matrix"` `(num_latents, num_factors)` (0 for skipped
        factors), `"disentanglement_per_code"`, `"completeness_per_factor"`
        (NaN for skipped factors), `"informativeness_test_per_factor"`,
        and `"protocol"`.
    """
    variant = check_choice("variant", variant, VARIANTS)
    if num_rounds is None:
        num_rounds = 100 if variant == "disentanglement_lib" else 200
    num_rounds = check_int("num_rounds", num_rounds, minimum=1)
    learning_rate = check_float("learning_rate", learning_rate, minimum=0,
                                exclusive_minimum=True)
    if learning_rate > 1:
        raise ValueError(
            "Argument `learning_rate` must be in (0, 1]. "
            f"Received: learning_rate={learning_rate}"
        )
    num_bins = check_int("num_bins", num_bins, minimum=2)
    codes, factors, scored = _checks.check_codes_and_factors(
        codes, factors, exclude_factors
    )
    test_codes, test_factors = _checks.check_test_pair(
        "test_codes", test_codes, "test_factors", test_factors, codes, factors
    )
    if variant == "disentanglement_lib":
        gains, train, test = _gbt_importance(
            codes, factors[:, scored], test_codes, test_factors[:, scored],
            dict(num_stages=num_rounds, learning_rate=learning_rate))
        protocol = _checks.protocol(
            "disentanglement_lib", "gradient_boosted_trees",
            DISENTANGLEMENT_LIB, num_train=int(codes.shape[0]),
            num_test=int(test_codes.shape[0]), num_rounds=num_rounds,
            learning_rate=learning_rate, max_depth=3,
            informativeness="accuracy",
        )
    else:
        gains, train, test = _stumps_importance(
            codes, factors[:, scored], test_codes, test_factors[:, scored],
            num_rounds, learning_rate, num_bins)
        protocol = _checks.protocol(
            "keras_vae", "boosted_stumps",
            "none (this library's deterministic estimator)",
            num_train=int(codes.shape[0]), num_test=int(test_codes.shape[0]),
            num_rounds=num_rounds, learning_rate=learning_rate,
            num_bins=num_bins, informativeness="1 - NMSE",
        )
    importance = np.zeros((codes.shape[1], factors.shape[1]))
    importance[:, scored] = gains
    scores = dci_from_importance(gains)
    return {
        "disentanglement": scores["disentanglement"],
        "completeness": scores["completeness"],
        "informativeness_train": float(np.mean(train)),
        "informativeness_test": float(np.mean(test)),
        "importance_matrix": importance,
        "disentanglement_per_code": scores["disentanglement_per_code"],
        "completeness_per_factor": _checks.per_factor(
            scores["completeness_per_factor"], scored
        ),
        "informativeness_test_per_factor": _checks.per_factor(test, scored),
        "protocol": protocol,
    }


def compute_dci(ground_truth_data, representation_function, random_state,
                num_train=10000, num_test=5000, batch_size=16,
                exclude_factors=(), num_rounds=None, learning_rate=0.1,
                num_bins=32, variant="disentanglement_lib"):
    """DCI disentanglement, completeness, informativeness of a representation.

    disentanglement_lib's protocol: `num_train` training and `num_test`
    test points (in that order, `dci.gin`: 10,000 and 5,000) scored with
    `dci_from_codes` (see there for the variants).

    Args:
        ground_truth_data: a GroundTruthData dataset.
        representation_function: callable, observations -> codes `(n, d)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        num_train: int >= 2, number of training points.
        num_test: int >= 1, number of test points.
        batch_size: int >= 1, observations per `representation_function`
            call.
        exclude_factors: indices of factors to leave out.
        num_rounds, learning_rate, num_bins, variant: see `dci_from_codes`.

    Returns:
        The dict of `dci_from_codes`, its `"protocol"` with the seed.
    """
    score = functools.partial(dci_from_codes, num_rounds=num_rounds,
                              learning_rate=learning_rate, num_bins=num_bins,
                              variant=variant)
    return _sampling.score_train_test(
        score, ground_truth_data, representation_function, random_state,
        num_train, num_test, batch_size, exclude_factors)
