"""Throughput and memory of a full streaming pass over a dataset.

Usage:
    python bench/data_throughput.py                 # dSprites, all modes
    python bench/data_throughput.py --mode numpy --cores 1
    python bench/data_throughput.py --dataset fashion_mnist --mode pipeline

Modes:
    numpy     `DSprites.imgs()` in batches: the bare renderer (dSprites only).
    pipeline  `keras_vae.datasets.load(...)`: the tf.data pipeline model.fit
              consumes (float32 images, shuffled, prefetched).

Each mode runs in its own process (so its peak RSS is its own), pinned to
`--cores` CPU cores. It prints images/s, the peak RSS (resource.getrusage)
and the resident memory after setup (imports, first batch), after 10% and
after 100% of the pass: equal values mean memory stays flat while
streaming. Most of the RSS is the TensorFlow/Keras import itself.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _rss_mb():
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _batches(args):
    """Yields batch sizes of a full pass in the chosen mode."""
    sys.path.insert(0, ROOT)
    if args.mode == "numpy":
        import numpy as np

        from keras_vae.datasets import DSprites

        data = DSprites()
        data.imgs([0])  # draw the sprite masks before timing
        n = len(data)
        for start in range(0, n, args.batch_size):
            yield len(data.imgs(np.arange(start, min(start + args.batch_size, n))))
    else:
        from keras_vae.datasets import load

        ds = load(args.dataset, batch_size=args.batch_size, binarize=args.binarize)
        for batch in ds:
            yield int(batch.shape[0])


def _run_child(args):
    if args.cores:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
    batches = _batches(args)
    total = next(batches)  # includes imports and setup; not timed
    rss_setup = _rss_mb()
    start = time.perf_counter()
    count, rss_10 = 0, None
    expected = {"dsprites": 737_280, "fashion_mnist": 60_000, "digits": 1_497}
    for size in batches:
        count += size
        if rss_10 is None and count >= 0.1 * expected.get(args.dataset, 1):
            rss_10 = _rss_mb()
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "dataset": args.dataset,
                "mode": args.mode,
                "cores": args.cores or os.cpu_count(),
                "batch_size": args.batch_size,
                "images": total + count,
                "images_per_s": round(count / elapsed),
                "seconds": round(elapsed, 2),
                "peak_rss_mb": round(_peak_rss_mb(), 1),
                "rss_mb_after_setup": round(rss_setup, 1),
                "rss_mb_at_10pct": round(rss_10 or 0.0, 1),
                "rss_mb_at_end": round(_rss_mb(), 1),
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="dsprites")
    parser.add_argument("--mode", choices=["numpy", "pipeline", "all"], default="all")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--binarize", default=None)
    parser.add_argument("--cores", type=int, default=None, help="pin to this many cores")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.batch_size = args.batch_size or (4096 if args.mode == "numpy" else 256)
        return _run_child(args)
    modes = ["numpy", "pipeline"] if args.mode == "all" else [args.mode]
    if args.dataset != "dsprites" and "numpy" in modes:
        modes.remove("numpy")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for mode in modes:
        for cores in [args.cores] if args.cores else [1, None]:
            cmd = [sys.executable, __file__, "--child", "--mode", mode, "--dataset", args.dataset]
            if args.batch_size:
                cmd += ["--batch-size", str(args.batch_size)]
            if args.binarize:
                cmd += ["--binarize", args.binarize]
            if cores:
                cmd += ["--cores", str(cores)]
            result = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if result.returncode != 0:
                sys.stderr.write(result.stderr[-3000:])
                return result.returncode
            print(result.stdout.strip().splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
