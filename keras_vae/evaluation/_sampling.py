"""Sampling codes from a ground-truth dataset and a representation function.

The dataset follows disentanglement_lib's `GroundTruthData` interface:
attributes `num_factors`, `factors_num_values`, `observation_shape`, and
methods `sample_factors(num, random_state)` (int classes, shape
`(num, num_factors)`) and `sample_observations_from_factors(factors,
random_state)` (float32 observations `(num, H, W, C)`). A representation
function maps a batch of observations to codes `(num, num_latents)`.
"""

import numbers

import numpy as np
from keras import ops

from keras_vae._validation import check_int

from keras_vae.evaluation import _checks

# Observations encoded per `representation_fn` call by `sample_groups`,
# rounded up to whole groups.
_OBSERVATIONS_PER_CALL = 512

_REQUIRED_DATA_MEMBERS = (
    "num_factors",
    "factors_num_values",
    "sample_factors",
    "sample_observations_from_factors",
)


def as_random_state(random_state):
    """Returns a numpy random state for an int seed, RandomState or Generator.

    The state is handed to the dataset's sampling methods and used for the
    metric's own draws; an int seed gives `np.random.RandomState(seed)` as
    in disentanglement_lib.
    """
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        return np.random.RandomState(int(random_state))
    raise TypeError(
        "Argument `random_state` must be an int seed, a "
        "`np.random.RandomState` or a `np.random.Generator`. "
        f"Received: random_state={random_state!r} of type "
        f"{type(random_state).__name__}"
    )


def check_ground_truth_data(ground_truth_data):
    """Checks the dataset interface; returns the indices of varying factors.

    Factors declared with a single value (`factors_num_values[i] == 1`, e.g.
    dSprites' color) carry no information and are left out of every metric.
    """
    missing = [
        name
        for name in _REQUIRED_DATA_MEMBERS
        if not hasattr(ground_truth_data, name)
    ]
    if missing:
        raise TypeError(
            "Argument `ground_truth_data` must implement the GroundTruthData "
            f"interface ({', '.join(_REQUIRED_DATA_MEMBERS)}); it lacks "
            f"{missing}. Received: ground_truth_data of type "
            f"{type(ground_truth_data).__name__}"
        )
    num_values = np.asarray(ground_truth_data.factors_num_values)
    if num_values.shape != (ground_truth_data.num_factors,) or np.any(
        num_values < 1
    ):
        raise ValueError(
            "`ground_truth_data.factors_num_values` must list one positive "
            "int per factor (`num_factors` of them). Received: "
            f"factors_num_values={list(ground_truth_data.factors_num_values)}"
            f", num_factors={ground_truth_data.num_factors}"
        )
    varying = np.flatnonzero(num_values > 1)
    if varying.size == 0:
        raise ValueError(
            "`ground_truth_data` must have at least one factor with two or "
            "more values. Received: factors_num_values="
            f"{list(ground_truth_data.factors_num_values)}"
        )
    return varying


def to_numpy(codes):
    """Converts numpy, TensorFlow, JAX or torch (even GPU, grad) outputs."""
    if hasattr(codes, "detach"):  # torch
        codes = codes.detach().cpu().numpy()
    return np.asarray(codes)


def to_float64(x):
    """A backend tensor (or array) as a float64 numpy array."""
    return np.asarray(ops.convert_to_numpy(x), dtype="float64")


def represent(ground_truth_data, representation_fn, factors, random_state,
              batch_size):
    """Codes `(len(factors), d)` of observations rendered from `factors`.

    Observations are generated and encoded `batch_size` at a time.
    """
    chunks = []
    for start in range(0, len(factors), batch_size):
        batch = factors[start : start + batch_size]
        observations = ground_truth_data.sample_observations_from_factors(
            batch, random_state
        )
        codes = to_numpy(representation_fn(observations))
        width = chunks[0].shape[1] if chunks else None
        if (
            codes.ndim != 2
            or codes.shape[0] != len(batch)
            or (width is not None and codes.shape[1] != width)
        ):
            raise ValueError(
                "`representation_fn` must return one code vector per "
                "observation, an array of shape (num_observations, "
                f"num_latents) with a fixed num_latents; called on "
                f"{len(batch)} observations. Received: output shape="
                f"{codes.shape}"
            )
        if not np.all(np.isfinite(codes)):
            raise ValueError(
                "`representation_fn` returned NaN or inf codes. Received: "
                f"output shape={codes.shape} with "
                f"{int(np.sum(~np.isfinite(codes)))} non-finite entries"
            )
        chunks.append(codes.astype(np.float64))
    return np.concatenate(chunks, axis=0)


def sample_codes(ground_truth_data, representation_fn, num_points,
                 random_state, batch_size):
    """Draws `num_points` factor vectors and encodes their observations.

    Returns:
        A tuple `(codes, factors)` of shapes `(num_points, d)` and
        `(num_points, num_factors)`.
    """
    factors = np.asarray(
        ground_truth_data.sample_factors(num_points, random_state)
    )
    codes = represent(
        ground_truth_data, representation_fn, factors, random_state,
        batch_size,
    )
    return codes, factors


def prepare(ground_truth_data, random_state, exclude_factors=()):
    """Checks dataset, seed and exclusions for a `compute_*` function.

    Returns:
        A tuple `(random_state, varying, excluded)`: the numpy random state,
        the indices of the factors with two or more declared values, and
        the tuple of factor indices to exclude (`exclude_factors` plus the
        factors declared with a single value).
    """
    varying = check_ground_truth_data(ground_truth_data)
    num_factors = int(ground_truth_data.num_factors)
    excluded = _checks.excluded_factors(
        "exclude_factors", exclude_factors, num_factors
    )
    excluded[np.setdiff1d(np.arange(num_factors), varying)] = True
    return (
        as_random_state(random_state),
        varying,
        tuple(np.flatnonzero(excluded).tolist()),
    )


def sample_groups(ground_truth_data, representation_fn, random_state,
                  varying, num_points, group_size, paired, reduce):
    """Samples groups of observations sharing one fixed factor.

    For each point a factor `k` is drawn uniformly from `varying`. With
    `paired=False` (FactorVAE) a group is `group_size` factor vectors whose
    factor `k` equals the first vector's; with `paired=True` (BetaVAE) it is
    `group_size` pairs `(v1, v2)` with `v1[k] == v2[k]`. Groups are encoded
    a few at a time and immediately reduced by `reduce(codes, fixed)`
    (codes `(points, group_size, d)` or `(points, 2, group_size, d)`) to
    per-point features, so memory stays bounded.

    Returns:
        A tuple `(features, fixed)`: the concatenated `reduce` outputs and
        the fixed factor index `(num_points,)` of each point.
    """
    num_factors = int(ground_truth_data.num_factors)
    fixed = np.asarray(random_state.choice(varying, size=num_points))
    per_group = group_size * (2 if paired else 1)
    chunk = max(1, _OBSERVATIONS_PER_CALL // per_group)
    features = []
    for start in range(0, num_points, chunk):
        ks = fixed[start : start + chunk]
        rows = np.arange(len(ks))[:, None]
        num = len(ks) * group_size
        first = np.asarray(ground_truth_data.sample_factors(num, random_state))
        first = first.reshape(len(ks), group_size, num_factors)
        if paired:
            second = np.asarray(
                ground_truth_data.sample_factors(num, random_state)
            ).reshape(len(ks), group_size, num_factors)
            second[rows, :, ks[:, None]] = first[rows, :, ks[:, None]]
            factors = np.stack([first, second], axis=1)
        else:
            first[rows, :, ks[:, None]] = first[rows, :1, ks[:, None]]
            factors = first
        codes = represent(
            ground_truth_data, representation_fn,
            factors.reshape(-1, num_factors), random_state,
            len(ks) * per_group,
        )
        features.append(reduce(codes.reshape(*factors.shape[:-1], -1), ks))
    return np.concatenate(features, axis=0), fixed


def sample_train_eval_groups(ground_truth_data, representation_fn, random_state,
                             varying, num_train, num_eval, group_size, paired,
                             reduce):
    """`sample_groups` of `num_train` training, then `num_eval` evaluation points.

    Returns:
        `(train_features, train_fixed, eval_features, eval_fixed)`.
    """
    train = sample_groups(ground_truth_data, representation_fn, random_state,
                          varying, num_train, group_size, paired, reduce)
    evaluation = sample_groups(ground_truth_data, representation_fn,
                               random_state, varying, num_eval, group_size,
                               paired, reduce)
    return train + evaluation


def score_train_test(score, ground_truth_data, representation_fn, random_state,
                     num_train, num_test, batch_size, exclude_factors=()):
    """A metric fitted on one sample and scored on another (DCI, SAP).

    Validates the counts, draws `num_train` training then `num_test` test
    `(codes, factors)` and returns `score(codes, factors, test_codes,
    test_factors, exclude_factors=excluded)` with the seed in its protocol.
    """
    num_train = check_int("num_train", num_train, minimum=2)
    num_test = check_int("num_test", num_test, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    state, _, excluded = prepare(ground_truth_data, random_state,
                                 exclude_factors)
    train = sample_codes(ground_truth_data, representation_fn, num_train,
                         state, batch_size)
    test = sample_codes(ground_truth_data, representation_fn, num_test,
                        state, batch_size)
    return with_sampling(score(*train, *test, exclude_factors=excluded),
                         random_state)


def seed_of(random_state):
    """The int seed behind `random_state`, or None for a state object."""
    if isinstance(random_state, numbers.Integral) and not isinstance(
        random_state, bool
    ):
        return int(random_state)
    return None


def with_sampling(result, random_state, **settings):
    """Adds the seed and the sampling settings to `result["protocol"]`."""
    result["protocol"] = dict(result["protocol"], seed=seed_of(random_state),
                              **settings)
    return result
