"""FactorVAE on Fashion-MNIST (Kim & Mnih 2018)."""

from keras_vae.recipes import FASHION_MNIST
from keras_vae.recipes import FASHION_MNIST_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="factor_vae_fashion_mnist",
    description="Conv FactorVAE, gamma = 10 on the discriminator's TC estimate",
    model="FactorVAE",
    model_kwargs=dict(**FASHION_MNIST_NET, gamma=10.0),
    **FASHION_MNIST,
    validation_metric="loss",  # its objective is not the ELBO
    references="discriminator 6 x 1000 leaky ReLU, Adam(1e-4, 0.5, 0.9): Kim & Mnih 2018; "
               "gamma 10, the low end of the sweep of Locatello et al. 2019",
)
