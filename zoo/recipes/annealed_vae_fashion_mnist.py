"""AnnealedVAE on Fashion-MNIST (Burgess et al. 2018)."""

from keras_vae.recipes import FASHION_MNIST
from keras_vae.recipes import FASHION_MNIST_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="annealed_vae_fashion_mnist",
    description="Conv AnnealedVAE, 1000 |KL - C|, C rising to 25 nats over the first 4,000 steps",
    model="AnnealedVAE",
    model_kwargs=dict(**FASHION_MNIST_NET, c_max=25.0, iteration_threshold=4_000, gamma=1000.0),
    **FASHION_MNIST,
    validation_metric="loss",  # its objective is not the ELBO
    references="gamma 1000, C_max 25 nats: Burgess et al. 2018; the threshold scaled to "
               "about 9 epochs, so that C reaches C_max well before the held-out ELBO converges",
)
