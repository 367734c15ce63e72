"""IDX parsing and Fashion-MNIST discovery (Keras cache, Debian, data_dir, tfds)."""

import gzip
import os

import numpy as np
import pytest

from keras_vae.datasets import fashion_mnist
from keras_vae.datasets import load
from keras_vae.datasets import load_fashion_mnist
from keras_vae.datasets import read_idx

DEBIAN_FILES = [
    os.path.join(fashion_mnist.DEBIAN_DIR, name)
    for split in fashion_mnist.SPLITS
    for name in fashion_mnist.FILES[split]
]


def _idx_bytes(array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim])
    header += np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_split(directory, split, images, labels, compress=True):
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in zip(fashion_mnist.FILES[split], (images, labels)):
        data = _idx_bytes(array)
        if compress:
            (directory / name).write_bytes(gzip.compress(data))
        else:
            (directory / name[: -len(".gz")]).write_bytes(data)


def _small_fashion(n=12, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


@pytest.fixture
def no_system_copies(tmp_path, monkeypatch):
    """Hides the Keras cache, the Debian files and any prepared tfds copy."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "debian"))
    monkeypatch.setattr(fashion_mnist, "TFDS_DATA_DIR", str(tmp_path / "tfds"))
    return tmp_path


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path, compress):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = _idx_bytes(array)
    path = tmp_path / ("a.gz" if compress else "a.idx")
    path.write_bytes(gzip.compress(data) if compress else data)
    np.testing.assert_array_equal(read_idx(path), array)
    ints = np.array([-5, 7, 1 << 20], np.int32)
    (tmp_path / "i").write_bytes(_idx_bytes(ints, 0x0C))
    out = read_idx(tmp_path / "i", expected_ndim=1)
    np.testing.assert_array_equal(out, ints)
    assert out.dtype == np.int32


def test_read_idx_rejects_bad_files(tmp_path):
    good = _idx_bytes(np.zeros((4, 28, 28), np.uint8))
    cases = {
        "truncated": (good[:-10], "is truncated"),
        "trailing": (good + b"\0", "is corrupt"),
        "short_header": (good[:10], "truncated: expected a header"),
        "magic": (b"\x01\x00" + good[2:], "not an IDX file"),
        "type": (good[:2] + b"\x07" + good[3:], "type code"),
        "gzip": (gzip.compress(good)[:-30], "truncated or corrupt gzip"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match=message) as info:
            read_idx(path)
        assert str(path) in str(info.value)
    (tmp_path / "ok").write_bytes(good)
    with pytest.raises(ValueError, match="Received: ndim=3"):
        read_idx(tmp_path / "ok", expected_ndim=1)


def test_data_dir_loads_small_idx_files(tmp_path):
    images, labels = _small_fashion()
    _write_split(tmp_path / "gz", "train", images, labels)
    x, y = load_fashion_mnist("train", data_dir=tmp_path / "gz")
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    _write_split(tmp_path / "raw", "test", images[:5], labels[:5], compress=False)
    x, y = load_fashion_mnist("test", data_dir=str(tmp_path / "raw"))
    np.testing.assert_array_equal(x, images[:5])
    pixels, classes = load(
        "fashion_mnist", data_dir=tmp_path / "gz", as_numpy=True, shuffle=False,
        with_labels=True,
    )
    assert pixels.shape == (12, 28, 28, 1) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels[..., 0], images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(classes, labels)


def test_corrupt_split_is_rejected_whole(tmp_path):
    images, labels = _small_fashion()
    _write_split(tmp_path, "train", images, labels[:-1])  # one label short
    with pytest.raises(ValueError, match="does not match") as info:
        load("fashion_mnist", data_dir=tmp_path)
    assert "train-labels-idx1-ubyte.gz" in str(info.value)
    _write_split(tmp_path, "train", images, labels + 10)
    with pytest.raises(ValueError, match="expected labels in 0..9"):
        load_fashion_mnist(data_dir=tmp_path)
    _write_split(tmp_path, "train", images[:, :14], labels)
    with pytest.raises(ValueError, match="28x28"):
        load_fashion_mnist(data_dir=tmp_path)
    path = tmp_path / fashion_mnist.FILES["train"][0]
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match="truncated or corrupt gzip"):
        load_fashion_mnist(data_dir=tmp_path)


def test_missing_files_in_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: data_dir="):
        load_fashion_mnist("test", data_dir=tmp_path)


def test_keras_cache_comes_before_debian(no_system_copies):
    images, labels = _small_fashion(n=20, seed=1)
    _write_split(no_system_copies / "keras_home/datasets/fashion-mnist", "train", images, labels)
    other, _ = _small_fashion(n=20, seed=2)
    _write_split(no_system_copies / "debian", "train", other, labels)
    x, _ = load_fashion_mnist("train")
    np.testing.assert_array_equal(x, images)
    _write_split(no_system_copies / "debian", "test", other, labels)
    x, _ = load_fashion_mnist("test")
    np.testing.assert_array_equal(x, other)


def test_error_lists_the_three_ways_to_get_it(no_system_copies):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist("train")
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "keras.datasets.fashion_mnist.load_data()" in message
    assert "data_dir=" in message


def test_prepared_tfds_copy_is_the_last_resort(no_system_copies):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=7):
        x, y = load_fashion_mnist("test")
    assert x.shape == (7, 28, 28) and x.dtype == np.uint8
    assert y.shape == (7,) and y.max() < 10


def test_bad_split():
    with pytest.raises(ValueError, match="Received: split='valid'"):
        load_fashion_mnist("valid")


@pytest.mark.skipif(
    not all(os.path.isfile(p) for p in DEBIAN_FILES),
    reason="Fashion-MNIST Debian files absent: apt-get install dataset-fashion-mnist",
)
def test_full_fashion_mnist_from_debian_files():
    for split, n in (("train", 60_000), ("test", 10_000)):
        x, y = load_fashion_mnist(split, data_dir=fashion_mnist.DEBIAN_DIR)
        assert x.shape == (n, 28, 28) and x.dtype == np.uint8
        np.testing.assert_array_equal(np.bincount(y, minlength=10), [n // 10] * 10)
        assert x.max() == 255
