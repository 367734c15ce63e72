"""Tests of the separability probes (k-NN, logistic) and silhouette."""

import re

import numpy as np
import pytest

from keras_vae import evaluation


def clusters(per_class=60, num_classes=4, dim=6, spread=1.0, seed=0):
    rng = np.random.RandomState(seed)
    centers = rng.normal(size=(num_classes, dim)) * 6.0
    labels = np.repeat(np.arange(num_classes), per_class)
    codes = centers[labels] + spread * rng.normal(size=(len(labels), dim))
    return codes, labels


def test_separated_classes_score_high():
    codes, labels = clusters()
    scores = evaluation.separability_scores(codes, labels)
    assert scores["knn_accuracy"] > 0.97
    assert scores["logistic_accuracy"] > 0.97
    assert scores["silhouette"] > 0.5
    assert scores["knn_accuracy"] == evaluation.knn_accuracy(codes, labels)
    assert scores["logistic_accuracy"] == evaluation.logistic_accuracy(
        codes, labels)
    assert scores["silhouette"] == evaluation.silhouette(codes, labels)


def test_random_labels_score_at_chance():
    codes, _ = clusters(per_class=150)
    labels = np.random.RandomState(1).randint(0, 4, len(codes))
    assert abs(evaluation.knn_accuracy(codes, labels) - 0.25) < 0.12
    assert abs(evaluation.logistic_accuracy(codes, labels) - 0.25) < 0.12
    assert abs(evaluation.silhouette(codes, labels)) < 0.05


def test_permuted_rescaled_codes_score_the_same():
    codes, labels = clusters(spread=4.0)  # overlapping: accuracy < 1
    moved = codes[:, ::-1] * np.array([1e3, 2.0, 0.5, 7.0, 1e-2, 3.0]) + 5.0
    for fn in (evaluation.knn_accuracy, evaluation.logistic_accuracy):
        assert fn(moved, labels) == pytest.approx(fn(codes, labels))


def test_given_test_set_and_determinism():
    codes, labels = clusters(seed=0)
    test_codes, test_labels = clusters(seed=0, per_class=20)
    assert evaluation.knn_accuracy(codes, labels, test_codes, test_labels,
                                   k=3) > 0.97
    noisy, _ = clusters(spread=4.0)
    first = evaluation.knn_accuracy(noisy, labels, seed=3)
    assert evaluation.knn_accuracy(noisy, labels, seed=3) == first
    assert evaluation.silhouette(noisy, labels, sample_size=50, seed=2) == (
        evaluation.silhouette(noisy, labels, sample_size=50, seed=2))


def test_digit_pixels_are_separable(digits):
    images, labels = digits
    codes = images.reshape(len(images), -1)[:600]
    accuracy = evaluation.knn_accuracy(codes, labels[:600], standardize=False)
    assert accuracy > 0.9


def test_bad_inputs():
    codes, labels = np.zeros((10, 3)), np.arange(10) % 2
    with pytest.raises(ValueError, match=re.escape(
            "Received: codes.shape=(10, 3), labels.shape=(9,)")):
        evaluation.knn_accuracy(codes, labels[:9])
    with pytest.raises(ValueError, match=re.escape(
            "`labels` must be a 1D array of shape (num_samples,). "
            "Received: labels.shape=(10, 1)")):
        evaluation.logistic_accuracy(codes, labels[:, None])
    with pytest.raises(ValueError, match=re.escape(
            "`k` must be an integer >= 1. Received: k=0")):
        evaluation.knn_accuracy(codes, labels, k=0)
    with pytest.raises(ValueError, match=re.escape(
            "`k` must be at most the number of training samples (8). "
            "Received: k=9")):
        evaluation.knn_accuracy(codes, labels, k=9)
    bad = codes.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match=re.escape(
            "Received: codes.shape=(10, 3)")):
        evaluation.silhouette(bad, labels)
    with pytest.raises(ValueError, match="at least two classes"):
        evaluation.logistic_accuracy(codes, np.zeros(10))
    with pytest.raises(ValueError, match="Received: 1 classes"):
        evaluation.silhouette(codes, np.zeros(10))
    with pytest.raises(ValueError, match=re.escape(
            "Received: test_fraction=1.0")):
        evaluation.knn_accuracy(codes, labels, test_fraction=1.0)
    with pytest.raises(ValueError, match="given together"):
        evaluation.knn_accuracy(codes, labels, test_codes=codes)
    with pytest.raises(ValueError, match=re.escape(
            "Received: codes.shape=(10, 3), test_codes.shape=(10, 2)")):
        evaluation.knn_accuracy(codes, labels, np.zeros((10, 2)), labels)
