"""Evaluation of learned representations.

* Separability of codes by class labels: k-NN and logistic-regression probe
  accuracies and the silhouette score (`separability`).
* Disentanglement on data with ground-truth factors: MIG, BetaVAE score,
  FactorVAE score, DCI and SAP (`mig`, `beta_vae_score`,
  `factor_vae_score`, `dci`, `sap`; all re-exported by `disentanglement`),
  each as a sampling `compute_*` function and a `*_from_codes` core for
  precomputed codes, by default with disentanglement_lib's protocol; plus
  Chen et al.'s (2018) MIG estimator (`compute_mig_chen2018`).
* Likelihood: ELBO, the importance-weighted bound (IWAE), reconstruction
  error, per-dimension KL and active units (`likelihood`).
* The KL decomposition into index-code mutual information, total
  correlation and dimension-wise KL, with minibatch and full-dataset
  estimators (`decomposition`).
* `EvaluationCallback`: any of these on held-out data during `fit`.
"""

from keras_vae.evaluation import decomposition
from keras_vae.evaluation import likelihood
from keras_vae.evaluation.callbacks import EvaluationCallback
from keras_vae.evaluation.decomposition import evaluate_kl_decomposition
from keras_vae.evaluation.decomposition import kl_decomposition
from keras_vae.evaluation.decomposition import minibatch_kl_decomposition
from keras_vae.evaluation.disentanglement import beta_vae_score_from_codes
from keras_vae.evaluation.disentanglement import compute_beta_vae_score
from keras_vae.evaluation.disentanglement import compute_dci
from keras_vae.evaluation.disentanglement import compute_factor_vae_score
from keras_vae.evaluation.disentanglement import compute_mig
from keras_vae.evaluation.disentanglement import compute_mig_chen2018
from keras_vae.evaluation.disentanglement import compute_sap
from keras_vae.evaluation.disentanglement import dci_from_codes
from keras_vae.evaluation.disentanglement import dci_from_importance
from keras_vae.evaluation.disentanglement import factor_vae_score_from_codes
from keras_vae.evaluation.disentanglement import mig_chen2018_from_posteriors
from keras_vae.evaluation.disentanglement import mig_from_codes
from keras_vae.evaluation.disentanglement import sap_from_codes
from keras_vae.evaluation.likelihood import active_units
from keras_vae.evaluation.likelihood import evaluate_elbo
from keras_vae.evaluation.likelihood import iwae_bound
from keras_vae.evaluation.likelihood import kl_per_dimension
from keras_vae.evaluation.likelihood import reconstruction_error
from keras_vae.evaluation.likelihood import unit_activity
from keras_vae.evaluation.separability import knn_accuracy
from keras_vae.evaluation.separability import logistic_accuracy
from keras_vae.evaluation.separability import separability_scores
from keras_vae.evaluation.separability import silhouette
