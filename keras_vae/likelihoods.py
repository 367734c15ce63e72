"""Decoder likelihoods p(x | z): the reconstruction term of the ELBO.

Maximising log p(x | z) with a Gaussian decoder is minimising the squared
error (MSE), with a Laplace decoder the absolute error (MAE); for binary or
[0, 1]-valued pixels a Bernoulli decoder gives the binary cross-entropy
(Kingma & Welling 2014, appendix C, for the Bernoulli and Gaussian decoders).
Each likelihood is a small Keras layer so that a learned scale is a weight
saved with the model.

Every `negative_log_likelihood` returns one value per example: the sum over
all pixels and channels of `-log p(x_i | decoder_output_i)`, in nats,
constants included, so that reconstruction + KL is the negative ELBO.
"""

import math

import keras
from keras import ops

from keras_vae import _validation

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _sum_per_example(values):
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


@keras.saving.register_keras_serializable(package="keras_vae")
class Bernoulli(keras.layers.Layer):
    """Bernoulli decoder: the decoder outputs logits.

    `-log p(x | l) = softplus(l) - x * l` per pixel (binary cross-entropy with
    logits, stable for any `l`). Targets must lie in [0, 1]; the mean image is
    `sigmoid(l)`.
    """

    name_ = "bernoulli"
    target_range = (0.0, 1.0)

    def negative_log_likelihood(self, x, decoder_output):
        logits = ops.convert_to_tensor(decoder_output)
        x = ops.cast(x, logits.dtype)
        return _sum_per_example(ops.softplus(logits) - x * logits)

    def mean(self, decoder_output):
        return ops.sigmoid(decoder_output)


class _LocationScale(keras.layers.Layer):
    """Shared base of the Gaussian and Laplace decoders.

    The decoder outputs the location; the scale is either fixed (`scale`) or a
    single learned scalar per model (`learn_scale=True`, initialised at
    `scale`), as in the sigma-VAE of Rybkin et al. 2021.
    """

    def __init__(self, scale=1.0, learn_scale=False, **kwargs):
        super().__init__(**kwargs)
        self.scale = _validation.check_float(
            "scale", scale, minimum=0.0, exclusive_minimum=True
        )
        self.learn_scale = _validation.check_bool("learn_scale", learn_scale)
        self.log_scale = self.add_weight(
            name="log_scale",
            shape=(),
            initializer=keras.initializers.Constant(math.log(self.scale)),
            trainable=learn_scale,
        )

    def mean(self, decoder_output):
        return decoder_output

    def negative_log_likelihood(self, x, decoder_output):
        loc = ops.convert_to_tensor(decoder_output)
        x = ops.cast(x, loc.dtype)
        log_scale = ops.cast(self.log_scale, loc.dtype)
        return _sum_per_example(self._nll(x, loc, log_scale))

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "learn_scale": self.learn_scale,
        }


@keras.saving.register_keras_serializable(package="keras_vae")
class Gaussian(_LocationScale):
    """Gaussian decoder N(x; mu, scale^2): squared error.

    `-log p(x | mu) = 0.5 * ((x - mu) / scale)^2 + log(scale) + 0.5 log(2 pi)`
    per pixel. With `scale=1` this is `0.5 * MSE * num_pixels` plus a
    constant. For images in [0, 1] a unit scale weighs reconstruction lightly
    against the KL; use a smaller `scale` (e.g. 0.1) or `learn_scale=True`.

    Args:
        scale: standard deviation (or its initial value when learned), > 0.
        learn_scale: learn one scalar log-scale with the model.
    """

    name_ = "gaussian"
    target_range = None

    def _nll(self, x, loc, log_scale):
        return (
            0.5 * ops.square((x - loc) * ops.exp(-log_scale))
            + log_scale
            + _HALF_LOG_2PI
        )


@keras.saving.register_keras_serializable(package="keras_vae")
class Laplace(_LocationScale):
    """Laplace decoder: absolute error.

    `-log p(x | mu) = |x - mu| / b + log(2 b)` per pixel, `b = scale`.

    Args:
        scale: the Laplace scale b (or its initial value when learned), > 0.
        learn_scale: learn one scalar log-scale with the model.
    """

    name_ = "laplace"
    target_range = None

    def _nll(self, x, loc, log_scale):
        return ops.abs(x - loc) * ops.exp(-log_scale) + log_scale + math.log(2.0)


LIKELIHOODS = {cls.name_: cls for cls in (Bernoulli, Gaussian, Laplace)}


def get(identifier):
    """Returns a likelihood layer from a name, a config dict or an instance."""
    if isinstance(identifier, (Bernoulli, _LocationScale)):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    name = _validation.check_choice("likelihood", identifier, LIKELIHOODS)
    return LIKELIHOODS[name](name=name)
