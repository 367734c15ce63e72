"""`keras-vae presets`, `export` and `demo`: shipped presets and serving."""

import os

from keras_vae._cli import arguments


# === presets ===

def add_presets(subparsers):
    parser = subparsers.add_parser("presets", help="list the shipped pretrained presets")
    parser.add_argument("--json", action="store_true",
                        help="print the registry as JSON: {name: {path, metadata}}")
    parser.set_defaults(handler=run_presets)


def run_presets(args):
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


# === export ===

def add_export(subparsers):
    from keras_vae._export.signatures import DECODER_OUTPUTS
    from keras_vae._export.writers import FORMATS

    parser = subparsers.add_parser(
        "export",
        help="write a SavedModel or ONNX files for serving",
        description="Export a model for serving: a TensorFlow SavedModel with "
                    "encode/decode/reconstruct/sample signatures, or "
                    "encoder.onnx and decoder.onnx. Works from any backend.",
    )
    arguments.add_model_arguments(parser)
    parser.add_argument("output", metavar="OUT", help="output directory")
    parser.add_argument("--format", choices=FORMATS, default="saved_model",
                        help="default: %(default)s")
    parser.add_argument("--decoder-output", choices=DECODER_OUTPUTS,
                        default="mean",
                        help="images as the likelihood mean (default) or the "
                             "decoder's raw output (e.g. logits)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing non-empty OUT")
    parser.set_defaults(handler=run_export)


def run_export(args):
    from keras_vae._export import export

    model = arguments.model_from_args(args)
    path = export(model, args.output, format=args.format,
                  overwrite=args.overwrite, decoder_output=args.decoder_output)
    print(f"Exported {type(model).__name__} as {args.format} to {path}")
    return 0


# === demo ===

def add_demo(subparsers):
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
    arguments.add_quick_argument(parser)
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=0)
    parser.set_defaults(handler=run_demo)


def run_demo(args):
    from keras_vae import demo

    demo.run_demo(out=args.out, preset=args.preset, fine_tune_steps=args.fine_tune_steps,
                  seed=args.seed, verbose=args.verbose, quick=args.quick)
    return 0
