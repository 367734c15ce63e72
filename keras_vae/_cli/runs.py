"""`keras-vae train`, `evaluate` and `study`: training runs and their metrics."""

import dataclasses
import os

from keras_vae._cli import arguments
from keras_vae._cli.arguments import positive_float
from keras_vae._cli.arguments import positive_int
from keras_vae._cli.arguments import seed


# === train ===

def add_train(subparsers):
    parser = subparsers.add_parser(
        "train", help="train a zoo recipe (resumes from OUT/checkpoint.weights.h5)",
        description="Train a recipe of zoo/recipes, then evaluate it, write "
                    "figures, a preset (OUT/preset) and a SavedModel (OUT/export). "
                    "An interrupted run started again with the same OUT resumes "
                    "from its last checkpoint, schedules included.")
    parser.add_argument("recipe", metavar="RECIPE", help="recipe name or recipe file")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int,
                        help="training steps (default: the recipe's)")
    length.add_argument("--epochs", type=positive_float, help="passes over the training split")
    parser.add_argument("--steps-per-epoch", type=positive_int, default=None,
                        help="steps between checkpoints (default: min(steps, 500))")
    parser.add_argument("--out", default=None, help="output directory (default: runs/RECIPE)")
    parser.add_argument("--force", action="store_true",
                        help="discard the checkpoints of another run found in OUT "
                             "(a rerun of the same run resumes without it)")
    parser.add_argument("--learning-rate", type=positive_float, default=None,
                        help="override the recipe's Adam learning rate; on a resumed run "
                             "it applies from the step resumed at (recorded in OUT/run.json "
                             "and the preset's metadata)")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--data-dir", default=None, help="where the data lives, if not found")
    parser.add_argument("--tensorboard", action="store_true",
                        help="write TensorBoard logs and image summaries to OUT/logs")
    arguments.add_quick_argument(parser)
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
    parser.set_defaults(handler=run_train)


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


def run_train(args):
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
    validation = run.metadata.get("validation")
    if validation:
        print(f"trained {recipe.name} to step {validation['stopped_step']} in "
              f"{run.seconds:.0f}s ({'converged' if validation['converged'] else 'at its cap'}); "
              f"kept step {validation['best_step']}, held-out {validation['metric']} "
              f"{validation['best']:.3f}")
    else:
        print(f"trained {recipe.name} for {steps or recipe.steps} steps in {run.seconds:.0f}s")
    metrics = _evaluate_and_report(model, recipe, args.seed, args.data_dir, args.quick)
    training.write_preset(run, metrics)  # once, with its metrics
    figures = assessment.write_figures(model, recipe, os.path.join(out, "figures"), args.seed,
                                       args.data_dir, validation=validation)
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


# === evaluate ===

def add_evaluate(subparsers):
    parser = subparsers.add_parser("evaluate", help="print a model's metrics on held-out data")
    arguments.add_model_arguments(parser)
    arguments.add_recipe_argument(parser)
    parser.add_argument("--num-examples", type=positive_int, default=2000)
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.set_defaults(handler=run_evaluate)


def run_evaluate(args):
    model = arguments.model_from_args(args)
    _evaluate_and_report(model, arguments.recipe_for(model, args), args.seed, None,
                         args.quick, num_examples=args.num_examples)
    return 0


# === study ===

def add_study(subparsers):
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
    parser.add_argument("--steps", type=positive_int, default=None, help="steps per run")
    parser.add_argument("--seeds", type=seed, nargs="+", default=None, help="seeds to run")
    parser.add_argument("--jobs", type=positive_int, default=1,
                        help="runs trained at once, each with its share of the cores "
                             "(default 1)")
    parser.add_argument("--plan", action="store_true",
                        help="print the runs and the estimated time (measured by two short "
                             "probe runs per recipe), then stop")
    parser.add_argument("--report", action="store_true",
                        help="only write the report from the finished runs")
    parser.add_argument("--ship-presets", metavar="DIR", default=None,
                        help="after the report, copy each setting's median-MIG run (all its "
                             "seeds finished) to DIR/RECIPE as a preset recording every "
                             "seed's metrics")
    arguments.add_quick_argument(parser)
    parser.set_defaults(handler=run_study)


def run_study(args):
    from keras_vae import study

    spec = study.get_study(args.study)
    out = args.out or os.path.join("studies", spec.name)
    runs = study.plan(spec, steps=args.steps, seeds=args.seeds)
    if args.plan:
        _print_plan(study, spec, out, runs, args.quick, args.jobs)
        return 0
    if args.report:
        study.report(spec, out, runs)
    else:
        rows = study.run_study(spec, out, steps=args.steps, seeds=args.seeds, quick=args.quick,
                               jobs=args.jobs)
        print(study.markdown_table(rows))
    print(f"wrote {os.path.join(out, 'study.md')}")
    if args.ship_presets:
        for recipe, path in study.ship_presets(spec, out, args.ship_presets, runs=runs).items():
            print(f"shipped {recipe}'s median-MIG seed to {path}")
    return 0


def _print_plan(study, spec, out, runs, quick, jobs):
    """`study --plan`: the runs left to train and their estimated time."""
    todo = [r for r in runs if study.run_metadata(out, r) is None]
    measured = study.measure_run_time(spec, out, quick=quick, jobs=jobs)
    for recipe, (fixed, rate) in measured.items():
        print(f"{recipe}: {rate:.1f} steps/s, {fixed:.0f}s per run besides training")
    seconds = study.estimate_seconds(todo, measured, jobs=jobs)
    print(f"{len(runs)} runs ({len(runs) - len(todo)} done), {len(todo)} to train: "
          f"about {seconds / 3600:.1f} h on this machine"
          + (f" with {jobs} jobs at once" if jobs > 1 else ""))
    for run in todo:
        print(f"  {run.name}: {run.steps} steps")
