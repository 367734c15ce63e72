"""MMD-VAE on procedural dSprites (Zhao et al. 2019)."""

from keras_vae.recipes import Recipe

RECIPE = Recipe(
    name="mmd_vae_dsprites",
    description="Standard 64x64 conv net, IMQ kernel, mmd_weight 100",
    model="MMDVAE",
    model_kwargs=dict(input_shape=(64, 64, 1), latent_dim=10, architecture="disentanglement",
                      kernel="imq", mmd_weight=100.0),
    dataset="dsprites",
    batch_size=64,
    learning_rate=1e-4,
    steps=300_000,
    test_split=None,
    metrics=("elbo", "iwae", "active_units", "mig", "factor_vae", "dci"),
    references="IMQ kernel: Tolstikhin et al. 2018; batch 64, Adam 1e-4: Locatello et al. 2019",
)
