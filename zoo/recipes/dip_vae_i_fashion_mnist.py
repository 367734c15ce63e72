"""DIP-VAE-I on Fashion-MNIST (Kumar et al. 2018)."""

from keras_vae.recipes import FASHION_MNIST
from keras_vae.recipes import FASHION_MNIST_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="dip_vae_i_fashion_mnist",
    description="Conv DIP-VAE-I, lambda_od 10, lambda_d 100",
    model="DIPVAE",
    model_kwargs=dict(**FASHION_MNIST_NET, variant="i", lambda_od=10.0),
    **FASHION_MNIST,
    validation_metric="loss",  # its objective is not the ELBO
    references="lambda_d = 10 lambda_od for DIP-VAE-I: Kumar et al. 2018, disentanglement_lib",
)
