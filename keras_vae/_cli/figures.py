"""`keras-vae sample`, `reconstruct` and `traverse`: a model's figures as PNG."""

from keras_vae._cli import arguments
from keras_vae._cli.arguments import check_output_file


def _add_figure_command(subparsers, name, help_text, handler):
    parser = subparsers.add_parser(name, help=help_text)
    arguments.add_model_arguments(parser)
    parser.add_argument("output", metavar="OUT.png", help="PNG file to write")
    parser.add_argument("--seed", type=arguments.seed, default=0)
    parser.set_defaults(handler=handler)
    return parser


def add_sample(subparsers):
    parser = _add_figure_command(subparsers, "sample", "decode prior samples to a PNG grid",
                                 run_sample)
    parser.add_argument("--n", type=arguments.positive_int, default=64)


def run_sample(args):
    check_output_file(args.output)
    from keras_vae import plots

    plots.sample_grid(arguments.model_from_args(args), args.output, n=args.n, seed=args.seed)
    print(f"wrote {args.output}")
    return 0


def add_reconstruct(subparsers):
    parser = _add_figure_command(subparsers, "reconstruct",
                                 "inputs and reconstructions to a PNG grid", run_reconstruct)
    arguments.add_recipe_argument(parser)


def _model_and_test_data(args, num_examples):
    """The model of MODEL and `num_examples` test images of its recipe."""
    from keras_vae import recipes

    model = arguments.model_from_args(args)
    return model, recipes.test_data(arguments.recipe_for(model, args), num_examples,
                                    args.seed)


def run_reconstruct(args):
    check_output_file(args.output)
    from keras_vae import plots

    model, x = _model_and_test_data(args, 16)
    plots.reconstruction_grid(model, x, args.output)
    print(f"wrote {args.output}")
    return 0


def add_traverse(subparsers):
    parser = _add_figure_command(subparsers, "traverse",
                                 "latent traversals, one row per dimension by KL",
                                 run_traverse)
    arguments.add_recipe_argument(parser)
    parser.add_argument("--gif", default=None, help="also write the sweep as a GIF")


def run_traverse(args):
    check_output_file(args.output)
    if args.gif:
        check_output_file(args.gif, "--gif")
    from keras_vae import plots

    model, x = _model_and_test_data(args, 500)
    plots.latent_traversal(model, x, args.output, gif_path=args.gif)
    print(f"wrote {args.output}" + (f" and {args.gif}" if args.gif else ""))
    return 0
