"""Figures of keras_vae.plots: files, pixel sizes, row order, contents, errors.

An untrained tiny model is enough: the figures need no quality. The 8x8
digits are drawn with zoom 8 (64-pixel tiles) and 2-pixel gaps, so a grid of
c columns and r rows is `66 c + 2` by `66 r + 2` pixels; the figure adds
margins of 8 pixels, 130 on the left for row labels, 44 on top for a title
and 40 below for column labels.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from PIL import ImageSequence

from testing import tiny_model
from keras_vae import VAE
from keras_vae import plots


@pytest.fixture(scope="module")
def model():
    return tiny_model(VAE)


@pytest.fixture(scope="module")
def x(digits):
    return digits[0][:32]


def png_size(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()  # decodes the whole file
        return image.size  # (width, height)


def tile(fig, row, column, tile_px=64):
    """The uint8 pixels of one tile of a grid figure."""
    grid = np.asarray(fig.axes[0].images[0].get_array())
    top, left = 2 + row * (tile_px + 2), 2 + column * (tile_px + 2)
    return grid[top:top + tile_px, left:left + tile_px]


def as_tile(image, zoom=8):
    """A [0, 1] image as the uint8 tile the grid draws."""
    image = np.round(np.clip(image, 0, 1) * 255).astype(int)
    return image.repeat(zoom, axis=0).repeat(zoom, axis=1)[..., 0]


def row_labels(fig):
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


# === Ordering by KL ===


def test_dimensions_by_kl_orders_highest_first():
    # Per-dimension KL is 0.5 (mean^2 + exp(log_var) - 1 - log_var).
    z_mean = np.array([[0.0, 2.0, 0.0, 1.0, 0.0],
                       [0.0, 2.0, 0.0, -1.0, 0.0]])
    z_log_var = np.array([[0.0, 0.0, 0.0, 0.0, -2.0],
                          [0.0, 0.0, 0.0, 0.0, -2.0]])
    order, kl = plots.dimensions_by_kl(z_mean, z_log_var)
    np.testing.assert_allclose(kl, [0.0, 2.0, 0.0, 0.5, 0.5 * (np.exp(-2) + 1)],
                               rtol=1e-5, atol=1e-7)
    # Dims 1 (2.0), 4 (0.568), 3 (0.5), then the ties 0 and 2 by index.
    np.testing.assert_array_equal(order, [1, 4, 3, 0, 2])


def test_dimensions_by_kl_averages_over_inputs():
    # Dim 0 is large for one input only, dim 1 moderate for both.
    z_mean = np.array([[2.0, 1.0, 0.0, 0.0, 0.0],
                       [0.0, 1.0, 0.0, 0.0, 0.0]])
    order, kl = plots.dimensions_by_kl(z_mean, np.zeros_like(z_mean))
    np.testing.assert_allclose(kl, [1.0, 0.5, 0.0, 0.0, 0.0], rtol=1e-6)
    np.testing.assert_array_equal(order, [0, 1, 2, 3, 4])


# === Figures and files ===


def test_reconstruction_grid(model, x, tmp_path):
    path = tmp_path / "reconstructions.png"
    fig = plots.reconstruction_grid(model, x, path, n=12)
    assert isinstance(fig, Figure)
    # 8 columns; 12 inputs -> 2 pairs of rows.
    assert png_size(path) == (130 + 530 + 8, 44 + 266 + 8)
    assert row_labels(fig) == ["input", "reconstruction"] * 2
    assert fig.axes[0].images[0].get_cmap().name == "gray"
    reconstruction = model.reconstruct(x[:12])
    np.testing.assert_array_equal(tile(fig, 0, 3), as_tile(x[3]))
    np.testing.assert_array_equal(tile(fig, 2, 1), as_tile(x[9]))
    assert np.abs(tile(fig, 3, 1) - as_tile(reconstruction[9])).max() <= 1
    assert np.all(tile(fig, 3, 7) == 255)  # padding after the 12th input


def test_reconstruction_grid_uses_at_most_len_x(model, x):
    fig = plots.reconstruction_grid(model, x[:6], n=16)
    assert row_labels(fig) == ["input", "reconstruction"]
    # 6 columns (398 pixels of grid), one pair of rows.
    assert tuple(fig.canvas.get_width_height()) == (130 + 398 + 8, 44 + 134 + 8)


def test_sample_grid(model, tmp_path):
    path = tmp_path / "samples.png"
    fig = plots.sample_grid(model, path, n=20, seed=3)
    # 5 columns, 4 rows.
    assert png_size(path) == (8 + 332 + 8, 44 + 266 + 8)
    assert fig.texts[0].get_text() == "Prior samples (seed 3)"
    np.testing.assert_array_equal(tile(fig, 3, 4),
                                  as_tile(model.sample(20, seed=3)[19]))
    # 3 columns and 2 rows, widened to the minimum width so the title fits.
    fig = plots.sample_grid(model, n=6)
    assert tuple(fig.canvas.get_width_height()) == (320, 44 + 134 + 8)


def test_latent_traversal_png_gif_and_row_order(model, x, tmp_path):
    path, gif_path = tmp_path / "traversal.png", tmp_path / "traversal.gif"
    fig = plots.latent_traversal(model, x, path, num_steps=5, gif_path=gif_path)
    # 4 rows of 5 columns, row labels on the left, offsets below.
    assert png_size(path) == (130 + 332 + 8, 44 + 266 + 40)
    order, kl = plots.dimensions_by_kl(*model.encode(x))
    labels = row_labels(fig)
    assert [int(s.split(":")[0][1:]) for s in labels] == list(order)
    shown_kl = [float(s.split(":")[1].split()[0]) for s in labels]
    assert shown_kl == sorted(shown_kl, reverse=True)
    assert labels[0] == f"z{order[0]}: {kl[order[0]]:.2f} nats"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "-3.0", "-1.5", "+0.0", "+1.5", "+3.0"]
    with Image.open(gif_path) as gif:
        assert gif.format == "GIF"
        assert gif.size == (320, 44 + 266 + 8)  # one column of 4 rows
        assert sum(1 for _ in ImageSequence.Iterator(gif)) == 5


def test_latent_traversal_sweeps_one_dimension_around_the_mean(model, x):
    fig = plots.latent_traversal(model, x, num_steps=3, limit=2.0, dims=[3, 1])
    order, _ = plots.dimensions_by_kl(*model.encode(x))
    shown = [d for d in order if d in (1, 3)]
    assert [int(s.split(":")[0][1:]) for s in row_labels(fig)] == shown
    reference = model.reconstruct(x)[0]
    z = np.repeat(model.encode(x)[0][:1], 2, axis=0)
    z[np.arange(2), shown] += 2.0  # +limit on each row's dimension only
    swept = model.decode(z)
    for row in range(2):
        # The middle column is the reconstruction of x[0], the last column
        # the decode with +limit added to this row's dimension.
        assert np.abs(tile(fig, row, 1) - as_tile(reference)).max() <= 1
        assert np.abs(tile(fig, row, 2) - as_tile(swept[row])).max() <= 1
    top2 = plots.latent_traversal(model, x, num_steps=2, dims=2)
    assert len(row_labels(top2)) == 2


def test_latent_scatter(model, x, digits, tmp_path):
    labels = digits[1][:32]
    path = tmp_path / "scatter.png"
    names = [f"digit {i}" for i in range(10)]
    fig = plots.latent_scatter(model, x, labels, path, class_names=names)
    assert png_size(path) == (720, 560)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == names
    # latent_dim 4 > 2: the axes are the two dimensions of highest KL.
    z_mean, z_log_var = model.encode(x)
    order, _ = plots.dimensions_by_kl(z_mean, z_log_var)
    assert ax.get_xlabel().startswith(f"z{order[0]} ")
    assert ax.get_ylabel().startswith(f"z{order[1]} ")
    np.testing.assert_allclose(ax.collections[2].get_offsets(),
                               z_mean[labels == 2][:, order[:2]], rtol=1e-6)
    fig = plots.latent_scatter(model, x, labels, dims=(2, 0))
    assert fig.axes[0].get_xlabel().startswith("z2 ")
    assert fig.axes[0].get_legend().get_texts()[0].get_text() == "0"


def test_interpolation(model, x, tmp_path):
    path = tmp_path / "interpolation.png"
    fig = plots.interpolation(model, x[0], x[1:2], path, num_steps=4)
    # x_a, 4 decodes, x_b: 6 columns, one row.
    assert png_size(path) == (8 + 398 + 8, 44 + 68 + 40)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "x_a", "0.00", "0.33", "0.67", "1.00", "x_b"]
    np.testing.assert_array_equal(tile(fig, 0, 0), as_tile(x[0]))
    np.testing.assert_array_equal(tile(fig, 0, 5), as_tile(x[1]))
    reconstruction = model.reconstruct(x)
    assert np.abs(tile(fig, 0, 1) - as_tile(reconstruction[0])).max() <= 1
    assert np.abs(tile(fig, 0, 4) - as_tile(reconstruction[1])).max() <= 1


def test_rgb_images_are_drawn_in_colour(tmp_path):
    model = tiny_model(VAE, input_shape=(8, 8, 3))
    images = np.random.default_rng(0).uniform(size=(6, 8, 8, 3)).astype("float32")
    path = tmp_path / "rgb.png"
    fig = plots.reconstruction_grid(model, images, path)
    assert fig.axes[0].images[0].get_array().shape[-1] == 3
    assert png_size(path) == (130 + 398 + 8, 44 + 134 + 8)
    grid = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_array_equal(grid[2:66, 2:66],
                                  np.round(images[0] * 255).repeat(8, 0).repeat(8, 1))
    plots.latent_traversal(model, images, num_steps=2, gif_path=tmp_path / "rgb.gif")
    with Image.open(tmp_path / "rgb.gif") as gif:
        assert sum(1 for _ in ImageSequence.Iterator(gif)) == 2


# === Errors ===


BAD_CALLS = {
    "x not images": (lambda m, x, y: plots.reconstruction_grid(m, x[:, :, :, 0]),
                     r"`x` must be a non-empty batch .* Received: x.shape=\(32, 8, 8\)"),
    "x wrong size": (lambda m, x, y: plots.latent_scatter(m, x[:, :4], y),
                     r"Received: x.shape=\(32, 4, 8, 1\)"),
    "x empty": (lambda m, x, y: plots.latent_traversal(m, x[:0]),
                r"non-empty"),
    "n < 1": (lambda m, x, y: plots.sample_grid(m, n=0), r"Received: n=0"),
    "n < 1 reconstruction": (lambda m, x, y: plots.reconstruction_grid(m, x, n=0),
                             r"Received: n=0"),
    "num_steps < 2": (lambda m, x, y: plots.latent_traversal(m, x, num_steps=1),
                      r"Received: num_steps=1"),
    "interpolation num_steps < 2": (
        lambda m, x, y: plots.interpolation(m, x[0], x[1], num_steps=1),
        r"Received: num_steps=1"),
    "limit <= 0": (lambda m, x, y: plots.latent_traversal(m, x, limit=0.0),
                   r"Received: limit=0.0"),
    "labels mismatch": (lambda m, x, y: plots.latent_scatter(m, x, y[:10]),
                        r"one label per image of `x`, 32. Received: labels.shape=\(10,\)"),
    "scatter dims out of range": (lambda m, x, y: plots.latent_scatter(m, x, y, dims=(0, 4)),
                                  r"in \[0, 4\). Received: dims=\(0, 4\)"),
    "scatter dims repeated": (lambda m, x, y: plots.latent_scatter(m, x, y, dims=(1, 1)),
                              r"distinct"),
    "scatter three dims": (lambda m, x, y: plots.latent_scatter(m, x, y, dims=(0, 1, 2)),
                           r"exactly 2"),
    "traversal dims out of range": (lambda m, x, y: plots.latent_traversal(m, x, dims=[5]),
                                    r"Received: dims=\(5,\)"),
    "traversal dims count": (lambda m, x, y: plots.latent_traversal(m, x, dims=0),
                             r"as a count, must be in \[1, 4\]. Received: dims=0"),
    "class name missing": (lambda m, x, y: plots.latent_scatter(m, x, y, class_names=["a"]),
                           r"`class_names` has no name for label 1"),
    "interpolation batch": (lambda m, x, y: plots.interpolation(m, x[:2], x[2]),
                            r"`x_a` must be one image .* Received: x_a.shape=\(2, 8, 8, 1\)"),
    "png suffix": (lambda m, x, y: plots.sample_grid(m, "samples.pdf"),
                   r"ending in .png. Received: path='samples.pdf'"),
    "gif suffix": (lambda m, x, y: plots.latent_traversal(m, x, gif_path="t.png"),
                   r"ending in .gif"),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_input_raises(model, x, digits, call):
    fn, message = call
    with pytest.raises(ValueError, match=message):
        fn(model, x, digits[1][:32])


def fake_model(image_shape, latent_dim):
    """Enough of a model for the checks that run before any computation."""
    return SimpleNamespace(encode=None, decode=None, latent_dim=latent_dim,
                           image_shape=image_shape)


def test_bad_model_raises():
    with pytest.raises(TypeError, match="must be a keras-vae model"):
        plots.sample_grid(object())
    with pytest.raises(ValueError, match=r"1 \(grey\) or 3 \(RGB\) channels"):
        plots.sample_grid(fake_model((8, 8, 2), 4))
    with pytest.raises(ValueError, match="at least 2 latent dimensions"):
        plots.latent_scatter(fake_model((8, 8, 1), 1),
                             np.zeros((3, 8, 8, 1), "float32"), [0, 1, 2])


def test_learning_curve_draws_both_curves_and_the_kept_step(tmp_path):
    curve = [[100, 300.0, -280.0, 281.0], [200, 260.0, -255.5, None],
             [300, None, -250.25, 251.0], [400, 250.0, None, 249.0]]
    fig = plots.learning_curve(curve, tmp_path / "curve.png", best_step=200, title="run")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["held-out -ELBO"].get_xdata(), [100, 200, 300])
    np.testing.assert_array_equal(lines["held-out -ELBO"].get_ydata(), [280.0, 255.5, 250.25])
    np.testing.assert_array_equal(lines["training loss (epoch mean)"].get_ydata(),
                                  [300, 260, 250])
    np.testing.assert_array_equal(lines["held-out loss"].get_xdata(), [100, 300, 400])
    assert lines["kept: step 200"].get_xdata()[0] == 200
    assert Image.open(tmp_path / "curve.png").size == (640, 400)
    for bad in ([], [[1, 2]], "curve"):
        with pytest.raises((ValueError, TypeError), match="curve"):
            plots.learning_curve(bad)
