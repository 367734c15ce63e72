"""Reader for the IDX file format of MNIST and Fashion-MNIST."""

import gzip
import os
import zlib

import numpy as np

# IDX type code (third magic byte) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(
            f"IDX file {path} is a truncated or corrupt gzip archive ({e}). "
            "Delete it and download it again."
        ) from None


def read_idx(path, expected_ndim=None):
    """Reads an IDX file (optionally gzip-compressed) into a numpy array.

    The whole file is read and checked before anything is returned: the
    magic number (two zero bytes, a known type code, the number of
    dimensions), the dimensions and the payload size, which must match the
    dimensions exactly.

    Args:
        path: Path of the `.idx` or `.gz` file.
        expected_ndim: If given, the number of dimensions the file must have.

    Returns:
        A numpy array in native byte order with the file's dtype and shape.

    Raises:
        FileNotFoundError: If `path` does not exist.
        ValueError: If the file is truncated, corrupt or not an IDX file.
            The message names the file.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{path} is not an IDX file: expected the magic number to start "
            f"with two zero bytes. Received: first bytes={data[:4]!r}"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: expected a type code in "
            f"{sorted(hex(c) for c in _IDX_DTYPES)}. "
            f"Received: type code={hex(type_code)}"
        )
    if ndim == 0 or (expected_ndim is not None and ndim != expected_ndim):
        expected = expected_ndim if expected_ndim is not None else ">= 1"
        raise ValueError(
            f"IDX file {path} has the wrong number of dimensions: expected "
            f"{expected}. Received: ndim={ndim}"
        )
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(
            f"IDX file {path} is truncated: expected a header of "
            f"{header_size} bytes. Received: {len(data)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected_size = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected_size:
        problem = "truncated" if len(data) < expected_size else "corrupt"
        raise ValueError(
            f"IDX file {path} is {problem}: its header declares shape "
            f"{shape}, so expected {expected_size} bytes. "
            f"Received: {len(data)} bytes"
        )
    array = np.frombuffer(data, dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
