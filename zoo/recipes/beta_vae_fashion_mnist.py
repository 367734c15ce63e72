"""beta-VAE on Fashion-MNIST with beta annealed from high to 1 (Higgins et al. 2017)."""

from keras_vae.recipes import FASHION_MNIST
from keras_vae.recipes import FASHION_MNIST_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="beta_vae_fashion_mnist",
    description="Conv beta-VAE, beta cosine-annealed 8 -> 1 over 2,000 steps",
    model="BetaVAE",
    model_kwargs=dict(**FASHION_MNIST_NET, beta=8.0, schedule="cosine", beta_end=1.0, anneal_steps=2_000),
    **FASHION_MNIST,
    references="beta-VAE: Higgins et al. 2017; beta annealed from high to 1 (KL annealing "
               "run backwards, cf. Bowman et al. 2016 and Burgess et al. 2018)",
)
