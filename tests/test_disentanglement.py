"""Tests of the disentanglement metrics and their numpy building blocks."""

import itertools
import math
import os
import re
import warnings
from statistics import NormalDist

import numpy as np
import pytest

from keras_vae import evaluation
from keras_vae.evaluation import _estimators
from keras_vae.evaluation import _gbt
from keras_vae.evaluation import _info
from keras_vae.evaluation import _svm

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

NUM_VALUES = (4, 5, 6, 3, 8)
PERM = np.array([2, 0, 4, 1, 3])
SCALES = np.array([2.0, 3.5, 1.5, 7.0, 1.25])  # >= 1: no FactorVAE pruning


class ToyData:
    """A tiny GroundTruthData: the observation is the factor vector itself.

    Observations have shape (1, 1, num_factors) so that any representation
    function can be written as a function of the factors.
    """

    def __init__(self, factors_num_values=NUM_VALUES):
        self.factors_num_values = list(factors_num_values)
        self.num_factors = len(factors_num_values)
        self.observation_shape = (1, 1, self.num_factors)

    def sample_factors(self, num, random_state):
        draw = getattr(random_state, "integers", None) or random_state.randint
        return np.stack(
            [draw(0, v, size=num) for v in self.factors_num_values], axis=1
        )

    def sample_observations_from_factors(self, factors, random_state):
        return np.asarray(factors, np.float32).reshape(
            len(factors), 1, 1, self.num_factors
        )


def identity(observations):
    return observations.reshape(len(observations), -1)


def permuted_rescaled(observations):
    return identity(observations)[:, PERM] * SCALES - 3.0


def constant(observations):
    return np.zeros((len(observations), len(NUM_VALUES)))


def duplicated(observations):
    codes = identity(observations)
    return np.concatenate([codes, codes[:, :1]], axis=1)


def make_noise(seed=0):
    rng = np.random.RandomState(seed)
    return lambda observations: rng.normal(size=(len(observations), 5))


def sample(num, seed):
    rng = np.random.RandomState(seed)
    factors = ToyData().sample_factors(num, rng)
    return factors.astype(np.float64), factors


@pytest.fixture(scope="module")
def data():
    train_codes, train_factors = sample(3000, 0)
    test_codes, test_factors = sample(1500, 1)
    return train_codes, train_factors, test_codes, test_factors


@pytest.fixture(scope="module")
def small():
    """Fewer points for the gradient-boosted trees of DCI."""
    train_codes, train_factors = sample(400, 2)
    test_codes, test_factors = sample(200, 3)
    return train_codes, train_factors, test_codes, test_factors


@pytest.fixture(scope="module")
def mixed():
    """Continuous codes: a noisy mixing of 3 factors plus 2 nuisance codes."""
    rng = np.random.RandomState(11)
    num_values = (3, 4, 6)

    def draw(num):
        factors = np.stack([rng.randint(0, v, num) for v in num_values], 1)
        mixing = np.random.RandomState(0).normal(size=(3, 5))
        mixing[:, :3] += 2 * np.eye(3)
        return factors @ mixing + 0.7 * rng.normal(size=(num, 5)), factors

    return (*draw(300), *draw(200))


@pytest.fixture(scope="module")
def real():
    """Posterior means of beta_tcvae_dsprites (see data/make_*.py)."""
    stored = np.load(os.path.join(DATA_DIR, "beta_tcvae_dsprites_codes.npz"))
    return stored["codes"].astype(np.float64), stored["factors"].astype(int)


# ---------------------------------------------------------------- _info


def reference_entropy(column):
    counts = {}
    for value in column:
        counts[value] = counts.get(value, 0) + 1
    n = len(column)
    return -sum(c / n * math.log(c / n) for c in counts.values())


def reference_mutual_info(x, y):
    n = len(x)
    joint, px, py = {}, {}, {}
    for a, b in zip(x, y):
        joint[a, b] = joint.get((a, b), 0) + 1
        px[a] = px.get(a, 0) + 1
        py[b] = py.get(b, 0) + 1
    return sum(c / n * math.log(c * n / (px[a] * py[b]))
               for (a, b), c in joint.items())


def reference_discretize(column, num_bins):
    edges = np.histogram(column, num_bins)[1]
    return np.digitize(column, edges[:-1]) - 1


def test_entropy_of_uniform_is_log_k():
    labels = np.repeat(np.arange(8), 25)[:, None]
    np.testing.assert_allclose(_info.discrete_entropy(labels), [math.log(8)])
    assert _info.discrete_entropy(np.zeros((10, 1), int))[0] == 0.0


def test_mutual_info_closed_forms():
    grid = np.array(list(itertools.product(range(4), range(5))) * 3)
    mi = _info.discrete_mutual_info(grid[:, :1], grid[:, 1:])
    np.testing.assert_allclose(mi, 0.0, atol=1e-12)  # exactly independent
    rng = np.random.RandomState(0)
    x = rng.randint(0, 6, size=(500, 3))
    mi_xx = _info.discrete_mutual_info(x, x)
    np.testing.assert_allclose(np.diag(mi_xx), _info.discrete_entropy(x))
    np.testing.assert_allclose(mi_xx, mi_xx.T)
    independent = _info.discrete_mutual_info(
        rng.randint(0, 3, (20000, 1)), rng.randint(0, 3, (20000, 1))
    )
    assert independent[0, 0] < 1e-3


def test_entropy_and_mutual_info_match_loop_reference():
    rng = np.random.RandomState(1)
    a = rng.choice([-3, 7, 100, 5], size=(300, 3))
    b = rng.randint(0, 9, size=(300, 2)) + a[:, :1] % 2  # dependent
    np.testing.assert_allclose(
        _info.discrete_entropy(a),
        [reference_entropy(a[:, j]) for j in range(3)],
    )
    expected = [[reference_mutual_info(a[:, i], b[:, j]) for j in range(2)]
                for i in range(3)]
    np.testing.assert_allclose(_info.discrete_mutual_info(a, b), expected)


def test_contingency_chunks_agree(monkeypatch):
    rng = np.random.RandomState(2)
    a, b = rng.randint(0, 4, (200, 7)), rng.randint(0, 3, (200, 2))
    full = _info.contingency_tables(a, b)
    monkeypatch.setattr(_info, "_MAX_JOINT_ENTRIES", 500)
    np.testing.assert_array_equal(_info.contingency_tables(a, b), full)
    assert full.sum() == 200 * 7 * 2


def test_discretize_matches_numpy_histogram():
    rng = np.random.RandomState(3)
    x = np.concatenate(
        [rng.normal(size=(500, 2)), rng.randint(0, 7, (500, 1)) * 0.1,
         np.full((500, 1), 2.5)],
        axis=1,
    )
    for num_bins in (2, 7, 20):
        binned = _info.discretize(x, num_bins)
        for j in range(x.shape[1]):
            np.testing.assert_array_equal(
                binned[:, j], reference_discretize(x[:, j], num_bins)
            )
    outside = _info.discretize(np.array([[-1e9], [1e9]]), 20,
                               reference=x[:, :1])
    np.testing.assert_array_equal(outside[:, 0], [0, 19])


# ------------------------------------------------------------------ MIG


def reference_mig(codes, factors, num_bins):
    gaps = []
    for k in range(factors.shape[1]):
        mis = sorted(
            (reference_mutual_info(
                reference_discretize(codes[:, j], num_bins), factors[:, k])
             for j in range(codes.shape[1])),
            reverse=True,
        )
        gaps.append((mis[0] - mis[1]) / reference_entropy(factors[:, k]))
    return np.mean(gaps)


def test_mig_matches_loop_reference():
    rng = np.random.RandomState(4)
    factors = rng.randint(0, 5, (400, 3))
    codes = factors @ rng.normal(size=(3, 4)) + rng.normal(size=(400, 4))
    np.testing.assert_allclose(
        evaluation.mig_from_codes(codes, factors, num_bins=10)["mig"],
        reference_mig(codes, factors, 10),
    )


def test_mig_identity_noise_constant(data):
    codes, factors = data[:2]
    assert evaluation.mig_from_codes(codes, factors)["mig"] > 0.97
    noise = np.random.RandomState(0).normal(size=codes.shape)
    assert evaluation.mig_from_codes(noise, factors)["mig"] < 0.03
    const = evaluation.mig_from_codes(np.zeros_like(codes), factors)
    assert const["mig"] == 0.0


def test_mig_duplicate_lowers_and_permutation_keeps(data):
    codes, factors = data[:2]
    base = evaluation.mig_from_codes(codes, factors)
    dup = evaluation.mig_from_codes(
        np.concatenate([codes, codes[:, :1]], axis=1), factors
    )
    assert dup["mig_per_factor"][0] == pytest.approx(0.0, abs=1e-12)
    assert dup["mig"] < base["mig"] - 0.15
    perm = evaluation.mig_from_codes(codes[:, PERM] * SCALES - 3.0, factors)
    assert perm["mig"] == pytest.approx(base["mig"], abs=1e-12)
    np.testing.assert_allclose(perm["mutual_info"], base["mutual_info"][PERM])


def test_mig_variants_and_exclusion():
    grid = np.array(list(itertools.product(*map(range, (3, 4, 5)))) * 2)
    codes = grid + 0.1 * np.random.RandomState(5).normal(size=grid.shape)
    lib = evaluation.mig_from_codes(codes, grid)
    assert lib["protocol"]["name"] == "disentanglement_lib"
    assert lib["protocol"]["num_train"] == len(grid)
    with pytest.raises(ValueError, match="mig_chen2018_from_posteriors"):
        evaluation.mig_from_codes(codes, grid, variant="chen2018")
    excluded = evaluation.mig_from_codes(codes, grid, exclude_factors=[0])
    assert np.isnan(excluded["mig_per_factor"][0])
    assert excluded["mig"] == pytest.approx(
        np.mean(lib["mig_per_factor"][1:])
    )


def test_constant_factor_warns_and_is_skipped(data):
    codes, factors = data[:2]
    with_constant = np.concatenate([factors, np.ones((len(factors), 1))], 1)
    with pytest.warns(UserWarning, match=r"Factors \[5\] of `factors`"):
        result = evaluation.mig_from_codes(codes, with_constant)
    assert np.isnan(result["mig_per_factor"][5])
    assert result["mig"] == pytest.approx(
        evaluation.mig_from_codes(codes, factors)["mig"]
    )
    with warnings.catch_warnings():  # explicitly excluded: no warning
        warnings.simplefilter("error")
        evaluation.mig_from_codes(codes, with_constant, exclude_factors=[5])
    with pytest.raises(ValueError, match="at least one .*factor"):
        evaluation.mig_from_codes(codes, np.ones((len(codes), 2)))


# ------------------------------------------------------------------ DCI


def test_dci_from_importance_closed_forms():
    ideal = evaluation.dci_from_importance(np.eye(4))
    assert ideal["disentanglement"] == pytest.approx(1.0)
    assert ideal["completeness"] == pytest.approx(1.0)
    flat = evaluation.dci_from_importance(np.ones((4, 3)))
    assert flat["disentanglement"] == pytest.approx(0.0, abs=1e-12)
    assert flat["completeness"] == pytest.approx(0.0, abs=1e-12)
    # One code split evenly over 2 of 2 factors, the other code for factor 0.
    scores = evaluation.dci_from_importance(np.array([[0.5, 0.5], [1.0, 0]]))
    assert scores["disentanglement"] == pytest.approx(0.5)  # rho=(1/2, 1/2)
    c0 = 1 + (1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3)) / math.log(2)
    # Factor weights are the column sums (1.5, 0.5) / 2, disentanglement_lib.
    assert scores["completeness"] == pytest.approx(0.75 * c0 + 0.25 * 1.0)
    zero = evaluation.dci_from_importance(np.zeros((3, 2)))
    assert zero["disentanglement"] == zero["completeness"] == 0.0


def sklearn_dci(codes, factors, test_codes, test_factors, seed=0):
    """disentanglement_lib's `compute_importance_gbt` and D, C formulas."""
    from scipy.stats import entropy
    from sklearn.ensemble import GradientBoostingClassifier

    importance = np.zeros((codes.shape[1], factors.shape[1]))
    train, test = [], []
    for j in range(factors.shape[1]):
        model = GradientBoostingClassifier(random_state=seed)
        model.fit(codes, factors[:, j])
        importance[:, j] = np.abs(model.feature_importances_)
        train.append(np.mean(model.predict(codes) == factors[:, j]))
        test.append(np.mean(model.predict(test_codes) == test_factors[:, j]))
    per_code = 1 - entropy(importance.T + 1e-11, base=importance.shape[1])
    per_factor = 1 - entropy(importance + 1e-11, base=importance.shape[0])
    total = importance.sum()
    return {
        "importance_matrix": importance,
        "disentanglement": np.sum(per_code * importance.sum(1) / total),
        "completeness": np.sum(per_factor * importance.sum(0) / total),
        "informativeness_train": np.mean(train),
        "informativeness_test": np.mean(test),
    }


def assert_dci_matches_sklearn(codes, factors, test_codes, test_factors):
    ours = evaluation.dci_from_codes(codes, factors, test_codes, test_factors)
    ref = sklearn_dci(codes, factors, test_codes, test_factors)
    for key in ("disentanglement", "completeness"):
        assert ours[key] == pytest.approx(ref[key], abs=0.02), key
    for key in ("informativeness_train", "informativeness_test"):
        assert ours[key] == pytest.approx(ref[key], abs=0.01), key
    np.testing.assert_allclose(ours["importance_matrix"],
                               ref["importance_matrix"], atol=0.02)
    return ours


def test_dci_default_equals_sklearn_gradient_boosting(mixed):
    ours = assert_dci_matches_sklearn(*mixed)
    assert ours["protocol"]["name"] == "disentanglement_lib"
    assert ours["protocol"]["num_train"] == 300
    assert ours["protocol"]["num_test"] == 200


def test_dci_default_equals_sklearn_on_real_codes(real):
    codes, factors = real
    # Shape, scale and x: 3 + 6 + 32 classes, enough for a few seconds.
    keep = [0, 1, 3]
    assert_dci_matches_sklearn(codes[:300], factors[:300, keep],
                               codes[300:450], factors[300:450, keep])


def test_gbt_reproduces_sklearn_trees():
    """Same splits, leaf values and predictions as scikit-learn's trees."""
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.RandomState(12)
    x = rng.normal(size=(300, 4))
    for num_classes in (2, 4):
        y = np.digitize(x[:, 0] + 0.6 * x[:, 1] + 0.5 * rng.normal(size=300),
                        np.linspace(-1, 1, num_classes - 1))
        ref = GradientBoostingClassifier(random_state=0).fit(x, y)
        model = _gbt.fit_gbt_classifier(x, y)
        raw = np.tile(model["init"][:, None], (1, len(x)))
        for features, thresholds, values in model["stages"]:
            slot = _gbt._apply(x.astype(np.float32), features, thresholds, 3)
            raw += 0.1 * np.take_along_axis(values, slot, 1)
        expected = ref.decision_function(x)
        expected = expected[None] if expected.ndim == 1 else expected.T
        if num_classes > 2:  # scikit-learn's raw scores are centered
            raw -= raw.mean(0)
            expected = expected - expected.mean(0)
        np.testing.assert_allclose(raw, expected, atol=1e-10)
        np.testing.assert_array_equal(_gbt.predict_gbt_classifier(model, x),
                                      ref.predict(x))
        np.testing.assert_allclose(model["importance"],
                                   ref.feature_importances_, atol=0.01)


def test_dci_identity_noise_constant(small):
    codes, factors, test_codes, test_factors = small
    ideal = evaluation.dci_from_codes(codes, factors, test_codes, test_factors)
    for key in ("disentanglement", "completeness", "informativeness_train",
                "informativeness_test"):
        assert ideal[key] > 0.97, key
    rng = np.random.RandomState(0)
    noisy = evaluation.dci_from_codes(rng.normal(size=codes.shape), factors,
                                      rng.normal(size=test_codes.shape),
                                      test_factors)
    # Boosted trees fit noise (train accuracy high) but learn nothing.
    chance = np.mean([np.max(np.bincount(f)) / len(f) for f in test_factors.T])
    assert noisy["informativeness_test"] < chance + 0.1
    assert noisy["informativeness_train"] > noisy["informativeness_test"]
    assert noisy["disentanglement"] < 0.3
    const = evaluation.dci_from_codes(np.zeros_like(codes), factors,
                                      np.zeros_like(test_codes), test_factors)
    assert const["disentanglement"] == const["completeness"] == 0.0
    np.testing.assert_array_equal(const["importance_matrix"], 0.0)
    # No split: each factor's prior majority class is predicted.
    majority = [np.argmax(np.bincount(f)) for f in factors.T]
    assert const["informativeness_test"] == pytest.approx(
        np.mean(test_factors == majority))


def test_dci_duplicate_shares_importance_permutation_keeps(small):
    codes, factors = small[:2]
    base = evaluation.dci_from_codes(codes, factors)
    dup = evaluation.dci_from_codes(
        np.concatenate([codes, codes[:, :1]], axis=1), factors
    )
    # Exact ties between the copies go to either at random, as in
    # scikit-learn: the copies share the importance of the original.
    share = dup["importance_matrix"][[0, 5], 0]
    assert share.sum() == pytest.approx(base["importance_matrix"][0, 0],
                                        abs=1e-6)
    assert np.all(share > 0.25 * share.sum())
    assert dup["completeness"] < base["completeness"] - 0.05
    perm = evaluation.dci_from_codes(codes[:, PERM] * SCALES - 3.0, factors)
    np.testing.assert_allclose(perm["importance_matrix"],
                               base["importance_matrix"][PERM], atol=1e-9)
    for key in ("disentanglement", "completeness", "informativeness_train"):
        assert perm[key] == pytest.approx(base[key], abs=1e-9)


def test_dci_boosted_stumps_variant(data):
    codes, factors, test_codes, test_factors = data

    def dci(train, test=None, test_f=None):
        return evaluation.dci_from_codes(train, factors, test, test_f,
                                         variant="boosted_stumps")

    ideal = dci(codes, test_codes, test_factors)
    for key in ("disentanglement", "completeness", "informativeness_train",
                "informativeness_test"):
        assert ideal[key] > 0.97, key
    assert ideal["protocol"]["variant"] == "boosted_stumps"
    assert ideal["protocol"]["num_rounds"] == 200
    noisy = dci(np.random.RandomState(0).normal(size=codes.shape))
    assert noisy["disentanglement"] < 0.05 and noisy["completeness"] < 0.05
    assert noisy["informativeness_train"] < 0.05
    const = dci(np.zeros_like(codes))
    assert const["disentanglement"] == const["completeness"] == 0.0
    dup = dci(np.concatenate([codes, codes[:, :1]], axis=1))
    np.testing.assert_allclose(dup["importance_matrix"][[0, 5], 0], 0.5)
    assert dup["completeness"] < ideal["completeness"] - 0.05
    perm = dci(codes[:, PERM] * SCALES - 3.0)
    base = dci(codes)
    np.testing.assert_allclose(perm["importance_matrix"],
                               base["importance_matrix"][PERM], atol=1e-12)


def naive_boosted_stumps(x, y, num_rounds, learning_rate, num_bins,
                         significance):
    """Reference: recomputes residuals and sums from scratch every round."""
    edges = _estimators.quantile_edges(x, num_bins)
    bins = _estimators.apply_bins(x, edges)
    n, d = x.shape
    prediction = np.tile(y.mean(axis=0), (n, 1))
    importance = np.zeros((d, y.shape[1]))
    for _ in range(num_rounds):
        for j in range(y.shape[1]):
            residual = y[:, j] - prediction[:, j]
            best, candidates = (-np.inf, None, None), 0
            for f in range(d):
                for b in range(num_bins - 1):
                    left = bins[:, f] <= b
                    if left.all() or not left.any():
                        continue
                    candidates += 1
                    gain = (residual[left].sum() ** 2 / left.sum()
                            + residual[~left].sum() ** 2 / (~left).sum()
                            - residual.sum() ** 2 / n)
                    if gain > best[0] + 1e-12:
                        best = (gain, f, b)
            gain, f, b = best
            z = NormalDist().inv_cdf(1 - significance / (2 * candidates))
            if gain <= z**2 * np.mean(residual**2):
                continue
            left = bins[:, f] <= b
            importance[f, j] += gain
            prediction[left, j] += learning_rate * residual[left].mean()
            prediction[~left, j] += learning_rate * residual[~left].mean()
    return prediction, importance


@pytest.mark.parametrize("significance", [0.5, 1e-3])
def test_boosted_stumps_match_naive_reference(significance):
    rng = np.random.RandomState(6)
    x = rng.normal(size=(120, 3))
    y = np.stack([np.sin(2 * x[:, 0]) + 0.1 * x[:, 1], x[:, 2] ** 2,
                  rng.normal(size=120)], 1)
    model = _estimators.fit_boosted_stumps(x, y, 15, 0.3, 6, significance)
    prediction, importance = naive_boosted_stumps(x, y, 15, 0.3, 6,
                                                  significance)
    np.testing.assert_allclose(
        _estimators.predict_boosted_stumps(model, x), prediction, atol=1e-9
    )
    np.testing.assert_allclose(model["importance"], importance, rtol=1e-9,
                               atol=1e-12)
    assert importance[:, 0].sum() > 0
    if significance < 0.01:  # the pure-noise target gets no split at all
        assert importance[:, 2].sum() == 0


# ------------------------------------------------------------------ SAP


def sklearn_sap(codes, factors, test_codes, test_factors):
    """disentanglement_lib's `_compute_score_matrix` (discrete factors)."""
    from sklearn.svm import LinearSVC

    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            model = LinearSVC(C=0.01, class_weight="balanced")
            model.fit(codes[:, i:i + 1], factors[:, j])
            predicted = model.predict(test_codes[:, i:i + 1])
            scores[i, j] = np.mean(predicted == test_factors[:, j])
    ordered = np.sort(scores, axis=0)
    return np.mean(ordered[-1] - ordered[-2]), scores


@pytest.mark.parametrize("source", ["mixed", "real"])
def test_sap_default_equals_sklearn_linear_svc(source, mixed, real):
    if source == "mixed":
        codes, factors, test_codes, test_factors = mixed
    else:
        codes, factors = real
        codes, factors, test_codes, test_factors = (
            codes[:1000], factors[:1000], codes[1000:], factors[1000:])
    ours = evaluation.sap_from_codes(codes, factors, test_codes, test_factors)
    sap, scores = sklearn_sap(codes, factors, test_codes, test_factors)
    assert ours["sap"] == pytest.approx(sap, abs=0.01)
    np.testing.assert_allclose(ours["score_matrix"], scores, atol=0.01)
    assert ours["protocol"]["variant"] == "linear_svc"


def test_linear_svc_solver_is_liblinear_optimum():
    from sklearn.svm import LinearSVC

    rng = np.random.RandomState(13)
    for num_classes in (2, 3, 5):
        y = rng.randint(0, num_classes, 400)
        y[:80] = 0  # unbalanced: the class weights matter
        x = 0.7 * y + rng.normal(size=400)
        ref = LinearSVC(C=0.01, class_weight="balanced", tol=1e-12,
                        max_iter=100000).fit(x[:, None], y)
        (w, b), = _svm.fit_linear_svc_1d(x, [y])
        np.testing.assert_allclose(w, ref.coef_.ravel(), atol=1e-6)
        np.testing.assert_allclose(b, ref.intercept_, atol=1e-6)
        np.testing.assert_array_equal(_svm.predict_linear_svc_1d(w, b, x),
                                      ref.predict(x[:, None]))


def test_sap_default_identity_noise_constant_duplicate_permutation(data):
    codes, factors, test_codes, test_factors = data

    def sap(train, test):
        return evaluation.sap_from_codes(train, factors, test, test_factors)

    base = sap(codes, test_codes)
    assert base["sap"] > 0.3
    # Matching codes beat every other code for their factor.
    assert np.all(np.argmax(base["score_matrix"], axis=0) == np.arange(5))
    rng = np.random.RandomState(0)
    assert sap(rng.normal(size=codes.shape),
               rng.normal(size=test_codes.shape))["sap"] < 0.05
    assert sap(np.zeros_like(codes), np.zeros_like(test_codes))["sap"] == 0
    dup = sap(np.c_[codes, codes[:, 0]], np.c_[test_codes, test_codes[:, 0]])
    assert dup["sap_per_factor"][0] == 0.0
    perm = sap(codes[:, PERM], test_codes[:, PERM])
    assert perm["sap"] == pytest.approx(base["sap"], abs=1e-12)


@pytest.mark.parametrize("continuous", [False, True])
def test_sap_threshold_identity_noise_constant_duplicate_permutation(
        data, continuous):
    codes, factors, test_codes, test_factors = data

    def sap(train, test):
        return evaluation.sap_from_codes(
            train, factors, test, test_factors, continuous_factors=continuous,
            variant="threshold",
        )["sap"]

    base = sap(codes, test_codes)
    assert base > 0.95
    rng = np.random.RandomState(0)
    assert sap(rng.normal(size=codes.shape),
               rng.normal(size=test_codes.shape)) < 0.05
    assert sap(np.zeros_like(codes), np.zeros_like(test_codes)) == 0.0
    dup = sap(np.c_[codes, codes[:, 0]], np.c_[test_codes, test_codes[:, 0]])
    assert dup < base - 0.15
    perm = sap(codes[:, PERM] * SCALES - 3, test_codes[:, PERM] * SCALES - 3)
    assert perm == pytest.approx(base, abs=1e-12)


def test_sap_continuous_is_disentanglement_lib_correlation(mixed):
    codes, factors = mixed[:2]
    result = evaluation.sap_from_codes(codes, factors,
                                       continuous_factors=True)
    expected = np.array([[np.cov(c, f)[0, 1] ** 2
                          / (np.var(c, ddof=1) * np.var(f, ddof=1))
                          for f in factors.T] for c in codes.T])
    np.testing.assert_allclose(result["score_matrix"], expected, rtol=1e-10)


def test_sap_unadjusted_is_raw_balanced_accuracy(data):
    codes, factors, test_codes, test_factors = data
    raw = evaluation.sap_from_codes(codes, factors, test_codes, test_factors,
                                    adjusted=False, variant="threshold")
    matching = np.diag(raw["score_matrix"])
    np.testing.assert_allclose(matching, 1.0)
    # Non-matching codes are at chance level 1/K of each factor.
    excess = raw["score_matrix"] - 1 / np.array(NUM_VALUES)[None, :]
    assert np.all(np.abs(excess[~np.eye(5, dtype=bool)]) < 0.06)


# -------------------------------------------------- BetaVAE, FactorVAE


def beta_vae(representation_fn, seed=0, **kwargs):
    return evaluation.compute_beta_vae_score(
        ToyData(), representation_fn, seed, batch_size=16, num_train=300,
        num_eval=200, **kwargs,
    )


def factor_vae(representation_fn, seed=0):
    return evaluation.compute_factor_vae_score(
        ToyData(), representation_fn, seed, batch_size=16, num_train=300,
        num_eval=200, num_variance_estimate=1000,
    )


def accuracies(result):
    return {k: v for k, v in result.items() if k != "protocol"}


def test_beta_vae_score():
    chance = 1 / len(NUM_VALUES)
    for variant in ("disentanglement_lib", "standardized_softmax"):
        ideal = beta_vae(identity, variant=variant)
        assert ideal["train_accuracy"] > 0.97, variant
        assert ideal["eval_accuracy"] > 0.97, variant
        assert ideal["protocol"]["batch_size"] == 16
        assert ideal["protocol"]["seed"] == 0
        assert beta_vae(constant, variant=variant)["eval_accuracy"] < (
            chance + 0.1)
        assert beta_vae(make_noise(), variant=variant)["eval_accuracy"] < (
            chance + 0.1)
    # The standardized fit is invariant to rescaling the codes.
    assert accuracies(beta_vae(permuted_rescaled,
                               variant="standardized_softmax")) == (
        accuracies(beta_vae(identity, variant="standardized_softmax")))


def test_beta_vae_default_equals_sklearn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.RandomState(14)
    fixed = rng.randint(0, 5, 500)
    pairs = rng.normal(size=(500, 2, 6, 5))
    pairs[np.arange(500), 1, :, fixed] = (
        pairs[np.arange(500), 0, :, fixed]
        + 0.8 * rng.normal(size=(500, 6)))
    ours = evaluation.beta_vae_score_from_codes(
        pairs[:300], fixed[:300], pairs[300:], fixed[300:])
    features = np.abs(pairs[:, 0] - pairs[:, 1]).mean(axis=1)
    model = LogisticRegression().fit(features[:300], fixed[:300])
    assert ours["train_accuracy"] == pytest.approx(
        model.score(features[:300], fixed[:300]), abs=1e-12)
    assert ours["eval_accuracy"] == pytest.approx(
        model.score(features[300:], fixed[300:]), abs=1e-12)
    assert 0.3 < ours["eval_accuracy"] < 0.99  # a non-trivial case


def test_factor_vae_score():
    ideal = factor_vae(identity)
    assert accuracies(ideal) == {"train_accuracy": 1.0, "eval_accuracy": 1.0,
                                 "num_active_dims": 5}
    assert ideal["protocol"]["prune_on"] == "standard deviation"
    assert ideal["protocol"]["num_variance_estimate"] == 1000
    assert accuracies(factor_vae(permuted_rescaled)) == accuracies(ideal)
    assert accuracies(factor_vae(constant)) == {
        "train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0}
    assert factor_vae(make_noise())["eval_accuracy"] < 1 / 5 + 0.1


def reference_factor_vae(train, train_y, evals, eval_y, global_codes,
                         num_factors, threshold=0.05):
    """disentanglement_lib's `compute_factor_vae`, one group at a time."""
    variances = np.var(global_codes, axis=0, ddof=1)
    active = np.sqrt(variances) >= threshold

    def votes(groups, labels):
        table = np.zeros((num_factors, global_codes.shape[1]), np.int64)
        for group, k in zip(groups, labels):
            local = np.var(group, axis=0, ddof=1)
            table[k, np.argmin(local[active] / variances[active])] += 1
        return table

    train_votes = votes(train, train_y)
    classifier = np.argmax(train_votes, axis=0)
    columns = np.arange(train_votes.shape[1])
    eval_votes = votes(evals, eval_y)
    return (train_votes[classifier, columns].sum() / train_votes.sum(),
            eval_votes[classifier, columns].sum() / eval_votes.sum())


def test_factor_vae_prunes_on_standard_deviation():
    rng = np.random.RandomState(15)
    num = 240
    fixed = rng.randint(0, 4, num)
    groups = rng.normal(size=(num, 8, 5))
    groups[np.arange(num), :, fixed] = rng.normal(size=(num, 1)) + (
        0.3 * rng.normal(size=(num, 8)))
    # Code 4: standard deviation 0.1 (variance 0.01 < 0.05): kept.
    scale = np.array([1.0, 1.0, 1.0, 1.0, 0.1])
    groups = groups * scale
    global_codes = rng.normal(size=(1000, 5)) * scale
    result = evaluation.factor_vae_score_from_codes(
        groups[:160], fixed[:160], groups[160:], fixed[160:], global_codes)
    assert result["num_active_dims"] == 5
    expected = reference_factor_vae(groups[:160], fixed[:160], groups[160:],
                                    fixed[160:], global_codes, 4)
    assert (result["train_accuracy"], result["eval_accuracy"]) == (
        pytest.approx(expected, abs=1e-12))
    # Standard deviation 0.04 < 0.05: pruned.
    tiny = np.array([1.0, 1.0, 1.0, 1.0, 0.4])
    pruned = evaluation.factor_vae_score_from_codes(
        groups[:160] * tiny, fixed[:160], groups[160:] * tiny, fixed[160:],
        global_codes * tiny)
    assert pruned["num_active_dims"] == 4


def test_group_score_cores_match_sampling_functions():
    rng = np.random.RandomState(7)
    groups = rng.randint(0, 5, size=(60, 8, 5)).astype(float)
    fixed = np.arange(60) % 5
    groups[np.arange(60), :, fixed] = groups[np.arange(60), :1, fixed]
    result = evaluation.factor_vae_score_from_codes(
        groups[:40], fixed[:40], groups[40:], fixed[40:],
        rng.randint(0, 5, size=(500, 5)),
    )
    assert result["eval_accuracy"] == 1.0
    pairs = rng.normal(size=(60, 2, 8, 5))
    pairs[np.arange(60), 1, :, fixed] = pairs[np.arange(60), 0, :, fixed]
    result = evaluation.beta_vae_score_from_codes(
        pairs[:40], fixed[:40], pairs[40:], fixed[40:]
    )
    assert result["eval_accuracy"] == 1.0


# ----------------------------------------------- Chen et al. (2018) MIG


def reference_chen_mig(means, log_vars, factors, noise):
    """Chen et al.'s estimator with loops, every sample used."""
    std = np.exp(0.5 * log_vars)
    draws = means + std * noise

    def entropy(index):
        total = np.zeros(means.shape[1])
        for i in index:
            for j in range(means.shape[1]):
                density = np.mean(
                    np.exp(-0.5 * ((draws[i, j] - means[index, j])
                                   / std[index, j]) ** 2)
                    / (std[index, j] * np.sqrt(2 * np.pi)))
                total[j] -= np.log(density)
        return total / len(index)

    marginal = entropy(np.arange(len(means)))
    gaps = []
    for k in range(factors.shape[1]):
        values = np.unique(factors[:, k])
        conditional = np.mean([entropy(np.flatnonzero(factors[:, k] == u))
                               for u in values], axis=0)
        info = np.sort(np.maximum(marginal - conditional, 0))[::-1]
        gaps.append((info[0] - info[1]) / np.log(values.size))
    return np.mean(gaps)


def test_chen2018_mig_matches_loop_reference_and_closed_form():
    grid = np.array(list(itertools.product(range(3), range(4))) * 5)
    rng = np.random.RandomState(16)
    means = grid @ rng.normal(size=(2, 3)) + rng.normal(size=(60, 3))
    log_vars = rng.normal(size=(60, 3)) - 1
    noise = np.random.RandomState(9).standard_normal(means.shape)
    result = evaluation.mig_chen2018_from_posteriors(
        means, log_vars, grid, np.random.RandomState(9), num_samples=60)
    assert result["mig"] == pytest.approx(
        reference_chen_mig(means, log_vars, grid, noise), rel=1e-9)
    assert result["protocol"]["name"] == "chen2018"
    # Near-deterministic encoder of a uniform grid: I(z_k; v_k) = log K_k.
    sharp = evaluation.mig_chen2018_from_posteriors(
        grid * 1.0, np.full(grid.shape, -20.0), grid, 0)
    assert sharp["mig"] == pytest.approx(1.0, abs=1e-6)


def test_compute_mig_chen2018_leaves_out_shape():
    class Shapes(ToyData):
        factor_names = ("shape", "a", "b", "c", "d")

    def posterior(observations):
        codes = identity(observations)
        return codes, np.full(codes.shape, -12.0)

    result = evaluation.compute_mig_chen2018(
        Shapes(), posterior, 0, num_points=400, num_samples=400)
    assert np.isnan(result["mig_per_factor"][0])
    assert result["mig"] > 0.95
    assert result["protocol"]["excluded_factors"] == [0]
    assert result["protocol"]["seed"] == 0


# --------------------------------------------------- default conformance


def test_mig_default_equals_sklearn_mutual_info(real):
    """disentanglement_lib's MIG with scikit-learn's mutual_info_score."""
    from sklearn.metrics import mutual_info_score

    codes, factors = real
    binned = [np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in codes.T]
    gaps = []
    for f in factors.T:
        info = np.sort([mutual_info_score(f, b) for b in binned])
        gaps.append((info[-1] - info[-2]) / mutual_info_score(f, f))
    assert evaluation.mig_from_codes(codes, factors)["mig"] == pytest.approx(
        np.mean(gaps), abs=1e-10)


def test_softmax_regression_reaches_the_optimum():
    rng = np.random.RandomState(8)
    x = rng.normal(size=(300, 3))
    y = np.argmax(x @ rng.normal(size=(3, 4)) + rng.normal(size=(300, 4)), 1)
    weights = _estimators.fit_softmax_regression(x, y, 4, l2=1e-2)
    xb = np.c_[x, np.ones(300)]
    logits = np.c_[xb @ weights, np.zeros(300)]
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    grad = xb.T @ (prob - np.eye(4)[y])[:, :3] / 300 + 1e-2 * weights
    assert np.abs(grad).max() < 1e-8


# ------------------------------------------------ sampling entry points


def test_sampling_functions_identity_and_determinism():
    data = ToyData()
    kwargs = dict(num_train=2000, batch_size=256)
    mig = evaluation.compute_mig(data, identity, 0, **kwargs)
    assert mig["mig"] > 0.97
    small = dict(num_train=400, num_test=200, batch_size=256)
    dci = evaluation.compute_dci(data, identity, 0, **small)
    assert min(dci["disentanglement"], dci["completeness"]) > 0.97
    assert dci["protocol"]["seed"] == 0
    assert dci["protocol"]["num_train"] == 400
    sap = evaluation.compute_sap(data, identity, 0, num_test=500,
                                 variant="threshold", **kwargs)
    assert sap["sap"] > 0.95
    assert sap["protocol"]["name"] == "keras_vae"
    again = evaluation.compute_dci(data, identity, 0, **small)
    np.testing.assert_array_equal(again["importance_matrix"],
                                  dci["importance_matrix"])
    first = evaluation.compute_mig(data, make_noise(1), 3, **kwargs)
    second = evaluation.compute_mig(data, make_noise(1), 3, **kwargs)
    assert first["mig"] == second["mig"]
    np.testing.assert_array_equal(first["mutual_info"], second["mutual_info"])
    assert beta_vae(make_noise(2), seed=5) == beta_vae(make_noise(2), seed=5)
    assert factor_vae(make_noise(2), 5) == factor_vae(make_noise(2), 5)
    assert mig["protocol"] == {
        "name": "disentanglement_lib", "variant": "histogram",
        "reference": evaluation.mig.DISENTANGLEMENT_LIB, "seed": 0,
        "num_train": 2000, "num_bins": 20, "codes": "mean"}


class GradTensor:
    """Mimics a torch tensor that requires grad: no implicit conversion."""

    def __init__(self, value):
        self.value = value

    def __array__(self, *args, **kwargs):
        raise RuntimeError("Can't call numpy() on Tensor that requires grad.")

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self.value


def test_generator_seed_and_backend_tensor_outputs():
    def torch_identity(observations):
        return GradTensor(identity(observations))

    def run(representation_fn):
        return evaluation.compute_mig(
            ToyData(), representation_fn, np.random.default_rng(4),
            num_train=500, batch_size=100, exclude_factors=[3],
        )

    result = run(torch_identity)
    assert result["mig"] == run(identity)["mig"] > 0.95
    assert result["protocol"]["seed"] is None  # a Generator, not a seed
    assert np.isnan(result["mig_per_factor"][3])


def test_declared_constant_factor_is_skipped_silently():
    data = ToyData((4, 1, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluation.compute_mig(data, identity, 0, num_train=500,
                                        batch_size=500)
        evaluation.compute_factor_vae_score(
            data, identity, 0, batch_size=8, num_train=50, num_eval=50,
            num_variance_estimate=200,
        )
    assert np.isnan(result["mig_per_factor"][1])


# ------------------------------------------------------------ bad input


def test_bad_codes_and_factors():
    codes, factors = np.zeros((10, 3)), np.zeros((9, 2), int)
    with pytest.raises(ValueError, match=re.escape(
            "Received: codes.shape=(10, 3), factors.shape=(9, 2)")):
        evaluation.mig_from_codes(codes, factors)
    with pytest.raises(ValueError, match=re.escape(
            "`codes` must be a 2D array of shape (num_samples, num_latents)."
            " Received: codes.shape=(10,)")):
        evaluation.mig_from_codes(np.zeros(10), factors)
    with pytest.raises(ValueError, match=r"`factors` must be a 2D"):
        evaluation.dci_from_codes(codes, np.zeros((10, 2, 1)))
    bad = np.zeros((10, 3))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=re.escape(
            "has 1 NaN or inf value(s), the first at index (2, 1). "
            "Received: codes.shape=(10, 3)")):
        evaluation.sap_from_codes(bad, np.zeros((10, 2), int))
    with pytest.raises(ValueError, match="integer factor classes"):
        evaluation.mig_from_codes(codes, np.full((10, 2), 0.5))
    with pytest.raises(TypeError, match="real-valued"):
        evaluation.mig_from_codes(np.array([["a"]] * 10), factors)
    with pytest.raises(ValueError, match="given together"):
        evaluation.dci_from_codes(codes, np.arange(20).reshape(10, 2),
                                  test_codes=codes)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_bins": 1}, "`num_bins` must be an integer >= 2. Received: "
                      "num_bins=1"),
    ({"variant": "other"}, "Received: variant='other'"),
    ({"exclude_factors": [7]}, "Received: exclude_factors=[7]"),
])
def test_bad_mig_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluation.mig_from_codes(np.zeros((10, 2)),
                                  np.arange(20).reshape(10, 2), **kwargs)


def test_bad_sampling_arguments():
    with pytest.raises(TypeError, match="Received: random_state='seed'"):
        evaluation.compute_mig(ToyData(), identity, "seed")
    with pytest.raises(TypeError, match="lacks \\['num_factors'"):
        evaluation.compute_mig(object(), identity, 0)
    with pytest.raises(ValueError, match="Received: output shape=\\(4,\\)"):
        evaluation.compute_mig(ToyData(), lambda x: np.zeros(len(x)), 0,
                               num_train=4)
    with pytest.raises(ValueError, match="`batch_size` must be an integer "
                                         ">= 2. Received: batch_size=1"):
        evaluation.compute_factor_vae_score(ToyData(), identity, 0,
                                            batch_size=1)
    with pytest.raises(ValueError, match="groups of at least 2 codes"):
        evaluation.factor_vae_score_from_codes(
            np.zeros((4, 1, 5)), np.zeros(4, int), np.zeros((4, 1, 5)),
            np.zeros(4, int), np.zeros((9, 5)),
        )
    with pytest.raises(ValueError, match="with 2 in the second dimension"):
        evaluation.beta_vae_score_from_codes(
            np.zeros((4, 3, 2, 5)), np.zeros(4, int), np.zeros((4, 2, 2, 5)),
            np.zeros(4, int),
        )


@pytest.mark.slow
def test_default_sample_sizes_end_to_end():
    """All five metrics with disentanglement_lib's default sample sizes."""
    data = ToyData()
    for representation_fn, low in ((permuted_rescaled, False),
                                   (make_noise(3), True)):
        scores = {
            "mig": evaluation.compute_mig(data, representation_fn, 0)["mig"],
            "dci": evaluation.compute_dci(data, representation_fn, 0)[
                "completeness"],
            "beta_vae": evaluation.compute_beta_vae_score(
                data, representation_fn, 0)["eval_accuracy"] - (
                    0.2 if low else 0.0),
            "factor_vae": evaluation.compute_factor_vae_score(
                data, representation_fn, 0)["eval_accuracy"] - (
                    0.2 if low else 0.0),
        }
        sap = evaluation.compute_sap(data, representation_fn, 0)
        assert sap["protocol"]["num_train"] == 10000
        if low:
            scores["sap"] = sap["sap"]
            del scores["dci"]  # boosted trees give noise some importance
            assert max(scores.values()) < 0.1, scores
        else:
            # 1-D linear one-vs-rest SVMs cannot isolate middle classes.
            assert sap["sap"] > 0.3
            assert min(scores.values()) > 0.97, scores
