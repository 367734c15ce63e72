"""Image grids written as PNG files with TensorFlow's encoder (no extra dependency)."""

import numpy as np

from keras_vae import _validation


def image_grid(images, columns, gap=2, gap_value=96, zoom=1):
    """Tiles images into one uint8 grid image.

    Args:
        images: `(N, H, W)` or `(N, H, W, C)` with C in {1, 3}; floats are read
            as [0, 1] intensities, integers as 0..255. Values outside are an
            error, not clipped.
        columns: images per row, >= 1; the last row is padded with gap colour.
        gap: pixels between tiles (and around the grid), >= 0.
        gap_value: grey level 0..255 of the gaps.
        zoom: integer upscaling of every tile (nearest neighbour), >= 1.

    Returns:
        uint8 array `(rows * (H + gap) + gap, columns * (W + gap) + gap, C)`.
    """
    columns = _validation.check_int("columns", columns, minimum=1)
    gap = _validation.check_int("gap", gap, minimum=0)
    zoom = _validation.check_int("zoom", zoom, minimum=1)
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(
            "`images` must be a non-empty batch (N, H, W) or (N, H, W, C) with "
            f"C in (1, 3). Received: images.shape={images.shape}"
        )
    if np.issubdtype(images.dtype, np.floating):
        if not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1:
            raise ValueError(
                "Float `images` must lie in [0, 1]. Received: images with "
                f"min={np.nanmin(images)} and max={np.nanmax(images)}"
            )
        images = np.round(images * 255.0)
    images = images.astype(np.uint8)
    if zoom > 1:
        images = images.repeat(zoom, axis=1).repeat(zoom, axis=2)
    n, h, w, c = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, c),
                   gap_value, dtype=np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, columns)
        top, left = gap + r * (h + gap), gap + col * (w + gap)
        grid[top:top + h, left:left + w] = image
    return grid


def write_png(path, image):
    """Writes a uint8 `(H, W)` or `(H, W, C)` array as a PNG file."""
    import tensorflow as tf

    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 2:
        image = image[..., None]
    tf.io.write_file(str(path), tf.io.encode_png(image))
