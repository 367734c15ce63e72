"""beta-TCVAE on Fashion-MNIST (Chen et al. 2018)."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="beta_tcvae_fashion_mnist",
    description="Conv beta-TCVAE, beta = 6 on the total correlation, MSS estimator",
    model="BetaTCVAE",
    model_kwargs=dict(input_shape=(28, 28, 1), latent_dim=16, architecture="conv",
                      beta=6.0, dataset_size=60_000),
    dataset="fashion_mnist",
    batch_size=128,
    learning_rate=1e-3,
    steps=4_680,
    references="alpha = gamma = 1, beta = 6, minibatch stratified sampling: Chen et al. 2018",
)
