"""beta-TCVAE on procedural dSprites (Chen et al. 2018, section 6)."""

from keras_vae.datasets import num_examples
from keras_vae.recipes import DSPRITES
from keras_vae.recipes import DSPRITES_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="beta_tcvae_dsprites",
    description="Standard 64x64 conv net, beta = 6 on the total correlation, MSS",
    model="BetaTCVAE",
    model_kwargs=dict(**DSPRITES_NET, beta=6.0,
                      dataset_size=num_examples("dsprites")),
    **DSPRITES,
    references="beta = 6 on dSprites (MIG 0.45): Chen et al. 2018; batch 64, Adam 1e-4: "
               "Locatello et al. 2019",
)
