"""Model cards: a preset's `README.md`, generated from its metadata.

The card follows the Hugging Face model-card format (YAML front matter with
`library_name`, `tags`, `datasets` and a `model-index` of the measured
metrics, each with the protocol behind it where the metadata records one),
then the card's prose: what the model is, how to load it, the command that
trained it, the measured numbers, the figures and the intended use and
limits. The front matter is written as YAML's JSON-compatible subset, so no
YAML library is needed to write or read it.
"""

import json
import os

from keras_vae import _atomic

CARD_FILE = "README.md"

_TAGS = {
    "VAE": ["vae"],
    "BetaVAE": ["beta-vae"],
    "AnnealedVAE": ["annealed-vae", "beta-vae"],
    "MMDVAE": ["mmd-vae", "info-vae"],
    "BetaTCVAE": ["beta-tcvae"],
    "FactorVAE": ["factor-vae"],
    "DIPVAE": ["dip-vae"],
}

_DATASETS = {
    "dsprites": ("dSprites", "deepmind/dsprites-dataset (Matthey et al. 2017)"),
    "fashion_mnist": ("Fashion-MNIST", "zalando-research/fashion-mnist (Xiao et al. 2017)"),
    "mnist": ("MNIST", "LeCun et al. 1998"),
    "digits": ("scikit-learn 8x8 digits", "UCI optical recognition of handwritten digits"),
}

_METRIC_NAMES = {
    "test_elbo": "test ELBO (nats)",
    "test_iwae_nll": "IWAE negative log-likelihood (nats)",
    "test_iwae_samples": "k (importance samples) of the IWAE bound",
    "test_iwae_samples": "k (importance samples) of the IWAE bound",
    "test_reconstruction_loss": "test reconstruction loss (nats)",
    "test_kl_loss": "test KL (nats)",
    "active_units": "active units",
    "knn_latent": "5-NN accuracy, latent means",
    "knn_pixels": "5-NN accuracy, raw pixels",
    "mig": "MIG",
    "factor_vae_score": "FactorVAE score",
    "beta_vae_score": "BetaVAE score",
    "dci_disentanglement": "DCI disentanglement",
    "dci_completeness": "DCI completeness",
    "dci_informativeness": "DCI informativeness",
    "sap": "SAP",
}

_LIMITS = {
    "dsprites": (
        "dSprites is a synthetic benchmark of five known factors (shape, "
        "scale, orientation, x, y); its scores measure disentanglement on that "
        "data only. Disentanglement scores vary more between random seeds than "
        "between methods (Locatello et al. 2019), so one preset does not rank "
        "methods."
    ),
    "fashion_mnist": (
        "A model of 28x28 grey-scale clothing images; its latent space is a "
        "compact representation for those images, not a general image encoder."
    ),
}


def _scalar(value):
    """A YAML scalar in JSON's syntax (a subset of YAML)."""
    if isinstance(value, float):
        return json.dumps(round(value, 6))
    return json.dumps(value)


def _front_matter(name, config, metadata):
    class_name = config.get("class_name", "model")
    dataset = metadata.get("dataset", "unknown")
    tags = ["keras", "keras-vae", "variational-autoencoder",
            "representation-learning", "unsupervised"] + _TAGS.get(class_name, [])
    metrics = metadata.get("metrics", {}) or {}
    protocols = _protocols(metadata)
    lines = ["---", "library_name: keras", "license: apache-2.0", "tags:"]
    lines += [f"- {_scalar(tag)}" for tag in tags]
    lines += ["datasets:", f"- {_scalar(dataset)}"]
    if metrics:
        lines += ["model-index:", f"- name: {_scalar(name)}", "  results:",
                  "  - task:", '      type: "representation-learning"',
                  '      name: "Unsupervised representation learning"',
                  "    dataset:", f"      type: {_scalar(dataset)}",
                  f"      name: {_scalar(_DATASETS.get(dataset, (dataset,))[0])}",
                  "    metrics:"]
        for key in sorted(metrics):
            value = metrics[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            lines += [f"    - type: {_scalar(key)}",
                      f"      name: {_scalar(_METRIC_NAMES.get(key, key))}",
                      f"      value: {_scalar(value)}"]
            protocol = _protocol_of(protocols, key)
            if isinstance(protocol, dict) and protocol:
                lines.append("      args:")
                lines += [f"        {k}: {_scalar(v)}" for k, v in sorted(protocol.items())
                          if isinstance(v, (str, int, float, bool)) or v is None]
    lines.append("---")
    return "\n".join(lines)


def _protocols(metadata):
    """`{metric: protocol record}`: `keras-vae train` stores the records of the
    disentanglement metrics in `metrics["disentanglement_protocols"]`."""
    metrics = metadata.get("metrics", {}) or {}
    found = metrics.get("disentanglement_protocols") or metadata.get("metric_protocols") or {}
    return found if isinstance(found, dict) else {}


def _protocol_of(protocols, metric):
    """The record behind `metric` (the three DCI numbers share the "dci" one)."""
    return protocols.get(metric) or protocols.get(metric.split("_")[0])


def _format(value):
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    return f"{value}"


def model_card(name, config, metadata, figures=None):
    """Returns the Markdown model card of a preset.

    Args:
        name: the preset's name (its folder or handle).
        config: the preset's `config.json` content (`class_name`, `config`).
        metadata: the preset's `metadata.json` content.
        figures: optional `{caption: relative path}` of images to show.
    """
    for argument, value in (("config", config), ("metadata", metadata)):
        if not isinstance(value, dict):
            raise TypeError(f"Argument `{argument}` must be the preset's JSON object "
                            f"(a dict). Received: {argument} of type {type(value).__name__}")
    class_name = config.get("class_name", "model")
    model_config = config.get("config", {}) or {}
    dataset = metadata.get("dataset", "unknown")
    dataset_name, dataset_source = _DATASETS.get(dataset, (dataset, "unknown source"))
    recipe = metadata.get("recipe")
    out = [_front_matter(name, config, metadata), "", f"# {name}", ""]
    out.append(
        f"A keras-vae `{class_name}` (latent size {model_config.get('latent_dim', '?')}, "
        f"`{model_config.get('architecture', 'custom')}` network, "
        f"{metadata.get('parameters', 0):,} parameters) trained on {dataset_name} "
        f"({dataset_source}) with Keras {metadata.get('keras_version', '?')} on the "
        f"{metadata.get('backend', '?')} backend. Its weights load on TensorFlow, JAX "
        "and PyTorch."
    )
    if metadata.get("references"):
        out += ["", f"Settings: {metadata['references']}."]
    out += ["", "## Use", "", "```python", "import keras_vae", "",
            f'model = keras_vae.from_preset("{name}")   # sha256 of the weights verified',
            "z_mean, z_log_var = model.encode(images)       # images in [0, 1], NHWC",
            "samples = model.sample(16, seed=0)", "```"]
    if metadata.get("dropped_layers"):
        names = ", ".join(f"`{n}`" for n in metadata["dropped_layers"])
        out += ["", f"This preset leaves out the weights of {names}, which only training uses: "
                "it encodes, decodes and samples as trained, and fine-tuning starts "
                f"{names} afresh."]
    if recipe:
        out += ["", "## Training", "", "```bash", training_command(metadata), "```", "",
                _training_text(metadata)]
    metrics = metadata.get("metrics", {}) or {}
    if metrics:
        out += ["", "## Measured", "", "| metric | value |", "| --- | ---: |"]
        out += [f"| {_METRIC_NAMES.get(k, k)} | {_format(v)} |" for k, v in sorted(metrics.items())
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
        protocols = _protocols(metadata)
        if protocols:
            out += ["", "Protocols:", ""]
            for key, protocol in sorted(protocols.items()):
                described = ", ".join(f"{k}={v}" for k, v in sorted(protocol.items())) \
                    if isinstance(protocol, dict) else str(protocol)
                out.append(f"- {_METRIC_NAMES.get(key, key)}: {described}")
    out += _study_section(metadata.get("study"))
    if figures:
        out += ["", "## Figures", ""]
        out += [f"![{caption}]({path})" for caption, path in figures.items()]
    out += ["", "## Intended use and limits", "",
            "Research and teaching: inspecting what a VAE of this kind learns, as a "
            "starting point for fine-tuning, and as a baseline to compare with. "
            + _LIMITS.get(dataset, ""),
            "The numbers above were measured once, on the hardware named, with the "
            "training budget named; they are not the literature's converged results "
            "unless the steps say so.", ""]
    return "\n".join(out)


_SEED_COLUMNS = (("mig", "MIG"), ("factor_vae_score", "FactorVAE"),
                 ("dci_disentanglement", "DCI D"), ("sap", "SAP"), ("test_elbo", "test ELBO"))


def _study_section(study):
    """The seeds of the study this preset was chosen from, as a table."""
    if not study or not study.get("seeds"):
        return []
    seeds = study["seeds"]
    columns = [(k, t) for k, t in _SEED_COLUMNS if any(k in m for m in seeds.values())]
    out = ["", "## Seeds", "",
           f"This preset is the run of {study['selected_by']} among {len(seeds)} seeds of the "
           f"study `{study['study']}` (setting: {study['setting']}"
           + (f"; run `{study['run']}`" if study.get("run") else "") + "). Disentanglement scores "
           "vary more between seeds than between methods (Locatello et al. 2019): compare "
           "methods by the median and spread, not by one run.", "",
           "| seed | " + " | ".join(t for _, t in columns) + " |",
           "| --- | " + " | ".join("---:" for _ in columns) + " |"]
    for seed, metrics in sorted(seeds.items(), key=lambda item: int(item[0])):
        out.append(f"| {seed} | " + " | ".join(_format(metrics.get(k)) if k in metrics
                                                 else "-" for k, _ in columns) + " |")
    spread = study.get("spread", {})
    out.append("| median [IQR] | " + " | ".join(
        f"{_format(spread[k]['median'])} [{_format(spread[k]['q25'])}, "
        f"{_format(spread[k]['q75'])}]" if k in spread else "-" for k, _ in columns) + " |")
    return out


def training_command(metadata):
    """The `keras-vae train` command that reproduces a preset: the recipe
    with its steps, learning rate and seed (without `--steps` for a run that
    stopped on its held-out ELBO: the recipe's cap and criterion stop it).

    A preset chosen from a study run whose model arguments differ from its
    recipe's (`metadata["study"]["overrides"]`) is reproduced by the study:
    `keras-vae study STUDY --seeds SEED` trains that run among the seed's
    others.
    """
    study = metadata.get("study") or {}
    if study.get("overrides"):
        return f"keras-vae study {study['study']} --seeds {metadata.get('seed', 0)}"
    command = f"keras-vae train {metadata['recipe']}"
    flags = (("--steps", "steps"), ("--learning-rate", "learning_rate"), ("--seed", "seed"))
    for flag, key in flags:
        if key == "steps" and metadata.get("validation"):
            continue
        if metadata.get(key) is not None:
            command += f" {flag} {metadata[key]:g}" if isinstance(metadata[key], float) \
                else f" {flag} {metadata[key]}"
    return command


def _training_text(metadata):
    wall = metadata.get("wall_time_s")
    text = (f"{metadata.get('steps', '?')} steps of batch {metadata.get('batch_size', '?')}, "
            f"Adam at learning rate {metadata.get('learning_rate', '?')}, seed "
            f"{metadata.get('seed', '?')}, on {metadata.get('hardware', 'unknown hardware')}"
            + (f" in {wall / 60:.1f} min" if wall else "") + ".")
    validation = metadata.get("validation")
    if not validation:
        return text
    curve = validation.get("curve") or []
    stopped = validation.get("stopped_step")
    how = (f"it stopped at step {stopped}, after {validation['patience']} epochs in a row "
           f"without an improvement of more than {validation['min_delta']:g} nats"
           if validation.get("converged") else
           f"it reached its cap at step {stopped} before that criterion was met")
    criterion = ("held-out ELBO" if validation["metric"] == "elbo"
                 else "held-out training loss (the model's objective)")
    return text + (
        f" Trained on `{metadata.get('train_split', 'train')}` and validated after every "
        f"epoch on `{validation['split']}` ({validation['examples']:,} images held out of "
        f"training, the test split untouched) by its {criterion}: {how}. The weights are "
        f"those of its last improvement by more than that (Keras' "
        f"`EarlyStopping(restore_best_weights=True)`), {validation['metric']} "
        f"{validation['best']:.2f} nats at step {validation['best_step']} "
        f"({len(curve)} epochs measured).")


def write_model_card(directory, name=None, figures=None):
    """Writes `README.md` into a preset directory from its config and metadata.

    Returns the card's path. The file is written atomically (a temporary file
    in the same folder, renamed into place).
    """
    directory = os.fspath(directory)
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(directory, "metadata.json")) as f:
        metadata = json.load(f)
    name = name or os.path.basename(os.path.normpath(directory))
    text = model_card(name, config, metadata, figures=figures)
    path = os.path.join(directory, CARD_FILE)
    with _atomic.atomic_open(path) as f:
        f.write(text)
    return path
