"""Pretrained presets: a directory of `config.json`, `model.weights.h5`, `metadata.json`.

A preset directory (keras-hub's layout) holds:

- `config.json`: `{"class_name": "BetaTCVAE", "config": {...}}`, the model's
  `get_config()`; only keras-vae model classes are accepted, and no code is
  unpickled (Keras' safe deserialization of plain layers).
- `model.weights.h5`: the weights (`model.save_weights`).
- `metadata.json`: versions, parameter count, dataset, recipe, seed, steps,
  wall time, hardware, measured metrics, and the checksums: `files` maps
  `config.json` and `model.weights.h5` to their SHA-256 (hex digits, compared
  case-insensitively), all verified before every load; `sha256` repeats the
  weights' (presets written before `files` existed carry only this one).

A preset is written into a hidden folder beside its target, fsynced and
renamed into place (`keras_vae._export.staging`), so it is always whole.

Shipped presets live in `zoo/presets/<name>/` of the source tree, installed
with the wheel as `keras_vae/zoo/presets/<name>/` (or in the folder named by
the `KERAS_VAE_PRESETS` environment variable).
"""

import hashlib
import json
import os
import platform
import tempfile

import keras

from keras_vae import _validation
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
                found[name] = read_json(meta, dict)
    return found


def read_json(path, kind=dict):
    """Reads a JSON file that must hold a `kind` (dict); a malformed or
    unreadable file is a one-line `ValueError` naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(
            f"File {os.fspath(path)!r} is not valid JSON ({e}); it is damaged or was "
            f"edited by hand. Received: {os.path.basename(path)} that does not parse"
        ) from None
    if not isinstance(data, kind):
        raise ValueError(
            f"File {os.fspath(path)!r} must hold a JSON object. Received: a JSON "
            f"{type(data).__name__}"
        )
    return data


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
    scheme, _ = hub.split_handle(name_or_dir, "name_or_dir")  # TypeError if not a string
    path = os.fspath(name_or_dir)
    if not path.strip():
        raise ValueError(
            "Argument `name_or_dir` must name a preset (see "
            "keras_vae.presets.list_presets()), a preset directory or a file://, "
            f"hf:// or kaggle:// handle. Received: name_or_dir={path!r}"
        )
    if scheme is not None:
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
    config = read_json(os.path.join(directory, CONFIG_FILE))
    metadata = read_json(os.path.join(directory, METADATA_FILE))
    classes = _model_classes()
    class_name = config.get("class_name")
    if class_name not in classes or not isinstance(config.get("config"), dict):
        raise ValueError(
            f"Preset {directory!r} names model class {class_name!r}; expected "
            f"one of {sorted(classes)} with its `config`. Received: class_name={class_name!r}"
        )
    verify_checksums(directory, metadata)
    cls = classes[class_name]
    if expected_class is not None and not issubclass(cls, expected_class):
        raise ValueError(
            f"Preset {directory!r} holds a {class_name}, not a "
            f"{expected_class.__name__}; load it with keras_vae.from_preset() or "
            f"{class_name}.from_preset(). Received: class_name={class_name!r}"
        )
    weights = os.path.join(directory, WEIGHTS_FILE)
    try:
        model = cls.from_config(config["config"])
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"The config of preset {directory!r} ({CONFIG_FILE}) does not build a "
            f"{class_name}: {_first_line(e)}"
        ) from None
    dropped = _check_dropped(metadata.get("dropped_layers"), cls, directory)
    try:
        if dropped:
            with tempfile.TemporaryDirectory() as folder:
                model.load_weights(_completed(model, weights, dropped, folder))
        else:
            model.load_weights(weights)
    except Exception as e:  # h5py's OSError, Keras' ValueError on a mismatch
        raise ValueError(
            f"File {weights!r} could not be loaded into the preset's {class_name}: it is "
            f"damaged or from another model. Received: {type(e).__name__}: {_first_line(e)}"
        ) from None
    model.preset_metadata = metadata
    return model


def leave_out_training_layers(directory, metadata):
    """Rewrites a preset directory's weights without its model's training-only
    layers (see `save_preset(..., training_layers=False)`).

    Returns:
        `metadata` with `dropped_layers`, `files` and `sha256` updated (the
        caller writes it).
    """
    if not isinstance(metadata, dict):
        raise TypeError("Argument `metadata` must be the preset's metadata dict. "
                        f"Received: metadata of type {type(metadata).__name__}")
    config = read_json(os.path.join(directory, CONFIG_FILE))
    classes = _model_classes()
    if config.get("class_name") not in classes:
        raise ValueError(
            f"The config of preset {directory!r} ({CONFIG_FILE}) must name a keras-vae model "
            f"({sorted(classes)}). Received: class_name={config.get('class_name')!r}")
    dropped = _leave_out(os.path.join(directory, WEIGHTS_FILE), classes[config["class_name"]])
    if not dropped:
        return metadata
    files = checksums(directory)
    return {**metadata, "dropped_layers": dropped, "files": files, "sha256": files[WEIGHTS_FILE]}


def _leave_out(weights, cls):
    """Rewrites the `.weights.h5` file without `cls.training_only_layers`' groups."""
    import h5py

    names = sorted(getattr(cls, "training_only_layers", ()))
    if not names:
        return []
    slim = weights + ".slim"
    with h5py.File(weights, "r") as source, h5py.File(slim, "w") as target:
        for key, value in source.attrs.items():
            target.attrs[key] = value
        for name in source:
            if name not in names:
                source.copy(source[name], target, name)
    os.replace(slim, weights)
    return names


def _check_dropped(dropped, cls, directory):
    if dropped is None:
        return []
    allowed = sorted(getattr(cls, "training_only_layers", ()))
    if not isinstance(dropped, list) or not set(dropped) <= set(allowed) or not dropped:
        raise ValueError(
            f"Preset {directory!r} ({METADATA_FILE}) may leave out only the training-only "
            f"layers of a {cls.__name__}, {allowed}. Received: dropped_layers={dropped!r}"
        )
    return dropped


def _completed(model, weights, dropped, folder):
    """A copy of the weights file with the dropped layers' groups taken from
    `model` as built (their initial weights)."""
    import shutil

    import h5py

    fresh = os.path.join(folder, "fresh.weights.h5")
    model.save_weights(fresh)
    full = os.path.join(folder, "full.weights.h5")
    shutil.copyfile(weights, full)
    with h5py.File(fresh, "r") as source, h5py.File(full, "a") as target:
        for name in dropped:
            if name in target:
                raise ValueError(f"it holds {name!r}, which its metadata says it leaves out")
            source.copy(source[name], target, name)
    return full


def checksums(directory):
    """`{file: sha256}` of the config and weights of a preset directory."""
    return {name: sha256(os.path.join(directory, name)) for name in (CONFIG_FILE, WEIGHTS_FILE)}


def verify_checksums(directory, metadata):
    """Raises a `ValueError` naming the first file of `directory` whose
    SHA-256 differs from the one `metadata` records (`files`, or the weights'
    `sha256` of an older preset)."""
    expected = metadata.get("files")
    if not isinstance(expected, dict):
        expected = {WEIGHTS_FILE: metadata.get("sha256")}
    for name in (CONFIG_FILE, WEIGHTS_FILE) if "files" in metadata else (WEIGHTS_FILE,):
        want = expected.get(name)
        actual = sha256(os.path.join(directory, name))
        if not isinstance(want, str) or actual != want.strip().lower():
            raise ValueError(
                f"File {name} of preset {directory!r} does not match the checksum in "
                f"{METADATA_FILE}: the file is corrupt or was modified. Restore it "
                "(e.g. `git checkout` the preset) or re-train it with its recipe. "
                f"Received: sha256={actual}, expected {want}"
            )


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def save_preset(model, directory, metadata=None, overwrite=False, training_layers=True):
    """Writes `model` as a preset directory (atomically).

    Args:
        model: a keras-vae model.
        directory: target folder; must not exist unless `overwrite=True`.
        metadata: extra JSON-serializable fields (dataset, recipe, seed, steps,
            wall time, metrics, ...); versions, parameter count, hardware
            (unless `metadata` names it) and the weights' sha256 are added.
        overwrite: replace an existing directory.
        training_layers: False leaves out the weights of the layers only
            training uses (`model.training_only_layers`, e.g. FactorVAE's
            discriminator), recorded as `dropped_layers` in the metadata:
            the preset encodes, decodes and samples the same, and
            `load_preset` starts those layers afresh.

    Returns:
        The metadata written.
    """
    classes = _model_classes()
    if type(model).__name__ not in classes:
        raise TypeError(
            "Argument `model` must be a keras-vae model "
            f"({sorted(classes)}). Received: model of type {type(model).__name__}"
        )
    training_layers = _validation.check_bool("training_layers", training_layers)
    directory = os.fspath(directory)
    if os.path.exists(directory) and os.listdir(directory) and not overwrite:
        raise ValueError(
            f"Preset directory {directory!r} exists and is not empty; pass "
            f"overwrite=True to replace it. Received: directory={directory!r}"
        )
    from keras_vae._export import staging

    with staging.staged_directory(directory, overwrite=True) as tmp:
        with open(os.path.join(tmp, CONFIG_FILE), "w") as f:
            json.dump({"class_name": type(model).__name__, "config": model.get_config()},
                      f, indent=2)
        weights = os.path.join(tmp, WEIGHTS_FILE)
        # An uncompiled twin, so the file holds the model's weights only (a
        # compiled model's .weights.h5 also carries the optimizer state).
        twin = type(model).from_config(model.get_config())
        twin.set_weights(model.get_weights())
        twin.save_weights(weights)
        import keras_vae

        dropped = [] if training_layers else _leave_out(weights, type(model))
        files = checksums(tmp)
        meta = {
            **(metadata or {}),
            **({"dropped_layers": dropped} if dropped else {}),
            "keras_version": keras.__version__,
            "keras_vae_version": keras_vae.__version__,
            "backend": keras.backend.backend(),
            "parameters": int(model.count_params()),
            # A caller that trained elsewhere (e.g. on a GPU) names its hardware.
            "hardware": (metadata or {}).get("hardware")
            or f"{platform.machine()}, {os.cpu_count()} CPU cores",
            "sha256": files[WEIGHTS_FILE],
            "files": files,
        }
        with open(os.path.join(tmp, METADATA_FILE), "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
        model_card.write_model_card(tmp, name=os.path.basename(os.path.normpath(directory)))
    return meta
