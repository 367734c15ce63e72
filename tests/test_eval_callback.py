"""EvaluationCallback: held-out metrics in the History of fit."""

import keras
import numpy as np
import pytest

import keras_vae
from testing import tiny_model
from keras_vae.evaluation import EvaluationCallback
from keras_vae.evaluation import knn_accuracy


class LogsSpy(keras.callbacks.Callback):
    """Stands for TensorBoard: records the logs of the callbacks after ours."""

    def __init__(self):
        super().__init__()
        self.logs = []

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))


class CountingCallback(EvaluationCallback):
    """Counts evaluations and reads of `self.model` (a JAX state sync)."""

    reads = 0

    @property
    def model(self):
        self.reads += 1
        return super().model

    @model.setter
    def model(self, value):
        self._model = value


def test_metrics_are_logged_every_n_epochs(digits):
    x, labels = digits
    held_out, held_out_labels = x[1500:], labels[1500:]

    def probe(model):
        codes = model.encode(held_out)[0]
        return {"knn": knn_accuracy(codes, held_out_labels, seed=0), "codes": codes}

    callback = CountingCallback(
        held_out,
        metrics=("elbo", "iwae", "reconstruction", "decomposition", "active_units",
                 "kl_per_dimension"),
        every_n_epochs=2, iwae_samples=10, batch_size=100, max_examples=200,
        extra_metrics={"probe": probe, "constant": lambda model: 1.5},
    )
    spy = LogsSpy()
    model = tiny_model(keras_vae.BetaTCVAE, dataset_size=500)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    h = model.fit(x[:500], epochs=3, batch_size=100, verbose=0,
                  callbacks=[callback, spy]).history

    keys = {"eval_elbo", "eval_reconstruction_loss", "eval_kl_loss", "eval_iwae",
            "eval_reconstruction_nll", "eval_reconstruction_mse", "eval_mutual_info",
            "eval_total_correlation", "eval_dimwise_kl", "eval_kl", "eval_active_units",
            "eval_probe_knn", "eval_constant"} | {f"eval_kl_dim_{u}" for u in range(4)}
    assert keys <= set(h)
    assert "eval_probe_codes" not in h  # arrays are left out
    assert all(len(h[k]) == 1 for k in keys)  # epoch 2 only
    assert len(h["loss"]) == 3
    assert all(np.isfinite(h[k]).all() for k in keys)
    assert keys <= set(spy.logs[1]) and not keys & (set(spy.logs[0]) | set(spy.logs[2]))
    assert callback.reads == 1  # self.model only on evaluated epochs
    # A second evaluation by hand with the same seed gives the same numbers
    # (training has moved on by one epoch, so compare with a fresh call).
    again = callback.evaluate(model)
    direct = keras_vae.evaluation.evaluate_elbo(model, held_out, batch_size=100)
    assert again["eval_elbo"] == pytest.approx(direct["elbo"], rel=1e-5)
    assert again["eval_iwae"] > again["eval_elbo"] - 0.2
    assert h["eval_elbo"][0] > -60.0  # nats per 8x8 digit, from ~-44 untrained


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(metrics=("elbo", "fid")), ValueError, "metrics"),
    (dict(metrics=()), ValueError, "at least one metric"),
    (dict(every_n_epochs=0), ValueError, "every_n_epochs"),
    (dict(iwae_samples=0), ValueError, "iwae_samples"),
    (dict(extra_metrics={"mig": 3.0}), TypeError, "extra_metrics"),
    (dict(max_examples=1), ValueError, "max_examples"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        EvaluationCallback(np.zeros((4, 8, 8, 1), "float32"), **kwargs)


def test_extra_metric_with_a_bad_result_raises(digits):
    x, _ = digits
    callback = EvaluationCallback(x[:50], metrics=(), extra_metrics={"bad": lambda m: "high"})
    with pytest.raises(TypeError, match=r"extra_metrics\['bad'\].*Received: str"):
        callback.evaluate(tiny_model(keras_vae.VAE))
