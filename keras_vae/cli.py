"""The `keras-vae` command line.

Each subcommand is one `_add_<name>(subparsers)` function that declares its
arguments and sets `handler` to a `_run_<name>(args)` function; register it
in `COMMANDS`. Handlers share `_add_model_arguments` / `_model_from_args` to
name a model (a `.keras` file, a `.weights.h5` file with `--config`, or a
preset), and return the process exit code.

Usage:

    keras-vae [--debug] COMMAND ...
    keras-vae train RECIPE [--steps N | --epochs E] [--out DIR] [--seed S]
                           [--force] [--tensorboard] [--quick] [--no-export]
                           [--distribute [--devices N] [--virtual-devices N]
                                         [--multi-worker]]
    keras-vae evaluate MODEL [--recipe RECIPE] [--num-examples N]
    keras-vae sample MODEL OUT.png [--n N] [--seed S]
    keras-vae reconstruct MODEL OUT.png [--recipe RECIPE]
    keras-vae traverse MODEL OUT.png [--gif OUT.gif] [--recipe RECIPE]
    keras-vae presets
    keras-vae export MODEL OUT [--format saved_model|onnx] [--overwrite]
                               [--decoder-output mean|raw] [--config CONFIG]
"""

import argparse
import dataclasses
import math
import os
import sys

PROG = "keras-vae"
# Errors a user can act on: printed as one line, no traceback (unless
# --debug). OSError covers unreadable, unwritable and damaged files;
# FloatingPointError a non-finite training loss.
USER_ERRORS = (ValueError, TypeError, OSError, ImportError, RuntimeError,
               FloatingPointError, KeyError)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def main(argv=None):
    """Runs the CLI with `argv` (default: `sys.argv[1:]`); returns the exit
    code (0 on success, 1 on an error, 2 on a usage error). A user error is
    one line on stderr; `--debug` shows its traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as e:
        if args.debug:
            raise
        print(f"{PROG} {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 1


def one_line(error):
    """An exception's message on one line (the type named if it says little)."""
    text = " ".join(str(error).split())
    if isinstance(error, KeyError) or not text:
        text = f"{type(error).__name__}: {text or 'no message'}"
    return text if len(text) <= 1000 else text[:1000] + "..."


def build_parser():
    """The argument parser with every subcommand of `COMMANDS`."""
    parser = _Parser(
        prog=PROG,
        description="Variational autoencoders for Keras 3 (TensorFlow, JAX, "
                    "PyTorch). The backend is KERAS_BACKEND's.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error")
    subparsers = parser.add_subparsers(dest="command", required=True,
                                       metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    for sub in subparsers.choices.values():  # also accepted after COMMAND
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show the traceback of an error")
    return parser


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _seed(text):
    from keras_vae._validation import MAX_SEED

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, {MAX_SEED}], got {value}")
    return value


def _check_output_file(path, name="OUT"):
    """A clear error before any work if `path` cannot be written."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name} must be a file path, not a directory. "
                                f"Received: {name}={path!r}")
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"The folder of {name} does not exist. "
                                f"Received: {name}={path!r}")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"The folder of {name} is not writable. "
                              f"Received: {name}={path!r}")


# === Shared arguments ===

def _add_model_arguments(parser):
    parser.add_argument(
        "model", metavar="MODEL",
        help="a .keras file, a .weights.h5 file (with --config), a preset "
             "directory or a shipped preset name",
    )
    parser.add_argument(
        "--config", metavar="CONFIG",
        help="JSON config of a .weights.h5 model "
             "(keras.saving.serialize_keras_object(model))",
    )


def _model_from_args(args):
    from keras_vae._export.loading import load_model

    return load_model(args.model, config=args.config)


# === export ===

def _add_export(subparsers):
    from keras_vae._export.signatures import DECODER_OUTPUTS
    from keras_vae._export.writers import FORMATS

    parser = subparsers.add_parser(
        "export",
        help="write a SavedModel or ONNX files for serving",
        description="Export a model for serving: a TensorFlow SavedModel with "
                    "encode/decode/reconstruct/sample signatures, or "
                    "encoder.onnx and decoder.onnx. Works from any backend.",
    )
    _add_model_arguments(parser)
    parser.add_argument("output", metavar="OUT", help="output directory")
    parser.add_argument("--format", choices=FORMATS, default="saved_model",
                        help="default: %(default)s")
    parser.add_argument("--decoder-output", choices=DECODER_OUTPUTS,
                        default="mean",
                        help="images as the likelihood mean (default) or the "
                             "decoder's raw output (e.g. logits)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty OUT")
    parser.set_defaults(handler=_run_export)


def _run_export(args):
    from keras_vae._export import export

    model = _model_from_args(args)
    path = export(model, args.output, format=args.format,
                  overwrite=args.overwrite, decoder_output=args.decoder_output)
    print(f"Exported {type(model).__name__} as {args.format} to {path}")
    return 0


# === train ===

def _add_train(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a zoo recipe (resumes from OUT/checkpoint.weights.h5)",
        description="Train a recipe of zoo/recipes, then evaluate it, write "
                    "figures, a preset (OUT/preset) and a SavedModel (OUT/export). "
                    "An interrupted run started again with the same OUT resumes "
                    "from its last checkpoint, schedules included.")
    parser.add_argument("recipe", metavar="RECIPE", help="recipe name or recipe file")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=_positive_int,
                        help="training steps (default: the recipe's)")
    length.add_argument("--epochs", type=_positive_float, help="passes over the training split")
    parser.add_argument("--steps-per-epoch", type=_positive_int, default=None,
                        help="steps between checkpoints (default: min(steps, 500))")
    parser.add_argument("--out", default=None, help="output directory (default: runs/RECIPE)")
    parser.add_argument("--force", action="store_true",
                        help="discard the checkpoints of another run found in OUT "
                             "(a rerun of the same run resumes without it)")
    parser.add_argument("--learning-rate", type=_positive_float, default=None,
                        help="override the recipe's Adam learning rate; on a resumed run "
                             "it applies from the step resumed at (recorded in OUT/run.json "
                             "and the preset's metadata)")
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument("--data-dir", default=None, help="where the data lives, if not found")
    parser.add_argument("--tensorboard", action="store_true",
                        help="write TensorBoard logs and image summaries to OUT/logs")
    parser.add_argument("--quick", action="store_true",
                        help="smaller evaluation samples (smoke runs)")
    parser.add_argument("--no-export", action="store_true", help="skip the SavedModel export")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2))
    group = parser.add_argument_group(
        "data-parallel training (jax: keras.distribution.DataParallel; tensorflow: "
        "tf.distribute; not available on torch)")
    group.add_argument("--distribute", action="store_true",
                       help="train data-parallel on all local devices; the recipe's "
                            "batch size is the global batch")
    group.add_argument("--devices", type=int, default=None, metavar="N",
                       help="with --distribute: use the first N local devices")
    group.add_argument("--virtual-devices", type=int, default=None, metavar="N",
                       help="with --distribute: first split the CPU into N devices "
                            "(testing on a machine without accelerators)")
    group.add_argument("--multi-worker", action="store_true",
                       help="with --distribute: train on several hosts (cluster from "
                            "KERAS_DISTRIBUTION_* on jax, TF_CONFIG on tensorflow)")
    parser.set_defaults(handler=_run_train)


def _distribution_from_args(args):
    """The `keras_vae.distributed` scope the train options ask for, or None."""
    options = {"--devices": args.devices, "--virtual-devices": args.virtual_devices,
               "--multi-worker": args.multi_worker or None}
    if not args.distribute:
        given = {k: v for k, v in options.items() if v is not None}
        if given:
            name, value = next(iter(given.items()))
            raise ValueError(f"{name} needs --distribute. Received: {name}={value}")
        return None
    from keras_vae import distribute

    if args.virtual_devices is not None:
        distribute.use_virtual_cpu_devices(args.virtual_devices)
    scope = distribute.distributed(devices=args.devices, multi_worker=args.multi_worker)
    print(f"data-parallel training: {scope.describe()} on {scope.devices}")
    return scope


def _run_train(args):
    from keras_vae import assessment
    from keras_vae import recipes
    from keras_vae import training

    # Before anything touches a device: virtual devices are set up front.
    distribute = _distribution_from_args(args)
    recipe = recipes.load_recipe(args.recipe)
    if args.learning_rate is not None:
        recipe = dataclasses.replace(recipe, learning_rate=args.learning_rate)
    steps = args.steps
    if args.epochs is not None:
        steps = max(1, round(args.epochs * recipe.steps_per_dataset_epoch))
    out = args.out or os.path.join("runs", recipe.name)
    run = training.train_run(recipe, out, steps=steps, steps_per_epoch=args.steps_per_epoch,
                             seed=args.seed, verbose=args.verbose, tensorboard=args.tensorboard,
                             data_dir=args.data_dir, distribute=distribute, force=args.force)
    model = run.model
    print(f"trained {recipe.name} for {steps or recipe.steps} steps in {run.seconds:.0f}s")
    metrics = _evaluate_and_report(model, recipe, args.seed, args.data_dir, args.quick)
    training.write_preset(run, metrics)  # once, with its metrics
    figures = assessment.write_figures(model, recipe, os.path.join(out, "figures"), args.seed,
                                       args.data_dir)
    print(f"wrote {run.preset_dir} and {len(figures)} figures in {out}/figures")
    if not args.no_export:
        from keras_vae._export import export

        path = export(model, os.path.join(out, "export"), overwrite=True)
        print(f"exported a SavedModel to {path}")
    return 0


def _evaluate_and_report(model, recipe, seed, data_dir, quick, num_examples=2000):
    from keras_vae import assessment

    metrics = assessment.evaluate(model, recipe, num_examples=num_examples, seed=seed,
                                  data_dir=data_dir, quick=quick)
    print("\n".join(assessment.format_metrics(metrics)))
    return metrics


# === evaluate, sample, reconstruct, traverse ===

def _add_recipe_argument(parser):
    parser.add_argument("--recipe", default=None,
                        help="recipe whose data and metrics to use (default: the "
                             "preset's recipe)")


def _recipe_for(model, args):
    from keras_vae import recipes

    name = args.recipe or getattr(model, "preset_metadata", {}).get("recipe")
    if name is None:
        raise ValueError("This model has no recipe in its metadata; pass --recipe "
                         f"(one of {recipes.list_recipes()}). Received: --recipe=None")
    return recipes.load_recipe(name)


def _add_evaluate(subparsers):
    parser = subparsers.add_parser("evaluate", help="print a model's metrics on held-out data")
    _add_model_arguments(parser)
    _add_recipe_argument(parser)
    parser.add_argument("--num-examples", type=_positive_int, default=2000)
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.set_defaults(handler=_run_evaluate)


def _run_evaluate(args):
    model = _model_from_args(args)
    _evaluate_and_report(model, _recipe_for(model, args), args.seed, None, args.quick,
                         num_examples=args.num_examples)
    return 0


def _add_figure_command(subparsers, name, help_text, handler):
    parser = subparsers.add_parser(name, help=help_text)
    _add_model_arguments(parser)
    parser.add_argument("output", metavar="OUT.png", help="PNG file to write")
    parser.add_argument("--seed", type=_seed, default=0)
    parser.set_defaults(handler=handler)
    return parser


def _add_sample(subparsers):
    parser = _add_figure_command(subparsers, "sample", "decode prior samples to a PNG grid",
                                 _run_sample)
    parser.add_argument("--n", type=_positive_int, default=64)


def _run_sample(args):
    _check_output_file(args.output)
    from keras_vae import plots

    plots.sample_grid(_model_from_args(args), args.output, n=args.n, seed=args.seed)
    print(f"wrote {args.output}")
    return 0


def _add_reconstruct(subparsers):
    parser = _add_figure_command(subparsers, "reconstruct",
                                 "inputs and reconstructions to a PNG grid", _run_reconstruct)
    _add_recipe_argument(parser)


def _run_reconstruct(args):
    _check_output_file(args.output)
    from keras_vae import plots
    from keras_vae import recipes

    model = _model_from_args(args)
    x = recipes.test_data(_recipe_for(model, args), 16, args.seed)
    plots.reconstruction_grid(model, x, args.output)
    print(f"wrote {args.output}")
    return 0


def _add_traverse(subparsers):
    parser = _add_figure_command(subparsers, "traverse",
                                 "latent traversals, one row per dimension by KL",
                                 _run_traverse)
    _add_recipe_argument(parser)
    parser.add_argument("--gif", default=None, help="also write the sweep as a GIF")


def _run_traverse(args):
    _check_output_file(args.output)
    if args.gif:
        _check_output_file(args.gif, "--gif")
    from keras_vae import plots
    from keras_vae import recipes

    model = _model_from_args(args)
    x = recipes.test_data(_recipe_for(model, args), 500, args.seed)
    plots.latent_traversal(model, x, args.output, gif_path=args.gif)
    print(f"wrote {args.output}" + (f" and {args.gif}" if args.gif else ""))
    return 0


# === presets ===

def _add_presets(subparsers):
    parser = subparsers.add_parser("presets", help="list the shipped pretrained presets")
    parser.add_argument("--json", action="store_true",
                        help="print the registry as JSON: {name: {path, metadata}}")
    parser.set_defaults(handler=_run_presets)


def _run_presets(args):
    import json

    from keras_vae import presets

    found = presets.list_presets()
    if args.json:
        registry = {name: {"path": os.path.join(presets.presets_dir(), name), "metadata": meta}
                    for name, meta in found.items()}
        print(json.dumps(registry, indent=2, sort_keys=True))
        return 0
    if not found:
        print(f"no presets found in {presets.presets_dir()}")
    for name, meta in found.items():
        metrics = meta.get("metrics", {})
        shown = ", ".join(f"{k}={v:.3g}" for k, v in metrics.items()
                          if isinstance(v, (int, float)))
        print(f"{name}: {meta.get('dataset')}, {meta.get('steps')} steps, "
              f"{meta.get('parameters'):,} parameters; {shown}")
    return 0


# === demo ===

def _add_demo(subparsers):
    from keras_vae import demo

    parser = subparsers.add_parser(
        "demo", help="the zoo in one command: load, evaluate, plot, export, fine-tune a preset",
        description=demo.__doc__.splitlines()[0])
    parser.add_argument("--preset", default=demo.DEFAULT_PRESET,
                        help="preset name, directory or file:// / hf:// / kaggle:// handle")
    parser.add_argument("--out", default="out/demo", help="output directory")
    parser.add_argument("--fine-tune-steps", type=int, default=300,
                        help="model.fit steps after the evaluation (0 skips)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="smaller evaluation samples (smoke runs)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=0)
    parser.set_defaults(handler=_run_demo)


def _run_demo(args):
    from keras_vae import demo

    demo.run_demo(out=args.out, preset=args.preset, fine_tune_steps=args.fine_tune_steps,
                  seed=args.seed, verbose=args.verbose, quick=args.quick)
    return 0


# === study ===

def _add_study(subparsers):
    from keras_vae import study

    parser = subparsers.add_parser(
        "study", help="train and report a grid of recipes x hyperparameters x seeds",
        description="Run a study (each run a resumable `keras-vae train` directory under "
                    "OUT/runs; finished runs are skipped), then write OUT/study.md, "
                    "OUT/study.json and OUT/figures/. Named studies: "
                    + ", ".join(f"{n} ({s.description})" for n, s in study.STUDIES.items()))
    parser.add_argument("study", choices=sorted(study.STUDIES), metavar="STUDY",
                        help=f"one of {sorted(study.STUDIES)}")
    parser.add_argument("--out", default=None, help="output directory (default: studies/STUDY)")
    parser.add_argument("--steps", type=int, default=None, help="steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds to run")
    parser.add_argument("--plan", action="store_true",
                        help="print the runs and the estimated time (measured by two short "
                             "probe runs per recipe), then stop")
    parser.add_argument("--report", action="store_true",
                        help="only write the report from the finished runs")
    parser.add_argument("--quick", action="store_true",
                        help="smaller evaluation samples (smoke runs)")
    parser.set_defaults(handler=_run_study)


def _run_study(args):
    from keras_vae import study

    spec = study.get_study(args.study)
    out = args.out or os.path.join("studies", spec.name)
    runs = study.plan(spec, steps=args.steps, seeds=args.seeds)
    if args.report:
        study.report(spec, out, runs)
        print(f"wrote {os.path.join(out, 'study.md')}")
        return 0
    if args.plan:
        todo = [r for r in runs if study.run_metadata(out, r) is None]
        measured = study.measure_run_time(spec, out, quick=args.quick)
        for recipe, (fixed, rate) in measured.items():
            print(f"{recipe}: {rate:.1f} steps/s, {fixed:.0f}s per run besides training")
        seconds = study.estimate_seconds(todo, measured)
        print(f"{len(runs)} runs ({len(runs) - len(todo)} done), {len(todo)} to train: "
              f"about {seconds / 3600:.1f} h on this machine")
        for run in todo:
            print(f"  {run.name}: {run.steps} steps")
        return 0
    rows = study.run_study(spec, out, steps=args.steps, seeds=args.seeds, quick=args.quick)
    print(study.markdown_table(rows))
    print(f"wrote {os.path.join(out, 'study.md')}")
    return 0


COMMANDS = [_add_train, _add_evaluate, _add_sample, _add_reconstruct, _add_traverse,
            _add_presets, _add_export, _add_demo, _add_study]


if __name__ == "__main__":
    sys.exit(main())
