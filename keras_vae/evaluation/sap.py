"""SAP score: Separated Attribute Predictability (Kumar et al., 2018).

The default reproduces disentanglement_lib (Locatello et al., 2019;
`sap_score.gin` of unsupervised_study_v1: 10,000 training and 5,000 test
points, discrete factors): the score of code `i` for factor `j` is the
test accuracy of scikit-learn's `LinearSVC(C=0.01,
class_weight="balanced")` fitted on code `i` alone (here its exact
solution, `_svm`). The variant `"threshold"` is this library's
chance-corrected histogram classifier.
"""

import functools

import numpy as np

from keras_vae._validation import check_choice
from keras_vae._validation import check_int
from keras_vae.evaluation import _checks
from keras_vae.evaluation import _info
from keras_vae.evaluation import _sampling
from keras_vae.evaluation import _svm
from keras_vae.evaluation.mig import DISENTANGLEMENT_LIB

VARIANTS = ("disentanglement_lib", "threshold")


def _svm_scores(codes, factors, test_codes, test_factors):
    """`(d, k)` test accuracies of 1-D balanced linear SVMs (C = 0.01)."""
    scores = np.zeros((codes.shape[1], factors.shape[1]))
    encoded = [np.unique(factors[:, j], return_inverse=True)
               for j in range(factors.shape[1])]
    for i in range(codes.shape[1]):
        fits = _svm.fit_linear_svc_1d(codes[:, i], [y for _, y in encoded])
        for j, ((classes, _), (w, b)) in enumerate(zip(encoded, fits)):
            predicted = classes[_svm.predict_linear_svc_1d(w, b,
                                                           test_codes[:, i])]
            scores[i, j] = np.mean(predicted == test_factors[:, j])
    return scores


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
    """`(d, k)` squared Pearson correlations; 0 for (near-)constant codes.

    disentanglement_lib's continuous-factor score: `Cov(z, v)^2 /
    (Var(z) Var(v))`, 0 where `Var(z) <= 1e-12` (sample variances).
    """
    x = codes - codes.mean(axis=0)
    y = targets - targets.mean(axis=0)
    n = max(codes.shape[0] - 1, 1)
    cov = x.T @ y / n
    var_x = (x**2).sum(axis=0) / n
    var_y = (y**2).sum(axis=0) / n
    scale = np.outer(var_x, var_y)
    keep = (var_x > 1e-12)[:, None] & (scale > 0)
    return np.where(keep, cov**2 / np.where(keep, scale, 1.0), 0.0)


def sap_from_codes(codes, factors, test_codes=None, test_factors=None,
                   continuous_factors=False, num_bins=20, exclude_factors=(),
                   adjusted=True, variant="disentanglement_lib"):
    """Separated Attribute Predictability (Kumar et al., 2018).

    Kumar et al. (2018), "SAP score": build a score matrix
    `S (num_latents, num_factors)` where `S_ij` measures how well factor `j`
    is predicted from code dimension `i` alone; SAP is the mean over
    factors of the difference between the two largest entries of each
    column (0 for the second with a single code). Entries:

    * `continuous_factors=True`: the R^2 of the best line, the squared
      Pearson correlation of code and factor on the training data, 0 for a
      code with variance <= 1e-12 (disentanglement_lib's rule).
    * `variant="disentanglement_lib"` (default): the plain test accuracy of
      scikit-learn's `LinearSVC(C=0.01, class_weight="balanced")` (one-vs-
      rest for more than two classes) fitted to the training pair, solved
      exactly by `_svm.fit_linear_svc_1d`. Chance level is that of the
      classifier (a middle class of an ordered factor is rarely predicted:
      a 1-D linear one-vs-rest SVM cannot isolate it), so perfect codes do
      not reach 1.
    * `variant="threshold"`: this library's histogram classifier, the
      training-error minimizing classifier with thresholds on the edges of
      `num_bins` equal-width bins of the training codes (each bin predicts
      its most frequent class), scored by balanced test accuracy,
      chance-corrected with `adjusted=True` to `(b - 1/K) / (1 - 1/K)`
      (clipped at 0) so that perfect codes score 1 and uninformative ones
      0. Not comparable with published SAP numbers.

    Args:
        codes: float array `(num_train, num_latents)`.
        factors: int array `(num_train, num_factors)` of factor classes.
        test_codes, test_factors: optional held-out pair for the
            classifiers' accuracies; both None reuse the training data.
        continuous_factors: bool, see above.
        num_bins: int >= 2, classifier bins per code (`"threshold"`).
        exclude_factors: indices of factor columns to leave out.
        adjusted: bool, chance-correct the balanced accuracies
            (`"threshold"`).
        variant: `"disentanglement_lib"` or `"threshold"`.

    Returns:
        A dict with `"sap"` (float), `"sap_per_factor"` (NaN for skipped
        factors), `"score_matrix"` `(num_latents, num_factors)` (NaN
        columns for skipped factors) and `"protocol"`.
    """
    variant = check_choice("variant", variant, VARIANTS)
    num_bins = check_int("num_bins", num_bins, minimum=2)
    codes, factors, scored = _checks.check_codes_and_factors(
        codes, factors, exclude_factors
    )
    test_codes, test_factors = _checks.check_test_pair(
        "test_codes", test_codes, "test_factors", test_factors, codes, factors
    )
    sizes = dict(num_train=int(codes.shape[0]),
                 num_test=int(test_codes.shape[0]),
                 continuous_factors=bool(continuous_factors))
    if continuous_factors:
        scores = _squared_correlations(
            codes, factors[:, scored].astype(np.float64))
        estimator = "squared_correlation"
    elif variant == "disentanglement_lib":
        scores = _svm_scores(codes, factors[:, scored], test_codes,
                             test_factors[:, scored])
        estimator = "linear_svc"
    else:
        labels, _ = _info.encode_labels(
            np.concatenate([factors[:, scored], test_factors[:, scored]])
        )
        scores = _threshold_classifier_scores(
            codes, labels[: len(codes)], test_codes, labels[len(codes):],
            num_bins, adjusted,
        )
        estimator = "threshold"
        sizes.update(num_bins=num_bins, adjusted=bool(adjusted))
    if variant == "disentanglement_lib":
        protocol = _checks.protocol("disentanglement_lib", estimator,
                                    DISENTANGLEMENT_LIB, **sizes)
    else:
        protocol = _checks.protocol(
            "keras_vae", estimator,
            "none (this library's chance-corrected classifier)", **sizes)
    score_matrix = np.full((codes.shape[1], factors.shape[1]), np.nan)
    score_matrix[:, scored] = scores
    return _checks.gap_score("sap", "score_matrix", score_matrix, scored, protocol)


def compute_sap(ground_truth_data, representation_function, random_state,
                num_train=10000, num_test=5000, batch_size=16,
                continuous_factors=False, num_bins=20, exclude_factors=(),
                adjusted=True, variant="disentanglement_lib"):
    """SAP score (Kumar et al., 2018) of a representation.

    disentanglement_lib's protocol: `num_train` training and `num_test`
    test points (10,000 and 5,000 in `sap_score.gin`) scored with
    `sap_from_codes` (see there for the variants).

    Args:
        ground_truth_data, representation_function, random_state,
            num_train, num_test, batch_size: the dataset, encoder, seed and
            sample sizes, as in `compute_dci`.
        continuous_factors, num_bins, exclude_factors, adjusted, variant:
            see `sap_from_codes`.

    Returns:
        The dict of `sap_from_codes`, its `"protocol"` with the seed.
    """
    score = functools.partial(sap_from_codes, continuous_factors=continuous_factors,
                              num_bins=num_bins, adjusted=adjusted, variant=variant)
    return _sampling.score_train_test(
        score, ground_truth_data, representation_function, random_state,
        num_train, num_test, batch_size, exclude_factors)
