"""Image datasets from TensorFlow Datasets (tfds), read from local files.

`tensorflow_datasets` is imported lazily, on first use.
"""

import re

import numpy as np

# Split sizes of tfds datasets the zoo trains on, known without their
# prepared metadata (MNIST: LeCun et al., 1998).
NUM_EXAMPLES = {"mnist": {"train": 60_000, "test": 10_000}}
# tfds datasets whose uint8 pixels are 0/1 rather than 0..255.
_PIXEL_MAX = {"dsprites": 1}
# Factor order of datasets with one ClassLabel feature per factor.
_LABEL_ORDER = {
    "dsprites": (
        "label_shape",
        "label_scale",
        "label_orientation",
        "label_x_position",
        "label_y_position",
    ),
    "shapes3d": (
        "label_floor_hue",
        "label_wall_hue",
        "label_object_hue",
        "label_scale",
        "label_shape",
        "label_orientation",
    ),
}


def _tfds():
    import tensorflow_datasets as tfds

    return tfds


def builder(name, data_dir=None):
    """The tfds builder of `name`, or None if tfds has no such dataset.

    Args:
        name: tfds dataset name, e.g. `"mnist"`.
        data_dir: tfds data folder (None: the tfds default).
    """
    tfds = _tfds()
    try:
        return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        return None


def _image_key(name, features):
    tfds = _tfds()
    for key, feature in features.items():
        if isinstance(feature, tfds.features.Image):
            return key
    raise ValueError(
        f"The tfds dataset {name!r} has no top-level image feature, so it "
        f"cannot be loaded as images. Received: name={name!r}"
    )


def _label_fn(name, features):
    """A function `example -> int32 labels`, or None if there are none."""
    import tensorflow as tf

    if "label" in features:
        return lambda ex: tf.cast(ex["label"], tf.int32)
    keys = _LABEL_ORDER.get(name) or tuple(
        k for k in features.keys() if k.startswith("label_")
    )
    if keys:
        return lambda ex: tf.stack([tf.cast(ex[k], tf.int32) for k in keys])
    if "attributes" in features:
        attrs = sorted(features["attributes"].keys())
        return lambda ex: tf.stack(
            [tf.cast(ex["attributes"][k], tf.int32) for k in attrs]
        )
    return None


def _check_split(name, split, known_splits):
    if not isinstance(split, str):
        raise TypeError(
            f"Argument `split` must be a string such as 'train' or "
            f"'train[:10%]'. Received: split={split!r}"
        )
    if not known_splits:  # info without split metadata accepts any split
        return
    names = {re.split(r"\[", part.strip())[0] for part in split.split("+")}
    unknown = sorted(names - set(known_splits))
    if unknown:
        raise ValueError(
            f"Argument `split` must name splits of {name!r}: one of "
            f"{sorted(known_splits)}, optionally sliced like 'train[:10%]'. "
            f"Received: split={split!r}"
        )


def _not_prepared(name, data_dir, error):
    return FileNotFoundError(
        f"The tfds dataset {name!r} is not prepared in {data_dir}. Prepare it "
        f"with `tfds.builder({name!r}).download_and_prepare()`, or pass "
        f"download=True to let keras_vae.datasets.load() do it. ({error})"
    )


def open_split(builder, split, *, download=False, shuffle_files=False, seed=None):
    """Opens one split of a tfds image dataset.

    Args:
        builder: A tfds builder, from `builder()`.
        split: tfds split string, e.g. `"train"` or `"test[:50%]"`.
        download: Whether to download and prepare the dataset if needed.
        shuffle_files: Whether to read the files in a seeded random order.
        seed: Seed of the file order.

    Returns:
        A tuple `(examples, info)`: `examples` is a `tf.data.Dataset` of
        `(image, label)` (label is 0 when the dataset has none) and `info`
        a dict with keys `max_value`, `image_shape`, `has_labels` and
        `num_examples` (None when unknown).

    Raises:
        ValueError: For an unknown split or a dataset without images.
        FileNotFoundError: If the dataset is not prepared and `download`
            is False.
    """
    import tensorflow as tf

    tfds = _tfds()
    name = builder.name
    features = builder.info.features
    image_key = _image_key(name, features)
    _check_split(name, split, builder.info.splits)
    if download:
        builder.download_and_prepare()
    read_config = tfds.ReadConfig(shuffle_seed=seed)
    try:
        ds = builder.as_dataset(
            split=split, shuffle_files=shuffle_files, read_config=read_config
        )
    except AssertionError as e:  # tfds' "could not find data" check
        raise _not_prepared(name, builder.data_dir, e) from None
    label_fn = _label_fn(name, features)
    if label_fn is None:
        examples = ds.map(lambda ex: (ex[image_key], tf.constant(0, tf.int32)))
    else:
        examples = ds.map(lambda ex: (ex[image_key], label_fn(ex)))
    dtype = np.dtype(features[image_key].np_dtype)
    info = {
        "max_value": _PIXEL_MAX.get(name, np.iinfo(dtype).max),
        "image_shape": tuple(features[image_key].shape),
        "has_labels": label_fn is not None,
        "num_examples": _num_examples(builder.info.splits, split),
    }
    return examples, info


def _num_examples(splits, split):
    try:
        return int(splits[split].num_examples)
    except Exception:  # unknown split metadata (e.g. under mock_data)
        return None


def num_examples(builder, split):
    """Examples in `split` of a tfds dataset, known or from its prepared metadata.

    Raises:
        FileNotFoundError: If the size is not known and the dataset is not
            prepared in the builder's data folder.
    """
    known = NUM_EXAMPLES.get(builder.name, {})
    if split in known:
        return known[split]
    _check_split(builder.name, split, builder.info.splits)
    count = _num_examples(builder.info.splits, split)
    if count is None:
        raise _not_prepared(builder.name, builder.data_dir, f"split {split!r} has no size yet")
    return count


def prepared_arrays(name, split, data_dir=None):
    """Reads a whole prepared tfds split into numpy, or returns None.

    Returns:
        `(images, labels)` numpy arrays, or None when the dataset is not
        prepared locally. Never downloads.
    """
    try:
        examples, _ = open_split(builder(name, data_dir), split)
    except FileNotFoundError:
        return None
    images, labels = [], []
    for image, label in examples.batch(4096).as_numpy_iterator():
        images.append(image)
        labels.append(label)
    if not images:
        return None
    return np.concatenate(images), np.concatenate(labels)
