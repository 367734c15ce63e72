"""Input pipelines for VAE training and evaluation.

`load(name, ...)` returns batched, shuffled `tf.data` pipelines (or numpy
arrays) of float32 images in [0, 1] that `model.fit` accepts on every Keras
backend; `available()` lists the dataset names and `num_examples(name,
split)` the size of a split.

Those three live in `keras_vae.datasets.loader`, which needs TensorFlow
(`tf.data`); they are imported on first use, so that the numpy readers
(`open_dsprites`, `DSprites`, `read_idx`, ...) work where TensorFlow is not
installed, e.g. on a JAX-only GPU machine.
"""

from keras_vae.datasets.digits import load_digits
from keras_vae.datasets.dsprites import DSprites
from keras_vae.datasets.dsprites import open_dsprites
from keras_vae.datasets.fashion_mnist import load_fashion_mnist
from keras_vae.datasets.idx import read_idx

_LOADER = ("available", "load", "num_examples")


def __getattr__(name):
    if name in _LOADER:
        from keras_vae.datasets import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LOADER))
