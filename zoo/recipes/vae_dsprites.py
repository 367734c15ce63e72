"""Vanilla VAE on procedural dSprites: the baseline of the disentanglement studies."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="vae_dsprites",
    description="Standard 64x64 conv net, 10-d latent, Bernoulli decoder",
    model="VAE",
    model_kwargs=dict(input_shape=(64, 64, 1), latent_dim=10, architecture="disentanglement"),
    dataset="dsprites",
    batch_size=64,
    learning_rate=1e-4,
    steps=300_000,
    test_split=None,
    metrics=("elbo", "iwae", "active_units", "mig", "factor_vae", "dci"),
    references="batch 64, Adam 1e-4, 300k steps, conv 32-32-64-64: Locatello et al. 2019",
)
