"""beta-VAE (Higgins et al. 2017) and capacity annealing (Burgess et al. 2018).

Weigh the KL by beta, optionally starting high and reducing it towards 1.
"""

import keras
from keras import ops

from keras_vae import _validation
from keras_vae import divergences
from keras_vae import schedules
from keras_vae.models.base import BaseVAE

SCHEDULES = ("constant", "linear", "cosine", "capacity")


@keras.saving.register_keras_serializable(package="keras_vae")
class BetaVAE(BaseVAE):
    """VAE with a weighted, optionally annealed, KL term.

    - `schedule="constant"`: `loss = recon + beta * KL` (Higgins et al. 2017,
      eq. 4).
    - `schedule="linear"` / `"cosine"`: the same with beta annealed from
      `beta` at step 0 down to `beta_end` (default 1) at step `anneal_steps`,
      then held.
    - `schedule="capacity"`: `loss = recon + gamma * |KL - C|` with the
      capacity C rising linearly from 0 to `capacity_max` nats over
      `anneal_steps` (Burgess et al. 2018, eq. 8); `beta` is unused.

    KL is the batch mean of the closed-form KL to N(0, I). The schedule
    position is the model's `step_counter` variable: it advances once per
    training step (never in `evaluate`) and is saved with the weights, so a
    resumed run continues the schedule. Reports `kl_loss` (unweighted) and
    `beta` (or `capacity`), averaged over the epoch.

    Args:
        beta: KL weight (start value when annealed), >= 0. Default 4.0, the
            value of Higgins et al. for dSprites.
        schedule: `"constant"`, `"linear"`, `"cosine"` or `"capacity"`.
        beta_end: final beta of the annealing schedules, >= 0.
        anneal_steps: steps of the annealing, >= 1.
        gamma: weight of `|KL - C|` for the capacity schedule, >= 0; 1000 in
            Burgess et al.
        capacity_max: final capacity in nats, >= 0; 25 in Burgess et al.
        **kwargs: the shared arguments of `BaseVAE`.
    """

    def __init__(
        self,
        beta=4.0,
        schedule="constant",
        beta_end=1.0,
        anneal_steps=10_000,
        gamma=1000.0,
        capacity_max=25.0,
        **kwargs,
    ):
        self.schedule = _validation.check_choice("schedule", schedule, SCHEDULES)
        self.regularizer_terms = (
            ("kl_loss", "capacity") if self.schedule == "capacity" else ("kl_loss", "beta")
        )
        self.beta = _validation.check_float("beta", beta, minimum=0.0)
        self.beta_end = _validation.check_float("beta_end", beta_end, minimum=0.0)
        self.anneal_steps = _validation.check_int("anneal_steps", anneal_steps, minimum=1)
        self.gamma = _validation.check_float("gamma", gamma, minimum=0.0)
        self.capacity_max = _validation.check_float(
            "capacity_max", capacity_max, minimum=0.0
        )
        if self.schedule == "constant":
            weight = schedules.Constant(self.beta)
        elif self.schedule == "linear":
            weight = schedules.LinearAnneal(self.beta, self.beta_end, self.anneal_steps)
        elif self.schedule == "cosine":
            weight = schedules.CosineAnneal(self.beta, self.beta_end, self.anneal_steps)
        else:
            weight = schedules.LinearAnneal(0.0, self.capacity_max, self.anneal_steps)
        self._weight_schedule = weight
        super().__init__(**kwargs)

    def current_weight(self):
        """beta (or the capacity C) at the model's current step."""
        return self._weight_schedule.value(self.step_counter)

    def regularizer(self, z_mean, z_log_var, z, training=False):
        kl = ops.mean(divergences.gaussian_kl(z_mean, z_log_var))
        weight = ops.cast(self.current_weight(), kl.dtype)
        if self.schedule == "capacity":
            return self.gamma * ops.abs(kl - weight), {"kl_loss": kl, "capacity": weight}
        return weight * kl, {"kl_loss": kl, "beta": weight}

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "schedule": self.schedule,
            "beta_end": self.beta_end,
            "anneal_steps": self.anneal_steps,
            "gamma": self.gamma,
            "capacity_max": self.capacity_max,
        }
