"""Several keras-vae models trained as one: K runs (seeds, methods) in one
process, on one device, in one compiled program.

A study trains many small models (Locatello et al. 2019: 6 methods x 6
settings x 50 seeds of a 0.76M-parameter net, 300,000 steps of batch 64 each).
One such model leaves a GPU idle between its small kernels; K of them
stepping together fill it.

- `SeedEnsemble(members)` is a `keras.Model` over K independent keras-vae
  models. Its input is one batch per member, shape `(K, batch) + image_shape`;
  its loss is the sum of the members' own `compute_loss`, each on its own
  batch. Because the K parameter sets are disjoint, the gradient of the sum
  with respect to member k's parameters is the gradient of member k's loss,
  and Adam is elementwise (its moments are per parameter; its step count is
  the same for all), so one Adam over the sum is exactly K independent Adam
  runs: member k ends with the weights it would have trained to alone, on
  the same batches, from the same seed (`tests/test_ensemble.py` checks this
  on every backend). FactorVAE's discriminators get their own Adam, as in
  `FactorVAE.compile` (`FactorVAEOptimizers`).
- On JAX with an accelerator (by default; `vectorize=True` anywhere on JAX),
  members with the same class and configuration (one recipe, several seeds)
  are *vectorized*: their variables are stacked and their forward pass and
  loss run under `jax.vmap`, so K seeds take one set of kernels (batched
  matrix products, grouped convolutions) instead of K. Same arithmetic,
  other kernels: equal to float tolerance.
- `DeviceTrainer` keeps the training images on the device and runs many steps
  per call: on JAX with an accelerator a jitted `lax.fori_loop` over
  `ensemble.train_step` (on a CPU a host loop over the jitted step); on
  TensorFlow and torch a loop of `train_on_batch`. The images of each step
  are gathered on the device; only their indices cross from the host, drawn
  by `batch_indices`, a counter-based hash of (member seed, step, slot): a
  member's batches depend on its seed and the step alone, not on the other
  members nor on where a run was interrupted.
- `train_ensemble` trains into a run directory with atomic checkpoints,
  resumes from the last one, stops cleanly at a wall-clock budget, and
  returns each member's preset metadata; `write_presets` writes the presets
  in the layout of `keras_vae.study` (`OUT/runs/<run>/preset`).

`zoo/gpu_study.py` is the command line over these.
"""

from keras_vae.ensemble.model import SeedEnsemble  # noqa: F401
from keras_vae.ensemble.data import Member  # noqa: F401
from keras_vae.ensemble.data import build_member  # noqa: F401
from keras_vae.ensemble.data import check_runs  # noqa: F401
from keras_vae.ensemble.data import batch_indices  # noqa: F401
from keras_vae.ensemble.device import DeviceTrainer  # noqa: F401
from keras_vae.ensemble.device import hardware  # noqa: F401
from keras_vae.ensemble.runs import EnsembleResult  # noqa: F401
from keras_vae.ensemble.runs import ensemble_dir  # noqa: F401
from keras_vae.ensemble.runs import train_ensemble  # noqa: F401
from keras_vae.ensemble.runs import write_presets  # noqa: F401
from keras_vae.ensemble.runs import MANIFEST  # noqa: F401
