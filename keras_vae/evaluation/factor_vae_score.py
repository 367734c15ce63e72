"""FactorVAE score (Kim & Mnih, 2018).

disentanglement_lib's protocol (Locatello et al., 2019; unsupervised_study_v1:
groups of 64, 10,000 training and 5,000 evaluation votes, 10,000 points for
the global scales, dimensions with a standard deviation below 0.05 pruned).
"""

import numpy as np

from keras_vae._validation import check_float
from keras_vae._validation import check_int
from keras_vae._validation import check_num_columns
from keras_vae.evaluation import _checks
from keras_vae.evaluation import _sampling
from keras_vae.evaluation.mig import DISENTANGLEMENT_LIB


def _argmin_variance_dims(variances, active):
    """FactorVAE votes: per group, the active dim of least relative variance.

    The ratio of the group's sample variance to the global one, as
    disentanglement_lib (both with `ddof=1`).
    """
    candidates = np.flatnonzero(active)

    every = candidates.size == variances.size

    def reduce(group_codes, _=None):
        codes = group_codes if every else group_codes[..., candidates]
        # Sample variance over the group, from sums shifted by the first
        # member (no cancellation for codes far from 0).
        shifted = codes - codes[:, :1]
        size = codes.shape[1]
        sums = shifted.sum(axis=1)
        squares = np.einsum("ngd,ngd->nd", shifted, shifted)
        local = (squares - sums * sums / size) / (size - 1)
        return candidates[np.argmin(local / variances[candidates], axis=1)]

    return reduce


def _majority_vote_accuracies(train_dims, train_y, eval_dims, eval_y,
                              num_latents):
    """Accuracy of the majority-vote classifier dim -> factor."""
    classes, train_y = np.unique(train_y, return_inverse=True)
    votes = np.zeros((num_latents, classes.size), dtype=np.int64)
    np.add.at(votes, (train_dims, train_y), 1)
    predicted = classes[np.argmax(votes, axis=1)]  # ties: smallest factor
    return {
        "train_accuracy": float(votes.max(axis=1).sum() / len(train_dims)),
        "eval_accuracy": float(np.mean(predicted[eval_dims] == eval_y)),
    }


def _factor_vae_scores(variances, prune_threshold, vote, protocol):
    """Shared FactorVAE logic: prune, then `vote(reduce)` -> accuracies."""
    active = (np.sqrt(variances) >= prune_threshold) & (variances > 0)
    if not active.any():
        scores = {"train_accuracy": 0.0, "eval_accuracy": 0.0}
    else:
        scores = vote(_argmin_variance_dims(variances, active))
    scores["num_active_dims"] = int(active.sum())
    scores["protocol"] = protocol
    return scores


def _protocol(num_train, num_eval, batch_size, num_variance_estimate,
              prune_threshold):
    return _checks.protocol(
        "disentanglement_lib", "majority_vote", DISENTANGLEMENT_LIB,
        num_train=num_train, num_eval=num_eval, batch_size=batch_size,
        num_variance_estimate=num_variance_estimate,
        prune_threshold=prune_threshold, prune_on="standard deviation",
    )


def factor_vae_score_from_codes(train_codes, train_factor_index, eval_codes,
                                eval_factor_index, global_codes,
                                prune_threshold=0.05):
    """FactorVAE disentanglement score (Kim & Mnih, 2018) from codes.

    Kim & Mnih (2018), "a new metric for disentanglement" (Sec. 4): each
    point is a group of `L` factor vectors sharing the value of one factor
    `k`. Codes are divided by their empirical standard deviation over the
    whole data (here `global_codes`); the point's vote is the dimension with
    the smallest empirical variance within the group, and its label is `k`.
    A majority-vote classifier maps each dimension to the factor it was
    most often voted for (ties, and dimensions without votes: the smallest
    factor index); the score is its accuracy on held-out points.

    Collapsed dimensions, whose standard deviation over `global_codes`
    (sample variance, `ddof=1`) is below `prune_threshold`, are pruned
    before voting, as in disentanglement_lib (`prune_dims.threshold=0.05`
    in unsupervised_study_v1), and so are constant dimensions; the vote is
    the active dimension with the least ratio of within-group to global
    sample variance. If every dimension is pruned both accuracies are 0.
    Chance level for a random representation is about `1 / num_factors`.

    Args:
        train_codes: float array `(num_train, L, num_latents)`.
        train_factor_index: int array `(num_train,)`, the fixed factor.
        eval_codes: float array `(num_eval, L, num_latents)`.
        eval_factor_index: int array `(num_eval,)`.
        global_codes: float array `(num_samples, num_latents)` of codes of
            uniformly sampled factors, for the scale and the pruning.
        prune_threshold: float >= 0.

    Returns:
        A dict with `"train_accuracy"`, `"eval_accuracy"`,
        `"num_active_dims"` and `"protocol"`.
    """
    layout = "(num_points, group_size, num_latents)"
    train_codes, train_y, eval_codes, eval_y = _checks.check_group_codes(
        train_codes, train_factor_index, eval_codes, eval_factor_index, 3, layout)
    for name, codes in (("train_codes", train_codes),
                        ("eval_codes", eval_codes)):
        if codes.shape[1] < 2:
            raise ValueError(
                f"Argument `{name}` must hold groups of at least 2 codes "
                "(a variance is taken over each group). Received: "
                f"{name}.shape={codes.shape}"
            )
    global_codes = _checks.check_codes("global_codes", global_codes)
    check_num_columns(train_codes=train_codes, eval_codes=eval_codes,
                              global_codes=global_codes)
    prune_threshold = check_float("prune_threshold", prune_threshold,
                                  minimum=0)

    def vote(reduce):
        return _majority_vote_accuracies(
            reduce(train_codes), train_y, reduce(eval_codes), eval_y,
            global_codes.shape[1],
        )

    protocol = _protocol(int(train_codes.shape[0]), int(eval_codes.shape[0]),
                         int(train_codes.shape[1]),
                         int(global_codes.shape[0]), prune_threshold)
    return _factor_vae_scores(_global_variances(global_codes),
                              prune_threshold, vote, protocol)


def _global_variances(global_codes):
    if global_codes.shape[0] < 2:
        raise ValueError(
            "Argument `global_codes` must hold at least 2 codes (a sample "
            "variance is taken). Received: global_codes.shape="
            f"{global_codes.shape}"
        )
    return np.var(global_codes, axis=0, ddof=1)


def compute_factor_vae_score(ground_truth_data, representation_function,
                             random_state, batch_size=64, num_train=10000,
                             num_eval=5000, num_variance_estimate=10000,
                             prune_threshold=0.05):
    """FactorVAE disentanglement score (Kim & Mnih, 2018).

    Samples `num_variance_estimate` points for the global scale, then
    `num_train` training and `num_eval` evaluation groups of `batch_size`
    vectors sharing a uniformly drawn factor, and scores them as
    `factor_vae_score_from_codes` (see there). Defaults follow
    disentanglement_lib.

    Args:
        ground_truth_data: a GroundTruthData dataset.
        representation_function: callable, observations -> codes `(n, d)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        batch_size: int >= 2, group size (`L` in the paper).
        num_train: int >= 1, number of training votes.
        num_eval: int >= 1, number of evaluation votes.
        num_variance_estimate: int >= 2, points for the global variance.
        prune_threshold: float >= 0, see `factor_vae_score_from_codes`.

    Returns:
        The dict of `factor_vae_score_from_codes`, its `"protocol"` with
        the seed.
    """
    batch_size = check_int("batch_size", batch_size, minimum=2)
    num_train = check_int("num_train", num_train, minimum=1)
    num_eval = check_int("num_eval", num_eval, minimum=1)
    num_variance_estimate = check_int("num_variance_estimate",
                                      num_variance_estimate, minimum=2)
    prune_threshold = check_float("prune_threshold", prune_threshold,
                                  minimum=0)
    state, varying, _ = _sampling.prepare(ground_truth_data, random_state)
    global_codes, _ = _sampling.sample_codes(
        ground_truth_data, representation_function, num_variance_estimate,
        state, batch_size,
    )

    def vote(reduce):
        groups = _sampling.sample_train_eval_groups(
            ground_truth_data, representation_function, state, varying,
            num_train, num_eval, batch_size, False, reduce,
        )
        return _majority_vote_accuracies(*groups, global_codes.shape[1])

    protocol = _protocol(num_train, num_eval, batch_size,
                         num_variance_estimate, prune_threshold)
    return _sampling.with_sampling(
        _factor_vae_scores(_global_variances(global_codes), prune_threshold,
                           vote, protocol),
        random_state,
    )
