"""Writers of the two artifact formats into an (empty) directory.

A SavedModel is written by `keras.export.ExportArchive` under the TensorFlow
backend (a `tf.function` graph) or the JAX backend (`jax2tf`: StableHLO in
`XlaCallModule` ops, lowered for CPU and CUDA). ONNX is converted by tf2onnx
from the same functions traced under the TensorFlow backend.
"""

import contextlib
import json
import os
import warnings

import keras

from keras_vae._export import signatures

ONNX_OPSET = 17
MANIFEST = "keras_vae.json"
FORMATS = ("saved_model", "onnx")
# Backends that write each format in-process; the others go through a
# TensorFlow subprocess (see `remote.py`).
LOCAL_BACKENDS = {"saved_model": ("tensorflow", "jax"), "onnx": ("tensorflow",)}
# jax2tf options for the JAX route: lower for CPU and CUDA so a SavedModel
# exported on a CPU-only machine also serves on a GPU; no gradients needed.
JAX2TF_KWARGS = {"native_serialization_platforms": ("cpu", "cuda"),
                 "with_gradient": False}


def write(model, directory, format, decoder_output, source_backend=None):
    """Writes `model` as `format` into the existing empty `directory`.

    Args:
        model: a `keras_vae.BaseVAE`.
        directory: an existing, empty directory.
        format: `"saved_model"` or `"onnx"`.
        decoder_output: `"mean"` or `"raw"` (see `signatures.py`).
        source_backend: the backend the user exported from, recorded in the
            manifest; defaults to the current backend.
    """
    backend = keras.backend.backend()
    if backend not in LOCAL_BACKENDS[format]:
        raise RuntimeError(
            f"The {format} writer cannot run under the {backend} backend; "
            "keras_vae.export() routes it through a TensorFlow subprocess. "
            f"Received: format={format!r} under KERAS_BACKEND={backend}"
        )
    if format == "saved_model":
        write_saved_model(model, directory, decoder_output)
        manifest_dir = os.path.join(directory, "assets.extra")
    else:
        write_onnx(model, directory, decoder_output)
        manifest_dir = directory
    _write_manifest(model, manifest_dir, format, decoder_output,
                    source_backend or backend)


def write_saved_model(model, directory, decoder_output):
    """Writes the `encode`, `decode`, `reconstruct`, `sample` and
    `serving_default` (= `reconstruct`) signatures with a dynamic batch."""
    archive = keras.export.ExportArchive()
    archive.track(model.encoder)
    archive.track(model.decoder)
    functions = signatures.serving_functions(model, decoder_output)
    kwargs = {}
    if keras.backend.backend() == "jax":
        kwargs["jax2tf_kwargs"] = dict(JAX2TF_KWARGS)
    with _quiet_jax2tf():
        for name in signatures.SAVED_MODEL_SIGNATURES:
            fn, spec = functions[name]
            archive.add_endpoint(name, fn, input_signature=[spec], **kwargs)
    archive.write_out(directory, verbose=False)


def write_onnx(model, directory, decoder_output):
    """Writes `encoder.onnx` (x -> z_mean, z_log_var) and `decoder.onnx`
    (z -> x, or z -> decoder_output when raw), each with a dynamic batch."""
    import onnx
    import tensorflow as tf
    import tf2onnx

    functions = signatures.serving_functions(model, decoder_output)
    for filename, name in signatures.ONNX_FILES.items():
        fn, spec = functions[name]
        traced = tf.function(fn, input_signature=[spec], autograph=False)
        proto, _ = tf2onnx.convert.from_function(
            traced, input_signature=[spec], opset=ONNX_OPSET
        )
        proto.doc_string = (
            f"keras_vae {type(model).__name__} {name} "
            f"(decoder_output={decoder_output})"
        )
        onnx.checker.check_model(proto)
        onnx.save(proto, os.path.join(directory, filename))


def _write_manifest(model, directory, format, decoder_output, source_backend):
    import keras_vae

    manifest = {
        "format": format,
        "keras_vae_version": keras_vae.__version__,
        "model_class": type(model).__name__,
        "image_shape": list(model.image_shape),
        "latent_dim": model.latent_dim,
        "likelihood": model.likelihood.name_,
        "decoder_output": decoder_output,
        "source_backend": source_backend,
        "export_backend": keras.backend.backend(),
        "signatures": signatures.describe(model, decoder_output),
    }
    if format == "saved_model":
        manifest["default_signature"] = "reconstruct"
    else:
        manifest["onnx_files"] = dict(signatures.ONNX_FILES)
        manifest["onnx_opset"] = ONNX_OPSET
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, MANIFEST), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


@contextlib.contextmanager
def _quiet_jax2tf():
    # Keras 3.15 always passes `native_serialization` to jax2tf, which JAX
    # >= 0.7 deprecates (native serialization is the only mode left).
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=".*native_serialization.*deprecated",
            category=DeprecationWarning,
        )
        yield
