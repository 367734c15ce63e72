"""A tiny dSprites recipe for tests of `zoo/gpu_study.py` and
`keras_vae.ensemble`: an MLP beta-VAE on 64x64 procedural dSprites, batch 8,
evaluated by its ELBO only (the disentanglement scores take minutes)."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="tiny_dsprites",
    description="Test recipe: MLP beta-VAE with 8 hidden units on 64x64 dSprites",
    model="BetaVAE",
    model_kwargs=dict(input_shape=(64, 64, 1), latent_dim=2, architecture="mlp",
                      network_kwargs={"hidden_units": [8]}, beta=4.0),
    dataset="dsprites",
    batch_size=8,
    learning_rate=1e-3,
    steps=6,
    test_split=None,
    metrics=("elbo",),
    references="test recipe (no literature)",
)
