"""The geometry of dSprites and the row-span tables it is drawn from.

The shapes, their sizes, the rotation pivot, the position mapping and the
rasterization were fitted to frames of DeepMind's dSprites animation
(`dev/fit_dsprites_geometry.py` measures the fit); lengths are in pixels of
the 64x64 image at scale 1 and shrink in proportion with the scale.

- Rasterization is point sampling: a pixel is on when its centre lies inside
  the shape (no anti-aliasing, no coverage threshold).
- Position: the sprite's pivot is at pixel coordinate
  `POSITION_ORIGIN + POSITION_RANGE * value` on each axis (pixel centres at
  integers), with `value` the published `linspace(0, 1, 32)`. One position
  class is 32 / 31 pixels, so the sprite's sub-pixel phase, and hence its
  pixels, change from class to class. posX moves right, posY moves down.
- Orientation: the published values `linspace(0, 2 pi, 40)`, used as they
  are: the sprite turns counter-clockwise (as displayed) by the value, so
  classes 0 and 39 draw the same image. Shapes rotate about their pivot.
- Square: side `SQUARE_SIDE`, centred on the pivot.
- Ellipse: semi-axes `ELLIPSE_SEMI_AXES` (horizontal at orientation 0),
  centred on the pivot.
- Heart: the curve `x = 16 sin^3 t`, `y = 13 cos t - 5 cos 2t - 2 cos 3t -
  cos 4t` (Wolfram MathWorld, "Heart Curve"), scaled by `HEART_SCALE`,
  upright at orientation 0, with the pivot `HEART_PIVOT_DROP` below the
  curve's origin; drawn as a polygon of `HEART_VERTICES` vertices.

Every image is described by, for each pixel row, at most two spans of
columns. The spans' continuous end points depend on the shape, scale,
orientation and the row's offset from the pivot, that is, on posY but not
on posX; `span_table()` holds them for every (shape, scale, orientation,
posY) and `DSprites` adds the posX pivot and rounds to pixels when drawing.
"""

import functools
from collections import namedtuple

import numpy as np

NUM_SHAPES = 3
NUM_SCALES = 6
NUM_ORIENTATIONS = 40
NUM_POSITIONS = 32
SCALES = np.linspace(0.5, 1.0, NUM_SCALES)
ORIENTATIONS = np.linspace(0.0, 2.0 * np.pi, NUM_ORIENTATIONS)
POSITIONS = np.linspace(0.0, 1.0, NUM_POSITIONS)

IMAGE_SIZE = 64
POSITION_ORIGIN = 15.5
POSITION_RANGE = 32.0

# Rows of the table around the pivot: table row j is image row
# floor(pivot_y) - ROWS_ABOVE + j.
ROWS_ABOVE = 14
NUM_ROWS = 30
MAX_SPANS = 2

Geometry = namedtuple(
    "Geometry",
    [
        "square_side",
        "ellipse_semi_axes",
        "heart_scale",
        "heart_pivot_drop",
        "heart_vertices",
    ],
)

SQUARE_SIDE = 19.195
ELLIPSE_SEMI_AXES = (12.7575, 7.216)
HEART_SCALE = (0.5997, 0.6622)
HEART_PIVOT_DROP = 1.4375
HEART_VERTICES = 720

GEOMETRY = Geometry(
    square_side=SQUARE_SIDE,
    ellipse_semi_axes=ELLIPSE_SEMI_AXES,
    heart_scale=HEART_SCALE,
    heart_pivot_drop=HEART_PIVOT_DROP,
    heart_vertices=HEART_VERTICES,
)


def pivot(position_class):
    """Pixel coordinate of the pivot for position classes (either axis)."""
    return POSITION_ORIGIN + POSITION_RANGE * POSITIONS[position_class]


def _outline(shape, geometry):
    """Polygon vertices `(n, 2)` of the square or the heart at scale 1.

    Coordinates are (right, up) from the pivot.
    """
    if shape == 0:
        h = geometry.square_side / 2.0
        return np.array([[h, h], [-h, h], [-h, -h], [h, -h]])
    t = 2.0 * np.pi * np.arange(geometry.heart_vertices) / geometry.heart_vertices
    x = 16.0 * np.sin(t) ** 3
    y = 13.0 * np.cos(t) - 5.0 * np.cos(2 * t) - 2.0 * np.cos(3 * t) - np.cos(4 * t)
    sx, sy = geometry.heart_scale
    return np.stack([sx * x, sy * y + geometry.heart_pivot_drop], axis=1)


def _row_offsets():
    """`y`, shape `(32, NUM_ROWS)`: each table row's offset below the pivot,
    for each posY class."""
    cy = pivot(np.arange(NUM_POSITIONS))
    rows = np.floor(cy)[:, None] - ROWS_ABOVE + np.arange(NUM_ROWS)
    return rows - cy[:, None]


def _rotation(angles):
    """cos and sin of angles reduced to [0, 2 pi), so 0 and 2 pi agree."""
    angles = np.remainder(angles, 2.0 * np.pi)
    return np.cos(angles), np.sin(angles)


def _polygon_spans(vertices, scales, angles, y):
    """Row spans of a polygon for all scales and angles.

    Args:
        vertices: `(n, 2)` polygon at scale 1, (right, up) from the pivot.
        scales, angles: 1-D arrays; the sprites are their outer product.
        y: `(p, r)` row offsets below the pivot.

    Returns:
        float array `(len(scales), len(angles), p, r, MAX_SPANS, 2)` of the
        left and right end of each span (empty spans are `(inf, -inf)`).
        A row crosses an edge when the edge's lower end is at or above the
        row and its upper end below it (the half-open rule), so a row
        through a vertex is counted once.
    """
    cos, sin = _rotation(angles)
    s = scales[:, None, None]
    # Image axes (right, down) of every vertex: (scale, angle, vertex).
    vx = s * (cos[:, None] * vertices[:, 0] - sin[:, None] * vertices[:, 1])
    vy = -s * (sin[:, None] * vertices[:, 0] + cos[:, None] * vertices[:, 1])
    ax, ay = vx, vy
    bx, by = np.roll(vx, -1, axis=-1), np.roll(vy, -1, axis=-1)
    num_sprites = len(scales) * len(angles)
    ax, ay, bx, by = (a.reshape(num_sprites, -1) for a in (ax, ay, bx, by))
    low, high = np.minimum(ay, by), np.maximum(ay, by)
    out = np.empty((num_sprites,) + y.shape + (MAX_SPANS, 2))
    out[..., 0], out[..., 1] = np.inf, -np.inf
    # Rows are evenly spaced per posY class: row j is at y[p, 0] + j.
    first = y[:, 0]
    for p in range(y.shape[0]):
        # Row indices j with low <= first + j < high.
        j0 = np.ceil(low - first[p]).astype(np.int64)
        j1 = np.ceil(high - first[p]).astype(np.int64)
        count = np.clip(j1, 0, y.shape[1]) - np.clip(j0, 0, y.shape[1])
        count = np.maximum(count, 0)
        sprite, edge = np.nonzero(count)
        n = count[sprite, edge]
        sprite, edge = np.repeat(sprite, n), np.repeat(edge, n)
        starts = np.cumsum(n) - n
        j = np.clip(j0[sprite, edge], 0, None) + (np.arange(n.sum()) - np.repeat(starts, n))
        row_y = first[p] + j
        t = (row_y - ay[sprite, edge]) / (by[sprite, edge] - ay[sprite, edge])
        x = ax[sprite, edge] + t * (bx[sprite, edge] - ax[sprite, edge])
        order = np.lexsort((x, j, sprite))
        sprite, j, x = sprite[order], j[order], x[order]
        key = sprite * y.shape[1] + j
        group_start = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        rank = np.arange(len(key)) - np.repeat(group_start, np.diff(np.r_[group_start, len(key)]))
        if len(rank) and (rank.max() >= 2 * MAX_SPANS or len(rank) % 2):
            raise RuntimeError("A dSprites outline crosses a pixel row too often.")
        out[sprite, p, j, rank // 2, rank % 2] = x
    return out.reshape(len(scales), len(angles), *out.shape[1:])


def _ellipse_spans(semi_axes, scales, angles, y):
    """Row spans of the ellipse: the same layout as `_polygon_spans`."""
    cos, sin = _rotation(angles)
    a2 = (semi_axes[0] * scales[:, None, None, None]) ** 2
    b2 = (semi_axes[1] * scales[:, None, None, None]) ** 2
    c, s = cos[:, None, None], sin[:, None, None]
    # Shape coordinates u = c x - s y, v = -s x - c y of an image point
    # (x right, y down); inside when (u/a)^2 + (v/b)^2 <= 1, a quadratic
    # A x^2 + B x + C <= 0 in x.
    quad_a = c * c / a2 + s * s / b2
    quad_b = 2.0 * c * s * y * (1.0 / b2 - 1.0 / a2)
    quad_c = y * y * (s * s / a2 + c * c / b2) - 1.0
    disc = quad_b * quad_b - 4.0 * quad_a * quad_c
    root = np.sqrt(np.maximum(disc, 0.0))
    left = np.where(disc >= 0, (-quad_b - root) / (2.0 * quad_a), np.inf)
    right = np.where(disc >= 0, (-quad_b + root) / (2.0 * quad_a), -np.inf)
    out = np.empty(left.shape + (MAX_SPANS, 2))
    out[..., 0, 0], out[..., 0, 1] = left, right
    out[..., 1, 0], out[..., 1, 1] = np.inf, -np.inf
    return out


def build_span_table(geometry=GEOMETRY, shapes=(0, 1, 2), scales=None, angles=None):
    """Row spans of every sprite, for any geometry (used to fit it).

    Args:
        geometry: A `Geometry`.
        shapes: Shape classes to draw (0 square, 1 ellipse, 2 heart).
        scales: Scale values (default: the 6 published ones).
        angles: Orientation values (default: the 40 published ones).

    Returns:
        float32 array `(len(shapes), len(scales), len(angles), 32,
        NUM_ROWS, MAX_SPANS, 2)`: for each posY class and table row, the
        continuous left and right end of each span, in pixels right of the
        pivot (`(inf, -inf)` for no span).
    """
    scales = SCALES if scales is None else np.asarray(scales, np.float64)
    angles = ORIENTATIONS if angles is None else np.asarray(angles, np.float64)
    y = _row_offsets()
    tables = []
    for shape in shapes:
        if shape == 1:
            tables.append(_ellipse_spans(geometry.ellipse_semi_axes, scales, angles, y))
        else:
            tables.append(_polygon_spans(_outline(shape, geometry), scales, angles, y))
    return np.stack(tables).astype(np.float32)


@functools.lru_cache(maxsize=1)
def span_table():
    """The span table of the shipped geometry, built once per process.

    Returns:
        A read-only float32 array `(3, 6, 40, 32, NUM_ROWS, MAX_SPANS, 2)`
        indexed by (shape, scale, orientation, posY) class; see
        `build_span_table`.
    """
    table = build_span_table()
    table.setflags(write=False)
    return table


@functools.lru_cache(maxsize=1)
def _row_bits():
    """uint64 table `(65, 65)`: at `[lo, stop]`, a row with columns
    `lo..stop - 1` on (bit c is column c); 0 when `stop <= lo`."""
    k = np.arange(65, dtype=np.uint64)
    # below[k]: the bits 0..k-1 set.
    below = np.where(
        k >= 64, np.uint64(2**64 - 1), (np.uint64(1) << np.minimum(k, 63)) - np.uint64(1)
    )
    bits = below[None, :] & ~below[:, None]
    bits.setflags(write=False)
    return bits


def rasterize(spans, pivot_x, first_row):
    """Draws images from row spans.

    Args:
        spans: float array `(n, NUM_ROWS, MAX_SPANS, 2)` of continuous span
            ends, pixels right of the pivot.
        pivot_x: float array `(n,)`, the pivot's column coordinate.
        first_row: int array `(n,)`, the image row of table row 0.

    Returns:
        uint8 array `(n, 64 * 64)` of 0/1: pixel (r, c) is on when
        `left <= c - pivot_x <= right` for one span of its row.
    """
    n = len(pivot_x)
    ends = spans.astype(np.float64) + np.asarray(pivot_x, np.float64)[:, None, None, None]
    lo = np.clip(np.ceil(ends[..., 0]), 0, 64).astype(np.intp)
    stop = np.clip(np.floor(ends[..., 1]) + 1, 0, 64).astype(np.intp)
    rows = _row_bits()[lo, stop]
    rows = np.bitwise_or.reduce(rows, axis=-1)
    image_rows = np.zeros((n, IMAGE_SIZE), np.uint64)
    image_rows[np.arange(n)[:, None], first_row[:, None] + np.arange(NUM_ROWS)] = rows
    as_bytes = image_rows.astype("<u8", copy=False).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")
