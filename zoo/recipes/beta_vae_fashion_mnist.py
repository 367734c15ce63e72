"""beta-VAE on Fashion-MNIST with beta annealed from high to 1 (lecture slide 42)."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="beta_vae_fashion_mnist",
    description="Conv beta-VAE, beta cosine-annealed 8 -> 1 over 2,000 steps",
    model="BetaVAE",
    model_kwargs=dict(input_shape=(28, 28, 1), latent_dim=16, architecture="conv",
                      beta=8.0, schedule="cosine", beta_end=1.0, anneal_steps=2_000),
    dataset="fashion_mnist",
    batch_size=128,
    learning_rate=1e-3,
    steps=4_680,
    references="beta annealed from high to 1: lecture slide 42; Higgins et al. 2017",
)
