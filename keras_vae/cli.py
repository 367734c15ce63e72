"""The `keras-vae` command line.

This module parses the command line and reports errors; the subcommands live
in `keras_vae._cli`: `runs` (train, evaluate, study), `figures` (sample,
reconstruct, traverse) and `presets` (presets, export, demo), with the
arguments they share in `arguments`. Each subcommand is one
`add_<name>(subparsers)` function that declares its arguments and sets
`handler` to a `run_<name>(args)` function returning the process exit code;
register it in `COMMANDS`. Handlers share `arguments.add_model_arguments` /
`arguments.model_from_args` to name a model (a `.keras` file, a
`.weights.h5` file with `--config`, or a preset).

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
import sys

from keras_vae._cli import figures
from keras_vae._cli import presets
from keras_vae._cli import runs

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


COMMANDS = [runs.add_train, runs.add_evaluate, figures.add_sample, figures.add_reconstruct,
            figures.add_traverse, presets.add_presets, presets.add_export, presets.add_demo,
            runs.add_study]


if __name__ == "__main__":
    sys.exit(main())
