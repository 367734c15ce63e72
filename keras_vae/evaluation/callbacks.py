"""A callback that evaluates a VAE on held-out data during `fit`."""

import numbers

import keras
import numpy as np

from keras_vae import _validation
from keras_vae.evaluation import decomposition
from keras_vae.evaluation import likelihood

METRICS = (
    "elbo",
    "iwae",
    "reconstruction",
    "decomposition",
    "active_units",
    "kl_per_dimension",
)


class EvaluationCallback(keras.callbacks.Callback):
    """Computes evaluation metrics on held-out data every few epochs.

    The values are written into the epoch's `logs` with the prefix
    `prefix` (default `"eval_"`), so they appear in the `History` returned by
    `fit` and, when a `keras.callbacks.TensorBoard` comes after this
    callback in the list, in TensorBoard. On epochs that are skipped the keys
    are absent, as Keras does for `val_*` keys with `validation_freq`.

    Metrics (names in `metrics`) and the keys they log:

    * `"elbo"`: `eval_elbo`, `eval_reconstruction_loss`, `eval_kl_loss`
      (`likelihood.evaluate_elbo`).
    * `"iwae"`: `eval_iwae`, the bound with `iwae_samples` samples
      (`likelihood.iwae_bound`).
    * `"reconstruction"`: `eval_reconstruction_nll`, `eval_reconstruction_mse`
      (`likelihood.reconstruction_error`).
    * `"decomposition"`: `eval_mutual_info`, `eval_total_correlation`,
      `eval_dimwise_kl`, `eval_kl` (`decomposition.kl_decomposition` over the
      aggregate posterior of `data`, or of a random subset of
      `max_examples` of it).
    * `"active_units"`: `eval_active_units` (`likelihood.active_units`).
    * `"kl_per_dimension"`: `eval_kl_dim_0`, `eval_kl_dim_1`, ...

    `extra_metrics` maps a name to a function `fn(model)` returning a number
    or a dict of numbers (other entries, such as per-factor arrays, are
    left out), logged as `eval_<name>` or `eval_<name>_<key>`; for example a
    disentanglement score on a ground-truth dataset:

    ```python
    def mig(model):
        return keras_vae.evaluation.compute_mig(
            dsprites, lambda x: model.encode(x)[0], random_state=0,
            num_train=2000)["mig"]

    callback = EvaluationCallback(x_test, metrics=("elbo", "decomposition"),
                                  extra_metrics={"mig": mig}, every_n_epochs=5)
    model.fit(x_train, epochs=50, callbacks=[callback])
    ```

    On JAX, reading `self.model` copies the training state back into the
    model's variables; the callback does so only on the epochs it evaluates.
    Evaluation draws its noise from numpy with `seed`, so it does not move
    the model's own sampling seed, and every evaluation uses the same draws.

    Args:
        data: held-out images, a numpy array or a `tf.data.Dataset`.
        metrics: names from `METRICS`, at least one unless `extra_metrics`
            is given.
        every_n_epochs: int >= 1; evaluate after epochs n, 2n, ...
        extra_metrics: optional dict of name to `fn(model)`.
        iwae_samples: k of the `"iwae"` metric, int >= 1.
        max_examples: int >= 2 or None; the `"decomposition"` metric uses a
            random subset of this many examples (its cost is quadratic).
        batch_size: int >= 1, examples per batch.
        seed: int seed of all draws.
        prefix: string prepended to every key.
    """

    def __init__(self, data, metrics=("elbo",), every_n_epochs=1,
                 extra_metrics=None, iwae_samples=100, max_examples=2000,
                 batch_size=256, seed=0, prefix="eval_"):
        super().__init__()
        if isinstance(metrics, str):
            metrics = (metrics,)
        self.metrics = tuple(
            _validation.check_choice("metrics", m, METRICS) for m in metrics
        )
        extra_metrics = dict(extra_metrics or {})
        for name, fn in extra_metrics.items():
            if not isinstance(name, str) or not callable(fn):
                raise TypeError(
                    "Argument `extra_metrics` must map names (str) to "
                    "functions fn(model). Received: extra_metrics entry "
                    f"{name!r}: {fn!r}"
                )
        if not self.metrics and not extra_metrics:
            raise ValueError(
                "Pass at least one metric in `metrics` or `extra_metrics`. "
                f"Received: metrics={metrics!r}, extra_metrics={extra_metrics!r}"
            )
        self.extra_metrics = extra_metrics
        self.data = data
        self.every_n_epochs = _validation.check_int(
            "every_n_epochs", every_n_epochs, minimum=1
        )
        self.iwae_samples = _validation.check_int("iwae_samples", iwae_samples, minimum=1)
        if max_examples is not None:
            max_examples = _validation.check_int("max_examples", max_examples, minimum=2)
        self.max_examples = max_examples
        self.batch_size = _validation.check_int("batch_size", batch_size, minimum=1)
        self.seed = _validation.check_int("seed", seed)
        if not isinstance(prefix, str):
            raise TypeError(f"Argument `prefix` must be a string. Received: prefix={prefix!r}")
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every_n_epochs:
            return  # do not touch self.model: on JAX it syncs the state
        results = self.evaluate(self.model)
        if logs is not None:
            logs.update(results)

    def evaluate(self, model):
        """Computes every metric now; returns the dict of prefixed floats."""
        data, size, seed = self.data, self.batch_size, self.seed
        results = {}
        for name in self.metrics:
            if name == "elbo":
                results.update(likelihood.evaluate_elbo(model, data, size, seed=seed))
            elif name == "iwae":
                results["iwae"] = likelihood.iwae_bound(
                    model, data, self.iwae_samples, seed=seed)
            elif name == "reconstruction":
                results.update(likelihood.reconstruction_error(model, data, size))
            elif name == "decomposition":
                results.update(decomposition.evaluate_kl_decomposition(
                    model, data, size, max_examples=self.max_examples, seed=seed))
            elif name == "active_units":
                results["active_units"] = likelihood.active_units(
                    model, data, batch_size=size)
            else:
                kl = likelihood.kl_per_dimension(model, data, size)
                results.update({f"kl_dim_{u}": v for u, v in enumerate(kl)})
        for name, fn in self.extra_metrics.items():
            value = fn(model)
            if isinstance(value, dict):
                results.update({
                    f"{name}_{key}": v for key, v in value.items() if _is_scalar(v)
                })
            elif _is_scalar(value):
                results[name] = value
            else:
                raise TypeError(
                    f"`extra_metrics['{name}']` must return a number or a dict "
                    f"of numbers. Received: {type(value).__name__}"
                )
        return {self.prefix + k: float(v) for k, v in results.items()}


def _is_scalar(value):
    if isinstance(value, bool):
        return False
    if isinstance(value, numbers.Real):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"
