"""Bad-input sweep: what a careless or hostile user may pass, and what comes back.

Runs every case under the current backend and classifies it:

- clear: the expected error type (ValueError, TypeError, OSError, ...) whose
  message is one line and names the argument or file (CLI: exit code != 0
  and one line on stderr);
- handled: a case whose right answer is to go on (an upper-case checksum, a
  damaged checkpoint that falls back to the previous one with a warning);
- unclear: an error, but another type, several lines or no name;
- silent: no error where one was due;
- broken: the model no longer predicts the same reconstructions afterwards.

Usage (one backend per process):

    KERAS_BACKEND=jax python bench/bad_inputs.py [--verbose]
"""

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_vae  # noqa: E402
from keras_vae import _runs  # noqa: E402
from keras_vae import cli  # noqa: E402
from keras_vae import presets  # noqa: E402
from keras_vae import recipes  # noqa: E402

CLEAR_TYPES = (ValueError, TypeError, OSError, FloatingPointError, ImportError)
TINY_RECIPE = os.path.join(ROOT, "tests", "data", "tiny_digits_recipe.py")


def digits():
    from sklearn.datasets import load_digits

    return (load_digits().images / 16.0).astype("float32")[..., None]


def tiny(cls=keras_vae.VAE, **kwargs):
    args = dict(input_shape=(8, 8, 1), latent_dim=4, architecture="mlp",
                network_kwargs={"hidden_units": [16]}, seed=0)
    return cls(**{**args, **kwargs})


class Sweep:
    def __init__(self, verbose):
        self.verbose = verbose
        self.results = []

    def record(self, name, outcome, detail=""):
        self.results.append((name, outcome, detail))
        if self.verbose or outcome not in ("clear", "handled"):
            print(f"  {outcome:8s} {name}: {detail[:200]}")

    def expect_error(self, name, call, word, model=None, reference=None, x=None):
        """Runs `call`; clear if it raises a clear type with a one-line
        message holding `word`; then checks the model is unchanged."""
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                call()
        except CLEAR_TYPES as e:
            text = str(e)
            if "\n" in text.strip() or word not in text or len(text) > 1200:
                self.record(name, "unclear", f"{type(e).__name__}: {text!r}")
            else:
                self.record(name, "clear", f"{type(e).__name__}: {text}")
        except Exception as e:  # noqa: BLE001 - classifying what leaked
            self.record(name, "unclear", f"{type(e).__name__}: {str(e)[:300]!r}")
        else:
            self.record(name, "silent", "no error")
        if model is not None:
            self.check_usable(name, model, reference, x)

    def check_usable(self, name, model, reference, x):
        try:
            again = model.predict(x)
            ok = np.allclose(again, reference, atol=1e-6)
        except Exception as e:  # noqa: BLE001
            ok, again = False, e
        if not ok:
            self.results[-1] = (name, "broken", f"model changed or unusable: {again!r}"[:300])
            print(f"  broken   {name}")

    def expect_ok(self, name, call, check):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                value = call()
            good = check(value)
        except Exception as e:  # noqa: BLE001
            self.record(name, "unclear", f"{type(e).__name__}: {str(e)[:300]!r}")
            return
        self.record(name, "handled" if good else "silent", "went on as it should"
                    if good else f"wrong result {value!r}"[:200])

    def expect_cli(self, name, argv, word, env_backend=None):
        if env_backend is not None:
            env = dict(os.environ, KERAS_BACKEND=env_backend, PYTHONPATH=ROOT)
            result = subprocess.run([sys.executable, "-m", "keras_vae.cli"] + argv, env=env,
                                    capture_output=True, text=True, timeout=300)
            code, err = result.returncode, result.stderr
        else:
            err_buffer = io.StringIO()
            with contextlib.redirect_stderr(err_buffer), \
                    contextlib.redirect_stdout(io.StringIO()):
                try:
                    code = cli.main(argv)
                except SystemExit as e:
                    code = e.code
                except Exception as e:  # noqa: BLE001
                    code, err_buffer = "raised", io.StringIO(f"{type(e).__name__}: {e}")
            err = err_buffer.getvalue()
        lines = [line for line in err.splitlines() if line.strip()]
        if code in (0, None):
            self.record(name, "silent", "exit 0")
        elif len(lines) == 1 and word in lines[0] and "Traceback" not in err:
            self.record(name, "clear", lines[0])
        else:
            self.record(name, "unclear", f"exit {code}: {err[-300:]!r}")


def model_cases(sweep, x):
    import jax.numpy as jnp
    import torch

    model = tiny()
    model.compile()
    model.fit(x[:64], batch_size=32, verbose=0)
    good = x[:16]
    reference = model.predict(good)

    def bad(name, call, word):
        sweep.expect_error(name, call, word, model, reference, good)

    empty = x[:0]
    for entry, call in {
        "fit": lambda d: model.fit(d, verbose=0),
        "evaluate": lambda d: model.evaluate(d, verbose=0),
        "predict": lambda d: model.predict(d),
        "reconstruct": lambda d: model.reconstruct(d),
        "encode": lambda d: model.encode(d),
    }.items():
        bad(f"{entry}(empty array)", lambda c=call: c(empty), "`x`")
        bad(f"{entry}(empty dataset)",
            lambda c=call: c(tf.data.Dataset.from_tensor_slices(empty).batch(4)), "`x`")
    bad("decode(empty codes)", lambda: model.decode(np.zeros((0, 4))), "`z`")
    kinds = {
        "numpy": lambda a: a, "tf.constant": tf.constant, "jax array": jnp.asarray,
        "torch tensor": lambda a: torch.from_numpy(np.ascontiguousarray(a)),
        "tf.data": lambda a: tf.data.Dataset.from_tensor_slices(a).batch(16),
        "nested list": lambda a: a.tolist(),
    }
    nan = np.where(good > 0.5, np.nan, good).astype("float32")
    for kind, make in kinds.items():
        bad(f"fit(x * 2 as {kind})", lambda m=make: model.fit(m(x[:64] * 2), verbose=0), "`x`")
        bad(f"encode(NaN {kind})", lambda m=make: model.encode(m(nan)), "`x`")
        bad(f"predict(wrong shape {kind})", lambda m=make: model.predict(m(good[..., 0])), "x")
    bad("fit(dataset of dicts)", lambda: model.fit(
        tf.data.Dataset.from_tensor_slices({"image": x[:64]}).batch(16), verbose=0), "`x`")
    bad("fit(dataset of (x, y, w))", lambda: model.fit(
        tf.data.Dataset.from_tensor_slices((x[:64], x[:64], np.ones(64))).batch(16),
        verbose=0), "sample_weight")
    weights = np.ones(64, "float32")
    bad("fit(sample_weight=)", lambda: model.fit(x[:64], sample_weight=weights, verbose=0),
        "sample_weight")
    bad("evaluate(sample_weight=)", lambda: model.evaluate(x[:64], sample_weight=weights,
                                                           verbose=0), "sample_weight")
    bad("fit(class_weight=)", lambda: model.fit(x[:64], class_weight={0: 1.0}, verbose=0),
        "class_weight")
    bad("fit(validation_data=(x, y, w))", lambda: model.fit(
        x[:64], validation_data=(x[:64], x[:64], weights), verbose=0), "sample_weight")
    bad("fit(x, labels)", lambda: model.fit(x[:64], np.arange(64), verbose=0), "y")
    for arg, value in (("batch_size", 0), ("batch_size", -4), ("epochs", 0), ("epochs", -3),
                       ("steps_per_epoch", 0), ("validation_split", -0.2),
                       ("validation_split", 1.0), ("validation_split", float("nan")),
                       ("initial_epoch", 5)):
        bad(f"fit({arg}={value})", lambda a=arg, v=value: model.fit(x[:64], verbose=0, **{a: v}),
            arg)
    bad("evaluate(batch_size=0)", lambda: model.evaluate(x[:64], batch_size=0, verbose=0),
        "batch_size")
    bad("reconstruct(batch_size=0)", lambda: model.reconstruct(good, batch_size=0),
        "batch_size")
    bad("encode(batch_size=-1)", lambda: model.encode(good, batch_size=-1), "batch_size")
    bad("decode(batch_size=0)", lambda: model.decode(np.zeros((2, 4)), batch_size=0),
        "batch_size")
    bad("fit(ragged nested list)", lambda: model.fit([[0.5, 0.5], [0.5]], verbose=0), "`x`")
    bad("fit(list of strings)", lambda: model.fit([["a"] * 8] * 8, verbose=0), "`x`")
    bad("fit(dict x)", lambda: model.fit({"image": x[:64]}, verbose=0), "`x`")
    bad("fit(string x)", lambda: model.fit("images.npy", verbose=0), "`x`")
    bad("sample(seed=-1)", lambda: model.sample(2, seed=-1), "seed")
    bad("sample(seed=2**70)", lambda: model.sample(2, seed=2**70), "seed")
    bad("sample(0)", lambda: model.sample(0), "n")
    bad("decode(wrong width)", lambda: model.decode(np.zeros((2, 3))), "z")
    bad("decode(NaN)", lambda: model.decode(np.full((2, 4), np.nan)), "z")
    bad("compile(loss=)", lambda: model.compile(loss="mse"), "loss")
    bad("compile(Adam(-1e-3))", lambda: model.compile(optimizer=keras.optimizers.Adam(-1e-3)),
        "learning_rate")
    bad("compile(Adam(nan))",
        lambda: model.compile(optimizer=keras.optimizers.Adam(float("nan"))), "learning_rate")
    sweep.expect_ok("predict(valid nested list)", lambda: model.predict(good.tolist()),
                    lambda out: np.allclose(out, reference, atol=1e-6))
    # A bad batch after good ones: the good steps are taken (weights change),
    # then a clear error, and the model must still work.
    other = tiny()
    other.compile()
    mixed = tf.data.Dataset.from_tensor_slices(np.concatenate([x[:16], x[16:32] * 3])).batch(16)
    sweep.expect_error("fit(dataset, 2nd batch out of range)",
                       lambda: other.fit(mixed, verbose=0), "between")
    sweep.expect_ok("  ... then the model still predicts", lambda: other.predict(good),
                    lambda out: np.isfinite(out).all())


def constructor_cases(sweep):
    for cls, kwargs, word in (
        (keras_vae.VAE, dict(seed=-1), "seed"),
        (keras_vae.VAE, dict(seed=2**70), "seed"),
        (keras_vae.VAE, dict(seed="0"), "seed"),
        (keras_vae.VAE, dict(latent_dim=0), "latent_dim"),
        (keras_vae.VAE, dict(input_shape=(8, 8)), "input_shape"),
        (keras_vae.VAE, dict(likelihood="poisson"), "likelihood"),
        (keras_vae.VAE, dict(network_kwargs={"hidden_units": -5}), "hidden_units"),
        (keras_vae.VAE, dict(network_kwargs={"hidden_units": [-5]}), "hidden_units"),
        (keras_vae.VAE, dict(network_kwargs={"filterz": [4]}), "filterz"),
        (keras_vae.MMDVAE, dict(multiscale="no"), "multiscale"),
        (keras_vae.MMDVAE, dict(scales=1.0), "scales"),
        (keras_vae.MMDVAE, dict(scales=[]), "scales"),
        (keras_vae.MMDVAE, dict(bandwidth=-1.0), "bandwidth"),
        (keras_vae.BetaVAE, dict(schedule="sometimes"), "schedule"),
    ):
        sweep.expect_error(f"{cls.__name__}({kwargs})", lambda c=cls, k=kwargs: tiny(c, **k),
                           word)


def preset_cases(sweep, x, work):
    model = tiny(keras_vae.BetaVAE, beta=2.0)
    model.compile()
    model.fit(x[:64], batch_size=32, verbose=0)

    def fresh(name):
        directory = os.path.join(work, name)
        presets.save_preset(model, directory, {"dataset": "digits"}, overwrite=True)
        return directory

    def edit(directory, file, transform):
        path = os.path.join(directory, file)
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(transform(data))

    def tamper_config(data):
        config = json.loads(data)
        config["config"]["beta"] = 50.0
        return json.dumps(config).encode()

    def upper(data):
        meta = json.loads(data)
        meta["sha256"] = meta["sha256"].upper()
        meta["files"] = {k: v.upper() for k, v in meta["files"].items()}
        return json.dumps(meta).encode()

    d = fresh("p1")
    edit(d, "config.json", tamper_config)
    sweep.expect_error("preset: config edited", lambda: keras_vae.from_preset(d), "config.json")
    d = fresh("p2")
    edit(d, "config.json", lambda b: b[:20])
    sweep.expect_error("preset: malformed config.json", lambda: keras_vae.from_preset(d),
                       "config.json")
    d = fresh("p3")
    edit(d, "metadata.json", lambda b: b"[1, 2]")
    sweep.expect_error("preset: metadata.json a list", lambda: keras_vae.from_preset(d),
                       "metadata.json")
    d = fresh("p4")
    edit(d, "model.weights.h5", lambda b: b[: len(b) // 2])
    sweep.expect_error("preset: truncated weights", lambda: keras_vae.from_preset(d),
                       "model.weights.h5")
    d = fresh("p5")
    edit(d, "model.weights.h5", lambda b: b[:300])
    edit(d, "metadata.json", lambda b: json.dumps({
        **json.loads(b), "files": {**json.loads(b)["files"],
                                   "model.weights.h5": presets.sha256(
                                       os.path.join(d, "model.weights.h5"))}}).encode())
    sweep.expect_error("preset: truncated weights, matching checksum",
                       lambda: keras_vae.from_preset(d), "model.weights.h5")
    d = fresh("p6")
    edit(d, "metadata.json", upper)
    sweep.expect_ok("preset: upper-case checksums", lambda: keras_vae.from_preset(d),
                    lambda m: type(m) is keras_vae.BetaVAE)
    d = fresh("p7")
    os.remove(os.path.join(d, "config.json"))
    sweep.expect_error("preset: missing config.json", lambda: keras_vae.from_preset(d),
                       "config.json")
    sweep.expect_error('from_preset("")', lambda: keras_vae.from_preset(""), "name_or_dir")
    sweep.expect_error("from_preset(3)", lambda: keras_vae.from_preset(3), "name_or_dir")
    sweep.expect_error("from_preset(unknown)", lambda: keras_vae.from_preset("nope"), "nope")
    sweep.expect_error("MMDVAE.from_preset(beta preset)",
                       lambda: keras_vae.MMDVAE.from_preset(fresh("p8")), "MMDVAE")

    from keras_vae._export.loading import load_model

    path = os.path.join(work, "model.keras")
    model.save(path)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    sweep.expect_error("load truncated .keras", lambda: load_model(path), "model.keras")
    weights = os.path.join(work, "w.weights.h5")
    with open(weights, "wb") as f:
        f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    config = {"class_name": "BetaVAE", "config": model.get_config()}
    sweep.expect_error("load damaged .weights.h5", lambda: load_model(weights, config=config),
                       "w.weights.h5")
    sweep.expect_error("export to an existing file", lambda: keras_vae.export(model, path),
                       "path")


def run_cases(sweep, work):
    import dataclasses

    recipe = recipes.load_recipe(TINY_RECIPE)
    out = os.path.join(work, "run")
    quiet = dict(verbose=0, steps_per_epoch=1)
    with contextlib.redirect_stderr(io.StringIO()):
        recipes.train(recipe, out, steps=2, **quiet)
    other = dataclasses.replace(recipe, name="other", model="VAE", model_kwargs=dict(
        input_shape=(8, 8, 1), latent_dim=3, architecture="mlp"))
    sweep.expect_error("rerun: another recipe into --out",
                       lambda: recipes.train(other, out, steps=2, **quiet), "--force")
    sweep.expect_error("rerun: another seed into --out",
                       lambda: recipes.train(recipe, out, steps=2, seed=3, **quiet), "seed")
    rate = dataclasses.replace(recipe, learning_rate=5e-4)
    sweep.expect_ok("rerun: changed learning rate is applied",
                    lambda: recipes.train(rate, out, steps=3, **quiet)[0],
                    lambda m: abs(float(keras.ops.convert_to_numpy(
                        m.optimizer.learning_rate)) - 5e-4) < 1e-9)
    with open(os.path.join(out, _runs.CHECKPOINT), "r+b") as f:
        f.truncate(800)
    err = io.StringIO()

    def resume_damaged():
        with contextlib.redirect_stderr(err):
            return recipes.train(rate, out, steps=4, **quiet)[0]

    sweep.expect_ok("rerun: damaged checkpoint falls back with a warning", resume_damaged,
                    lambda m: int(keras.ops.convert_to_numpy(m.step_counter)) == 4
                    and "damaged" in err.getvalue())
    for name in (_runs.CHECKPOINT, _runs.PREVIOUS):
        open(os.path.join(out, name), "wb").close()
    sweep.expect_error("rerun: every checkpoint damaged",
                       lambda: recipes.train(rate, out, steps=5, **quiet), "--force")
    blocker = os.path.join(work, "blocker")
    open(blocker, "w").close()
    sweep.expect_error("train into a file", lambda: recipes.train(recipe, blocker, **quiet),
                       "blocker")
    sweep.expect_error("train(steps=0)", lambda: recipes.train(recipe, out, steps=0, verbose=0),
                       "steps")
    sweep.expect_error("train(steps_per_epoch=0)",
                       lambda: recipes.train(recipe, out, steps_per_epoch=0, verbose=0),
                       "steps_per_epoch")
    sweep.expect_error("train(seed=-1)", lambda: recipes.train(recipe, out, seed=-1, **quiet),
                       "seed")
    sweep.expect_error("train(learning_rate=-1e-3)", lambda: recipes.train(
        dataclasses.replace(recipe, learning_rate=-1e-3), out, **quiet), "learning_rate")


def cli_cases(sweep, work):
    out = os.path.join(work, "cli_run")
    train = ["train", TINY_RECIPE, "--out", out, "--verbose", "0"]
    for extra, word in ((["--steps", "0"], "--steps"), (["--epochs", "-3"], "--epochs"),
                        (["--epochs", "0"], "--epochs"),
                        (["--steps-per-epoch", "0"], "--steps-per-epoch"),
                        (["--learning-rate", "nan"], "--learning-rate"),
                        (["--learning-rate", "-1"], "--learning-rate"),
                        (["--seed", "-1"], "--seed"), (["--bogus"], "--bogus")):
        sweep.expect_cli(f"cli train {' '.join(extra)}", train + extra, word)
    blocker = os.path.join(work, "blocker")
    sweep.expect_cli("cli train --out FILE", ["train", TINY_RECIPE, "--steps", "1", "--out",
                                              blocker], "blocker")
    sweep.expect_cli("cli train unknown recipe", ["train", "no_such_recipe"], "no_such_recipe")
    sweep.expect_cli("cli sample truncated .keras", ["sample", os.path.join(work, "model.keras"),
                                                     os.path.join(work, "s.png")], "model.keras")
    sweep.expect_cli("cli sample into a missing folder",
                     ["sample", "vae_fashion_mnist", os.path.join(work, "no", "s.png")], "OUT")
    sweep.expect_cli("cli evaluate unknown preset", ["evaluate", "no_such_preset"],
                     "no_such_preset")
    sweep.expect_cli("cli export --format tflite", ["export", "x", "y", "--format", "tflite"],
                     "--format")
    sweep.expect_cli("cli KERAS_BACKEND=bogus", ["presets"], "KERAS_BACKEND", env_backend="bogus")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args()
    sweep = Sweep(args.verbose)
    x = digits()
    work = tempfile.mkdtemp(prefix="keras_vae_bad_inputs_")
    try:
        for section in (lambda: model_cases(sweep, x), lambda: constructor_cases(sweep),
                        lambda: preset_cases(sweep, x, work), lambda: run_cases(sweep, work),
                        lambda: cli_cases(sweep, work)):
            section()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = {}
    for _, outcome, _ in sweep.results:
        counts[outcome] = counts.get(outcome, 0) + 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"backend={keras.backend.backend()}: {len(sweep.results)} cases: {summary}")
    return 0 if set(counts) <= {"clear", "handled"} else 1


if __name__ == "__main__":
    sys.exit(main())
