"""beta-VAE on procedural dSprites (Higgins et al. 2017), as disentanglement_lib trains it."""

from keras_vae.recipes import DSPRITES
from keras_vae.recipes import DSPRITES_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="beta_vae_dsprites",
    description="recon + beta KL with a constant beta of 4 (the capacity-annealed variant "
                "is annealed_vae_dsprites)",
    model="BetaVAE",
    model_kwargs=dict(**DSPRITES_NET, schedule="constant", beta=4.0),
    **DSPRITES,
    references="beta in {1, 2, 4, 6, 8, 16}, batch 64, Adam 1e-4, 300k steps: Locatello et al. "
               "2019 (disentanglement_lib unsupervised_study_v1); beta 4 on dSprites: Higgins "
               "et al. 2017",
)
