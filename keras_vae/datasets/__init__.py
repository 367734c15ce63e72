"""Input pipelines for VAE training and evaluation.

`load(name, ...)` returns batched, shuffled `tf.data` pipelines (or numpy
arrays) of float32 images in [0, 1] that `model.fit` accepts on every Keras
backend; `available()` lists the dataset names and `num_examples(name,
split)` the size of a split.
"""

from keras_vae.datasets.digits import load_digits
from keras_vae.datasets.dsprites import DSprites
from keras_vae.datasets.dsprites import open_dsprites
from keras_vae.datasets.fashion_mnist import load_fashion_mnist
from keras_vae.datasets.idx import read_idx
from keras_vae.datasets.loader import available
from keras_vae.datasets.loader import load
from keras_vae.datasets.loader import num_examples
