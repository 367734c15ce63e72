"""BetaVAE score (Higgins et al., 2017).

The default reproduces disentanglement_lib (Locatello et al., 2019;
`beta_vae_sklearn` with `batch_size=64`, 10,000 training and 5,000
evaluation points in unsupervised_study_v1): scikit-learn's default
`LogisticRegression()` on the raw features. The variant
`"standardized_softmax"` is this library's deterministic Newton fit.
"""

import numpy as np

from keras_vae._validation import check_choice
from keras_vae._validation import check_int
from keras_vae._validation import check_num_columns
from keras_vae.evaluation import _checks
from keras_vae.evaluation import _estimators
from keras_vae.evaluation import _sampling
from keras_vae.evaluation.mig import DISENTANGLEMENT_LIB

VARIANTS = ("disentanglement_lib", "standardized_softmax")


def _pair_features(pair_codes, _=None):
    """BetaVAE features: mean over the group of `|z(v1) - z(v2)|`."""
    diff = pair_codes[:, 0] - pair_codes[:, 1]
    np.abs(diff, out=diff)
    return diff.mean(axis=1)


def _sklearn_accuracies(train_x, train_y, eval_x, eval_y):
    """disentanglement_lib: default `LogisticRegression()` on raw features."""
    from sklearn.linear_model import LogisticRegression

    if np.unique(train_y).size < 2:  # one class: it is always predicted
        return {"train_accuracy": 1.0,
                "eval_accuracy": float(np.mean(eval_y == train_y[0]))}
    model = LogisticRegression()
    model.fit(train_x, train_y)
    return {
        "train_accuracy": float(np.mean(model.predict(train_x) == train_y)),
        "eval_accuracy": float(np.mean(model.predict(eval_x) == eval_y)),
    }


def _softmax_accuracies(train_x, train_y, eval_x, eval_y):
    """Train and eval accuracy of the standardized Newton softmax fit."""
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


def _beta_vae_accuracies(train_x, train_y, eval_x, eval_y, variant,
                         batch_size):
    variant = check_choice("variant", variant, VARIANTS)
    sizes = dict(num_train=int(len(train_y)), num_eval=int(len(eval_y)),
                 batch_size=batch_size)
    if variant == "disentanglement_lib":
        scores = _sklearn_accuracies(train_x, train_y, eval_x, eval_y)
        import sklearn

        scores["protocol"] = _checks.protocol(
            "disentanglement_lib", "logistic_regression",
            DISENTANGLEMENT_LIB, classifier=(
                "sklearn.linear_model.LogisticRegression() (lbfgs, "
                f"multinomial, C=1), scikit-learn {sklearn.__version__}"),
            **sizes)
    else:
        scores = _softmax_accuracies(train_x, train_y, eval_x, eval_y)
        scores["protocol"] = _checks.protocol(
            "keras_vae", "standardized_softmax",
            "none (this library's deterministic classifier)", **sizes)
    return scores


def beta_vae_score_from_codes(train_codes, train_factor_index, eval_codes,
                              eval_factor_index,
                              variant="disentanglement_lib"):
    """BetaVAE disentanglement score (Higgins et al., 2017) from codes.

    Higgins et al. (2017), "disentanglement metric" (Sec. 3, Appendix):
    each point is a group of `L` pairs `(v1_l, v2_l)` of factor vectors
    sharing the value of one factor `y` (`[v1_l]_y = [v2_l]_y`); its
    feature is `z_diff = (1/L) sum_l |z(v1_l) - z(v2_l)|` and its label
    `y`. A low-capacity linear classifier predicts `y` from `z_diff`; the
    score is its accuracy on held-out points.

    `variant="disentanglement_lib"` (default): the classifier is
    scikit-learn's `LogisticRegression()` with the defaults of the
    installed version (for scikit-learn 1.9: L2 penalty with C = 1, lbfgs,
    at most 100 iterations, multinomial for more than two classes) on the
    raw features, as disentanglement_lib fits it; the scores are its
    training and evaluation accuracies.

    `variant="standardized_softmax"`: multinomial logistic regression on
    features standardized with the training statistics, fitted to
    convergence by Newton's method with a fixed L2 penalty of 1e-3
    (`_estimators.fit_softmax_regression`): a unique, deterministic
    optimum that does not depend on the scikit-learn version.

    Chance level is `1 / num_factors`.

    Args:
        train_codes: float array `(num_train, 2, L, num_latents)`: codes of
            the first and second members of each pair.
        train_factor_index: int array `(num_train,)`, the shared factor.
        eval_codes: float array `(num_eval, 2, L, num_latents)`.
        eval_factor_index: int array `(num_eval,)`.
        variant: `"disentanglement_lib"` or `"standardized_softmax"`.

    Returns:
        A dict with `"train_accuracy"`, `"eval_accuracy"` and
        `"protocol"`.
    """
    layout = "(num_points, 2, group_size, num_latents)"
    train_codes, train_y, eval_codes, eval_y = _checks.check_group_codes(
        train_codes, train_factor_index, eval_codes, eval_factor_index, 4, layout)
    for name, codes in (("train_codes", train_codes),
                        ("eval_codes", eval_codes)):
        if codes.shape[1] != 2:
            raise ValueError(
                f"Argument `{name}` must hold pairs: shape {layout} with 2 "
                f"in the second dimension. Received: {name}.shape="
                f"{codes.shape}"
            )
    check_num_columns(train_codes=train_codes, eval_codes=eval_codes)
    return _beta_vae_accuracies(
        _pair_features(train_codes), train_y, _pair_features(eval_codes),
        eval_y, variant, int(train_codes.shape[2]),
    )


def compute_beta_vae_score(ground_truth_data, representation_function,
                           random_state, batch_size=64, num_train=10000,
                           num_eval=5000, variant="disentanglement_lib"):
    """BetaVAE disentanglement score (Higgins et al., 2017).

    Samples `num_train` training then `num_eval` evaluation points, each a
    group of `batch_size` pairs sharing a uniformly drawn factor, and
    scores them as `beta_vae_score_from_codes` (see there). The defaults
    follow disentanglement_lib's unsupervised_study_v1
    (`2 * batch_size * (num_train + num_eval)` observations, 1.92M); use
    fewer points for quick checks.

    Args:
        ground_truth_data: a GroundTruthData dataset.
        representation_function: callable, observations -> codes `(n, d)`.
        random_state: int seed, `np.random.RandomState` or `Generator`.
        batch_size: int >= 1, pairs per point (`L` in the paper).
        num_train: int >= 1, number of training points.
        num_eval: int >= 1, number of evaluation points.
        variant: see `beta_vae_score_from_codes`.

    Returns:
        The dict of `beta_vae_score_from_codes`, its `"protocol"` with the
        seed.
    """
    batch_size = check_int("batch_size", batch_size, minimum=1)
    num_train = check_int("num_train", num_train, minimum=1)
    num_eval = check_int("num_eval", num_eval, minimum=1)
    variant = check_choice("variant", variant, VARIANTS)
    state, varying, _ = _sampling.prepare(ground_truth_data, random_state)
    groups = _sampling.sample_train_eval_groups(
        ground_truth_data, representation_function, state, varying,
        num_train, num_eval, batch_size, True, _pair_features,
    )
    return _sampling.with_sampling(
        _beta_vae_accuracies(*groups, variant, batch_size), random_state,
    )


