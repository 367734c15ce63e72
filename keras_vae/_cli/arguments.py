"""Argument types, output checks and the arguments several commands share."""

import argparse
import math
import os


def _parse(text, parse, expected):
    """`parse(text)`; argparse's "expected ..., got 'text'" if it fails."""
    try:
        return parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _out_of_range(expected, shown):
    return argparse.ArgumentTypeError(f"expected {expected}, got {shown}")


def positive_int(text):
    value = _parse(text, int, "an integer >= 1")
    if value < 1:
        raise _out_of_range("an integer >= 1", value)
    return value


def positive_float(text):
    value = _parse(text, float, "a number > 0")
    if not math.isfinite(value) or value <= 0:
        raise _out_of_range("a finite number > 0", text)
    return value


def seed(text):
    from keras_vae._validation import MAX_SEED

    value = _parse(text, int, "an integer seed")
    if not 0 <= value <= MAX_SEED:
        raise _out_of_range(f"a seed in [0, {MAX_SEED}]", value)
    return value


def check_output_file(path, name="OUT"):
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


def add_quick_argument(parser):
    parser.add_argument("--quick", action="store_true",
                        help="smaller evaluation samples (smoke runs)")


def add_model_arguments(parser):
    """MODEL and --config: a `.keras` file, a `.weights.h5` file with its
    config, or a preset (`model_from_args` loads it)."""
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


def model_from_args(args):
    from keras_vae._export.loading import load_model

    return load_model(args.model, config=args.config)


def add_recipe_argument(parser):
    parser.add_argument("--recipe", default=None,
                        help="recipe whose data and metrics to use (default: the "
                             "preset's recipe)")


def recipe_for(model, args):
    """The recipe of `--recipe`, else the one in the model's preset metadata."""
    from keras_vae import recipes

    name = args.recipe or getattr(model, "preset_metadata", {}).get("recipe")
    if name is None:
        raise ValueError("This model has no recipe in its metadata; pass --recipe "
                         f"(one of {recipes.list_recipes()}). Received: --recipe=None")
    return recipes.load_recipe(name)
