"""Pretrained presets: a directory of `config.json`, `model.weights.h5`, `metadata.json`.

A preset directory (keras-hub's layout) holds:

- `config.json`: `{"class_name": "BetaTCVAE", "config": {...}}`, the model's
  `get_config()`; only keras-vae model classes are accepted, and no code is
  unpickled (Keras' safe deserialization of plain layers).
- `model.weights.h5`: the weights (`model.save_weights`).
- `metadata.json`: versions, parameter count, dataset, recipe, seed, steps,
  wall time, hardware, measured metrics, and the `sha256` of the weights,
  verified before every load.

Shipped presets live in `zoo/presets/<name>/` of the source tree, installed
with the wheel as `keras_vae/zoo/presets/<name>/` (or in the folder named by
the `KERAS_VAE_PRESETS` environment variable).
"""

import hashlib
import json
import os
import platform
import shutil
import tempfile

import keras

from keras_vae import _zoo
from keras_vae import hub
from keras_vae import model_card

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"


def presets_dir():
    """The folder holding the shipped presets."""
    override = os.environ.get("KERAS_VAE_PRESETS")
    if override:
        return override
    return os.path.join(_zoo.zoo_dir(), "presets")


def list_presets():
    """Returns `{name: metadata}` for every shipped preset."""
    base = presets_dir()
    found = {}
    if os.path.isdir(base):
        for name in sorted(os.listdir(base)):
            meta = os.path.join(base, name, METADATA_FILE)
            if os.path.isfile(meta):
                with open(meta) as f:
                    found[name] = json.load(f)
    return found


def sha256(path):
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _model_classes():
    import keras_vae

    return {
        name: obj
        for name, obj in vars(keras_vae).items()
        if isinstance(obj, type) and issubclass(obj, keras_vae.BaseVAE)
        and obj is not keras_vae.BaseVAE
    }


def resolve(name_or_dir):
    """Returns the local directory of a preset handle.

    Args:
        name_or_dir: a shipped preset's name, a directory, or a `file://`,
            `hf://` or `kaggle://` handle (fetched into the hub client's
            cache; see `keras_vae.hub`).
    """
    if not isinstance(name_or_dir, (str, os.PathLike)):
        raise TypeError(
            "Argument `name_or_dir` must be a preset name, a directory path or "
            "a file://, hf:// or kaggle:// handle. "
            f"Received: name_or_dir={name_or_dir!r}"
        )
    path = os.fspath(name_or_dir)
    if hub.split_handle(path)[0] is not None:
        path = hub.fetch(path)
        if not os.path.isdir(path):
            raise ValueError(f"The preset handle {name_or_dir!r} points at {path!r}, "
                             f"which is not a directory. Received: name_or_dir={name_or_dir!r}")
        return path
    if os.path.isdir(path):
        return path
    candidate = os.path.join(presets_dir(), path)
    if os.sep not in path and os.path.isdir(candidate):
        return candidate
    available = sorted(list_presets())
    raise ValueError(
        f"Unknown preset {path!r}: it is neither a shipped preset nor a "
        f"directory. Available presets: {available or 'none found in ' + presets_dir()}. "
        "Train one with `keras-vae train RECIPE --out DIR` and pass DIR. "
        f"Received: name_or_dir={path!r}"
    )


def load_preset(name_or_dir, expected_class=None):
    """Builds the model of a preset and loads its verified weights.

    Args:
        name_or_dir: a shipped preset name (see `list_presets()`) or a preset
            directory.
        expected_class: if given, the preset's model must be an instance.

    Returns:
        The model, uncompiled (call `compile()` to fine-tune).
    """
    directory = resolve(name_or_dir)
    for file in (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE):
        if not os.path.isfile(os.path.join(directory, file)):
            raise ValueError(
                f"Preset directory {directory!r} lacks {file}; a preset holds "
                f"{CONFIG_FILE}, {WEIGHTS_FILE} and {METADATA_FILE}. "
                f"Received: name_or_dir={name_or_dir!r}"
            )
    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = json.load(f)
    with open(os.path.join(directory, METADATA_FILE)) as f:
        metadata = json.load(f)
    classes = _model_classes()
    class_name = config.get("class_name")
    if class_name not in classes:
        raise ValueError(
            f"Preset {directory!r} names model class {class_name!r}; expected "
            f"one of {sorted(classes)}. Received: class_name={class_name!r}"
        )
    weights = os.path.join(directory, WEIGHTS_FILE)
    actual = sha256(weights)
    if actual != metadata.get("sha256"):
        raise ValueError(
            f"The weights of preset {directory!r} do not match the checksum in "
            f"{METADATA_FILE}: the file is corrupt or was modified. Restore it "
            "(e.g. `git checkout` the preset) or re-train it with its recipe. "
            f"Received: sha256={actual}, expected {metadata.get('sha256')}"
        )
    cls = classes[class_name]
    if expected_class is not None and not issubclass(cls, expected_class):
        raise ValueError(
            f"Preset {directory!r} holds a {class_name}, not a "
            f"{expected_class.__name__}; load it with keras_vae.from_preset() or "
            f"{class_name}.from_preset(). Received: class_name={class_name!r}"
        )
    model = cls.from_config(config["config"])
    model.load_weights(weights)
    model.preset_metadata = metadata
    return model


def save_preset(model, directory, metadata=None, overwrite=False):
    """Writes `model` as a preset directory (atomically).

    Args:
        model: a keras-vae model.
        directory: target folder; must not exist unless `overwrite=True`.
        metadata: extra JSON-serializable fields (dataset, recipe, seed, steps,
            wall time, metrics, ...); versions, parameter count, hardware and
            the weights' sha256 are added.
        overwrite: replace an existing directory.

    Returns:
        The metadata written.
    """
    classes = _model_classes()
    if type(model).__name__ not in classes:
        raise TypeError(
            "Argument `model` must be a keras-vae model "
            f"({sorted(classes)}). Received: model of type {type(model).__name__}"
        )
    directory = os.fspath(directory)
    if os.path.exists(directory) and os.listdir(directory) and not overwrite:
        raise ValueError(
            f"Preset directory {directory!r} exists and is not empty; pass "
            f"overwrite=True to replace it. Received: directory={directory!r}"
        )
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".preset-", dir=parent)
    try:
        with open(os.path.join(staging, CONFIG_FILE), "w") as f:
            json.dump({"class_name": type(model).__name__, "config": model.get_config()},
                      f, indent=2)
        weights = os.path.join(staging, WEIGHTS_FILE)
        # An uncompiled twin, so the file holds the model's weights only (a
        # compiled model's .weights.h5 also carries the optimizer state).
        twin = type(model).from_config(model.get_config())
        twin.set_weights(model.get_weights())
        twin.save_weights(weights)
        import keras_vae

        meta = {
            **(metadata or {}),
            "keras_version": keras.__version__,
            "keras_vae_version": keras_vae.__version__,
            "backend": keras.backend.backend(),
            "parameters": int(model.count_params()),
            "hardware": f"{platform.machine()}, {os.cpu_count()} CPU cores",
            "sha256": sha256(weights),
        }
        with open(os.path.join(staging, METADATA_FILE), "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
        model_card.write_model_card(staging, name=os.path.basename(os.path.normpath(directory)))
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return meta
