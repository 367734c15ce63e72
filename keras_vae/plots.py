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
- `study_figures`: a study's metrics per method (`keras_vae._study_figures`).
- `learning_curve`: a run's training loss and held-out ELBO per epoch
  (`keras_vae.training.HeldOutStopping`'s curve), with the epoch kept.

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
only and the tiles are rendered without resampling. The drawing shared by
the figures is in `keras_vae._drawing`.
"""

import numbers
import os

import numpy as np
from keras import ops

from keras_vae import _validation
from keras_vae._drawing import DPI  # noqa: F401
from keras_vae._drawing import GIF_FPS  # noqa: F401
from keras_vae._drawing import class_colors
from keras_vae._drawing import new_figure
from keras_vae._drawing import pad
from keras_vae._drawing import save
from keras_vae._drawing import tile_figure
from keras_vae._drawing import write_traversal_gif
from keras_vae._study_figures import study_figures  # noqa: F401
from keras_vae.divergences import gaussian_kl

_SCATTER_SIZE_PX = (720, 560)


# === Public API ===


def learning_curve(curve, path=None, best_step=None, title=None):
    """The training loss, held-out loss and held-out negative ELBO against the step.

    Args:
        curve: rows `[step, training loss, held-out ELBO, held-out loss]`
            (the `curve` of a validated run's metadata; any value but the
            step may be None, and the last column may be absent).
        path: optional PNG path to write.
        best_step: the step whose weights were kept, marked by a line.
        title: optional title.

    Returns:
        The `matplotlib.figure.Figure`.
    """
    rows = _validation.check_sequence("curve", curve)
    if not rows or any(not isinstance(r, (list, tuple)) or len(r) not in (3, 4) for r in rows):
        raise ValueError("Argument `curve` must be a non-empty list of [step, training loss, "
                         "held-out ELBO, held-out loss] rows. "
                         f"Received: curve={str(curve)[:80]}")
    steps = np.array([r[0] for r in rows], dtype="float64")
    fig = new_figure(640, 400)
    ax = fig.add_subplot(1, 1, 1)
    for column, label in ((1, "training loss (epoch mean)"), (3, "held-out loss")):
        points = [(s, r[column]) for s, r in zip(steps, rows)
                  if len(r) > column and r[column] is not None]
        if points:
            ax.plot(*zip(*points), marker=".", label=label)
    elbos = [(s, -r[2]) for s, r in zip(steps, rows) if r[2] is not None]
    if elbos:
        ax.plot(*zip(*elbos), marker=".", label="held-out -ELBO")
    if best_step is not None:
        ax.axvline(best_step, color="grey", linestyle="--", label=f"kept: step {best_step}")
    ax.set_xlabel("training step")
    ax.set_ylabel("nats per image")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        save(fig, path)
    return fig


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
            rows.append(pad(batch[start:start + columns], columns))
    labels = ["input", "reconstruction"] * (len(rows) // 2)
    fig, _ = tile_figure(np.concatenate(rows), columns, row_labels=labels,
                         title="Inputs and reconstructions")
    return save(fig, path)


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
    fig, _ = tile_figure(samples, columns, title=title)
    return save(fig, path)


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
    fig, _ = tile_figure(
        images, num_steps, row_labels=labels,
        title="Latent traversal around x[0]\nrows by KL, highest first",
        column_labels=[f"{o:+.1f}" for o in offsets],
        column_caption="offset from the posterior mean",
    )
    if gif_path is not None:
        write_traversal_gif(images.reshape((len(shown), num_steps) + images.shape[1:]),
                            offsets, labels, gif_path)
    return save(fig, path)


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
    fig = new_figure(*_SCATTER_SIZE_PX)
    ax = fig.add_axes((0.1, 0.1, 0.62, 0.8))
    classes = np.unique(labels)
    colors = class_colors(len(classes))
    for color, label in zip(colors, classes):
        points = z_mean[labels == label][:, list(dims)]
        ax.scatter(points[:, 0], points[:, 1], s=10, alpha=0.7, color=color,
                   label=_class_name(class_names, label))
    ax.set_xlabel(f"z{dims[0]} (KL {kl[dims[0]]:.2f} nats)")
    ax.set_ylabel(f"z{dims[1]} (KL {kl[dims[1]]:.2f} nats)")
    ax.set_title("Posterior means by class")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
              markerscale=2)
    return save(fig, path)


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
    fig, _ = tile_figure(
        np.concatenate([x_a, decoded, x_b]), num_steps + 2,
        title="Interpolation between two posterior means",
        column_labels=["x_a"] + [f"{v:.2f}" for v in t[:, 0]] + ["x_b"],
        column_caption="t",
    )
    return save(fig, path)


# === Scatter labels ===


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
