"""How closely procedural dSprites reproduces DeepMind's frames, and the fit.

Usage:
    python bench/dsprites_fidelity.py            # IoU of the shipped geometry
    python bench/dsprites_fidelity.py --fit      # refit the geometry

Reads `tests/data/dsprites_frames.npz`: 137 frames of DeepMind's dSprites
animation with their factor classes (see `tests/data/README.md`). For each
frame it draws the procedural image at the same factor classes and prints,
per shape, the mean and minimum intersection over union of the foreground
pixels and how many frames are pixel-identical.

`--fit` searches the geometry constants of `keras_vae.datasets.sprites`
(square side, ellipse semi-axes, heart scale and pivot) by coordinate
descent on the number of differing pixels, one shape at a time, starting
from the shipped values, and prints the best values and their IoU. The
rasterization (point sampling), the position mapping and the heart curve
are the model being fitted, not searched.
"""

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from keras_vae.datasets import sprites  # noqa: E402

SHAPE_NAMES = ("square", "ellipse", "heart")
# Geometry fields each shape depends on, flattened to scalars for the search.
PARAMS = {
    0: ["square_side"],
    1: ["ellipse_semi_axes.0", "ellipse_semi_axes.1"],
    2: ["heart_scale.0", "heart_scale.1", "heart_pivot_drop"],
}


def load_frames(path):
    with np.load(path) as f:
        return f["images"].astype(np.uint8), f["factor_classes"].astype(np.int64)


def draw(table, classes):
    """Procedural images `(n, 64, 64)` for factor classes `(n, 5)` from a
    span table of the shapes in `classes[:, 0]` (indexed as in the table)."""
    shape, scale, orientation, pos_x, pos_y = classes.T
    spans = table[shape, scale, orientation, pos_y]
    first_row = (np.floor(sprites.pivot(pos_y)) - sprites.ROWS_ABOVE).astype(np.intp)
    flat = sprites.rasterize(spans, sprites.pivot(pos_x), first_row)
    return flat.reshape(-1, sprites.IMAGE_SIZE, sprites.IMAGE_SIZE)


def iou(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum(axis=(1, 2)) / (a | b).sum(axis=(1, 2))


def report(images, classes, drawn):
    scores = iou(drawn, images)
    print(f"{'shape':8s} {'frames':>6s} {'mean IoU':>9s} {'min IoU':>8s} {'identical':>9s}")
    for shape, name in enumerate(SHAPE_NAMES):
        m = classes[:, 0] == shape
        same = int((drawn[m] == images[m]).all(axis=(1, 2)).sum())
        print(f"{name:8s} {m.sum():6d} {scores[m].mean():9.4f} {scores[m].min():8.4f} "
              f"{same:9d}")
    same = int((drawn == images).all(axis=(1, 2)).sum())
    print(f"{'all':8s} {len(images):6d} {scores.mean():9.4f} {scores.min():8.4f} {same:9d}")
    return scores


def _get(geometry, name):
    field, _, i = name.partition(".")
    value = getattr(geometry, field)
    return value[int(i)] if i else value


def _set(geometry, name, value):
    field, _, i = name.partition(".")
    if i:
        items = list(getattr(geometry, field))
        items[int(i)] = value
        value = tuple(items)
    return geometry._replace(**{field: value})


def _mismatch(geometry, shape, images, classes):
    m = classes[:, 0] == shape
    table = sprites.build_span_table(geometry, shapes=(shape,))
    local = classes[m].copy()
    local[:, 0] = 0
    return int((draw(table, local) != images[m]).sum())


def fit(images, classes, geometry, step=0.2, min_step=1e-3):
    """Coordinate descent on the differing pixels, shape by shape."""
    for shape, names in PARAMS.items():
        best = _mismatch(geometry, shape, images, classes)
        print(f"{SHAPE_NAMES[shape]}: {best} differing pixels at the start", flush=True)
        h = step
        while h >= min_step:
            improved = False
            for name in names:
                for sign in (1, -1):
                    # The heart's scale factors are small: search them 10x finer.
                    delta = sign * h * (0.05 if name.startswith("heart_scale") else 1.0)
                    trial = _set(geometry, name, _get(geometry, name) + delta)
                    score = _mismatch(trial, shape, images, classes)
                    if score < best:
                        best, geometry, improved = score, trial, True
            if not improved:
                h /= 2
        values = {name: round(float(_get(geometry, name)), 5) for name in names}
        print(f"{SHAPE_NAMES[shape]}: {best} differing pixels at {values}", flush=True)
    return geometry


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", default=os.path.join(ROOT, "tests", "data",
                                                         "dsprites_frames.npz"))
    parser.add_argument("--fit", action="store_true", help="search the geometry constants")
    args = parser.parse_args()
    images, classes = load_frames(args.frames)
    geometry = sprites.GEOMETRY
    if args.fit:
        geometry = fit(images, classes, geometry)
        print(geometry)
    table = sprites.build_span_table(geometry)
    report(images, classes, draw(table, classes))


if __name__ == "__main__":
    main()
