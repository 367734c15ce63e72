"""MMD-VAE (InfoVAE, alpha = 1) on Fashion-MNIST (Zhao et al. 2019)."""

from keras_vae.recipes import FASHION_MNIST
from keras_vae.recipes import FASHION_MNIST_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="mmd_vae_fashion_mnist",
    description="Conv MMD-VAE, IMQ kernel C = 2 * 16, mmd_weight 100",
    model="MMDVAE",
    model_kwargs=dict(**FASHION_MNIST_NET, kernel="imq", mmd_weight=100.0),
    **FASHION_MNIST,
    validation_metric="loss",  # its objective is not the ELBO
    references="IMQ kernel, C = 2 d: Tolstikhin et al. 2018; large lambda: Zhao et al. 2019",
)
