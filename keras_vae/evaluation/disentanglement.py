"""Disentanglement metrics on data with known ground-truth factors.

One module per metric -- `mig`, `dci`, `sap`, `beta_vae_score`,
`factor_vae_score` -- each with two layers, as in disentanglement_lib:

* `compute_<metric>(ground_truth_data, representation_function,
  random_state, ...)` samples factors and observations from a ground-truth
  dataset (disentanglement_lib's `GroundTruthData` interface, see
  `_sampling`), encodes them (e.g. a VAE encoder's means) and calls the
  core;
* `<metric>_from_codes(codes, factors, ...)` is the pure numpy core for
  users with precomputed codes.

Every default is disentanglement_lib's protocol of the
unsupervised_study_v1 (Locatello et al., 2019): the same sample sizes,
classifiers and scoring, so the numbers are comparable with that study's
tables. This library's earlier estimators remain as named variants
(`variant=...`), and Chen et al.'s (2018) own MIG estimator is
`compute_mig_chen2018`. Every result holds a `"protocol"` record: the
protocol's name, the variant, the sample sizes and the seed. All scores
are in `[0, 1]`, higher is better. Factors with a single value in the
sample are skipped with a warning (see `_checks.informative_factors`) and
factors declared with a single value by the dataset are skipped silently.

This module re-exports the public functions.
"""

from keras_vae.evaluation.beta_vae_score import beta_vae_score_from_codes
from keras_vae.evaluation.beta_vae_score import compute_beta_vae_score
from keras_vae.evaluation.dci import compute_dci
from keras_vae.evaluation.dci import dci_from_codes
from keras_vae.evaluation.dci import dci_from_importance
from keras_vae.evaluation.factor_vae_score import compute_factor_vae_score
from keras_vae.evaluation.factor_vae_score import factor_vae_score_from_codes
from keras_vae.evaluation.mig import compute_mig
from keras_vae.evaluation.mig import compute_mig_chen2018
from keras_vae.evaluation.mig import mig_chen2018_from_posteriors
from keras_vae.evaluation.mig import mig_from_codes
from keras_vae.evaluation.sap import compute_sap
from keras_vae.evaluation.sap import sap_from_codes

__all__ = [
    "beta_vae_score_from_codes",
    "compute_beta_vae_score",
    "compute_dci",
    "compute_factor_vae_score",
    "compute_mig",
    "compute_mig_chen2018",
    "compute_sap",
    "dci_from_codes",
    "dci_from_importance",
    "factor_vae_score_from_codes",
    "mig_chen2018_from_posteriors",
    "mig_from_codes",
    "sap_from_codes",
]
