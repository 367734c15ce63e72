"""Likelihood evaluation of a trained VAE on a dataset.

* `evaluate_elbo`: the ELBO in nats per example and its reconstruction and
  KL parts (Kingma & Welling 2014, eq. 3).
* `iwae_bound`: the importance-weighted bound on log p(x) with k samples
  (Burda et al. 2016, eq. 8), tighter than the ELBO and increasing in k.
* `reconstruction_error`: the error of reconstructions from the posterior
  mean.
* `kl_per_dimension`, `unit_activity`, `active_units`: how the KL is spread
  over the latent dimensions and which of them are used (Burda et al. 2016,
  section 5.2).

Every function takes a keras-vae model and images as a numpy array or a
`tf.data.Dataset`, evaluates them batch by batch with the model's own
`encoder`, `decoder` and `likelihood`, and the densities of
`keras_vae.divergences`, on any backend. Sampling noise comes from numpy's
generator with `seed`, so a result is reproducible, and the same on every
backend up to float rounding.
"""

import functools
import math
import sys

import keras
import numpy as np
from keras import ops

from keras_vae import _compile
from keras_vae import _validation
from keras_vae import distribute
from keras_vae import divergences
from keras_vae.evaluation._sampling import to_float64 as _numpy


# === ELBO and IWAE ===


def evaluate_elbo(model, data, batch_size=256, num_samples=1, seed=0):
    """Mean ELBO of a dataset, in nats per example.

    `ELBO(x) = E_q(z|x)[log p(x | z)] - KL(q(z | x) || N(0, I))` (Kingma &
    Welling 2014, eq. 3), with the expectation estimated from `num_samples`
    reparameterized draws per example and the KL in closed form
    (`divergences.gaussian_kl`), as in the models' training loss.

    Args:
        model: a keras-vae model (`encoder`, `decoder`, `likelihood`).
        data: images `(N, H, W, C)` as a numpy array, or a `tf.data.Dataset`
            of images (batched or not).
        batch_size: int >= 1, examples per batch (numpy input, or an
            unbatched dataset).
        num_samples: int >= 1, draws of z per example.
        seed: int seed of the draws.

    Returns:
        Dict of Python floats: `elbo`, `reconstruction_loss` (the mean of
        `-log p(x | z)`) and `kl_loss`, with `elbo = -(reconstruction_loss +
        kl_loss)`.
    """
    batch_size = _validation.check_int("batch_size", batch_size, minimum=1)
    num_samples = _validation.check_int("num_samples", num_samples, minimum=1)
    rng = _rng(seed)
    total_recon = total_kl = 0.0
    count = 0
    for x, n in padded_batches(model, data, batch_size):
        z_mean, z_log_var = _encode(model, x)
        eps = rng.standard_normal((num_samples,) + z_mean.shape).astype("float32")
        log_px, _ = _sample_log_terms(model, x, z_mean, z_log_var, eps)
        total_recon -= float(np.sum(np.mean(log_px[:, :n], axis=0)))
        kl = _numpy(divergences.gaussian_kl(z_mean, z_log_var))
        total_kl += float(np.sum(kl[:n]))
        count += n
    _check_not_empty(count)
    recon, kl = total_recon / count, total_kl / count
    return {"elbo": -(recon + kl), "reconstruction_loss": recon, "kl_loss": kl}


def iwae_bound(model, data, num_samples=1000, batch_size=64,
               samples_per_chunk=None, seed=0, return_per_example=False):
    """Importance-weighted lower bound on log p(x) (Burda et al. 2016, eq. 8).

    `L_k(x) = log 1/k sum_{i=1}^k p(x | z_i) p(z_i) / q(z_i | x)` with
    `z_i ~ q(z | x)`. `E[L_1]` is the ELBO, `E[L_k] <= E[L_{k+1}] <= log p(x)`
    (Burda et al., theorem 1) and `L_k -> log p(x)` as k grows, so with
    k = 1000 it is the usual estimate of a VAE's test log-likelihood.

    The log-weights `log p(x|z) - (log q(z|x) - log p(z))` use the model's
    `likelihood.negative_log_likelihood` and `divergences.monte_carlo_kl`.
    The k samples are drawn and decoded `samples_per_chunk` at a time for
    `batch_size` examples, and the chunks are combined with a running
    log-sum-exp, so memory holds `batch_size * samples_per_chunk` decoded
    images whatever k is.

    Args:
        model: a keras-vae model.
        data: images as a numpy array or a `tf.data.Dataset`.
        num_samples: k, int >= 1.
        batch_size: int >= 1, examples per batch.
        samples_per_chunk: int >= 1, samples decoded per example at once;
            default `max(1, 4096 // batch_size)`.
        seed: int seed of the draws.
        return_per_example: return the per-example bounds instead of their
            mean.

    Returns:
        The mean bound in nats per example (a Python float), or a numpy
        array `(N,)` of per-example bounds.
    """
    num_samples = _validation.check_int("num_samples", num_samples, minimum=1)
    batch_size = _validation.check_int("batch_size", batch_size, minimum=1)
    if samples_per_chunk is None:
        samples_per_chunk = max(1, 4096 // batch_size)
    samples_per_chunk = _validation.check_int(
        "samples_per_chunk", samples_per_chunk, minimum=1
    )
    samples_per_chunk = min(samples_per_chunk, num_samples)
    rng = _rng(seed)
    bounds = []
    for x, n in padded_batches(model, data, batch_size):
        z_mean, z_log_var = _encode(model, x)
        log_sum = np.full((len(x),), -np.inf)
        for start in range(0, num_samples, samples_per_chunk):
            # Every chunk has the same shape (compiled once); the draws past
            # num_samples in the last chunk are dropped.
            eps = rng.standard_normal(
                (samples_per_chunk,) + z_mean.shape).astype("float32")
            log_px, log_ratio = _sample_log_terms(model, x, z_mean, z_log_var, eps)
            log_w = (log_px - log_ratio)[: num_samples - start]
            log_sum = np.logaddexp(log_sum, np.logaddexp.reduce(log_w, axis=0))
        bounds.append(log_sum[:n] - math.log(num_samples))
    _check_not_empty(sum(len(b) for b in bounds))
    bounds = np.concatenate(bounds)
    return bounds if return_per_example else float(np.mean(bounds))


# === Reconstruction ===


def reconstruction_error(model, data, batch_size=256):
    """Error of the reconstructions decoded from the posterior mean.

    Args:
        model: a keras-vae model.
        data: images as a numpy array or a `tf.data.Dataset`.
        batch_size: int >= 1.

    Returns:
        Dict of Python floats: `reconstruction_nll`, the mean over examples
        of `-log p(x | z = E[z | x])` summed over pixels (nats per example),
        and `reconstruction_mse`, the mean squared error per pixel between
        `x` and the decoder mean (e.g. pixel probabilities for Bernoulli).
    """
    batch_size = _validation.check_int("batch_size", batch_size, minimum=1)
    total_nll = total_se = 0.0
    count = pixels = 0
    for x, n in padded_batches(model, data, batch_size):
        z_mean, _ = _encode(model, x)
        output = _predict(model.decoder, z_mean)
        nll = _numpy(model.likelihood.negative_log_likelihood(x, output))
        total_nll += float(np.sum(nll[:n]))
        mean = _numpy(model.likelihood.mean(ops.convert_to_tensor(output)))
        total_se += float(np.sum(np.square(mean[:n] - x[:n])))
        count += n
        pixels += x[:n].size
    _check_not_empty(count)
    return {"reconstruction_nll": total_nll / count,
            "reconstruction_mse": total_se / pixels}


# === Latent usage ===


def kl_per_dimension(model, data, batch_size=256):
    """Mean KL(q(z_u | x) || N(0, 1)) of each latent dimension u over the data.

    The closed-form KL of `divergences.gaussian_kl`, per dimension; the
    entries sum to the `kl_loss` of `evaluate_elbo`.

    Returns:
        Numpy array `(latent_dim,)` in nats.
    """
    z_mean, z_log_var = posterior_parameters(model, data, batch_size)
    return np.mean(_numpy(divergences.gaussian_kl(z_mean, z_log_var, axis=None)), 0)


def unit_activity(model, data, batch_size=256):
    """Activity `A_u = Cov_x(E_q[z_u | x])` of each latent dimension.

    The variance over the data of each posterior mean (Burda et al. 2016,
    section 5.2): a dimension whose posterior mean does not move with x
    carries no information about x.

    Returns:
        Numpy array `(latent_dim,)`.
    """
    z_mean, _ = posterior_parameters(model, data, batch_size)
    return np.var(z_mean.astype("float64"), axis=0)


def active_units(model, data, threshold=0.01, batch_size=256):
    """Number of active latent dimensions, `A_u > threshold` (Burda et al.
    2016, section 5.2, threshold 0.01); see `unit_activity`.

    Returns:
        A Python int.
    """
    threshold = _validation.check_float("threshold", threshold, minimum=0.0)
    return int(np.sum(unit_activity(model, data, batch_size) > threshold))


def posterior_parameters(model, data, batch_size=256, max_examples=None, seed=0):
    """`(z_mean, z_log_var)` of q(z | x) for the images of `data`.

    Args:
        model: a keras-vae model.
        data: images as a numpy array or a `tf.data.Dataset`.
        batch_size: int >= 1.
        max_examples: int >= 2 or None; when `data` holds more examples, a
            random subset of this many, chosen with `seed`, is returned.
        seed: int seed of the subset.

    Returns:
        Two float32 numpy arrays `(num_examples, latent_dim)`.
    """
    batch_size = _validation.check_int("batch_size", batch_size, minimum=1)
    if max_examples is not None:
        max_examples = _validation.check_int("max_examples", max_examples, minimum=2)
    means, log_vars = [], []
    for x, n in padded_batches(model, data, batch_size):
        z_mean, z_log_var = _encode(model, x)
        means.append(z_mean[:n])
        log_vars.append(z_log_var[:n])
    _check_not_empty(len(means))
    z_mean, z_log_var = np.concatenate(means), np.concatenate(log_vars)
    if max_examples is not None and len(z_mean) > max_examples:
        keep = np.sort(_rng(seed).choice(len(z_mean), max_examples, replace=False))
        z_mean, z_log_var = z_mean[keep], z_log_var[keep]
    return z_mean, z_log_var


# === Data and model plumbing ===


def padded_batches(model, data, batch_size):
    """Yields `(images, n)`: float32 numpy batches of a fixed size, of which
    the first `n` are the data's.

    A short last batch is padded with zeros to the size of the others, so
    every batch has one shape and compiled functions (and JAX's per-shape
    kernels) are reused. `data` is a numpy array (or anything convertible)
    or a `tf.data.Dataset` of images, batched or not. Checks the image shape
    against `model.image_shape` and that the values are finite, with errors
    in the library's style.
    """
    image_shape = tuple(model.image_shape)
    size = 0
    for x in _batches(data, batch_size, image_shape):
        n = len(x)
        size = max(size, n)
        if n < size:
            x = np.concatenate([x, np.zeros((size - n,) + x.shape[1:], x.dtype)])
        yield x, n


def _batches(data, batch_size, image_shape):
    tf = sys.modules.get("tensorflow")  # a tf.data input implies tf is loaded
    if tf is not None and isinstance(data, tf.data.Dataset):
        spec = data.element_spec
        if not isinstance(spec, tf.TensorSpec):
            raise ValueError(
                "Argument `data` must be a dataset of images only. If its "
                "elements are (image, label) pairs, keep the images, e.g. "
                "`dataset.map(lambda x, y: x)`. Received: element_spec="
                f"{spec}"
            )
        if len(spec.shape) == len(image_shape):
            data = data.batch(batch_size)
        for batch in data.as_numpy_iterator():
            yield _check_images(batch, image_shape)
        return
    if isinstance(data, (list, tuple)):
        data = np.asarray(data)
    if not hasattr(data, "shape"):
        raise TypeError(
            "Argument `data` must be a numpy array of images or a "
            f"tf.data.Dataset. Received: data of type {type(data).__name__}"
        )
    data = np.asarray(ops.convert_to_numpy(data))
    _check_layout(data, image_shape)  # before slicing, with the full shape
    for start in range(0, len(data), batch_size):
        yield _check_images(data[start : start + batch_size], image_shape)


def _check_images(x, image_shape):
    x = np.asarray(x)
    _check_layout(x, image_shape)
    if not np.all(np.isfinite(x)):
        raise ValueError(
            "Argument `data` contains NaN or infinite values "
            f"({int(np.sum(~np.isfinite(x)))} in a batch of {len(x)}). "
            "Received: data with non-finite entries"
        )
    return x.astype("float32")


def _check_layout(x, image_shape):
    if x.ndim != len(image_shape) + 1 or tuple(x.shape[1:]) != image_shape:
        raise ValueError(
            "Argument `data` must hold images of the model's input shape, "
            f"(num_images,) + {image_shape}. Received: data.shape={x.shape}"
        )
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(
            "Argument `data` must hold numbers. "
            f"Received: data.dtype={x.dtype}"
        )


def _predict(network, inputs):
    """Runs a network compiled (`predict_on_batch`) where it can.

    Not for a network built under a multi-replica `tf.distribute` strategy:
    there Keras' `predict_on_batch` runs every replica on the whole batch and
    returns their outputs concatenated (R times the rows)."""
    if isinstance(network, keras.Model) and not distribute.built_under_strategy(network):
        return network.predict_on_batch(inputs)
    return ops.convert_to_numpy(network(inputs, training=False))


def _encode(model, x):
    z_mean, z_log_var = (np.asarray(t, "float32") for t in _predict(model.encoder, x))
    if not (np.all(np.isfinite(z_mean)) and np.all(np.isfinite(z_log_var))):
        raise ValueError(
            "The model's encoder returned NaN or infinite codes; the model "
            "has probably diverged. Received: z_mean with "
            f"{int(np.sum(~np.isfinite(z_mean)))} and z_log_var with "
            f"{int(np.sum(~np.isfinite(z_log_var)))} non-finite entries"
        )
    return z_mean, z_log_var


def _sample_log_terms(model, x, z_mean, z_log_var, eps):
    """`log p(x | z)` and `log q(z | x) - log p(z)` for `S` draws per example.

    `z = z_mean + exp(z_log_var / 2) * eps` with `eps` of shape `(S, B, d)`;
    the decoder runs on all `S * B` codes at once. Returns two float64 numpy
    arrays `(S, B)`.
    """
    s, b, d = eps.shape
    z = z_mean + np.exp(0.5 * z_log_var) * eps
    output = _predict(model.decoder, z.reshape(s * b, d))
    targets = np.broadcast_to(x[None], (s,) + x.shape).reshape((s * b,) + x.shape[1:])
    nll = model.likelihood.negative_log_likelihood(targets, output)
    log_ratio = _log_ratio()(z, z_mean, z_log_var)
    return -_numpy(nll).reshape(s, b), _numpy(log_ratio)


@functools.cache
def _log_ratio():
    # `log q(z|x) - log p(z)`: pure, so it may run jitted on JAX.
    return _compile.compiled(divergences.monte_carlo_kl)


def _rng(seed):
    return np.random.default_rng(_validation.check_int("seed", seed))


def _check_not_empty(count):
    if not count:
        raise ValueError("Argument `data` must hold at least one image. "
                         "Received: an empty dataset")
