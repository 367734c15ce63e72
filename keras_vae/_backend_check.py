"""A one-line error for an unknown `KERAS_BACKEND`, before Keras is imported.

Keras raises `ValueError: Unable to import backend : NAME` from deep inside
its import. keras-vae checks the variable first and raises `BackendError`
(an `ImportError`) that says what to set. Uncaught at the top level (the
`keras-vae` command), it is printed as one line without a traceback, unless
`--debug` is on the command line.
"""

import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")
# Backends Keras has that keras-vae does not test; Keras itself handles them.
OTHER_KERAS_BACKENDS = ("numpy", "openvino")


class BackendError(ImportError):
    """`KERAS_BACKEND` names no Keras backend."""


def check_backend():
    name = os.environ.get("KERAS_BACKEND")
    if name is None or name in BACKENDS + OTHER_KERAS_BACKENDS:
        return
    _install_hook()
    raise BackendError(
        f"KERAS_BACKEND must be one of {', '.join(BACKENDS)} (the backends keras-vae "
        f"supports). Received: KERAS_BACKEND={name!r}"
    )


def _install_hook():
    previous = sys.excepthook

    def hook(kind, value, traceback):
        if issubclass(kind, BackendError) and "--debug" not in sys.argv:
            print(f"keras-vae: error: {value}", file=sys.stderr)
            return
        previous(kind, value, traceback)

    sys.excepthook = hook
