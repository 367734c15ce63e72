"""Procedural dSprites: the 737,280 images drawn on demand, never downloaded."""

import functools
import hashlib
import os

import numpy as np

from keras_vae.datasets import sprites
from keras_vae.datasets._packed_cache import PackedBitsCache

LATENTS_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
LATENTS_SIZES = np.array([1, 3, 6, 40, 32, 32])
# Index of an image: sum of its latent classes times these bases.
LATENTS_BASES = np.concatenate([np.cumprod(LATENTS_SIZES[::-1])[::-1][1:], [1]])
NUM_IMAGES = int(np.prod(LATENTS_SIZES))
SHAPE_NAMES = ("square", "ellipse", "heart")


def _possible_values():
    return {
        "color": np.array([1.0]),
        "shape": np.array([1.0, 2.0, 3.0]),
        "scale": np.linspace(0.5, 1.0, 6),
        "orientation": np.linspace(0.0, 2.0 * np.pi, 40),
        "posX": np.linspace(0.0, 1.0, 32),
        "posY": np.linspace(0.0, 1.0, 32),
    }


@functools.lru_cache(maxsize=1)
def _foreground_offsets():
    """Flat pixel offsets of each sprite's foreground, one row per sprite.

    Rows are padded to a common length by repeating their first offset, so
    a paste can write all of them at once (writing a pixel twice is
    harmless).
    """
    masks = sprites.sprite_masks().reshape(-1, sprites.SPRITE_BOX, sprites.SPRITE_BOX)
    rows = []
    for mask in masks:
        r, c = np.nonzero(mask)
        rows.append(r * sprites.IMAGE_SIZE + c)
    width = max(len(r) for r in rows)
    padded = np.stack([np.pad(r, (0, width - len(r)), mode="edge") for r in rows])
    return padded.astype(np.int64)


def _geometry_key():
    """A short hash of the sprite masks, naming the on-disk cache file."""
    masks = sprites.sprite_masks()
    digest = hashlib.sha1(np.packbits(masks).tobytes())
    digest.update(repr((sprites.MARGIN, sprites.IMAGE_SIZE)).encode())
    return digest.hexdigest()[:12]


class DSprites:
    """dSprites, drawn procedurally with the published factor layout.

    Reproduces the layout of DeepMind's dSprites
    (`dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`): 737,280 binary
    64x64 images, one for each combination of the latents
    color (1), shape (3: square, ellipse, heart), scale (6 values in
    [0.5, 1]), orientation (40 values in [0, 2 pi]), posX (32 values in
    [0, 1]) and posY (32 values in [0, 1]), stored in the order where posY
    varies fastest and shape slowest. Images are drawn on demand from 720
    precomputed sprite masks (see `keras_vae.datasets.sprites`), so the
    2.9 GB image array is never materialized; all 737,280 images differ.

    posX moves the sprite right and posY moves it down, one pixel per
    class. The orientation *values* are the published
    `linspace(0, 2 pi, 40)`, whose first and last entries are the same
    rotation; the sprites are drawn at `2 pi k / 40` for class `k` so that
    every class is a different rotation.

    It also implements disentanglement_lib's `GroundTruthData` interface
    over the five varying factors (shape, scale, orientation, posX, posY).

    Args:
        cache_dir: Optional folder for an on-disk cache of all images as
            packed bits (about 377 MB, built once in chunks, then read
            through `np.memmap`). Without it, images are drawn on each
            access, which is about as fast.

    Example:

    >>> data = DSprites()
    >>> x = data.images([0, 1, 2])  # float32, shape (3, 64, 64, 1)
    >>> classes = data.index_to_classes([0, 1, 2])  # shape (3, 6)
    """

    latents_names = LATENTS_NAMES
    latents_sizes = LATENTS_SIZES
    latents_bases = LATENTS_BASES
    shape_names = SHAPE_NAMES
    factor_names = LATENTS_NAMES[1:]

    def __init__(self, cache_dir=None):
        self._cache = None
        if cache_dir is not None:
            path = os.path.join(
                os.fspath(cache_dir), f"dsprites-{_geometry_key()}.bits"
            )
            self._cache = PackedBitsCache(
                path, NUM_IMAGES, sprites.IMAGE_SIZE**2, self._render
            )

    def __len__(self):
        return NUM_IMAGES

    def __repr__(self):
        cache = self._cache.path if self._cache is not None else None
        return f"<DSprites: {NUM_IMAGES} images 64x64x1, cache={cache!r}>"

    # ----------------------------------------------------------- latents
    @property
    def latents_possible_values(self):
        """Dict from latent name to its sorted grid of values."""
        return _possible_values()

    @property
    def latents_classes(self):
        """int64 array (737280, 6): latent classes of every image, in order."""
        return self.index_to_classes(np.arange(NUM_IMAGES))

    @property
    def latents_values(self):
        """float64 array (737280, 6): latent values of every image, in order."""
        return self.classes_to_values(self.latents_classes)

    def index_to_classes(self, indices):
        """Maps image indices to latent classes.

        Args:
            indices: Integer array-like of image indices in [0, 737280).

        Returns:
            int64 array of shape `indices.shape + (6,)`.
        """
        indices = _check_indices(indices)
        return (indices[..., None] // LATENTS_BASES) % LATENTS_SIZES

    def classes_to_index(self, classes):
        """Maps latent classes, shape `(..., 6)`, to image indices."""
        classes = _check_classes("classes", classes, LATENTS_SIZES)
        return classes @ LATENTS_BASES

    def classes_to_values(self, classes):
        """Maps latent classes, shape `(..., 6)`, to latent values."""
        classes = _check_classes("classes", classes, LATENTS_SIZES)
        grids = _possible_values()
        columns = [grids[name][classes[..., i]] for i, name in enumerate(LATENTS_NAMES)]
        return np.stack(columns, axis=-1)

    def index_to_factors(self, indices):
        """Maps image indices to the 5 varying factors' classes `(..., 5)`."""
        return self.index_to_classes(indices)[..., 1:]

    def factors_to_index(self, factors):
        """Maps varying-factor classes, shape `(..., 5)`, to image indices."""
        factors = _check_classes("factors", factors, LATENTS_SIZES[1:])
        return factors @ LATENTS_BASES[1:]

    # ------------------------------------------------------------ images
    def _render(self, indices):
        """Draws images as uint8 0/1, shape `(n, 4096)`."""
        indices = np.asarray(indices, np.int64).reshape(-1)
        classes = (indices[:, None] // LATENTS_BASES) % LATENTS_SIZES
        sprite = (classes[:, 1] * 6 + classes[:, 2]) * 40 + classes[:, 3]
        size = sprites.IMAGE_SIZE
        top_left = (sprites.MARGIN + classes[:, 5]) * size + (
            sprites.MARGIN + classes[:, 4]
        )
        starts = np.arange(len(indices), dtype=np.int64) * size * size + top_left
        out = np.zeros((len(indices), size * size), np.uint8)
        flat = starts[:, None] + _foreground_offsets()[sprite]
        out.reshape(-1)[flat.reshape(-1)] = 1
        return out

    def imgs(self, indices):
        """Images as in the original `.npz` `imgs` array.

        Args:
            indices: Integer array-like of image indices in [0, 737280).

        Returns:
            uint8 array of shape `indices.shape + (64, 64)` with values 0/1.
        """
        indices = _check_indices(indices)
        flat = indices.reshape(-1)
        if self._cache is not None:
            bits = self._cache.rows(flat)
        else:
            bits = self._render(flat)
        return bits.reshape(indices.shape + (sprites.IMAGE_SIZE,) * 2)

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
            key = np.arange(NUM_IMAGES)[key]
        return self.images(key)

    # ------------------------------------------ GroundTruthData interface
    @property
    def num_factors(self):
        """Number of varying factors: 5."""
        return len(self.factor_names)

    @property
    def factors_num_values(self):
        """Number of classes of each varying factor: [3, 6, 40, 32, 32]."""
        return [int(n) for n in LATENTS_SIZES[1:]]

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


def _check_indices(indices):
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
    if array.size and (array.min() < 0 or array.max() >= NUM_IMAGES):
        raise ValueError(
            f"Argument `indices` must be in [0, {NUM_IMAGES}). "
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
