"""Disentanglement metric cores against their scikit-learn references.

On 10,000 precomputed codes x 10 latents with 5 dSprites-like factors
(3, 6, 40, 32, 32 values; 5,000 test points), each metric's default --
disentanglement_lib's protocol -- is timed next to a reference that runs
disentanglement_lib's own computation (scikit-learn estimators in Python
loops, as in its `evaluation/metrics/*.py`), and both values are printed:

* MIG: `sklearn.metrics.mutual_info_score` on `np.digitize` histogram bins;
* DCI: one `GradientBoostingClassifier()` per factor (slow: minutes; run
  once, factor by factor right after ours on the same factor, so that both
  see the same machine load; `--skip-dci-reference` leaves it out);
* SAP: one `LinearSVC(C=0.01, class_weight="balanced")` per code and
  factor;
* BetaVAE: `LogisticRegression()` (our default calls it: the same work);
* FactorVAE: the majority vote from one group of 64 codes at a time.

Codes are a fixed random mixing of the factors plus noise (so every
estimator does real work), with 5 nuisance latents.

Run: python bench/metrics_speed.py [--repeats 3] [--skip-dci-reference]
"""

import argparse
import os
import platform
import statistics
import time

import numpy as np

from keras_vae import evaluation

NUM_CODES = 10_000
NUM_TEST = 5_000
NUM_LATENTS = 10
GROUP = 64
FACTORS_NUM_VALUES = (3, 6, 40, 32, 32)  # dSprites' cardinalities


def make_codes(num, rng):
    factors = np.stack(
        [rng.integers(0, v, size=num) for v in FACTORS_NUM_VALUES], axis=1
    )
    scaled = factors / np.asarray(FACTORS_NUM_VALUES, dtype=float)
    mixing = np.random.default_rng(0).normal(size=(len(FACTORS_NUM_VALUES),
                                                   NUM_LATENTS))
    mixing[:, :5] += 3 * np.eye(5)  # roughly one latent per factor
    codes = scaled @ mixing + 0.1 * rng.normal(size=(num, NUM_LATENTS))
    return codes, factors


def make_groups(num, rng, paired):
    """Codes of groups sharing one factor: (num, [2,] GROUP, NUM_LATENTS)."""
    k = len(FACTORS_NUM_VALUES)
    fixed = rng.integers(0, k, size=num)
    shape = (num, 2, GROUP) if paired else (num, GROUP)
    factors = np.stack([rng.integers(0, v, size=shape)
                        for v in FACTORS_NUM_VALUES], axis=-1)
    rows = np.arange(num)
    if paired:
        factors[rows, 1, :, fixed] = factors[rows, 0, :, fixed]
    else:
        factors[rows, :, fixed] = factors[rows, :1, fixed]
    flat = factors.reshape(-1, k)
    scaled = flat / np.asarray(FACTORS_NUM_VALUES, dtype=float)
    mixing = np.random.default_rng(0).normal(size=(k, NUM_LATENTS))
    mixing[:, :5] += 3 * np.eye(5)
    codes = scaled @ mixing + 0.1 * rng.normal(size=(len(flat), NUM_LATENTS))
    return codes.reshape(*shape, NUM_LATENTS), fixed


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


# --------------------------------------------- disentanglement_lib references


def reference_mig(codes, factors):
    from sklearn.metrics import mutual_info_score

    binned = [np.digitize(c, np.histogram(c, 20)[1][:-1]) for c in codes.T]
    gaps = []
    for f in factors.T:
        info = np.sort([mutual_info_score(f, b) for b in binned])
        gaps.append((info[-1] - info[-2]) / mutual_info_score(f, f))
    return float(np.mean(gaps))


def reference_dci_factor(codes, factor, test_codes, test_factor):
    """One factor of disentanglement_lib's `compute_importance_gbt`."""
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier()
    model.fit(codes, factor)
    return (np.abs(model.feature_importances_),
            np.mean(model.predict(test_codes) == test_factor))


def ours_dci_factor(codes, factor, test_codes, test_factor):
    result = evaluation.dci_from_codes(codes, factor[:, None], test_codes,
                                       test_factor[:, None])
    return result["importance_matrix"][:, 0], result["informativeness_test"]


def dci_scores(importance, test):
    """disentanglement_lib's D and C of the importance matrix, mean I."""
    from scipy.stats import entropy

    per_code = 1 - entropy(importance.T + 1e-11, base=importance.shape[1])
    per_factor = 1 - entropy(importance + 1e-11, base=importance.shape[0])
    total = importance.sum()
    return (float(np.sum(per_code * importance.sum(1) / total)),
            float(np.sum(per_factor * importance.sum(0) / total)),
            float(np.mean(test)))


def interleaved_dci(codes, factors, test_codes, test_factors, reference):
    """DCI factor by factor, ours then the reference (same machine load).

    Returns the seconds and the (D, C, I_test) of both.
    """
    seconds = {"ours": 0.0, "reference": 0.0}
    parts = {"ours": [], "reference": []}
    fns = {"ours": ours_dci_factor}
    if reference:
        fns["reference"] = reference_dci_factor
    for j in range(factors.shape[1]):
        for name, fn in fns.items():
            start = time.perf_counter()
            parts[name].append(fn(codes, factors[:, j], test_codes,
                                  test_factors[:, j]))
            seconds[name] += time.perf_counter() - start
    values = {name: dci_scores(np.stack([p[0] for p in part], axis=1),
                               [p[1] for p in part])
              for name, part in parts.items() if part}
    return seconds, values


def reference_sap(codes, factors, test_codes, test_factors):
    from sklearn.svm import LinearSVC

    scores = np.zeros((codes.shape[1], factors.shape[1]))
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            model = LinearSVC(C=0.01, class_weight="balanced")
            model.fit(codes[:, i:i + 1], factors[:, j])
            scores[i, j] = np.mean(
                model.predict(test_codes[:, i:i + 1]) == test_factors[:, j])
    ordered = np.sort(scores, axis=0)
    return float(np.mean(ordered[-1] - ordered[-2]))


def reference_beta_vae(train, train_y, evals, eval_y):
    from sklearn.linear_model import LogisticRegression

    features = np.abs(train[:, 0] - train[:, 1]).mean(axis=1)
    model = LogisticRegression().fit(features, train_y)
    eval_features = np.abs(evals[:, 0] - evals[:, 1]).mean(axis=1)
    return float(model.score(eval_features, eval_y))


def reference_factor_vae(train, train_y, evals, eval_y, global_codes):
    variances = np.var(global_codes, axis=0, ddof=1)
    active = np.sqrt(variances) >= 0.05

    def votes(groups, labels):
        table = np.zeros((len(FACTORS_NUM_VALUES), NUM_LATENTS), np.int64)
        for group, k in zip(groups, labels):
            local = np.var(group, axis=0, ddof=1)
            table[k, np.argmin(local[active] / variances[active])] += 1
        return table

    classifier = np.argmax(votes(train, train_y), axis=0)
    table = votes(evals, eval_y)
    return float(table[classifier, np.arange(table.shape[1])].sum()
                 / table.sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-dci-reference", action="store_true")
    args = parser.parse_args()

    rng = np.random.default_rng(1234)
    codes, factors = make_codes(NUM_CODES, rng)
    test_codes, test_factors = make_codes(NUM_TEST, rng)
    pairs, pairs_y = make_groups(NUM_CODES, rng, paired=True)
    eval_pairs, eval_pairs_y = make_groups(NUM_TEST, rng, paired=True)
    groups, groups_y = make_groups(NUM_CODES, rng, paired=False)
    eval_groups, eval_groups_y = make_groups(NUM_TEST, rng, paired=False)
    global_codes, _ = make_codes(NUM_CODES, rng)

    print(f"machine: {platform.platform()}, CPU {cpu_name()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}, "
          f"numpy {np.__version__}, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"codes: {NUM_CODES} x {NUM_LATENTS}, factors "
          f"{FACTORS_NUM_VALUES}, test set {NUM_TEST}; groups of {GROUP} "
          f"({NUM_CODES} train, {NUM_TEST} eval) for BetaVAE/FactorVAE; "
          f"median of {args.repeats} runs (the DCI reference: one run)\n")

    cases = [
        ("MIG", lambda: evaluation.mig_from_codes(codes, factors)["mig"],
         lambda: reference_mig(codes, factors), args.repeats),
        ("DCI (D, C, I_test)", None, None, 1),
        ("SAP", lambda: evaluation.sap_from_codes(
            codes, factors, test_codes, test_factors)["sap"],
         lambda: reference_sap(codes, factors, test_codes, test_factors),
         args.repeats),
        ("BetaVAE (eval accuracy)", lambda: evaluation.beta_vae_score_from_codes(
            pairs, pairs_y, eval_pairs, eval_pairs_y)["eval_accuracy"],
         lambda: reference_beta_vae(pairs, pairs_y, eval_pairs, eval_pairs_y),
         args.repeats),
        ("FactorVAE (eval accuracy)",
         lambda: evaluation.factor_vae_score_from_codes(
             groups, groups_y, eval_groups, eval_groups_y,
             global_codes)["eval_accuracy"],
         lambda: reference_factor_vae(groups, groups_y, eval_groups,
                                      eval_groups_y, global_codes),
         args.repeats),
    ]
    print(f"{'metric':26s} {'keras-vae':>10s} {'reference':>10s} "
          f"{'speed-up':>8s}  values (keras-vae | reference)")
    for name, ours, reference, repeats in cases:
        if ours is None:  # DCI: factor by factor, interleaved
            seconds, values = interleaved_dci(
                codes, factors, test_codes, test_factors,
                not args.skip_dci_reference)
            ours_s, ours_v = seconds["ours"], values["ours"]
            ref_v = values.get("reference")
            ref_s = seconds["reference"] if ref_v else float("nan")
            ratio = f"{ref_s / ours_s:.1f}x" if ref_v else "-"
        elif reference is None:
            ours_s, ours_v = timed(ours, repeats)
            ref_s, ref_v, ratio = float("nan"), None, "-"
        else:
            ours_s, ours_v = timed(ours, repeats)
            ref_s, ref_v = timed(reference, repeats)
            ratio = f"{ref_s / ours_s:.1f}x"

        def fmt(v):
            if v is None:
                return "not run"
            if isinstance(v, tuple):
                return ", ".join(f"{x:.4f}" for x in v)
            return f"{v:.4f}"

        print(f"{name:26s} {ours_s:9.2f}s {ref_s:9.2f}s {ratio:>8s}  "
              f"{fmt(ours_v)} | {fmt(ref_v)}", flush=True)


if __name__ == "__main__":
    main()
