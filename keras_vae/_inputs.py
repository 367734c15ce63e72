"""One check for every kind of input a keras-vae model accepts, before Keras
sees it.

- numpy arrays, nested Python lists, and the tensors of TensorFlow, JAX and
  PyTorch: shape, dtype, emptiness, finiteness and the likelihood's target
  range, checked on the values (a Python list is converted to a numpy array,
  which Keras then receives);
- `tf.data.Dataset`: its element spec (shape, dtype; a dict or an
  `(x, y, sample_weight)` element is refused), a known-empty dataset, and a
  cheap assertion mapped over the pipeline that each batch is finite and in
  range; when it fires, `translate_errors` turns TensorFlow's error into a
  one-line `ValueError`.

Generators, `keras.utils.PyDataset` and torch `DataLoader`s are passed on
unchecked (reading them would consume them).
"""

import contextlib
import re

import numpy as np

MARKER = "keras-vae input check:"


def _is_dataset(data):
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover - tensorflow is a dependency
        return False
    return isinstance(data, tf.data.Dataset)


def _to_numpy(data):
    module = type(data).__module__ or ""
    if module.startswith("torch"):
        return data.detach().cpu().numpy()
    return np.asarray(data)


def _shape_text(tail, what="images"):
    return f"(num_{what},) + {tuple(tail)}"


_Y_HINT = (" A VAE reconstructs its input: omit `y`. If your data are (image, label) "
           "pairs, keep only the images, e.g. `dataset.map(lambda x, y: x)`.")


def check_array(name, data, tail, target_range=None, what="images"):
    """Checks an array-like batch of shape `(n,) + tail`; returns what to
    hand to Keras (a numpy array for a Python list, else `data` itself)."""
    if isinstance(data, dict):
        raise TypeError(
            f"Argument `{name}` must be an array of {what} {_shape_text(tail, what)}, not a dict. "
            f"Received: {name}=dict with keys {sorted(map(str, data))}"
        )
    if isinstance(data, (list, tuple)):
        try:
            array = np.asarray(data, dtype="float32")
        except (ValueError, TypeError):
            raise ValueError(
                f"Argument `{name}` must be an array of {what} {_shape_text(tail, what)}; a Python "
                "list must be rectangular and hold only numbers. Received: "
                f"{name}=a {type(data).__name__} of {len(data)} items that is ragged or "
                "not numeric"
            ) from None
        data = array
    if not hasattr(data, "shape") or not hasattr(data, "dtype"):
        raise TypeError(
            f"Argument `{name}` must be an array of {what} {_shape_text(tail, what)} (numpy, a "
            "TensorFlow/JAX/PyTorch tensor or a nested list) or a tf.data.Dataset. "
            f"Received: {name} of type {type(data).__name__}"
        )
    shape = tuple(None if d is None else int(d) for d in data.shape)
    if len(shape) != len(tail) + 1 or shape[1:] != tuple(tail):
        raise ValueError(
            f"`{name}` must be a batch of {what} of shape {_shape_text(tail, what)}"
            f"{', the model' + chr(39) + 's `input_shape`' if what == 'images' else ''}."
            f"{_Y_HINT if name == 'y' else ''} Received: {name}.shape={shape}"
        )
    if shape[0] == 0:
        raise ValueError(
            f"Argument `{name}` is empty: it must hold at least one example. "
            f"Received: {name}.shape={shape}"
        )
    values = _to_numpy(data)
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise TypeError(
            f"Argument `{name}` must hold real numbers (a float or integer array). "
            f"Received: {name}.dtype={values.dtype}"
        )
    finite = np.isfinite(values)
    if not finite.all():
        raise ValueError(
            f"Argument `{name}` contains NaN or infinite values "
            f"({int(values.size - finite.sum())} of {values.size}). "
            f"Received: {name} with non-finite entries"
        )
    _check_range(name, float(values.min()), float(values.max()), target_range)
    return data


def _check_range(name, low_seen, high_seen, target_range):
    if not target_range:
        return
    likelihood, low, high = target_range
    if low_seen < low or high_seen > high:
        raise ValueError(
            f"likelihood='{likelihood}' needs `{name}` in [{low}, {high}]. Scale your "
            "images, e.g. x / 255.0 for uint8 pixels, or use likelihood='gaussian'. "
            f"Received: {name} with min={low_seen:g} and max={high_seen:g}"
        )


def check_dataset(name, data, tail, target_range=None, with_target=True):
    """Checks a `tf.data.Dataset`'s element spec and returns the dataset with
    an in-graph finiteness/range assertion on each batch."""
    import tensorflow as tf

    spec = data.element_spec
    if isinstance(spec, dict):
        raise TypeError(
            f"Argument `{name}` must yield batches of images {_shape_text(tail)}, not dicts; "
            "keep the images, e.g. `dataset.map(lambda d: d['image'])`. "
            f"Received: {name} yielding dicts with keys {sorted(spec)}"
        )
    parts = spec if isinstance(spec, tuple) else (spec,)
    if len(parts) > 2 or (len(parts) == 2 and not with_target):
        extra = ("(x, y, sample_weight) elements: keras-vae models do not support "
                 "`sample_weight`, the regularizers (KL, MMD) being batch statistics"
                 if len(parts) > 2 else "(x, y) pairs where only images are expected")
        raise ValueError(
            f"Argument `{name}` yields {extra}; map it to the images, e.g. "
            f"`dataset.map(lambda x, *rest: x)`. Received: {name}.element_spec={spec}"
        )
    names = (name, "y")
    for part, part_name in zip(parts, names):
        if part is None and part_name == "y":
            continue
        if not isinstance(part, tf.TensorSpec):
            raise TypeError(
                f"Argument `{name}` must yield tensors of images {_shape_text(tail)}. "
                f"Received: {part_name} element spec {part}"
            )
        shape = tuple(part.shape)
        if len(shape) != len(tail) + 1 or tuple(shape[1:]) != tuple(tail):
            hint = _Y_HINT if part_name == "y" else ""
            raise ValueError(
                f"`{part_name}` must be a batch of images of shape {_shape_text(tail)}, "
                f"the model's `input_shape`.{hint} Received: {part_name}.shape={shape}"
            )
        if not (part.dtype.is_floating or part.dtype.is_integer):
            raise TypeError(
                f"Argument `{name}` must yield real numbers. "
                f"Received: {part_name}.dtype={part.dtype.name}"
            )
    if int(data.cardinality()) == 0:
        raise ValueError(
            f"Argument `{name}` is an empty dataset: it must yield at least one batch. "
            f"Received: {name}.cardinality()=0"
        )

    def asserted(tensor, part_name):
        values = tf.cast(tensor, "float32")
        checks = [tf.debugging.Assert(
            tf.reduce_all(tf.math.is_finite(values)),
            [f"{MARKER} `{part_name}` contains NaN or infinite values."])]
        if target_range:
            likelihood, low, high = target_range
            checks.append(tf.debugging.Assert(
                tf.logical_and(tf.reduce_min(values) >= low, tf.reduce_max(values) <= high),
                [f"{MARKER} likelihood='{likelihood}' needs `{part_name}` between {low} and "
                 f"{high}; scale your images, e.g. x / 255.0 for uint8 pixels, or use "
                 "likelihood='gaussian'. Received: a batch with min and max",
                 tf.reduce_min(values), tf.reduce_max(values)]))
        with tf.control_dependencies(checks):
            return tf.identity(tensor)

    def check(*element):
        checked = tuple(asserted(t, n) if t is not None else t for t, n in zip(element, names))
        return checked if isinstance(spec, tuple) else checked[0]

    return data.map(check)


_ASSERTION = re.compile(re.escape(MARKER) + r"\s*([^\]]*)\](?:\s*\[([^\]]*)\]\s*\[([^\]]*)\])?")


@contextlib.contextmanager
def translate_errors():
    """Turns a fired `check_dataset` assertion (a TensorFlow
    `InvalidArgumentError`, under any backend) into a one-line ValueError."""
    try:
        yield
    except Exception as e:
        text = str(e)
        if MARKER not in text:
            raise
        match = _ASSERTION.search(text)
        message = match.group(1).strip() if match else text.strip().splitlines()[0]
        message = message.replace("\\'", "'")
        if match and match.group(2) is not None:
            message += f" {match.group(2)} and {match.group(3)}"
        raise ValueError(f"A batch of the dataset failed the input check: {message}") from None


def check_data(name, data, tail, target_range=None, with_target=True):
    """`check_dataset` or `check_array`, whichever `data` needs; generators,
    `PyDataset`s and `DataLoader`s are returned unchecked."""
    if data is None:
        return None
    if _is_dataset(data):
        return check_dataset(name, data, tail, target_range, with_target)
    if _is_unreadable(data):
        return data
    return check_array(name, data, tail, target_range)


def _is_unreadable(data):
    """Iterables Keras accepts that cannot be checked without consuming."""
    import inspect

    if inspect.isgenerator(data):
        return True
    names = {c.__name__ for c in type(data).__mro__}
    return bool(names & {"PyDataset", "Sequence", "DataLoader", "Iterator"})
