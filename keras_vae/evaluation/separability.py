"""Separability of codes by class labels: probe accuracies and silhouette.

A good representation makes classes easy to tell apart from the codes
(typically the encoder means). The probes are the field's standard
scikit-learn models with fixed hyperparameters and seeds:

* `knn_accuracy`: k-nearest-neighbour classifier (Euclidean) accuracy;
* `logistic_accuracy`: multinomial logistic regression ("linear probe")
  accuracy;
* `silhouette`: mean silhouette coefficient of the labelled clusters
  (Rousseeuw, 1987), a label-aware geometric measure needing no classifier;
* `separability_scores`: all three on one split.

Probe accuracies are measured on held-out data: either the given
`test_codes`/`test_labels` or a seeded, stratified split of `codes`. Probe
features are standardized with the training statistics by default, which
makes the scores invariant to rescaling a code dimension. Note that
standardization also magnifies collapsed (near-constant) dimensions;
pass `standardize=False` or drop such dimensions for VAEs with many of them.
"""

import math

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import silhouette_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from keras_vae._validation import check_float
from keras_vae._validation import check_int
from keras_vae._validation import check_num_columns
from keras_vae._validation import check_num_samples
from keras_vae.evaluation import _checks
from keras_vae.evaluation._estimators import standardize as _standardize


def _check_codes_and_labels(codes, labels, codes_name="codes",
                            labels_name="labels"):
    codes = _checks.check_codes(codes_name, codes)
    labels = _checks.check_labels(labels_name, labels)
    check_num_samples(**{codes_name: codes, labels_name: labels})
    return codes, labels


def _split(codes, labels, test_codes, test_labels, test_fraction, seed,
           standardize):
    """Validates and returns `(x_train, y_train, x_test, y_test)`.

    Without a test set, `ceil(test_fraction * n)` samples are held out by
    `sklearn.model_selection.train_test_split` with `random_state=seed`,
    stratified by label when every class has at least two samples and both
    parts can hold every class.
    """
    codes, labels = _check_codes_and_labels(codes, labels)
    test_fraction = check_float("test_fraction", test_fraction, minimum=0,
                                exclusive_minimum=True)
    if test_fraction >= 1:
        raise ValueError(
            "Argument `test_fraction` must be in (0, 1). "
            f"Received: test_fraction={test_fraction}"
        )
    seed = check_int("seed", seed, minimum=0)
    if (test_codes is None) != (test_labels is None):
        raise ValueError(
            "Arguments `test_codes` and `test_labels` must be given together "
            "(or both left as None). Received: test_codes is "
            f"{'None' if test_codes is None else 'an array'}, test_labels is "
            f"{'None' if test_labels is None else 'an array'}"
        )
    if test_codes is not None:
        test_codes, test_labels = _check_codes_and_labels(
            test_codes, test_labels, "test_codes", "test_labels"
        )
        check_num_columns(codes=codes, test_codes=test_codes)
        x_train, y_train = codes, labels
        x_test, y_test = test_codes, test_labels
    else:
        n = len(labels)
        num_test = math.ceil(test_fraction * n)
        if n < 2 or num_test >= n:
            raise ValueError(
                "Arguments `codes` and `labels` must hold enough samples to "
                f"hold out test_fraction={test_fraction} of them and keep "
                f"at least one for training. Received: codes.shape="
                f"{codes.shape}"
            )
        classes, counts = np.unique(labels, return_counts=True)
        stratify = (
            counts.min() >= 2
            and num_test >= classes.size
            and n - num_test >= classes.size
        )
        x_train, x_test, y_train, y_test = train_test_split(
            codes, labels, test_size=num_test, random_state=seed,
            stratify=labels if stratify else None,
        )
    if standardize:
        x_test = _standardize(x_test, reference=x_train)
        x_train = _standardize(x_train)
    return x_train, y_train, x_test, y_test


def _knn_score(x_train, y_train, x_test, y_test, k):
    if k > len(x_train):
        raise ValueError(
            "Argument `k` must be at most the number of training samples "
            f"({len(x_train)}). Received: k={k}"
        )
    model = KNeighborsClassifier(n_neighbors=k)
    return float(model.fit(x_train, y_train).score(x_test, y_test))


def _logistic_score(x_train, y_train, x_test, y_test, C, max_iter, seed):
    if np.unique(y_train).size < 2:
        raise ValueError(
            "Argument `labels` must have at least two classes in the "
            "training part to fit a logistic probe. Received: classes="
            f"{np.unique(y_train).tolist()}"
        )
    model = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    return float(model.fit(x_train, y_train).score(x_test, y_test))


def knn_accuracy(codes, labels, test_codes=None, test_labels=None, k=5,
                 test_fraction=0.2, seed=0, standardize=True):
    """Test accuracy of a k-nearest-neighbour probe on the codes.

    `sklearn.neighbors.KNeighborsClassifier(n_neighbors=k)` (uniform votes,
    Euclidean distance; Cover & Hart, 1967) fitted on the training codes.

    Args:
        codes: float array `(num_samples, num_latents)`, e.g. encoder means.
        labels: array `(num_samples,)` of class labels.
        test_codes, test_labels: optional held-out pair; if None, a seeded
            split of `codes` is held out (see `test_fraction`).
        k: int >= 1, number of neighbours.
        test_fraction: float in (0, 1), held-out fraction without a test set.
        seed: int >= 0, seed of the split.
        standardize: bool, scale features with the training statistics.

    Returns:
        The accuracy, a float in [0, 1].
    """
    k = check_int("k", k, minimum=1)
    split = _split(codes, labels, test_codes, test_labels, test_fraction,
                   seed, standardize)
    return _knn_score(*split, k)


def logistic_accuracy(codes, labels, test_codes=None, test_labels=None,
                      test_fraction=0.2, seed=0, standardize=True, C=1.0,
                      max_iter=1000):
    """Test accuracy of a multinomial logistic-regression (linear) probe.

    `sklearn.linear_model.LogisticRegression(C=C, max_iter=max_iter)`
    (L2-penalized softmax regression, lbfgs solver) fitted on the training
    codes.

    Args:
        codes: float array `(num_samples, num_latents)`.
        labels: array `(num_samples,)` of class labels.
        test_codes, test_labels: optional held-out pair.
        test_fraction: float in (0, 1), held-out fraction without a test set.
        seed: int >= 0, seed of the split and the solver.
        standardize: bool, scale features with the training statistics.
        C: float > 0, inverse L2 regularization strength.
        max_iter: int >= 1, solver iterations.

    Returns:
        The accuracy, a float in [0, 1].
    """
    C = check_float("C", C, minimum=0, exclusive_minimum=True)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    split = _split(codes, labels, test_codes, test_labels, test_fraction,
                   seed, standardize)
    return _logistic_score(*split, C, max_iter, seed)


def silhouette(codes, labels, sample_size=10000, seed=0, standardize=False):
    """Mean silhouette coefficient of the classes in code space.

    Rousseeuw (1987): for sample `i` with mean distance `a(i)` to its own
    class and `b(i)` to the nearest other class,
    `s(i) = (b(i) - a(i)) / max(a(i), b(i))`; the score is the mean of
    `s(i)` (`sklearn.metrics.silhouette_score`, Euclidean). 1 means compact,
    well separated classes, 0 overlapping ones. The cost is quadratic, so
    at most `sample_size` samples (a seeded random subset) are used.

    Args:
        codes: float array `(num_samples, num_latents)`.
        labels: array `(num_samples,)` with 2 to `num_samples - 1` classes.
        sample_size: int >= 2, maximum number of samples used.
        seed: int >= 0, seed of the subset.
        standardize: bool, scale each dimension to unit variance first
            (default False: the geometry of the code space as is).

    Returns:
        The silhouette score, a float in [-1, 1].
    """
    codes, labels = _check_codes_and_labels(codes, labels)
    sample_size = check_int("sample_size", sample_size, minimum=2)
    seed = check_int("seed", seed, minimum=0)
    num_classes = np.unique(labels).size
    if not 2 <= num_classes <= len(labels) - 1:
        raise ValueError(
            "Argument `labels` must have between 2 and num_samples - 1 "
            f"({len(labels) - 1}) distinct classes for a silhouette score. "
            f"Received: {num_classes} classes in labels.shape={labels.shape}"
        )
    if standardize:
        codes = _standardize(codes)
    return float(
        silhouette_score(
            codes, labels,
            sample_size=sample_size if len(labels) > sample_size else None,
            random_state=seed,
        )
    )


def separability_scores(codes, labels, test_codes=None, test_labels=None,
                        k=5, test_fraction=0.2, seed=0, standardize=True):
    """k-NN and logistic probe accuracies (one shared split) and silhouette.

    Args:
        codes, labels, test_codes, test_labels, test_fraction, seed,
        standardize: as in `knn_accuracy`.
        k: int >= 1, neighbours of the k-NN probe.

    Returns:
        A dict with `"knn_accuracy"`, `"logistic_accuracy"` and
        `"silhouette"` (on `codes`, not standardized).
    """
    k = check_int("k", k, minimum=1)
    split = _split(codes, labels, test_codes, test_labels, test_fraction,
                   seed, standardize)
    return {
        "knn_accuracy": _knn_score(*split, k),
        "logistic_accuracy": _logistic_score(*split, 1.0, 1000, seed),
        "silhouette": silhouette(codes, labels, seed=seed),
    }
