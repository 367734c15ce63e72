"""Vanilla VAE on Fashion-MNIST (Kingma & Welling 2014)."""

from keras_vae.recipes import FASHION_MNIST
from keras_vae.recipes import FASHION_MNIST_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="vae_fashion_mnist",
    description="Conv VAE, 16-d latent, Bernoulli decoder on grey levels",
    model="VAE",
    model_kwargs=FASHION_MNIST_NET,
    **FASHION_MNIST,
    references="Adam 1e-3, batch 128: Kingma & Welling 2014 / Keras VAE example",
)
