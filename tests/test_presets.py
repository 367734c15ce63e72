"""Preset directories: save, verified load, and clear refusals."""

import json
import os

import numpy as np
import pytest

import keras_vae
from keras_vae import presets
from testing import tiny_model


@pytest.fixture()
def preset_dir(tmp_path, digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaVAE, beta=2.0)
    model.compile()
    model.fit(x[:64], batch_size=32, epochs=1, verbose=0)
    directory = tmp_path / "beta_digits"
    meta = presets.save_preset(model, directory, {"dataset": "digits", "steps": 2})
    return directory, model, meta


def test_round_trip_and_metadata(preset_dir, digits):
    x, _ = digits
    directory, model, meta = preset_dir
    assert sorted(os.listdir(directory)) == ["README.md", "config.json", "metadata.json",
                                            "model.weights.h5"]
    assert meta["sha256"] == presets.sha256(directory / "model.weights.h5")
    assert meta["parameters"] == model.count_params() and meta["dataset"] == "digits"
    loaded = keras_vae.from_preset(str(directory))
    assert type(loaded) is keras_vae.BetaVAE and loaded.beta == 2.0
    np.testing.assert_allclose(loaded.predict(x[:4]), model.predict(x[:4]), atol=1e-6)
    assert keras_vae.BetaVAE.from_preset(str(directory)).preset_metadata["steps"] == 2
    with pytest.raises(ValueError, match="not a MMDVAE"):
        keras_vae.MMDVAE.from_preset(str(directory))


def test_tampered_weights_are_refused(preset_dir):
    directory, _, _ = preset_dir
    with open(directory / "model.weights.h5", "r+b") as f:
        f.seek(-16, os.SEEK_END)
        f.write(b"\x00" * 16)
    with pytest.raises(ValueError, match="checksum"):
        keras_vae.from_preset(str(directory))


def test_unknown_class_and_missing_files(preset_dir):
    directory, _, _ = preset_dir
    config = json.loads((directory / "config.json").read_text())
    config["class_name"] = "os.system"
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="model class"):
        keras_vae.from_preset(str(directory))
    os.remove(directory / "metadata.json")
    with pytest.raises(ValueError, match="lacks metadata.json"):
        keras_vae.from_preset(str(directory))


def test_unknown_name_lists_available(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_VAE_PRESETS", str(tmp_path))
    with pytest.raises(ValueError, match=r"Available presets: none found"):
        keras_vae.from_preset("no_such_preset")
    with pytest.raises(TypeError, match="name_or_dir"):
        keras_vae.from_preset(3)


def test_save_refuses_existing_directory(preset_dir):
    directory, model, _ = preset_dir
    with pytest.raises(ValueError, match="overwrite=True"):
        presets.save_preset(model, directory)
    presets.save_preset(model, directory, overwrite=True)
    assert not [p for p in os.listdir(directory.parent) if p.startswith(".preset-")]
    with pytest.raises(TypeError, match="keras-vae model"):
        presets.save_preset(object(), directory.parent / "x")


def test_config_is_inside_the_checksum(preset_dir):
    directory, _, meta = preset_dir
    assert set(meta["files"]) == {"config.json", "model.weights.h5"}
    assert meta["files"]["config.json"] == presets.sha256(directory / "config.json")
    config = json.loads((directory / "config.json").read_text())
    config["config"]["beta"] = 100.0  # a hyperparameter edit, still valid JSON
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="File config.json .* does not match the checksum"):
        keras_vae.from_preset(str(directory))


def test_checksums_compare_case_insensitively(preset_dir, digits):
    directory, model, _ = preset_dir
    meta = json.loads((directory / "metadata.json").read_text())
    meta["files"] = {k: v.upper() for k, v in meta["files"].items()}
    meta["sha256"] = meta["sha256"].upper()
    (directory / "metadata.json").write_text(json.dumps(meta))
    loaded = keras_vae.from_preset(str(directory))
    x, _ = digits
    np.testing.assert_allclose(loaded.predict(x[:2]), model.predict(x[:2]), atol=1e-6)
    del meta["files"]  # an older preset: the weights' checksum only
    (directory / "metadata.json").write_text(json.dumps(meta))
    assert type(keras_vae.from_preset(str(directory))) is keras_vae.BetaVAE


@pytest.mark.parametrize("file, content, match", [
    ("config.json", "{not json", r"config.json' is not valid JSON"),
    ("config.json", "[1, 2]", r"config.json' must hold a JSON object. Received: a JSON list"),
    ("metadata.json", "", r"metadata.json' is not valid JSON"),
    ("metadata.json", '"text"', r"metadata.json' must hold a JSON object"),
    ("config.json", '{"class_name": "VAE"}', r"model class 'VAE'.*with its `config`"),
])
def test_malformed_files_are_one_line_naming_the_file(preset_dir, file, content, match):
    directory, _, _ = preset_dir
    (directory / file).write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        keras_vae.from_preset(str(directory))
    assert "\n" not in str(info.value)


def test_truncated_weights_with_a_matching_checksum_name_the_file(preset_dir):
    directory, _, _ = preset_dir
    weights = directory / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:500])
    meta = json.loads((directory / "metadata.json").read_text())
    meta["files"]["model.weights.h5"] = meta["sha256"] = presets.sha256(weights)
    (directory / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"model.weights.h5' could not be loaded") as info:
        keras_vae.from_preset(str(directory))
    assert "\n" not in str(info.value)


def test_empty_name_is_a_clear_error():
    for name in ("", "   "):
        with pytest.raises(ValueError, match=r"must name a preset.*Received: name_or_dir="):
            keras_vae.from_preset(name)


def test_preset_folders_follow_the_umask_and_stale_staging_is_removed(preset_dir):
    directory, model, _ = preset_dir
    old = os.umask(0o022)
    try:
        presets.save_preset(model, directory, overwrite=True)
        assert os.stat(directory).st_mode & 0o777 == 0o755
        os.umask(0o002)
        presets.save_preset(model, directory, overwrite=True)
        assert os.stat(directory).st_mode & 0o777 == 0o775
    finally:
        os.umask(old)
    dead = directory.parent / f".{directory.name}.partial-999999999-0123abcd"
    dead.mkdir()  # left by a writer that was killed (no such process)
    presets.save_preset(model, directory, overwrite=True)
    assert not dead.exists()


def test_a_preset_can_leave_out_the_layers_only_training_uses(tmp_path, digits):
    import h5py

    x, _ = digits
    model = tiny_model(keras_vae.FactorVAE, discriminator_units=[64, 64])
    model.compile(optimizer="adam")
    model.fit(x[:64], batch_size=32, epochs=1, verbose=0)  # weights differ from init
    full = presets.save_preset(model, tmp_path / "full")
    meta = presets.save_preset(model, tmp_path / "slim", training_layers=False)
    assert meta["dropped_layers"] == ["discriminator"] and "dropped_layers" not in full
    with h5py.File(tmp_path / "slim" / presets.WEIGHTS_FILE, "r") as f:
        assert "discriminator" not in f and {"encoder", "decoder"} <= set(f)
    assert os.path.getsize(tmp_path / "slim" / presets.WEIGHTS_FILE) < \
        os.path.getsize(tmp_path / "full" / presets.WEIGHTS_FILE)

    loaded = keras_vae.from_preset(str(tmp_path / "slim"))
    for part in ("encoder", "decoder"):
        for a, b in zip(getattr(model, part).get_weights(), getattr(loaded, part).get_weights()):
            np.testing.assert_array_equal(a, b)
    # The discriminator starts afresh: same shapes, not the trained weights,
    # and training goes on from the preset.
    trained, started = model.discriminator.get_weights(), loaded.discriminator.get_weights()
    assert [a.shape for a in trained] == [b.shape for b in started]
    assert not np.allclose(trained[0], started[0])
    np.testing.assert_allclose(model.encode(x[:8])[0], loaded.encode(x[:8])[0],
                               rtol=1e-6, atol=1e-6)
    loaded.compile(optimizer="adam")
    history = loaded.fit(x[:64], batch_size=32, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert "leaves out the weights of `discriminator`" in \
        (tmp_path / "slim" / "README.md").read_text()

    # A model with no such layers saves everything either way.
    vae = presets.save_preset(tiny_model(keras_vae.VAE), tmp_path / "vae", training_layers=False)
    assert "dropped_layers" not in vae


@pytest.mark.parametrize("dropped", [["encoder"], "discriminator", []])
def test_a_preset_may_leave_out_only_training_layers(tmp_path, dropped):
    model = tiny_model(keras_vae.FactorVAE)
    presets.save_preset(model, tmp_path / "p", training_layers=False)
    path = tmp_path / "p" / presets.METADATA_FILE
    meta = json.loads(path.read_text())
    path.write_text(json.dumps(dict(meta, dropped_layers=dropped)))
    with pytest.raises(ValueError, match=r"only the training-only layers of a FactorVAE, "
                                         r"\['discriminator'\]. Received: dropped_layers="):
        keras_vae.from_preset(str(tmp_path / "p"))


def test_leave_out_training_layers_rewrites_a_copied_preset(tmp_path):
    model = tiny_model(keras_vae.FactorVAE)
    meta = presets.save_preset(model, tmp_path / "p")
    updated = presets.leave_out_training_layers(str(tmp_path / "p"), meta)
    assert updated["dropped_layers"] == ["discriminator"]
    assert updated["sha256"] == presets.sha256(str(tmp_path / "p" / presets.WEIGHTS_FILE))
    assert updated["sha256"] != meta["sha256"]
    (tmp_path / "p" / presets.METADATA_FILE).write_text(json.dumps(updated))
    loaded = keras_vae.from_preset(str(tmp_path / "p"))
    for a, b in zip(model.encoder.get_weights(), loaded.encoder.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_leaving_out_training_layers_refuses_bad_arguments(tmp_path):
    model = tiny_model(keras_vae.FactorVAE)
    with pytest.raises(TypeError, match=r"`training_layers` must be True or False. "
                                        r"Received: training_layers='no'"):
        presets.save_preset(model, tmp_path / "p", training_layers="no")
    assert not (tmp_path / "p").exists()
    meta = presets.save_preset(model, tmp_path / "p")
    with pytest.raises(TypeError, match=r"`metadata` must be the preset's metadata dict. "
                                        r"Received: metadata of type list"):
        presets.leave_out_training_layers(str(tmp_path / "p"), [meta])
    config = tmp_path / "p" / presets.CONFIG_FILE
    config.write_text(json.dumps({"class_name": "Unknown", "config": {}}))
    with pytest.raises(ValueError, match=r"must name a keras-vae model .*"
                                         r"Received: class_name='Unknown'"):
        presets.leave_out_training_layers(str(tmp_path / "p"), meta)
