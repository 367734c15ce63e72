"""Assessing a trained recipe model: its metrics and its figures.

`evaluate(model, recipe)` measures what `recipe.metrics` names on the
recipe's held-out data with the metrics of `keras_vae.evaluation` (ELBO,
IWAE bound, active units, k-NN probe, disentanglement scores);
`write_figures` draws the zoo's figures with `keras_vae.plots`.
"""

import os

from keras_vae import recipes


def evaluate(model, recipe, num_examples=2000, iwae_samples=None, seed=0, data_dir=None,
             quick=False):
    """Measures the recipe's metrics on held-out data.

    Args:
        num_examples: held-out images used (ELBO, IWAE, k-NN test set).
        iwae_samples: k of the importance-weighted bound (default: the
            recipe's `iwae_samples`), on a quarter of the examples; the k
            used is reported as `test_iwae_samples`.
        quick: smaller samples for the disentanglement scores and at most
            k = 10 for the IWAE bound (smoke runs).

    Returns:
        Dict of floats.
    """
    from keras_vae import evaluation

    results = {}
    x_test = recipes.test_data(recipe, num_examples, seed, data_dir)
    if "elbo" in recipe.metrics:
        results.update({f"test_{k}": v for k, v in
                        evaluation.evaluate_elbo(model, x_test, seed=seed).items()})
    if "iwae" in recipe.metrics:
        k = recipe.iwae_samples if iwae_samples is None else iwae_samples
        k = min(k, 10) if quick else k
        results["test_iwae_nll"] = -evaluation.iwae_bound(
            model, x_test[:max(1, num_examples // 4)], num_samples=k, seed=seed)
        results["test_iwae_samples"] = k
    if "active_units" in recipe.metrics:
        results["active_units"] = int(evaluation.active_units(model, x_test))
    if "knn" in recipe.metrics:
        results.update(_knn(model, recipe, num_examples, seed, data_dir))
    disentanglement = [m for m in ("mig", "factor_vae", "dci", "sap") if m in recipe.metrics]
    if disentanglement:
        results.update(_disentanglement(model, disentanglement, seed, quick, data_dir))
    return results


def _knn(model, recipe, num_examples, seed, data_dir):
    from keras_vae import datasets
    from keras_vae.evaluation import knn_accuracy

    x_train, y_train = datasets.load(recipe.dataset, "train", as_numpy=True, shuffle=False,
                                     with_labels=True, data_dir=data_dir)
    x_train, y_train = x_train[:10_000], y_train[:10_000]
    x_test, y_test = recipes.test_data(recipe, num_examples, seed, data_dir, with_labels=True)
    z_train, z_test = model.encode(x_train)[0], model.encode(x_test)[0]
    flat = lambda a: a.reshape(len(a), -1)  # noqa: E731
    return {
        "knn_latent": knn_accuracy(z_train, y_train, z_test, y_test, k=5),
        "knn_pixels": knn_accuracy(flat(x_train), y_train, flat(x_test), y_test, k=5),
    }


def _disentanglement(model, metrics, seed, quick, data_dir=None):
    from keras_vae import datasets
    from keras_vae import evaluation

    data = datasets.open_dsprites(data_dir)
    represent = lambda obs: model.encode(obs, batch_size=512)[0]  # noqa: E731
    n = 2000 if quick else 10_000
    results, protocols = {}, {}
    if "mig" in metrics:
        mig = evaluation.compute_mig(data, represent, seed, num_train=n, batch_size=512)
        results["mig"], protocols["mig"] = mig["mig"], mig["protocol"]
    if "factor_vae" in metrics:
        fvae = evaluation.compute_factor_vae_score(
            data, represent, seed, num_train=n // 10, num_eval=n // 20,
            num_variance_estimate=n)
        results["factor_vae_score"] = fvae["eval_accuracy"]
        protocols["factor_vae_score"] = fvae["protocol"]
    if "dci" in metrics:
        dci = evaluation.compute_dci(data, represent, seed, num_train=n, num_test=n // 2,
                                     batch_size=512)
        results.update({"dci_disentanglement": dci["disentanglement"],
                        "dci_completeness": dci["completeness"],
                        "dci_informativeness": dci["informativeness_test"]})
        protocols["dci"] = dci["protocol"]
    if "sap" in metrics:
        sap = evaluation.compute_sap(data, represent, seed, num_train=n, num_test=n // 2,
                                     batch_size=512)
        results["sap"], protocols["sap"] = sap["sap"], sap["protocol"]
    # How each number was obtained (protocol, variant, sample sizes, seed).
    results["disentanglement_protocols"] = protocols
    return results


def write_figures(model, recipe, out, seed=0, data_dir=None, validation=None):
    """Writes the recipe's figures to `out/`; returns their paths.

    `validation`: a validated run's record (`TrainedRun.metadata
    ["validation"]`), drawn as `learning_curve.png`.
    """
    from keras_vae import plots

    os.makedirs(out, exist_ok=True)
    x, labels = recipes.test_data(recipe, 2000, seed, data_dir, with_labels=True)
    if labels.ndim > 1:  # dSprites: colour the scatter by shape
        labels = labels[:, 0]
    path = lambda name: os.path.join(out, name)  # noqa: E731
    plots.reconstruction_grid(model, x, path("reconstructions.png"))
    plots.sample_grid(model, path("samples.png"), seed=seed)
    plots.latent_traversal(model, x[:500], path("traversal.png"),
                           gif_path=path("traversal.gif"))
    plots.latent_scatter(model, x, labels, path("latent_scatter.png"))
    plots.interpolation(model, x[0], x[1], path("interpolation.png"))
    if validation and validation.get("curve"):
        plots.learning_curve(validation["curve"], path("learning_curve.png"),
                             best_step=validation.get("best_step"), title=recipe.name)
    return sorted(path(f) for f in os.listdir(out) if f.endswith((".png", ".gif")))


def format_metrics(metrics, indent=2):
    """Lines `name  value` for the numbers of `evaluate`'s result.

    The protocol records (`disentanglement_protocols`) are left out: they
    are stored with the preset, not printed.
    """
    lines = []
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        shown = f"{value:.4f}" if isinstance(value, float) else f"{value}"
        lines.append(f"{' ' * indent}{key:>24s}  {shown}")
    return lines
