"""The serving functions: what each exported signature computes.

Every function is deterministic (no random op in the graph) and written in
`keras.ops` on the model's encoder and decoder, so the same code is traced by
TensorFlow (`tf.function`), by JAX (`jax2tf`) and by tf2onnx.

| signature | input | outputs |
| --- | --- | --- |
| `encode` | `x` (batch, H, W, C) | `z_mean`, `z_log_var` (batch, latent_dim) |
| `decode` | `z` (batch, latent_dim) | `x` (batch, H, W, C) |
| `reconstruct` | `x` (batch, H, W, C) | `x`: decode(z_mean) |
| `sample` | `eps` (batch, latent_dim) ~ N(0, I) | `x`: decode(eps) |

`serving_default` is `reconstruct`. With `decoder_output="raw"` the image
outputs are the decoder's raw likelihood parameter (e.g. Bernoulli logits)
and are named `decoder_output` instead of `x`.
"""

from keras import ops

DECODER_OUTPUTS = ("mean", "raw")
# `reconstruct` first: Keras' ExportArchive aliases the first endpoint as
# `serving_default`.
SAVED_MODEL_SIGNATURES = ("reconstruct", "encode", "decode", "sample")
DEFAULT_SIGNATURE = "serving_default"
ONNX_FILES = {"encoder.onnx": "encode", "decoder.onnx": "decode"}


def image_key(decoder_output):
    """The output name of the image signatures for `decoder_output`."""
    return "x" if decoder_output == "mean" else "decoder_output"


def serving_functions(model, decoder_output):
    """Returns `{name: (fn, input_spec)}` for each signature of `model`.

    Args:
        model: a `keras_vae.BaseVAE`.
        decoder_output: `"mean"` (the likelihood mean, e.g. pixel
            probabilities) or `"raw"` (the decoder's raw output, e.g. logits).

    Returns:
        A dict mapping `encode`, `decode`, `reconstruct` and `sample` to a
        one-argument function returning a dict of float32 tensors, and the
        `tf.TensorSpec` of its (dynamic-batch) argument.
    """
    import tensorflow as tf

    key = image_key(decoder_output)

    def images(decoder_out):
        if decoder_output == "mean":
            decoder_out = model.likelihood.mean(decoder_out)
        return {key: ops.cast(decoder_out, "float32")}

    def encode(x):
        z_mean, z_log_var = model.encoder(x, training=False)
        return {"z_mean": ops.cast(z_mean, "float32"),
                "z_log_var": ops.cast(z_log_var, "float32")}

    def decode(z):
        return images(model.decoder(z, training=False))

    def reconstruct(x):
        z_mean, _ = model.encoder(x, training=False)
        return images(model.decoder(z_mean, training=False))

    def sample(eps):
        # The prior is N(0, I), so a prior draw is the client's noise itself.
        return images(model.decoder(eps, training=False))

    def spec(name, shape):
        return tf.TensorSpec((None,) + tuple(shape), tf.float32, name=name)

    image = spec("x", model.image_shape)
    return {
        "encode": (encode, image),
        "decode": (decode, spec("z", (model.latent_dim,))),
        "reconstruct": (reconstruct, image),
        "sample": (sample, spec("eps", (model.latent_dim,))),
    }


def describe(model, decoder_output):
    """Names and shapes of each signature's inputs and outputs (for the
    manifest); `None` is the dynamic batch dimension."""
    image = [None] + list(model.image_shape)
    code = [None, model.latent_dim]
    key = image_key(decoder_output)
    return {
        "encode": {"inputs": {"x": image},
                   "outputs": {"z_mean": code, "z_log_var": code}},
        "decode": {"inputs": {"z": code}, "outputs": {key: image}},
        "reconstruct": {"inputs": {"x": image}, "outputs": {key: image}},
        "sample": {"inputs": {"eps": code}, "outputs": {key: image}},
    }
