"""The KL decomposition (Chen et al. 2018): known answers on synthetic posteriors."""

import math

import keras
import numpy as np
import pytest

from keras_vae.evaluation import decomposition as dec

RHO = 0.8
TRUE_TC = -0.5 * math.log(1 - RHO**2)  # -1/2 log det R = 0.5108


def _numpy(terms):
    return {k: float(keras.ops.convert_to_numpy(v)) for k, v in terms.items()}


def _correlated_posteriors(n, sigma, corr, seed):
    """Posteriors N(m_n, sigma^2 I) with m_n ~ N(0, R - sigma^2 I): the
    aggregate posterior is N(0, R) as n grows, with TC = -1/2 log det R,
    dimension-wise KL 0 and MI 1/2 log det R - d log sigma."""
    d = len(corr)
    rng = np.random.default_rng(seed)
    means = rng.multivariate_normal(np.zeros(d), corr - sigma**2 * np.eye(d), size=n)
    log_vars = np.full_like(means, 2 * math.log(sigma))
    return means.astype("float32"), log_vars.astype("float32")


def _independent_posteriors(n, d, mean_std, sigma, seed):
    rng = np.random.default_rng(seed)
    means = (mean_std * rng.standard_normal((n, d))).astype("float32")
    return means, np.full_like(means, 2 * math.log(sigma))


def _batch(means, log_vars, size, rng):
    idx = rng.choice(len(means), size, replace=False)
    m, lv = means[idx], log_vars[idx]
    z = (m + np.exp(0.5 * lv) * rng.standard_normal(m.shape)).astype("float32")
    return z, m, lv


def _numpy_log_densities(z, m, lv):
    return -0.5 * (np.log(2 * np.pi) + lv[None] + (z[:, None] - m[None]) ** 2 / np.exp(lv[None]))


# === Full-dataset evaluator ===


def test_terms_sum_to_the_average_kl():
    rng = np.random.default_rng(0)
    means = rng.normal(0.0, 1.0, (800, 3)).astype("float32")
    means[:, 1] += 0.7 * means[:, 0]  # some correlation
    log_vars = rng.uniform(-2.0, 0.5, (800, 3)).astype("float32")
    result = dec.kl_decomposition(means, log_vars, num_samples=8, seed=1, chunk_size=700)
    assert set(result) == {"mutual_info", "total_correlation", "dimwise_kl", "kl"}
    exact_kl = np.mean(0.5 * np.sum(means**2 + np.exp(log_vars) - 1 - log_vars, 1))
    assert result["kl"] == pytest.approx(exact_kl, rel=1e-5)
    total = result["mutual_info"] + result["total_correlation"] + result["dimwise_kl"]
    assert total == pytest.approx(result["kl"], abs=0.08)  # MC error ~0.02
    assert all(result[k] > 0 for k in ("mutual_info", "total_correlation", "dimwise_kl"))


@pytest.mark.parametrize("corr, n, sigma", [
    (np.array([[1.0, RHO], [RHO, 1.0]]), 2000, 0.25),
    (np.array([[1.0, 0.6, 0.3], [0.6, 1.0, -0.4], [0.3, -0.4, 1.0]]), 4000, 0.3),
])
def test_total_correlation_of_correlated_gaussian_is_half_log_det(corr, n, sigma):
    # The estimate converges as n grows: in 3-D with n = 2000 it is ~0.04 high
    # (the sample's own correlations and the mixture's spikiness).
    means, log_vars = _correlated_posteriors(n, sigma, corr, seed=0)
    result = dec.kl_decomposition(means, log_vars, seed=1, chunk_size=700)
    true_tc = -0.5 * np.log(np.linalg.det(corr))
    true_mi = 0.5 * np.log(np.linalg.det(corr)) - len(corr) * math.log(sigma)
    assert result["total_correlation"] == pytest.approx(true_tc, abs=0.04)
    assert result["mutual_info"] == pytest.approx(true_mi, abs=0.06)
    assert abs(result["dimwise_kl"]) < 0.03


def test_chunking_and_seed():
    means, log_vars = _correlated_posteriors(300, 0.3, np.array([[1.0, RHO], [RHO, 1.0]]), 2)
    a = dec.kl_decomposition(means, log_vars, seed=3, chunk_size=1000)
    b = dec.kl_decomposition(means, log_vars, seed=3, chunk_size=64)  # padded blocks
    for key in a:
        assert a[key] == pytest.approx(b[key], abs=1e-4)
    c = dec.kl_decomposition(means, log_vars, seed=4)
    assert c["total_correlation"] != a["total_correlation"]


# === Minibatch estimators ===


@pytest.mark.parametrize("estimator", ["mss", "mws"])
def test_minibatch_estimators_match_the_formulas_of_chen_et_al(estimator):
    n, b = 50, 6
    rng = np.random.default_rng(5)
    z, m, lv = (rng.normal(size=(b, 3)).astype("float32") for _ in range(3))
    lv = lv * 0.3
    dens = _numpy_log_densities(z, m, lv)
    if estimator == "mws":  # section 4.1: weights 1 / (N M)
        w = np.full((b, b), 1.0 / (n * b))
    else:  # appendix C.2, M = B - 1 other examples
        mo = b - 1
        w = np.full((b, b), 1.0 / mo)
        w[np.arange(b), (np.arange(b) + 1) % b] = (n - mo) / (n * mo)
        w[np.arange(b), np.arange(b)] = 1.0 / n
        np.testing.assert_allclose(w.sum(1), 1.0)
    log_qz = np.log(np.sum(w * np.exp(dens.sum(-1)), 1))
    log_marg = np.log(np.sum(w[..., None] * np.exp(dens), 1)).sum(-1)
    log_qzx = np.einsum("iid->i", dens)
    log_pz = np.sum(-0.5 * (np.log(2 * np.pi) + z**2), -1)
    got = _numpy(dec.minibatch_kl_decomposition(z, m, lv, n, estimator))
    assert got["mutual_info"] == pytest.approx(np.mean(log_qzx - log_qz), abs=1e-4)
    assert got["total_correlation"] == pytest.approx(np.mean(log_qz - log_marg), abs=1e-4)
    assert got["dimwise_kl"] == pytest.approx(np.mean(log_marg - log_pz), abs=1e-4)
    # The terms telescope to the single-sample KL estimate.
    assert sum(got.values()) == pytest.approx(np.mean(log_qzx - log_pz), abs=1e-4)


def test_mss_approaches_the_known_total_correlation():
    corr = np.array([[1.0, RHO], [RHO, 1.0]])
    means, log_vars = _correlated_posteriors(2000, 0.25, corr, seed=0)
    rng = np.random.default_rng(1)
    estimates = [
        _numpy(dec.minibatch_kl_decomposition(*_batch(means, log_vars, 512, rng), 2000))
        for _ in range(8)
    ]
    tc = np.mean([e["total_correlation"] for e in estimates])
    assert tc == pytest.approx(TRUE_TC, abs=0.05)


def test_mss_total_correlation_of_independent_codes_is_not_negative_beyond_noise():
    n, d = 4000, 5
    means, log_vars = _independent_posteriors(n, d, mean_std=0.5, sigma=0.85, seed=0)
    rng = np.random.default_rng(1)
    tc = {}
    for size in (64, 256):
        tc[size] = np.array([
            _numpy(dec.minibatch_kl_decomposition(
                *_batch(means, log_vars, size, rng), n))["total_correlation"]
            for _ in range(10)
        ])
    # The log of the unbiased MSS estimate of q(z) is biased down (Jensen),
    # the joint more than the 1-D marginals: a small negative bias that
    # vanishes as the batch grows.
    noise = 3 * tc[256].std() / np.sqrt(10)
    assert tc[256].mean() > -0.01 - noise
    assert abs(tc[256].mean()) < abs(tc[64].mean()) + noise
    # MWS instead is offset by (d - 1) log N.
    z, m, lv = _batch(means, log_vars, 256, rng)
    mws = _numpy(dec.minibatch_kl_decomposition(z, m, lv, n, "mws"))
    assert mws["total_correlation"] == pytest.approx((d - 1) * math.log(n), abs=1.0)


# === Bad input ===


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(dataset_size=None), ValueError, "dataset_size=None"),
    (dict(dataset_size=0), ValueError, "dataset_size"),
    (dict(dataset_size=3), ValueError, r"at least the batch size.*dataset_size=3"),
    (dict(dataset_size=2.5), TypeError, "dataset_size"),
    (dict(dataset_size=10, estimator="kde"), ValueError, "estimator"),
])
def test_minibatch_bad_arguments(kwargs, error, match):
    z = np.zeros((4, 2), "float32")
    with pytest.raises(error, match=match):
        dec.minibatch_kl_decomposition(z, z, z, **kwargs)


def test_bad_posteriors_raise_clear_errors():
    m = np.zeros((5, 2), "float32")
    with pytest.raises(ValueError, match=r"z_mean.*Received: z_mean.shape=\(5, 2\).*z_log_var.shape=\(5, 3\)"):
        dec.kl_decomposition(m, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="z_log_var.*NaN"):
        dec.kl_decomposition(m, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        dec.kl_decomposition(np.zeros(5), np.zeros(5))
    with pytest.raises(TypeError, match="z_mean.dtype"):
        dec.kl_decomposition(np.full((5, 2), "a"), m)
    with pytest.raises(ValueError, match="num_samples"):
        dec.kl_decomposition(m, m, num_samples=0)
    with pytest.raises(ValueError, match=r"z.shape=\(4, 2\), z_mean.shape=\(4, 3\)"):
        dec.minibatch_kl_decomposition(np.zeros((4, 2)), np.zeros((4, 3)),
                                       np.zeros((4, 3)), dataset_size=10)


def test_old_names_reach_the_estimators_module():
    # The minibatch estimator moved to keras_vae.estimators (models import it
    # there); the evaluation names stay the same objects.
    from keras_vae import estimators
    from keras_vae import evaluation

    for name in ("minibatch_kl_decomposition", "log_density_matrix",
                 "log_importance_weights", "log_mixture_densities",
                 "decomposition_terms", "ESTIMATORS", "TERMS"):
        assert getattr(dec, name) is getattr(estimators, name)
    assert evaluation.minibatch_kl_decomposition is estimators.minibatch_kl_decomposition
