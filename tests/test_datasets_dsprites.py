"""dSprites: layout, fidelity to DeepMind's frames, geometry, the real-file reader."""

import os
import zipfile

import numpy as np
import pytest

from keras_vae.datasets import DSprites
from keras_vae.datasets import load
from keras_vae.datasets import open_dsprites
from keras_vae.datasets import sprites
from keras_vae.datasets._npz_member import RowReader
from keras_vae.datasets._packed_cache import PackedBitsCache
from keras_vae.datasets.dsprites import FILE_NAMES
from keras_vae.datasets.dsprites import _geometry_key

N = 737_280
DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="module")
def data():
    return DSprites()


@pytest.fixture(scope="module")
def reference():
    with np.load(os.path.join(DATA, "dsprites_frames.npz")) as f:
        return f["images"].astype(bool), f["factor_classes"].astype(np.int64)


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


def _images_at(data, classes):
    """Images for varying-factor classes `(..., 5)`, as bool."""
    return data.imgs(data.factors_to_index(np.asarray(classes))).astype(bool)


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


# ------------------------------------------------- fidelity to the original
def test_reference_frames_are_reproduced(data, reference):
    """DeepMind's frames, drawn at their factor classes: IoU of foregrounds."""
    images, classes = reference
    drawn = _images_at(data, classes)
    iou = (drawn & images).sum(axis=(1, 2)) / (drawn | images).sum(axis=(1, 2))
    assert iou.mean() >= 0.95
    for shape in range(3):
        assert iou[classes[:, 0] == shape].mean() >= 0.95, shape
    assert iou.min() >= 0.9
    identical = (drawn == images).all(axis=(1, 2))
    assert identical.mean() >= 0.8


def test_equal_classes_draw_equal_images(data, reference):
    images, classes = reference
    # In the original, orientation classes 0 and 39 are the same rotation:
    # the reference holds such pairs, and they are pixel-identical there.
    key = classes.copy()
    key[key[:, 2] == 39, 2] = 0
    _, group = np.unique(key, axis=0, return_inverse=True)
    pairs = [np.flatnonzero(group == g) for g in np.unique(group)]
    pairs = [p for p in pairs if len(p) > 1]
    assert len(pairs) >= 3
    drawn = _images_at(data, classes)
    for rows in pairs:
        assert (images[rows] == images[rows[0]]).all()
        assert (drawn[rows] == drawn[rows[0]]).all()
    # The same classes give the same image whatever else is in the batch.
    rng = np.random.default_rng(0)
    indices = rng.integers(0, N, size=300)
    together = data.imgs(np.r_[indices, indices[::-1]])
    np.testing.assert_array_equal(together[:300], together[300:][::-1])
    np.testing.assert_array_equal(together[:5], data.imgs(indices[:5]))


def test_orientation_classes_0_and_39_draw_the_same_image(data):
    shape, scale, x, y = np.meshgrid(
        np.arange(3), np.arange(6), [0, 7, 19, 31], [0, 12, 31], indexing="ij"
    )
    first = np.stack([shape, scale, 0 * x, x, y], -1).reshape(-1, 5)
    last = first.copy()
    last[:, 2] = 39
    np.testing.assert_array_equal(_images_at(data, first), _images_at(data, last))
    # ... and nothing else repeats among one sprite's orientations.
    turning = np.stack([np.full(39, 2), np.full(39, 5), np.arange(39), np.full(39, 9),
                        np.full(39, 4)], -1)
    flat = _images_at(data, turning).reshape(39, -1)
    assert len(np.unique(flat, axis=0)) == 39


def test_sizes_at_orientation_0_match_the_original(data):
    """Sizes measured on DeepMind's animation (at position (0, 0))."""
    scales = np.arange(6)
    square = _images_at(data, np.stack([0 * scales, scales, 0 * scales, 0 * scales,
                                        0 * scales], -1))
    r0, r1, c0, c1 = _bbox(square)
    np.testing.assert_array_equal(r1 - r0 + 1, [10, 12, 14, 16, 18, 20])
    np.testing.assert_array_equal(c1 - c0 + 1, [10, 12, 14, 16, 18, 20])
    assert square.sum(axis=(1, 2)).tolist() == [100, 144, 196, 256, 324, 400]
    # Centred on pixel coordinate (15.5, 15.5).
    np.testing.assert_array_equal((r0 + r1) / 2, 15.5)
    np.testing.assert_array_equal((c0 + c1) / 2, 15.5)
    for shape, (small, large) in {1: ((12, 8, 76), (26, 14, 288)),
                                  2: ((10, 9, 58), (20, 17, 222))}.items():
        img = _images_at(data, [[shape, 0, 0, 0, 0], [shape, 5, 0, 0, 0]])
        r0, r1, c0, c1 = _bbox(img)
        assert (c1 - c0 + 1).tolist() == [small[0], large[0]]
        assert (r1 - r0 + 1).tolist() == [small[1], large[1]]
        assert img.sum(axis=(1, 2)).tolist() == [small[2], large[2]]


def test_foreground_over_all_orientations_matches_the_original(data):
    """Pixel counts at scale 1 over the 40 orientations, as measured on the
    original: square 364-400, ellipse 286-294, heart 220-228."""
    for shape, (low, high) in enumerate([(364, 400), (286, 294), (220, 228)]):
        k = np.arange(40)
        img = _images_at(data, np.stack([np.full(40, shape), np.full(40, 5), k,
                                         np.zeros(40, int), np.zeros(40, int)], -1))
        counts = img.sum(axis=(1, 2))
        assert low - 2 <= counts.min() and counts.max() <= high + 2, (shape, counts)


def test_heart_has_a_deep_wide_notch(data):
    square, heart = _images_at(data, [[0, 5, 0, 0, 0], [2, 5, 0, 0, 0]])
    assert 0.52 <= heart.sum() / square.sum() <= 0.60
    r0, r1, _, _ = _bbox(heart[None])
    runs = [np.count_nonzero(np.diff(np.r_[0, row.astype(int), 0]) == 1)
            for row in heart[r0[0] : r1[0] + 1]]
    # The two lobes are separate in the top 3 rows, then the heart is one
    # run down to its two-pixel point.
    assert runs[:3] == [2, 2, 2] and set(runs[3:]) == {1}
    widths = heart[r0[0] : r1[0] + 1].sum(axis=1)
    assert widths[-1] == 2
    # Straight sides: below the widest row the width shrinks 2 px a row.
    lower = widths[np.argmax(widths) + 3 :]
    assert set(np.diff(lower).tolist()) <= {-2, -4, 0}


def test_square_and_ellipse_rotate_about_their_centre(data):
    for shape in (0, 1):
        k = np.arange(40)
        img = _images_at(data, np.stack([np.full(40, shape), np.full(40, 5), k,
                                         np.full(40, 10), np.full(40, 20)], -1))
        rows, cols = np.indices((64, 64))
        count = img.sum(axis=(1, 2))
        center_x = (img * cols).sum(axis=(1, 2)) / count
        center_y = (img * rows).sum(axis=(1, 2)) / count
        np.testing.assert_allclose(center_x, sprites.pivot(10), atol=0.3)
        np.testing.assert_allclose(center_y, sprites.pivot(20), atol=0.3)


def test_rotation_is_counter_clockwise_as_displayed(data):
    ellipse = _images_at(data, [[1, 5, 4, 16, 16]])[0]  # about 37 degrees
    c = sprites.pivot(16)
    rows, cols = np.indices((64, 64))
    right = cols > c
    assert ellipse[right & (rows < c)].sum() > 2 * ellipse[right & (rows > c)].sum()


def test_position_maps_linspace_onto_32_pixels(data):
    base = np.array([2, 3, 7, 0, 0])
    moved = base + [0, 0, 0, 31, 0]
    a, b = _images_at(data, [base, moved])
    np.testing.assert_array_equal(np.roll(a, 32, axis=1), b)  # same phase
    cols = np.indices((64, 64))[1]
    x = [(img * cols).sum() / img.sum() for img in
         _images_at(data, [base + [0, 0, 0, k, 0] for k in range(32)])]
    # 32 / 31 pixels per class, in steps of 1 or 2 pixels.
    np.testing.assert_allclose(np.array(x) - x[0], 32 * np.arange(32) / 31, atol=0.5)
    down = _images_at(data, [base + [0, 0, 0, 0, 31]])[0]
    np.testing.assert_array_equal(np.roll(a, 32, axis=0), down)


def test_sprites_stay_inside_the_image(data):
    shape, orient, x, y = np.meshgrid(np.arange(3), np.arange(40), [0, 31], [0, 31],
                                      indexing="ij")
    classes = np.stack([shape, np.full_like(shape, 5), orient, x, y], -1).reshape(-1, 5)
    r0, r1, c0, c1 = _bbox(_images_at(data, classes))
    assert r0.min() >= 1 and c0.min() >= 1 and r1.max() <= 62 and c1.max() <= 62


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


def test_span_table_matches_brute_force_point_sampling():
    """The row-span renderer against testing every pixel centre directly."""
    geometry = sprites.GEOMETRY
    a, b = geometry.ellipse_semi_axes
    sx, sy = geometry.heart_scale
    t = 2 * np.pi * np.arange(geometry.heart_vertices) / geometry.heart_vertices
    heart = np.stack([sx * 16 * np.sin(t) ** 3,
                      sy * (13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t)
                            - np.cos(4 * t)) + geometry.heart_pivot_drop], 1)
    from matplotlib.path import Path

    data = DSprites()
    rng = np.random.default_rng(1)
    classes = np.stack([rng.integers(0, n, 60) for n in (3, 6, 40, 32, 32)], 1)
    rows, cols = np.indices((64, 64))
    for shape, scale, orient, px, py in classes:
        s = sprites.SCALES[scale]
        angle = np.remainder(sprites.ORIENTATIONS[orient], 2 * np.pi)
        x, up = cols - sprites.pivot(px), -(rows - sprites.pivot(py))
        u = (np.cos(angle) * x + np.sin(angle) * up) / s
        v = (-np.sin(angle) * x + np.cos(angle) * up) / s
        if shape == 0:
            inside = np.maximum(abs(u), abs(v)) <= geometry.square_side / 2
        elif shape == 1:
            inside = (u / a) ** 2 + (v / b) ** 2 <= 1
        else:
            inside = Path(heart).contains_points(np.stack([u.ravel(), v.ravel()], 1))
            inside = inside.reshape(64, 64)
        drawn = _images_at(data, [[shape, scale, orient, px, py]])[0]
        # Pixel centres within 1e-6 px of the outline may go either way.
        assert (drawn != inside).sum() <= 1, (shape, scale, orient, px, py)


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


# ------------------------------------------------------------------ caches
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


def test_cache_key_changes_with_the_geometry():
    table = sprites.span_table()
    key = _geometry_key(table)
    assert key == _geometry_key(table.copy())
    other = sprites.GEOMETRY._replace(square_side=sprites.GEOMETRY.square_side + 0.5)
    assert _geometry_key(sprites.build_span_table(other)) != key


@pytest.mark.slow
def test_dsprites_disk_cache_matches_rendering(data, tmp_path):
    cached = DSprites(cache_dir=tmp_path)
    assert os.path.basename(cached._cache.path) == (
        f"dsprites-{_geometry_key(sprites.span_table())}.bits")
    indices = np.random.default_rng(0).integers(0, N, size=5000)
    np.testing.assert_array_equal(cached.imgs(indices), data.imgs(indices))


# ------------------------------------------------------------- pipelines
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


# ------------------------------------------------------- the original file
# A small file in the format of dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz:
# the same keys and dtypes, classes (color, shape, scale, orientation, posX,
# posY) in row-major order with posY fastest, fewer classes per latent.
SMALL_SIZES = (1, 3, 2, 3, 2, 4)
# Classes of the full grid the small file's classes stand for.
SMALL_PICKS = ([0], [0, 1, 2], [1, 5], [0, 13, 26], [3, 30], [0, 9, 21, 31])


def _small_original(rng):
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in SMALL_SIZES], indexing="ij"),
                    -1).reshape(-1, 6).astype(np.int64)
    full = np.stack([np.asarray(p)[grid[:, i]] for i, p in enumerate(SMALL_PICKS)], 1)
    data = DSprites()
    values = data.classes_to_values(full).astype(np.float64)
    imgs = data.imgs(data.classes_to_index(full)).astype(np.uint8)
    # Some noise, so that a read of the wrong rows cannot pass.
    imgs[:, 0, :] = rng.integers(0, 2, size=(len(imgs), 64), dtype=np.uint8)
    return imgs, grid, values


def _write_npz(path, imgs, classes, values, compressed=False):
    metadata = np.array({"description": "test", "latents_sizes": np.array(SMALL_SIZES)},
                        dtype=object)
    save = np.savez_compressed if compressed else np.savez
    save(path, metadata=metadata, imgs=imgs, latents_classes=classes,
         latents_values=values)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    imgs, classes, values = _small_original(np.random.default_rng(0))
    folder = tmp_path_factory.mktemp("dsprites")
    path = folder / FILE_NAMES[0]
    _write_npz(path, imgs, classes, values)
    with zipfile.ZipFile(path) as z:  # stored uncompressed, as the original
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    return path, imgs, classes, values


def test_from_file_reads_the_original_format(small_file):
    path, imgs, classes, values = small_file
    data = DSprites.from_file(path)
    assert len(data) == len(imgs) == 144 and data.path == os.fspath(path)
    assert "read from" in repr(data)
    np.testing.assert_array_equal(data.latents_sizes, SMALL_SIZES)
    np.testing.assert_array_equal(data.latents_classes, classes)
    np.testing.assert_array_equal(data.latents_values, values)
    rng = np.random.default_rng(1)
    indices = rng.integers(0, len(imgs), size=(7, 9))  # unsorted, repeated
    np.testing.assert_array_equal(data.imgs(indices), imgs[indices])
    np.testing.assert_array_equal(data.imgs(np.arange(10, 40)), imgs[10:40])
    np.testing.assert_array_equal(data.index_to_classes(indices), classes[indices])
    np.testing.assert_array_equal(data.classes_to_values(classes[indices]),
                                  values[indices])
    grid = data.latents_possible_values
    np.testing.assert_allclose(grid["orientation"],
                               np.linspace(0, 2 * np.pi, 40)[SMALL_PICKS[3]])
    np.testing.assert_allclose(grid["posY"], np.linspace(0, 1, 32)[SMALL_PICKS[5]])
    assert data.factors_num_values == list(SMALL_SIZES[1:])
    factors, obs = data.sample(50, np.random.RandomState(0))
    assert (factors < np.array(SMALL_SIZES[1:])).all()
    np.testing.assert_array_equal(obs[..., 0], imgs[data.factors_to_index(factors)])


def test_load_reads_the_file_from_data_dir(small_file):
    path, imgs, classes, _ = small_file
    for data_dir in (path, path.parent):
        assert open_dsprites(data_dir).path == os.fspath(path)
        ds = load("dsprites", batch_size=50, shuffle=False, with_labels=True,
                  data_dir=data_dir)
        x, y = next(iter(ds))
        np.testing.assert_array_equal(x.numpy()[..., 0], imgs[:50])
        np.testing.assert_array_equal(y.numpy(), classes[:50, 1:])
    shuffled = load("dsprites", batch_size=144, seed=0, data_dir=path)
    x = next(iter(shuffled)).numpy()[..., 0].astype(np.uint8)
    assert sorted(map(bytes, x)) == sorted(map(bytes, imgs))


def test_from_compressed_npz(small_file, tmp_path):
    """An npz written with np.savez_compressed: images are decompressed once,
    in order, into a packed-bits copy, then read by index."""
    _, imgs, classes, values = small_file
    path = tmp_path / "data" / FILE_NAMES[0]
    path.parent.mkdir()
    _write_npz(path, imgs, classes, values, compressed=True)
    with zipfile.ZipFile(path) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    for cache_dir, folder in ((None, path.parent), (tmp_path / "bits", tmp_path / "bits")):
        data = DSprites.from_file(path, cache_dir=cache_dir)
        assert [p.suffix for p in folder.iterdir() if p.suffix == ".bits"] == [".bits"]
        indices = np.array([[143, 0, 7], [7, 7, 60]])
        np.testing.assert_array_equal(data.imgs(indices), imgs[indices])
        np.testing.assert_array_equal(data.latents_values, values)
        np.testing.assert_array_equal(data.latents_classes, classes)
        np.testing.assert_allclose(data.latents_possible_values["scale"],
                                   np.linspace(0.5, 1, 6)[SMALL_PICKS[2]])
    x = next(iter(load("dsprites", batch_size=144, shuffle=False, data_dir=path.parent)))
    np.testing.assert_array_equal(x.numpy()[..., 0], imgs)


def test_from_hdf5(small_file, tmp_path):
    h5py = pytest.importorskip("h5py")
    _, imgs, classes, values = small_file
    path = tmp_path / FILE_NAMES[1]
    with h5py.File(path, "w") as f:
        f.create_dataset("imgs", data=imgs, chunks=(8, 64, 64), compression="gzip")
        f.create_dataset("latents/classes", data=classes)
        f.create_dataset("latents/values", data=values)
    data = open_dsprites(tmp_path)
    assert data.path == os.fspath(path)
    indices = np.array([5, 3, 3, 140, 0])
    np.testing.assert_array_equal(data.imgs(indices), imgs[indices])
    np.testing.assert_array_equal(data.imgs(np.arange(20, 30)), imgs[20:30])
    np.testing.assert_array_equal(data.latents_values, values)


def test_bad_files_are_refused(small_file, tmp_path):
    _, imgs, classes, values = small_file
    with pytest.raises(FileNotFoundError, match="No dSprites file"):
        DSprites.from_file(tmp_path / "missing.npz")
    # posX fastest: not the published order.
    swapped = np.ascontiguousarray(classes[:, [0, 1, 2, 3, 5, 4]])
    _write_npz(tmp_path / "order.npz", imgs, swapped, values)
    with pytest.raises(ValueError, match="published order"):
        DSprites.from_file(tmp_path / "order.npz")
    _write_npz(tmp_path / "dtype.npz", imgs.astype(np.float32), classes, values)
    with pytest.raises(ValueError, match="'imgs'.*uint8"):
        DSprites.from_file(tmp_path / "dtype.npz")
    np.savez(tmp_path / "keys.npz", imgs=imgs, latents_classes=classes)
    with pytest.raises(ValueError, match=r"lacks the arrays \['latents_values'\]"):
        DSprites.from_file(tmp_path / "keys.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not an .npz"):
        DSprites.from_file(tmp_path / "text.npz")


def test_row_reader_refuses_a_truncated_file(tmp_path):
    path = tmp_path / "rows.bin"
    np.arange(40, dtype=np.int64).tofile(path)
    reader = RowReader(path, 16, np.int64, (4, 9))
    np.testing.assert_array_equal(reader.rows([3, 0]), np.arange(40)[2:38].reshape(4, 9)[[3, 0]])
    with pytest.raises(ValueError, match="truncated"):
        RowReader(path, 16, np.int64, (5, 9))
