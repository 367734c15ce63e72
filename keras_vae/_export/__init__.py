"""Export for serving: a TensorFlow SavedModel or ONNX files, from any backend.

The implementation behind `keras_vae.export()`; see `docs/serving.md`. The
package is private so that the name `keras_vae.export` is the function only.
"""

import os
import sys

import keras

from keras_vae import _validation
from keras_vae._export import remote
from keras_vae._export import signatures
from keras_vae._export import staging
from keras_vae._export import writers
from keras_vae._export.loading import load_model
from keras_vae._export.signatures import DECODER_OUTPUTS
from keras_vae._export.writers import FORMATS


def export(model, path, format="saved_model", overwrite=False,
           decoder_output="mean"):
    """Exports a keras_vae model for serving, from any backend.

    `format="saved_model"` writes a TensorFlow SavedModel directory with the
    signatures (dynamic batch dimension, float32, named dict outputs):

    - `encode`: `x` (batch, H, W, C) -> `z_mean`, `z_log_var`
      (batch, latent_dim), the posterior q(z | x);
    - `decode`: `z` (batch, latent_dim) -> `x` (batch, H, W, C);
    - `reconstruct`: `x` -> `x`, decoding the posterior mean;
    - `sample`: `eps` (batch, latent_dim) -> `x`: decodes draws from the
      N(0, I) prior that the client supplies (e.g.
      `np.random.default_rng(seed).standard_normal((n, latent_dim))`), so
      the graph holds no random op and the same noise gives the same images
      on every runtime;
    - `serving_default`: the same as `reconstruct`.

    `format="onnx"` writes a directory with `encoder.onnx` (the `encode`
    signature) and `decoder.onnx` (the `decode` signature), opset 17. The
    whole model is not exported to ONNX: its forward pass draws
    `z ~ q(z | x)` with a random op that tf2onnx cannot convert; compose
    the two files on the client (reconstruct = decoder(encoder(x).z_mean)).

    Both formats also hold a `keras_vae.json` manifest (in `assets.extra/`
    for a SavedModel) with the model's shapes, likelihood and signatures.

    **Backends.** Under TensorFlow the artifact is written in-process; under
    JAX the SavedModel is written in-process through `jax2tf` (StableHLO in
    `XlaCallModule` ops, lowered for CPU and CUDA). Otherwise (a SavedModel
    from torch, ONNX from JAX or torch) the config and weights are handed to
    a `KERAS_BACKEND=tensorflow` subprocess that rebuilds the model and
    writes the artifact; its errors are re-raised here with their message.
    Custom layers must then be importable (defined in a module, registered
    with `keras.saving.register_keras_serializable`).

    **Atomicity.** The artifact is written to a hidden directory beside
    `path` and renamed into place only when complete; on failure nothing is
    left behind and an existing `path` is untouched.

    Args:
        model: a keras_vae model (`keras_vae.VAE`, `BetaVAE`, `MMDVAE` or
            another `keras_vae.BaseVAE`).
        path: the output directory (created; its parents too).
        format: `"saved_model"` or `"onnx"`.
        overwrite: replace an existing non-empty `path`. An existing empty
            directory is always replaced.
        decoder_output: `"mean"` (default): image outputs are the
            likelihood mean (pixel probabilities in [0, 1] for Bernoulli,
            the location for Gaussian / Laplace), named `x`. `"raw"`: the
            decoder's raw output (e.g. Bernoulli logits), named
            `decoder_output`.

    Returns:
        The absolute output path, as a string.

    Example:

    ```python
    keras_vae.export(model, "serving/vae/1")  # TF Serving version dir
    keras_vae.export(model, "onnx/vae", format="onnx")
    ```
    """
    _check_model(model)
    path = _check_path(path)
    format = _validation.check_choice("format", format, FORMATS)
    overwrite = _validation.check_bool("overwrite", overwrite)
    decoder_output = _validation.check_choice(
        "decoder_output", decoder_output, DECODER_OUTPUTS
    )
    if format == "onnx":
        _check_onnx_installed()
    staging.check_target(path, overwrite)

    with staging.staged_directory(path, overwrite) as directory:
        _write(model, directory, format, decoder_output)
    return path


def _write(model, directory, format, decoder_output):
    if keras.backend.backend() in writers.LOCAL_BACKENDS[format]:
        writers.write(model, directory, format, decoder_output)
    else:
        remote.export_in_subprocess(model, directory, format, decoder_output)


def _is_base_vae(model):
    # A BaseVAE exists only once its module has been imported: looking it up
    # in sys.modules keeps this package free of any import of the models.
    base = sys.modules.get("keras_vae.models.base")
    return base is not None and isinstance(model, base.BaseVAE)


def _check_model(model):
    if not _is_base_vae(model):
        hint = ""
        if isinstance(model, (str, os.PathLike)):
            hint = (" To export a saved model, load it first (e.g. "
                    "`keras.saving.load_model(path)`) or use the CLI: "
                    "`keras-vae export MODEL OUT`.")
        elif isinstance(model, keras.Model):
            hint = (" For another Keras model use its own `model.export()`.")
        raise TypeError(
            "Argument `model` must be a keras_vae model (a "
            f"`keras_vae.BaseVAE`, e.g. `keras_vae.VAE`).{hint} "
            f"Received: model={_describe(model)}"
        )
    networks = (("model", model), ("model.encoder", model.encoder),
                ("model.decoder", model.decoder))
    for name, layer in networks:
        if not layer.built:
            raise ValueError(
                f"`{name}` has not been built, so it has no weights to "
                "export. Build it (e.g. call it on a batch) or load it with "
                f"keras.saving.load_model(). Received: model={_describe(model)}"
            )


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(
            "Argument `path` must be a non-empty path (str or os.PathLike). "
            f"Received: path={path!r}"
        )
    return os.path.abspath(os.fspath(path))


def _check_onnx_installed():
    import importlib.util

    missing = [name for name in ("tf2onnx", "onnx")
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"format='onnx' needs the packages {missing}: "
            "`pip install 'keras-vae[onnx]'` (tf2onnx, onnx, onnxruntime). "
            f"Received: format='onnx' with {', '.join(missing)} not installed"
        )


def _describe(model):
    if isinstance(model, keras.layers.Layer):
        return f"<{type(model).__name__} {model.name!r}>"
    text = repr(model)
    return text if len(text) <= 100 else text[:100] + "..."


__all__ = ["export", "load_model", "FORMATS", "DECODER_OUTPUTS", "signatures"]
