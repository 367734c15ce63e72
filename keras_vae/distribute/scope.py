"""The public side of data-parallel training: `distributed()` and its
`DataParallelScope`, virtual CPU devices, and the checks made outside the
train step (array batches under JAX, models built under a strategy).

The semantics of a data-parallel run are described in `keras_vae.distribute`;
the arithmetic inside the train step is `keras_vae.distribute.replica`.
"""

import keras

from keras_vae import _validation
from keras_vae.distribute import _devices

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
                devices=_devices.select(devices, _devices.jax_devices(), backend))
            self.num_replicas = int(self.engine.device_mesh.devices.size)
        else:
            import tensorflow as tf

            if multi_worker:
                self.engine = tf.distribute.MultiWorkerMirroredStrategy()
            else:
                chosen = _devices.select(devices, _devices.tf_devices(), backend)
                _devices.check_one_tf_device_set(chosen)
                self.engine = tf.distribute.MirroredStrategy(
                    ["/" + d for d in chosen])
            self.num_replicas = int(self.engine.num_replicas_in_sync)

    @property
    def devices(self):
        """The devices the model is replicated on: on JAX those of every
        process (`multi_worker=True`), on TensorFlow those of this host."""
        if self.backend == "jax":
            return [str(d) for d in self.engine.device_mesh.devices.flat]
        return [_devices.normalize(d) for d in self.engine.extended.worker_devices]

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


def _initialize_jax_cluster():
    import jax

    if not jax.distributed.is_initialized():
        keras.distribution.initialize()
