"""A tiny recipe for tests of training, resuming and checkpoints: a small MLP
beta-VAE with a linearly annealed beta on scikit-learn's 8x8 digits."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="tiny_digits",
    description="Test recipe: MLP beta-VAE, beta 4 -> 1 over 400 steps, on 8x8 digits",
    model="BetaVAE",
    model_kwargs=dict(input_shape=(8, 8, 1), latent_dim=2, architecture="mlp",
                      network_kwargs={"hidden_units": [16]}, beta=4.0, schedule="linear",
                      beta_end=1.0, anneal_steps=400),
    dataset="digits",
    batch_size=32,
    learning_rate=1e-3,
    steps=40,
    test_split="test",
    metrics=("elbo",),
    references="test recipe (no literature)",
)
