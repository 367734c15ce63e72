"""Throughput and memory of a full streaming pass over a dataset.

Usage:
    python bench/data_throughput.py                 # dSprites, all modes
    python bench/data_throughput.py --mode numpy --cores 1
    python bench/data_throughput.py --dataset fashion_mnist --mode pipeline
    python bench/data_throughput.py --write-synthetic /tmp/dsprites.npz
    python bench/data_throughput.py --file /tmp/dsprites.npz

Modes:
    numpy     `DSprites.imgs()` in batches: the bare renderer, or with
              `--file` the reader of DeepMind's file (dSprites only).
    pipeline  `keras_vae.datasets.load(...)`: the tf.data pipeline model.fit
              consumes (float32 images, shuffled, prefetched); with `--file`
              it reads that file (`data_dir=`).

`--write-synthetic PATH` writes a full-size file in the format of DeepMind's
`dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz` (an uncompressed npz of
`imgs` uint8 (737280, 64, 64), `latents_classes` int64 and `latents_values`
float64 (737280, 6), and `metadata`), 3.1 GB, with the procedural images,
streamed chunk by chunk (`--compressed`: deflated, as `np.savez_compressed`
writes, and small); then `--file PATH` measures a full pass over it (for a
compressed file, after decompressing the images once into a packed-bits
copy next to it: see `DSprites.from_file`).

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

        data = DSprites.from_file(args.file) if args.file else DSprites()
        data.imgs([0])  # build the span table before timing
        n = len(data)
        for start in range(0, n, args.batch_size):
            yield len(data.imgs(np.arange(start, min(start + args.batch_size, n))))
    else:
        from keras_vae.datasets import load

        ds = load(args.dataset, batch_size=args.batch_size, binarize=args.binarize,
                  data_dir=args.file)
        for batch in ds:
            yield int(batch.shape[0])


def write_synthetic(path, compressed=False, chunk=16384):
    """Writes a full-size dSprites file in the original's format (see above),
    deflated like `np.savez_compressed` when `compressed`."""
    import zipfile

    import numpy as np

    sys.path.insert(0, ROOT)
    from keras_vae.datasets import DSprites

    data = DSprites()
    n = len(data)

    def member(archive, name, dtype, shape, blocks):
        with archive.open(f"{name}.npy", "w", force_zip64=True) as f:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                      "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_1_0(f, header)
            for block in blocks:
                f.write(np.ascontiguousarray(block, dtype).tobytes())

    def chunks(fn):
        for start in range(0, n, chunk):
            yield fn(np.arange(start, min(start + chunk, n)))

    metadata = {"description": "synthetic dSprites in the original's format",
                "latents_names": data.latents_names,
                "latents_sizes": data.latents_sizes,
                "latents_possible_values": data.latents_possible_values}
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method, allowZip64=True) as archive:
        with archive.open("metadata.npy", "w") as f:
            np.lib.format.write_array(f, np.array(metadata, dtype=object), allow_pickle=True)
        member(archive, "imgs", np.uint8, (n, 64, 64), chunks(data.imgs))
        member(archive, "latents_classes", np.int64, (n, 6), chunks(data.index_to_classes))
        member(archive, "latents_values", np.float64, (n, 6),
               chunks(lambda i: data.classes_to_values(data.index_to_classes(i))))
    print(json.dumps({"wrote": path, "compressed": compressed,
                      "bytes": os.path.getsize(path),
                      "peak_rss_mb": round(_peak_rss_mb(), 1)}))


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
                "file": args.file,
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
    parser.add_argument("--file", default=None,
                        help="dSprites: read this file (DeepMind's .npz/.hdf5 format)")
    parser.add_argument("--write-synthetic", default=None, metavar="PATH",
                        help="write a full-size dSprites file in the original's format")
    parser.add_argument("--compressed", action="store_true",
                        help="with --write-synthetic: deflate the arrays")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_synthetic:
        return write_synthetic(args.write_synthetic, args.compressed)
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
            if args.file:
                cmd += ["--file", args.file]
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
