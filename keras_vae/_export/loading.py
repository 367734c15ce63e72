"""Resolving a model from what a command line names: a `.keras` file, a
`.weights.h5` file with its config, or a preset (a shipped preset name or a
preset directory, loaded by `keras_vae.presets.load_preset`).
"""

import json
import os

import keras


def load_model(source, config=None):
    """Returns the keras_vae model that `source` names.

    Args:
        source: a path to a `.keras` file, a path to a `.weights.h5` file
            (then `config` is required), a preset directory or the name of
            a shipped preset (see `keras_vae.presets.list_presets()`).
        config: the model's config for a `.weights.h5` file: a path to a
            JSON file or a dict, either `keras.saving.serialize_keras_object
            (model)` or `{"class_name": "VAE", "config": model.get_config()}`.

    Returns:
        The model, uncompiled (`.keras` files load with `compile=False`).
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "Argument `source` must be a path or a preset name. "
            f"Received: source={source!r} of type {type(source).__name__}"
        )
    source = os.fspath(source)
    if config is not None and not source.endswith(".weights.h5"):
        raise ValueError(
            "Argument `config` only applies to a `.weights.h5` file. "
            f"Received: source={source!r} with config={_short(config)}"
        )
    if source.endswith(".keras"):
        _check_file("source", source)
        return keras.saving.load_model(source, compile=False)
    if source.endswith(".weights.h5"):
        _check_file("source", source)
        if config is None:
            raise ValueError(
                "A `.weights.h5` file holds weights only: pass the model's "
                "config too (CLI: --config CONFIG.json), e.g. written with "
                "`json.dump(keras.saving.serialize_keras_object(model), f)`. "
                f"Received: source={source!r} with config=None"
            )
        model = model_from_config(config)
        model.load_weights(source)
        return model
    if os.path.isfile(source):
        raise ValueError(
            "Argument `source` must be a `.keras` file, a `.weights.h5` file, "
            "a preset directory or a preset name. Received: "
            f"source={source!r}, an existing file of another type"
        )
    from keras_vae import presets

    return presets.load_preset(source)


def model_from_config(config):
    """Builds a keras_vae model from a config dict or a JSON file path."""
    if isinstance(config, (str, os.PathLike)):
        _check_file("config", os.fspath(config))
        with open(config) as f:
            config = json.load(f)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Argument `config` must be a serialized model: a dict (or JSON "
            "file) with `class_name` and `config`, as written by "
            "`keras.saving.serialize_keras_object(model)`. "
            f"Received: config={_short(config)}"
        )
    import keras_vae

    cls = getattr(keras_vae, config["class_name"], None)
    if isinstance(cls, type) and issubclass(cls, keras_vae.BaseVAE):
        return cls.from_config(config.get("config", {}))
    return keras.saving.deserialize_keras_object(config)


def _check_file(name, path):
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Argument `{name}` must be an existing file. Received: {name}={path!r}"
        )


def _short(value, limit=200):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
