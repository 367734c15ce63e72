"""The figures people look at, drawn with matplotlib.

Every function takes a keras-vae model (anything with `encode`, `decode`,
`reconstruct`, `sample`, `latent_dim` and `image_shape`), returns a
`matplotlib.figure.Figure` and, given `path`, also writes it as a PNG file.

- `reconstruction_grid`: inputs and their reconstructions, in pairs of rows.
- `sample_grid`: decoded draws of the prior N(0, I), as in Kingma & Welling
  2014.
- `latent_traversal`: one row per latent dimension, ordered by its KL, each
  swept around the posterior mean of a reference input (Higgins et al.
  2017); also as an animated GIF.
- `latent_scatter`: the posterior means of two latent dimensions, coloured
  by class.
- `interpolation`: decodes of the straight line between two posterior means.

Images with 1 channel are drawn with the grey colormap, with 3 as RGB. The
decoder mean is clipped to [0, 1] for display (a Gaussian or Laplace
decoder's mean may leave that range).

The figures are built on matplotlib's non-interactive Agg canvas
(`matplotlib.figure.Figure` with `FigureCanvasAgg`), never through pyplot:
importing this module does not change the user's pyplot backend, nothing is
shown, and no figure is registered with pyplot, so none needs closing.
Sizes are fixed in pixels at `DPI` dots per inch: each image pixel is drawn
as an integer block of `zoom = max(1, round(64 / max(H, W)))` screen pixels
(tiles of about 64 pixels), so a file's size is a function of the layout
only and the tiles are rendered without resampling.
"""

import numbers
import os

import numpy as np
from keras import ops

try:
    from matplotlib.animation import PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "keras_vae.plots needs matplotlib: `pip install matplotlib`."
    ) from e

from keras_vae import _validation
from keras_vae.divergences import gaussian_kl
from keras_vae.images import image_grid

DPI = 100
GIF_FPS = 4

_TILE_PX = 64  # target tile size; the zoom is rounded to an integer
_GAP = 2  # pixels between tiles
_GAP_VALUE = 255  # white, the figure's background
_MARGIN = 8
_ROW_LABEL_PX = 130  # left margin when rows are labelled
_TITLE_PX = 44  # top margin for a (possibly two-line) title
_COLUMN_LABEL_PX = 40  # bottom margin for column labels and their caption
_MIN_WIDTH = 320  # so that titles of narrow grids are not cut off
_SCATTER_SIZE_PX = (720, 560)


# === Public API ===


def reconstruction_grid(model, x, path=None, n=16):
    """Inputs on one row, their reconstructions on the row below.

    Up to 8 inputs per row; more inputs continue on further pairs of rows.
    Reconstructions decode the posterior mean (`model.reconstruct`).

    Args:
        model: a keras-vae model.
        x: images `(N, H, W, C)` of the model's `image_shape`.
        path: optional `.png` file to write.
        n: number of inputs shown, >= 1: the first `min(n, N)` of `x`.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    _check_call(model, path)
    x = _check_images(model, x, "x")
    n = _validation.check_int("n", n, minimum=1)
    x = x[:n]
    reconstructions = model.reconstruct(x)
    columns = min(len(x), 8)
    rows = []
    for start in range(0, len(x), columns):
        for batch in (x, reconstructions):
            rows.append(_pad(batch[start:start + columns], columns))
    labels = ["input", "reconstruction"] * (len(rows) // 2)
    fig, _ = _tile_figure(np.concatenate(rows), columns, row_labels=labels,
                          title="Inputs and reconstructions")
    return _save(fig, path)


def sample_grid(model, path=None, n=64, seed=0):
    """Decoded draws of the prior N(0, I), in a near-square grid.

    Args:
        model: a keras-vae model.
        path: optional `.png` file to write.
        n: number of samples, >= 1.
        seed: seed of the draws (`model.sample`), the same images on every
            backend for the same weights.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    _check_call(model, path)
    n = _validation.check_int("n", n, minimum=1)
    samples = model.sample(n, seed=seed)
    columns = int(np.ceil(np.sqrt(n)))
    title = "Prior samples" if seed is None else f"Prior samples (seed {seed})"
    fig, _ = _tile_figure(samples, columns, title=title)
    return _save(fig, path)


def dimensions_by_kl(z_mean, z_log_var):
    """Orders latent dimensions by their average KL to the prior, highest first.

    The KL of dimension j is the average over the inputs of
    KL(q(z_j | x) || N(0, 1)); a dimension the encoder ignores has a KL near
    0 (an inactive unit). Ties keep the lower index first.

    Args:
        z_mean: posterior means `(N, latent_dim)`.
        z_log_var: posterior log-variances, same shape.

    Returns:
        `(order, kl)`: the dimension indices sorted by decreasing KL, and
        the KL in nats of every dimension, indexed by dimension (numpy).
    """
    z_mean = np.asarray(z_mean, dtype="float32")
    z_log_var = np.asarray(z_log_var, dtype="float32")
    if z_mean.ndim != 2 or z_mean.shape != z_log_var.shape or len(z_mean) == 0:
        raise ValueError(
            "`z_mean` and `z_log_var` must be non-empty matrices of the same "
            "shape (num_inputs, latent_dim). Received: "
            f"z_mean.shape={z_mean.shape}, z_log_var.shape={z_log_var.shape}"
        )
    kl = ops.convert_to_numpy(gaussian_kl(z_mean, z_log_var, axis=None))
    kl = np.mean(np.asarray(kl, dtype="float64"), axis=0)
    return np.argsort(-kl, kind="stable"), kl


def latent_traversal(model, x, path=None, dims=None, num_steps=9, limit=3.0,
                     gif_path=None):
    """Latent traversal (Higgins et al. 2017): one row per dimension, ordered by KL.

    The code of the reference input `x[0]` is its posterior mean; row j adds
    the offsets `linspace(-limit, limit, num_steps)` to dimension j only and
    decodes. Rows are ordered by the dimension's KL averaged over all of `x`
    (`dimensions_by_kl`), highest first, and labelled with the dimension index
    and that KL in nats.

    Args:
        model: a keras-vae model.
        x: images `(N, H, W, C)`; `x[0]` is the reference input and all of
            them estimate the KL of each dimension.
        path: optional `.png` file to write.
        dims: `None` for every dimension, an integer k for the k dimensions of
            highest KL, or a sequence of dimension indices (shown by KL too).
        num_steps: values per dimension, >= 2.
        limit: largest offset from the posterior mean, > 0.
        gif_path: optional `.gif` file: an animation of the sweep with one
            frame per step, each showing every row at that offset.

    Returns:
        The `matplotlib.figure.Figure` of the still grid.
    """
    _check_call(model, path)
    x = _check_images(model, x, "x")
    num_steps = _validation.check_int("num_steps", num_steps, minimum=2)
    limit = _validation.check_float("limit", limit, minimum=0.0, exclusive_minimum=True)
    _check_suffix("gif_path", gif_path, ".gif")
    z_mean, z_log_var = model.encode(x)
    order, kl = dimensions_by_kl(z_mean, z_log_var)
    shown = _select_dims(dims, order, model.latent_dim)
    offsets = np.linspace(-limit, limit, num_steps)
    codes = np.repeat(z_mean[:1], len(shown) * num_steps, axis=0)
    for row, dim in enumerate(shown):
        codes[row * num_steps:(row + 1) * num_steps, dim] += offsets
    images = model.decode(codes)
    labels = [f"z{dim}: {kl[dim]:.2f} nats" for dim in shown]
    fig, _ = _tile_figure(
        images, num_steps, row_labels=labels,
        title="Latent traversal around x[0]\nrows by KL, highest first",
        column_labels=[f"{o:+.1f}" for o in offsets],
        column_caption="offset from the posterior mean",
    )
    if gif_path is not None:
        _write_traversal_gif(images.reshape((len(shown), num_steps) + images.shape[1:]),
                             offsets, labels, gif_path)
    return _save(fig, path)


def latent_scatter(model, x, labels, path=None, dims=None, class_names=None):
    """Posterior means of two latent dimensions, coloured by class.

    Args:
        model: a keras-vae model with `latent_dim >= 2`.
        x: images `(N, H, W, C)`.
        labels: `N` integer (or string) class labels.
        path: optional `.png` file to write.
        dims: the two dimensions `(i, j)` on the axes. `None` means `(0, 1)`
            for a 2-D latent space, else the two dimensions of highest KL.
        class_names: optional names of the classes, indexed by label (a list
            or a dict); `None` shows the labels themselves.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    _check_call(model, path)
    x = _check_images(model, x, "x")
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(x):
        raise ValueError(
            f"`labels` must hold one label per image of `x`, {len(x)}. "
            f"Received: labels.shape={labels.shape}"
        )
    if model.latent_dim < 2:
        raise ValueError(
            "A latent scatter needs at least 2 latent dimensions. Received: "
            f"model.latent_dim={model.latent_dim}"
        )
    z_mean, z_log_var = model.encode(x)
    order, kl = dimensions_by_kl(z_mean, z_log_var)
    if dims is None:
        dims = (0, 1) if model.latent_dim == 2 else tuple(order[:2])
    dims = _check_dims("dims", dims, model.latent_dim)
    if len(dims) != 2:
        raise ValueError(
            f"Argument `dims` must name exactly 2 dimensions. Received: dims={dims}"
        )
    fig = _new_figure(*_SCATTER_SIZE_PX)
    ax = fig.add_axes((0.1, 0.1, 0.62, 0.8))
    classes = np.unique(labels)
    colors = _class_colors(len(classes))
    for color, label in zip(colors, classes):
        points = z_mean[labels == label][:, list(dims)]
        ax.scatter(points[:, 0], points[:, 1], s=10, alpha=0.7, color=color,
                   label=_class_name(class_names, label))
    ax.set_xlabel(f"z{dims[0]} (KL {kl[dims[0]]:.2f} nats)")
    ax.set_ylabel(f"z{dims[1]} (KL {kl[dims[1]]:.2f} nats)")
    ax.set_title("Posterior means by class")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
              markerscale=2)
    return _save(fig, path)


def interpolation(model, x_a, x_b, path=None, num_steps=10):
    """Decodes the straight line between the posterior means of two inputs.

    One row: `x_a`, the decodes of `(1 - t) z_a + t z_b` for
    `t = linspace(0, 1, num_steps)`, then `x_b`.

    Args:
        model: a keras-vae model.
        x_a, x_b: one image each, `(H, W, C)` or `(1, H, W, C)`.
        path: optional `.png` file to write.
        num_steps: decoded points on the line, >= 2 (both ends included).

    Returns:
        The `matplotlib.figure.Figure`.
    """
    _check_call(model, path)
    x_a = _check_single_image(model, x_a, "x_a")
    x_b = _check_single_image(model, x_b, "x_b")
    num_steps = _validation.check_int("num_steps", num_steps, minimum=2)
    z_mean, _ = model.encode(np.concatenate([x_a, x_b]))
    t = np.linspace(0.0, 1.0, num_steps)[:, None]
    decoded = model.decode((1.0 - t) * z_mean[:1] + t * z_mean[1:])
    fig, _ = _tile_figure(
        np.concatenate([x_a, decoded, x_b]), num_steps + 2,
        title="Interpolation between two posterior means",
        column_labels=["x_a"] + [f"{v:.2f}" for v in t[:, 0]] + ["x_b"],
        column_caption="t",
    )
    return _save(fig, path)


# === Shared drawing ===


def _new_figure(width_px, height_px):
    """A pyplot-free figure on the Agg canvas, exactly this many pixels."""
    fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _zoom(image_shape):
    return max(1, int(round(_TILE_PX / max(image_shape[:2]))))


def _grid(images, columns):
    """The uint8 tiled grid of `images`, as `imshow` takes it."""
    images = np.clip(np.asarray(images, dtype="float32"), 0.0, 1.0)
    grid = image_grid(images, columns, gap=_GAP, gap_value=_GAP_VALUE,
                      zoom=_zoom(images.shape[1:]))
    return grid[..., 0] if grid.shape[-1] == 1 else grid


def _tile_figure(images, columns, title=None, row_labels=None, column_labels=None,
                 column_caption=None):
    """Draws `images` tiled `columns` per row, drawn 1:1 in screen pixels.

    Rows are labelled on the left and columns below, at the tile centres.
    Returns `(figure, axes_image)`; the GIF writer updates the latter.
    """
    grid = _grid(images, columns)
    height, width = grid.shape[:2]
    left = _ROW_LABEL_PX if row_labels else _MARGIN
    top = _TITLE_PX if title else _MARGIN
    bottom = _COLUMN_LABEL_PX if column_labels else _MARGIN
    fig_width = max(_MIN_WIDTH, left + width + _MARGIN)
    fig_height = top + height + bottom
    fig = _new_figure(fig_width, fig_height)
    ax = fig.add_axes((left / fig_width, bottom / fig_height,
                       width / fig_width, height / fig_height))
    artist = ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0,
                       vmax=255, interpolation="nearest")
    zoom = _zoom(images.shape[1:])
    tile_h, tile_w = images.shape[1] * zoom, images.shape[2] * zoom
    ax.set_yticks(_centres(len(row_labels or ()), tile_h), row_labels or [],
                  fontsize=9)
    ax.set_xticks(_centres(len(column_labels or ()), tile_w), column_labels or [],
                  fontsize=8)
    if column_caption:
        ax.set_xlabel(column_caption, fontsize=9, labelpad=2)
    ax.tick_params(length=0, pad=3)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10, y=1.0 - 4 / fig_height, va="top")
    return fig, artist


def _centres(count, tile):
    """Pixel coordinates of the centres of the first `count` tiles."""
    return [_GAP + i * (tile + _GAP) + (tile - 1) / 2 for i in range(count)]


def _pad(images, count):
    """`images` followed by blank (background-coloured) tiles up to `count`."""
    blank = np.full((count - len(images),) + images.shape[1:], _GAP_VALUE / 255.0,
                    dtype="float32")
    return np.concatenate([np.asarray(images, dtype="float32"), blank])


def _write_traversal_gif(images, offsets, labels, gif_path):
    """One frame per offset: every row's image at that offset, in one column."""
    fig, artist = _tile_figure(images[:, 0], 1, title=_frame_title(offsets[0]),
                               row_labels=labels)
    writer = PillowWriter(fps=GIF_FPS)
    with writer.saving(fig, os.fspath(gif_path), dpi=DPI):
        for step, offset in enumerate(offsets):
            artist.set_data(_grid(images[:, step], 1))
            # The title differs per frame, so no frame repeats the previous
            # one (Pillow would merge identical GIF frames).
            fig.suptitle(_frame_title(offset), fontsize=10,
                         y=1.0 - 4 / fig.bbox.height, va="top")
            writer.grab_frame()


def _frame_title(offset):
    return f"offset {offset:+.2f}\nfrom the posterior mean"


def _class_colors(count):
    from matplotlib import colormaps

    if count <= 10:
        return colormaps["tab10"].colors[:count]
    if count <= 20:
        return colormaps["tab20"].colors[:count]
    return colormaps["viridis"](np.linspace(0.0, 1.0, count))


def _class_name(class_names, label):
    if class_names is None:
        return str(label)
    key = label.item() if hasattr(label, "item") else label
    try:
        return str(class_names[key])
    except (IndexError, KeyError, TypeError) as e:
        raise ValueError(
            f"`class_names` has no name for label {key!r}; it must be indexable "
            f"by every label. Received: class_names={class_names!r}"
        ) from e


def _save(fig, path):
    if path is not None:
        fig.savefig(os.fspath(path), dpi=DPI, format="png")
    return fig


# === Studies ===

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
    colors = _class_colors(len(methods))
    drawn = [m for m in metrics if any(isinstance(r.get(m), (int, float)) for _, r in results)]
    written = {}
    if drawn:
        fig = _new_figure(max(480, 110 * len(methods)) + 60, 260 * len(drawn) + 40)
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
        _save(fig, written["violins"])
    scores = [m for m in drawn if m not in ("test_reconstruction_loss", "test_elbo")]
    if "test_reconstruction_loss" in drawn and scores:
        fig = _new_figure(340 * len(scores), 340)
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
        _save(fig, written["reconstruction_vs_disentanglement"])
    return written


# === Checks ===


def _check_call(model, path):
    """Checks the model and the output path before any computation."""
    _check_suffix("path", path, ".png")
    missing = [a for a in ("encode", "decode", "latent_dim", "image_shape")
               if not hasattr(model, a)]
    if missing:
        raise TypeError(
            "Argument `model` must be a keras-vae model (with encode, decode, "
            f"latent_dim and image_shape); it lacks {missing}. Received: "
            f"model of type {type(model).__name__}"
        )
    channels = model.image_shape[-1]
    if channels not in (1, 3):
        raise ValueError(
            "Plots show images with 1 (grey) or 3 (RGB) channels. Received: "
            f"model.image_shape={tuple(model.image_shape)}"
        )


def _check_images(model, x, name):
    x = np.asarray(x)
    if x.ndim != 4 or tuple(x.shape[1:]) != tuple(model.image_shape) or len(x) == 0:
        raise ValueError(
            f"`{name}` must be a non-empty batch of images of shape "
            f"(num_images,) + {tuple(model.image_shape)}, the model's "
            f"image_shape. Received: {name}.shape={x.shape}"
        )
    return x


def _check_single_image(model, x, name):
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or len(x) != 1 or tuple(x.shape[1:]) != tuple(model.image_shape):
        raise ValueError(
            f"`{name}` must be one image of shape {tuple(model.image_shape)} "
            f"(or a batch of one). Received: {name}.shape={x.shape}"
        )
    return x


def _check_dims(name, dims, latent_dim):
    """A tuple of distinct dimension indices in [0, latent_dim)."""
    try:
        dims = tuple(dims)
    except TypeError:
        dims = None
    if (
        not dims
        or any(isinstance(d, bool) or not isinstance(d, numbers.Integral) for d in dims)
        or any(not 0 <= d < latent_dim for d in dims)
        or len(set(dims)) != len(dims)
    ):
        raise ValueError(
            f"Argument `{name}` must hold distinct latent dimension indices in "
            f"[0, {latent_dim}). Received: {name}={dims!r}"
        )
    return tuple(int(d) for d in dims)


def _select_dims(dims, order, latent_dim):
    """The traversal's dimensions (see `latent_traversal`), in KL order."""
    if dims is None:
        return list(order)
    if isinstance(dims, numbers.Integral) and not isinstance(dims, bool):
        if not 1 <= dims <= latent_dim:
            raise ValueError(
                f"Argument `dims`, as a count, must be in [1, {latent_dim}]. "
                f"Received: dims={dims}"
            )
        return list(order[:dims])
    chosen = set(_check_dims("dims", dims, latent_dim))
    return [d for d in order if d in chosen]


def _check_suffix(name, path, suffix):
    if path is not None and not os.fspath(path).lower().endswith(suffix):
        raise ValueError(
            f"Argument `{name}` must be a file name ending in {suffix}. "
            f"Received: {name}={path!r}"
        )
