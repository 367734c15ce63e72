"""Schedules step by step, in BetaVAE training, and across save/resume."""

import math

import keras
import numpy as np
import pytest
from keras import ops

import keras_vae
from keras_vae import schedules
from testing import tiny_model, variable_value


def values(schedule, steps):
    return [float(ops.convert_to_numpy(schedule.value(s))) for s in steps]


def test_schedule_values_step_by_step():
    assert values(schedules.Constant(4.0), [0, 10, 10**6]) == [4.0, 4.0, 4.0]
    np.testing.assert_allclose(values(schedules.LinearAnneal(10.0, 1.0, 4), range(7)),
                               [10, 7.75, 5.5, 3.25, 1, 1, 1], rtol=1e-6)
    cosine = [1 + 9 * 0.5 * (1 + math.cos(math.pi * min(s / 4, 1))) for s in range(7)]
    np.testing.assert_allclose(values(schedules.CosineAnneal(10.0, 1.0, 4), range(7)),
                               cosine, rtol=1e-6)
    with pytest.raises(ValueError, match="steps"):
        schedules.LinearAnneal(10.0, 1.0, 0)
    config = schedules.CosineAnneal(8.0, 1.0, 100).get_config()
    assert schedules.CosineAnneal.from_config(config).get_config() == config


def _fit_steps(model, x, steps, **kwargs):
    model.fit(x[: 8 * steps], batch_size=8, epochs=1, verbose=0, shuffle=False, **kwargs)


@pytest.mark.parametrize(
    "schedule, expected",
    [
        ("linear", [10.0, 7.75, 5.5, 3.25]),
        ("cosine", [1 + 9 * 0.5 * (1 + math.cos(math.pi * s / 4)) for s in range(4)]),
    ],
)
def test_beta_anneals_once_per_training_step(schedule, expected, digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaVAE, beta=10.0, schedule=schedule, anneal_steps=4)
    model.compile()
    history = model.fit(x[:32], batch_size=8, epochs=2, verbose=0, shuffle=False,
                        validation_data=x[:16])
    # Epoch 1 used steps 0..3; epoch 2 steps 4..7, all at beta_end = 1.
    assert history.history["beta"][0] == pytest.approx(np.mean(expected), rel=1e-5)
    assert history.history["beta"][1] == pytest.approx(1.0)
    assert int(variable_value(model.step_counter)) == 8  # validation did not advance it
    assert float(ops.convert_to_numpy(model.current_weight())) == pytest.approx(1.0)


def test_capacity_schedule_reports_capacity(digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaVAE, schedule="capacity", capacity_max=20.0,
                       anneal_steps=10, gamma=100.0)
    model.compile()
    h = model.fit(x[:40], batch_size=8, epochs=1, verbose=0, shuffle=False).history
    assert "capacity" in h and "beta" not in h
    assert h["capacity"][0] == pytest.approx(np.mean([2.0 * s for s in range(5)]), rel=1e-5)


def test_schedule_resumes_after_save_and_load(tmp_path, digits):
    x, _ = digits
    kwargs = dict(beta=10.0, schedule="linear", anneal_steps=6)
    model = tiny_model(keras_vae.BetaVAE, **kwargs)
    model.compile()
    _fit_steps(model, x, 3)
    path = str(tmp_path / "run.weights.h5")
    model.save_weights(path)

    resumed = tiny_model(keras_vae.BetaVAE, **kwargs)
    resumed.compile()
    resumed.load_weights(path)
    assert int(variable_value(resumed.step_counter)) == 3
    assert int(variable_value(resumed.optimizer.iterations)) == 3  # Adam state too
    h = resumed.fit(x[:16], batch_size=8, epochs=1, verbose=0, shuffle=False).history
    # Steps 3 and 4 of a 10 -> 1 linear anneal over 6 steps: 5.5 and 4.0.
    assert h["beta"][0] == pytest.approx((5.5 + 4.0) / 2, rel=1e-5)
    assert int(variable_value(resumed.step_counter)) == 5


def test_evaluate_does_not_advance_the_schedule(digits):
    x, _ = digits
    model = tiny_model(keras_vae.BetaVAE, beta=10.0, schedule="linear", anneal_steps=4)
    model.compile()
    model.evaluate(x[:64], batch_size=8, verbose=0)
    assert int(variable_value(model.step_counter)) == 0
