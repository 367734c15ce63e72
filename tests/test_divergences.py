"""Divergences against closed forms and independent numpy computations."""

import math

import numpy as np
import pytest
from keras import ops

from keras_vae import divergences as D


def np_(x):
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def test_kl_closed_form_known_value():
    # KL(N(1, e) || N(0, 1)) over 10 dims = 5 (e - 1).
    kl = D.gaussian_kl(np.ones((1, 10), "float32"), np.ones((1, 10), "float32"))
    assert np_(kl)[0] == pytest.approx(5 * (math.e - 1), rel=1e-6)
    assert np_(kl)[0] == pytest.approx(8.5914, abs=1e-4)


def test_kl_zero_at_prior_and_positive_elsewhere():
    rng = np.random.default_rng(0)
    assert np_(D.gaussian_kl(np.zeros((3, 5)), np.zeros((3, 5)))) == pytest.approx(0.0)
    kl = np_(D.gaussian_kl(rng.normal(size=(50, 5)), rng.normal(size=(50, 5))))
    assert np.all(kl > 0)


def test_kl_between_two_gaussians_matches_numpy_reference():
    rng = np.random.default_rng(1)
    m1, lv1, m2, lv2 = (rng.normal(size=(4, 6)) for _ in range(4))
    ref = 0.5 * np.sum(
        lv2 - lv1 + (np.exp(lv1) + (m1 - m2) ** 2) / np.exp(lv2) - 1, axis=-1
    )
    got = np_(D.gaussian_kl(m1.astype("float32"), lv1, m2, lv2))
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    per_dim = np_(D.gaussian_kl(m1.astype("float32"), lv1, m2, lv2, axis=None))
    assert per_dim.shape == (4, 6)


def test_gaussian_log_density_matches_numpy():
    rng = np.random.default_rng(2)
    z, m, lv = (rng.normal(size=(3, 4)).astype("float32") for _ in range(3))
    ref = -0.5 * (np.log(2 * np.pi) + lv + (z - m) ** 2 / np.exp(lv))
    np.testing.assert_allclose(np_(D.gaussian_log_density(z, m, lv)), ref, rtol=1e-5)


def test_monte_carlo_kl_converges_to_closed_form():
    rng = np.random.default_rng(3)
    mean = rng.normal(size=(1, 4)).astype("float32")
    log_var = (0.5 * rng.normal(size=(1, 4))).astype("float32")
    eps = rng.standard_normal((200_000, 4)).astype("float32")
    z = mean + np.exp(0.5 * log_var) * eps
    mc = np_(D.monte_carlo_kl(z, mean, log_var)).mean()
    exact = np_(D.gaussian_kl(mean, log_var))[0]
    assert mc == pytest.approx(exact, abs=0.02)
    q_p = np_(D.monte_carlo_kl(z[:10], mean, log_var, np.zeros(4), np.zeros(4)))
    np.testing.assert_allclose(q_p, np_(D.monte_carlo_kl(z[:10], mean, log_var)), rtol=1e-6)


def _np_kernel(x, y, kind, c):
    d2 = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    return np.exp(-d2 / c) if kind == "gaussian" else c / (c + d2)


@pytest.mark.parametrize("kind", ["gaussian", "imq"])
def test_kernels_match_numpy(kind):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    got = np_(D.kernel_matrix(x.astype("float32"), y.astype("float32"), kind, 2.5))
    np.testing.assert_allclose(got, _np_kernel(x, y, kind, 2.5), rtol=1e-4, atol=1e-6)
    multi = np_(D.kernel_matrix(x.astype("float32"), y, kind, 2.5, scales=(0.5, 2.0)))
    ref = _np_kernel(x, y, kind, 1.25) + _np_kernel(x, y, kind, 5.0)
    np.testing.assert_allclose(multi, ref, rtol=1e-4, atol=1e-6)
    # Default bandwidth is 2 * dim.
    np.testing.assert_allclose(
        np_(D.kernel_matrix(x.astype("float32"), y, kind)),
        _np_kernel(x, y, kind, 6.0), rtol=1e-4, atol=1e-6,
    )


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd2_matches_numpy_reference(unbiased):
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 3)), rng.normal(1.0, 1.0, size=(30, 3))
    kxx, kyy, kxy = (_np_kernel(a, b, "imq", 6.0) for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    if unbiased:
        ref = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1))
               + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    else:
        ref = kxx.mean() + kyy.mean() - 2 * kxy.mean()
    got = float(np_(D.mmd2(x.astype("float32"), y.astype("float32"), "imq",
                          unbiased=unbiased)))
    assert got == pytest.approx(ref, rel=1e-4)


def test_unbiased_mmd2_averages_zero_and_grows_with_shift():
    rng = np.random.default_rng(6)
    same = [float(np_(D.mmd2(rng.normal(size=(64, 2)).astype("float32"),
                             rng.normal(size=(64, 2)).astype("float32"))))
            for _ in range(60)]
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(len(same)) + 1e-4
    assert min(same) < 0 < max(same)  # unbiased: both signs occur
    shifts = [0.0, 0.5, 1.0, 2.0]
    values = [
        float(np_(D.mmd2(rng.normal(size=(256, 2)).astype("float32"),
                         rng.normal(s, 1.0, size=(256, 2)).astype("float32"))))
        for s in shifts
    ]
    assert values == sorted(values) and values[-1] > 0.1


def test_biased_mmd2_nonnegative_and_zero_for_identical_samples():
    x = np.random.default_rng(7).normal(size=(16, 3)).astype("float32")
    assert float(np_(D.mmd2(x, x, unbiased=False))) == pytest.approx(0.0, abs=1e-6)


def test_permutation_test_level_and_power():
    rng = np.random.default_rng(8)
    p_same = [D.mmd_permutation_test(rng.normal(size=(30, 2)), rng.normal(size=(30, 2)),
                                     num_permutations=200, seed=i)[1]
              for i in range(200)]
    false_positive_rate = np.mean(np.array(p_same) < 0.05)
    assert 0.01 <= false_positive_rate <= 0.10, false_positive_rate
    stat, p = D.mmd_permutation_test(rng.normal(size=(50, 2)),
                                     rng.normal(1.0, 1.0, size=(50, 2)), seed=0)
    assert p < 0.01 and stat > 0
    # The observed statistic equals mmd2's unbiased estimate.
    x, y = rng.normal(size=(12, 2)), rng.normal(size=(9, 2))
    stat, _ = D.mmd_permutation_test(x, y, num_permutations=10, seed=0)
    assert stat == pytest.approx(float(np_(D.mmd2(x.astype("float32"), y.astype("float32")))),
                                 rel=1e-4, abs=1e-6)
    assert D.mmd_permutation_test(x, y, seed=3) == D.mmd_permutation_test(x, y, seed=3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: D.kernel_matrix(np.ones((2, 2)), np.ones((2, 2)), "poly"), "kernel"),
        (lambda: D.kernel_matrix(np.ones((2, 2)), np.ones((2, 2)), bandwidth=0.0), "bandwidth"),
        (lambda: D.kernel_matrix(np.ones((2, 2)), np.ones((2, 2)), scales=()), "scales"),
        (lambda: D.mmd2(np.ones((2, 2)), np.ones((2, 3))), "same number of columns"),
        (lambda: D.mmd2(np.ones((4,)), np.ones((4,))), "2-D"),
        (lambda: D.mmd_permutation_test(np.ones((1, 2)), np.ones((3, 2))), "at least 2"),
        (lambda: D.mmd_permutation_test(np.ones((3, 2)), np.ones((3, 2)),
                                        num_permutations=0), "num_permutations"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
