"""The 720 dSprites sprite masks: 3 shapes x 6 scales x 40 orientations.

Every dSprites image is one of these masks pasted at an integer pixel offset
(the position classes), so the masks are drawn once and cached.

Geometry (all lengths in pixels of the 64x64 image):

- A square of side `BASE_SIZE * scale`, an ellipse with semi-axes
  `(0.7, 0.35) * BASE_SIZE * scale` and a heart (the curve
  `(u^2 + v^2 - 1)^3 = u^2 v^3`) of width about `1.18 * BASE_SIZE * scale`.
  At scale 1 the largest sprites (the square at 45 degrees and the ellipse)
  span 24 pixels; at scale 0.5 the smallest span 8-9 pixels.
- Orientation class `k` rotates the sprite counter-clockwise (as displayed)
  by `2 * pi * k / 40`.
- Each sprite rotates about a pivot `PIVOT_OFFSET` away from its own centre,
  and the pivot sits off the pixel grid (`PIVOT_PHASE`). Without this, the
  square's 90 degree and the ellipse's 180 degree symmetries would draw
  identical images for different orientation classes. A handful of masks
  that would still equal another one up to translation are redrawn at the
  nearest sub-pixel shift that makes them unique, so no two dSprites images
  are the same.
- Pixel coverage is estimated with `SUPERSAMPLING**2` samples per pixel and
  a pixel is on when at least half of it is covered.
- Every mask fits a `SPRITE_BOX x SPRITE_BOX` box; pasted at offset
  `MARGIN + position_class` (0..31), its bounding box stays inside pixels
  3..57 on both axes.
"""

import functools

import numpy as np

NUM_SHAPES = 3
NUM_SCALES = 6
NUM_ORIENTATIONS = 40
SCALES = np.linspace(0.5, 1.0, NUM_SCALES)

IMAGE_SIZE = 64
SPRITE_BOX = 24
MARGIN = 3

BASE_SIZE = 16.8
ELLIPSE_SEMI_AXES = (0.7, 0.35)
HEART_SIZE = 0.52
HEART_CENTER = 0.118  # vertical centre of the heart curve's bounding box
PIVOT_OFFSET = (0.31, 0.19)
PIVOT_PHASE = (0.35, 0.17)
SUPERSAMPLING = 4

_CANVAS = 30  # drawing canvas, cropped to SPRITE_BOX afterwards


def _inside(shape, x, y, size):
    """Whether points (x right, y down, sprite-centred) are inside a shape."""
    if shape == 0:  # square
        half = size / 2.0
        return (np.abs(x) <= half) & (np.abs(y) <= half)
    if shape == 1:  # ellipse, long axis horizontal at orientation 0
        a, b = ELLIPSE_SEMI_AXES
        return (x / (a * size)) ** 2 + (y / (b * size)) ** 2 <= 1.0
    # heart, upright at orientation 0 (the curve's v axis points up)
    u = x / (HEART_SIZE * size)
    v = -y / (HEART_SIZE * size) + HEART_CENTER
    return (u * u + v * v - 1.0) ** 3 - u * u * v**3 <= 0.0


def _draw(shape, scale, angles, shift):
    """Draws one shape at one scale for several angles on the canvas.

    Returns a bool array of shape `(len(angles), _CANVAS, _CANVAS)`.
    """
    sub = (np.arange(SUPERSAMPLING) + 0.5) / SUPERSAMPLING - 0.5
    centers = np.arange(_CANVAS) - _CANVAS / 2.0 + 0.5
    px = PIVOT_PHASE[0] + shift[0]
    py = PIVOT_PHASE[1] + shift[1]
    x = centers[None, :, None, None] + sub[None, None, None, :] - px
    y = centers[:, None, None, None] + sub[None, None, :, None] - py
    x, y = np.broadcast_arrays(x, y)
    out = []
    for angle in angles:
        c, s = np.cos(angle), np.sin(angle)
        xr = c * x - s * y - PIVOT_OFFSET[0]
        yr = s * x + c * y - PIVOT_OFFSET[1]
        covered = _inside(shape, xr, yr, BASE_SIZE * scale)
        out.append(covered.mean(axis=(2, 3)) >= 0.5)
    return np.stack(out)


def _crop_key(mask):
    """A hashable key equal for masks that are translations of each other."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    crop = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return crop.shape, np.packbits(crop).tobytes()


def _shift_candidates():
    """Sub-pixel shifts tried, nearest first, for masks that need one."""
    steps = np.arange(8) / 8.0
    steps = np.where(steps >= 0.5, steps - 1.0, steps)
    shifts = [(float(a), float(b)) for a in steps for b in steps]
    return sorted(shifts, key=lambda s: (s[0] ** 2 + s[1] ** 2, s))


@functools.lru_cache(maxsize=1)
def sprite_masks():
    """Returns the 720 sprite masks, drawn once per process.

    Returns:
        A read-only bool array of shape `(3, 6, 40, SPRITE_BOX, SPRITE_BOX)`
        indexed by (shape, scale, orientation) class. Any two masks differ
        even after cropping each to its bounding box.
    """
    angles = 2.0 * np.pi * np.arange(NUM_ORIENTATIONS) / NUM_ORIENTATIONS
    canvas = np.zeros(
        (NUM_SHAPES, NUM_SCALES, NUM_ORIENTATIONS, _CANVAS, _CANVAS), bool
    )
    seen = set()
    for shape in range(NUM_SHAPES):
        for scale_id, scale in enumerate(SCALES):
            drawn = _draw(shape, scale, angles, (0.0, 0.0))
            for k, angle in enumerate(angles):
                mask = drawn[k]
                key = _crop_key(mask)
                for shift in _shift_candidates()[1:]:
                    if key not in seen:
                        break
                    mask = _draw(shape, scale, [angle], shift)[0]
                    key = _crop_key(mask)
                if key in seen:
                    raise RuntimeError(
                        "Could not draw a unique dSprites mask for "
                        f"shape={shape}, scale={scale_id}, orientation={k}."
                    )
                seen.add(key)
                canvas[shape, scale_id, k] = mask
    return _crop_to_box(canvas)


def _crop_to_box(canvas):
    """Crops all masks to one common `SPRITE_BOX` square."""
    union = canvas.reshape(-1, _CANVAS, _CANVAS).any(axis=0)
    rows = np.flatnonzero(union.any(axis=1))
    cols = np.flatnonzero(union.any(axis=0))
    if rows[-1] - rows[0] >= SPRITE_BOX or cols[-1] - cols[0] >= SPRITE_BOX:
        raise RuntimeError(
            "dSprites masks do not fit the sprite box: rows "
            f"{rows[0]}..{rows[-1]}, columns {cols[0]}..{cols[-1]}, "
            f"box {SPRITE_BOX}."
        )
    r0 = rows[0] - (SPRITE_BOX - (rows[-1] - rows[0] + 1)) // 2
    c0 = cols[0] - (SPRITE_BOX - (cols[-1] - cols[0] + 1)) // 2
    masks = canvas[..., r0 : r0 + SPRITE_BOX, c0 : c0 + SPRITE_BOX].copy()
    masks.setflags(write=False)
    return masks
