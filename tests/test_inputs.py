"""One input check for every kind of input, on every entry point, and models
that stay usable (and unchanged) after every rejected call."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae
from testing import BACKEND, tiny_model

ENTRY_POINTS = {
    "fit": lambda m, x: m.fit(x, verbose=0),
    "evaluate": lambda m, x: m.evaluate(x, verbose=0),
    "predict": lambda m, x: m.predict(x),
    "reconstruct": lambda m, x: m.reconstruct(x),
    "encode": lambda m, x: m.encode(x),
}


def _kinds(array):
    """The same images as every input kind Keras accepts."""
    import jax.numpy as jnp
    import torch

    return {
        "numpy": array,
        "list": array.tolist(),
        "tf": tf.constant(array),
        "jax": jnp.asarray(array),
        "torch": torch.from_numpy(np.ascontiguousarray(array)),
        "tf.data": tf.data.Dataset.from_tensor_slices(array).batch(8),
    }


@pytest.fixture()
def model_and_reference(digits):
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    model.compile()
    model.fit(x[:64], batch_size=32, verbose=0)
    return model, x[:16], model.predict(x[:16])


def _assert_unchanged_and_usable(model, x, reference):
    np.testing.assert_allclose(model.predict(x), reference, atol=1e-6)
    z_mean, _ = model.encode(x)
    assert z_mean.shape == (len(x), 4) and np.isfinite(z_mean).all()
    history = model.fit(x, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"]).all()


def test_every_kind_out_of_range_nan_and_empty_on_every_entry_point(model_and_reference):
    model, x, reference = model_and_reference
    cases = {
        "out of range": (x * 2.0, ValueError, r"`x`.*(in \[0\.0, 1\.0\]|between 0\.0 and 1\.0)"),
        "NaN": (np.where(x > 0.5, np.nan, x).astype("float32"), ValueError,
                r"`x` contains NaN"),
        "empty": (x[:0], ValueError, r"`x` is empty|`x` is an empty dataset"),
        "wrong shape": (x[..., 0], ValueError, r"x.shape"),
    }
    tried = 0
    for case, (bad, error, match) in cases.items():
        for kind, data in _kinds(bad).items():
            if case == "empty" and kind == "list":
                continue  # [] has no shape to check: below
            if case == "wrong shape" and kind == "tf.data":
                data = tf.data.Dataset.from_tensor_slices(bad).batch(8)
            for name, call in ENTRY_POINTS.items():
                with pytest.raises(error, match=match):
                    call(model, data)
                tried += 1
    assert tried == 4 * 6 * 5 - 5
    with pytest.raises(ValueError, match="`x` must be a batch of images"):
        model.predict([])
    _assert_unchanged_and_usable(model, x, reference)


def test_decode_checks_every_kind(model_and_reference):
    model, x, reference = model_and_reference
    good = model.encode(x)[0]
    for kind, data in _kinds(np.zeros((0, 4), "float32")).items():
        if kind in ("list", "tf.data"):
            continue
        with pytest.raises(ValueError, match="`z` is empty"):
            model.decode(data)
    for kind, data in _kinds(np.full((2, 4), np.inf, "float32")).items():
        error = TypeError if kind == "tf.data" else ValueError
        with pytest.raises(error, match="`z`"):
            model.decode(data)
    with pytest.raises(ValueError, match=r"z.shape=\(2, 3\)"):
        model.decode(np.zeros((2, 3)))
    np.testing.assert_allclose(model.decode(good), reference, atol=1e-5)
    _assert_unchanged_and_usable(model, x, reference)


def test_datasets_of_dicts_weights_and_no_batches(model_and_reference):
    model, x, reference = model_and_reference
    dicts = tf.data.Dataset.from_tensor_slices({"image": x}).batch(8)
    with pytest.raises(TypeError, match=r"dicts with keys \['image'\]"):
        model.fit(dicts, verbose=0)
    weighted = tf.data.Dataset.from_tensor_slices((x, x, np.ones(len(x)))).batch(8)
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(weighted, verbose=0)
    with pytest.raises(ValueError, match="empty dataset"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8).take(0), verbose=0)
    strings = tf.data.Dataset.from_tensor_slices(np.full((4, 8, 8, 1), "a")).batch(2)
    with pytest.raises(TypeError, match="dtype"):
        model.fit(strings, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), validation_split=0.5,
                  verbose=0)
    _assert_unchanged_and_usable(model, x, reference)


def test_sample_weight_is_refused_however_it_comes(model_and_reference):
    model, x, reference = model_and_reference
    weights = np.ones(len(x), "float32")
    for call in (lambda: model.fit(x, sample_weight=weights, verbose=0),
                 lambda: model.evaluate(x, sample_weight=weights, verbose=0),
                 lambda: model.fit(x, class_weight={0: 1.0}, verbose=0),
                 lambda: model.fit(x, validation_data=(x, x, weights), verbose=0),
                 lambda: model.fit(x, x, sample_weight=weights, verbose=0)):
        with pytest.raises(ValueError, match="sample_weight|class_weight"):
            call()
    _assert_unchanged_and_usable(model, x, reference)


BAD_ARGUMENTS = [
    (lambda m, x: m.fit(x, batch_size=0, verbose=0), "batch_size"),
    (lambda m, x: m.fit(x, batch_size=-4, verbose=0), "batch_size"),
    (lambda m, x: m.fit(x, epochs=0, verbose=0), "epochs"),
    (lambda m, x: m.fit(x, epochs=-3, verbose=0), "epochs"),
    (lambda m, x: m.fit(x, steps_per_epoch=0, verbose=0), "steps_per_epoch"),
    (lambda m, x: m.fit(x, validation_split=-0.2, verbose=0), "validation_split"),
    (lambda m, x: m.fit(x, validation_split=1.0, verbose=0), "validation_split"),
    (lambda m, x: m.fit(x, validation_split=float("nan"), verbose=0), "validation_split"),
    (lambda m, x: m.fit(x, initial_epoch=2, epochs=2, verbose=0), "initial_epoch"),
    (lambda m, x: m.evaluate(x, batch_size=0, verbose=0), "batch_size"),
    (lambda m, x: m.reconstruct(x, batch_size=0), "batch_size"),
    (lambda m, x: m.predict(x, batch_size=-1), "batch_size"),
    (lambda m, x: m.encode(x, batch_size=0), "batch_size"),
    (lambda m, x: m.decode(np.zeros((2, 4)), batch_size=0), "batch_size"),
    (lambda m, x: m.sample(2, seed=-1), "seed"),
    (lambda m, x: m.sample(2, seed=2**70), "seed"),
    (lambda m, x: m.sample(2, seed=1.5), "seed"),
    (lambda m, x: m.fit([[0.5, 0.5], [0.5]], verbose=0), "`x`"),
    (lambda m, x: m.fit({"image": x}, verbose=0), "`x`"),
]


def test_silently_ignored_arguments_are_refused(model_and_reference):
    model, x, reference = model_and_reference
    for call, name in BAD_ARGUMENTS:
        with pytest.raises((ValueError, TypeError)) as info:
            call(model, x)
        message = str(info.value)
        assert name in message and "Received" in message and len(message) < 600, message
    _assert_unchanged_and_usable(model, x, reference)


def test_a_nested_list_is_accepted_as_an_array(model_and_reference):
    model, x, reference = model_and_reference
    np.testing.assert_allclose(model.predict(x.tolist()), reference, atol=1e-6)


@pytest.mark.parametrize("cls, kwargs, error, name", [
    (keras_vae.VAE, dict(seed=-1), ValueError, "seed"),
    (keras_vae.VAE, dict(seed=2**70), ValueError, "seed"),
    (keras_vae.VAE, dict(seed="0"), TypeError, "seed"),
    (keras_vae.VAE, dict(network_kwargs={"hidden_units": -5}), TypeError, "hidden_units"),
    (keras_vae.VAE, dict(network_kwargs={"hidden_units": [-5]}), ValueError, "hidden_units"),
    (keras_vae.MMDVAE, dict(multiscale="no"), TypeError, "multiscale"),
    (keras_vae.MMDVAE, dict(scales=1.0), TypeError, "scales"),
    (keras_vae.MMDVAE, dict(scales=[]), ValueError, "scales"),
    (keras_vae.MMDVAE, dict(scales=[1.0, -2.0]), ValueError, "scales"),
])
def test_constructor_arguments(cls, kwargs, error, name):
    with pytest.raises(error, match=name):
        tiny_model(cls, **kwargs)


def test_largest_seed_works_for_mmd_vae(digits):
    x, _ = digits
    model = tiny_model(keras_vae.MMDVAE, seed=2**31 - 1)
    model.compile()
    assert np.isfinite(model.fit(x[:32], batch_size=16, verbose=0).history["loss"]).all()


def test_a_bad_batch_mid_dataset_stops_with_a_clear_error_and_a_usable_model(digits):
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    model.compile()
    data = tf.data.Dataset.from_tensor_slices(
        np.concatenate([x[:32], x[32:64] * 3.0])).batch(16)
    with pytest.raises(ValueError, match=r"failed the input check.*between 0\.0 and 1\.0.* 3"):
        model.fit(data, verbose=0)
    prediction = model.predict(x[:8])
    assert np.isfinite(prediction).all()
    assert np.isfinite(model.fit(x[:32], batch_size=16, verbose=0).history["loss"]).all()


def test_an_error_inside_the_keras_loop_leaves_the_model_usable(digits):
    """On JAX, Keras detaches the variables during its loop; an exception
    from a callback used to leave them None ('NoneType' object is not
    callable on every later call)."""
    x, _ = digits
    model = tiny_model(keras_vae.VAE)
    model.compile()
    model.fit(x[:32], batch_size=16, verbose=0)
    before = model.predict(x[:8])

    class Boom(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            raise RuntimeError("boom")

        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        model.fit(x[:64], batch_size=16, callbacks=[Boom()], verbose=0)
    with pytest.raises(RuntimeError, match="boom"):
        model.reconstruct(x[:8], callbacks=[Boom()])
    after = model.predict(x[:8])
    assert np.isfinite(after).all() and not np.allclose(after, before)  # two steps taken
    assert np.isfinite(model.fit(x[:32], batch_size=16, verbose=0).history["loss"]).all()
    assert np.isfinite(model.encode(x[:8])[0]).all()


# === numpy inputs on tensorflow: Keras' batches, without tf.data autotuning ===

_tensorflow_only = pytest.mark.skipif(
    BACKEND != "tensorflow", reason="Keras builds a tf.data pipeline for arrays on tensorflow only")


def _rows(dataset):
    """The images of a dataset of batches (x or (x, y) elements), in order."""
    return np.concatenate([np.asarray(b[0] if isinstance(b, tuple) else b) for b in dataset])


@_tensorflow_only
def test_fit_hands_keras_its_own_array_batches_without_autotuning(monkeypatch):
    """Deleting an autotuned iterator waits for tf.data's autotuning thread
    (bench/RESULTS.md); Keras makes one per epoch of `fit(x)`. keras-vae
    passes the same batches with autotuning off: the first 10 rows (the last
    fraction is `validation_split`'s, as Keras splits), in batches of 4 with
    the partial batch kept, each epoch a reshuffle (under a global seed too),
    the validation rows in order."""
    keras.utils.set_random_seed(0)
    seen = {}
    monkeypatch.setattr(keras.Model, "fit", lambda self, x, y=None, **kw: seen.update(x=x, y=y, **kw))
    x = np.random.default_rng(0).random((12, 8, 8, 1)).astype("float32")
    tiny_model(keras_vae.VAE).fit(x, batch_size=4, validation_split=1 / 6, verbose=0)
    train, valid = seen["x"], seen["validation_data"]
    assert seen["y"] is None and seen["batch_size"] is None and seen["shuffle"] is False
    assert "validation_split" not in seen
    for ds in (train, valid):
        assert isinstance(ds, tf.data.Dataset) and ds.options().autotune.enabled is False
    assert int(train.cardinality()) == 3 and [len(b) for b in train] == [4, 4, 2]
    epochs = [_rows(train) for _ in range(2)]
    for rows in epochs:  # every training row once per epoch
        np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(x[:10], axis=0))
    assert not np.array_equal(epochs[0], epochs[1])
    np.testing.assert_array_equal(_rows(valid), x[10:])


@_tensorflow_only
def test_fit_without_shuffle_and_evaluate_keep_the_order_and_the_step_count():
    x = np.random.default_rng(1).random((10, 8, 8, 1)).astype("float32")
    seen = []

    class Batches(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            seen.append(self.params["steps"])

    model = tiny_model(keras_vae.VAE)
    model.compile()
    model.fit(x, batch_size=3, shuffle=False, epochs=1, verbose=0, callbacks=[Batches()])
    assert seen == [4]  # known before the first epoch, as for arrays
    dataset = keras_vae._keras_compat.untuned_array_dataset(x, batch_size=3)
    np.testing.assert_array_equal(_rows(dataset), x)
    assert np.isfinite(model.evaluate(x, batch_size=3, verbose=0)).all()
    z_mean, _ = model.encode(x, batch_size=3)
    np.testing.assert_allclose(z_mean, keras.ops.convert_to_numpy(model.encoder(x)[0]),
                               rtol=1e-5, atol=1e-6)


@_tensorflow_only
def test_arrays_with_different_row_counts_get_keras_error_not_a_gather_failure():
    """x and y of different lengths are left to Keras' array path, whose
    ValueError names both sizes (the untuned pipeline would fail mid-epoch
    in a tf.gather)."""
    x = np.random.default_rng(2).random((10, 8, 8, 1)).astype("float32")
    model = tiny_model(keras_vae.VAE)
    model.compile()
    calls = {
        "fit": lambda: model.fit(x, x[:8], batch_size=4, verbose=0),
        "evaluate": lambda: model.evaluate(x, x[:8], batch_size=4, verbose=0),
        "validation_data": lambda: model.fit(x, batch_size=4, verbose=0,
                                             validation_data=(x, x[:7])),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=r"'x' sizes: 10\s+'y' sizes: [78]"):
            call()
