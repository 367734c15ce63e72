"""scikit-learn's bundled 8x8 handwritten digits (always available)."""

import numpy as np

from keras_vae._validation import check_choice

SPLITS = ("train", "test", "all")
NUM_IMAGES = 1_797
NUM_TEST = 300  # the last 300 images form the test split
# Images per split.
NUM_EXAMPLES = {"train": NUM_IMAGES - NUM_TEST, "test": NUM_TEST, "all": NUM_IMAGES}
MAX_VALUE = 16  # pixel values are 0..16


def load_digits(split="train"):
    """Loads scikit-learn's 1,797 8x8 digit images.

    The data ships inside scikit-learn, so this never touches the network.
    The first 1,497 images are the `"train"` split and the last 300 the
    `"test"` split; `"all"` returns all of them.

    Args:
        split: `"train"`, `"test"` or `"all"`.

    Returns:
        A tuple `(images, labels)`: uint8 array of shape `(N, 8, 8)` with
        values in 0..16 (divide by `MAX_VALUE` for [0, 1]) and int32 array
        of shape `(N,)` with classes 0..9.
    """
    split = check_choice("split", split, SPLITS)
    from sklearn.datasets import load_digits as sklearn_load_digits

    data = sklearn_load_digits()
    images = data.images.astype(np.uint8)
    labels = data.target.astype(np.int32)
    if split == "train":
        return images[:-NUM_TEST], labels[:-NUM_TEST]
    if split == "test":
        return images[-NUM_TEST:], labels[-NUM_TEST:]
    return images, labels
