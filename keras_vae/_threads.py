"""Thread settings keras-vae applies before Keras (and PyTorch) is imported.

PyTorch's CPU kernels run on OpenMP threads (GNU libgomp in the PyPI
wheels). Between two parallel regions a worker thread waits, and how it
waits decides the speed of a small network's training step, which is
hundreds of short parallel regions:

- OpenMP's default spins for a few milliseconds before it sleeps. On a
  machine where anything else runs (another job, or the `tf.data` input
  pipeline that feeds `model.fit` on every backend), a spinning thread holds
  a core that the thread it waits for needs, and a torch training step
  becomes several times slower.
- `OMP_WAIT_POLICY=PASSIVE` alone sleeps at once, and every region then
  pays a wake-up: on an idle machine the step is markedly slower than with
  spinning.
- keras-vae's default, `OMP_WAIT_POLICY=PASSIVE` with
  `GOMP_SPINCOUNT=1000`, spins a thousand pause instructions (microseconds)
  and then sleeps: the short gaps inside a step are bridged,
  a long wait does not hold a core. It measured as fast as spinning on an
  idle machine, and under load close to `PASSIVE` (within a loaded
  machine's scatter), without the collapse of long spins
  (`bench/recipe_throughput.py`, in bench/RESULTS.md).

The defaults are applied only where the user has set neither variable, so
an explicit `OMP_WAIT_POLICY=ACTIVE` (a dedicated machine) or `PASSIVE` is
kept as given (`GOMP_SPINCOUNT` overrides the policy's spin count in
libgomp). They change no result: the threads compute the same thing, only
their waiting differs (`tests/test_threads.py` trains the same steps under
several settings and compares the weights bit for bit). Other OpenMP
runtimes (Intel's, in some conda builds) read `OMP_WAIT_POLICY` and ignore
`GOMP_SPINCOUNT`.

OpenMP reads the variables once, when its runtime is loaded (with `torch`),
so they are set only if no OpenMP user is loaded yet: `import keras_vae`
before `torch` (the `keras-vae` command does).
"""

import os
import sys

DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "1000"}
# Modules whose OpenMP runtime the settings are for: once one is imported,
# the variables have been read and setting them would only misreport the
# policy in force.
OPENMP_MODULES = ("torch",)


def apply_defaults():
    """Sets `DEFAULTS` if the environment sets none of them and no OpenMP
    runtime is loaded yet (a user's own setting of either variable is
    kept whole: they act together). Returns the names set."""
    if any(name in sys.modules for name in OPENMP_MODULES):
        return []
    if any(name in os.environ for name in DEFAULTS):
        return []
    os.environ.update(DEFAULTS)
    return list(DEFAULTS)
