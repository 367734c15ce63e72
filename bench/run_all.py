"""Runs every benchmark of bench/ and rewrites bench/RESULTS.md.

    python bench/run_all.py            # ~18 min on the 2-core CPU when it is quiet
    python bench/run_all.py --recipe-rounds 0   # without the recipe path: ~12 min

On a loaded machine the training benchmarks take longer; when they (and the
recipe path) have used 13.5 minutes (`--skip-other-after`), the quick data,
metric and export benchmarks are skipped so that the run does not grow
further.

`--save-json PATH` keeps every measurement; `--render-only PATH` rewrites
RESULTS.md from such a file without measuring (after editing the prose).

Runs, one after the other (each framework in its own child processes):

1. `bench/train_throughput.py --memory --quality 2 --epochs 3 --other-epochs 2`:
   `model.fit` samples/s per Keras backend next to pure PyTorch and pure
   JAX + optax loops, for both configurations and all three decoder
   upsampling variants (3 timed epochs on each configuration's default
   decoder, 2 on the others; XLA on tensorflow for the default decoders only;
   the pure-JAX resize decoder left out; see that script); peak RSS of a full
   Fashion-MNIST epoch per backend; Fashion-MNIST test -ELBO of the three
   decoders after 2 epochs.
2. `bench/train_throughput.py --no-throughput --quality 2 --quality-config
   dsprites --quality-steps 400 --upsampling subpixel transpose`: the
   dSprites net's default decoder against transpose at equal steps.
3. `bench/recipe_throughput.py --rounds 2`: the training path of four zoo
   recipes (`keras-vae train`: `training.train_run` with its pipeline,
   regularizer and checkpoints) against the bare `model.fit` step of the
   same network, per backend, broken down by stage, with each network's
   FLOPs and the machine's measured sgemm / convolution rates.
4. `bench/data_throughput.py --cores 2` (dSprites, numpy and pipeline) and
   `bench/data_throughput.py --dataset fashion_mnist --cores 2`.
5. `bench/metrics_speed.py --skip-dci-reference`.
6. `KERAS_BACKEND=tensorflow bench/export_latency.py`: the exported encoder
   (SavedModel, ONNX) against the Keras model, batch-1 latency and batch-256
   throughput.

The targets are checked on each configuration's default decoder, the
library's (`keras_vae.networks.ARCHITECTURE_DEFAULTS`, read without
importing keras by `bench/_harness.py`); the other decoders' ratios are listed for
information.

RESULTS.md is a template: the hand-written prose stays, and only the blocks
between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED: name -->`
are replaced with tables made from this run's measurements
(`bench/_results_md.py`).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import _harness
import recipe_throughput
import train_throughput
from _results_md import data_md
from _results_md import export_md
from _results_md import fill
from _results_md import memory_md
from _results_md import recipes_md
from _results_md import run_md
from _results_md import targets_md
from _results_md import throughput_md
from _results_md import upsampling_md

BENCH, ROOT = _harness.BENCH, _harness.ROOT


def _run(argv, **env):
    """Runs a bench script; returns its stdout (stderr is shown on failure)."""
    print(f"\n$ python {' '.join(argv)}", flush=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT, **env)
    proc = subprocess.run([sys.executable] + argv, cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
    print(proc.stdout, flush=True)
    return proc.stdout, proc.returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3,
                        help="timed epochs per throughput run of the default decoders")
    parser.add_argument("--other-epochs", type=int, default=2,
                        help="timed epochs per throughput run of the other decoders")
    parser.add_argument("--quality-epochs", type=int, default=2,
                        help="epochs of the quality runs (0: none)")
    parser.add_argument("--dsprites-quality-steps", type=int, default=400, metavar="STEPS",
                        help="steps per epoch of the dSprites quality run (0: no such run)")
    parser.add_argument("--recipe-rounds", type=int, default=2,
                        help="timed epochs per stage of recipe_throughput.py (0: not run)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the full-epoch peak-RSS runs (for testing)")
    parser.add_argument("--train-args", default="", metavar="ARGS",
                        help="extra arguments of the throughput command, e.g. "
                             "--train-args='--configs dsprites --runners torch' (for testing)")
    parser.add_argument("--output", default=os.path.join(BENCH, "RESULTS.md"))
    parser.add_argument("--save-json", metavar="PATH",
                        help="also write all measurements of this run to PATH")
    parser.add_argument("--render-only", metavar="PATH",
                        help="measure nothing: re-render RESULTS.md from a --save-json file "
                             "(after editing the prose or this script's tables)")
    parser.add_argument("--skip-other", action="store_true",
                        help="skip data_throughput.py and metrics_speed.py (for testing)")
    parser.add_argument("--skip-other-after", type=float, default=13.5, metavar="MIN",
                        help="skip them too when the training benchmarks took longer "
                             "(a loaded machine), so the whole run stays under 15 min")
    args = parser.parse_args()

    if args.render_only:
        with open(args.render_only) as f:
            saved = json.load(f)
    else:
        saved = measure(args)
        if args.save_json:
            with open(args.save_json, "w") as f:
                json.dump(saved, f, indent=1)
    render(saved, args.output)
    print(f"\nWrote {os.path.relpath(args.output, ROOT)}; whole run "
          f"{saved['wall_s'] / 60:.1f} min")


def measure(args):
    """Runs the benchmarks; returns everything RESULTS.md is made from."""
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    commands = []
    runs = [(["--quality", str(args.quality_epochs)] * bool(args.quality_epochs)
             + ["--memory"] * (not args.no_memory)
             + ["--epochs", str(args.epochs), "--other-epochs", str(args.other_epochs)]
             + shlex.split(args.train_args))]
    if args.quality_epochs and args.dsprites_quality_steps:
        default = _harness.default_upsampling("dsprites")
        others = [u for u in ("transpose", "subpixel") if u != default]
        runs.append(["--no-throughput", "--quality", str(args.quality_epochs),
                     "--quality-config", "dsprites",
                     "--quality-steps", str(args.dsprites_quality_steps),
                     "--upsampling", default, *others])
    report = None
    with tempfile.TemporaryDirectory() as tmp:
        for i, argv in enumerate(runs):
            path = os.path.join(tmp, f"train{i}.json")
            commands.append("bench/train_throughput.py " + " ".join(argv))
            print(f"$ python {commands[-1]}", flush=True)
            train_throughput.main(argv + ["--json", path])
            with open(path) as f:
                part = json.load(f)
            if report is None:
                report = part
            else:  # the dSprites quality run adds its rows and its seconds
                report["quality"] += part["quality"]
                report["memory"] += part["memory"]
                report["seconds"].update(part["seconds"])

    recipes = None
    if args.recipe_rounds:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "recipes.json")
            argv = ["--rounds", str(args.recipe_rounds)]
            commands.append("bench/recipe_throughput.py " + " ".join(argv))
            print(f"$ python {commands[-1]}", flush=True)
            recipe_throughput.main(argv + ["--json", path])
            with open(path) as f:
                recipes = json.load(f)

    data_lines, metrics_out, export_out = [], "", ""
    other = "skipped" if args.skip_other else "run"
    elapsed = time.perf_counter() - start
    if other == "run" and elapsed > 60 * args.skip_other_after:
        print(f"{elapsed / 60:.1f} min elapsed: skipping data_throughput.py and "
              "metrics_speed.py to stay within the time budget", flush=True)
        other = "budget"
    if other == "run":
        for extra in (["--cores", "2"], ["--dataset", "fashion_mnist", "--cores", "2"]):
            argv = ["bench/data_throughput.py"] + extra
            commands.append(" ".join(argv))
            out, _ = _run(argv)
            data_lines += [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        # The scikit-learn DCI reference takes minutes: measured by hand
        # (`python bench/metrics_speed.py`, see RESULTS.md).
        commands.append("bench/metrics_speed.py --skip-dci-reference")
        metrics_out, _ = _run(["bench/metrics_speed.py", "--skip-dci-reference"])
        commands.append("KERAS_BACKEND=tensorflow python bench/export_latency.py")
        export_out, _ = _run(["bench/export_latency.py"], KERAS_BACKEND="tensorflow")
    return {"report": report, "recipes": recipes, "commands": commands,
            "data_lines": data_lines,
            "metrics_out": metrics_out, "export_out": export_out, "other": other,
            "wall_s": time.perf_counter() - start, "load_before": load_before,
            "load_after": os.getloadavg()[0]}


def render(saved, output):
    report = saved["report"]
    with open(output) as f:
        template = f.read()
    blocks = {
        "run": run_md(report, saved["commands"], saved["wall_s"], saved["load_before"],
                      saved["load_after"]),
        "throughput": throughput_md(report),
        "targets": targets_md(report),
        "upsampling": upsampling_md(report),
        "memory": memory_md(report),
    }
    if saved.get("recipes"):
        blocks["recipes"] = recipes_md(saved["recipes"])
    if saved["other"] == "budget":
        note = ("Not run this time: the training benchmarks used the time budget "
                "(loaded machine); run the script directly.\n")
        blocks["data"] = blocks["metrics"] = blocks["export"] = note
    elif saved["other"] == "run":
        blocks["data"] = data_md(saved["data_lines"])
        blocks["metrics"] = "```\n" + saved["metrics_out"].strip() + "\n```\n"
        blocks["export"] = export_md(saved["export_out"])
    with open(output, "w") as f:
        f.write(fill(template, blocks))


if __name__ == "__main__":
    main()
