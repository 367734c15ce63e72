"""Argument checks specific to `keras_vae.datasets`.

Integer checks come from `keras_vae._validation`; this module adds the ones
only the data layer needs. Every check raises a `TypeError` or `ValueError`
that names the argument, says what was expected and ends with
"Received: name=value".
"""

import numbers

from keras_vae._validation import check_int


def check_batch_size(value):
    """Checks `batch_size`: an integer >= 1."""
    return check_int("batch_size", value, minimum=1)


def check_seed(value):
    """Checks `seed`: None or an integer >= 0."""
    if value is None:
        return None
    return check_int("seed", value, minimum=0)


def check_bool(name, value):
    """Checks that `value` is a bool and returns it."""
    if not isinstance(value, bool):
        raise TypeError(
            f"Argument `{name}` must be a bool. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return value


def check_one_of(name, value, allowed):
    """Checks that `value` is one of `allowed` (which may include None)."""
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"Argument `{name}` must be one of {listed}. "
            f"Received: {name}={value!r}"
        )
    return value


def check_image_size(value):
    """Checks `image_size`: None or a pair of positive integers."""
    if value is None:
        return None
    try:
        pair = tuple(value)
    except TypeError:
        pair = None
    if (
        isinstance(value, (str, bytes))
        or pair is None
        or len(pair) != 2
        or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1
            for v in pair
        )
    ):
        raise ValueError(
            "Argument `image_size` must be None or a pair of positive "
            f"integers (height, width). Received: image_size={value!r}"
        )
    return (int(pair[0]), int(pair[1]))
