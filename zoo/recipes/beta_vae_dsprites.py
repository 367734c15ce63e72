"""beta-VAE with capacity annealing on procedural dSprites (Burgess et al. 2018)."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="beta_vae_dsprites",
    description="gamma |KL - C|, C rising linearly to 25 nats over 100k steps",
    model="BetaVAE",
    model_kwargs=dict(input_shape=(64, 64, 1), latent_dim=10, architecture="disentanglement",
                      schedule="capacity", gamma=1000.0, capacity_max=25.0,
                      anneal_steps=100_000),
    dataset="dsprites",
    batch_size=64,
    learning_rate=1e-4,
    steps=300_000,
    test_split=None,
    metrics=("elbo", "iwae", "active_units", "mig", "factor_vae", "dci"),
    references="gamma 1000, C_max 25 nats: Burgess et al. 2018; batch 64, Adam 1e-4: "
               "Locatello et al. 2019",
)
