"""Hand-written pure-JAX (+ optax) training loop of the keras-vae networks.

The baseline `bench/train_throughput.py` compares `model.fit` against. The
networks are the library's `conv` / `disentanglement` encoder and decoder,
layer for layer (same widths, kernel sizes, strides, `padding="SAME"`, ReLU,
Dense sizes; initialisation differs, which does not change the speed),
written with `jax.lax` directly: NHWC / HWIO convolutions, one
`jax.jit`-compiled step with donated parameters and optimizer state,
`optax.adam(1e-3)`, and per decoder upsampling variant:

- `"transpose"`: `lax.conv_transpose` (stride 2, "SAME");
- `"subpixel"`: `lax.conv_general_dilated` (stride 1, 4x the filters,
  kernel `k = ceil(kernel_size / 2)`, "VALID" after `jnp.pad` of `k // 2`
  on every side) at the input resolution, then depth-to-space as keras-vae does it
  (`reshape` to `(N, H, W, 2, 2, f)`, `transpose`, `reshape` to
  `(N, 2H, 2W, f)`: channel `(2 * dy + dx) * f + c` goes to pixel
  `(2 * row + dy, 2 * col + dx)`), then for even `k` a crop of 1 pixel on
  every side (keras-vae's sub-pixel block, a stride-2 transposed convolution
  in disguise, see `keras_vae.networks`);
- `"resize"`: `jnp.repeat` (nearest neighbour) then `lax.conv_general_dilated`
  (stride 1, "SAME").

XLA's "SAME" padding is TensorFlow's (an odd total padding puts the extra
pixel after).

Loss (as `keras_vae.VAE`): Bernoulli negative log-likelihood with logits
summed over pixels plus the closed-form Gaussian KL summed over latent
dimensions, averaged over the batch, with one reparameterized sample
`z = mu + exp(log_var / 2) * eps` per example (the PRNG key is carried
through the jitted step).

Data handling mirrors `model.fit(x_numpy, shuffle=True)`: the training set is
a float32 numpy array in host memory, a new permutation each epoch, one batch
sliced and transferred per step. An epoch is `num_examples` of the config
(see `_harness.py`).

Run through `python bench/train_throughput.py --runners jax`; directly:

    python bench/native_jax.py --config dsprites --upsampling subpixel transpose --epochs 3 2
"""

import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

import _harness as common  # CONFIGS, NETWORKS, timing helpers

_DN = ("NHWC", "HWIO", "NHWC")


def _dense_init(key, n_in, n_out):
    return {"w": jax.random.normal(key, (n_in, n_out)) / math.sqrt(n_in),
            "b": jnp.zeros((n_out,))}


def _conv_init(key, kernel, c_in, c_out):
    fan_in = kernel * kernel * c_in
    return {"w": jax.random.normal(key, (kernel, kernel, c_in, c_out)) / math.sqrt(fan_in),
            "b": jnp.zeros((c_out,))}


def init_params(key, input_shape, latent_dim, architecture, upsampling):
    net = common.NETWORKS[architecture]
    filters, kernel, hidden = net["filters"], net["kernel_size"], net["hidden_units"]
    height, width, channels = input_shape
    keys = iter(jax.random.split(key, 64))
    params = {"enc_conv": [], "enc_dense": [], "dec_dense": [], "dec_conv": []}
    h, w, c = height, width, channels
    for f in filters:
        params["enc_conv"].append(_conv_init(next(keys), kernel, c, f))
        h, w, c = math.ceil(h / 2), math.ceil(w / 2), f
    units_in = h * w * c
    for units in hidden:
        params["enc_dense"].append(_dense_init(next(keys), units_in, units))
        units_in = units
    params["z_mean"] = _dense_init(next(keys), units_in, latent_dim)
    params["z_log_var"] = _dense_init(next(keys), units_in, latent_dim)
    units_in = latent_dim
    for units in reversed(hidden):
        params["dec_dense"].append(_dense_init(next(keys), units_in, units))
        units_in = units
    factor = 2 ** len(filters)
    start = (math.ceil(height / factor), math.ceil(width / factor), filters[-1])
    params["projection"] = _dense_init(next(keys), units_in, math.prod(start))
    c = filters[-1]
    for f in list(reversed(filters[:-1])) + [channels]:
        if upsampling == "subpixel":
            params["dec_conv"].append(_conv_init(next(keys), math.ceil(kernel / 2), c, 4 * f))
        else:
            params["dec_conv"].append(_conv_init(next(keys), kernel, c, f))
        c = f
    static = {"start": start, "crop": (start[0] * factor - height, start[1] * factor - width)}
    return params, static


def _dense(p, x):
    return x @ p["w"] + p["b"]


def encode(params, x):
    h = x
    for p in params["enc_conv"]:
        h = jax.nn.relu(lax.conv_general_dilated(h, p["w"], (2, 2), "SAME",
                                                 dimension_numbers=_DN) + p["b"])
    h = h.reshape(h.shape[0], -1)
    for p in params["enc_dense"]:
        h = jax.nn.relu(_dense(p, h))
    return _dense(params["z_mean"], h), _dense(params["z_log_var"], h)


def _depth_to_space(h):
    """`(N, H, W, 4f) -> (N, 2H, 2W, f)` in keras-vae's channel order."""
    n, height, width, channels = h.shape
    f = channels // 4
    h = h.reshape(n, height, width, 2, 2, f).transpose(0, 1, 3, 2, 4, 5)
    return h.reshape(n, 2 * height, 2 * width, f)


def decode(params, z, static, upsampling):
    h = z
    for p in params["dec_dense"]:
        h = jax.nn.relu(_dense(p, h))
    h = jax.nn.relu(_dense(params["projection"], h)).reshape((-1,) + static["start"])
    last = len(params["dec_conv"]) - 1
    for i, p in enumerate(params["dec_conv"]):
        if upsampling == "transpose":
            h = lax.conv_transpose(h, p["w"], (2, 2), "SAME", dimension_numbers=_DN)
            h = h + p["b"]
        elif upsampling == "subpixel":
            k = p["w"].shape[0]  # pad k // 2 everywhere, crop 1 for even k
            # jnp.pad + "VALID", not padding=[(k // 2, k // 2)] * 2 in the
            # convolution: XLA:CPU ran that 3-4x slower (its gradients).
            h = jnp.pad(h, ((0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)))
            h = lax.conv_general_dilated(h, p["w"], (1, 1), "VALID",
                                         dimension_numbers=_DN)
            h = _depth_to_space(h + p["b"])
            if k % 2 == 0:
                h = h[:, 1:-1, 1:-1]
        elif upsampling == "resize":
            h = jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2)
            h = lax.conv_general_dilated(h, p["w"], (1, 1), "SAME", dimension_numbers=_DN)
            h = h + p["b"]
        else:
            raise ValueError(f"unknown upsampling {upsampling!r}")
        if i < last:
            h = jax.nn.relu(h)
    ch, cw = static["crop"]
    if ch or cw:
        h = h[:, ch // 2: h.shape[1] - (ch - ch // 2), cw // 2: h.shape[2] - (cw - cw // 2)]
    return h


def make_step(static, upsampling, optimizer):
    def loss_fn(params, x, key):
        z_mean, z_log_var = encode(params, x)
        eps = jax.random.normal(key, z_mean.shape)
        z = z_mean + jnp.exp(0.5 * z_log_var) * eps
        logits = decode(params, z, static, upsampling)
        nll = jax.nn.softplus(logits) - x * logits  # BCE with logits
        reconstruction = jnp.mean(jnp.sum(nll, axis=(1, 2, 3)))
        kl = 0.5 * (jnp.square(z_mean) + jnp.exp(z_log_var) - 1.0 - z_log_var)
        return reconstruction + jnp.mean(jnp.sum(kl, axis=1))

    def step(params, opt_state, key, x):
        key, sub = jax.random.split(key)
        loss, grads = jax.value_and_grad(loss_fn)(params, x, sub)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, key, loss

    return jax.jit(step, donate_argnums=(0, 1, 2))


def measure(config_name, upsampling, epochs):
    """Warm-up epoch(s), then `epochs` timed epochs; returns a result dict."""
    config = common.CONFIGS[config_name]
    params, static = init_params(jax.random.key(0), config["input_shape"],
                                 config["latent_dim"], config["architecture"],
                                 upsampling)
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)
    step = make_step(static, upsampling, optimizer)
    key = jax.random.key(1)
    n, batch_size = config["num_examples"], config["batch_size"]
    x = common.random_images(config)
    rng = np.random.default_rng(0)

    start = time.perf_counter()
    for i in range(config["warmup_steps"]):  # warm-up (compilation), as model.fit's
        params, opt_state, key, loss = step(params, opt_state, key,
                                            x[i * batch_size:(i + 1) * batch_size])
    jax.block_until_ready(loss)
    warmup_s = time.perf_counter() - start
    times, losses = [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(n)
        total = 0.0
        for i in range(0, n, batch_size):
            params, opt_state, key, loss = step(params, opt_state, key,
                                                x[order[i:i + batch_size]])
            total = total + loss  # stays on device: no sync per step
        losses.append(float(total) / math.ceil(n / batch_size))  # syncs
        times.append(time.perf_counter() - start)
    import jaxlib

    return common.result_row(
        runner="jax", config=config_name, upsampling=upsampling, variant="jit",
        times=times, n=n, losses=losses, warmup_s=round(warmup_s, 2),
        versions={"jax": jax.__version__, "jaxlib": jaxlib.__version__,
                  "optax": optax.__version__})


if __name__ == "__main__":
    common.native_main(measure, __doc__)
