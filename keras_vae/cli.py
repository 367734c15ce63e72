"""The `keras-vae` command line.

Each subcommand is one `_add_<name>(subparsers)` function that declares its
arguments and sets `handler` to a `_run_<name>(args)` function; register it
in `COMMANDS`. Handlers share `_add_model_arguments` / `_model_from_args` to
name a model (a `.keras` file, a `.weights.h5` file with `--config`, or a
preset), and return the process exit code.

Usage:

    keras-vae export MODEL OUT [--format saved_model|onnx] [--overwrite]
                               [--decoder-output mean|raw] [--config CONFIG]
"""

import argparse
import sys

PROG = "keras-vae"
# Errors a user can act on: printed as one message, no traceback.
USER_ERRORS = (ValueError, TypeError, FileExistsError, FileNotFoundError,
               ImportError, RuntimeError)


def main(argv=None):
    """Runs the CLI with `argv` (default: `sys.argv[1:]`); returns the exit
    code (0 on success, 1 on an error, 2 on a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except USER_ERRORS as e:
        print(f"{PROG} {args.command}: error: {e}", file=sys.stderr)
        return 1


def build_parser():
    """The argument parser with every subcommand of `COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Variational autoencoders for Keras 3 (TensorFlow, JAX, "
                    "PyTorch). The backend is KERAS_BACKEND's.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True,
                                       metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


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


COMMANDS = [_add_export]


if __name__ == "__main__":
    sys.exit(main())
