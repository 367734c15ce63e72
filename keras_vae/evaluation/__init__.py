"""Evaluation of learned representations.

* Separability of codes by class labels: k-NN and logistic-regression probe
  accuracies and the silhouette score (`separability`).
* Disentanglement on data with ground-truth factors: MIG, BetaVAE score,
  FactorVAE score, DCI and SAP (`disentanglement`), each as a sampling
  `compute_*` function and a `*_from_codes` core for precomputed codes.
"""

from keras_vae.evaluation.disentanglement import beta_vae_score_from_codes
from keras_vae.evaluation.disentanglement import compute_beta_vae_score
from keras_vae.evaluation.disentanglement import compute_dci
from keras_vae.evaluation.disentanglement import compute_factor_vae_score
from keras_vae.evaluation.disentanglement import compute_mig
from keras_vae.evaluation.disentanglement import compute_sap
from keras_vae.evaluation.disentanglement import dci_from_codes
from keras_vae.evaluation.disentanglement import dci_from_importance
from keras_vae.evaluation.disentanglement import factor_vae_score_from_codes
from keras_vae.evaluation.disentanglement import mig_from_codes
from keras_vae.evaluation.disentanglement import sap_from_codes
from keras_vae.evaluation.separability import knn_accuracy
from keras_vae.evaluation.separability import logistic_accuracy
from keras_vae.evaluation.separability import separability_scores
from keras_vae.evaluation.separability import silhouette
