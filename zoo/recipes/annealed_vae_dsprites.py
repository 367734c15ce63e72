"""AnnealedVAE on procedural dSprites (Burgess et al. 2018; Locatello et al. 2019)."""

from keras_vae.recipes import DSPRITES
from keras_vae.recipes import DSPRITES_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="annealed_vae_dsprites",
    description="Standard 64x64 conv net, 1000 |KL - C|, C rising to 25 nats over 100k steps",
    model="AnnealedVAE",
    model_kwargs=dict(**DSPRITES_NET, c_max=25.0, iteration_threshold=100_000, gamma=1000.0),
    **DSPRITES,
    references="c_max in {5, 10, 25, 50, 75, 100}, iteration_threshold 100k, gamma 1000, "
               "batch 64, Adam 1e-4, 300k steps: Locatello et al. 2019 (disentanglement_lib "
               "unsupervised_study_v1); C_max 25 on dSprites: Burgess et al. 2018",
)
