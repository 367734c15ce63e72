"""Local devices and their names: listing, parsing and selecting them for
`DataParallelScope`."""

import numbers

import keras


_TF_DEVICE_SETS = []


def check_one_tf_device_set(devices):
    """Raises when this process already made a MirroredStrategy over another
    set of devices.

    TensorFlow numbers the collective groups of every MirroredStrategy of a
    process from the same key, so a strategy over other devices than an
    earlier one fails in its first all-reduce ("joining a group with size 2,
    but that group has size 4"), for any Keras model. Say so up front.
    """
    if len(devices) < 2:
        return
    earlier = next((d for d in _TF_DEVICE_SETS if d != devices), None)
    if earlier is not None:
        raise RuntimeError(
            "TensorFlow trains with one set of devices per process: this "
            f"process already made a MirroredStrategy over {earlier}, and "
            "TensorFlow's collectives cannot then run over other devices. "
            "Start a new process for another set of devices. Received: "
            f"devices={devices}"
        )
    if devices not in _TF_DEVICE_SETS:
        _TF_DEVICE_SETS.append(list(devices))


def jax_devices():
    """The devices `keras.distribution` sees (all processes'), normalized."""
    return [normalize(d) for d in keras.distribution.list_devices()]


def tf_devices():
    """TensorFlow's logical GPUs, or its logical CPUs when there is none."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [normalize(d.name) for d in devices]


def normalize(name):
    """`/device:GPU:0`, `/gpu:0`, `GPU:0` -> `gpu:0`."""
    name = name.rsplit("/", 1)[-1]
    if name.lower().startswith("device:"):
        name = name[len("device:"):]
    return name.lower()


def select(devices, available, backend):
    """The devices named by `distributed(devices=...)`: all of `available`
    for None, the first n for an int n, or the listed names (normalized,
    each one of `available`, no repeats)."""
    if devices is None:
        return available
    if isinstance(devices, bool):
        raise TypeError(
            "Argument `devices` must be None, an int or a list of device "
            f"names. Received: devices={devices!r}"
        )
    if isinstance(devices, numbers.Integral):
        devices = int(devices)
        if devices < 1 or devices > len(available):
            raise ValueError(
                f"Argument `devices` must be between 1 and the number of local "
                f"devices, {len(available)} ({available}); on a CPU-only machine "
                "use_virtual_cpu_devices(n) (CLI: --virtual-devices N) splits "
                f"the CPU into n devices. Received: devices={devices}"
            )
        return available[:devices]
    if isinstance(devices, str) or not isinstance(devices, (list, tuple)) or not all(
            isinstance(d, str) for d in devices):
        raise TypeError(
            "Argument `devices` must be None, an int or a list of device "
            f"names such as ['gpu:0', 'gpu:1']. Received: devices={devices!r}"
        )
    chosen = [normalize(d) for d in devices]
    unknown = [d for d, c in zip(devices, chosen) if c not in available]
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise ValueError(
            f"Argument `devices` must name distinct local {backend} devices, "
            f"some of {available}. Received: devices={list(devices)!r}"
        )
    return chosen
