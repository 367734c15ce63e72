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
"""

import numbers

import keras

from keras_vae import _validation

SUPPORTED_BACKENDS = ("jax", "tensorflow")

TORCH_MESSAGE = (
    "Data-parallel training is not supported on the torch backend: Keras 3's "
    "torch backend has no distribution API (keras.distribution is implemented "
    "for JAX, tf.distribute is TensorFlow's), so model.fit() trains on one "
    "device there. Run with KERAS_BACKEND=jax or KERAS_BACKEND=tensorflow to "
    "train on several devices (the saved weights load under torch), or train "
    "on one device under torch."
)


def distributed(devices=None, multi_worker=False):
    """A data-parallel scope: build, compile and fit a model inside it.

    ```python
    with keras_vae.distributed() as scope:  # all local devices
        model = keras_vae.VAE(input_shape=(28, 28, 1), latent_dim=16)
        model.compile(optimizer="adam")
        model.fit(dataset.batch(128, drop_remainder=True), epochs=10)
    print(scope.num_replicas)
    ```

    The global batch is the batch size of the data given to `fit()`; it must
    be a multiple of `num_replicas`. Keep the `fit()` call inside the scope
    (on JAX the distribution is read when the train step is built). The
    trained model can be evaluated, saved and exported after the scope.

    Args:
        devices: None for all local devices (TensorFlow: all GPUs, or all
            logical CPU devices when there is no GPU); an int n for the
            first n of them; or a list of device names such as
            `["gpu:0", "gpu:1"]` (`keras.distribution.list_devices()` style;
            `/gpu:0` and `/device:GPU:0` are accepted too).
        multi_worker: True to train on several hosts, each running the same
            program: on JAX, calls `keras.distribution.initialize()` (cluster
            from `KERAS_DISTRIBUTION_JOB_ADDRESSES`, `..._NUM_PROCESSES`,
            `..._PROCESS_ID`; call this first thing in the program) and
            shards over the devices of all hosts; on TensorFlow, uses
            `tf.distribute.MultiWorkerMirroredStrategy` (cluster from
            `TF_CONFIG`) over all local GPUs of each host. `devices` must be
            None then.

    Returns:
        A `DataParallelScope` context manager with `num_replicas`, `backend`
        and `engine` (the `keras.distribution.DataParallel` or the
        `tf.distribute.Strategy`).

    Raises:
        NotImplementedError: on the torch (or any other) backend.
    """
    return DataParallelScope(devices=devices, multi_worker=multi_worker)


class DataParallelScope:
    """The context manager returned by `distributed()`; see there."""

    def __init__(self, devices=None, multi_worker=False):
        backend = keras.backend.backend()
        if backend not in SUPPORTED_BACKENDS:
            if backend == "torch":
                raise NotImplementedError(f"{TORCH_MESSAGE} Received: backend='torch'")
            raise NotImplementedError(
                "Data-parallel training needs the jax or tensorflow backend. "
                f"Received: backend={backend!r}"
            )
        if not isinstance(multi_worker, bool):
            raise TypeError(
                "Argument `multi_worker` must be a bool. "
                f"Received: multi_worker={multi_worker!r}"
            )
        if multi_worker and devices is not None:
            raise ValueError(
                "Pass `devices` only for training on one host; with "
                "`multi_worker=True` every host uses all its local devices. "
                f"Received: devices={devices!r}, multi_worker=True"
            )
        self.backend = backend
        self.multi_worker = multi_worker
        self._entered = []
        if backend == "jax":
            if multi_worker:
                _initialize_jax_cluster()
            self.engine = keras.distribution.DataParallel(
                devices=_select(devices, _jax_devices(), backend))
            self.num_replicas = int(self.engine.device_mesh.devices.size)
        else:
            import tensorflow as tf

            if multi_worker:
                self.engine = tf.distribute.MultiWorkerMirroredStrategy()
            else:
                chosen = _select(devices, _tf_devices(), backend)
                _check_one_tf_device_set(chosen)
                self.engine = tf.distribute.MirroredStrategy(
                    ["/" + d for d in chosen])
            self.num_replicas = int(self.engine.num_replicas_in_sync)

    @property
    def devices(self):
        """The devices the model is replicated on: on JAX those of every
        process (`multi_worker=True`), on TensorFlow those of this host."""
        if self.backend == "jax":
            return [str(d) for d in self.engine.device_mesh.devices.flat]
        return [_normalize(d) for d in self.engine.extended.worker_devices]

    def describe(self):
        """One line: the engine and the number of replicas."""
        if self.backend == "jax":
            name = "keras.distribution.DataParallel"
        elif self.multi_worker:
            name = "tf.distribute.MultiWorkerMirroredStrategy"
        else:
            name = "tf.distribute.MirroredStrategy"
        return f"{name} with {self.num_replicas} replicas"

    def check_batch_size(self, batch_size):
        """Raises unless the global batch splits evenly over the replicas."""
        batch_size = _validation.check_int("batch_size", batch_size, minimum=1)
        if batch_size % self.num_replicas:
            raise ValueError(
                f"The global batch size must be a multiple of the number of "
                f"replicas ({self.num_replicas}), so that every replica gets "
                f"an equal slice. Received: batch_size={batch_size}"
            )
        return batch_size

    def __enter__(self):
        if self.backend == "jax":
            previous = keras.distribution.distribution()
            keras.distribution.set_distribution(self.engine)
            self._entered.append(previous)
        else:
            scope = self.engine.scope()
            scope.__enter__()
            self._entered.append(scope)
        return self

    def __exit__(self, *exc_info):
        entered = self._entered.pop()
        if self.backend == "jax":
            keras.distribution.set_distribution(entered)
            return False
        return entered.__exit__(*exc_info)

    def __repr__(self):
        return f"<DataParallelScope {self.describe()}: {self.devices}>"


def use_virtual_cpu_devices(num_devices):
    """Splits the host CPU into `num_devices` devices, to test data-parallel
    training on a machine without accelerators (no speed-up: they share the
    cores).

    Must run before the backend initializes its devices (before the first
    tensor op): on JAX it sets the `jax_num_cpu_devices` option (the same as
    `XLA_FLAGS=--xla_force_host_platform_device_count=N`); on TensorFlow it
    gives the CPU `num_devices` logical device configurations. A no-op when
    the CPU already has that many devices.

    Raises:
        RuntimeError: when the devices are already initialized differently.
        NotImplementedError: on the torch backend.
    """
    num_devices = _validation.check_int("num_devices", num_devices, minimum=1)
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        if jax.config.jax_num_cpu_devices == num_devices:
            return
        try:
            jax.config.update("jax_num_cpu_devices", num_devices)
        except RuntimeError as e:
            count = len(jax.devices("cpu"))
            if count == num_devices:
                return
            raise RuntimeError(
                f"JAX has already initialized {count} CPU device(s); call "
                "use_virtual_cpu_devices() before any JAX operation, or set "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={num_devices} "
                f"before starting Python. Received: num_devices={num_devices}"
            ) from e
    elif backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        current = tf.config.get_logical_device_configuration(cpu)
        if current is not None and len(current) == num_devices:
            return
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * num_devices)
        except RuntimeError as e:
            count = len(tf.config.list_logical_devices("CPU"))
            if count == num_devices:
                return
            raise RuntimeError(
                f"TensorFlow has already initialized {count} CPU device(s); call "
                "use_virtual_cpu_devices() before any TensorFlow operation. "
                f"Received: num_devices={num_devices}"
            ) from e
    elif backend == "torch":
        raise NotImplementedError(f"{TORCH_MESSAGE} Received: backend='torch'")
    else:
        raise NotImplementedError(
            f"Virtual devices need the jax or tensorflow backend. "
            f"Received: backend={backend!r}")


# === Inside the train step (used by BaseVAE and Sampling) ===

def replica_context():
    """The `tf.distribute` replica context when the current step runs on
    R > 1 replicas that each see a slice of the batch; None otherwise
    (one device, JAX's global SPMD step, or a cross-replica context)."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync <= 1:
        return None
    return context


def scale_loss(local_loss, global_loss=None):
    """One replica's share of the loss under `tf.distribute`; `local_loss +
    global_loss` unchanged elsewhere.

    `local_loss` is a mean over this replica's examples: it is divided by
    the number of replicas R, as Keras' own losses do, since the optimizer
    sums the replicas' gradients. `global_loss` is a function of the global
    batch from `gather` (the same value on every replica, each differentiating
    it with respect to its own rows): its value is divided by R but its
    gradient is kept whole, so that the summed gradients are the global ones.
    Keras' loss tracker multiplies the returned value back by R, so it reports
    `local_loss + global_loss` averaged over the replicas.
    """
    if global_loss is None:
        global_loss = keras.ops.zeros((), local_loss.dtype)
    context = replica_context()
    if context is None:
        return local_loss + global_loss
    import tensorflow as tf

    fraction = 1.0 / context.num_replicas_in_sync
    return (local_loss + global_loss) * fraction + (1.0 - fraction) * (
        global_loss - tf.stop_gradient(global_loss))


def gradient_only(loss):
    """A term whose value is 0 and whose gradient is that of `loss`, for a
    loss of the global batch that reaches weights directly, not only through
    this replica's rows of `gather` (FactorVAE's discriminator loss).

    Added to the regularizer given to `scale_loss`, whose gradient is kept
    whole on every replica: under `tf.distribute` such a loss has the same
    gradient on each of the R replicas and the optimizer sums them, so the
    term's gradient is divided by R here. Elsewhere, `loss - stop_gradient(loss)`.
    """
    term = loss - keras.ops.stop_gradient(loss)
    context = replica_context()
    if context is not None:
        term = term / context.num_replicas_in_sync
    return term


def batch_mean(values):
    """The batch mean of per-example values `(batch,)`, ready for
    `scale_loss` and for a `keras.metrics.Mean` weighted by the batch size.

    On one device (and under JAX): `mean(values)`. Under `tf.distribute`
    with slices of unknown size (e.g. a last, smaller global batch split
    unevenly, perhaps leaving a replica none), its value is the local mean
    (0 for an empty slice), which Keras' trackers weight by the local count,
    and its gradient that of `R * sum(local values) / global count`, so the
    replicas' gradients add up to the global mean's however the batch was
    split. With equal static slices the two coincide.
    """
    mean = keras.ops.mean(values)
    context = replica_context()
    if context is None:
        return mean
    import tensorflow as tf

    local, _, total = _local_rows(context, tf.shape(values)[0], values.shape[0])
    if isinstance(local, int):  # equal static slices
        return mean
    total_sum = tf.reduce_sum(values)
    share = total_sum * (context.num_replicas_in_sync / tf.cast(total, values.dtype))
    local_mean = tf.math.divide_no_nan(tf.stop_gradient(total_sum),
                                       tf.cast(local, values.dtype))
    return local_mean + (share - tf.stop_gradient(share))


def gather(tensors):
    """The global batch of each tensor (the replicas' slices concatenated
    along the first axis, in replica order); returns the tensors unchanged
    outside a `tf.distribute` replica context.

    Each replica zero-pads its slice to the global batch at its own rows and
    the replicas' padded tensors are summed (`ReplicaContext.all_reduce`, the
    collective the optimizer uses for the gradients; adding zeros is exact).
    The gradient flows only into this replica's own rows, and is the full
    derivative of a global statistic with respect to them; so the value of a
    replica's loss `f(gathered)` is divided by the number of replicas but not
    its gradient (`scale_loss`). No collective runs in the backward pass.
    """
    context = replica_context()
    if context is None:
        return tensors
    import tensorflow as tf

    tensors = [tf.convert_to_tensor(t) for t in tensors]
    local, start, total = _local_rows(context, tf.shape(tensors[0])[0],
                                      tensors[0].shape[0])

    def pad(tensor):
        return tf.pad(tensor, [[start, total - start - local]]
                      + [[0, 0]] * (len(tensor.shape) - 1))

    summed = context.all_reduce(
        tf.distribute.ReduceOp.SUM, [pad(tf.stop_gradient(t)) for t in tensors])
    return [tf.stop_gradient(full) + pad(t - tf.stop_gradient(t))
            for t, full in zip(tensors, summed)]


def _local_rows(context, local, static_local):
    """`(local, start, total)`: this replica's row count, its first row in
    the global batch and the global row count."""
    import tensorflow as tf

    replicas = context.num_replicas_in_sync
    replica = context.replica_id_in_sync_group
    if static_local is not None:  # equal static slices
        return static_local, replica * static_local, static_local * replicas
    # Slices of unknown, possibly unequal, sizes: share them.
    sizes = context.all_reduce(
        tf.distribute.ReduceOp.SUM,
        tf.one_hot(replica, replicas) * tf.cast(local, tf.float32))
    sizes = tf.cast(tf.round(sizes), tf.int32)
    return local, tf.reduce_sum(sizes[:replica]), tf.reduce_sum(sizes)


def local_normal(shape, dtype, seed):
    """`keras.random.normal(shape)` for this replica's slice of the global
    batch: each replica draws the global batch's noise and keeps its rows, so
    R replicas use the same noise as one device with the same seed."""
    context = replica_context()
    if context is None:
        return keras.random.normal(shape, dtype=dtype, seed=seed)
    static = shape[0] if isinstance(shape[0], int) else None
    local, start, total = _local_rows(context, shape[0], static)
    noise = keras.random.normal((total,) + tuple(shape[1:]), dtype=dtype, seed=seed)
    return noise[start:start + local]


def per_worker_logs(logs):
    """Makes a step's scalar logs 1-element vectors under a multi-worker
    `tf.distribute.MultiWorkerMirroredStrategy`, where Keras 3 reduces them
    across workers along axis 0 and fails on scalars ("Invalid reduction
    dimension 0 for input with 0 dimensions", tensorflow/tensorflow#72388);
    the reduced logs are scalars again. Unchanged elsewhere."""
    if keras.backend.backend() != "tensorflow":
        return logs
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    in_cluster = getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and in_cluster()):
        return logs
    return {k: tf.reshape(v, [1]) if len(getattr(v, "shape", ())) == 0 else v
            for k, v in logs.items()}


def check_array_batches(data, batch_size):
    """Under JAX's `DataParallel`, a clear error when the batches of an array
    (the last, smaller one included) do not split evenly over the devices:
    JAX cannot shard them (`IndivisibleError`). TensorFlow splits them
    unevenly, which `BaseVAE` handles exactly."""
    if keras.backend.backend() != "jax" or not hasattr(data, "shape"):
        return
    distribution = keras.distribution.distribution()
    try:
        mesh = distribution.device_mesh
        devices = mesh.shape[list(mesh.axis_names).index(distribution.batch_dim_name)]
    except (AttributeError, ValueError, IndexError, TypeError):
        return
    size = int(data.shape[0])
    batch_size = batch_size or 32  # Keras' default
    last = size % batch_size or batch_size
    if devices > 1 and (batch_size % devices or last % devices):
        raise ValueError(
            f"Under JAX's DataParallel every batch is sharded over the "
            f"{devices} devices, so the batch size and the last batch must be "
            f"multiples of {devices}; pass a tf.data dataset batched with "
            "drop_remainder=True, or a number of examples that is a multiple "
            f"of the batch size. Received: {size} examples in batches of "
            f"{batch_size} (the last of {last})"
        )


def built_under_strategy(model):
    """Whether `model` was built under a `tf.distribute` strategy of more
    than one replica (its `predict_on_batch` then returns R times the rows:
    use `predict()` or call it)."""
    strategy = getattr(model, "_distribute_strategy", None)
    return strategy is not None and strategy.num_replicas_in_sync > 1


# === Helpers ===

_TF_DEVICE_SETS = []


def _check_one_tf_device_set(devices):
    # TensorFlow numbers the collective groups of every MirroredStrategy of a
    # process from the same key, so a strategy over other devices than an
    # earlier one fails in its first all-reduce ("joining a group with size
    # 2, but that group has size 4"), for any Keras model. Say so up front.
    if len(devices) < 2:
        return
    earlier = next((d for d in _TF_DEVICE_SETS if d != devices), None)
    if earlier is not None:
        raise RuntimeError(
            "TensorFlow trains with one set of devices per process: this "
            f"process already made a MirroredStrategy over {earlier}, and "
            "TensorFlow's collectives cannot then run over other devices. "
            "Start a new process for another set of devices. Received: "
            f"devices={devices}"
        )
    if devices not in _TF_DEVICE_SETS:
        _TF_DEVICE_SETS.append(list(devices))


def _initialize_jax_cluster():
    import jax

    if not jax.distributed.is_initialized():
        keras.distribution.initialize()


def _jax_devices():
    return [_normalize(d) for d in keras.distribution.list_devices()]


def _tf_devices():
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [_normalize(d.name) for d in devices]


def _normalize(name):
    """`/device:GPU:0`, `/gpu:0`, `GPU:0` -> `gpu:0`."""
    name = name.rsplit("/", 1)[-1]
    if name.lower().startswith("device:"):
        name = name[len("device:"):]
    return name.lower()


def _select(devices, available, backend):
    if devices is None:
        return available
    if isinstance(devices, bool):
        raise TypeError(
            "Argument `devices` must be None, an int or a list of device "
            f"names. Received: devices={devices!r}"
        )
    if isinstance(devices, numbers.Integral):
        devices = int(devices)
        if devices < 1 or devices > len(available):
            raise ValueError(
                f"Argument `devices` must be between 1 and the number of local "
                f"devices, {len(available)} ({available}); on a CPU-only machine "
                "use_virtual_cpu_devices(n) (CLI: --virtual-devices N) splits "
                f"the CPU into n devices. Received: devices={devices}"
            )
        return available[:devices]
    if isinstance(devices, str) or not isinstance(devices, (list, tuple)) or not all(
            isinstance(d, str) for d in devices):
        raise TypeError(
            "Argument `devices` must be None, an int or a list of device "
            f"names such as ['gpu:0', 'gpu:1']. Received: devices={devices!r}"
        )
    chosen = [_normalize(d) for d in devices]
    unknown = [d for d, c in zip(devices, chosen) if c not in available]
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise ValueError(
            f"Argument `devices` must name distinct local {backend} devices, "
            f"some of {available}. Received: devices={list(devices)!r}"
        )
    return chosen
