"""Contact sheet of procedural dSprites samples, written as a PNG.

Run `python -m keras_vae.datasets.contact_sheet docs/dsprites_contact_sheet.png`
to regenerate the sheet shipped in `docs/`.
"""

import sys

import numpy as np

from keras_vae.datasets.dsprites import DSprites
from keras_vae.images import image_grid
from keras_vae.images import write_png

_COLUMNS = 12
_GAP = 2
_GAP_VALUE = 96


def sheet_indices(seed=0):
    """Image indices shown on the sheet, one row of `_COLUMNS` per list.

    Rows 1-3: each shape at scale 1 in the centre, turning in steps of
    3 orientation classes. Rows 4-6: each shape growing through the 6
    scales, then moving along x and y. Rows 7-8: random images.
    """
    data = DSprites()
    rows = []
    for shape in range(3):
        classes = [[0, shape, 5, 3 * k, 16, 16] for k in range(_COLUMNS)]
        rows.append(data.classes_to_index(classes))
    for shape in range(3):
        classes = [[0, shape, s, 0, 16, 16] for s in range(6)]
        classes += [[0, shape, 5, 0, x, 16] for x in (0, 31)]
        classes += [[0, shape, 5, 0, 16, y] for y in (0, 31)]
        classes += [[0, shape, 0, 0, 0, 0], [0, shape, 5, 5, 31, 31]]
        rows.append(data.classes_to_index(classes))
    rng = np.random.default_rng(seed)
    rows += [rng.integers(0, len(data), _COLUMNS) for _ in range(2)]
    return np.stack(rows)


def contact_sheet(seed=0):
    """Returns the sheet as a uint8 array `(H, W, 1)`: white sprites on black."""
    tiles = DSprites().pixels(sheet_indices(seed).reshape(-1))  # (n, 64, 64)
    return image_grid(tiles, _COLUMNS, gap=_GAP, gap_value=_GAP_VALUE)


def write_contact_sheet(path, seed=0):
    """Writes the contact sheet as a grayscale PNG to `path`."""
    write_png(path, contact_sheet(seed))


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "dsprites_contact_sheet.png"
    write_contact_sheet(out)
