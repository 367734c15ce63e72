"""Resolving a model from what a command line names: a `.keras` file, a
`.weights.h5` file with its config, or a preset (a shipped preset name or a
preset directory, loaded by `keras_vae.presets.load_preset`).
"""

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
        import zipfile

        if not zipfile.is_zipfile(source):
            raise ValueError(
                f"File {source!r} is not a valid .keras file (a zip archive): it is "
                f"truncated or damaged. Received: source={source!r}"
            )
        try:
            return keras.saving.load_model(source, compile=False)
        except Exception as e:  # zip, JSON or h5 errors from inside Keras
            raise ValueError(
                f"File {source!r} could not be loaded as a .keras model: it is damaged "
                f"or incomplete. Received: {type(e).__name__}: {_first_line(e)}"
            ) from None
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
        try:
            model.load_weights(source)
        except Exception as e:  # h5py's OSError, Keras' ValueError on a mismatch
            raise ValueError(
                f"File {source!r} could not be loaded into the {type(model).__name__} of "
                "the config: it is damaged or holds another model's weights. Received: "
                f"{type(e).__name__}: {_first_line(e)}"
            ) from None
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
        from keras_vae.presets import read_json

        _check_file("config", os.fspath(config))
        config = read_json(os.fspath(config))
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


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _short(value, limit=200):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
