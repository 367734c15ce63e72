"""Reading DeepMind's dSprites file (`.npz` or `.hdf5`) for `DSprites.from_file`.

`open_file` checks the arrays and the order of the images, reads the grid of
latent values, and returns row readers that read images per batch: straight
from an uncompressed `.npz`, through a packed-bits copy for a compressed one
(`_packed_cache.PackedBitsCache`), or through h5py.
"""

import os

import numpy as np

from keras_vae.datasets._npz_member import ArrayRows
from keras_vae.datasets._npz_member import HDF5Rows
from keras_vae.datasets._npz_member import npz_members
from keras_vae.datasets._packed_cache import PackedBitsCache

# File names of DeepMind's release (github.com/deepmind/dsprites-dataset).
FILE_NAMES = (
    "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
    "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5",
)
_NUM_LATENTS = 6
_IMAGE_SIZE = 64
_CHUNK = 16384  # images decompressed at a time into the packed-bits copy


def grid_bases(sizes):
    """Index of an image: sum of its latent classes times these bases."""
    sizes = np.asarray(sizes, np.int64)
    return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]])


def open_file(path, cache_dir):
    """Opens a dSprites file (see `DSprites.from_file`).

    Returns:
        `(readers, sizes, grids)`: row readers of `imgs`, `latents_classes`
        and `latents_values`; the number of classes of each latent (int64,
        6); and each latent's sorted grid of values (a list of 6 float64
        arrays).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No dSprites file at {path!r}. Download "
            f"{FILE_NAMES[0]} from https://github.com/deepmind/dsprites-dataset. "
            f"Received: path={path!r}"
        )
    if path.endswith((".hdf5", ".h5")):
        readers = _hdf5_readers(path)
    else:
        readers = npz_members(path)
    missing = [k for k in ("imgs", "latents_classes", "latents_values") if k not in readers]
    if missing:
        raise ValueError(
            f"The dSprites file {path!r} lacks the arrays {missing}; expected "
            "imgs, latents_classes and latents_values as in "
            f"{FILE_NAMES[0]}. Received: arrays {sorted(readers)}"
        )
    imgs = readers["imgs"]
    classes = readers["latents_classes"]
    values = readers["latents_values"]
    n = imgs.shape[0]
    _check_member(path, "imgs", imgs, np.uint8, (n, _IMAGE_SIZE, _IMAGE_SIZE))
    _check_member(path, "latents_classes", classes, np.integer, (n, _NUM_LATENTS))
    _check_member(path, "latents_values", values, np.floating, (n, _NUM_LATENTS))
    if classes.compressed:  # 35 MB at full size; checked, then dropped
        classes = ArrayRows(classes.read_all())
    sizes = classes.rows([n - 1])[0].astype(np.int64) + 1 if n else np.zeros(_NUM_LATENTS)
    if n == 0 or np.prod(sizes) != n:
        raise ValueError(
            f"The dSprites file {path!r} holds {n} images, but its last "
            f"latent classes give a grid of {sizes.tolist()} = "
            f"{int(np.prod(sizes))} images. Received: path={path!r}"
        )
    bases = grid_bases(sizes)
    _check_grid_order(path, classes, sizes, bases)
    # Value of class k of latent i: its value where the other classes are 0.
    value_rows = ArrayRows(values.read_all()) if values.compressed else values
    grids = [value_rows.rows(np.arange(sizes[i]) * bases[i])[:, i].astype(np.float64)
             for i in range(_NUM_LATENTS)]
    if imgs.compressed:
        folder = os.path.dirname(os.path.abspath(path)) if cache_dir is None else cache_dir
        bits = os.path.join(
            os.fspath(folder),
            f"{os.path.basename(path)}.imgs-{os.path.getsize(path)}.bits",
        )
        readers["imgs"] = _PackedImages(PackedBitsCache(
            bits, n, _IMAGE_SIZE**2, _sequential(imgs, _CHUNK), _CHUNK))
    return readers, sizes, grids


class _PackedImages:
    """Images `(n, 64, 64)` read from a `PackedBitsCache`."""

    def __init__(self, cache):
        self.cache = cache

    def rows(self, indices):
        return self.cache.rows(indices).reshape(-1, _IMAGE_SIZE, _IMAGE_SIZE)


def _sequential(member, chunk):
    """`render(indices)` for `PackedBitsCache` from a front-to-back reader:
    the cache asks for consecutive chunks, in order."""
    stream = member.chunks(chunk)
    expected = [0]

    def render(indices):
        if len(indices) == 0 or indices[0] != expected[0]:
            raise RuntimeError("Compressed dSprites images must be read in order.")
        block = next(stream)
        expected[0] += len(block)
        return block.reshape(len(block), -1)

    return render


def _hdf5_readers(path):
    try:
        import h5py
    except ImportError:
        raise ValueError(
            f"Reading the dSprites .hdf5 file {path!r} needs h5py "
            "(`pip install h5py`); or use the .npz release. "
            f"Received: path={path!r}"
        ) from None
    handle = h5py.File(path, "r")
    readers = {}
    for name, key in (("imgs", "imgs"), ("latents_classes", "latents/classes"),
                      ("latents_values", "latents/values")):
        if key in handle:
            readers[name] = HDF5Rows(handle[key])
    return readers


def _check_member(path, name, reader, kind, shape):
    if not np.issubdtype(reader.dtype, kind) or reader.shape != shape:
        expected = {np.uint8: "uint8", np.integer: "integer", np.floating: "float"}[kind]
        raise ValueError(
            f"The array {name!r} of the dSprites file {path!r} must have "
            f"shape {shape} and a {expected} dtype. "
            f"Received: shape {reader.shape}, dtype {reader.dtype}"
        )


def _check_grid_order(path, classes, sizes, bases, chunk=65536):
    """Checks that the file's latent classes are the grid in index order."""
    n = int(np.prod(sizes))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        stored = classes.rows(np.arange(start, stop))
        expected = (np.arange(start, stop)[:, None] // bases) % sizes
        bad = np.flatnonzero((stored != expected).any(axis=1))
        if len(bad):
            row = start + int(bad[0])
            raise ValueError(
                f"The dSprites file {path!r} is not in the published order "
                "(every combination of latent classes once, posY fastest, "
                f"then posX, orientation, scale, shape): image {row} has "
                f"latent classes {stored[bad[0]].tolist()}, expected "
                f"{expected[bad[0]].tolist()}. Received: path={path!r}"
            )
