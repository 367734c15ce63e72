"""Collects trained runs into the zoo: presets, figures and zoo/README.md.

    python zoo/make_readme.py runs/vae_fashion_mnist runs/beta_tcvae_dsprites ...
    python zoo/make_readme.py --study studies/cpu_dsprites

Copies each `RUN/preset` to `zoo/presets/<recipe>/` and three figures to
`zoo/figures/<recipe>/`, then rewrites the recipes table and the presets table of `zoo/README.md`
from every shipped preset's `metadata.json` (the metrics measured by
`keras-vae train`, with the command that reproduces the run) and every
preset's model card (`zoo/presets/<name>/README.md`, from its metadata,
showing the figures of `zoo/figures/<name>/`). With no runs it only rewrites
the table and the cards. With `--study OUT` it ships the study's median-MIG
run of every setting as `zoo/presets/<recipe>/` (`keras_vae.study.ship_presets`),
copies those runs' figures, the study's plots and its `study.json` (every
run's metrics, to `zoo/studies/<study>/`), and writes the study's table into
zoo/README.md.
"""

import json
import os
import shutil
import sys

ZOO = os.path.dirname(os.path.abspath(__file__))
FIGURES = ("reconstructions.png", "samples.png", "traversal.png", "learning_curve.png")
COLUMNS = [
    ("test_elbo", "test ELBO"), ("test_iwae_nll", "IWAE NLL (k)"),
    ("active_units", "active units"), ("knn_latent", "k-NN latent"),
    ("knn_pixels", "k-NN pixels"), ("mig", "MIG"), ("factor_vae_score", "FactorVAE"),
    ("dci_disentanglement", "DCI D"), ("dci_completeness", "DCI C"), ("sap", "SAP"),
]
BEGIN, END = "<!-- presets table: begin -->", "<!-- presets table: end -->"
RECIPES_BEGIN, RECIPES_END = "<!-- recipes table: begin -->", "<!-- recipes table: end -->"
STUDY_BEGIN, STUDY_END = "<!-- study table: begin -->", "<!-- study table: end -->"
DATA = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST (tfds)",
        "dsprites": "dSprites (procedural, or the real file with --data-dir)"}


def collect(run):
    with open(os.path.join(run, "preset", "metadata.json")) as f:
        name = json.load(f)["recipe"]
    target = os.path.join(ZOO, "presets", name)
    if os.path.exists(target):
        shutil.rmtree(target)
    shutil.copytree(os.path.join(run, "preset"), target)
    figures = os.path.join(ZOO, "figures", name)
    os.makedirs(figures, exist_ok=True)
    for figure in FIGURES:
        if os.path.isfile(os.path.join(run, "figures", figure)):
            shutil.copy(os.path.join(run, "figures", figure), figures)


def _cell(value, metrics=None, key=None):
    if key == "test_iwae_nll" and value is not None:
        return f"{_cell(value)} ({metrics.get('test_iwae_samples', 100)})"
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def table():
    from keras_vae import model_card

    rows = ["| preset | steps (lr) | wall time | " + " | ".join(c for _, c in COLUMNS) + " |",
            "| --- | --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |"]
    commands = []
    base = os.path.join(ZOO, "presets")
    for name in sorted(os.listdir(base)):
        with open(os.path.join(base, name, "metadata.json")) as f:
            meta = json.load(f)
        metrics = meta.get("metrics", {})
        validation = meta.get("validation")
        steps = f"{meta['steps']:,}" + (f" of {validation['stopped_step']:,}" if validation else "")
        rows.append(f"| `{name}` | {steps} ({meta['learning_rate']:g}) | "
                    f"{meta['wall_time_s'] / 60:.1f} min | "
                    + " | ".join(_cell(metrics.get(k), metrics, k) for k, _ in COLUMNS) + " |")
        command = model_card.training_command(meta)
        commands.append(command if command.startswith("keras-vae study")
                        else f"{command} --out runs/{name}")
    return "\n".join(rows) + "\n\nReproduce (tensorflow backend, 2 CPU cores):\n\n```bash\n" \
        + "\n".join(commands) + "\n```\n"


def recipes_table():
    """The recipes, from the recipe files: model, data and cited settings."""
    from keras_vae import recipes

    rows = ["| recipe | model | data | settings and sources |", "| --- | --- | --- | --- |"]
    for name in recipes.list_recipes():
        recipe = recipes.load_recipe(name)
        cells = (f"`{name}`", f"{recipe.model}: {recipe.description}",
                 DATA.get(recipe.dataset, recipe.dataset), recipe.references)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


def _replace_between(text, begin, end, body):
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return head + begin + "\n" + body + end + tail


def cards():
    from keras_vae import model_card

    base = os.path.join(ZOO, "presets")
    for name in sorted(os.listdir(base)):
        figures = {figure[:-4]: f"../../figures/{name}/{figure}" for figure in FIGURES
                   if os.path.isfile(os.path.join(ZOO, "figures", name, figure))}
        model_card.write_model_card(os.path.join(base, name), name=name, figures=figures)


def ship_study(out, skip=()):
    """Ships a study's median-MIG runs as presets (with their figures), but
    not those of the recipes in `skip`; returns the study's table and plots
    as Markdown for zoo/README.md."""
    from keras_vae import study

    with open(os.path.join(out, "study.json")) as f:
        name = json.load(f)["study"]
    rows = study.report(name, out)
    runs = [r for r in study.plan(name) if r.method not in skip]
    chosen = study.median_runs(name, out, runs=runs)
    study.ship_presets(name, out, os.path.join(ZOO, "presets"), runs=runs, training_layers=False)
    for (method, _), (run, _) in chosen.items():
        figures = os.path.join(ZOO, "figures", method)
        os.makedirs(figures, exist_ok=True)
        for figure in FIGURES:
            source = os.path.join(out, study.RUNS_DIR, run.name, "figures", figure)
            if os.path.isfile(source):
                shutil.copy(source, figures)
    results = os.path.join(ZOO, "studies", name)  # every run's metrics, in the repository
    os.makedirs(results, exist_ok=True)
    shutil.copy(os.path.join(out, "study.json"), results)
    plots = os.path.join(ZOO, "figures", f"study_{name}")
    os.makedirs(plots, exist_ok=True)
    links = []
    for figure in sorted(os.listdir(os.path.join(out, "figures"))):
        shutil.copy(os.path.join(out, "figures", figure), plots)
        links.append(f"![{figure[:-4]}](figures/study_{name}/{figure})")
    return study.markdown_table(rows) + "\n\n" + "\n".join(links) + "\n"


def main(argv):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="run directories of `keras-vae train`")
    parser.add_argument("--study", metavar="OUT",
                        help="a `keras-vae study` directory: ship its median-MIG runs and "
                             "write its table")
    parser.add_argument("--skip-presets", nargs="+", default=(), metavar="RECIPE",
                        help="with --study: recipes whose median run is reported, not shipped")
    args = parser.parse_args(argv)
    for run in args.runs:
        collect(run)
    study_text = ship_study(args.study, args.skip_presets) if args.study else None
    cards()
    path = os.path.join(ZOO, "README.md")
    with open(path) as f:
        text = f.read()
    text = _replace_between(text, BEGIN, END, table())
    text = _replace_between(text, RECIPES_BEGIN, RECIPES_END, recipes_table())
    if study_text is not None:
        text = _replace_between(text, STUDY_BEGIN, STUDY_END, study_text)
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])
