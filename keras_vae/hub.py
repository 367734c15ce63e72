"""Preset handles: fetching presets from, and publishing them to, model hubs.

A preset is named by a handle, as in keras-hub:

- a shipped preset's name (`"beta_tcvae_dsprites"`, see `list_presets()`)
  or a local directory;
- `file://PATH`: a local directory (absolute, or relative to the working
  directory);
- `hf://OWNER/REPO` (optionally `hf://OWNER/REPO@REVISION`): a Hugging Face
  Hub model repository, fetched with `huggingface_hub.snapshot_download` and
  cached where that library caches (`HF_HUB_CACHE`; with `HF_HUB_OFFLINE=1`
  it is served from the cache alone);
- `kaggle://OWNER/MODEL/keras/VARIATION` (optionally `/VERSION`): a Kaggle
  Models variation, fetched with `kagglehub.model_download` and cached where
  that library caches (`KAGGLEHUB_CACHE`). A handle without a version asks
  Kaggle for the latest one, which needs the network; a versioned handle
  already in the cache does not.

The two hub clients are optional (`pip install "keras-vae[hub]"`). Whatever
the source, `keras_vae.from_preset` verifies the weights' sha256 against the
preset's `metadata.json` before loading.
"""

import os
import shutil

# The files of a preset directory; anything else in a hub repository (its
# README.md model card, figures) is fetched too but not required.
_PRESET_FILES = ("config.json", "model.weights.h5", "metadata.json")
SCHEMES = ("file", "hf", "kaggle")


def split_handle(handle, name="handle"):
    """Returns `(scheme, rest)` of `"scheme://rest"`, or `(None, handle)`.

    `name` is the argument named in the TypeError for a non-string.
    """
    if not isinstance(handle, (str, os.PathLike)):
        raise TypeError(
            f"Argument `{name}` must be a preset name, a directory or a "
            "`file://`, `hf://` or `kaggle://` handle (a string). "
            f"Received: {name}={handle!r} of type {type(handle).__name__}"
        )
    text = os.fspath(handle)
    if "://" not in text:
        return None, text
    scheme, rest = text.split("://", 1)
    if scheme not in SCHEMES:
        raise ValueError(
            f"Unknown preset handle scheme {scheme!r}; expected one of "
            f"{', '.join(s + '://' for s in SCHEMES)}. Received: handle={text!r}"
        )
    if not rest:
        raise ValueError(f"The preset handle {text!r} names nothing after "
                         f"'{scheme}://'. Received: handle={text!r}")
    return scheme, rest


def _require(module, handle):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(
            f"Loading or uploading {handle!r} needs the `{module}` package, "
            'an optional dependency: pip install "keras-vae[hub]"'
        ) from None


def _hf_repo(rest, handle):
    repo, _, revision = rest.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise ValueError(
            "A Hugging Face handle is hf://OWNER/REPO or hf://OWNER/REPO@REVISION. "
            f"Received: handle={handle!r}"
        )
    return repo, revision or None


def _kaggle_handle(rest, handle):
    parts = rest.strip("/").split("/")
    if len(parts) not in (4, 5) or not all(parts):
        raise ValueError(
            "A Kaggle handle is kaggle://OWNER/MODEL/keras/VARIATION or "
            f"kaggle://OWNER/MODEL/keras/VARIATION/VERSION. Received: handle={handle!r}"
        )
    if len(parts) == 5 and not parts[4].isdigit():
        raise ValueError(f"The version of a Kaggle handle is a positive integer. "
                         f"Received: version={parts[4]!r} in handle={handle!r}")
    return "/".join(parts)


def fetch(handle):
    """Returns the local directory of a `file://`, `hf://` or `kaggle://` handle.

    Hub handles are downloaded into (or served from) the client library's
    cache. A failure to reach the hub raises `OSError` saying how to get the
    preset offline.
    """
    scheme, rest = split_handle(handle)
    text = os.fspath(handle)
    if scheme is None:
        raise ValueError(f"{text!r} is not a `scheme://` handle. Received: handle={text!r}")
    if scheme == "file":
        return os.path.abspath(os.path.expanduser(rest))
    if scheme == "hf":
        repo, revision = _hf_repo(rest, text)
        hub = _require("huggingface_hub", text)
        try:
            return hub.snapshot_download(repo_id=repo, revision=revision)
        except Exception as error:  # the client's many network/offline errors
            raise OSError(
                f"Could not fetch preset {text!r} from the Hugging Face Hub "
                f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
                "Connect to the network, or copy the preset directory here and "
                "pass its path (or file://PATH); a preset fetched once is served "
                "from the cache with HF_HUB_OFFLINE=1."
            ) from error
    kaggle_handle = _kaggle_handle(rest, text)
    kagglehub = _require("kagglehub", text)
    try:
        return kagglehub.model_download(kaggle_handle)
    except Exception as error:
        raise OSError(
            f"Could not fetch preset {text!r} from Kaggle Models "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            "Connect to the network, or copy the preset directory here and pass "
            "its path (or file://PATH); a versioned handle "
            "(kaggle://OWNER/MODEL/keras/VARIATION/VERSION) fetched once is "
            "served from the cache without the network."
        ) from error


def upload_preset(uri, preset):
    """Publishes a preset directory to `file://`, `hf://` or `kaggle://`.

    Args:
        uri: the target handle. `file://PATH` copies the preset to PATH
            (atomically: a staging folder renamed into place; PATH must not
            exist); `hf://OWNER/REPO` uploads with `HfApi.upload_folder`
            (creating the repository if needed; log in with `hf auth login`
            or `HF_TOKEN`); `kaggle://OWNER/MODEL/keras/VARIATION` with
            `kagglehub.model_upload` (credentials from `~/.kaggle` or
            `KAGGLE_USERNAME`/`KAGGLE_KEY`).
        preset: a preset directory (`save_to_preset`'s output) or a shipped
            preset's name. It is loaded once first, so a damaged preset
            (checksum mismatch, unknown class) is never published.

    Returns:
        The handle that loads the uploaded preset.
    """
    from keras_vae import presets

    scheme, rest = split_handle(uri)
    text = os.fspath(uri)
    if scheme is None:
        raise ValueError(
            "Argument `uri` must be a file://, hf:// or kaggle:// handle. "
            f"Received: uri={text!r}"
        )
    directory = presets.resolve(preset)
    presets.load_preset(directory)  # verifies the files and checksum
    if scheme == "file":
        target = os.path.abspath(os.path.expanduser(rest))
        if os.path.exists(target):
            raise ValueError(f"The upload target {target!r} exists; choose a new path. "
                             f"Received: uri={text!r}")
        from keras_vae._export import staging

        with staging.staged_directory(target, overwrite=False) as folder:
            for name in sorted(os.listdir(directory)):
                source = os.path.join(directory, name)
                if os.path.isfile(source):
                    shutil.copy2(source, os.path.join(folder, name))
        return "file://" + target
    if scheme == "hf":
        repo, revision = _hf_repo(rest, text)
        hub = _require("huggingface_hub", text)
        api = hub.HfApi()
        api.create_repo(repo_id=repo, exist_ok=True)
        api.upload_folder(repo_id=repo, folder_path=directory, revision=revision,
                          commit_message="Upload keras-vae preset")
        return text
    kaggle_handle = _kaggle_handle(rest, text)
    kagglehub = _require("kagglehub", text)
    kagglehub.model_upload(kaggle_handle, directory, license_name="Apache 2.0")
    return text
