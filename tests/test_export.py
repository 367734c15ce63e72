"""Export for serving: SavedModel and ONNX artifacts served without Keras.

The suite runs once per backend, so each run exports from its own backend
(in-process, or through the TensorFlow subprocess for torch and for ONNX from
JAX) and compares the served outputs with the Keras model's in-process
outputs. The weights are set from a fixed numpy generator, so the three runs
export the same function and the parity checks compare the same numbers.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import keras_vae
from testing import BACKEND, tiny_model
from keras_vae import _export
from keras_vae import cli
from keras_vae._export import remote

ATOL = 1e-5
SIGNATURES = {"encode", "decode", "reconstruct", "sample", "serving_default"}

# Run in a fresh process: Keras, keras_vae, JAX and torch cannot be imported
# there (TensorFlow's own lazy `keras` import included), so the artifacts
# are proven to need TensorFlow or onnxruntime only.
SERVE = r"""
import json, sys, types
BLOCKED = ("keras", "keras_vae", "jax", "torch", "tf_keras")
for name in BLOCKED:
    sys.modules[name] = None
import numpy as np
import onnxruntime
import tensorflow as tf

spec = json.load(open(sys.argv[1]))
feeds = dict(np.load(spec["inputs"]))
outputs, summary = {}, {}

def serve_saved_model(tag, path):
    loaded = tf.saved_model.load(path)
    summary[tag] = {}
    for name, fn in loaded.signatures.items():
        (arg, tensor_spec), = fn.structured_input_signature[1].items()
        result = fn(**{arg: tf.constant(feeds[arg])})
        summary[tag][name] = {"input": arg, "shape": tensor_spec.shape.as_list(),
                              "outputs": sorted(result)}
        for key, value in result.items():
            outputs[f"{tag}/{name}/{key}"] = value.numpy()
    one = loaded.signatures["encode"](x=tf.constant(feeds["x"][:1]))
    outputs[f"{tag}/encode_batch1/z_mean"] = one["z_mean"].numpy()

def serve_onnx(tag, path):
    summary[tag] = {}
    for filename in ("encoder.onnx", "decoder.onnx"):
        session = onnxruntime.InferenceSession(
            f"{path}/{filename}", providers=["CPUExecutionProvider"])
        (node,) = session.get_inputs()
        names = [o.name for o in session.get_outputs()]
        summary[tag][filename] = {"input": node.name, "shape": node.shape,
                                  "outputs": sorted(names)}
        for key, value in zip(names, session.run(None, {node.name: feeds[node.name]})):
            outputs[f"{tag}/{filename}/{key}"] = value

for tag, path in spec["saved_models"].items():
    serve_saved_model(tag, path)
for tag, path in spec["onnx"].items():
    serve_onnx(tag, path)
np.savez(spec["outputs"], **outputs)
loaded = [m for m in BLOCKED if isinstance(sys.modules.get(m), types.ModuleType)]
assert not loaded, loaded
print(json.dumps(summary))
"""


def _model():
    """A tiny conv VAE whose weights are the same on every backend."""
    model = tiny_model(keras_vae.VAE, architecture="conv",
                       network_kwargs={"filters": [4, 8], "hidden_units": [16]})
    rng = np.random.default_rng(0)
    for variable in model.encoder.weights + model.decoder.weights:
        variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))
    return model


def _numpy(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor))


def _serve(spec, directory):
    spec_path = os.path.join(directory, "serve.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run([sys.executable, "-I", "-c", SERVE, spec_path],
                            env=env, cwd=directory, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# Under torch every export is a TensorFlow subprocess (~8 s each on 2 cores),
# so the CLI's raw-output export, in-process elsewhere, is a slow test there.
RAW_IN_FIXTURE = BACKEND != "torch"


def _inputs(digits, latent_dim):
    rng = np.random.default_rng(1)
    return dict(x=digits[0][:5],
                z=rng.standard_normal((5, latent_dim)).astype("float32"),
                eps=rng.standard_normal((5, latent_dim)).astype("float32"))


def _reference(model, x, z, eps):
    z_mean, z_log_var = (_numpy(t) for t in model.encoder(x))
    return {
        "z_mean": z_mean, "z_log_var": z_log_var,
        "decode": model.decode(z), "reconstruct": model.reconstruct(x),
        "sample": model.decode(eps),
        "raw_decode": _numpy(model.decoder(z)),
        "raw_reconstruct": _numpy(model.decoder(z_mean)),
        "raw_sample": _numpy(model.decoder(eps)),
    }


def _export_raw_with_cli(model, root):
    keras_file = os.path.join(root, "model.keras")
    model.save(keras_file)
    raw_dir = os.path.join(root, "raw")
    assert cli.main(["export", keras_file, raw_dir, "--decoder-output", "raw"]) == 0
    return raw_dir


def _serve_all(root, inputs, saved_models, onnx):
    np.savez(os.path.join(root, "inputs.npz"), **inputs)
    summary = _serve({
        "inputs": os.path.join(root, "inputs.npz"),
        "outputs": os.path.join(root, "outputs.npz"),
        "saved_models": saved_models, "onnx": onnx,
    }, root)
    return summary, dict(np.load(os.path.join(root, "outputs.npz")))


@pytest.fixture(scope="module")
def served(digits, tmp_path_factory):
    """Exports one model through `keras_vae.export` as a SavedModel and as
    ONNX (and, where that is in-process, as a raw-output SavedModel from a
    `.keras` file through the CLI), then serves all in one TF-only process."""
    root = str(tmp_path_factory.mktemp("served"))
    model = _model()
    inputs = _inputs(digits, model.latent_dim)
    paths = {"sm": keras_vae.export(model, os.path.join(root, "saved_model")),
             "onnx": keras_vae.export(model, os.path.join(root, "onnx"),
                                      format="onnx")}
    saved_models = {"sm": paths["sm"]}
    if RAW_IN_FIXTURE:
        saved_models["raw"] = paths["raw"] = _export_raw_with_cli(model, root)
    summary, outputs = _serve_all(root, inputs, saved_models,
                                  {"onnx": paths["onnx"]})
    return dict(summary=summary, outputs=outputs, paths=paths,
                reference=_reference(model, **inputs))


def _expected(reference, prefix=""):
    """Maps each served output name to its Keras reference."""
    image = "decoder_output" if prefix else "x"
    return {
        "encode/z_mean": reference["z_mean"],
        "encode/z_log_var": reference["z_log_var"],
        "encode_batch1/z_mean": reference["z_mean"][:1],
        f"decode/{image}": reference[prefix + "decode"],
        f"reconstruct/{image}": reference[prefix + "reconstruct"],
        f"serving_default/{image}": reference[prefix + "reconstruct"],
        f"sample/{image}": reference[prefix + "sample"],
    }


def _assert_close(outputs, expected, tag):
    for key, value in expected.items():
        served_value = outputs[f"{tag}/{key}"]
        assert served_value.shape == value.shape, key
        np.testing.assert_allclose(served_value, value, rtol=0, atol=ATOL,
                                   err_msg=f"{tag}/{key} ({BACKEND})")


def test_saved_model_signatures_have_named_io_and_dynamic_batch(served):
    signatures = served["summary"]["sm"]
    assert set(signatures) == SIGNATURES
    image = [None, 8, 8, 1]
    assert signatures["encode"] == {"input": "x", "shape": image,
                                    "outputs": ["z_log_var", "z_mean"]}
    assert signatures["decode"] == {"input": "z", "shape": [None, 4],
                                    "outputs": ["x"]}
    assert signatures["sample"] == {"input": "eps", "shape": [None, 4],
                                    "outputs": ["x"]}
    assert signatures["reconstruct"] == signatures["serving_default"] == {
        "input": "x", "shape": image, "outputs": ["x"]}


def test_saved_model_matches_keras(served):
    _assert_close(served["outputs"], _expected(served["reference"]), "sm")
    images = served["outputs"]["sm/sample/x"]
    assert images.min() >= 0.0 and images.max() <= 1.0  # means, not logits


def _check_raw(summary, outputs, reference):
    assert summary["raw"]["decode"]["outputs"] == ["decoder_output"]
    _assert_close(outputs, _expected(reference, "raw_"), "raw")
    assert outputs["raw/decode/decoder_output"].min() < 0.0  # logits


@pytest.mark.skipif(not RAW_IN_FIXTURE, reason="slow under torch: see the "
                    "slow variant below")
def test_raw_saved_model_from_cli_matches_decoder_output(served):
    _check_raw(served["summary"], served["outputs"], served["reference"])


@pytest.mark.slow
@pytest.mark.skipif(RAW_IN_FIXTURE, reason="covered by the fast variant")
def test_raw_saved_model_from_cli_matches_decoder_output_slow(digits, tmp_path):
    model = _model()
    inputs = _inputs(digits, model.latent_dim)
    raw_dir = _export_raw_with_cli(model, str(tmp_path))
    summary, outputs = _serve_all(str(tmp_path), inputs, {"raw": raw_dir}, {})
    _check_raw(summary, outputs, _reference(model, **inputs))


def test_onnx_encoder_and_decoder_match_keras(served):
    files = served["summary"]["onnx"]
    assert files["encoder.onnx"]["input"] == "x"
    assert files["encoder.onnx"]["outputs"] == ["z_log_var", "z_mean"]
    assert files["decoder.onnx"]["input"] == "z"
    assert files["decoder.onnx"]["outputs"] == ["x"]
    assert not isinstance(files["decoder.onnx"]["shape"][0], int)  # dynamic
    reference, outputs = served["reference"], served["outputs"]
    _assert_close(outputs, {"encoder.onnx/z_mean": reference["z_mean"],
                            "encoder.onnx/z_log_var": reference["z_log_var"],
                            "decoder.onnx/x": reference["decode"]}, "onnx")


def test_manifests_describe_the_artifacts(served):
    with open(os.path.join(served["paths"]["sm"], "assets.extra",
                           "keras_vae.json")) as f:
        manifest = json.load(f)
    assert manifest["source_backend"] == BACKEND
    assert manifest["model_class"] == "VAE" and manifest["latent_dim"] == 4
    assert manifest["decoder_output"] == "mean"
    assert manifest["signatures"]["sample"]["inputs"] == {"eps": [None, 4]}
    with open(os.path.join(served["paths"]["onnx"], "keras_vae.json")) as f:
        manifest = json.load(f)
    assert manifest["export_backend"] == "tensorflow"
    assert manifest["onnx_files"] == {"encoder.onnx": "encode",
                                      "decoder.onnx": "decode"}
    assert not [name for name in os.listdir(os.path.dirname(served["paths"]["sm"]))
                if ".partial-" in name or ".old-" in name]


# === Bad input ===

def test_rejects_what_is_not_a_built_keras_vae_model(tmp_path):
    path = str(tmp_path / "out")
    with pytest.raises(TypeError, match="must be a keras_vae model.*own `model.export"):
        keras_vae.export(keras.Sequential([keras.layers.Dense(2)]), path)
    with pytest.raises(TypeError, match="load it first.*Received: model='m.keras'"):
        keras_vae.export("m.keras", path)
    model = tiny_model(keras_vae.VAE)
    model.decoder.built = False
    with pytest.raises(ValueError, match="`model.decoder` has not been built"):
        keras_vae.export(model, path)
    assert not os.path.exists(path)


def test_rejects_bad_arguments(tmp_path):
    model = tiny_model(keras_vae.VAE)
    path = str(tmp_path / "out")
    with pytest.raises(ValueError, match=r"`format` must be one of \['onnx', "
                                         r"'saved_model'\]. Received: format='tflite'"):
        keras_vae.export(model, path, format="tflite")
    with pytest.raises(ValueError, match="Received: decoder_output='logits'"):
        keras_vae.export(model, path, decoder_output="logits")
    with pytest.raises(TypeError, match="Received: overwrite='yes'"):
        keras_vae.export(model, path, overwrite="yes")
    with pytest.raises(TypeError, match="`path` must be a non-empty path"):
        keras_vae.export(model, "")
    assert os.listdir(tmp_path) == []


def _fake_writer(fail=False):
    def write(model, directory, format, decoder_output):
        with open(os.path.join(directory, "saved_model.pb"), "w") as f:
            f.write("new")
        if fail:
            raise RuntimeError("disk full")
    return write


def _siblings(path):
    return sorted(os.listdir(os.path.dirname(path)))


def test_existing_output_needs_overwrite_and_is_replaced_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(_export, "_write", _fake_writer())
    model = tiny_model(keras_vae.VAE)
    path = tmp_path / "out"
    path.mkdir()
    keras_vae.export(model, str(path))  # an empty directory is free
    assert (path / "saved_model.pb").read_text() == "new"
    (path / "saved_model.pb").write_text("old")
    (path / "stale.txt").write_text("stale")
    with pytest.raises(FileExistsError, match="overwrite=True.*a non-empty directory"):
        keras_vae.export(model, str(path))
    assert (path / "saved_model.pb").read_text() == "old"
    keras_vae.export(model, str(path), overwrite=True)
    assert sorted(os.listdir(path)) == ["saved_model.pb"]  # no stale files
    assert _siblings(str(path)) == ["out"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="Received: path=.*, a file"):
        keras_vae.export(model, str(tmp_path / "file"))


def test_failed_export_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(_export, "_write", _fake_writer(fail=True))
    model = tiny_model(keras_vae.VAE)
    deep = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError, match="disk full"):
        keras_vae.export(model, str(deep))
    assert os.listdir(tmp_path) == []  # parents created for it removed too
    existing = tmp_path / "kept"
    existing.mkdir()
    (existing / "saved_model.pb").write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        keras_vae.export(model, str(existing), overwrite=True)
    assert (existing / "saved_model.pb").read_text() == "old"
    assert _siblings(str(existing)) == ["kept"]


def test_subprocess_errors_keep_their_type_and_message(tmp_path):
    error_file = tmp_path / "error.json"
    error_file.write_text(json.dumps({"type": "ValueError", "message": "bad shape"}))
    result = subprocess.CompletedProcess([], 1, "", "Traceback ...\nValueError: bad shape")
    error = remote._worker_error(result, str(error_file), "onnx")
    assert isinstance(error, ValueError)
    assert str(error).startswith("bad shape\n(keras_vae.export() wrote the onnx")
    error = remote._worker_error(result, str(tmp_path / "none.json"), "onnx")
    assert isinstance(error, RuntimeError)
    assert "exited with code 1" in str(error) and "ValueError: bad shape" in str(error)


@keras.saving.register_keras_serializable(package="test_export")
class _Unimportable(keras.layers.Layer):
    def call(self, inputs):
        return inputs


_Unimportable.__module__ = "keras_vae_missing_plugin"


@pytest.mark.skipif(BACKEND != "tensorflow", reason="the subprocess route is "
                    "the same code on every backend; one failing run suffices")
def test_subprocess_failure_surfaces_and_cleans_up(tmp_path):
    """A model whose custom layer the TensorFlow process cannot import: the
    real worker fails, and its error reaches the caller."""
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(_Unimportable()(inputs))
    encoder = keras.Model(inputs, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    model = keras_vae.VAE(input_shape=(8, 8, 1), latent_dim=2, encoder=encoder,
                          architecture="mlp", network_kwargs={"hidden_units": [8]})
    directory = tmp_path / "staging"
    directory.mkdir()
    with pytest.raises(ImportError, match="(?s)keras_vae_missing_plugin.*importable "
                                          "module.*subprocess"):
        remote.export_in_subprocess(model, str(directory), "saved_model", "mean")


# === Command line ===

def test_cli_reports_bad_models_without_traceback(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert cli.main(["export", str(tmp_path / "missing.keras"), out]) == 1
    assert "must be an existing file" in capsys.readouterr().err
    assert cli.main(["export", "no-such-preset", out]) == 1
    assert "Unknown preset 'no-such-preset'" in capsys.readouterr().err
    weights = tmp_path / "m.weights.h5"
    tiny_model(keras_vae.VAE).save_weights(str(weights))
    assert cli.main(["export", str(weights), out]) == 1
    assert "--config" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["export", str(weights), out, "--format", "tflite"])
    assert not os.path.exists(out)


def test_load_model_from_weights_config_or_preset(tmp_path):
    model = _model()
    weights = str(tmp_path / "m.weights.h5")
    model.save_weights(weights)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(keras.saving.serialize_keras_object(model)))
    loaded = _export.load_model(weights, config=str(config))
    x = np.linspace(0, 1, 2 * 64, dtype="float32").reshape(2, 8, 8, 1)
    np.testing.assert_allclose(loaded.reconstruct(x), model.reconstruct(x), atol=1e-6)
    short = {"class_name": "VAE", "config": model.get_config()}
    assert type(_export.load_model(weights, config=short)) is keras_vae.VAE
    preset = str(tmp_path / "preset")
    keras_vae.presets.save_preset(model, preset)
    np.testing.assert_allclose(_export.load_model(preset).reconstruct(x),
                               model.reconstruct(x), atol=1e-6)
