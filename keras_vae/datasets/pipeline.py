"""Builds the batched, shuffled, prefetched `tf.data` input pipelines.

Two kinds of sources feed them:

- `IndexedSource`: random access by example index (in-memory arrays,
  procedural dSprites). Each epoch draws a fresh permutation with
  `tf.random.experimental.index_shuffle` (O(1) memory), batches indices and
  fetches whole batches at once.
- A streamed `tf.data.Dataset` of single examples (tfds), shuffled through a
  buffer.

Randomness comes from `tf.data.Dataset.random(seed, rerandomize_each_iteration=True)`,
so the same seed gives the same batches, and every new pass over the
dataset (every `model.fit` epoch) gets a new order and new dynamic
binarization noise.
"""

from typing import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from keras_vae.datasets.preprocessing import binarize as binarize_images
from keras_vae.datasets.preprocessing import to_unit_float

AUTOTUNE = tf.data.AUTOTUNE
# Batches prepared ahead of the consumer (`prefetch`).
PREFETCH_BATCHES = 2


def _options():
    """The pipelines' `tf.data` options: autotuning off.

    With autotuning on, ending an iterator (every `model.fit` or `evaluate`
    call ends one) stops tf.data's autotuning thread, and that stop waited
    up to about as long as the iterator had run: a `fit` of a few hundred
    steps could take nearly twice its training time on a 2-core machine
    (bench/RESULTS.md, "tf.data autotuning"). Without it the map runs on as
    many threads as there are cores and `PREFETCH_BATCHES` batches are
    prepared ahead; the elements are the same either way.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


class IndexedSource(NamedTuple):
    """A dataset read by example index.

    Attributes:
        num_examples: Number of examples.
        fetch: `fetch(indices) -> (images, labels)` mapping an int64 tensor
            `(B,)` to a tensor of integer images `(B, H, W, C)` and a label
            tensor `(B, ...)`.
        max_value: Pixel value that maps to 1.0.
    """

    num_examples: int
    fetch: Callable
    max_value: int


def array_source(images, labels, max_value):
    """An `IndexedSource` over in-memory arrays.

    Args:
        images: Integer array `(N, H, W)` or `(N, H, W, C)`.
        labels: Array `(N, ...)`.
        max_value: Pixel value that maps to 1.0.
    """
    if images.ndim == 3:
        images = images[..., None]
    images = tf.constant(images)
    labels = tf.constant(labels)

    def fetch(indices):
        return tf.gather(images, indices), tf.gather(labels, indices)

    return IndexedSource(int(images.shape[0]), fetch, max_value)


def _epoch_keys(seed):
    """One fresh int64 key per element and per pass over the dataset."""
    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)


def _finish(ds, *, binarize, seed, with_labels):
    """Maps `(ids, images, labels, noise_seed)` batches to model inputs."""

    if seed is None:  # static noise still needs one fixed seed per pipeline
        seed = int(np.random.SeedSequence().generate_state(1)[0])

    def finish(ids, images, labels, noise_seed):
        x = binarize_images(images, binarize, ids=ids, seed=seed, noise_seed=noise_seed)
        return (x, labels) if with_labels else x

    ds = ds.map(finish, num_parallel_calls=AUTOTUNE, deterministic=True)
    return ds.prefetch(PREFETCH_BATCHES).with_options(_options())


def indexed_pipeline(
    source,
    *,
    batch_size,
    shuffle,
    seed,
    binarize,
    image_size,
    with_labels,
    drop_remainder,
):
    """Builds the pipeline over an `IndexedSource`.

    Args:
        source: An `IndexedSource`.
        batch_size: Examples per batch.
        shuffle: Whether to visit examples in a new random order each epoch.
        seed: int seed of the order and of the binarization noise.
        binarize: A mode of `keras_vae.datasets.preprocessing.binarize`.
        image_size: None or `(height, width)` to resize to.
        with_labels: Whether batches are `(images, labels)` or just images.
        drop_remainder: Whether to drop the last, smaller batch.

    Returns:
        A `tf.data.Dataset`.
    """
    n = source.num_examples
    batches = tf.data.Dataset.range(n).batch(batch_size, drop_remainder=drop_remainder)
    num_batches = int(batches.cardinality())

    def epoch(key):
        ds = batches
        if shuffle:
            perm_seed = tf.stack([key, tf.constant(n, tf.int64)])
            ds = ds.map(
                lambda i: tf.random.experimental.index_shuffle(
                    i, seed=perm_seed, max_index=n - 1
                )
            )
        return ds.enumerate().map(lambda step, i: (i, tf.stack([key, step])))

    ds = _epoch_keys(seed).take(1).flat_map(epoch)
    ds = ds.apply(tf.data.experimental.assert_cardinality(num_batches))

    def load(indices, noise_seed):
        images, labels = source.fetch(indices)
        x = to_unit_float(images, source.max_value, image_size)
        return indices, x, labels, noise_seed

    ds = ds.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    return _finish(ds, binarize=binarize, seed=seed, with_labels=with_labels)


def streamed_pipeline(
    examples,
    *,
    max_value,
    batch_size,
    shuffle,
    shuffle_buffer_size,
    seed,
    binarize,
    image_size,
    with_labels,
    drop_remainder,
):
    """Builds the pipeline over a streamed dataset of `(image, label)`.

    Examples are identified for static binarization by a hash of their
    pixels, so their noise does not depend on the order they arrive in.

    Args:
        examples: `tf.data.Dataset` of `(image, label)` with integer images
            `(H, W, C)`.
        max_value: Pixel value that maps to 1.0.
        shuffle_buffer_size: Size of the shuffle buffer.
        Other arguments: as in `indexed_pipeline`.

    Returns:
        A `tf.data.Dataset`.
    """

    def load(image, label):
        uid = tf.constant(0, tf.int64)
        if binarize == "static":
            uid = tf.strings.to_hash_bucket_fast(
                tf.io.serialize_tensor(image), np.iinfo(np.int64).max
            )
        return uid, to_unit_float(image, max_value, image_size), label

    ds = examples.map(load, num_parallel_calls=AUTOTUNE, deterministic=True)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    ds = tf.data.Dataset.zip(ds, _epoch_keys(seed))
    ds = ds.map(
        lambda batch, key: (*batch, tf.stack([key, tf.constant(0, tf.int64)]))
    )
    return _finish(ds, binarize=binarize, seed=seed, with_labels=with_labels)


def to_numpy(ds, with_labels):
    """Concatenates all batches of a pipeline into numpy arrays."""
    batches = list(ds.as_numpy_iterator())
    if not with_labels:
        return np.concatenate(batches) if batches else np.zeros((0,), np.float32)
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    return images, labels
