"""Encoder and decoder builders (lecture slides 9-10, 15).

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

Decoder upsampling (`upsampling=`): `"transpose"` (stride-2
`Conv2DTranspose`, the default) or `"resize"` (nearest-neighbour
`UpSampling2D` then a stride-1 convolution). The strided transposed
convolution was reported very slow to differentiate under JAX on CPU
(jax-ml/jax#23783), but measured here (keras 3.15, jax 0.10.2, 2 CPU cores)
it is faster than resize + conv on all three backends for both the 28x28 and
the 64x64 nets, since the resize variant convolves at the higher resolution;
`bench/train_throughput.py` measures both.

All layers have fixed names, so weights saved by one process (or backend) load
in another whatever else that process has built.
"""

import math

import keras
from keras import layers

from keras_vae import _validation

ARCHITECTURES = ("mlp", "conv", "disentanglement")
UPSAMPLING = ("resize", "transpose")

_DEFAULTS = {
    "mlp": {"hidden_units": (512, 256)},
    "conv": {"filters": (32, 64), "kernel_size": 3, "hidden_units": (256,)},
    "disentanglement": {
        "filters": (32, 32, 64, 64),
        "kernel_size": 4,
        "hidden_units": (256,),
    },
}


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
    allowed = set(_DEFAULTS[architecture]) | {"upsampling"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown network option(s) {unknown} for architecture="
            f"'{architecture}'. Expected a subset of {sorted(allowed)}. "
            f"Received: network_kwargs={options}"
        )
    merged = {**_DEFAULTS[architecture], **options}
    for key in ("filters", "hidden_units"):
        if key in merged:
            values = tuple(merged[key])
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
            "upsampling", merged.get("upsampling", "transpose"), UPSAMPLING
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
        for i, f in enumerate(opts["filters"]):
            h = layers.Conv2D(
                f,
                opts["kernel_size"],
                strides=2,
                padding="same",
                activation="relu",
                name=f"encoder_conv_{i}",
            )(h)
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
            (`"resize"` or `"transpose"`), see the module docstring.

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
                name=f"decoder_deconv_{i}",
            )(h)
        else:
            h = layers.UpSampling2D(2, name=f"decoder_upsample_{i}")(h)
            h = layers.Conv2D(
                f,
                opts["kernel_size"],
                padding="same",
                activation=activation,
                name=f"decoder_conv_{i}",
            )(h)
    extra_h, extra_w = start_h * factor - height, start_w * factor - width
    if extra_h or extra_w:
        h = layers.Cropping2D(
            ((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)),
            name="decoder_crop",
        )(h)
    outputs = layers.Identity(name="decoder_output")(h)
    return keras.Model(z, outputs, name="decoder")
