"""FactorVAE on procedural dSprites (Kim & Mnih 2018; Locatello et al. 2019)."""

from keras_vae.recipes import DSPRITES
from keras_vae.recipes import DSPRITES_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="factor_vae_dsprites",
    description="Standard 64x64 conv net, gamma = 40 on the discriminator's TC estimate",
    model="FactorVAE",
    model_kwargs=dict(**DSPRITES_NET, gamma=40.0),
    **DSPRITES,
    references="gamma in {10, 20, 30, 40, 50, 100}, discriminator 6 x 1000 leaky ReLU with "
               "Adam(1e-4, 0.5, 0.9), VAE Adam 1e-4, batch 64, 300k steps: Locatello et al. "
               "2019 (disentanglement_lib unsupervised_study_v1); Kim & Mnih 2018",
)
