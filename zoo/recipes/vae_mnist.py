"""Vanilla VAE on MNIST through tensorflow-datasets (recipe only: needs the data prepared)."""

from keras_vae.recipes import FASHION_MNIST_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="vae_mnist",
    description="Conv VAE, 16-d latent, dynamically binarized MNIST from tfds",
    model="VAE",
    model_kwargs=FASHION_MNIST_NET,
    dataset="mnist",
    batch_size=128,
    learning_rate=1e-3,
    steps=4_680,
    binarize="dynamic",
    references="dynamic binarization: Burda et al. 2016; Adam 1e-3, batch 128",
)
