"""Default options of the built-in architectures of `keras_vae.networks`.

`{architecture: {option: value}}`; `networks.resolve_options` merges a
model's `network_kwargs` into these. This module imports nothing (not even
Keras), so that a process which must not load a Keras backend yet (the
parents of bench/'s per-backend child processes) can read it by file path.
Kept in sync with `networks.ARCHITECTURES` by tests/test_networks.py.
"""

ARCHITECTURE_DEFAULTS = {
    "mlp": {"hidden_units": (512, 256)},
    "conv": {
        "filters": (32, 64),
        "kernel_size": 3,
        "hidden_units": (256,),
        "upsampling": "transpose",
    },
    "disentanglement": {
        "filters": (32, 32, 64, 64),
        "kernel_size": 4,
        "hidden_units": (256,),
        "upsampling": "subpixel",
    },
}
