"""DIP-VAE-I on procedural dSprites (Kumar et al. 2018; Locatello et al. 2019)."""

from keras_vae.recipes import DSPRITES
from keras_vae.recipes import DSPRITES_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="dip_vae_i_dsprites",
    description="Standard 64x64 conv net, Cov of the means pushed to I, lambda_od 10, lambda_d 100",
    model="DIPVAE",
    model_kwargs=dict(**DSPRITES_NET, variant="i", lambda_od=10.0),
    **DSPRITES,
    references="lambda_od in {1, 2, 5, 10, 20, 50}, lambda_d = 10 lambda_od, batch 64, "
               "Adam 1e-4, 300k steps: Locatello et al. 2019 (disentanglement_lib "
               "unsupervised_study_v1); Kumar et al. 2018",
)
