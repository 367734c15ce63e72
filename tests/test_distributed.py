"""Data-parallel training (keras_vae.distributed, keras-vae train --distribute)
on 4 virtual CPU devices: JAX's keras.distribution.DataParallel and
TensorFlow's MirroredStrategy against one device; torch's clear refusal.

The 4-replica runs happen in one fresh process (tests/distributed_worker.py),
because virtual devices must be configured before the framework starts.

Tolerances. Both runs see the same global batches, the same sampling noise
and the same prior draws, so they differ only by float32 rounding (partial
sums per replica, then an all-reduce): measured here, at most ~2e-6 relative
on the losses and ~1e-7 on the weights after 5 SGD steps. The tests allow
1e-4 on both. The errors they guard against are far larger (measured on
TensorFlow by breaking the code on purpose, VAE / MMD-VAE / beta-TCVAE): not
dividing a replica's loss by the number of replicas moves the losses by
316%-400% and the weights by 0.58-0.89; the regularizer's gradient divided
by 4 moves the losses by 0.57%-7.7% and the weights by 0.1-0.18; no gathering
(per-replica batch statistics) moves them by 1.6%-2900% and 0.11-677;
Keras' extra iterator on the data (see BaseVAE._maybe_symbolic_build) moves
the VAE's losses by 0.36% and its weights by 0.034. SGD, not Adam, is used
because Adam is invariant to the scale of the gradients.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keras_vae
from keras_vae import cli
from keras_vae import recipes
from conftest import BACKEND, ROOT

DISTRIBUTED = BACKEND in ("jax", "tensorflow")
needs_engine = pytest.mark.skipif(
    not DISTRIBUTED, reason="Keras 3 has no data-parallel engine for the torch backend")
MODELS = ("VAE", "BetaVAE", "MMDVAE", "BetaTCVAE", "DIPVAE", "AnnealedVAE", "FactorVAE")
RTOL = 1e-4
WEIGHT_ATOL = 1e-4

TINY_RECIPE = textwrap.dedent('''
    from keras_vae.recipes import Recipe

    RECIPE = Recipe(
        name="tiny_digits", description="tiny MMD-VAE on 8x8 digits", model="MMDVAE",
        model_kwargs=dict(input_shape=(8, 8, 1), latent_dim=4, architecture="mlp",
                          network_kwargs={"hidden_units": [32]}),
        dataset="digits", batch_size=32, learning_rate=1e-3, steps=4,
        metrics=("elbo",), references="test recipe",
    )
''')


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("recipe") / "tiny_digits.py"
    path.write_text(TINY_RECIPE)
    return str(path)


@pytest.fixture(scope="module")
def four_replicas(tmp_path_factory, recipe_file):
    """One 4-virtual-device process: every model on 1 and 4 devices, the
    data split, and `keras-vae train --distribute --virtual-devices 4`."""
    if not DISTRIBUTED:
        pytest.skip("Keras 3 has no data-parallel engine for the torch backend")
    out = tmp_path_factory.mktemp("distributed")
    env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3")
    if BACKEND == "jax":  # the documented way; TF uses use_virtual_cpu_devices
        env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "distributed_worker.py"), str(out),
         recipe_file], env=env, capture_output=True, text=True, timeout=420, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise AssertionError(f"worker failed:\n{result.stdout[-3000:]}\n{result.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT "):]), out


@needs_engine
def test_four_replicas_on_four_devices(four_replicas):
    results, _ = four_replicas
    assert results["num_replicas"] == 4
    assert results["devices"] == ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]


@needs_engine
@pytest.mark.parametrize("name", MODELS)
def test_four_replicas_follow_the_one_device_loss_curve(four_replicas, name):
    run = four_replicas[0]["models"][name]
    single, replicated = run["single"]["history"], run["replicated"]["history"]
    assert set(single) == set(replicated) and "loss" in single
    for key in single:  # every reported term, each step: global-batch values
        np.testing.assert_allclose(replicated[key], single[key], rtol=RTOL, atol=1e-6,
                                   err_msg=f"{name} {key}")
    # The weights moved, and moved the same way.
    assert run["single"]["weight_change"] > 0.05
    assert run["weight_diff"] < WEIGHT_ATOL


@needs_engine
@pytest.mark.parametrize("name", MODELS)
def test_step_counter_advances_once_per_global_step(four_replicas, name):
    run = four_replicas[0]["models"][name]
    assert run["single"]["step_counter"] == run["replicated"]["step_counter"] == 5


@needs_engine
def test_annealed_beta_follows_the_global_step(four_replicas):
    history = four_replicas[0]["models"]["BetaVAE"]["replicated"]["history"]
    # linear from 4 to 1 over 4 steps: one value per global step
    np.testing.assert_allclose(history["beta"], [4.0, 3.25, 2.5, 1.75, 1.0], rtol=1e-6)


@needs_engine
def test_capacity_follows_the_global_step(four_replicas):
    history = four_replicas[0]["models"]["AnnealedVAE"]["replicated"]["history"]
    # min(2, 2 * step / 4) at steps 0..4
    np.testing.assert_allclose(history["capacity"], [0.0, 0.5, 1.0, 1.5, 2.0], rtol=1e-6)


@needs_engine
def test_factor_vae_discriminator_moves_as_on_one_device(four_replicas):
    """FactorVAE's codes are permuted over the global batch, as on one device,
    and its discriminator's gradient is the global batch's (not summed R
    times): the discriminator's loss curve and its weights match (the
    weights are checked with all others in the tests above)."""
    run = four_replicas[0]["models"]["FactorVAE"]
    single = run["single"]["history"]["discriminator_loss"]
    np.testing.assert_allclose(run["replicated"]["history"]["discriminator_loss"], single,
                               rtol=RTOL)
    assert len(set(np.round(single, 6))) > 1  # it trained


@needs_engine
def test_each_replica_gets_a_disjoint_slice_of_the_global_batch(four_replicas):
    for step, slices in enumerate(four_replicas[0]["data_split"]):
        assert len(slices) == 4 and all(len(s) == 4 for s in slices)
        assert sorted(sum(slices, [])) == list(range(16 * step, 16 * step + 16))


@needs_engine
def test_a_last_smaller_batch(four_replicas):
    uneven = four_replicas[0]["uneven"]
    if BACKEND == "jax":  # JAX cannot shard 6 examples over 4 devices
        assert "must be multiples of 4" in uneven["error"]
        assert uneven["error"].endswith("Received: 102 examples in batches of 32 (the last of 6)")
    else:  # split 2, 2, 2, 0: the same gradients and reported losses
        np.testing.assert_allclose(uneven["replicated"], uneven["single"], rtol=RTOL)
        assert uneven["weight_diff"] < WEIGHT_ATOL


@needs_engine
def test_global_batch_must_split_evenly(four_replicas):
    error = four_replicas[0]["odd_batch_error"]
    assert error and "multiple of the number of replicas (4)" in error
    assert error.endswith("Received: batch_size=30")


@needs_engine
def test_cli_trains_data_parallel_then_evaluates_and_exports(four_replicas):
    results, out = four_replicas
    assert results["cli_exit"] == 0
    meta = json.loads((out / "run" / "preset" / "metadata.json").read_text())
    assert meta["steps"] == 3 and meta["replicas"] == 4
    assert "test_elbo" in meta["metrics"] and np.isfinite(meta["metrics"]["test_elbo"])
    assert os.path.isfile(out / "run" / "export" / "saved_model.pb")
    model = keras_vae.from_preset(str(out / "run" / "preset"))  # one device, here
    assert model.reconstruct(np.zeros((2, 8, 8, 1), "float32")).shape == (2, 8, 8, 1)


# === Arguments and errors (in this process: one device) ===

@needs_engine
@pytest.mark.parametrize("devices, error, match", [
    (0, ValueError, "between 1 and the number of local devices"),
    (99, ValueError, "Received: devices=99"),
    (True, TypeError, "Received: devices=True"),
    ("cpu:0", TypeError, "must be None, an int or a list"),
    (["tpu:7"], ValueError, "distinct local"),
    (["cpu:0", "cpu:0"], ValueError, "distinct local"),
    ([], ValueError, "distinct local"),
])
def test_bad_devices_raise(devices, error, match):
    with pytest.raises(error, match=match) as info:
        keras_vae.distributed(devices=devices)
    assert "Received:" in str(info.value)


@needs_engine
def test_bad_multi_worker_arguments_raise():
    with pytest.raises(TypeError, match="Received: multi_worker='yes'"):
        keras_vae.distributed(multi_worker="yes")
    with pytest.raises(ValueError, match="Received: devices=1, multi_worker=True"):
        keras_vae.distributed(devices=1, multi_worker=True)


@needs_engine
def test_one_device_scope():
    scope = keras_vae.distributed(devices=1)
    assert scope.num_replicas == 1 and len(scope.devices) == 1
    assert scope.devices[0] in ("cpu:0", "gpu:0")
    with scope as entered:
        assert entered is scope
        model = keras_vae.VAE(input_shape=(8, 8, 1), latent_dim=2, architecture="mlp",
                              network_kwargs={"hidden_units": [8]})
        model.compile()
        history = model.fit(np.zeros((8, 8, 8, 1), "float32"), batch_size=4, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_recipes_train_rejects_a_bad_distribute(tmp_path, recipe_file):
    recipe = recipes.load_recipe(recipe_file)
    with pytest.raises(TypeError, match="Received: distribute='yes'"):
        recipes.train(recipe, str(tmp_path), steps=1, distribute="yes")


def test_cli_device_options_need_distribute(capsys, recipe_file):
    assert cli.main(["train", recipe_file, "--steps", "1", "--devices", "2"]) == 1
    assert "--devices needs --distribute" in capsys.readouterr().err


@pytest.mark.skipif(BACKEND != "torch", reason="the torch backend's refusal")
def test_torch_says_plainly_what_is_not_supported(capsys, recipe_file):
    for call in (keras_vae.distributed, lambda: keras_vae.distribute.use_virtual_cpu_devices(4)):
        with pytest.raises(NotImplementedError, match="not supported on the torch backend") as info:
            call()
        assert "KERAS_BACKEND=jax or KERAS_BACKEND=tensorflow" in str(info.value)
        assert str(info.value).endswith("Received: backend='torch'")
    assert cli.main(["train", recipe_file, "--steps", "1", "--distribute"]) == 1
    err = capsys.readouterr().err
    assert "not supported on the torch backend" in err and "Traceback" not in err


# === Several hosts, simulated by two processes on this machine ===

MULTI_WORKER_CODE = textwrap.dedent('''
    import json, sys
    import keras_vae
    from keras_vae import recipes

    scope = keras_vae.distributed(multi_worker=True)
    recipe = recipes.load_recipe(sys.argv[1])
    model, history, _ = recipes.train(recipe, sys.argv[2], steps=3, steps_per_epoch=2,
                                      verbose=0, distribute=scope)
    print("RESULT " + json.dumps({"replicas": scope.num_replicas, "loss": history["loss"],
                                  "describe": scope.describe()}))
''')


def _free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@needs_engine
def test_two_workers_follow_the_one_device_loss_curve(tmp_path, recipe_file):
    """The multi-host setup of the docs (KERAS_DISTRIBUTION_* on JAX,
    TF_CONFIG on TensorFlow), with two local processes of one CPU each."""
    ports = _free_ports(2)
    processes = []
    for index in range(2):
        env = dict(os.environ, KERAS_BACKEND=BACKEND, TF_CPP_MIN_LOG_LEVEL="3")
        env.pop("XLA_FLAGS", None)
        if BACKEND == "jax":
            env.update(KERAS_DISTRIBUTION_JOB_ADDRESSES=f"localhost:{ports[0]}",
                       KERAS_DISTRIBUTION_NUM_PROCESSES="2",
                       KERAS_DISTRIBUTION_PROCESS_ID=str(index))
        else:
            env["TF_CONFIG"] = json.dumps({
                "cluster": {"worker": [f"localhost:{p}" for p in ports]},
                "task": {"type": "worker", "index": index}})
        processes.append(subprocess.Popen(
            [sys.executable, "-c", MULTI_WORKER_CODE, recipe_file,
             str(tmp_path / f"worker{index}")],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT))
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for p in processes:
                p.kill()
            raise
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        assert process.returncode == 0 and lines, f"{out[-2000:]}\n{err[-4000:]}"
        results.append(json.loads(lines[-1][len("RESULT "):]))
    single = recipes.train(recipes.load_recipe(recipe_file), str(tmp_path / "single"),
                           steps=3, steps_per_epoch=2, verbose=0)[1]
    for result in results:
        assert result["replicas"] == 2
        assert ("MultiWorkerMirroredStrategy" in result["describe"]) == (BACKEND == "tensorflow")
        np.testing.assert_allclose(result["loss"], single["loss"], rtol=RTOL)
