"""AnnealedVAE: beta-VAE with a controlled, linearly increasing capacity
(Burgess et al. 2018), under its name in Locatello et al. 2019."""

import keras

from keras_vae import _validation
from keras_vae.models.base import BaseVAE
from keras_vae.models.beta_vae import BetaVAE


@keras.saving.register_keras_serializable(package="keras_vae")
class AnnealedVAE(BetaVAE):
    """`loss = recon + gamma * |KL - C|`, with the capacity C rising linearly
    from 0 nats at step 0 to `c_max` at step `iteration_threshold`, then held:
    `C = min(c_max, c_max * step / iteration_threshold)` (Burgess et al. 2018,
    eq. 8; disentanglement_lib's `annealed_vae`).

    The same objective as `BetaVAE(schedule="capacity", gamma=gamma,
    capacity_max=c_max, anneal_steps=iteration_threshold)`, under the name
    and with the arguments of disentanglement_lib. The step is the model's
    saved `step_counter`, so a resumed run continues the schedule. Reports
    `kl_loss` and `capacity`.

    Args:
        c_max: final capacity in nats, >= 0. Default 25, Burgess et al.'s
            value for dSprites (Locatello et al. sweep 5 to 100).
        iteration_threshold: steps to reach `c_max`, >= 1. Default 100,000,
            as in Locatello et al. 2019.
        gamma: weight of `|KL - C|`, >= 0. Default 1000, as in both papers.
        **kwargs: the shared arguments of `BaseVAE`.
    """

    def __init__(self, c_max=25.0, iteration_threshold=100_000, gamma=1000.0, **kwargs):
        fixed = sorted(set(kwargs) & {"beta", "schedule", "beta_end", "anneal_steps",
                                      "capacity_max"})
        if fixed:
            raise TypeError(
                f"AnnealedVAE sets BetaVAE's {fixed} itself (the capacity schedule "
                "from `c_max`, `iteration_threshold`, `gamma`); use BetaVAE for "
                f"the other schedules. Received: {', '.join(f'{k}={kwargs[k]!r}' for k in fixed)}"
            )
        self.c_max = _validation.check_float("c_max", c_max, minimum=0.0)
        self.iteration_threshold = _validation.check_int(
            "iteration_threshold", iteration_threshold, minimum=1)
        super().__init__(schedule="capacity", gamma=gamma, capacity_max=self.c_max,
                         anneal_steps=self.iteration_threshold, **kwargs)

    def get_config(self):
        # BaseVAE's arguments and AnnealedVAE's own, not BetaVAE's.
        return {
            **BaseVAE.get_config(self),
            "c_max": self.c_max,
            "iteration_threshold": self.iteration_threshold,
            "gamma": self.gamma,
        }
