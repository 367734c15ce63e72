"""Run directories: atomic checkpoints under SIGKILL, fallback to the previous
checkpoint, manifests that refuse another run's state, atomic presets and
exports."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

import keras_vae
from keras_vae import _atomic
from keras_vae import _runs
from keras_vae import presets
from keras_vae import recipes
from keras_vae import training
from conftest import BACKEND, ROOT, tiny_model, variable_value

RECIPE_FILE = os.path.join(ROOT, "tests", "data", "tiny_digits_recipe.py")

# Trains the tiny recipe into OUT for STEPS steps with a checkpoint every
# step, printing the step it resumed at and the first logged beta.
WORKER = """
import sys
from keras_vae import _runs, recipes, training
out, steps = sys.argv[1], int(sys.argv[2])
restore = _runs.restore
def reporting_restore(model, out, verbose=True):
    step = restore(model, out, verbose)
    print("RESUMED", step, flush=True)
    return step
_runs.restore = reporting_restore
recipe = recipes.load_recipe(sys.argv[3])
model, history, _ = training.train(recipe, out, steps=steps, steps_per_epoch=1, verbose=0)
print("FIRST_BETA", history["beta"][0] if history else "none", flush=True)
"""


def _beta(step):
    """The tiny recipe's linear schedule: 4 -> 1 over 400 steps."""
    return 4.0 - 3.0 * min(step / 400, 1.0)


def _start(out, steps, backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-c", WORKER, str(out), str(steps), RECIPE_FILE],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _steps_done(out):
    try:
        return json.loads((out / _runs.MANIFEST).read_text()).get("steps_done", 0)
    except (OSError, ValueError):
        return 0


def _kill_during_a_write(process, out, rng, timeout=60):
    """SIGKILLs `process` while it writes its checkpoint (or, one time in
    four, its manifest): when its temporary file appears, after 1-4 such
    writes and a random delay of 0-2 ms. Returns the steps the manifest
    recorded as complete before the kill, stdout and stderr."""
    skip = rng.randrange(1, 5)
    target = _runs.MANIFEST if rng.random() < 0.25 else _runs.CHECKPOINT
    seen_temp = False
    last_done = 0
    deadline = time.time() + timeout
    mine = f".{target}.tmp-{process.pid}-"  # not those a killed run left behind
    while time.time() < deadline and process.poll() is None:
        temp = (any(name.startswith(mine) for name in os.listdir(out))
                if out.exists() else False)
        if temp and not seen_temp:
            if skip == 0:
                time.sleep(rng.uniform(0, 0.002))
                last_done = max(last_done, _steps_done(out))
                process.send_signal(signal.SIGKILL)
                break
            skip -= 1
        seen_temp = temp
        last_done = max(last_done, _steps_done(out))
        time.sleep(0.0003)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, f"not killed:\n{stdout}\n{stderr[-3000:]}"
    return last_done, stdout, stderr


def _resumed_at(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("RESUMED")]
    return int(lines[-1].split()[1]) if lines else None


def _kill_and_resume(tmp_path, kills, backend, steps):
    out = tmp_path / "run"
    rng = random.Random(os.getpid())
    complete = 0
    for i in range(kills):
        last_done, stdout, stderr = _kill_during_a_write(_start(out, steps, backend), out, rng)
        resumed = _resumed_at(stdout)
        assert resumed is not None and resumed >= (complete if i else 0), (stdout, stderr)
        assert "damaged" not in stderr, stderr  # the newest checkpoint was always whole
        complete = max(complete, last_done)
    process = _start(out, steps, backend)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-3000:]
    assert "damaged" not in stderr, stderr
    resumed = _resumed_at(stdout)
    # Resumed from the last complete checkpoint: at least the steps the
    # manifest had recorded before the last kill (written after the rename).
    assert 1 <= complete <= resumed < steps, (complete, resumed)
    first_beta = float(stdout.split("FIRST_BETA")[1].split()[0])
    assert first_beta == pytest.approx(_beta(resumed), abs=1e-5)  # the schedule went on
    recipe = recipes.load_recipe(RECIPE_FILE)
    model = recipes.build_model(recipe)
    model.load_weights(str(out / _runs.CHECKPOINT))
    assert int(variable_value(model.step_counter)) == steps
    assert int(variable_value(model.optimizer.iterations)) == steps  # optimizer state kept
    assert presets.read_json(out / "preset" / presets.METADATA_FILE)["steps"] == steps
    assert not [n for n in os.listdir(out) if ".tmp-" in n or ".partial-" in n]


@pytest.mark.skipif(BACKEND != "tensorflow",
                    reason="checkpointing is backend-independent code; the slow test "
                           "repeats it on every backend")
def test_sigkill_during_checkpoint_writes_resumes_from_the_last_complete(tmp_path):
    _kill_and_resume(tmp_path, kills=3, backend="tensorflow", steps=80)


@pytest.mark.slow
def test_sigkill_during_checkpoint_writes_many_times(tmp_path):
    _kill_and_resume(tmp_path, kills=10, backend=BACKEND, steps=150)


def _tiny(**changes):
    import dataclasses

    return dataclasses.replace(recipes.load_recipe(RECIPE_FILE), **changes)


def test_damaged_checkpoint_falls_back_to_the_previous_one(tmp_path, capfd):
    recipe = _tiny()
    training.train(recipe, str(tmp_path), steps=3, steps_per_epoch=1, verbose=0)
    with open(tmp_path / _runs.CHECKPOINT, "r+b") as f:  # a torn write
        f.truncate(800)
    capfd.readouterr()
    model, _, _ = training.train(recipe, str(tmp_path), steps=4, steps_per_epoch=1, verbose=0)
    err = capfd.readouterr().err
    warnings = [line for line in err.splitlines() if "keras-vae: warning" in line]
    assert any("damaged" in line and _runs.CHECKPOINT in line for line in warnings), err
    # Resumed at step 2 (the previous checkpoint), then two steps to 4.
    assert int(variable_value(model.step_counter)) == 4
    assert int(variable_value(model.optimizer.iterations)) == 4
    assert "resumed from the previous checkpoint" in err
    for name in (_runs.CHECKPOINT, _runs.PREVIOUS):  # both whole again
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(_runs.StaleRunError, match=r"No checkpoint in .* can be loaded.*--force"):
        training.train(recipe, str(tmp_path), steps=5, steps_per_epoch=1, verbose=0)


def test_a_rerun_of_another_run_is_refused_unless_forced(tmp_path):
    training.train(_tiny(), str(tmp_path), steps=2, steps_per_epoch=1, verbose=0)
    other = _tiny(name="other", model="VAE", model_kwargs=dict(
        input_shape=(8, 8, 1), latent_dim=3, architecture="mlp",
        network_kwargs={"hidden_units": [16]}))
    with pytest.raises(_runs.StaleRunError) as info:
        training.train(other, str(tmp_path), steps=2, steps_per_epoch=1, verbose=0)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path) in message and "--force" in message
    assert "recipe='tiny_digits' there, 'other' now" in message
    with pytest.raises(_runs.StaleRunError, match="seed=0 there, 1 now"):
        training.train(_tiny(), str(tmp_path), steps=2, seed=1, verbose=0)
    model, _, _ = training.train(other, str(tmp_path), steps=2, steps_per_epoch=1, verbose=0,
                                 force=True)
    assert type(model) is keras_vae.VAE and int(variable_value(model.step_counter)) == 2
    meta = presets.read_json(tmp_path / "preset" / presets.METADATA_FILE)
    assert meta["recipe"] == "other"
    assert type(keras_vae.from_preset(str(tmp_path / "preset"))) is keras_vae.VAE


def test_learning_rate_change_is_applied_and_wall_time_adds_up(tmp_path):
    training.train(_tiny(), str(tmp_path), steps=2, steps_per_epoch=1, verbose=0)
    first = _runs.read_manifest(str(tmp_path))
    model, _, seconds = training.train(_tiny(learning_rate=5e-4), str(tmp_path), steps=3,
                                       steps_per_epoch=1, verbose=0)
    assert float(variable_value(model.optimizer.learning_rate)) == pytest.approx(5e-4)
    manifest = _runs.read_manifest(str(tmp_path))
    assert manifest["learning_rates"] == [[0, 1e-3], [2, 5e-4]]
    assert manifest["learning_rate"] == 5e-4 and manifest["steps_done"] == 3
    assert manifest["wall_time_s"] >= first["wall_time_s"] + 0.9 * seconds
    meta = presets.read_json(tmp_path / "preset" / presets.METADATA_FILE)
    assert meta["learning_rates"] == [[0, 1e-3], [2, 5e-4]]
    assert meta["wall_time_s"] == pytest.approx(manifest["wall_time_s"], abs=0.1)


def test_unwritable_or_bad_out_is_refused_before_training(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError, match="a_file"):
        training.train(_tiny(), str(blocker), steps=1, verbose=0)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes anywhere: make the probe fail as it would
        def refuse(path, *args, **kwargs):
            raise PermissionError(13, "Permission denied", path)

        import builtins

        real_open = builtins.open
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_runs, "open", lambda path, *a, **k: refuse(path) if str(
                locked) in str(path) else real_open(path, *a, **k), raising=False)
            with pytest.raises(PermissionError, match="locked.*Permission denied"):
                training.train(_tiny(), str(locked), steps=1, verbose=0)
    else:
        with pytest.raises(PermissionError, match="locked"):
            training.train(_tiny(), str(locked), steps=1, verbose=0)
    for kwargs, name in ((dict(steps=0), "steps"), (dict(steps_per_epoch=0), "steps_per_epoch"),
                         (dict(seed=-1), "seed"), (dict(seed=2**70), "seed")):
        with pytest.raises(ValueError, match=name):
            training.train(_tiny(), str(tmp_path / "run"), verbose=0, **kwargs)
    with pytest.raises(ValueError, match="learning_rate"):
        training.train(_tiny(learning_rate=-1e-3), str(tmp_path / "run"), verbose=0)
    assert not (tmp_path / "run" / _runs.CHECKPOINT).exists()


def test_epoch_chunks_reach_the_target_from_any_step():
    for done in range(0, 12):
        for steps in range(done, 14):
            for per_epoch in (1, 2, 3, 5):
                chunks = training._epoch_chunks(done, steps, per_epoch)
                assert sum((e - i) * n for i, e, n in chunks) == steps - done
                ends, step = [], done
                for first, epochs, length in chunks:
                    for _ in range(first, epochs):
                        step += length
                        ends.append(step)
                # Checkpoints on every multiple of per_epoch passed, and at the end.
                want = sorted({s for s in range(done + 1, steps + 1) if s % per_epoch == 0}
                              | ({steps} if steps > done else set()))
                assert ends == want, (done, steps, per_epoch, chunks)


# === Presets and exports under SIGKILL ===

WRITER = """
import sys, itertools
import keras_vae
from keras_vae import presets
model = keras_vae.VAE(input_shape=(8, 8, 1), latent_dim=2, architecture="mlp",
                      network_kwargs={"hidden_units": [8]}, seed=0)
preset, export = sys.argv[1], sys.argv[2]
for i in itertools.count():
    model.encoder.layers[-1].kernel.assign(model.encoder.layers[-1].kernel + 1.0)
    presets.save_preset(model, preset, {"version": i}, overwrite=True)
    if export != "-":
        keras_vae.export(model, export, overwrite=True)
    print("WROTE", i, flush=True)
"""


def _kill_writer_at_random(tmp_path, rng, with_export):
    preset, export = tmp_path / "preset", tmp_path / "export"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(preset), str(export) if with_export else "-"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 90
    # Kill while the writer stages its 2nd-5th folder, after 0-50 ms.
    mine = f".partial-{process.pid}-"
    seen, wanted = set(), rng.randrange(2, 6)
    while time.time() < deadline and process.poll() is None:
        seen |= {name for name in os.listdir(tmp_path) if mine in name}
        if len(seen) >= wanted:
            time.sleep(rng.uniform(0, 0.05))
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.0005)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return preset, export


def _whole_preset_or_none(preset):
    """The kill left the previous preset, the new one, or (killed between
    two renames) a backup that the next writer restores."""
    _atomic.remove_stale(preset)
    if not preset.exists():
        return None
    return keras_vae.from_preset(str(preset))  # verifies every checksum


def test_presets_and_exports_survive_sigkill(tmp_path):
    rng = random.Random(os.getpid())
    with_export = BACKEND == "tensorflow"
    for _ in range(3):
        preset, export = _kill_writer_at_random(tmp_path, rng, with_export)
        assert _whole_preset_or_none(preset) is not None  # a first one was complete
        if with_export:
            _atomic.remove_stale(export)
            if export.exists():
                files = set(os.listdir(export))
                assert {"saved_model.pb", "variables", "assets.extra"} <= files, files
                manifest = json.loads((export / "assets.extra" / "keras_vae.json").read_text())
                assert manifest["latent_dim"] == 2
        leftovers = [n for n in os.listdir(tmp_path) if ".partial-" in n or ".old-" in n]
        assert not leftovers, leftovers
