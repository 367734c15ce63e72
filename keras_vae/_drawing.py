"""Figures on matplotlib's Agg canvas, drawn 1:1 in screen pixels (`keras_vae.plots`).

Figures are `matplotlib.figure.Figure`s with a `FigureCanvasAgg`, never made
through pyplot, at `DPI` dots per inch. `tile_figure` draws a grid of images
with each image pixel an integer block of screen pixels (no resampling),
labelled rows and columns and a title; `write_traversal_gif` animates one.
"""

import os

import numpy as np

try:
    from matplotlib.animation import PillowWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "keras_vae.plots needs matplotlib: `pip install matplotlib`."
    ) from e

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


def new_figure(width_px, height_px):
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


def tile_figure(images, columns, title=None, row_labels=None, column_labels=None,
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
    fig = new_figure(fig_width, fig_height)
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


def pad(images, count):
    """`images` followed by blank (background-coloured) tiles up to `count`."""
    blank = np.full((count - len(images),) + images.shape[1:], _GAP_VALUE / 255.0,
                    dtype="float32")
    return np.concatenate([np.asarray(images, dtype="float32"), blank])


def write_traversal_gif(images, offsets, labels, gif_path):
    """One frame per offset: every row's image at that offset, in one column."""
    fig, artist = tile_figure(images[:, 0], 1, title=_frame_title(offsets[0]),
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


def class_colors(count):
    from matplotlib import colormaps

    if count <= 10:
        return colormaps["tab10"].colors[:count]
    if count <= 20:
        return colormaps["tab20"].colors[:count]
    return colormaps["viridis"](np.linspace(0.0, 1.0, count))


def save(fig, path):
    if path is not None:
        fig.savefig(os.fspath(path), dpi=DPI, format="png")
    return fig
