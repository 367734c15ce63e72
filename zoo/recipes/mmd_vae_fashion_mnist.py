"""MMD-VAE (InfoVAE, alpha = 1) on Fashion-MNIST (Zhao et al. 2019)."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="mmd_vae_fashion_mnist",
    description="Conv MMD-VAE, IMQ kernel C = 2 * 16, mmd_weight 100",
    model="MMDVAE",
    model_kwargs=dict(input_shape=(28, 28, 1), latent_dim=16, architecture="conv",
                      kernel="imq", mmd_weight=100.0),
    dataset="fashion_mnist",
    batch_size=128,
    learning_rate=1e-3,
    steps=4_680,
    references="IMQ kernel, C = 2 d: Tolstikhin et al. 2018; large lambda: Zhao et al. 2019",
)
