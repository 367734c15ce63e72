"""Image preprocessing shared by every pipeline: scaling, resizing and
binarization, as TensorFlow ops usable inside `tf.data`."""

import tensorflow as tf

BINARIZE_MODES = (None, "threshold", "static", "dynamic")

_GOLDEN = 0x9E3779B1


def to_unit_float(images, max_value, image_size=None):
    """Converts integer images to float32 in [0, 1], optionally resized.

    Args:
        images: Tensor of shape `(..., H, W, C)` with values in
            `[0, max_value]`.
        max_value: The value that maps to 1.0.
        image_size: None, or `(height, width)` to resize to (bilinear,
            antialiased).

    Returns:
        A float32 tensor with values clipped to [0, 1].
    """
    x = tf.cast(images, tf.float32)
    if max_value != 1:
        x = x / float(max_value)
    if image_size is not None:
        x = tf.image.resize(x, image_size, antialias=True)
    return tf.clip_by_value(x, 0.0, 1.0)


def _u32(value):
    return tf.constant(value, tf.uint32)


def _xor_shift(h, bits):
    return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, _u32(bits)))


def _fmix32(h):
    """MurmurHash3's 32-bit finalizer: mixes every input bit into the output."""
    h = _xor_shift(h, 16) * _u32(0x85EBCA6B)
    h = _xor_shift(h, 13) * _u32(0xC2B2AE35)
    return _xor_shift(h, 16)


def hash_uniform(ids, shape, seed):
    """Uniform [0, 1) noise that depends only on (seed, example id, pixel).

    Args:
        ids: int64 tensor `(B,)` of example ids.
        shape: Per-example shape, e.g. `(H, W, C)` (a tensor or list).
        seed: Python int.

    Returns:
        float32 tensor of shape `(B,) + shape`.
    """
    ids = tf.cast(ids, tf.int64)
    low = tf.cast(tf.bitwise.bitwise_and(ids, 0xFFFFFFFF), tf.uint32)
    high = tf.cast(tf.bitwise.right_shift(ids, 32), tf.uint32)
    key = _fmix32(_u32((seed & 0xFFFFFFFF) ^ _GOLDEN))
    key = _fmix32(tf.bitwise.bitwise_xor(key, high))
    key = _fmix32(tf.bitwise.bitwise_xor(key, low))
    counter = tf.cast(tf.range(tf.reduce_prod(shape)), tf.uint32) * _u32(_GOLDEN)
    h = _fmix32(tf.bitwise.bitwise_xor(key[:, None], counter[None, :]))
    u = tf.cast(tf.bitwise.right_shift(h, _u32(8)), tf.float32)
    u = u * (1.0 / (1 << 24))
    return tf.reshape(u, tf.concat([tf.shape(ids), tf.cast(shape, tf.int32)], 0))


def binarize(images, mode, ids=None, seed=0, noise_seed=None):
    """Binarizes a batch of images with values in [0, 1].

    Args:
        images: float32 tensor `(B, H, W, C)`.
        mode: None (no change), `"threshold"` (pixel > 0.5), `"static"`
            (one Bernoulli sample per example, fixed by `seed` and the
            example's id, the same in every epoch) or `"dynamic"` (a fresh
            Bernoulli sample drawn with `noise_seed`).
        ids: int64 tensor `(B,)` of example ids, for `"static"`.
        seed: Python int, for `"static"`.
        noise_seed: int64 tensor of shape `(2,)`, for `"dynamic"`.

    Returns:
        float32 tensor with values 0 and 1 (or `images` when `mode` is None).
    """
    if mode is None:
        return images
    if mode == "threshold":
        noise = 0.5
    elif mode == "static":
        noise = hash_uniform(ids, tf.shape(images)[1:], seed)
    else:
        noise = tf.random.stateless_uniform(tf.shape(images), seed=noise_seed)
    return tf.cast(images > noise, tf.float32)
