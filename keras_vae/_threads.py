"""Thread settings keras-vae applies before Keras (and PyTorch) is imported.

**`OMP_WAIT_POLICY=PASSIVE`** unless the variable is set. PyTorch's CPU
kernels run on OpenMP threads, which by default spin while they wait for
the next parallel region. On a machine where anything else runs (another
job, or the `tf.data` input pipeline that feeds `model.fit` on every
backend), a spinning thread holds a core that the thread it waits for
needs: on a shared machine a recipe's torch training step becomes several
times slower (measured by `bench/recipe_throughput.py`, in
bench/RESULTS.md). `PASSIVE`
makes waiting threads sleep; it changes no result (the threads compute the
same thing, only their waiting differs; `tests/test_threads.py` trains the
same steps under both policies and compares the weights).

OpenMP reads the variable once, when its runtime is loaded (with `torch`),
so it is set only if no OpenMP user is loaded yet: `import keras_vae` before
`torch` (the `keras-vae` command does). Set `OMP_WAIT_POLICY=ACTIVE` to
keep spinning threads (a dedicated, otherwise idle machine).
"""

import os
import sys

DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE"}
# Modules whose OpenMP runtime the setting is for: once one is imported, the
# variable has been read and setting it would only misreport the policy in
# force.
OPENMP_MODULES = ("torch",)


def apply_defaults():
    """Sets each variable of `DEFAULTS` the environment lacks, if no OpenMP
    runtime is loaded yet. Returns the names set."""
    if any(name in sys.modules for name in OPENMP_MODULES):
        return []
    applied = [name for name in DEFAULTS if name not in os.environ]
    for name in applied:
        os.environ[name] = DEFAULTS[name]
    return applied
