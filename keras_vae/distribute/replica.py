"""Inside the train step: the arithmetic that makes R `tf.distribute`
replicas, each on its slice of the global batch, compute the one-device loss
(used by `BaseVAE.compute_loss`, `FactorVAE` and `Sampling`).

Every function is the identity (or the plain one-device computation) outside
a `tf.distribute` replica context of more than one replica: on one device, on
JAX (whose `DataParallel` step is one global program) and on torch.
"""

import keras


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
