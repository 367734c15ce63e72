"""Encoder/decoder builders: shapes for any image size, names, errors."""

import keras
import numpy as np
import pytest

from conftest import BACKEND
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
