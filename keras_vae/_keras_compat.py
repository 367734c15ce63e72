"""Where keras-vae works around Keras 3 behaviour, in one place.

`BaseVAE` is a `keras.Model` whose loss is its own (`compute_loss`). A few
Keras behaviours get in the way of such a model: loading a `.keras` file
saved under another backend, building the model under `tf.distribute`,
restoring the optimizer with the weights, reporting metrics on several
TensorFlow workers, and a JAX fit loop interrupted by an error. Each
workaround below names the Keras code it answers (paths under `keras/src/`,
Keras 3.15) and why the default does not fit; they are collected here so
that `keras_vae.models.base` reads as the model and its loss.

`KerasCompatMixin` is mixed into `BaseVAE` (before `keras.Model` in the MRO);
`keep_usable` wraps the Keras loops that `BaseVAE` runs.
"""

import contextlib

import keras
import numpy as np

from keras_vae.distribute import replica


class KerasCompatMixin:
    """The overrides of `keras.Model` methods that `BaseVAE` needs.

    Expects `self.image_shape` (the model's input shape `(H, W, C)`).
    """

    def compile_from_config(self, config):
        """Re-compiles a loaded model with its saved optimizer (`.keras` files).

        Answers `Trainer.compile_from_config` (`trainers/trainer.py`), which
        does not compile at all when `compile()` is overridden (it warns
        instead), and which would deserialize the saved optimizer by the
        module it was saved from. A `.keras` file written under torch records
        the torch-specific optimizer class (`keras.src.backend.torch.
        optimizers...`), which cannot update TensorFlow or JAX variables (the
        known Keras issue that forces `compile=False`). The optimizer is
        therefore rebuilt from its public class name and config with the
        current backend's class, `compile()` is called, and the optimizer is
        built so that its saved variables load.
        """
        config = dict(config)
        # The saved `jit_compile` is the saving backend's resolution of "auto"
        # (always True under JAX); under torch it would switch on
        # torch.compile. Let the loading backend choose again.
        config.pop("jit_compile", None)
        optimizer = config.pop("optimizer", None)
        if isinstance(optimizer, dict) and "class_name" in optimizer:
            optimizer = keras.optimizers.deserialize(
                {"class_name": optimizer["class_name"],
                 "config": optimizer.get("config", {})}
            )
        config = keras.saving.deserialize_keras_object(config)
        config = {k: v for k, v in config.items() if v is not None}
        if optimizer is not None:
            config["optimizer"] = optimizer
        self.compile(**config)
        self.optimizer.build(self.trainable_variables)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Builds the model from its input spec, not from a batch of the data.

        Answers `TensorFlowTrainer._maybe_symbolic_build`
        (`backend/tensorflow/trainer.py`): under a `tf.distribute` strategy it
        opens a fresh iterator on the data at every `fit()` / `evaluate()` and
        pulls a batch from it only to build the model symbolically. Pulling a
        batch would start a pipeline that reshuffles on each iteration
        (`keras_vae.datasets`) on its next permutation, and a data-parallel
        run would see other batches than the one-device run. A VAE's input
        spec is known, so a symbolic batch of that shape is used instead.
        Other backends (and TensorFlow without a strategy) build lazily;
        Keras' method returns without building there.
        """
        if iterator is not None:
            iterator = None
            data_batch = (keras.KerasTensor((None,) + tuple(self.image_shape),
                                            dtype=keras.config.floatx()), None, None)
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights`, restoring the optimizer state too.

        Answers `BaseOptimizer.load_own_variables`
        (`optimizers/base_optimizer.py`), which skips the saved optimizer
        variables with a warning when the optimizer is not built yet (it has
        no variables before its first step). A compiled model's optimizer is
        built first, so that a resumed run continues with the saved
        optimizer moments, as its schedules continue from the saved
        `step_counter`.
        """
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        return super().load_weights(filepath, *args, **kwargs)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Keras' own metrics, made to work on several TensorFlow workers.

        Answers `reduce_per_replica` (`backend/tensorflow/trainer.py`), which
        under a multi-worker `MultiWorkerMirroredStrategy` reduces each log
        with `strategy.reduce("MEAN", v, axis=0)` and fails on scalars
        ("Invalid reduction dimension 0 for input with 0 dimensions",
        tensorflow/tensorflow#72388); see
        `keras_vae.distribute.replica.per_worker_logs`.
        """
        return replica.per_worker_logs(
            super().compute_metrics(x, y, y_pred, sample_weight=sample_weight))


@contextlib.contextmanager
def keep_usable(model, *runners):
    """Leaves `model` usable when a Keras loop it (or `runners`, Keras models
    sharing its variables) runs is interrupted by an error.

    Answers `JAXTrainer._purge_model_variables` (`backend/jax/trainer.py`):
    Keras' JAX trainer detaches the variables' values while its loop runs and
    puts them back at the end (`jax_state_sync`); an exception in between (a
    bad batch, a failing callback) leaves them `None`, and every later call
    fails. Here the trainer's last state is synced back, and any variable
    still detached gets its value from before the call (JAX arrays are
    immutable, so keeping them costs nothing). Other backends update
    variables in place: nothing to do.
    """
    if keras.backend.backend() != "jax":
        yield
        return
    variables = list(model.variables)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        variables += list(optimizer.variables)
    before = [v._value for v in variables]
    try:
        yield
    except BaseException:
        for runner in (model,) + runners:
            if getattr(runner, "_jax_state", None) and not runner._jax_state_synced:
                with contextlib.suppress(Exception):
                    runner.jax_state_sync()
            runner._jax_state = None
            runner._jax_state_synced = True
        for variable, value in zip(variables, before):
            if variable._value is None:
                variable._value = value
        raise


def feeds_tf_data(x, y=None):
    """Whether Keras would feed `x` (and `y`) through its autotuned array
    pipeline: numpy arrays on the tensorflow backend. Arrays with different
    numbers of rows are left to Keras, whose error names them."""
    return (keras.backend.backend() == "tensorflow" and isinstance(x, np.ndarray)
            and (y is None or (isinstance(y, np.ndarray) and y.shape[:1] == x.shape[:1])))


def untuned_array_dataset(x, y=None, batch_size=None, shuffle=False):
    """In-memory arrays as a `tf.data` pipeline without tf.data's
    autotuning, batched as Keras batches arrays; `None` where Keras would
    not build a `tf.data` pipeline (other backends, inputs that are not numpy
    arrays) or for `shuffle="batch"`.

    Answers `ArrayDataAdapter.get_tf_dataset`
    (`trainers/data_adapters/array_data_adapter.py`), which the TensorFlow
    trainer uses for numpy inputs: its parallel `map` and its `prefetch` use
    `tf.data.AUTOTUNE`, and deleting an autotuned iterator waits for the
    autotuning thread, up to as long as the iterator has run. `fit` makes
    one iterator per epoch and `evaluate` / `predict` one per call, so on a
    2-core CPU some epochs of `fit(x)` waited several hundred milliseconds
    before their first batch (`bench/fit_teardown.py --input numpy`).

    The batches are Keras' for arrays: `batch_size` (default 32) rows
    gathered in order, the last partial batch kept, with `shuffle=True` a
    new uniform permutation of all rows at each pass (each epoch of `fit`,
    also under `keras.utils.set_random_seed`), floating arrays cast to
    `keras.config.floatx()`, the batch dimension static when every batch
    is full. The number of batches is known, so progress
    bars and `params["steps"]` read as for arrays, and a `tf.distribute`
    strategy shards the batches (`AutoShardPolicy.DATA`) as it does Keras'.
    The options are those of `keras_vae.datasets.pipeline`.
    """
    if not feeds_tf_data(x, y) or shuffle == "batch":
        return None
    import tensorflow as tf

    from keras_vae.datasets import pipeline

    def tensor(array):
        if np.issubdtype(array.dtype, np.floating):
            array = array.astype(keras.config.floatx(), copy=False)
        return tf.convert_to_tensor(array)

    arrays = (tensor(x),) if y is None else (tensor(x), tensor(y))
    indices = tf.data.Dataset.range(x.shape[0])
    if shuffle:
        indices = indices.shuffle(x.shape[0], reshuffle_each_iteration=True)
    batch_size = batch_size or 32
    # Without a partial batch the batch dimension is static, as in Keras'
    # pipeline (shape checks such as BetaTCVAE's `dataset_size` read it).
    indices = indices.batch(batch_size, drop_remainder=x.shape[0] % batch_size == 0)
    batches = tf.data.Dataset.zip((indices, tf.data.Dataset.from_tensors(arrays).repeat()))

    def gather(rows, arrays):
        parts = tuple(tf.gather(a, rows) for a in arrays)
        return parts[0] if len(parts) == 1 else parts

    options = pipeline._options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return batches.map(gather).prefetch(pipeline.PREFETCH_BATCHES).with_options(options)


def without_autotuning(x, y=None, batch_size=None, shuffle=False):
    """`(x, y, batch_size)` for a Keras loop: the arrays as
    `untuned_array_dataset` where it applies (then `y` and `batch_size` are
    `None`, the dataset holds them), else unchanged."""
    dataset = untuned_array_dataset(x, y, batch_size, shuffle)
    return (x, y, batch_size) if dataset is None else (dataset, None, None)
