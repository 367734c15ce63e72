"""Argument checks shared by every public constructor and function.

Each helper raises a `ValueError` / `TypeError` that names the argument, says
what was expected and ends with "Received: name=value", in the style of Keras'
own layers. Scalars (`check_int`, `check_float`, `check_bool`, `check_seed`,
`check_choice`), shapes (`check_image_shape`, `check_image_size`,
`check_sequence`) and arrays (`as_array`, `check_rank`, `check_all_finite`,
`check_finite_numeric`, `check_num_samples`, `check_num_columns`) are all
here; checks that only one package needs stay beside it (e.g. the metrics'
code and factor checks in `keras_vae.evaluation._checks`).
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


def check_optional_int(name, value, minimum=1):
    """None, or an integer >= `minimum` (a batch size, a number of steps)."""
    return None if value is None else check_int(name, value, minimum=minimum)


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
    """Checks that `value` is one of the strings in `choices` (case-insensitive).

    `choices` may also hold None, which then is a valid value. Returns the
    value lower-cased (or None).
    """
    if value is None and None in choices:
        return None
    if not isinstance(value, str) or value.lower() not in choices:
        names = sorted(c for c in choices if c is not None)
        allowed = f"{names} or None" if None in choices else f"{names}"
        raise ValueError(
            f"Argument `{name}` must be one of {allowed}. "
            f"Received: {name}={value!r}"
        )
    return value.lower()


def _positive_ints(value, length):
    """`value` as a tuple of `length` positive ints, or None if it is not one."""
    if isinstance(value, (str, bytes)):
        return None
    try:
        items = tuple(value)
    except TypeError:
        return None
    if len(items) != length or any(
        isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1
        for d in items
    ):
        return None
    return tuple(int(d) for d in items)


def check_image_shape(name, value):
    """Checks an image shape `(H, W, C)` of positive integers."""
    shape = _positive_ints(value, 3)
    if shape is None:
        raise ValueError(
            f"Argument `{name}` must be an image shape (height, width, "
            f"channels) of three positive integers. Received: {name}={value!r}"
        )
    return shape


def check_image_size(name, value):
    """Checks None or an image size `(height, width)` of positive integers."""
    if value is None:
        return None
    size = _positive_ints(value, 2)
    if size is None:
        raise ValueError(
            f"Argument `{name}` must be None or a pair of positive "
            f"integers (height, width). Received: {name}={value!r}"
        )
    return size


def check_finite_numeric(name, array):
    """Checks a numpy array holds real numbers (float or int), all finite."""
    if not (np.issubdtype(array.dtype, np.floating)
            or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(
            f"Argument `{name}` must hold real numbers (a float or integer "
            f"array). Received: {name}.dtype={array.dtype}"
        )
    check_all_finite(name, array)
    return array


# === Arrays ===


def as_array(name, value):
    """`np.asarray(value)`, with a `TypeError` naming `name` if impossible."""
    try:
        return np.asarray(value)
    except Exception as error:  # e.g. ragged nested lists
        raise TypeError(
            f"Argument `{name}` must be convertible to a numpy array. "
            f"Received: {name} of type {type(value).__name__}"
        ) from error


def check_rank(name, array, ndim, layout):
    """Checks that `array` has `ndim` dimensions; `layout` names them."""
    if array.ndim != ndim:
        raise ValueError(
            f"Argument `{name}` must be a {ndim}D array of shape {layout}. "
            f"Received: {name}.shape={array.shape}"
        )


def check_all_finite(name, array):
    """Checks that a numeric array has no NaN or inf; names the first one."""
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"Argument `{name}` must contain only finite values, but it "
            f"has {int(bad.sum())} NaN or inf value(s), the first at index "
            f"{first}. Received: {name}.shape={array.shape}"
        )


def _name_list(names):
    quoted = [f"`{name}`" for name in names]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def check_num_samples(**arrays):
    """Checks that all keyword arrays have the same length (first axis)."""
    _check_same_size(arrays, 0, "samples (first dimension)")


def check_num_columns(**arrays):
    """Checks that all keyword arrays have the same last dimension."""
    _check_same_size(arrays, -1, "columns (last dimension)")


def _check_same_size(arrays, axis, what):
    sizes = {name: array.shape[axis] for name, array in arrays.items()}
    if len(set(sizes.values())) > 1:
        received = ", ".join(
            f"{name}.shape={array.shape}" for name, array in arrays.items()
        )
        raise ValueError(
            f"Arguments {_name_list(sizes)} must have "
            f"the same number of {what}. "
            f"Received: {received}"
        )


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


def check_instances(name, value, item_type, what, item):
    """Checks a non-empty list or tuple of `item_type` instances; returns a list.

    `what` names the items in the plural ("keras-vae models"), `item` one
    of them ("model"), for the messages.
    """
    if isinstance(value, item_type) or not isinstance(value, (list, tuple)):
        raise TypeError(f"Argument `{name}` must be a list of {what}. "
                        f"Received: {name} of type {type(value).__name__}")
    value = list(value)
    if not value:
        raise ValueError(f"Argument `{name}` must hold at least one {item}. "
                         f"Received: {name}=[]")
    for i, element in enumerate(value):
        if not isinstance(element, item_type):
            raise TypeError(f"Argument `{name}` must hold only {what}. "
                            f"Received: {name}[{i}] of type {type(element).__name__}")
    return value


def check_optional_dict(name, value, what="a dict"):
    """Checks None or a dict; returns it."""
    if value is not None and not isinstance(value, dict):
        raise TypeError(f"Argument `{name}` must be None or {what}. "
                        f"Received: {name} of type {type(value).__name__}")
    return value


def check_sequence(name, value):
    """Checks a list or tuple (not a string or a scalar) and returns a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(
            f"Argument `{name}` must be a list or tuple. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    return tuple(value)
