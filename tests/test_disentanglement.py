"""Tests of the disentanglement metrics and their numpy building blocks."""

import itertools
import math
import re
import warnings
from statistics import NormalDist

import numpy as np
import pytest

from keras_vae import evaluation
from keras_vae.evaluation import _estimators
from keras_vae.evaluation import _info

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
    chen = evaluation.mig_from_codes(codes, grid, variant="chen2018")
    # On a full grid each factor is uniform, so H(v_k) = log K_k.
    assert chen["mig"] == pytest.approx(lib["mig"], rel=1e-12)
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
    assert scores["completeness"] == pytest.approx((c0 + 1.0) / 2)
    zero = evaluation.dci_from_importance(np.zeros((3, 2)))
    assert zero["disentanglement"] == zero["completeness"] == 0.0


def test_dci_identity_noise_constant(data):
    codes, factors, test_codes, test_factors = data
    ideal = evaluation.dci_from_codes(codes, factors, test_codes, test_factors)
    for key in ("disentanglement", "completeness", "informativeness_train",
                "informativeness_test"):
        assert ideal[key] > 0.97, key
    noise = np.random.RandomState(0).normal(size=codes.shape)
    noisy = evaluation.dci_from_codes(noise, factors)
    assert noisy["disentanglement"] < 0.05 and noisy["completeness"] < 0.05
    assert noisy["informativeness_train"] < 0.05
    const = evaluation.dci_from_codes(np.zeros_like(codes), factors,
                                      np.zeros_like(test_codes), test_factors)
    assert const["disentanglement"] == const["completeness"] == 0.0
    assert const["informativeness_train"] == pytest.approx(0.0, abs=1e-12)
    assert const["informativeness_test"] < 0.02


def test_dci_duplicate_lowers_completeness_permutation_keeps(data):
    codes, factors = data[:2]
    base = evaluation.dci_from_codes(codes, factors)
    dup = evaluation.dci_from_codes(
        np.concatenate([codes, codes[:, :1]], axis=1), factors
    )
    np.testing.assert_allclose(dup["importance_matrix"][[0, 5], 0], 0.5)
    assert dup["completeness"] < base["completeness"] - 0.05
    assert dup["disentanglement"] == pytest.approx(base["disentanglement"])
    perm = evaluation.dci_from_codes(codes[:, PERM] * SCALES - 3.0, factors)
    np.testing.assert_allclose(perm["importance_matrix"],
                               base["importance_matrix"][PERM], atol=1e-12)
    for key in ("disentanglement", "completeness", "informativeness_train"):
        assert perm[key] == pytest.approx(base[key], abs=1e-12)


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


@pytest.mark.parametrize("continuous", [False, True])
def test_sap_identity_noise_constant_duplicate_permutation(data, continuous):
    codes, factors, test_codes, test_factors = data

    def sap(train, test):
        return evaluation.sap_from_codes(
            train, factors, test, test_factors, continuous_factors=continuous
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


def test_sap_unadjusted_is_raw_balanced_accuracy(data):
    codes, factors, test_codes, test_factors = data
    raw = evaluation.sap_from_codes(codes, factors, test_codes, test_factors,
                                    adjusted=False)
    matching = np.diag(raw["score_matrix"])
    np.testing.assert_allclose(matching, 1.0)
    # Non-matching codes are at chance level 1/K of each factor.
    excess = raw["score_matrix"] - 1 / np.array(NUM_VALUES)[None, :]
    assert np.all(np.abs(excess[~np.eye(5, dtype=bool)]) < 0.06)


# -------------------------------------------------- BetaVAE, FactorVAE


def beta_vae(representation_fn, seed=0):
    return evaluation.compute_beta_vae_score(
        ToyData(), representation_fn, seed, batch_size=16, num_train=300,
        num_eval=200,
    )


def factor_vae(representation_fn, seed=0):
    return evaluation.compute_factor_vae_score(
        ToyData(), representation_fn, seed, batch_size=16, num_train=300,
        num_eval=200, num_variance_estimate=1000,
    )


def test_beta_vae_score():
    ideal = beta_vae(identity)
    assert ideal["train_accuracy"] > 0.97 and ideal["eval_accuracy"] > 0.97
    assert beta_vae(permuted_rescaled) == ideal
    chance = 1 / len(NUM_VALUES)
    assert beta_vae(constant)["eval_accuracy"] < chance + 0.1
    assert beta_vae(make_noise())["eval_accuracy"] < chance + 0.1


def test_factor_vae_score():
    ideal = factor_vae(identity)
    assert ideal == {"train_accuracy": 1.0, "eval_accuracy": 1.0,
                     "num_active_dims": 5}
    assert factor_vae(permuted_rescaled) == ideal
    assert factor_vae(constant) == {"train_accuracy": 0.0,
                                    "eval_accuracy": 0.0, "num_active_dims": 0}
    assert factor_vae(make_noise())["eval_accuracy"] < 1 / 5 + 0.1


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
    dci = evaluation.compute_dci(data, identity, 0, num_test=500, **kwargs)
    assert min(dci["disentanglement"], dci["completeness"]) > 0.97
    sap = evaluation.compute_sap(data, identity, 0, num_test=500, **kwargs)
    assert sap["sap"] > 0.95
    again = evaluation.compute_dci(data, identity, 0, num_test=500, **kwargs)
    np.testing.assert_array_equal(again["importance_matrix"],
                                  dci["importance_matrix"])
    first = evaluation.compute_mig(data, make_noise(1), 3, **kwargs)
    second = evaluation.compute_mig(data, make_noise(1), 3, **kwargs)
    assert first["mig"] == second["mig"]
    np.testing.assert_array_equal(first["mutual_info"], second["mutual_info"])
    assert beta_vae(make_noise(2), seed=5) == beta_vae(make_noise(2), seed=5)
    assert factor_vae(make_noise(2), 5) == factor_vae(make_noise(2), 5)


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
            num_train=500, batch_size=100, variant="chen2018",
            exclude_factors=[3],
        )

    result = run(torch_identity)
    assert result["mig"] == run(identity)["mig"] > 0.95
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
    """All five metrics with disentanglement_lib's default sample sizes.

    About 4M toy observations in all, still ~2 s: the cores are vectorized.
    """
    data = ToyData()
    for representation_fn, low in ((permuted_rescaled, False),
                                   (make_noise(3), True)):
        scores = [
            evaluation.compute_mig(data, representation_fn, 0)["mig"],
            evaluation.compute_sap(data, representation_fn, 0)["sap"],
            evaluation.compute_dci(data, representation_fn, 0)[
                "completeness"],
            evaluation.compute_beta_vae_score(data, representation_fn, 0)[
                "eval_accuracy"] - (0.2 if low else 0.0),
            evaluation.compute_factor_vae_score(data, representation_fn, 0)[
                "eval_accuracy"] - (0.2 if low else 0.0),
        ]
        if low:
            assert max(scores) < 0.1, scores
        else:
            assert min(scores) > 0.97, scores
