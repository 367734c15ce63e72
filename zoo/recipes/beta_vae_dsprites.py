"""beta-VAE with capacity annealing on procedural dSprites (Burgess et al. 2018)."""

from keras_vae.recipes import DSPRITES
from keras_vae.recipes import DSPRITES_NET
from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="beta_vae_dsprites",
    description="gamma |KL - C|, C rising linearly to 25 nats over 100k steps",
    model="BetaVAE",
    model_kwargs=dict(**DSPRITES_NET, schedule="capacity", gamma=1000.0, capacity_max=25.0,
                      anneal_steps=100_000),
    **DSPRITES,
    references="gamma 1000, C_max 25 nats: Burgess et al. 2018; batch 64, Adam 1e-4: "
               "Locatello et al. 2019",
)
