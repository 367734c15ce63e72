"""Encoder/decoder builders: shapes for any image size, names, errors."""

import pytest

from keras_vae import networks


@pytest.mark.parametrize("shape", [(28, 28, 1), (8, 8, 1), (30, 17, 3)])
@pytest.mark.parametrize("upsampling", ["resize", "transpose"])
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
