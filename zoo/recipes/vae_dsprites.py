"""Vanilla VAE on procedural dSprites: the baseline of the disentanglement studies."""

from keras_vae.recipes import DSPRITES
from keras_vae.recipes import DSPRITES_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="vae_dsprites",
    description="Standard 64x64 conv net, 10-d latent, Bernoulli decoder",
    model="VAE",
    model_kwargs=DSPRITES_NET,
    **DSPRITES,
    references="batch 64, Adam 1e-4, 300k steps, conv 32-32-64-64: Locatello et al. 2019",
)
