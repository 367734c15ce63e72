"""Data-parallel training on the engines Keras already supports.

`distributed()` returns a scope under which a model is built, compiled and
trained data-parallel, with nothing home-made underneath:

* JAX: `keras.distribution.DataParallel` over all local devices (one 1-D
  device mesh; variables replicated, each batch sharded along its first
  axis). The jitted train step is one global (SPMD) program: the loss, the
  metrics and the batch statistics (MMD, total correlation) are those of the
  global batch, exactly as on one device.
* TensorFlow: `tf.distribute.MirroredStrategy` (one host, several devices) or
  `tf.distribute.MultiWorkerMirroredStrategy` (several hosts, cluster from
  `TF_CONFIG`). Each replica runs the step on its slice of the global batch;
  `BaseVAE.compute_loss` makes the result match one device (see below).
* torch: not supported. Keras 3's torch backend has no data-parallel
  distribution API (`keras.distribution` is implemented for JAX, and
  `tf.distribute` is TensorFlow's), so `fit()` cannot train on several
  devices there; `distributed()` raises `NotImplementedError`.

**Semantics** (the same on both engines, tested against a one-device run on
4 virtual CPU devices in `tests/test_distributed.py`):

* Global batch = the dataset's batch size (a recipe's `batch_size`); each of
  the R replicas gets a disjoint `batch_size / R` slice of it, so no example
  is seen twice per epoch. On several hosts, JAX's `DataParallel` shards a
  `tf.data` pipeline by process and TensorFlow auto-shards it by worker.
* Loss and metrics are global-batch averages. Under `tf.distribute` each
  replica's loss is divided by R (`keras.losses.Loss` does the same): the
  optimizer sums the replicas' gradients, and Keras' loss tracker multiplies
  the loss back by R before averaging it over replicas.
* Batch statistics (the MMD to the prior of `MMDVAE`, the total-correlation
  / MSS estimators of `BetaTCVAE`) are computed over the **global** batch:
  on TensorFlow each replica gathers the global batch's `z`, `z_mean` and
  `z_log_var` (`gather`, one all-reduce) and differentiates the statistic
  with respect to its own rows. So the estimators keep the bias and variance
  of the batch size the recipe was tuned for (the MSS total correlation's
  bias, for one, depends on it; see `minibatch_kl_decomposition`), the
  objective does not change with the number of devices, and a 4-replica run
  computes the same loss as a 1-device run.
* The sampling noise is the one-device noise: each TensorFlow replica draws
  the global batch's noise from the shared seed and keeps its own slice.
* Schedules advance once per global step: `step_counter` is a replicated
  variable updated once per step (`aggregation="only_first_replica"`).

**Modules.** `scope` holds the public scope (`distributed`,
`DataParallelScope`, `use_virtual_cpu_devices`) and the checks made outside
the train step; `replica` the arithmetic inside it (`scale_loss`,
`batch_mean`, `gather`, `local_normal`, `gradient_only`, `per_worker_logs`);
`_devices` lists, parses and selects devices. Their names are re-exported
here.
"""

from keras_vae.distribute.replica import batch_mean
from keras_vae.distribute.replica import gather
from keras_vae.distribute.replica import gradient_only
from keras_vae.distribute.replica import local_normal
from keras_vae.distribute.replica import per_worker_logs
from keras_vae.distribute.replica import replica_context
from keras_vae.distribute.replica import scale_loss
from keras_vae.distribute.scope import SUPPORTED_BACKENDS
from keras_vae.distribute.scope import TORCH_MESSAGE
from keras_vae.distribute.scope import DataParallelScope
from keras_vae.distribute.scope import built_under_strategy
from keras_vae.distribute.scope import check_array_batches
from keras_vae.distribute.scope import distributed
from keras_vae.distribute.scope import use_virtual_cpu_devices
