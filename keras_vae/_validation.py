"""Argument checks shared by every public constructor and function.

Each helper raises a `ValueError` / `TypeError` that names the argument, says
what was expected and ends with "Received: name=value", in the style of Keras'
own layers.
"""

import numbers

import numpy as np


def check_int(name, value, minimum=None):
    """Checks that `value` is an integer (not a bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Argument `{name}` must be an integer. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if minimum is not None and value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value}"
        )
    return int(value)


def check_float(name, value, minimum=None, exclusive_minimum=False):
    """Checks that `value` is a finite real number >= (or >) `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Argument `{name}` must be a number. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(
            f"Argument `{name}` must be finite. Received: {name}={value}"
        )
    if minimum is not None:
        bad = value <= minimum if exclusive_minimum else value < minimum
        if bad:
            op = ">" if exclusive_minimum else ">="
            raise ValueError(
                f"Argument `{name}` must be {op} {minimum}. "
                f"Received: {name}={value}"
            )
    return value


def check_choice(name, value, choices):
    """Checks that `value` is one of the strings in `choices`."""
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(
            f"Argument `{name}` must be one of {sorted(choices)}. "
            f"Received: {name}={value!r}"
        )
    return value.lower()


def check_image_shape(name, value):
    """Checks an image shape `(H, W, C)` of positive integers."""
    try:
        shape = tuple(value)
    except TypeError:
        shape = None
    if (
        shape is None
        or len(shape) != 3
        or any(
            isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
            for d in shape
        )
    ):
        raise ValueError(
            f"Argument `{name}` must be an image shape (height, width, "
            f"channels) of three positive integers. Received: {name}={value!r}"
        )
    return tuple(int(d) for d in shape)


def check_finite_numeric(name, array):
    """Checks a numpy array holds real numbers (float or int), all finite."""
    if not (np.issubdtype(array.dtype, np.floating)
            or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(
            f"Argument `{name}` must hold real numbers (a float or integer "
            f"array). Received: {name}.dtype={array.dtype}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"Argument `{name}` contains NaN or infinite values "
            f"({int(np.sum(~np.isfinite(array)))} of {array.size}). "
            f"Received: {name} with non-finite entries"
        )
    return array


# Seeds go to Keras' SeedGenerator (a uint32 JAX key, TensorFlow's int64
# stateless seeds) and numpy; this range is valid on every backend.
MAX_SEED = 2**31 - 1


def check_seed(name, value, allow_none=False):
    """Checks a seed: an integer in [0, 2**31 - 1] (or None if allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"Argument `{name}` must be an integer in [0, {MAX_SEED}]"
            f"{' or None' if allow_none else ''}. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    if not 0 <= value <= MAX_SEED:
        raise ValueError(
            f"Argument `{name}` must be an integer in [0, {MAX_SEED}]. "
            f"Received: {name}={value}"
        )
    return int(value)


def check_bool(name, value):
    """Checks a bool (numpy's too); strings such as "no" are refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"Argument `{name}` must be True or False. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return bool(value)


def check_sequence(name, value):
    """Checks a list or tuple (not a string or a scalar) and returns a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(
            f"Argument `{name}` must be a list or tuple. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return tuple(value)
