"""Procedural dSprites: layout, geometry, uniqueness, ground-truth interface."""

import numpy as np
import pytest

from keras_vae.datasets import DSprites
from keras_vae.datasets import load
from keras_vae.datasets import sprite_masks
from keras_vae.datasets._packed_cache import PackedBitsCache

N = 737_280


@pytest.fixture(scope="module")
def data():
    return DSprites()


def _bbox(images):
    """Per-image (row_min, row_max, col_min, col_max) of foreground pixels."""
    rows = images.any(axis=-1)
    cols = images.any(axis=-2)
    idx = np.arange(images.shape[-1])
    big = images.shape[-1]
    return (
        np.where(rows, idx, big).min(-1),
        np.where(rows, idx, -1).max(-1),
        np.where(cols, idx, big).min(-1),
        np.where(cols, idx, -1).max(-1),
    )


def _fmix64(w):
    w = w ^ (w >> np.uint64(33))
    w = w * np.uint64(0xFF51AFD7ED558CCD)
    w = w ^ (w >> np.uint64(33))
    w = w * np.uint64(0xC4CEB9FE1A85EC53)
    return w ^ (w >> np.uint64(33))


def test_latent_layout_matches_published_npz(data):
    assert len(data) == N
    assert data.latents_names == ("color", "shape", "scale", "orientation", "posX", "posY")
    np.testing.assert_array_equal(data.latents_sizes, [1, 3, 6, 40, 32, 32])
    np.testing.assert_array_equal(data.latents_bases, [N, 245_760, 40_960, 1024, 32, 1])
    values = data.latents_possible_values
    np.testing.assert_array_equal(values["color"], [1.0])
    np.testing.assert_array_equal(values["shape"], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(values["scale"], np.linspace(0.5, 1.0, 6))
    np.testing.assert_allclose(values["orientation"], np.linspace(0, 2 * np.pi, 40))
    np.testing.assert_allclose(values["posX"], np.linspace(0, 1, 32))
    np.testing.assert_allclose(values["posY"], np.linspace(0, 1, 32))
    # Stored order: posY fastest, then posX, orientation, scale, shape.
    grid = np.stack(
        np.meshgrid(*[np.arange(n) for n in data.latents_sizes], indexing="ij"), -1
    ).reshape(-1, 6)
    classes = data.latents_classes
    assert classes.shape == (N, 6)
    np.testing.assert_array_equal(classes, grid)
    latents_values = data.latents_values
    assert latents_values.shape == (N, 6)
    np.testing.assert_allclose(latents_values[1], [1, 1, 0.5, 0, 0, 1 / 31])
    np.testing.assert_allclose(latents_values[-1], [1, 3, 1, 2 * np.pi, 1, 1])


def test_index_factor_round_trip(data):
    rng = np.random.default_rng(0)
    indices = rng.integers(0, N, size=10_000)
    classes = data.index_to_classes(indices)
    np.testing.assert_array_equal(data.classes_to_index(classes), indices)
    factors = data.index_to_factors(indices)
    assert factors.shape == (10_000, 5)
    np.testing.assert_array_equal(factors, classes[:, 1:])
    np.testing.assert_array_equal(data.factors_to_index(factors), indices)
    assert data.index_to_classes(7).shape == (6,)


def test_sprite_masks_are_unique_up_to_translation():
    """The fast reason all images differ: no mask is a shifted copy of another."""
    masks = sprite_masks().reshape(720, 24, 24)
    r0, r1, c0, c1 = _bbox(masks)
    keys = {
        (r1[i] - r0[i], c1[i] - c0[i], masks[i, r0[i] : r1[i] + 1, c0[i] : c1[i] + 1].tobytes())
        for i in range(720)
    }
    assert len(keys) == 720


def test_all_737280_images_are_distinct(data):
    """Hashes the packed bits of every image, chunk by chunk (~2 s)."""
    salt = np.random.default_rng(0).integers(0, 2**63, size=64, dtype=np.uint64)
    hashes = np.empty(N, np.uint64)
    chunk = 32_768
    for start in range(0, N, chunk):
        bits = data.imgs(np.arange(start, min(start + chunk, N))).reshape(-1, 4096)
        words = np.packbits(bits, axis=1).view(np.uint64)
        hashes[start : start + len(words)] = _fmix64(words ^ salt).sum(axis=1)
    unique, counts = np.unique(hashes, return_counts=True)
    # Equal hashes would still need an exact comparison; check them.
    for h in unique[counts > 1]:
        same = data.imgs(np.flatnonzero(hashes == h)).reshape(-1, 4096)
        assert len(np.unique(same, axis=0)) == len(same)


def test_pixels_are_binary(data):
    indices = np.arange(0, N, 9973)
    pixels = data.pixels(indices)
    assert pixels.dtype == np.uint8 and pixels.shape == (len(indices), 64, 64)
    assert set(np.unique(pixels)) == {0, 255}
    images = data.images(indices)
    assert images.dtype == np.float32 and images.shape == (len(indices), 64, 64, 1)
    np.testing.assert_array_equal(images[..., 0] * 255, pixels)
    assert data[5].shape == (64, 64, 1)
    np.testing.assert_array_equal(data[3:6], data.images([3, 4, 5]))


def _extreme_position_images(data, scale):
    """All shapes and orientations at `scale`, at the four corner positions."""
    shape, orient, x, y = np.meshgrid(
        np.arange(3), np.arange(40), [0, 31], [0, 31], indexing="ij"
    )
    classes = np.stack(
        [0 * shape, shape, np.full_like(shape, scale), orient, x, y], -1
    ).reshape(-1, 6)
    return data.imgs(data.classes_to_index(classes))


def test_sprites_stay_inside_frame(data):
    for scale in (5, 0):
        r0, r1, c0, c1 = _bbox(_extreme_position_images(data, scale))
        assert r0.min() >= 3 and c0.min() >= 3
        assert r1.max() <= 57 and c1.max() <= 57
    r0, r1, c0, c1 = _bbox(_extreme_position_images(data, 5))
    assert r0.min() == 3 and c0.min() == 3 and r1.max() == 57 and c1.max() == 57


def test_sprite_extents(data):
    masks = sprite_masks().reshape(3, 6, 40, 24, 24)
    r0, r1, c0, c1 = _bbox(masks)
    span = np.maximum(r1 - r0, c1 - c0) + 1
    # Largest sprite at scale 1: 24 px (26 px would not leave room for 32
    # one-pixel position steps inside pixels 3..57).
    assert span[:, 5].max() == 24
    assert span[:, 5].max(axis=1).min() >= 20  # every shape is large
    assert 8 <= span[:, 0].min() <= 10  # smallest sprite at scale 0.5
    assert span[:, 0].max() <= 13


def test_shapes_differ_at_every_scale_and_orientation():
    masks = sprite_masks()
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        differs = (masks[a] != masks[b]).any(axis=(-1, -2))
        assert differs.all()


def test_position_moves_one_pixel_per_class(data):
    base = data.classes_to_index([0, 2, 3, 7, 10, 10])
    moved = data.imgs([base, base + 1, base + 32])
    np.testing.assert_array_equal(np.roll(moved[0], 1, axis=0), moved[1])
    np.testing.assert_array_equal(np.roll(moved[0], 1, axis=1), moved[2])


def test_ground_truth_interface(data):
    assert data.num_factors == 5
    assert data.factors_num_values == [3, 6, 40, 32, 32]
    assert data.observation_shape == [64, 64, 1]
    for random_state in (np.random.RandomState(0), np.random.default_rng(0)):
        factors = data.sample_factors(500, random_state)
        assert factors.shape == (500, 5)
        assert (factors >= 0).all() and (factors < data.factors_num_values).all()
        obs = data.sample_observations_from_factors(factors, random_state)
        assert obs.shape == (500, 64, 64, 1) and obs.dtype == np.float32
        np.testing.assert_array_equal(obs, data.images(data.factors_to_index(factors)))
    factors, obs = data.sample(8, np.random.RandomState(1))
    again, _ = data.sample(8, np.random.RandomState(1))
    np.testing.assert_array_equal(factors, again)
    assert obs.shape == (8, 64, 64, 1)
    assert data.sample_observations(3, np.random.RandomState(2)).shape == (3, 64, 64, 1)


def test_bad_indices_and_factors(data):
    with pytest.raises(ValueError, match=r"Received: indices in \[0, 737280\]"):
        data.imgs([0, N])
    with pytest.raises(ValueError, match="indices"):
        data.imgs([-1])
    with pytest.raises(TypeError, match="indices"):
        data.imgs([0.5])
    with pytest.raises(ValueError, match="last dimension of 5"):
        data.factors_to_index([[0, 0, 0]])
    with pytest.raises(ValueError, match="factors"):
        data.factors_to_index([[3, 0, 0, 0, 0]])


def test_packed_cache_builds_once_and_reads_back(tmp_path):
    rng = np.random.default_rng(0)
    table = rng.integers(0, 2, size=(100, 64), dtype=np.uint8)
    calls = []

    def render(indices):
        calls.append(len(indices))
        return table[indices]

    path = tmp_path / "sub" / "bits.bin"
    cache = PackedBitsCache(path, 100, 64, render, chunk_size=30)
    assert calls == [30, 30, 30, 10]
    assert path.stat().st_size == 100 * 8
    np.testing.assert_array_equal(cache.rows([5, 99, 0]), table[[5, 99, 0]])
    PackedBitsCache(path, 100, 64, render)  # complete file: no rebuild
    assert len(calls) == 4
    assert [p.name for p in path.parent.iterdir()] == ["bits.bin"]


@pytest.mark.slow
def test_dsprites_disk_cache_matches_rendering(data, tmp_path):
    cached = DSprites(cache_dir=tmp_path)
    indices = np.random.default_rng(0).integers(0, N, size=5000)
    np.testing.assert_array_equal(cached.imgs(indices), data.imgs(indices))


def test_dsprites_pipeline_same_seed_same_batches():
    def first_batches(seed):
        ds = load("dsprites", batch_size=64, seed=seed, with_labels=True)
        return [(x.numpy(), y.numpy()) for x, y in ds.take(2)]

    a, b, c = first_batches(3), first_batches(3), first_batches(4)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0][1], c[0][1])
    x, y = a[0]
    assert x.shape == (64, 64, 64, 1) and x.dtype == np.float32
    assert y.shape == (64, 5)
    data = DSprites()
    np.testing.assert_array_equal(x, data.images(data.factors_to_index(y)))


def test_dsprites_pipeline_without_shuffle_is_in_stored_order():
    ds = load("dsprites", batch_size=100, shuffle=False)
    assert int(ds.cardinality()) == 7373
    x = next(iter(ds)).numpy()
    np.testing.assert_array_equal(x, DSprites().images(np.arange(100)))
