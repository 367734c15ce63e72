"""Mutual Information Gap (Chen et al., 2018).

Two estimators, each with a sampler `compute_*` and a pure core:

* `compute_mig` / `mig_from_codes` (default protocol, disentanglement_lib's
  as used by Locatello et al., 2019): 10,000 sampled points, mean codes
  discretized into 20 equal-width bins per dimension, plug-in mutual
  informations normalized by the empirical factor entropies, all factors.
* `compute_mig_chen2018` / `mig_chen2018_from_posteriors`: Chen et al.'s
  (2018) own estimator on samples of the Gaussian posterior `q(z|x)`,
  normalized by `log K`, the shape factor of dSprites left out.
"""

import numpy as np

from keras_vae._validation import check_choice
from keras_vae._validation import check_int
from keras_vae._validation import check_num_columns
from keras_vae._validation import check_num_samples
from keras_vae.evaluation import _checks
from keras_vae.evaluation import _info
from keras_vae.evaluation import _sampling

DISENTANGLEMENT_LIB = (
    "Locatello et al. (2019), disentanglement_lib unsupervised_study_v1"
)
CHEN2018 = "Chen et al. (2018), Isolating Sources of Disentanglement in VAEs"


def mig_from_codes(codes, factors, num_bins=20,
                   variant="disentanglement_lib", exclude_factors=()):
    """Mutual Information Gap (Chen et al., 2018) from precomputed codes.

    Implements the MIG equation of Chen et al. (2018)

        MIG = 1/K sum_k (I(z_{j(k)}; v_k) - max_{j != j(k)} I(z_j; v_k))
                        / H(v_k),   j(k) = argmax_j I(z_j; v_k),

    with the estimator of disentanglement_lib (Locatello et al., 2019):
    each code dimension `z_j` (the mean codes) is discretized into
    `num_bins` equal-width bins over its observed range (`np.histogram`
    bins, see `_info.discretize`), factors `v_k` are used as given, and `I`
    and `H` are plug-in (empirical frequency) estimates in nats, `H(v_k)`
    the empirical entropy of the factor in the sample. The mean runs over
    all scored factors. With a single code dimension the second-best
    information is 0. For Chen et al.'s own estimator on posterior samples
    see `mig_chen2018_from_posteriors`.

    Args:
        codes: float array `(num_samples, num_latents)`, e.g. encoder means.
        factors: int array `(num_samples, num_factors)` of factor classes.
        num_bins: int >= 2, histogram bins per code dimension.
        variant: `"disentanglement_lib"`, the only histogram estimator.
        exclude_factors: indices of factor columns to leave out.

    Returns:
        A dict with `"mig"` (float in [0, 1]), `"mig_per_factor"` (array
        `(num_factors,)`, NaN for skipped factors), `"mutual_info"` (array
        `(num_latents, num_factors)` of `I(z_j; v_k)` in nats, 0 for
        skipped factors) and `"protocol"`.
    """
    num_bins = check_int("num_bins", num_bins, minimum=2)
    if variant == "chen2018":
        raise ValueError(
            "Argument `variant` of `mig_from_codes` must be "
            "'disentanglement_lib': Chen et al.'s (2018) MIG samples the "
            "posterior, use `mig_chen2018_from_posteriors`. Received: "
            f"variant={variant!r}"
        )
    variant = check_choice("variant", variant, ("disentanglement_lib",))
    codes, factors, scored = _checks.check_codes_and_factors(
        codes, factors, exclude_factors
    )
    labels, _ = _info.encode_labels(factors[:, scored])
    mutual_info = np.zeros((codes.shape[1], factors.shape[1]))
    mutual_info[:, scored] = _info.discrete_mutual_info(
        _info.discretize(codes, num_bins), labels
    )
    protocol = _checks.protocol(
        "disentanglement_lib", "histogram", DISENTANGLEMENT_LIB,
        num_train=int(codes.shape[0]), num_bins=num_bins, codes="mean",
    )
    return _checks.gap_score("mig", "mutual_info", mutual_info, scored, protocol,
                             normalizer=_info.discrete_entropy(labels))


def compute_mig(ground_truth_data, representation_function, random_state,
                num_train=10000, batch_size=16, num_bins=20,
                variant="disentanglement_lib", exclude_factors=()):
    """Mutual Information Gap (Chen et al., 2018) of a representation.

    disentanglement_lib's protocol (`mig.gin` of unsupervised_study_v1):
    `num_train` factor vectors sampled uniformly, their observations encoded
    with `representation_function` (the mean codes) and scored with
    `mig_from_codes`.

    Args:
        ground_truth_data: a GroundTruthData dataset (`num_factors`,
            `factors_num_values`, `sample_factors`,
            `sample_observations_from_factors`).
        representation_function: callable mapping observations
            `(n, H, W, C)` to codes `(n, num_latents)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        num_train: int >= 2, number of sampled points.
        batch_size: int >= 1, observations per `representation_function`
            call.
        num_bins: int >= 2, histogram bins per code dimension.
        variant: `"disentanglement_lib"`.
        exclude_factors: indices of factors to leave out.

    Returns:
        The dict of `mig_from_codes`, its `"protocol"` with the seed.
    """
    num_train = check_int("num_train", num_train, minimum=2)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    state, _, excluded = _sampling.prepare(
        ground_truth_data, random_state, exclude_factors
    )
    codes, factors = _sampling.sample_codes(
        ground_truth_data, representation_function, num_train, state,
        batch_size,
    )
    return _sampling.with_sampling(
        mig_from_codes(codes, factors, num_bins, variant, excluded),
        random_state,
    )


# ----------------------------------------------- Chen et al. (2018) MIG


def _log_gaussian(z, mean, log_var):
    return -0.5 * (np.log(2 * np.pi) + log_var
                   + (z - mean) ** 2 * np.exp(-log_var))


# Entries of the (samples, posteriors, latents) block evaluated at once.
_MAX_BLOCK = 1 << 22


def _marginal_entropy(samples, means, log_vars):
    """`E[-log q(z_j)]` per dimension, `q(z_j) = mean_n q(z_j | x_n)`.

    `samples` `(S, d)` are draws of `z` (each from one `q(z|x_n)`); the
    mixture runs over all `N` posteriors `means`, `log_vars` `(N, d)`.
    """
    n = means.shape[0]
    chunk = max(1, _MAX_BLOCK // means.size)
    total = np.zeros(means.shape[1])
    for start in range(0, samples.shape[0], chunk):
        z = samples[start:start + chunk]  # (s, d)
        log_q = _log_gaussian(z[:, None, :], means[None], log_vars[None])
        top = log_q.max(axis=1)
        lse = top + np.log(np.exp(log_q - top[:, None, :]).sum(axis=1))
        total -= (lse - np.log(n)).sum(axis=0)
    return total / samples.shape[0]


def mig_chen2018_from_posteriors(means, log_vars, factors, random_state,
                                 num_samples=10000, exclude_factors=()):
    """MIG with the estimator of Chen et al. (2018), Sec. 5 and App. C.

    The posterior `q(z|x_n) = N(means_n, exp(log_vars_n))` of every point
    is sampled once, `z_n ~ q(z|x_n)`. With `q(z_j)` the mixture of the
    `N` posteriors' `j`-th marginals, `H(z_j) = E[-log q(z_j)]` is averaged
    over `min(num_samples, N)` of the `z_n` drawn without replacement; the
    conditional entropy `H(z_j | v_k)` is the mean over the values `u` of
    factor `k` of the same estimate restricted to the points with
    `v_k = u` (mixture and samples). Then `I(z_j; v_k) = H(z_j) -
    H(z_j | v_k)`, clipped at 0, normalized by `log K_k` (`K_k` the number
    of values of the factor, the entropy of a uniform factor), and MIG is
    the mean over factors of the gap between the two largest normalized
    informations. Chen et al. use every image of the dataset (the full
    factor grid; each value of a factor then has the same number of
    points) and leave out the shape factor of dSprites.

    Args:
        means: float array `(num_points, num_latents)`.
        log_vars: float array `(num_points, num_latents)`.
        factors: int array `(num_points, num_factors)`.
        random_state: int seed, `np.random.RandomState` or `Generator`,
            for the posterior samples and the subsets.
        num_samples: int >= 1, samples per entropy estimate.
        exclude_factors: indices of factor columns to leave out.

    Returns:
        A dict with `"mig"`, `"mig_per_factor"` (NaN for skipped factors),
        `"mutual_info"` `(num_latents, num_factors)` in nats and
        `"protocol"`.
    """
    means, factors, scored = _checks.check_codes_and_factors(
        means, factors, exclude_factors
    )
    log_vars = _checks.check_codes("log_vars", log_vars)
    check_num_samples(means=means, log_vars=log_vars)
    check_num_columns(means=means, log_vars=log_vars)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    state = _sampling.as_random_state(random_state)
    draws = means + np.exp(0.5 * log_vars) * state.standard_normal(
        means.shape)

    def entropy(index):
        pick = state.permutation(index.size)[:num_samples]
        return _marginal_entropy(draws[index[pick]], means[index],
                                 log_vars[index])

    marginal = entropy(np.arange(means.shape[0]))
    mutual_info = np.zeros((means.shape[1], factors.shape[1]))
    normalizer = []
    for k in np.flatnonzero(scored):
        values = np.unique(factors[:, k])
        conditional = np.mean(
            [entropy(np.flatnonzero(factors[:, k] == u)) for u in values],
            axis=0)
        mutual_info[:, k] = np.maximum(marginal - conditional, 0.0)
        normalizer.append(np.log(values.size))
    protocol = _checks.protocol(
        "chen2018", "sampled_posterior", CHEN2018,
        seed=_sampling.seed_of(random_state),
        num_points=int(means.shape[0]), num_samples=num_samples,
        excluded_factors=np.flatnonzero(~scored).tolist(),
    )
    return _checks.gap_score("mig", "mutual_info", mutual_info, scored, protocol,
                             normalizer=np.asarray(normalizer))


def _factor_grid(num_values):
    grids = np.meshgrid(*[np.arange(v) for v in num_values], indexing="ij")
    return np.stack([g.ravel() for g in grids], axis=1)


def compute_mig_chen2018(ground_truth_data, posterior_function,
                         random_state, num_points=None, batch_size=512,
                         num_samples=10000, exclude_factors=None):
    """Chen et al.'s (2018) MIG of a Gaussian encoder.

    Encodes the observations of `num_points` uniformly sampled factor
    vectors, or of the whole factor grid when `num_points` is None (Chen et
    al.'s protocol: every dSprites image, 737,280 of them; the entropy
    estimates then cost about 10^11 Gaussian densities, hours on a CPU),
    and
    scores the posteriors with `mig_chen2018_from_posteriors`.

    Args:
        ground_truth_data: a GroundTruthData dataset.
        posterior_function: callable mapping observations to the pair
            `(means, log_vars)` of `q(z|x)`, e.g. `model.encode`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        num_points: int >= 2, or None for the full factor grid.
        batch_size: int >= 1, observations per call.
        num_samples: int >= 1, samples per entropy estimate (10,000 in
            Chen et al.'s code).
        exclude_factors: indices of factors to leave out; None leaves out
            the factor named "shape" (`ground_truth_data.factor_names`) if
            there is one, as Chen et al. do on dSprites.

    Returns:
        The dict of `mig_chen2018_from_posteriors`.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if exclude_factors is None:
        names = list(getattr(ground_truth_data, "factor_names", ()))
        exclude_factors = tuple(i for i, name in enumerate(names)
                                if str(name).lower() == "shape")
    state, varying, excluded = _sampling.prepare(
        ground_truth_data, random_state, exclude_factors
    )
    if num_points is None:
        factors = _factor_grid(ground_truth_data.factors_num_values)
    else:
        num_points = check_int("num_points", num_points, minimum=2)
        factors = np.asarray(
            ground_truth_data.sample_factors(num_points, state))
    means, log_vars = [], []
    for start in range(0, len(factors), batch_size):
        observations = ground_truth_data.sample_observations_from_factors(
            factors[start:start + batch_size], state)
        mean, log_var = posterior_function(observations)
        means.append(_sampling.to_numpy(mean))
        log_vars.append(_sampling.to_numpy(log_var))
    result = mig_chen2018_from_posteriors(
        np.concatenate(means), np.concatenate(log_vars), factors, state,
        num_samples, excluded)
    return _sampling.with_sampling(result, random_state,
                                   full_grid=num_points is None)
