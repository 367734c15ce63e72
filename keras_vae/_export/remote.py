"""The subprocess route: export from a backend that cannot write a format.

Torch cannot write a SavedModel (Keras needs torch_xla for that) and only
TensorFlow converts to ONNX here, but weights are portable across backends.
So the model's config and weights go to a temporary directory, and a fresh
`python -m keras_vae._export` process under `KERAS_BACKEND=tensorflow`
rebuilds the same model and writes the artifact. An error in that process is
re-raised here with its type (when built in) and message.
"""

import argparse
import builtins
import json
import os
import subprocess
import sys
import tempfile
import traceback

import keras

WORKER_BACKEND = "tensorflow"
_OWN_MODULES = ("keras", "keras_vae", "builtins", "__main__")


def export_in_subprocess(model, directory, format, decoder_output):
    """Writes `model` as `format` into `directory` from a TensorFlow process.

    Args:
        model: a `keras_vae.BaseVAE` under any backend.
        directory: an existing, empty directory.
        format: `"saved_model"` or `"onnx"`.
        decoder_output: `"mean"` or `"raw"`.
    """
    with tempfile.TemporaryDirectory(prefix="keras_vae_export_") as workdir:
        config = keras.saving.serialize_keras_object(model)
        config_path = os.path.join(workdir, "config.json")
        with open(config_path, "w") as f:
            json.dump(config, f)
        weights_path = os.path.join(workdir, "model.weights.h5")
        model.save_weights(weights_path)
        error_path = os.path.join(workdir, "error.json")
        command = [
            sys.executable, "-m", "keras_vae._export", weights_path, directory,
            "--config", config_path, "--format", format,
            "--decoder-output", decoder_output,
            "--source-backend", keras.backend.backend(),
            "--error-file", error_path,
        ]
        for module in sorted(_custom_modules(config)):
            command += ["--import", module]
        result = subprocess.run(command, env=_worker_env(), capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise _worker_error(result, error_path, format)


def _worker_env():
    env = dict(os.environ, KERAS_BACKEND=WORKER_BACKEND)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Tracing needs no accelerator; leave the GPU to the calling process.
    env["CUDA_VISIBLE_DEVICES"] = ""
    # The modules the caller can import (its custom layers) stay importable.
    path = [os.getcwd() if p == "" else p for p in sys.path]
    env["PYTHONPATH"] = os.pathsep.join(path)
    return env


def _custom_modules(config):
    """Modules defining the non-Keras classes of a serialized model."""
    found = set()
    if isinstance(config, dict):
        module = config.get("module")
        if isinstance(module, str) and "class_name" in config:
            if module.split(".")[0] not in _OWN_MODULES:
                found.add(module)
        values = config.values()
    elif isinstance(config, list):
        values = config
    else:
        values = ()
    for value in values:
        found |= _custom_modules(value)
    return found


def _worker_error(result, error_path, format):
    context = (
        f"keras_vae.export() wrote the {format} artifact under "
        f"KERAS_BACKEND={WORKER_BACKEND} in a subprocess, because the "
        f"{keras.backend.backend()} backend cannot write it directly; the "
        "model was rebuilt there from its config and weights"
    )
    if os.path.exists(error_path):
        with open(error_path) as f:
            error = json.load(f)
        cls = getattr(builtins, error["type"], None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            cls = RuntimeError
        return cls(f"{error['message']}\n({context}; it raised {error['type']}.)")
    tail = "\n".join(result.stderr.strip().splitlines()[-20:])
    return RuntimeError(
        f"{context}, and it exited with code {result.returncode}. "
        f"The end of its output:\n{tail}"
    )


def main(argv=None):
    """Entry point of the worker process (`python -m keras_vae._export`)."""
    parser = argparse.ArgumentParser(prog="python -m keras_vae._export")
    parser.add_argument("weights")
    parser.add_argument("directory")
    parser.add_argument("--config", required=True)
    parser.add_argument("--format", required=True)
    parser.add_argument("--decoder-output", required=True)
    parser.add_argument("--source-backend")
    parser.add_argument("--error-file", required=True)
    parser.add_argument("--import", dest="imports", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        import importlib

        from keras_vae._export import loading
        from keras_vae._export import writers

        for module in args.imports:
            try:
                importlib.import_module(module)
            except ImportError as e:
                raise ImportError(
                    f"The model uses classes from module {module!r}, which the "
                    f"export process cannot import ({e}). Define custom layers "
                    "in an importable module (not in __main__ or a notebook) "
                    "and register them with "
                    "@keras.saving.register_keras_serializable()."
                ) from e
        model = loading.load_model(args.weights, config=args.config)
        writers.write(model, args.directory, args.format, args.decoder_output,
                      source_backend=args.source_backend)
    except Exception as e:
        traceback.print_exc()
        with open(args.error_file, "w") as f:
            json.dump({"type": type(e).__name__, "message": str(e)}, f)
        return 1
    return 0
