"""The generated blocks of bench/RESULTS.md, made from `bench/run_all.py`'s
measurements (its `--save-json` file): one builder per block, and `fill`,
which puts them between the template's GENERATED markers."""

import math
import re

from _harness import CONFIGS
from _harness import UPSAMPLINGS
from _harness import default_upsampling

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
    ("pythae", "BaseTrainer", "pythae (peer)", "VAE + BaseTrainer, torch eager"),
]
CONFIG_TITLES = {
    "fashion_mnist": "Fashion-MNIST conv VAE (28x28x1, latent 16, `architecture=\"conv\"`, batch 128)",
    "dsprites": "dSprites net (64x64x1, latent 10, `architecture=\"disentanglement\"`, batch 64)",
}


# === Markdown builders ===


def _fmt(value):
    return "n/a" if value is None else f"{value:,.0f}"


def _find(rows, runner, variant, config, upsampling):
    """The row of one measurement: exact variant first, else a failure row
    of that runner without a variant (a child process that died)."""
    fallback = None
    for r in rows:
        if (r.get("runner") != runner or r.get("config") != config
                or r.get("upsampling") != upsampling):
            continue
        if r.get("variant") == variant:
            return r
        if "error" in r and r.get("variant") is None and fallback is None:
            fallback = r
    return fallback


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


def _defaults(report):
    """`{config: default upsampling}` of the run (older reports: the library's now)."""
    return report.get("defaults") or {c: default_upsampling(c)
                                      for c in CONFIGS}


def _decoders(report, config):
    """The configuration's decoders, its default first."""
    default = _defaults(report)[config]
    measured = {r.get("upsampling") for r in report["throughput"] if r.get("config") == config}
    return [default] + [u for u in UPSAMPLINGS
                        if u != default and u in measured]


def throughput_md(report):
    rows = report["throughput"]
    epochs, other = report.get("epochs"), report.get("other_epochs")
    out = []
    for config in CONFIGS:
        if not any(r.get("config") == config for r in rows):
            continue
        c = CONFIGS[config]
        decoders = _decoders(report, config)
        pixels = c["input_shape"][0] * c["input_shape"][1] * c["input_shape"][2]
        out.append(f"#### {CONFIG_TITLES[config]}\n")
        count = (f"{epochs} timed epochs" if other in (None, epochs) else
                 f"{epochs} timed epochs (default decoder; {other} for the others)")
        out.append(f"Samples/s, median of {count} of {c['num_examples']:,} images "
                   f"({c['num_examples'] // c['batch_size']} batches) after "
                   f"{c['warmup_steps']} untimed warm-up steps (min-max of the epochs in "
                   "brackets). The library's default decoder comes first.\n")
        names = [f"{u} (default)" if i == 0 else u for i, u in enumerate(decoders)]
        out.append("| framework | variant | " + " | ".join(names) + " | peak RSS MB |")
        out.append("| --- | --- |" + " ---: |" * (len(decoders) + 1))
        for runner, variant, name, label in ROW_ORDER:
            found = [_find(rows, runner, variant, config, u) for u in decoders]
            if not any(found):
                continue
            rss = max((r["peak_rss_mb"] for r in found if r and "peak_rss_mb" in r),
                      default=None)
            out.append(f"| {name} | {label} | " + " | ".join(_cell(r) for r in found)
                       + f" | {_fmt(rss)} |")
        losses = [r["final_loss"] for r in rows if r.get("config") == config
                  and r.get("final_loss") is not None]
        if losses:
            optimum = pixels * math.log(2)
            far = [v for v in losses if abs(v - optimum) > 0.001 * optimum]
            out.append(f"\nSame-loss check: the mean training loss of the last timed epoch "
                       f"is {min(losses):,.2f}-{max(losses):,.2f} nats across all "
                       f"{len(losses)} runs above (same data). On uniform random pixels the "
                       f"lowest expected loss is {pixels:,} x ln 2 = {optimum:,.2f} nats "
                       "(predict 0.5 for every pixel, posterior = prior)"
                       + (", and every loop converges to it: all compute the same loss "
                          "on the same scale." if not far else
                          f"; {len(far)} run(s) are more than 0.1% away from it "
                          "(too few steps?)."))
        reasons = {}  # reason -> {row label: [decoders]}
        for r in rows:
            if r.get("config") == config and r.get("skipped"):
                label = next((f"{n}, {lab}" for ru, v, n, lab in ROW_ORDER
                              if ru == r["runner"] and v == r.get("variant")), r["runner"])
                reasons.setdefault(r["error"], {}).setdefault(label, []).append(
                    r["upsampling"])
        for reason, cells in reasons.items():
            where = "; ".join(f"{label}: {', '.join(ups)}" for label, ups in cells.items())
            out.append(f"\nSkipped ({where}): {reason.removeprefix('not run: ')}.")
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


def _ratios(rows, config, up):
    """The target ratios of one configuration and decoder; None where not measured.

    Returns `{name: (ratio, text)}` for "fastest" (fastest Keras backend /
    pure PyTorch), "keras-torch" and "keras-jax" (Keras / its native loop),
    "spread" (slowest / fastest Keras backend), "pythae" (fastest Keras
    backend / pythae).
    """
    keras = {b: _rate(rows, b, v, config, up) for b, v in DEFAULT_VARIANTS.items()}
    keras = {b: v for b, v in keras.items() if v}
    out = {}
    native_torch = _rate(rows, "torch", "eager", config, up)
    if keras and native_torch:
        best = max(keras, key=keras.get)
        out["fastest"] = (keras[best] / native_torch,
                          f"{best[6:]} {keras[best]:,.0f} / {native_torch:,.0f}")
    pythae = _rate(rows, "pythae", "BaseTrainer", config, up)
    if keras and pythae:
        best = max(keras, key=keras.get)
        out["pythae"] = (keras[best] / pythae,
                         f"{best[6:]} {keras[best]:,.0f} / {pythae:,.0f}")
    for backend, native, nvar in (("keras-torch", "torch", "eager"),
                                  ("keras-jax", "jax", "jit")):
        k = _rate(rows, backend, DEFAULT_VARIANTS[backend], config, up)
        n = _rate(rows, native, nvar, config, up)
        if k and n:
            out[backend] = (k / n, f"{k:,.0f} / {n:,.0f}")
    if len(keras) >= 2:
        lo, hi = min(keras, key=keras.get), max(keras, key=keras.get)
        out["spread"] = (keras[lo] / keras[hi],
                         f"{lo[6:]} {keras[lo]:,.0f} / {hi[6:]} {keras[hi]:,.0f}")
    return out


def targets_md(report):
    rows = report["throughput"]
    defaults = _defaults(report)
    out = ["| target | configuration | decoder | measured | verdict |",
           "| --- | --- | --- | ---: | --- |"]
    configs = [c for c in CONFIGS if any(r.get("config") == c for r in rows)]
    checks = (("fastest", "fastest Keras backend >= 1.7x pure PyTorch", 1.7, "x"),
              ("keras-torch", "Keras / torch >= 0.95x its native loop", 0.95, "x"),
              ("keras-jax", "Keras / jax >= 0.95x its native loop", 0.95, "x"),
              ("spread", "slowest Keras backend >= 1/3 of the fastest", 1 / 3, ""),
              ("pythae", "fastest Keras backend >= 1.5x pythae (issue 19)", 1.5, "x"))
    for key, target, threshold, unit in checks:
        for config in configs:
            up = defaults[config]
            found = _ratios(rows, config, up).get(key)
            if found:
                out.append(f"| {target} | {config} | {up} (default) | {found[0]:.2f}{unit} "
                           f"({found[1]}) | {_verdict(found[0], threshold)} |")
            else:
                out.append(f"| {target} | {config} | {up} (default) | not measured | |")
    for m in report.get("memory", []):
        if "error" in m:
            continue
        out.append(f"| peak RSS of a Fashion-MNIST training run <= 2 GB | fashion_mnist, "
                   f"full epoch, {m['runner']} | {m['upsampling']} | "
                   f"{m['peak_rss_mb']:,} MB | {_verdict(m['peak_rss_mb'], 2048, False)} |")
    others = [(config, up) for config in configs for up in _decoders(report, config)[1:]]
    if others:
        out.append("\nThe same ratios on the other decoders (for information; the targets "
                   "apply to the defaults):\n")
        out.append("| configuration | decoder | fastest Keras / pure PyTorch (>= 1.7) | "
                   "Keras-torch / pure PyTorch (>= 0.95) | Keras-jax / pure JAX (>= 0.95) | "
                   "slowest / fastest Keras (>= 0.33) | fastest Keras / pythae (>= 1.5) |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for config, up in others:
            found = _ratios(rows, config, up)
            cells = []
            for key, _, threshold, unit in checks:
                if key in found:
                    value, text = found[key]
                    mark = "" if value >= threshold else " (below)"
                    cells.append(f"{value:.2f}{unit} ({text}){mark}")
                else:
                    cells.append("n/a")
            out.append(f"| {config} | {up} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def upsampling_md(report):
    rows = report["throughput"]
    configs = [c for c in CONFIGS if any(r.get("config") == c for r in rows)]
    pairs = [(c, u, _defaults(report)[c]) for c in configs for u in _decoders(report, c)[1:]]
    out = []
    if pairs:
        out += ["Speed of each decoder relative to its configuration's default in this run "
                "(samples/s ratio; < 1 means slower than the default):\n",
                "| framework | " + " | ".join(f"{c}: {u} / {d}" for c, u, d in pairs) + " |",
                "| --- |" + " ---: |" * len(pairs)]
        for runner, variant, name, label in ROW_ORDER:
            cells = []
            for config, up, default in pairs:
                a = _rate(rows, runner, variant, config, default)
                b = _rate(rows, runner, variant, config, up)
                cells.append(f"{b / a:.2f}x" if a and b else "")
            if any(cells):
                out.append(f"| {name} ({label}) | " + " | ".join(cells) + " |")
    quality = [q for q in report.get("quality", []) if "error" not in q]
    for config in CONFIGS:
        runs = [q for q in quality if q.get("config", "fashion_mnist") == config]
        if not runs:
            continue
        q0, default = runs[0], _defaults(report)[config]
        c = CONFIGS[config]
        if config == "fashion_mnist":
            budget = (f"{q0['epochs']} epochs of the 60,000 training images"
                      if not q0.get("steps_per_epoch") else
                      f"{q0['epochs']} x {q0['steps_per_epoch']:,} steps")
            held_out = "the 10,000 test images"
        else:
            steps = q0.get("steps_per_epoch")
            budget = (f"{q0['epochs'] * steps:,} steps" if steps else f"{q0['epochs']} epochs")
            held_out = "10,000 held-out random dSprites images"
        out.append(f"\nQuality at equal steps: {CONFIG_TITLES[config].split(' (')[0]}, "
                   f"{q0['backend']} backend, {budget} (batch {c['batch_size']}, Adam 1e-3, "
                   f"seed {q0.get('seed', 0)}), negative ELBO on {held_out} in nats per "
                   "image (one posterior sample per image, mean of two evaluation passes; "
                   "lower is better):\n")
        out.append("| decoder upsampling | parameters | train s | train loss (last epoch) | "
                   "held-out -ELBO | reconstruction | KL |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for q in runs:
            name = f"{q['upsampling']} (default)" if q["upsampling"] == default else q["upsampling"]
            out.append(f"| {name} | {q['params']:,} | {q['train_s']} | "
                       f"{q['train_loss']} | **{q['test_neg_elbo']}** | "
                       f"{q['test_reconstruction']} | {q['test_kl']} |")
    for q in report.get("quality", []):
        if "error" in q:
            out.append(f"\nQuality run ({q.get('config', '')}) failed: {q['error'][:300]}")
    return "\n".join(out) + "\n"


RECIPE_BACKENDS = ("tensorflow", "jax", "torch")
RECIPE_STAGES = ("bare", "model", "pipeline", "recipe")
SGEMM_KEYS = ("numpy_sgemm", "torch_sgemm", "tensorflow_sgemm")


def _stage(rows, backend, recipe, stage):
    for r in rows:
        if (r.get("backend"), r.get("recipe"), r.get("stage")) == (backend, recipe, stage):
            return r
    return None


def _recipe_cells(a, b, c, d):
    """The step-time cells of one recipe: ms (ratio to the bare step)."""
    def cell(r):
        return f"{r['ms_per_step']:.1f} ({r['ms_per_step'] / a['ms_per_step']:.2f}x)"

    users = d["ms_per_step_as_users"] / a["ms_per_step"]
    cpu = d["cpu_ms_per_step"] / a["cpu_ms_per_step"]
    return [f"{a['ms_per_step']:.1f}", cell(b), cell(c), cell(d), f"{d['checkpoint_s']:.2f}",
            f"{d.get('validation_s', 0.0):.2f} / {d.get('user_steps_per_epoch', 500)}",
            f"**{users:.2f}x**", f"{cpu:.2f}x",
            ", ".join(f"{s:.0f}" for s in d["setup_s"]), f"{d['pipeline_images_per_s']:,}",
            f"{d['loadavg_1min']}"]


def _machine_md(machine):
    sgemm = {k: machine[k] for k in SGEMM_KEYS if machine.get(k)}
    return (f"The limit: measured float32 rates of this machine ({machine['cores']} cores, "
            f"load {machine['loadavg_1min']}, best of 20): matrix multiplication "
            f"({machine['matrix']} x {machine['matrix']}) "
            + ", ".join(f"{k.split('_')[0]} {v:,.0f}" for k, v in sgemm.items())
            + " GFLOP/s; convolution (64 x 32 x 32 x 32, kernel 4, stride 2, forward) "
            + ", ".join(f"{k.split('_')[0]} {machine[k]:,.0f}"
                        for k in ("torch_conv", "tensorflow_conv") if machine.get(k))
            + " GFLOP/s. \"% of sgemm\" is of the best matrix-multiplication rate.\n")


def recipes_md(report):
    """`bench/recipe_throughput.py`'s tables (RESULTS.md's `recipes` block)."""
    rows, machine = report["rows"], report.get("machine_rates") or {}
    names = list(dict.fromkeys(r["recipe"] for r in rows if "recipe" in r))
    backends = [b for b in RECIPE_BACKENDS if any(r.get("backend") == b for r in rows)]
    steps = {r["recipe"]: r["steps_per_epoch"] for r in rows if "steps_per_epoch" in r}
    every = report.get("user_steps_per_epoch", 500)
    out = [f"Milliseconds per training step, median of {report['rounds']} epochs per stage "
           "(stages alternating epoch by epoch; "
           + ", ".join(f"{n} {s}" for n, s in steps.items())
           + " steps per epoch, timed from each epoch's second batch), and in brackets the "
           "ratio to the bare step of the same network in the same process. \"As users\": "
           f"the recipe path with its checkpoint every {every} steps, or its checkpoint and "
           "held-out validation once per pass over the training split for a recipe that "
           "validates (`validation s / steps`), as `keras-vae train` runs them; \"CPU\": "
           "the same ratio in CPU seconds of the process (less disturbed by other jobs than "
           "wall time).\n",
           "| backend | recipe | A bare VAE step | B + regularizer | C + pipeline | "
           "D recipe path | checkpoint s | validation s / steps | **as users / bare** | "
           "CPU: D / A | setup s (build, restore, trace) | pipeline img/s | load |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: "
           "| ---: |"]
    for backend in backends:
        for name in names:
            error = next((r for r in rows if r.get("recipe") == name and "error" in r
                          and r.get("backend") == backend), None)
            stages = [_stage(rows, backend, name, s) for s in RECIPE_STAGES]
            if error:
                cells = ["failed: " + error["error"][:150].replace("|", "/")] + [""] * 10
            elif all(stages):
                cells = _recipe_cells(*stages)
            else:
                continue
            out.append(f"| {backend} | {name} | " + " | ".join(cells) + " |")
    if not machine or "error" in machine:
        return "\n".join(out) + "\n"
    best = max(machine.get(k) or 0 for k in SGEMM_KEYS)
    out += ["", _machine_md(machine),
            "| backend | recipe | training GFLOP per example (bare / recipe model) | "
            "bare step GFLOP/s | recipe path GFLOP/s | bare step, % of sgemm |",
            "| --- | --- | ---: | ---: | ---: | ---: |"]
    for backend in backends:
        for name in names:
            a, d = _stage(rows, backend, name, "bare"), _stage(rows, backend, name, "recipe")
            if a and d:
                out.append(f"| {backend} | {name} | {a['train_flops_per_example'] / 1e9:.4f} / "
                           f"{d['train_flops_per_example'] / 1e9:.4f} | {a['gflops_per_s']:.1f} | "
                           f"{d['gflops_per_s']:.1f} | {100 * a['gflops_per_s'] / best:.0f}% |")
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


def export_md(out):
    """export_latency.py's output: its facts as a list, then its table."""
    facts = [line for line in out.splitlines()
             if line.strip() and not line.startswith("|")]
    table = [line for line in out.splitlines() if line.startswith("|")]
    return "\n".join([f"- {line}" for line in facts] + [""] + table) + "\n"


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
    lines += [f"    - `{c if 'python ' in c else 'python ' + c}`" for c in commands]
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
