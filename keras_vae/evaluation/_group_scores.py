"""BetaVAE and FactorVAE scores: classifiers of which factor was fixed.

Both metrics sample groups of observations that share the value of one
ground-truth factor and train a simple classifier to recognize the fixed
factor from the codes (Higgins et al., 2017; Kim & Mnih, 2018). Exported by
`keras_vae.evaluation.disentanglement`.
"""

import numpy as np

from keras_vae._validation import check_float
from keras_vae._validation import check_int
from keras_vae.evaluation import _checks
from keras_vae.evaluation import _estimators
from keras_vae.evaluation import _sampling


def _check_group_codes(name, codes, index_name, index, ndim, layout):
    codes = _checks.check_codes(name, codes, ndim=ndim, layout=layout)
    index = _checks.check_factors(index_name, index, ndim=1,
                                  layout="(num_points,)")
    _checks.check_num_samples(**{name: codes, index_name: index})
    return codes, index


def _pair_features(pair_codes, _=None):
    """BetaVAE features: mean over the group of `|z(v1) - z(v2)|`."""
    return np.mean(np.abs(pair_codes[:, 0] - pair_codes[:, 1]), axis=1)


def _beta_vae_accuracies(train_x, train_y, eval_x, eval_y):
    """Train and eval accuracy of the softmax classifier on the features."""
    classes, train_y = np.unique(train_y, return_inverse=True)
    position = np.minimum(np.searchsorted(classes, eval_y), classes.size - 1)
    known = classes[position] == eval_y  # classes never seen count as errors
    eval_y = position
    x = _estimators.standardize(train_x)
    weights = _estimators.fit_softmax_regression(x, train_y, classes.size)
    train_pred = _estimators.predict_softmax_regression(weights, x)
    eval_pred = _estimators.predict_softmax_regression(
        weights, _estimators.standardize(eval_x, reference=train_x)
    )
    return {
        "train_accuracy": float(np.mean(train_pred == train_y)),
        "eval_accuracy": float(np.mean(known & (eval_pred == eval_y))),
    }


def beta_vae_score_from_codes(train_codes, train_factor_index, eval_codes,
                              eval_factor_index):
    """BetaVAE disentanglement score (Higgins et al., 2017) from codes.

    Higgins et al. (2017), "disentanglement metric" (Sec. 3, Appendix):
    each point is a group of `L` pairs `(v1_l, v2_l)` of factor vectors
    sharing the value of one factor `y` (`[v1_l]_y = [v2_l]_y`); its
    feature is `z_diff = (1/L) sum_l |z(v1_l) - z(v2_l)|` and its label
    `y`. A low-capacity linear classifier predicts `y` from `z_diff`; the
    score is its accuracy on held-out points.

    The classifier is multinomial logistic regression (softmax of an affine
    map, the paper's classifier) on features standardized with the training
    statistics, fitted to convergence by Newton's method with a fixed L2
    penalty of 1e-3 (`_estimators.fit_softmax_regression`): a unique,
    deterministic optimum instead of the paper's Adagrad or
    disentanglement_lib's scikit-learn fit. Chance level is
    `1 / num_factors`.

    Args:
        train_codes: float array `(num_train, 2, L, num_latents)`: codes of
            the first and second members of each pair.
        train_factor_index: int array `(num_train,)`, the shared factor.
        eval_codes: float array `(num_eval, 2, L, num_latents)`.
        eval_factor_index: int array `(num_eval,)`.

    Returns:
        A dict with `"train_accuracy"` and `"eval_accuracy"`.
    """
    layout = "(num_points, 2, group_size, num_latents)"
    train_codes, train_y = _check_group_codes(
        "train_codes", train_codes, "train_factor_index", train_factor_index,
        4, layout,
    )
    eval_codes, eval_y = _check_group_codes(
        "eval_codes", eval_codes, "eval_factor_index", eval_factor_index, 4,
        layout,
    )
    for name, codes in (("train_codes", train_codes),
                        ("eval_codes", eval_codes)):
        if codes.shape[1] != 2:
            raise ValueError(
                f"Argument `{name}` must hold pairs: shape {layout} with 2 "
                f"in the second dimension. Received: {name}.shape="
                f"{codes.shape}"
            )
    _checks.check_num_columns(train_codes=train_codes, eval_codes=eval_codes)
    return _beta_vae_accuracies(
        _pair_features(train_codes), train_y, _pair_features(eval_codes),
        eval_y,
    )


def compute_beta_vae_score(ground_truth_data, representation_fn,
                           random_state, batch_size=64, num_train=10000,
                           num_eval=5000):
    """BetaVAE disentanglement score (Higgins et al., 2017).

    Samples `num_train` training then `num_eval` evaluation points, each a
    group of `batch_size` pairs sharing a uniformly drawn factor, and
    scores them as `beta_vae_score_from_codes` (see there). The defaults
    follow disentanglement_lib (`2 * batch_size * (num_train + num_eval)`
    observations, 1.92M); use fewer points for quick checks.

    Args:
        ground_truth_data: a GroundTruthData dataset.
        representation_fn: callable, observations -> codes `(n, d)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        batch_size: int >= 1, pairs per point (`L` in the paper).
        num_train: int >= 1, number of training points.
        num_eval: int >= 1, number of evaluation points.

    Returns:
        A dict with `"train_accuracy"` and `"eval_accuracy"`.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    num_train = check_int("num_train", num_train, minimum=1)
    num_eval = check_int("num_eval", num_eval, minimum=1)
    random_state, varying, _ = _sampling.prepare(ground_truth_data,
                                                 random_state)
    train_x, train_y = _sampling.sample_groups(
        ground_truth_data, representation_fn, random_state, varying,
        num_train, batch_size, True, _pair_features,
    )
    eval_x, eval_y = _sampling.sample_groups(
        ground_truth_data, representation_fn, random_state, varying,
        num_eval, batch_size, True, _pair_features,
    )
    return _beta_vae_accuracies(train_x, train_y, eval_x, eval_y)


def _argmin_variance_dims(scale, active):
    """FactorVAE votes: per group, the active dim of least scaled variance."""
    candidates = np.flatnonzero(active)

    def reduce(group_codes, _=None):
        normalized = group_codes[..., candidates] / scale[candidates]
        return candidates[np.argmin(np.var(normalized, axis=1), axis=1)]

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


def _factor_vae_scores(variances, prune_threshold, vote):
    """Shared FactorVAE logic: prune, then `vote(reduce)` -> accuracies."""
    active = (variances >= prune_threshold) & (variances > 0)
    if not active.any():
        return {"train_accuracy": 0.0, "eval_accuracy": 0.0,
                "num_active_dims": 0}
    scores = vote(_argmin_variance_dims(np.sqrt(variances), active))
    scores["num_active_dims"] = int(active.sum())
    return scores


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

    Collapsed dimensions, whose variance over `global_codes` is below
    `prune_threshold`, are pruned before voting (as in disentanglement_lib).
    The default 0.05 is an absolute variance, i.e. 5% of the unit variance
    of the N(0, I) prior that VAE codes are matched to; codes on another
    scale need a matching threshold (0 prunes only constant dimensions). If
    every dimension is pruned both accuracies are 0. Chance level for a
    random representation is about `1 / num_factors`.

    Args:
        train_codes: float array `(num_train, L, num_latents)`.
        train_factor_index: int array `(num_train,)`, the fixed factor.
        eval_codes: float array `(num_eval, L, num_latents)`.
        eval_factor_index: int array `(num_eval,)`.
        global_codes: float array `(num_samples, num_latents)` of codes of
            uniformly sampled factors, for the scale and the pruning.
        prune_threshold: float >= 0.

    Returns:
        A dict with `"train_accuracy"`, `"eval_accuracy"` and
        `"num_active_dims"`.
    """
    layout = "(num_points, group_size, num_latents)"
    train_codes, train_y = _check_group_codes(
        "train_codes", train_codes, "train_factor_index", train_factor_index,
        3, layout,
    )
    eval_codes, eval_y = _check_group_codes(
        "eval_codes", eval_codes, "eval_factor_index", eval_factor_index, 3,
        layout,
    )
    for name, codes in (("train_codes", train_codes),
                        ("eval_codes", eval_codes)):
        if codes.shape[1] < 2:
            raise ValueError(
                f"Argument `{name}` must hold groups of at least 2 codes "
                "(a variance is taken over each group). Received: "
                f"{name}.shape={codes.shape}"
            )
    global_codes = _checks.check_codes("global_codes", global_codes)
    _checks.check_num_columns(train_codes=train_codes, eval_codes=eval_codes,
                              global_codes=global_codes)
    prune_threshold = check_float("prune_threshold", prune_threshold,
                                  minimum=0)

    def vote(reduce):
        return _majority_vote_accuracies(
            reduce(train_codes), train_y, reduce(eval_codes), eval_y,
            global_codes.shape[1],
        )

    return _factor_vae_scores(np.var(global_codes, axis=0), prune_threshold,
                              vote)


def compute_factor_vae_score(ground_truth_data, representation_fn,
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
        representation_fn: callable, observations -> codes `(n, d)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        batch_size: int >= 2, group size (`L` in the paper).
        num_train: int >= 1, number of training votes.
        num_eval: int >= 1, number of evaluation votes.
        num_variance_estimate: int >= 2, points for the global variance.
        prune_threshold: float >= 0, see `factor_vae_score_from_codes`.

    Returns:
        A dict with `"train_accuracy"`, `"eval_accuracy"` and
        `"num_active_dims"`.
    """
    batch_size = check_int("batch_size", batch_size, minimum=2)
    num_train = check_int("num_train", num_train, minimum=1)
    num_eval = check_int("num_eval", num_eval, minimum=1)
    num_variance_estimate = check_int("num_variance_estimate",
                                      num_variance_estimate, minimum=2)
    prune_threshold = check_float("prune_threshold", prune_threshold,
                                  minimum=0)
    random_state, varying, _ = _sampling.prepare(ground_truth_data,
                                                 random_state)
    global_codes, _ = _sampling.sample_codes(
        ground_truth_data, representation_fn, num_variance_estimate,
        random_state, batch_size,
    )

    def vote(reduce):
        train_dims, train_y = _sampling.sample_groups(
            ground_truth_data, representation_fn, random_state, varying,
            num_train, batch_size, False, reduce,
        )
        eval_dims, eval_y = _sampling.sample_groups(
            ground_truth_data, representation_fn, random_state, varying,
            num_eval, batch_size, False, reduce,
        )
        return _majority_vote_accuracies(train_dims, train_y, eval_dims,
                                         eval_y, global_codes.shape[1])

    return _factor_vae_scores(np.var(global_codes, axis=0), prune_threshold,
                              vote)
