"""The figures of a study (`keras_vae.study`): metrics per method, as in
Locatello et al. (2019)."""

import os

import numpy as np

from keras_vae._drawing import class_colors
from keras_vae._drawing import new_figure
from keras_vae._drawing import save

_METRIC_TITLES = {
    "mig": "MIG", "factor_vae_score": "FactorVAE score", "dci_disentanglement":
    "DCI disentanglement", "sap": "SAP", "beta_vae_score": "BetaVAE score",
    "test_reconstruction_loss": "reconstruction loss (nats)", "test_elbo": "test ELBO",
}


def study_figures(results, folder, metrics):
    """Violin plots of each metric per method, and reconstruction vs disentanglement.

    The figures of Locatello et al. 2019 (ICML), drawn from a study's finished
    runs: for each metric one panel of violins, one per method (recipe),
    pooling its settings and seeds, with the individual runs as points; and a
    scatter of the reconstruction loss against each disentanglement metric,
    coloured by method.

    Args:
        results: `[(method, {metric: value})]`, one entry per run.
        folder: where the PNG files are written (created if needed).
        metrics: metric names to draw, in order (those absent are skipped).

    Returns:
        `{figure name: path}` of the files written.
    """
    if not results:
        raise ValueError("Argument `results` must hold at least one run. Received: results=[]")
    os.makedirs(folder, exist_ok=True)
    methods = sorted({method for method, _ in results})
    colors = class_colors(len(methods))
    drawn = [m for m in metrics if any(isinstance(r.get(m), (int, float)) for _, r in results)]
    written = {}
    if drawn:
        fig = new_figure(max(480, 110 * len(methods)) + 60, 260 * len(drawn) + 40)
        for row, metric in enumerate(drawn):
            ax = fig.add_subplot(len(drawn), 1, row + 1)
            data = [[r[metric] for m, r in results if m == method
                     and isinstance(r.get(metric), (int, float))] for method in methods]
            positions = [i for i, d in enumerate(data) if len(d) > 1]
            if positions:
                parts = ax.violinplot([data[i] for i in positions], positions=positions,
                                      showmedians=True)
                for body, i in zip(parts["bodies"], positions):
                    body.set_facecolor(colors[i])
                    body.set_alpha(0.35)
            for i, values in enumerate(data):
                jitter = np.linspace(-0.08, 0.08, len(values)) if len(values) > 1 else [0.0]
                ax.scatter(np.add(i, jitter), values, s=12, color=colors[i], zorder=3)
            ax.set_xticks(range(len(methods)))
            ax.set_xticklabels(methods if row == len(drawn) - 1 else [], fontsize=8,
                               rotation=15)
            ax.set_ylabel(_METRIC_TITLES.get(metric, metric), fontsize=8)
            ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        written["violins"] = os.path.join(folder, "violins.png")
        save(fig, written["violins"])
    scores = [m for m in drawn if m not in ("test_reconstruction_loss", "test_elbo")]
    if "test_reconstruction_loss" in drawn and scores:
        fig = new_figure(340 * len(scores), 340)
        for column, metric in enumerate(scores):
            ax = fig.add_subplot(1, len(scores), column + 1)
            for i, method in enumerate(methods):
                points = [(r["test_reconstruction_loss"], r[metric]) for m, r in results
                          if m == method and isinstance(r.get(metric), (int, float))
                          and isinstance(r.get("test_reconstruction_loss"), (int, float))]
                if points:
                    ax.scatter(*zip(*points), s=14, color=colors[i], label=method)
            ax.set_xlabel("reconstruction loss (nats)", fontsize=8)
            ax.set_ylabel(_METRIC_TITLES.get(metric, metric), fontsize=8)
            ax.grid(alpha=0.3)
        fig.axes[0].legend(fontsize=6)
        fig.tight_layout()
        written["reconstruction_vs_disentanglement"] = os.path.join(
            folder, "reconstruction_vs_disentanglement.png")
        save(fig, written["reconstruction_vs_disentanglement"])
    return written
