"""Encoder and decoder builders (Kingma & Welling 2014, appendix C).

Every builder returns a functional `keras.Model`:

- an encoder maps images `(H, W, C)` to `[z_mean, z_log_var]`, each
  `(latent_dim,)`;
- a decoder maps `z` `(latent_dim,)` to the decoder output `(H, W, C)`, the
  raw parameter of the likelihood (logits for Bernoulli, the mean for
  Gaussian and Laplace), with no output activation.

Architectures (`architecture=`):

- `"mlp"`: Flatten, Dense layers (`hidden_units`, default (512, 256)), ReLU.
- `"conv"`: strided 2-D convolutions (`filters`, default (32, 64), kernel 3,
  stride 2, ReLU), Dense `hidden_units` (default (256,)), mirrored decoder.
  Works for any image size: the decoder upsamples to the next multiple of
  `2**len(filters)` and crops.
- `"disentanglement"`: the standard net of the disentanglement literature for
  64x64 inputs (Higgins et al. 2017; Burgess et al. 2018; Locatello et al.
  2019): conv 32-32-64-64, kernel 4, stride 2, Dense 256, mirrored decoder.

Decoder upsampling (`upsampling=`), each doubling the resolution per layer:

- `"transpose"`: a stride-2 `Conv2DTranspose` (default of `"conv"`);
- `"subpixel"`: a sub-pixel convolution (Shi et al. 2016) at the input
  resolution: zero padding, a stride-1 `Conv2D` with 4x the filters and
  kernel `ceil(kernel_size / 2)`, depth-to-space, and a 1-pixel crop
  (`_subpixel_upsample`). It computes exactly a stride-2 `Conv2DTranspose`
  with kernel `2 * ceil(kernel_size / 2)` (re-indexed kernel, one bias per
  output phase) and starts from its initial variance
  (`subpixel_initializer`), but runs only stride-1 convolutions, whose
  gradients XLA:CPU computes quickly (the strided transposed convolution's
  kernel gradient is very slow there, jax-ml/jax#23783); default of
  `"disentanglement"`;
- `"resize"`: nearest-neighbour `UpSampling2D` then a stride-1 convolution
  (four times the decoder convolution work; slower on every backend).

`bench/RESULTS.md` has the measurements behind these defaults (speed on each
backend and test ELBO at equal steps).

Memory layout: on the torch backend the convolution stack runs channels-first
(NCHW, PyTorch's native layout; Keras' torch backend otherwise permutes every
convolution's input and output), with a `Permute` at each end; images and
codes stay `(H, W, C)`, and the weights are identical in both layouts, so
weights saved on one backend load on any other.

All layers have fixed names, so weights saved by one process (or backend) load
in another whatever else that process has built.
"""

import math

import keras
import numpy as np
from keras import layers

from keras_vae import _validation
from keras_vae._network_defaults import ARCHITECTURE_DEFAULTS

ARCHITECTURES = ("mlp", "conv", "disentanglement")
UPSAMPLING = ("resize", "transpose", "subpixel")

# The per-architecture defaults live in a module that imports nothing, so
# that tools which must not import Keras (bench/) can read them.
_DEFAULTS = ARCHITECTURE_DEFAULTS  # the former private name


def resolve_options(architecture, options=None):
    """The architecture's full options: its defaults updated with `options`.

    Models save these in their config, so a saved model rebuilds the same
    network even if a default changes later.
    """
    return _options(architecture, options)[1]


def _options(architecture, options):
    architecture = _validation.check_choice(
        "architecture", architecture, ARCHITECTURES
    )
    options = dict(options or {})
    allowed = set(ARCHITECTURE_DEFAULTS[architecture]) | {"upsampling"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown network option(s) {unknown} for architecture="
            f"'{architecture}'. Expected a subset of {sorted(allowed)}. "
            f"Received: network_kwargs={options}"
        )
    merged = {**ARCHITECTURE_DEFAULTS[architecture], **options}
    for key in ("filters", "hidden_units"):
        if key in merged:
            values = _validation.check_sequence(key, merged[key])
            for v in values:
                _validation.check_int(key, v, minimum=1)
            merged[key] = values
    if "kernel_size" in merged:
        _validation.check_int("kernel_size", merged["kernel_size"], minimum=1)
    if architecture != "mlp":
        if not merged["filters"]:
            raise ValueError(
                "Argument `filters` must hold at least one layer width for a "
                f"conv architecture. Received: filters={merged['filters']}"
            )
        merged["upsampling"] = _validation.check_choice(
            "upsampling", merged["upsampling"], UPSAMPLING
        )
    elif "upsampling" in options:
        raise ValueError(
            "Argument `upsampling` only applies to conv architectures. "
            f"Received: upsampling={options['upsampling']!r} with "
            "architecture='mlp'"
        )
    return architecture, merged


def build_encoder(input_shape, latent_dim, architecture="conv", **options):
    """Builds an encoder `x -> [z_mean, z_log_var]`.

    Args:
        input_shape: image shape `(H, W, C)`.
        latent_dim: size of the latent code, >= 1.
        architecture: `"mlp"`, `"conv"` or `"disentanglement"`.
        **options: `hidden_units`, `filters`, `kernel_size` overriding the
            architecture's defaults (see the module docstring).

    Returns:
        A functional `keras.Model` named `"encoder"`.
    """
    input_shape = _validation.check_image_shape("input_shape", input_shape)
    latent_dim = _validation.check_int("latent_dim", latent_dim, minimum=1)
    architecture, opts = _options(architecture, options)

    inputs = keras.Input(shape=input_shape, name="image")
    h = inputs
    if architecture != "mlp":
        data_format = _data_format()
        h = _to_layout(h, data_format, "encoder_to_nchw")
        for i, f in enumerate(opts["filters"]):
            h = layers.Conv2D(
                f,
                opts["kernel_size"],
                strides=2,
                padding="same",
                activation="relu",
                data_format=data_format,
                name=f"encoder_conv_{i}",
            )(h)
        h = _from_layout(h, data_format, "encoder_to_nhwc")
    h = layers.Flatten(name="encoder_flatten")(h)
    for i, units in enumerate(opts["hidden_units"]):
        h = layers.Dense(units, activation="relu", name=f"encoder_dense_{i}")(h)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(inputs, [z_mean, z_log_var], name="encoder")


def build_decoder(input_shape, latent_dim, architecture="conv", **options):
    """Builds a decoder `z -> decoder output` of shape `input_shape`.

    Args:
        input_shape: image shape `(H, W, C)` of the output.
        latent_dim: size of the latent code, >= 1.
        architecture: `"mlp"`, `"conv"` or `"disentanglement"`.
        **options: `hidden_units`, `filters`, `kernel_size`, `upsampling`
            (`"transpose"`, `"subpixel"` or `"resize"`), see the module docstring.

    Returns:
        A functional `keras.Model` named `"decoder"`.
    """
    input_shape = _validation.check_image_shape("input_shape", input_shape)
    latent_dim = _validation.check_int("latent_dim", latent_dim, minimum=1)
    architecture, opts = _options(architecture, options)
    height, width, channels = input_shape

    z = keras.Input(shape=(latent_dim,), name="z")
    h = z
    for i, units in enumerate(reversed(opts["hidden_units"])):
        h = layers.Dense(units, activation="relu", name=f"decoder_dense_{i}")(h)

    if architecture == "mlp":
        h = layers.Dense(height * width * channels, name="decoder_output_dense")(h)
        outputs = layers.Reshape(input_shape, name="decoder_output")(h)
        return keras.Model(z, outputs, name="decoder")

    filters = opts["filters"]
    factor = 2 ** len(filters)
    start_h, start_w = math.ceil(height / factor), math.ceil(width / factor)
    h = layers.Dense(
        start_h * start_w * filters[-1], activation="relu", name="decoder_projection"
    )(h)
    h = layers.Reshape((start_h, start_w, filters[-1]), name="decoder_reshape")(h)
    data_format = _data_format()
    h = _to_layout(h, data_format, "decoder_to_nchw")
    # Mirror of the encoder: widths filters[-2], ..., filters[0], then channels.
    widths = list(reversed(filters[:-1])) + [channels]
    for i, f in enumerate(widths):
        last = i == len(widths) - 1
        activation = None if last else "relu"
        if opts["upsampling"] == "transpose":
            h = layers.Conv2DTranspose(
                f,
                opts["kernel_size"],
                strides=2,
                padding="same",
                activation=activation,
                data_format=data_format,
                name=f"decoder_deconv_{i}",
            )(h)
        elif opts["upsampling"] == "subpixel":
            # Between two sub-pixel blocks, the first one's crop and the
            # next one's zero padding are one border-zeroing (same values).
            h = _subpixel_upsample(h, f, opts["kernel_size"], activation, data_format, i,
                                   padded=i > 0, last=last)
        else:
            h = layers.UpSampling2D(
                2, data_format=data_format, name=f"decoder_upsample_{i}"
            )(h)
            h = layers.Conv2D(
                f,
                opts["kernel_size"],
                padding="same",
                activation=activation,
                data_format=data_format,
                name=f"decoder_conv_{i}",
            )(h)
    extra_h, extra_w = start_h * factor - height, start_w * factor - width
    if extra_h or extra_w:
        h = layers.Cropping2D(
            ((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)),
            data_format=data_format,
            name="decoder_crop",
        )(h)
    h = _from_layout(h, data_format, "decoder_to_nhwc")
    outputs = layers.Identity(name="decoder_output")(h)
    return keras.Model(z, outputs, name="decoder")


def subpixel_initializer(in_channels, filters):
    """Glorot-uniform scaled to the stride-2 transposed convolution it replaces.

    A sub-pixel convolution with kernel `k` and `4 * filters` outputs computes
    what a stride-2 transposed convolution with kernel `2k` and `filters`
    outputs does (`_subpixel_upsample`), but Keras' `glorot_uniform` draws
    their kernels with different variances, `2 / (fan_in + fan_out)` with
    `k^2 (in + 4 filters)` for the sub-pixel kernel against
    `4 k^2 (in + filters)` for the transposed one, larger by the factor
    `4 (in + filters) / (in + 4 filters)` (largest for few output channels).
    With that larger start more seeds of the sub-pixel decoder stayed on the
    "background only" plateau of dSprites (`bench/decoder_robustness.py`;
    the numbers are in `bench/RESULTS.md`). This
    initializer gives every sub-pixel kernel weight the transposed
    convolution's glorot variance, `scale = (in + 4 filters) / (4 (in +
    filters))` in `VarianceScaling(mode="fan_avg", distribution="uniform")`.
    """
    in_channels = _validation.check_int("in_channels", in_channels, minimum=1)
    filters = _validation.check_int("filters", filters, minimum=1)
    scale = (in_channels + 4 * filters) / (4 * (in_channels + filters))
    return keras.initializers.VarianceScaling(
        scale=scale, mode="fan_avg", distribution="uniform"
    )


def _data_format():
    """The layout the convolution stacks run in on the current backend.

    channels-first on torch (its native layout: Keras' torch convolutions
    otherwise permute to NCHW and back around every layer; see
    `bench/RESULTS.md`), channels-last elsewhere (TensorFlow's CPU convolutions
    support only NHWC, XLA prefers it).
    """
    if keras.backend.backend() == "torch":
        return "channels_first"
    return "channels_last"


def _to_layout(h, data_format, name):
    if data_format == "channels_first":
        return layers.Permute((3, 1, 2), name=name)(h)
    return h


def _from_layout(h, data_format, name):
    if data_format == "channels_first":
        return layers.Permute((2, 3, 1), name=name)(h)
    return h


def _subpixel_upsample(h, filters, kernel_size, activation, data_format, i,
                       padded=False, last=True):
    """Sub-pixel upsampling block, exactly a stride-2 transposed convolution.

    With `k = ceil(kernel_size / 2)`: zero-pad `k // 2` pixels on every side,
    a stride-1 "valid" `Conv2D` with `4 * filters` outputs, depth-to-space,
    and, for even `k`, a crop of 1 pixel on every side. This computes what
    `Conv2DTranspose(filters, 2k, strides=2, padding="same")` computes, with
    a re-indexed kernel and one bias per output phase (tested against it in
    `tests/test_networks.py`). A plain "same" convolution (0 pixels before,
    1 after, for even k) would read input rows `m, m + 1` for both output
    phases where the transposed convolution reads `m - 1, m` for the even
    one: a one-pixel shift per layer (15 pixels over the 64x64 decoder),
    which trained measurably worse on dSprites (`bench/RESULTS.md`).

    In a stack of blocks with `k == 2`, a block followed by another
    (`last=False`) zeroes its 1-pixel border instead of cropping it, and the
    next block (`padded=True`) takes that as its padded input: the same
    values as crop-then-pad, with one elementwise op instead of two copies
    on tensorflow and torch (measured in `bench/RESULTS.md`).
    """
    k = math.ceil(kernel_size / 2)
    chain = k == 2  # crop 1 then pad 1 == zero the border
    channel_axis = 1 if data_format == "channels_first" else -1
    in_channels = h.shape[channel_axis]
    if k // 2 and not (chain and padded):
        h = layers.ZeroPadding2D(
            k // 2, data_format=data_format, name=f"decoder_subpixel_pad_{i}"
        )(h)
    h = layers.Conv2D(
        4 * filters,
        k,
        padding="valid",
        activation=activation,
        kernel_initializer=subpixel_initializer(in_channels, filters),
        data_format=data_format,
        name=f"decoder_subpixel_conv_{i}",
    )(h)
    h = _depth_to_space(h, filters, data_format, f"decoder_depth_to_space_{i}")
    if chain and not last:
        h = ZeroBorder(data_format=data_format, name=f"decoder_subpixel_border_{i}")(h)
    elif k % 2 == 0:
        h = layers.Cropping2D(
            1, data_format=data_format, name=f"decoder_subpixel_crop_{i}"
        )(h)
    return h


@keras.saving.register_keras_serializable(package="keras_vae")
class ZeroBorder(layers.Layer):
    """Sets the outermost row and column on each side of an image to zero.

    `ZeroBorder()(x) == ZeroPadding2D(1)(Cropping2D(1)(x))`: one
    elementwise multiplication by a constant 0/1 mask on tensorflow and
    torch, the crop and pad themselves on JAX (where XLA folds them into the
    neighbouring convolutions). Used between the sub-pixel blocks of a
    decoder (`_subpixel_upsample`).
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _validation.check_choice(
            "data_format", data_format or keras.config.image_data_format(),
            ("channels_last", "channels_first"))

    def build(self, input_shape):
        axes = (2, 3) if self.data_format == "channels_first" else (1, 2)
        height, width = input_shape[axes[0]], input_shape[axes[1]]
        if height is None or width is None or height < 3 or width < 3:
            raise ValueError(
                "ZeroBorder needs known spatial sizes of at least 3. "
                f"Received: input_shape={input_shape}"
            )
        mask = np.zeros((height, width), "float32")
        mask[1:-1, 1:-1] = 1.0
        shape = [1, 1, 1, 1]
        shape[axes[0]], shape[axes[1]] = height, width
        # numpy, not a backend tensor: a tensor made here would belong to
        # whatever tf.function first built the layer.
        self._mask = mask.reshape(shape)

    def call(self, inputs):
        if keras.backend.backend() == "jax":
            # XLA folds a crop and a zero pad into the neighbouring
            # convolutions; the mask multiplication it does not (JAX is
            # slower with the mask: bench/RESULTS.md).
            if self.data_format == "channels_first":
                inner = inputs[:, :, 1:-1, 1:-1]
                pads = ((0, 0), (0, 0), (1, 1), (1, 1))
            else:
                inner = inputs[:, 1:-1, 1:-1, :]
                pads = ((0, 0), (1, 1), (1, 1), (0, 0))
            return keras.ops.pad(inner, pads)
        return inputs * keras.ops.convert_to_tensor(self._mask, dtype=inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


def _depth_to_space(h, filters, data_format, name):
    """`(h, w, 4f) -> (2h, 2w, f)`; channel `(2 * dy + dx) * f + c` goes to
    pixel `(2 * row + dy, 2 * col + dx)`, channel `c`, in either layout (so
    the weights mean the same in both).

    Channels-first (torch) works on the channels-last view of the tensor:
    torch's CPU convolutions keep their activations in channels-last memory
    (`torch.channels_last`), where the permute to NHWC and the split are free
    and the interleave is the one copy, and the result stays channels-last
    for the next convolution. Done on the NCHW view, it would make two
    copies and hand the rest of the decoder contiguous NCHW tensors, which
    run slower (`bench/RESULTS.md`).
    """
    if data_format == "channels_first":
        _, height, width = h.shape[1:]
        h = layers.Permute((2, 3, 1), name=name + "_to_nhwc")(h)
        h = _depth_to_space(h, filters, "channels_last", name + "_nhwc")
        return layers.Permute((3, 1, 2), name=name)(h)
    height, width, _ = h.shape[1:]
    h = layers.Reshape((height, width, 2, 2, filters), name=name + "_split")(h)
    h = layers.Permute((1, 3, 2, 4, 5), name=name + "_interleave")(h)
    return layers.Reshape((2 * height, 2 * width, filters), name=name)(h)
