"""Timing of the disentanglement metric cores on precomputed codes.

Target: MIG and DCI on 10,000 codes x 10 latents with 5 factors, each under
one second on a 2-core CPU. Codes are a fixed random mixing of the factors
plus noise (so every estimator does real work), with 5 nuisance latents.

Run: python bench/metrics_speed.py [--repeats 5]
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
FACTORS_NUM_VALUES = (3, 6, 40, 32, 32)  # dSprites-like cardinalities


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


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(1234)
    codes, factors = make_codes(NUM_CODES, rng)
    test_codes, test_factors = make_codes(NUM_TEST, rng)

    print(f"machine: {platform.platform()}, CPU {cpu_name()}, "
          f"{os.cpu_count()} cores, python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"codes: {NUM_CODES} x {NUM_LATENTS}, factors "
          f"{FACTORS_NUM_VALUES}, test set {NUM_TEST}; median of "
          f"{args.repeats} runs after one warm-up\n")

    cases = {
        "mig_from_codes": lambda: evaluation.mig_from_codes(codes, factors),
        "dci_from_codes (train only)": lambda: evaluation.dci_from_codes(
            codes, factors),
        "dci_from_codes (+5k test)": lambda: evaluation.dci_from_codes(
            codes, factors, test_codes, test_factors),
        "sap_from_codes (+5k test)": lambda: evaluation.sap_from_codes(
            codes, factors, test_codes, test_factors),
    }
    budget = {"mig_from_codes": 1.0, "dci_from_codes (train only)": 1.0}
    for name, fn in cases.items():
        median, times = median_time(fn, args.repeats)
        limit = budget.get(name)
        verdict = "" if limit is None else (
            f"  [{'OK' if median < limit else 'TOO SLOW'}: < {limit:.0f} s]"
        )
        print(f"{name:30s} median {median * 1e3:8.1f} ms  "
              f"(min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f})"
              f"{verdict}")
    mig = evaluation.mig_from_codes(codes, factors)["mig"]
    dci = evaluation.dci_from_codes(codes, factors, test_codes, test_factors)
    print(f"\nvalues: MIG {mig:.3f}, DCI D {dci['disentanglement']:.3f} "
          f"C {dci['completeness']:.3f} I_test "
          f"{dci['informativeness_test']:.3f}")


if __name__ == "__main__":
    main()
