"""`keras_vae.datasets.load`: pipelines, binarization, errors, tfds, model.fit."""

import re

import keras
import numpy as np
import pytest

from keras_vae.datasets import available
from keras_vae.datasets import load
from keras_vae.datasets import num_examples

tfds = pytest.importorskip("tensorflow_datasets")


def _batches(ds):
    return [b.numpy() if hasattr(b, "numpy") else b for b in ds]


def test_available_lists_local_and_tfds_names():
    names = available()
    assert names == sorted(names)
    for name in ("digits", "dsprites", "fashion_mnist", "mnist", "shapes3d", "celeb_a"):
        assert name in names


def test_digits_pipeline():
    ds = load("digits", batch_size=100)
    assert int(ds.cardinality()) == 15
    batches = _batches(ds)
    assert [len(b) for b in batches] == [100] * 14 + [97]
    x = batches[0]
    assert x.shape == (100, 8, 8, 1) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() == 1.0
    ds = load("digits", "test", batch_size=64, drop_remainder=True, with_labels=True)
    (x, y), *_ = _batches(ds)
    assert x.shape == (64, 8, 8, 1) and y.shape == (64,) and y.dtype == np.int32
    assert sum(1 for _ in ds) == 300 // 64


def test_as_numpy_matches_sklearn():
    from sklearn.datasets import load_digits

    ref = load_digits()
    x, y = load("digits", "all", as_numpy=True, shuffle=False, with_labels=True)
    assert x.shape == (1797, 8, 8, 1)
    np.testing.assert_allclose(x[..., 0], ref.images / 16.0, atol=1e-6)
    np.testing.assert_array_equal(y, ref.target)
    shuffled, labels = load("digits", "all", as_numpy=True, with_labels=True, seed=1)
    order = np.lexsort(shuffled.reshape(1797, -1).T)
    np.testing.assert_array_equal(
        np.sort(labels), np.sort(y)
    )
    assert not np.array_equal(shuffled, x)
    np.testing.assert_allclose(
        shuffled[order], x[np.lexsort(x.reshape(1797, -1).T)]
    )


def test_same_seed_same_batches_and_new_order_each_epoch():
    a = _batches(load("digits", batch_size=256, seed=7))
    b = _batches(load("digits", batch_size=256, seed=7))
    c = _batches(load("digits", batch_size=256, seed=8))
    for xa, xb in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
    assert not np.array_equal(a[0], c[0])
    ds = load("digits", batch_size=256, seed=7)
    first, second = _batches(ds), _batches(ds)
    assert not np.array_equal(first[0], second[0])
    # Every epoch visits every example exactly once.
    epoch = np.concatenate(second).reshape(len(np.concatenate(second)), -1)
    ref = load("digits", as_numpy=True, shuffle=False).reshape(1497, -1)
    np.testing.assert_array_equal(
        epoch[np.lexsort(epoch.T)], ref[np.lexsort(ref.T)]
    )


def test_image_size_resizes():
    x = load("digits", batch_size=10, image_size=(16, 12), as_numpy=True)
    assert x.shape == (1497, 16, 12, 1)
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_threshold_and_static_binarization():
    grey = load("digits", as_numpy=True, shuffle=False)
    thr = load("digits", as_numpy=True, shuffle=False, binarize="threshold")
    np.testing.assert_array_equal(thr, (grey > 0.5).astype(np.float32))
    s1 = load("digits", as_numpy=True, shuffle=False, binarize="static", seed=3)
    s2 = load("digits", as_numpy=True, shuffle=False, binarize="static", seed=3)
    assert set(np.unique(s1)) == {0.0, 1.0}
    np.testing.assert_array_equal(s1, s2)
    assert abs(s1.mean() - grey.mean()) < 0.01
    assert ((s1 == 1) <= (grey > 0)).all()  # black pixels stay black
    # Static noise belongs to the example, not to its place in the order.
    ds = load("digits", batch_size=500, binarize="static", seed=3, with_labels=False)
    for epoch in range(2):
        e = np.concatenate(_batches(ds)).reshape(1497, -1)
        ref = s1.reshape(1497, -1)
        np.testing.assert_array_equal(e[np.lexsort(e.T)], ref[np.lexsort(ref.T)])


def test_dynamic_binarization_changes_every_epoch():
    ds = load("digits", batch_size=1497, binarize="dynamic", shuffle=False, seed=5)
    first, second = _batches(ds)[0], _batches(ds)[0]
    assert set(np.unique(first)) == {0.0, 1.0}
    assert not np.array_equal(first, second)
    again = _batches(load("digits", batch_size=1497, binarize="dynamic", shuffle=False, seed=5))[0]
    np.testing.assert_array_equal(first, again)
    grey = load("digits", as_numpy=True, shuffle=False)
    assert abs(first.mean() - grey.mean()) < 0.01


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(batch_size=0), ValueError, "Received: batch_size=0"),
        (dict(batch_size=-3), ValueError, "Received: batch_size=-3"),
        (dict(batch_size=2.5), TypeError, "Received: batch_size=2.5"),
        (dict(batch_size=True), TypeError, "Received: batch_size=True"),
        (dict(split="validation"), ValueError, "Received: split='validation'"),
        (dict(binarize="bernoulli"), ValueError, "Received: binarize='bernoulli'"),
        (dict(binarize="dynamic", as_numpy=True), ValueError, "Received: binarize='dynamic'"),
        (dict(image_size=(0, 8)), ValueError, r"Received: image_size=\(0, 8\)"),
        (dict(image_size=16), ValueError, "Received: image_size=16"),
        (dict(shuffle="yes"), TypeError, "Received: shuffle='yes'"),
        (dict(seed=-1), ValueError, "Received: seed=-1"),
        (dict(with_labels=1), TypeError, "Received: with_labels=1"),
        (dict(data_dir="/tmp"), ValueError, "Received: data_dir='/tmp'"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load("digits", **kwargs)


def test_unknown_dataset_lists_available_ones():
    with pytest.raises(ValueError, match="Received: name='no_such_set'") as info:
        load("no_such_set")
    for name in available():
        assert name in str(info.value)
    with pytest.raises(TypeError, match="Received: name=3"):
        load(3)


def test_dsprites_split_and_as_numpy_guard():
    with pytest.raises(ValueError, match="Received: split='test'"):
        load("dsprites", split="test")
    with pytest.raises(ValueError, match="Received: as_numpy=True"):
        load("dsprites", as_numpy=True)


def test_tfds_datasets_under_mock_data():
    with tfds.testing.mock_data(num_examples=10):
        x = _batches(load("mnist", batch_size=4))
        assert [b.shape for b in x] == [(4, 28, 28, 1)] * 2 + [(2, 28, 28, 1)]
        assert all(b.dtype == np.float32 and 0 <= b.min() and b.max() <= 1 for b in x)
        x, y = next(iter(load("mnist", "test", batch_size=5, with_labels=True)))
        assert y.shape == (5,)
        x = load("mnist", image_size=(14, 14), binarize="static", as_numpy=True)
        assert x.shape == (10, 14, 14, 1) and set(np.unique(x)) <= {0.0, 1.0}
        x, y = next(iter(load("celeb_a", batch_size=3, image_size=(32, 32), with_labels=True)))
        assert x.shape == (3, 32, 32, 3) and y.shape == (3, 40)
        x, y = next(iter(load("shapes3d", batch_size=3, with_labels=True)))
        assert x.shape == (3, 64, 64, 3) and y.shape == (3, 6)
        x, y = next(iter(load("tfds:dsprites", batch_size=3, with_labels=True)))
        assert x.shape == (3, 64, 64, 1) and y.shape == (3, 5) and x.numpy().max() <= 1
        a = _batches(load("mnist", batch_size=10, seed=1))[0]
        b = _batches(load("mnist", batch_size=10, seed=1))[0]
        np.testing.assert_array_equal(a, b)


def test_pipelines_run_without_tf_data_autotuning():
    """Ending an autotuned iterator (every `fit` call ends one) waits for
    tf.data's autotuning thread, up to as long as the iterator ran
    (bench/RESULTS.md): every kind of pipeline turns autotuning off, and a
    repeated pipeline (the recipes' training data) keeps it off."""
    pipelines = [load("digits", batch_size=100), load("dsprites", batch_size=8),
                 load("digits", batch_size=100).repeat()]
    with tfds.testing.mock_data(num_examples=10):
        pipelines.append(load("mnist", batch_size=4))
    for ds in pipelines:
        assert ds.options().autotune.enabled is False


def test_tfds_split_and_feature_checks():
    from keras_vae.datasets import tfds_source

    with pytest.raises(ValueError, match="Received: split='validation'"):
        tfds_source._check_split("mnist", "validation", {"train": 1, "test": 1})
    tfds_source._check_split("mnist", "train[:10%]+test", {"train": 1, "test": 1})
    with pytest.raises(TypeError, match="Received: split=0"):
        tfds_source._check_split("mnist", 0, {})
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(ValueError, match="no top-level image feature"):
            load("imdb_reviews")


def test_tfds_not_prepared_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load("mnist", data_dir=tmp_path)


def test_num_examples_is_the_size_of_each_split():
    import os

    from keras_vae.datasets import load_digits
    from keras_vae.datasets import load_fashion_mnist
    from keras_vae.datasets import open_dsprites

    for split in ("train", "test", "all"):
        assert num_examples("digits", split) == len(load_digits(split)[0])
    assert num_examples("digits", "train") == len(load("digits", as_numpy=True))
    assert num_examples("dsprites") == len(open_dsprites()) == 3 * 6 * 40 * 32 * 32
    if os.path.isdir("/usr/share/datasets/fashion-mnist"):
        for split in ("train", "test"):
            assert num_examples("fashion_mnist", split) == len(load_fashion_mnist(split)[0])
    assert num_examples("mnist") == num_examples("tfds:mnist", "train") == 60_000
    with pytest.raises(ValueError, match="Received: split='test'"):
        num_examples("dsprites", "test")
    with pytest.raises(ValueError, match="Received: name='no_such_dataset'"):
        num_examples("no_such_dataset")
    with pytest.raises(TypeError, match="Received: name=3"):
        num_examples(3)


class KerasVaeTinyImages(tfds.core.GeneratorBasedBuilder):
    """A 7 + 3 image tfds dataset prepared offline, for the metadata path."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(
            {"image": tfds.features.Image(shape=(4, 4, 1)), "label": tfds.features.ClassLabel(
                num_classes=2)}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(7), "test": self._generate_examples(3)}

    def _generate_examples(self, n):
        for i in range(n):
            yield i, {"image": np.full((4, 4, 1), i, np.uint8), "label": i % 2}


def test_num_examples_of_a_prepared_tfds_dataset(tmp_path):
    name = KerasVaeTinyImages.name
    with pytest.raises(FileNotFoundError, match="download=True"):
        num_examples(name, data_dir=str(tmp_path))
    KerasVaeTinyImages(data_dir=str(tmp_path)).download_and_prepare()
    assert num_examples(name, data_dir=str(tmp_path)) == 7
    assert num_examples(name, "test", data_dir=str(tmp_path)) == 3
    assert num_examples(name, "train[:4]", data_dir=str(tmp_path)) == 4
    assert len(load(name, as_numpy=True, data_dir=str(tmp_path))) == 7
    with pytest.raises(ValueError, match="Received: split='validation'"):
        num_examples(name, "validation", data_dir=str(tmp_path))


class TinyAutoencoder(keras.Model):
    """One hidden layer; the reconstruction loss is added in `call`, so
    `fit` trains on a dataset yielding images only, as a VAE does."""

    def __init__(self):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.code = keras.layers.Dense(4, activation="relu")
        self.out = keras.layers.Dense(64, activation="sigmoid")
        self.reshape = keras.layers.Reshape((8, 8, 1))

    def call(self, x):
        y = self.reshape(self.out(self.code(self.flatten(x))))
        self.add_loss(keras.ops.mean(keras.ops.square(y - x)))
        return y


def test_pipeline_feeds_model_fit_on_current_backend():
    model = TinyAutoencoder()
    model.compile(optimizer="adam")
    ds = load("digits", batch_size=512, binarize="dynamic")
    history = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(history.history["loss"]).all()
    ds = load("dsprites", batch_size=16, image_size=(8, 8)).take(2)
    history = model.fit(ds, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"]).all()


@pytest.mark.parametrize("split, start, stop", [
    ("train[:1000]", 0, 1000), ("train[1000:]", 1000, 1497), ("train[-97:]", 1400, 1497),
    ("all[10:20]", 10, 20),
])
def test_local_splits_take_integer_slices(split, start, stop):
    from keras_vae.datasets import digits

    base = split[:split.index("[")]
    images, labels = load("digits", split, as_numpy=True, shuffle=False, with_labels=True)
    whole, whole_labels = load("digits", base, as_numpy=True, shuffle=False, with_labels=True)
    np.testing.assert_array_equal(images, whole[start:stop])
    np.testing.assert_array_equal(labels, whole_labels[start:stop])
    assert num_examples("digits", split) == stop - start == len(images)
    assert len(digits.load_digits(base)[0]) == len(whole)


@pytest.mark.parametrize("split, message", [
    ("train[5:2]", "selects no examples"), ("train[:10%]", "integer bounds"),
    ("valid[:10]", "integer bounds"), ("train[1:2:3]", "integer bounds"),
])
def test_bad_local_slices_are_refused(split, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        load("digits", split)
    with pytest.raises(ValueError, match=re.escape(message)):
        num_examples("digits", split)
