"""Runs every benchmark of bench/ and rewrites bench/RESULTS.md.

    python bench/run_all.py            # ~10 min on the 2-core CPU when it is quiet

On a loaded machine the training benchmarks take longer; when they have
used 13.5 minutes (`--skip-other-after`), the quick data and metric
benchmarks are skipped so that the whole run stays under 15 minutes.

Runs, one after the other (each framework in its own child processes):

1. `bench/train_throughput.py --memory --quality 2 --epochs 3`: `model.fit` samples/s
   per Keras backend next to pure PyTorch and pure JAX + optax loops, both
   decoder upsampling variants, both configurations; peak RSS of a full
   Fashion-MNIST epoch per backend; test -ELBO of the two decoders.
2. `bench/data_throughput.py --cores 2` (dSprites, numpy and pipeline) and
   `bench/data_throughput.py --dataset fashion_mnist --cores 2`.
3. `bench/metrics_speed.py`.

RESULTS.md is a template: the hand-written prose stays, and only the blocks
between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED: name -->`
are replaced with tables made from this run's measurements.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import train_throughput  # noqa: E402

# Library defaults the targets are checked on. `CURRENT` is what
# keras_vae.networks builds today; `RECOMMENDED` is this benchmark's advice.
CURRENT_DEFAULT_UPSAMPLING = "transpose"  # keras_vae.networks default
RECOMMENDED_UPSAMPLING = "transpose"
DEFAULT_VARIANTS = {  # what jit_compile="auto" resolves to on a CPU-only machine
    "keras-tensorflow": "tf.function, no XLA",
    "keras-jax": "jit (XLA)",
    "keras-torch": "eager",
}
ROW_ORDER = [
    ("keras-tensorflow", "tf.function, no XLA", "Keras / tensorflow", "jit_compile=False (= auto on CPU)"),
    ("keras-tensorflow", "XLA", "Keras / tensorflow", "jit_compile=True (XLA)"),
    ("keras-jax", "jit (XLA)", "Keras / jax", "auto = jax.jit (always)"),
    ("keras-torch", "eager", "Keras / torch", "jit_compile=False (= auto)"),
    ("keras-torch-compile", "torch.compile", "Keras / torch", "jit_compile=True (torch.compile)"),
    ("torch", "eager", "pure PyTorch", "eager, torch.optim.Adam"),
    ("jax", "jit", "pure JAX + optax", "jax.jit, optax.adam"),
]
CONFIG_TITLES = {
    "fashion_mnist": "Fashion-MNIST conv VAE (28x28x1, latent 16, `architecture=\"conv\"`, batch 128)",
    "dsprites": "dSprites net (64x64x1, latent 10, `architecture=\"disentanglement\"`, batch 64)",
}


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)


def _run(argv):
    """Runs a bench script; returns its stdout (stderr is shown on failure)."""
    print(f"\n$ python {' '.join(argv)}", flush=True)
    proc = subprocess.run([sys.executable] + argv, cwd=ROOT, env=_env(),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
    print(proc.stdout, flush=True)
    return proc.stdout, proc.returncode


# === Markdown builders ===


def _fmt(value):
    return "n/a" if value is None else f"{value:,.0f}"


def _find(rows, runner, variant, config, upsampling):
    for r in rows:
        if (r.get("runner") == runner and r.get("config") == config
                and r.get("upsampling") == upsampling
                and (r.get("variant") == variant or "error" in r)):
            return r
    return None


def _rate(rows, runner, variant, config, upsampling):
    r = _find(rows, runner, variant, config, upsampling)
    return None if r is None or "error" in r else r["samples_per_s"]


def _cell(r):
    if r is None:
        return "not run"
    if "error" in r:
        return "skipped" if r.get("skipped") else "failed: " + r["error"][:120].replace("|", "/")
    lo, hi = min(r["epoch_rates"]), max(r["epoch_rates"])
    return f"**{r['samples_per_s']:,.0f}** ({lo:,}-{hi:,})"


def throughput_md(report):
    rows = report["throughput"]
    out = []
    for config in train_throughput.CONFIGS:
        if not any(r.get("config") == config for r in rows):
            continue
        c = train_throughput.CONFIGS[config]
        out.append(f"#### {CONFIG_TITLES[config]}\n")
        out.append(f"Samples/s, median of {report['epochs']} timed epochs of "
                   f"{c['num_examples']:,} images ({c['num_examples'] // c['batch_size']} "
                   f"batches) after {c['warmup_steps']} untimed warm-up steps "
                   "(min-max of the epochs in brackets).\n")
        out.append("| framework | variant | resize | transpose | transpose / resize | peak RSS MB |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: |")
        for runner, variant, name, label in ROW_ORDER:
            r_res = _find(rows, runner, variant, config, "resize")
            r_tr = _find(rows, runner, variant, config, "transpose")
            if r_res is None and r_tr is None:
                continue
            a = _rate(rows, runner, variant, config, "resize")
            b = _rate(rows, runner, variant, config, "transpose")
            ratio = f"{b / a:.2f}x" if a and b else ""
            rss = max((r["peak_rss_mb"] for r in (r_res, r_tr)
                       if r and "peak_rss_mb" in r), default=None)
            out.append(f"| {name} | {label} | {_cell(r_res)} | {_cell(r_tr)} | {ratio} | "
                       f"{_fmt(rss)} |")
        losses = [r["final_loss"] for r in rows if r.get("config") == config
                  and r.get("final_loss") is not None]
        if losses:
            out.append(f"\nSame-loss check: the mean training loss of the last timed epoch "
                       f"is {min(losses):,.2f}-{max(losses):,.2f} nats across all "
                       f"{len(losses)} runs above (same data, same number of steps).")
        skipped = [r for r in rows if r.get("config") == config and r.get("skipped")]
        if skipped:
            out.append(f"\nSkipped: {skipped[0]['error']}.")
        out.append("")
    return "\n".join(out)


def _verdict(value, threshold, higher_is_better=True):
    if value is None:
        return "not measured"
    ok = value >= threshold if higher_is_better else value <= threshold
    if ok:
        return "**met**"
    if higher_is_better:
        return f"**missed** by {100 * (1 - value / threshold):.0f}%"
    return f"**missed** by {100 * (value / threshold - 1):.0f}%"


def targets_md(report):
    rows = report["throughput"]
    out = ["| target | configuration | decoder | measured | verdict |",
           "| --- | --- | --- | ---: | --- |"]
    configs = [c for c in train_throughput.CONFIGS if any(r.get("config") == c for r in rows)]
    for config in configs:
        for up in ("resize", "transpose"):
            keras = {b: _rate(rows, b, v, config, up) for b, v in DEFAULT_VARIANTS.items()}
            keras = {b: v for b, v in keras.items() if v}
            native_torch = _rate(rows, "torch", "eager", config, up)
            if keras and native_torch:
                best = max(keras, key=keras.get)
                ratio = keras[best] / native_torch
                out.append(f"| fastest Keras backend >= 1.7x pure PyTorch | {config} | {up} | "
                           f"{ratio:.2f}x ({best[6:]} {keras[best]:,.0f} / "
                           f"{native_torch:,.0f}) | {_verdict(ratio, 1.7)} |")
    for config in configs:
        for up in ("resize", "transpose"):
            for backend, native, nvar in (("keras-torch", "torch", "eager"),
                                          ("keras-jax", "jax", "jit")):
                k = _rate(rows, backend, DEFAULT_VARIANTS[backend], config, up)
                n = _rate(rows, native, nvar, config, up)
                if k and n:
                    out.append(f"| Keras / {backend[6:]} >= 0.95x its native loop | {config} | "
                               f"{up} | {k / n:.2f}x ({k:,.0f} / {n:,.0f}) | "
                               f"{_verdict(k / n, 0.95)} |")
    for config in configs:
        for up, label in ((CURRENT_DEFAULT_UPSAMPLING, "current default"),
                          (RECOMMENDED_UPSAMPLING, "recommended default")):
            keras = {b: _rate(rows, b, v, config, up) for b, v in DEFAULT_VARIANTS.items()}
            keras = {b: v for b, v in keras.items() if v}
            if len(keras) < 2:
                continue
            lo, hi = min(keras, key=keras.get), max(keras, key=keras.get)
            ratio = keras[lo] / keras[hi]
            out.append(f"| slowest Keras backend >= 1/3 of the fastest | {config} | "
                       f"{up} ({label}) | {ratio:.2f} ({lo[6:]} {keras[lo]:,.0f} / "
                       f"{hi[6:]} {keras[hi]:,.0f}) | {_verdict(ratio, 1 / 3)} |")
    for m in report.get("memory", []):
        if "error" in m:
            continue
        out.append(f"| peak RSS of a Fashion-MNIST training run <= 2 GB | fashion_mnist, "
                   f"full epoch, {m['runner']} | {m['upsampling']} | "
                   f"{m['peak_rss_mb']:,} MB | {_verdict(m['peak_rss_mb'], 2048, False)} |")
    return "\n".join(out) + "\n"


def upsampling_md(report):
    rows = report["throughput"]
    out = ["Speed-up of `upsampling=\"transpose\"` over `\"resize\"` in this run "
           "(samples/s ratio; > 1 means transpose is faster):\n",
           "| framework | " + " | ".join(train_throughput.CONFIGS) + " |",
           "| --- |" + " ---: |" * len(train_throughput.CONFIGS)]
    for runner, variant, name, label in ROW_ORDER:
        cells = []
        for config in train_throughput.CONFIGS:
            a = _rate(rows, runner, variant, config, "resize")
            b = _rate(rows, runner, variant, config, "transpose")
            cells.append(f"{b / a:.2f}x" if a and b else "")
        if any(cells):
            out.append(f"| {name} ({label}) | " + " | ".join(cells) + " |")
    quality = [q for q in report.get("quality", []) if "error" not in q]
    if quality:
        q0 = quality[0]
        out.append(f"\nQuality at the same budget: Fashion-MNIST conv VAE, {q0['backend']} "
                   f"backend, {q0['epochs']} epochs of the 60,000 training images "
                   f"(batch 128, Adam 1e-3, seed {q0.get('seed', 0)}), negative ELBO on the "
                   "10,000 test images in nats per image (one posterior sample per image, "
                   "mean of two evaluation passes; lower is better):\n")
        out.append("| decoder upsampling | parameters | train s | train loss (last epoch) | "
                   "test -ELBO | test reconstruction | test KL |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for q in quality:
            out.append(f"| {q['upsampling']} | {q['params']:,} | {q['train_s']} | "
                       f"{q['train_loss']} | **{q['test_neg_elbo']}** | "
                       f"{q['test_reconstruction']} | {q['test_kl']} |")
    for q in report.get("quality", []):
        if "error" in q:
            out.append(f"\nQuality run failed: {q['error'][:300]}")
    return "\n".join(out) + "\n"


def memory_md(report):
    out = ["| backend | run | decoder | first epoch s | samples/s (first epoch, incl. "
           "tracing) | RSS MB after imports | RSS MB before fit | **peak RSS MB** | "
           "TF imported |",
           "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for m in report.get("memory", []):
        if "error" in m:
            out.append(f"| {m['runner']} | failed: {m['error'][:200]} | | | | | | | |")
            continue
        out.append(f"| {m['runner']} | {m.get('note', '')} | {m['upsampling']} | {m['epoch_s']} | "
                   f"{m['samples_per_s']:,} | {m['rss_mb_after_imports']:,} | "
                   f"{m['rss_mb_before_fit']:,} | **{m['peak_rss_mb']:,}** | "
                   f"{'yes' if m['tensorflow_imported'] else 'no'} |")
    return "\n".join(out) + "\n"


def data_md(lines):
    out = ["| dataset | mode | cores | batch | images/s | seconds | peak RSS MB | "
           "RSS after setup / 10% / end |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in lines:
        out.append(f"| {r['dataset']} | {r['mode']} | {r['cores']} | {r['batch_size']} | "
                   f"{r['images_per_s']:,} | {r['seconds']} | {r['peak_rss_mb']:,} | "
                   f"{r['rss_mb_after_setup']:,} / {r['rss_mb_at_10pct']:,} / "
                   f"{r['rss_mb_at_end']:,} |")
    return "\n".join(out) + "\n"


def run_md(report, commands, wall_s, load_before, load_after):
    m = report["machine"]
    versions = ", ".join(f"{k} {m[k]}" for k in
                         ("keras", "tensorflow", "jax", "jaxlib", "optax", "torch", "numpy")
                         if m.get(k))
    lines = [
        f"- Date: {m['date']}",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m.get('memory_gb')} GB RAM, "
        f"{m['platform']}, no GPU",
        f"- Versions: python {m['python']}, {versions}",
        f"- Whole run (`python bench/run_all.py`): **{wall_s / 60:.1f} min** wall time",
        f"- Load average (1 min) before / after: {load_before:.2f} / {load_after:.2f}; "
        "load in the throughput rows is the 1-minute load average when each "
        "measurement ended (2 cores: anything above ~1 means another job "
        "shared the CPU with the measurement)",
        "- Commands run:",
    ]
    lines += [f"    - `python {c}`" for c in commands]
    seconds = report.get("seconds", {})
    if seconds:
        lines.append("- Seconds per training-benchmark process: " + ", ".join(
            f"{k} {v:.0f}" for k, v in seconds.items()))
    return "\n".join(lines) + "\n"


def fill(template, blocks):
    for name, body in blocks.items():
        pattern = re.compile(
            rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)",
            re.S)
        if not pattern.search(template):
            raise SystemExit(f"RESULTS.md lacks the markers of the generated block {name!r}")
        template = pattern.sub(lambda mt: mt.group(1) + body.rstrip() + "\n" + mt.group(2),
                               template)
    return template


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per throughput run")
    parser.add_argument("--quality-epochs", type=int, default=2)
    parser.add_argument("--output", default=os.path.join(BENCH, "RESULTS.md"))
    parser.add_argument("--skip-other", action="store_true",
                        help="skip data_throughput.py and metrics_speed.py (for testing)")
    parser.add_argument("--skip-other-after", type=float, default=13.5, metavar="MIN",
                        help="skip them too when the training benchmarks took longer "
                             "(a loaded machine), so the whole run stays under 15 min")
    args = parser.parse_args()

    start, load_before = time.perf_counter(), os.getloadavg()[0]
    commands = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.json")
        argv = ["--memory", "--quality", str(args.quality_epochs),
                "--epochs", str(args.epochs), "--json", path]
        commands.append("bench/train_throughput.py " + " ".join(argv[:-2]))
        print(f"$ python {commands[-1]}", flush=True)
        train_throughput.main(argv)
        with open(path) as f:
            report = json.load(f)
    report["epochs"] = args.epochs

    data_lines, metrics_out = [], ""
    elapsed = time.perf_counter() - start
    if not args.skip_other and elapsed > 60 * args.skip_other_after:
        print(f"{elapsed / 60:.1f} min elapsed: skipping data_throughput.py and "
              "metrics_speed.py to stay within the time budget", flush=True)
        args.skip_other = "budget"
    if not args.skip_other:
        for extra in (["--cores", "2"], ["--dataset", "fashion_mnist", "--cores", "2"]):
            argv = ["bench/data_throughput.py"] + extra
            commands.append(" ".join(argv))
            out, _ = _run(argv)
            data_lines += [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        commands.append("bench/metrics_speed.py")
        metrics_out, _ = _run(["bench/metrics_speed.py"])

    wall = time.perf_counter() - start
    with open(args.output) as f:
        template = f.read()
    blocks = {
        "run": run_md(report, commands, wall, load_before, os.getloadavg()[0]),
        "throughput": throughput_md(report),
        "targets": targets_md(report),
        "upsampling": upsampling_md(report),
        "memory": memory_md(report),
    }
    if args.skip_other == "budget":
        note = ("Not run this time: the training benchmarks used the time budget "
                "(loaded machine); run the script directly.\n")
        blocks["data"] = blocks["metrics"] = note
    elif not args.skip_other:
        blocks["data"] = data_md(data_lines)
        blocks["metrics"] = "```\n" + metrics_out.strip() + "\n```\n"
    with open(args.output, "w") as f:
        f.write(fill(template, blocks))
    print(f"\nWrote {os.path.relpath(args.output, ROOT)}; whole run {wall / 60:.1f} min")


if __name__ == "__main__":
    main()
