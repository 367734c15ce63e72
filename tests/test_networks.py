"""Encoder/decoder builders: shapes for any image size, names, errors."""

import keras
import numpy as np
import pytest

from testing import BACKEND
from keras_vae import networks


@pytest.mark.parametrize("shape", [(28, 28, 1), (8, 8, 1), (30, 17, 3)])
@pytest.mark.parametrize("upsampling", ["resize", "transpose", "subpixel"])
def test_conv_networks_round_trip_any_shape(shape, upsampling):
    enc = networks.build_encoder(shape, 5, "conv", filters=(4, 8), hidden_units=(16,))
    dec = networks.build_decoder(shape, 5, "conv", filters=(4, 8), hidden_units=(16,),
                                 upsampling=upsampling)
    assert [tuple(o.shape) for o in enc.outputs] == [(None, 5), (None, 5)]
    assert tuple(dec.output.shape) == (None,) + shape


def test_disentanglement_architecture_is_the_standard_net():
    enc = networks.build_encoder((64, 64, 1), 10, "disentanglement")
    convs = [l for l in enc.layers if l.name.startswith("encoder_conv")]
    assert [l.filters for l in convs] == [32, 32, 64, 64]
    assert all(l.kernel_size == (4, 4) and l.strides == (2, 2) for l in convs)
    assert enc.get_layer("encoder_dense_0").units == 256
    dec = networks.build_decoder((64, 64, 1), 10, "disentanglement", upsampling="transpose")
    deconvs = [l for l in dec.layers if l.name.startswith("decoder_deconv")]
    assert [l.filters for l in deconvs] == [64, 32, 32, 1]
    assert tuple(dec.output.shape) == (None, 64, 64, 1)


def test_default_upsampling_per_architecture():
    assert networks.resolve_options("conv")["upsampling"] == "transpose"
    assert networks.resolve_options("disentanglement")["upsampling"] == "subpixel"
    dec = networks.build_decoder((64, 64, 1), 10, "disentanglement")
    convs = [l for l in dec.layers if l.name.startswith("decoder_subpixel_conv")]
    # 4x the widths of the transposed convolutions, kernel ceil(4 / 2), stride 1.
    assert [l.filters for l in convs] == [256, 128, 128, 4]
    assert all(l.kernel_size == (2, 2) and l.strides == (1, 1) for l in convs)
    assert tuple(dec.output.shape) == (None, 64, 64, 1)



def test_architecture_defaults_are_public_and_keras_free():
    # The defaults every architecture resolves to without network_kwargs.
    for architecture in networks.ARCHITECTURES:
        defaults = networks.ARCHITECTURE_DEFAULTS[architecture]
        assert networks.resolve_options(architecture) == defaults
    assert set(networks.ARCHITECTURE_DEFAULTS) == set(networks.ARCHITECTURES)
    assert networks._DEFAULTS is networks.ARCHITECTURE_DEFAULTS
    # bench/ loads the module by file path before any Keras backend: it must
    # import nothing.
    import ast
    import keras_vae._network_defaults as module

    with open(module.__file__) as f:
        tree = ast.parse(f.read())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _transposed_kernel(kernel):
    """The Conv2DTranspose(F, 2k, strides=2, padding="same") kernel that a
    sub-pixel block's `(k, k, C, 4F)` kernel computes: output row j reads
    input row n through transposed tap j + (k - 1) - 2n and sub-pixel tap
    t = n - (j + crop) // 2 + k // 2 of phase (j + crop) % 2, where crop = 1
    for even k (and the same for columns)."""
    k, channels, filters = kernel.shape[0], kernel.shape[2], kernel.shape[3] // 4
    crop = 1 - k % 2

    def taps(j):  # (transposed tap, sub-pixel tap, phase) of output row/col j
        phase, row = (j + crop) % 2, (j + crop) // 2
        return [(j + k - 1 - 2 * n, n - row + k // 2, phase)
                for n in range(row - k // 2, row - k // 2 + k)]

    transposed = np.full((2 * k, 2 * k, filters, channels), np.nan, "float32")
    for jy in range(2):
        for jx in range(2):
            for ky, ty, py in taps(jy):
                for kx, tx, px in taps(jx):
                    channel = (2 * py + px) * filters
                    transposed[ky, kx] = kernel[ty, tx, :, channel:channel + filters].T
    assert not np.isnan(transposed).any()  # every transposed tap is used once
    return transposed


@pytest.mark.parametrize("kernel_size", [3, 4, 6])
def test_subpixel_upsampling_is_a_transposed_convolution(kernel_size):
    # The sub-pixel block (pad, stride-1 conv with k = ceil(kernel_size / 2)
    # and 4F filters, depth-to-space, crop) computes exactly Keras'
    # Conv2DTranspose(F, 2k, strides=2, padding="same") with the kernel
    # re-indexed (`_transposed_kernel`) and one bias per output phase.
    rng = np.random.default_rng(kernel_size)
    height, width, channels, filters = 5, 6, 3, 2
    k = -(-kernel_size // 2)
    crop = 1 - k % 2
    inputs = keras.Input((height, width, channels))
    block = keras.Model(inputs, networks._subpixel_upsample(
        inputs, filters, kernel_size, None, "channels_last", 0))
    kernel = rng.standard_normal((k, k, channels, 4 * filters)).astype("float32")
    bias = rng.standard_normal(4 * filters).astype("float32")
    block.get_layer("decoder_subpixel_conv_0").set_weights([kernel, bias])
    reference = keras.layers.Conv2DTranspose(filters, 2 * k, strides=2, padding="same",
                                             use_bias=False)
    reference.build((None, height, width, channels))
    reference.set_weights([_transposed_kernel(kernel)])

    x = rng.standard_normal((2, height, width, channels)).astype("float32")
    # Per-phase biases: the only difference from a transposed convolution.
    phase_bias = np.zeros((2 * height, 2 * width, filters), "float32")
    for py in range(2):
        for px in range(2):
            channel = (2 * py + px) * filters
            phase_bias[(py + crop) % 2::2, (px + crop) % 2::2] = bias[channel:channel + filters]
    expected = keras.ops.convert_to_numpy(reference(x)) + phase_bias
    np.testing.assert_allclose(keras.ops.convert_to_numpy(block(x)), expected,
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel_size", [4, 6])
def test_subpixel_decoder_is_the_transpose_decoder(kernel_size):
    # Whole decoders, on this backend's layout: the sub-pixel stack (with the
    # border-zeroing between blocks) equals the transposed one given the
    # re-indexed kernels and each phase's bias equal to the transposed bias.
    rng = np.random.default_rng(0)
    shape, options = (24, 24, 2), dict(filters=(3, 4, 5), kernel_size=kernel_size,
                                       hidden_units=(6,))
    sub = networks.build_decoder(shape, 3, "conv", upsampling="subpixel", **options)
    ref = networks.build_decoder(shape, 3, "conv", upsampling="transpose", **options)
    for name in ("decoder_dense_0", "decoder_projection"):
        weights = [rng.standard_normal(w.shape).astype("float32")
                   for w in sub.get_layer(name).get_weights()]
        sub.get_layer(name).set_weights(weights)
        ref.get_layer(name).set_weights(weights)
    for i in range(3):
        conv = sub.get_layer(f"decoder_subpixel_conv_{i}")
        kernel = 0.3 * rng.standard_normal(conv.kernel.shape).astype("float32")
        bias = rng.standard_normal(conv.kernel.shape[-1] // 4).astype("float32")
        conv.set_weights([kernel, np.tile(bias, 4)])
        ref.get_layer(f"decoder_deconv_{i}").set_weights([_transposed_kernel(kernel), bias])
    z = rng.standard_normal((4, 3)).astype("float32")
    out = keras.ops.convert_to_numpy(sub(z))
    np.testing.assert_allclose(out, keras.ops.convert_to_numpy(ref(z)), rtol=1e-4, atol=1e-4)
    assert np.abs(out).max() > 0.1  # not a trivially zero output


def test_subpixel_initializer_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"`in_channels` must be an integer >= 1.*in_channels=0"):
        networks.subpixel_initializer(0, 4)
    with pytest.raises(TypeError, match=r"`filters` must be an integer.*filters=2.5"):
        networks.subpixel_initializer(3, 2.5)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_zero_border_is_crop_then_pad(data_format):
    x = np.random.default_rng(0).standard_normal((2, 5, 4, 3)).astype("float32")
    expected = np.zeros_like(x)
    expected[:, 1:-1, 1:-1] = x[:, 1:-1, 1:-1]
    if data_format == "channels_first":
        x, expected = x.transpose(0, 3, 1, 2), expected.transpose(0, 3, 1, 2)
    layer = networks.ZeroBorder(data_format=data_format)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), expected)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, networks.ZeroBorder) and clone.data_format == data_format
    with pytest.raises(ValueError, match=r"spatial sizes of at least 3.*Received: input_shape"):
        networks.ZeroBorder()(np.zeros((1, 2, 5, 1), "float32"))
    with pytest.raises(ValueError, match="data_format"):
        networks.ZeroBorder(data_format="nhwc")


def test_subpixel_kernels_start_with_the_transposed_convolutions_variance():
    # Each sub-pixel kernel weight is drawn like a weight of the stride-2
    # transposed convolution with kernel 2k it replaces: glorot-uniform with
    # fan_in + fan_out = (2k)^2 (in + filters), i.e. U(-limit, limit) with
    # limit = sqrt(6 / ((2k)^2 (in + filters))). Plain glorot would use
    # k^2 (in + 4 filters) (3.7x the variance on the last layer below).
    keras.utils.set_random_seed(0)
    dec = networks.build_decoder((64, 64, 1), 10, "disentanglement")
    convs = [l for l in dec.layers if l.name.startswith("decoder_subpixel_conv")]
    in_channels = [64, 64, 32, 32]
    for layer, c_in in zip(convs, in_channels):
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        k, f = kernel.shape[0], kernel.shape[-1] // 4
        assert kernel.shape == (k, k, c_in, 4 * f)
        limit = np.sqrt(6.0 / ((2 * k) ** 2 * (c_in + f)))
        assert np.abs(kernel).max() <= limit * (1 + 1e-6), layer.name
        # >= 512 uniform draws: the largest is above 0.9 * limit unless the
        # scale is wrong (probability 0.9 ** 512 ~ 1e-23 otherwise).
        assert np.abs(kernel).max() > 0.9 * limit, layer.name
        np.testing.assert_allclose(kernel.var(), limit ** 2 / 3, rtol=0.15)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_depth_to_space_matches_numpy_reference(data_format):
    rng = np.random.default_rng(0)
    h, w, f = 3, 5, 2
    x = rng.standard_normal((2, h, w, 4 * f)).astype("float32")
    expected = np.zeros((2, 2 * h, 2 * w, f), "float32")
    for dy in range(2):
        for dx in range(2):
            for c in range(f):
                expected[:, dy::2, dx::2, c] = x[..., (2 * dy + dx) * f + c]
    inputs = keras.Input((h, w, 4 * f))
    t = networks._to_layout(inputs, data_format, "in")
    t = networks._depth_to_space(t, f, data_format, "d2s")
    model = keras.Model(inputs, networks._from_layout(t, data_format, "out"))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), expected)


def test_torch_runs_the_conv_stacks_channels_first():
    expected = "channels_first" if BACKEND == "torch" else "channels_last"
    enc = networks.build_encoder((28, 28, 1), 4, "conv")
    dec = networks.build_decoder((28, 28, 1), 4, "conv")
    convs = [l for l in enc.layers + dec.layers if "conv" in l.name]
    assert convs and {l.data_format for l in convs} == {expected}
    assert tuple(enc.input.shape) == (None, 28, 28, 1)  # images stay (H, W, C)
    assert tuple(dec.output.shape) == (None, 28, 28, 1)


@pytest.mark.skipif(BACKEND == "tensorflow",
                    reason="TensorFlow's CPU convolutions support only channels-last")
@pytest.mark.parametrize("architecture, shape, upsampling", [
    ("conv", (28, 28, 1), "transpose"),
    ("conv", (27, 30, 3), "subpixel"),
    ("conv", (13, 13, 2), "resize"),
])
def test_layouts_give_the_same_outputs_with_the_same_weights(
        monkeypatch, architecture, shape, upsampling):
    rng = np.random.default_rng(1)
    x = rng.random((2,) + shape).astype("float32")
    z = rng.standard_normal((2, 3)).astype("float32")
    outputs = {}
    for data_format in ("channels_last", "channels_first"):
        monkeypatch.setattr(networks, "_data_format", lambda: data_format)
        kwargs = dict(filters=(4, 8), hidden_units=(16,))
        enc = networks.build_encoder(shape, 3, architecture, **kwargs)
        dec = networks.build_decoder(shape, 3, architecture, upsampling=upsampling, **kwargs)
        if data_format == "channels_last":
            weights = enc.get_weights(), dec.get_weights()
        else:
            enc.set_weights(weights[0])
            dec.set_weights(weights[1])
        outputs[data_format] = [keras.ops.convert_to_numpy(t) for t in (*enc(x), dec(z))]
    for a, b in zip(outputs["channels_last"], outputs["channels_first"]):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_mlp_networks_and_fixed_layer_names():
    enc = networks.build_encoder((8, 8, 1), 3, "mlp", hidden_units=(32, 16))
    dec = networks.build_decoder((8, 8, 1), 3, "mlp", hidden_units=(32, 16))
    assert [l.name for l in enc.layers][1:] == [
        "encoder_flatten", "encoder_dense_0", "encoder_dense_1", "z_mean", "z_log_var"]
    assert dec.get_layer("decoder_dense_0").units == 16  # mirrored
    assert tuple(dec.output.shape) == (None, 8, 8, 1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(architecture="resnet"), ValueError, "architecture"),
        (dict(latent_dim=0), ValueError, "latent_dim"),
        (dict(latent_dim=2.5), TypeError, "latent_dim"),
        (dict(input_shape=(28, 28)), ValueError, "input_shape"),
        (dict(filters=()), ValueError, "filters"),
        (dict(filters=(8, -1)), ValueError, "filters"),
        (dict(dropout=0.1), ValueError, "dropout"),
        (dict(upsampling="bilinear"), ValueError, "upsampling"),
        (dict(architecture="mlp", upsampling="resize"), ValueError, "upsampling"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    args = dict(input_shape=(8, 8, 1), latent_dim=2, architecture="conv")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        networks.build_decoder(**args)
