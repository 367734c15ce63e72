"""dSprites: procedural (DeepMind's pixels, drawn on demand) or read from the
original file (read by `keras_vae.datasets._dsprites_file`)."""

import functools
import hashlib
import os

import numpy as np

from keras_vae.datasets import sprites
from keras_vae.datasets._dsprites_file import FILE_NAMES
from keras_vae.datasets._dsprites_file import grid_bases
from keras_vae.datasets._dsprites_file import open_file
from keras_vae.datasets._packed_cache import PackedBitsCache

LATENTS_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
LATENTS_SIZES = np.array([1, 3, 6, 40, 32, 32])
NUM_IMAGES = int(np.prod(LATENTS_SIZES))
# Images per split: every factor combination once, all in "train".
NUM_EXAMPLES = {"train": NUM_IMAGES}
SHAPE_NAMES = ("square", "ellipse", "heart")
LATENTS_BASES = grid_bases(LATENTS_SIZES)


def _possible_values():
    return {
        "color": np.array([1.0]),
        "shape": np.array([1.0, 2.0, 3.0]),
        "scale": sprites.SCALES.copy(),
        "orientation": sprites.ORIENTATIONS.copy(),
        "posX": sprites.POSITIONS.copy(),
        "posY": sprites.POSITIONS.copy(),
    }


def _geometry_key(table):
    """A short hash of a span table, naming the on-disk cache file: a new
    geometry never reads images cached for an old one."""
    digest = hashlib.sha1(b"dsprites-spans-v2")
    digest.update(repr(table.shape).encode())
    digest.update(np.ascontiguousarray(table).tobytes())
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def _pivots():
    """Pivot coordinate and first table row (image row) per position class."""
    classes = np.arange(sprites.NUM_POSITIONS)
    pivot = sprites.pivot(classes)
    first_row = (np.floor(pivot) - sprites.ROWS_ABOVE).astype(np.intp)
    return pivot, first_row


class DSprites:
    """dSprites: DeepMind's 737,280 images, drawn on demand or read from file.

    The layout of DeepMind's dSprites
    (`dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`, Matthey et al.,
    2017): binary 64x64 images, one for each combination of the latents
    color (1), shape (3: square, ellipse, heart), scale (6 values in
    [0.5, 1]), orientation (40 values in [0, 2 pi]), posX (32 values in
    [0, 1]) and posY (32 values in [0, 1]), stored in the order where posY
    varies fastest and shape slowest.

    `DSprites()` draws the images procedurally from the published factor
    values with a geometry fitted to the original's frames (see
    `keras_vae.datasets.sprites`): the same shapes, sizes, rotation and
    position mapping, so that, like the original, orientations 0 and 2 pi
    (classes 0 and 39) draw the same image. Images are drawn from a table
    of row spans built once per process, so the 2.9 GB image array never
    exists in memory.

    `DSprites.from_file(path)` reads DeepMind's file instead, lazily, with
    the same interface.

    Both implement disentanglement_lib's `GroundTruthData` interface over
    the five varying factors (shape, scale, orientation, posX, posY).

    Args:
        cache_dir: Optional folder for an on-disk cache of all procedural
            images as packed bits (about 377 MB, built once in chunks, then
            read per batch). Drawing is fast enough that it is rarely worth
            it. Its file name changes with the geometry.

    Example:

    >>> data = DSprites()
    >>> x = data.images([0, 1, 2])  # float32, shape (3, 64, 64, 1)
    >>> classes = data.index_to_classes([0, 1, 2])  # shape (3, 6)
    """

    latents_names = LATENTS_NAMES
    shape_names = SHAPE_NAMES
    factor_names = LATENTS_NAMES[1:]

    def __init__(self, cache_dir=None):
        self._set_layout(LATENTS_SIZES, _possible_values())
        self._file = None
        self._readers = None
        self._cache = None
        if cache_dir is not None:
            path = os.path.join(
                os.fspath(cache_dir), f"dsprites-{_geometry_key(sprites.span_table())}.bits"
            )
            self._cache = PackedBitsCache(
                path, NUM_IMAGES, sprites.IMAGE_SIZE**2, self._render
            )

    def _set_layout(self, sizes, values):
        self.latents_sizes = np.asarray(sizes, np.int64)
        self.latents_bases = grid_bases(self.latents_sizes)
        self._num_images = int(np.prod(self.latents_sizes))
        self._values = values

    @classmethod
    def from_file(cls, path, cache_dir=None):
        """Opens DeepMind's dSprites file, reading images on demand.

        Reads `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz` (the arrays
        `imgs`, uint8 `(737280, 64, 64)` of 0/1, `latents_classes` and
        `latents_values`, `(737280, 6)`; the pickled `metadata` is not
        read) or the `.hdf5` release (datasets `imgs`, `latents/classes`,
        `latents/values`; needs h5py). The latent classes are read when
        opening, to check that the images are stored in the published
        order. Images are then read per batch, so memory stays flat while
        streaming:

        - from an `.npz` whose `imgs` is stored uncompressed (`np.savez`),
          straight from the file;
        - from an `.npz` whose `imgs` is compressed (`np.savez_compressed`),
          which cannot be read out of order, through a packed-bits copy
          of the images (377 MB for the full dataset, one pixel per bit)
          decompressed once, chunk by chunk, into `cache_dir`;
        - from the `.hdf5` file through h5py.

        Files in the same format with fewer classes per latent (each
        latent's classes `0..n-1`, every combination once, posY fastest)
        are read too.

        Args:
            path: Path of the `.npz` or `.hdf5` file.
            cache_dir: Folder of the packed-bits copy of compressed images
                (default: the file's folder).

        Returns:
            A `DSprites` backed by the file.

        Raises:
            FileNotFoundError: If `path` does not exist.
            ValueError: If the file is not in the dSprites format.
        """
        self = cls.__new__(cls)
        self._cache = None
        self._open(os.fspath(path), cache_dir)
        return self

    def _open(self, path, cache_dir):
        readers, sizes, grids = open_file(path, cache_dir)
        self._set_layout(sizes, dict(zip(LATENTS_NAMES, grids)))
        self._file = path
        self._readers = readers

    def __len__(self):
        return self._num_images

    def __repr__(self):
        if self._file is not None:
            return f"<DSprites: {len(self)} images 64x64x1 read from {self._file!r}>"
        cache = self._cache.path if self._cache is not None else None
        return f"<DSprites: {len(self)} images 64x64x1, procedural, cache={cache!r}>"

    @property
    def path(self):
        """The file read, or None for procedural images."""
        return self._file

    # ----------------------------------------------------------- latents
    @property
    def latents_possible_values(self):
        """Dict from latent name to its sorted grid of values."""
        return {name: grid.copy() for name, grid in self._values.items()}

    @property
    def latents_classes(self):
        """int64 array `(N, 6)`: latent classes of every image, in order."""
        return self.index_to_classes(np.arange(len(self)))

    @property
    def latents_values(self):
        """float64 array `(N, 6)`: latent values of every image, in order
        (read from the file when there is one)."""
        if self._readers is not None:
            return self._readers["latents_values"].read_all().astype(np.float64)
        return self.classes_to_values(self.latents_classes)

    def index_to_classes(self, indices):
        """Maps image indices to latent classes.

        Args:
            indices: Integer array-like of image indices in [0, N).

        Returns:
            int64 array of shape `indices.shape + (6,)`.
        """
        indices = _check_indices(indices, len(self))
        return (indices[..., None] // self.latents_bases) % self.latents_sizes

    def classes_to_index(self, classes):
        """Maps latent classes, shape `(..., 6)`, to image indices."""
        classes = _check_classes("classes", classes, self.latents_sizes)
        return classes @ self.latents_bases

    def classes_to_values(self, classes):
        """Maps latent classes, shape `(..., 6)`, to latent values."""
        classes = _check_classes("classes", classes, self.latents_sizes)
        columns = [
            self._values[name][classes[..., i]] for i, name in enumerate(LATENTS_NAMES)
        ]
        return np.stack(columns, axis=-1)

    def index_to_factors(self, indices):
        """Maps image indices to the 5 varying factors' classes `(..., 5)`."""
        return self.index_to_classes(indices)[..., 1:]

    def factors_to_index(self, factors):
        """Maps varying-factor classes, shape `(..., 5)`, to image indices."""
        factors = _check_classes("factors", factors, self.latents_sizes[1:])
        return factors @ self.latents_bases[1:]

    # ------------------------------------------------------------ images
    def _render(self, indices):
        """Draws procedural images as uint8 0/1, shape `(n, 4096)`."""
        indices = np.asarray(indices, np.int64).reshape(-1)
        classes = (indices[:, None] // LATENTS_BASES) % LATENTS_SIZES
        _, shape, scale, orientation, pos_x, pos_y = classes.T
        spans = sprites.span_table()[shape, scale, orientation, pos_y]
        pivot, first_row = _pivots()
        return sprites.rasterize(spans, pivot[pos_x], first_row[pos_y])

    def imgs(self, indices):
        """Images as in the original `.npz` `imgs` array.

        Args:
            indices: Integer array-like of image indices in [0, N).

        Returns:
            uint8 array of shape `indices.shape + (64, 64)` with values 0/1.
        """
        indices = _check_indices(indices, len(self))
        flat = indices.reshape(-1)
        if self._readers is not None:
            images = self._readers["imgs"].rows(flat)
        elif self._cache is not None:
            images = self._cache.rows(flat)
        else:
            images = self._render(flat)
        return images.reshape(indices.shape + (sprites.IMAGE_SIZE,) * 2)

    def pixels(self, indices):
        """Images as displayed: uint8 `(..., 64, 64)` with values 0/255."""
        return self.imgs(indices) * np.uint8(255)

    def images(self, indices):
        """Images for models: float32 `(..., 64, 64, 1)` with values 0/1."""
        return self.imgs(indices)[..., None].astype(np.float32)

    def __getitem__(self, key):
        """`data[i]` is one float32 image (64, 64, 1); slices and integer
        arrays give a batch."""
        if isinstance(key, slice):
            key = np.arange(len(self))[key]
        return self.images(key)

    # ------------------------------------------ GroundTruthData interface
    @property
    def num_factors(self):
        """Number of varying factors: 5."""
        return len(self.factor_names)

    @property
    def factors_num_values(self):
        """Number of classes of each varying factor: [3, 6, 40, 32, 32] for
        the full dataset."""
        return [int(n) for n in self.latents_sizes[1:]]

    @property
    def observation_shape(self):
        """Shape of one observation: [64, 64, 1]."""
        return [sprites.IMAGE_SIZE, sprites.IMAGE_SIZE, 1]

    def sample_factors(self, num, random_state):
        """Samples `num` factor combinations uniformly.

        Args:
            num: Number of samples.
            random_state: `np.random.RandomState` or `np.random.Generator`.

        Returns:
            int64 array `(num, 5)` of class indices of shape, scale,
            orientation, posX and posY.
        """
        draw = getattr(random_state, "integers", None) or random_state.randint
        return np.stack(
            [draw(n, size=num) for n in self.factors_num_values], axis=1
        ).astype(np.int64)

    def sample_observations_from_factors(self, factors, random_state):
        """Images for factor classes `(num, 5)`: float32 `(num, 64, 64, 1)`.

        `random_state` is unused: each factor combination has one image.
        """
        del random_state
        return self.images(self.factors_to_index(factors))

    def sample(self, num, random_state):
        """Samples `num` (factors, observations) pairs."""
        factors = self.sample_factors(num, random_state)
        return factors, self.sample_observations_from_factors(factors, random_state)

    def sample_observations(self, num, random_state):
        """Samples `num` observations: float32 `(num, 64, 64, 1)`."""
        return self.sample(num, random_state)[1]


def open_dsprites(data_dir=None):
    """dSprites from `data_dir`: the original file if it is there.

    Args:
        data_dir: None (procedural images); the path of DeepMind's `.npz`
            or `.hdf5` file (`DSprites.from_file`); or a folder. A folder
            holding `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz` (or
            `.hdf5`) gives that file; any other folder is the on-disk cache
            of the procedural images.

    Returns:
        A `DSprites`.
    """
    if data_dir is None:
        return DSprites()
    path = os.fspath(data_dir)
    if os.path.isdir(path):
        for name in FILE_NAMES:
            if os.path.isfile(os.path.join(path, name)):
                return DSprites.from_file(os.path.join(path, name))
        return DSprites(cache_dir=path)
    if path.endswith((".npz", ".hdf5", ".h5")) or os.path.isfile(path):
        return DSprites.from_file(path)
    return DSprites(cache_dir=path)


def _check_indices(indices, num_images=NUM_IMAGES):
    array = np.asarray(indices)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer)
        or (array.size == 0 and array.dtype == np.float64)
    ):
        raise TypeError(
            "Argument `indices` must hold integer image indices. "
            f"Received: indices with dtype {array.dtype}"
        )
    array = array.astype(np.int64)
    if array.size and (array.min() < 0 or array.max() >= num_images):
        raise ValueError(
            f"Argument `indices` must be in [0, {num_images}). "
            f"Received: indices in [{array.min()}, {array.max()}]"
        )
    return array


def _check_classes(name, classes, sizes):
    array = np.asarray(classes)
    if array.ndim == 0 or array.shape[-1] != len(sizes):
        raise ValueError(
            f"Argument `{name}` must have a last dimension of {len(sizes)}. "
            f"Received: {name} with shape {array.shape}"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"Argument `{name}` must hold integer classes. "
            f"Received: {name} with dtype {array.dtype}"
        )
    array = array.astype(np.int64)
    if array.size and ((array < 0).any() or (array >= sizes).any()):
        low = array.reshape(-1, len(sizes)).min(0).tolist()
        high = array.reshape(-1, len(sizes)).max(0).tolist()
        raise ValueError(
            f"Argument `{name}` must have classes in [0, {list(sizes)}) per "
            f"column. Received: {name} with minima {low} and maxima {high}"
        )
    return array
