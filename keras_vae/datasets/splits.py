"""Slices of the local datasets' splits: `"train[:55000]"`, `"train[55000:]"`.

TensorFlow Datasets takes slices of a split in its split names; the data
sets of keras_vae (digits, Fashion-MNIST) take the same integer form, so
that a recipe can hold out a validation set from the training split without
touching the test split.
"""

import re

_SLICE = re.compile(r"^(?P<base>[a-z_]+)\[(?P<start>-?\d*):(?P<stop>-?\d*)\]$")


def parse(split, sizes, name="split"):
    """`(base, start, stop)` of a split name, with `start`/`stop` resolved
    to indices in `[0, sizes[base]]`.

    Args:
        split: `"train"` or a slice `"train[a:b]"` with integer bounds
            (either may be empty or negative, as in Python).
        sizes: dict of the examples per base split.
        name: the argument name used in error messages.

    Raises:
        ValueError: for an unknown base split, a malformed slice, or an
            empty slice.
        TypeError: for a split that is not a string.
    """
    if not isinstance(split, str):
        raise TypeError(f"Argument `{name}` must be a split name string, one of "
                        f"{tuple(sizes)} or a slice like 'train[:1000]'. "
                        f"Received: {name}={split!r} of type {type(split).__name__}")
    if split in sizes:
        return split, 0, sizes[split]
    match = _SLICE.match(split)
    if match is None or match["base"] not in sizes:
        raise ValueError(f"Argument `{name}` must be one of {tuple(sizes)} or a slice "
                         f"of one with integer bounds like 'train[:1000]' or "
                         f"'train[1000:]'. Received: {name}={split!r}")
    size = sizes[match["base"]]
    start, stop, _ = slice(int(match["start"]) if match["start"] else None,
                           int(match["stop"]) if match["stop"] else None).indices(size)
    if stop <= start:
        raise ValueError(f"Argument `{name}` selects no examples ({match['base']!r} has "
                         f"{size}). Received: {name}={split!r}")
    return match["base"], start, stop
