"""beta-TCVAE on Fashion-MNIST (Chen et al. 2018)."""

from keras_vae.datasets import num_examples
from keras_vae.recipes import FASHION_MNIST
from keras_vae.recipes import FASHION_MNIST_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="beta_tcvae_fashion_mnist",
    description="Conv beta-TCVAE, beta = 6 on the total correlation, MSS estimator",
    model="BetaTCVAE",
    model_kwargs=dict(**FASHION_MNIST_NET, beta=6.0,
                      dataset_size=num_examples("fashion_mnist", FASHION_MNIST["train_split"])),
    **FASHION_MNIST,
    validation_metric="loss",  # its objective is not the ELBO
    references="alpha = gamma = 1, beta = 6, minibatch stratified sampling: Chen et al. 2018",
)
