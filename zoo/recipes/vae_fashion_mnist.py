"""Vanilla VAE on Fashion-MNIST (Kingma & Welling 2014)."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="vae_fashion_mnist",
    description="Conv VAE, 16-d latent, Bernoulli decoder on grey levels",
    model="VAE",
    model_kwargs=dict(input_shape=(28, 28, 1), latent_dim=16, architecture="conv"),
    dataset="fashion_mnist",
    batch_size=128,
    learning_rate=1e-3,
    steps=4_680,  # 10 epochs of 468 batches
    references="Adam 1e-3, batch 128: Kingma & Welling 2014 / Keras VAE example",
)
