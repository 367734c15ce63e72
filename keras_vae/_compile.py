"""`compiled`: a pure function compiled once per shape on JAX."""

import keras


def compiled(fn, static_argnames=()):
    """`fn` compiled with `jax.jit` on JAX, `fn` itself on other backends.

    JAX's eager mode compiles every operation anew for every new shape,
    which makes estimators built from many small operations take seconds per
    call on CPU; one jitted function compiles once per shape (and nests
    inside a jitted train step). Only for pure functions of their tensor
    arguments: a variable read inside would be frozen at its traced value.
    """
    if keras.backend.backend() != "jax":
        return fn
    import jax

    return jax.jit(fn, static_argnames=static_argnames)
