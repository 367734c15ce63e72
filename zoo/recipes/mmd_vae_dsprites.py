"""MMD-VAE on procedural dSprites (Zhao et al. 2019)."""

from keras_vae.recipes import DSPRITES
from keras_vae.recipes import DSPRITES_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="mmd_vae_dsprites",
    description="Standard 64x64 conv net, IMQ kernel, mmd_weight 100",
    model="MMDVAE",
    model_kwargs=dict(**DSPRITES_NET, kernel="imq", mmd_weight=100.0),
    **DSPRITES,
    references="IMQ kernel: Tolstikhin et al. 2018; batch 64, Adam 1e-4: Locatello et al. 2019",
)
