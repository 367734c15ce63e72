"""The Vanilla VAE (Kingma & Welling 2014)."""

import keras
from keras import ops

from keras_vae import divergences
from keras_vae.models.base import BaseVAE


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(BaseVAE):
    """Variational autoencoder trained on the negative ELBO.

    `loss = mean_i [ -log p(x_i | z_i) ] + mean_i KL(q(z | x_i) || N(0, I))`,
    with the KL in closed form (`divergences.gaussian_kl`), summed over latent
    dimensions. Reports `loss`, `reconstruction_loss`, `kl_loss` (nats per
    example). See `BaseVAE` for the shared arguments.

    Example:

    ```python
    model = keras_vae.VAE(input_shape=(28, 28, 1), latent_dim=16)
    model.compile(optimizer="adam")
    model.fit(x_train, epochs=10, batch_size=128)
    z_mean, z_log_var = model.encode(x_test)
    images = model.sample(16, seed=0)
    ```
    """

    regularizer_terms = ("kl_loss",)

    def regularizer(self, z_mean, z_log_var, z, training=False):
        kl = ops.mean(divergences.gaussian_kl(z_mean, z_log_var))
        return kl, {"kl_loss": kl}
