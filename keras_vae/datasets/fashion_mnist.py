"""Fashion-MNIST from local files: Keras cache, Debian package or tfds."""

import os

from keras_vae._validation import check_choice
from keras_vae.datasets import tfds_source
from keras_vae.datasets.idx import read_idx

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
SPLITS = ("train", "test")
# Images per split (Xiao et al., 2017, arXiv:1708.07747).
NUM_EXAMPLES = {"train": 60_000, "test": 10_000}
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# Where `apt-get install dataset-fashion-mnist` puts the files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
# tfds data directory searched last (None: the tfds default).
TFDS_DATA_DIR = None

_HOW_TO_GET = (
    "Get it in one of three ways: install the Debian package "
    "(`apt-get install dataset-fashion-mnist`), download it into the Keras "
    "cache with `keras.datasets.fashion_mnist.load_data()`, or pass "
    "`data_dir=` pointing to a folder with the four IDX files "
    f"({', '.join(FILES['train'] + FILES['test'])})."
)


def keras_cache_dir():
    """The folder `keras.datasets.fashion_mnist.load_data()` downloads to."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "datasets", "fashion-mnist")


def _split_files(directory, split):
    """The split's (images, labels) paths in `directory`, or None.

    Accepts each file gzip-compressed (as distributed) or uncompressed.
    """
    paths = []
    for name in FILES[split]:
        for candidate in (name, name[: -len(".gz")]):
            path = os.path.join(directory, candidate)
            if os.path.isfile(path):
                paths.append(path)
                break
        else:
            return None
    return tuple(paths)


def _read_split(images_path, labels_path):
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if images.shape[1:] != (28, 28):
        raise ValueError(
            f"IDX file {images_path} does not hold Fashion-MNIST images: "
            f"expected 28x28 images. Received: shape={images.shape}"
        )
    if len(labels) != len(images):
        raise ValueError(
            f"IDX file {labels_path} does not match {images_path}: expected "
            f"{len(images)} labels. Received: {len(labels)} labels"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise ValueError(
            f"IDX file {labels_path} is corrupt: expected labels in 0..9. "
            f"Received: labels in {labels.min()}..{labels.max()}"
        )
    return images.astype("uint8"), labels.astype("int32")


def load_fashion_mnist(split="train", data_dir=None):
    """Loads one split of Fashion-MNIST into memory.

    When `data_dir` is given, the files must be there. Otherwise the data is
    looked up, in this order, in the Keras cache
    (`~/.keras/datasets/fashion-mnist/`, or under `$KERAS_HOME`), in
    `/usr/share/datasets/fashion-mnist/` (Debian package
    `dataset-fashion-mnist`) and in an already prepared tfds
    `fashion_mnist`. Nothing is downloaded.

    Args:
        split: `"train"` (60,000 images) or `"test"` (10,000 images).
        data_dir: Optional folder with the four IDX files, gzip-compressed
            or not.

    Returns:
        A tuple `(images, labels)`: uint8 array of shape `(N, 28, 28)` with
        values in 0..255 and int32 array of shape `(N,)` with classes 0..9
        (see `CLASS_NAMES`).

    Raises:
        ValueError: For an unknown split or a corrupt or truncated file.
        FileNotFoundError: If the data is in none of the places above.
    """
    split = check_choice("split", split, SPLITS)
    if data_dir is not None:
        paths = _split_files(os.fspath(data_dir), split)
        if paths is None:
            raise FileNotFoundError(
                f"Fashion-MNIST {split} files {FILES[split]} not found in "
                f"data_dir. {_HOW_TO_GET} Received: data_dir={data_dir!r}"
            )
        return _read_split(*paths)
    for directory in (keras_cache_dir(), DEBIAN_DIR):
        paths = _split_files(directory, split)
        if paths is not None:
            return _read_split(*paths)
    arrays = tfds_source.prepared_arrays(
        "fashion_mnist", split, data_dir=TFDS_DATA_DIR
    )
    if arrays is not None:
        images, labels = arrays
        return images[..., 0].astype("uint8"), labels.astype("int32")
    raise FileNotFoundError(
        "Fashion-MNIST was not found in the Keras cache "
        f"({keras_cache_dir()}), in {DEBIAN_DIR} or in a prepared "
        f"TensorFlow Datasets folder. {_HOW_TO_GET}"
    )
