"""Row-wise reads of arrays in DeepMind's dSprites files, without loading them.

`np.load(..., mmap_mode="r")` cannot map an array inside an `.npz` (a zip
archive), and mapping the whole 2.9 GB image array keeps every page read in
the process's resident memory. For an array stored uncompressed (`np.savez`)
`RowReader` instead finds where its bytes start and reads the rows a batch
needs with `os.preadv`, so memory stays flat however much of the file is
read, and reads from several threads do not interfere (no shared file
position). An array compressed in the zip (`np.savez_compressed`) can only
be read front to back: `CompressedMember` streams it in chunks.
"""

import os
import struct
import zipfile

import numpy as np

_LOCAL_HEADER = b"PK\x03\x04"


class RowReader:
    """Reads rows of a C-ordered array stored at a fixed offset of a file.

    It reads any rows in any order (`compressed` is False).

    Args:
        path: The file.
        offset: Byte offset of the array's first element.
        dtype: The array's dtype.
        shape: The array's shape; rows are along the first axis.
    """

    def __init__(self, path, offset, dtype, shape):
        self.path = os.fspath(path)
        self.offset = int(offset)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)
        self._row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        end = self.offset + self._row_bytes * self.shape[0]
        size = os.path.getsize(self.path)
        if size < end:
            raise ValueError(
                f"The file {self.path!r} is truncated: its array of shape "
                f"{self.shape} needs {end} bytes, but the file has {size}. "
                f"Received: path={self.path!r}"
            )
        self._fd = None
        self._pid = None
        self._descriptor()  # opened now, so that reader threads share it

    compressed = False

    def _descriptor(self):
        # One descriptor per process (a forked worker opens its own).
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDONLY)
            self._pid = os.getpid()
        return self._fd

    def close(self):
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_fd"] = state["_pid"] = None
        return state

    def _read_into(self, buffer, first_row):
        view = memoryview(buffer).cast("B")
        position = self.offset + first_row * self._row_bytes
        fd = self._descriptor()
        while len(view):
            count = os.preadv(fd, [view], position)
            if count <= 0:
                raise ValueError(f"Unexpected end of file in {self.path!r}.")
            view, position = view[count:], position + count

    def rows(self, indices):
        """Rows `indices` (1-D int array, any order) as an array `(n, ...)`."""
        indices = np.asarray(indices, np.int64).reshape(-1)
        out = np.empty((len(indices),) + self.shape[1:], self.dtype)
        if not len(indices):
            return out
        unique, inverse = np.unique(indices, return_inverse=True)
        buffer = out if len(unique) == len(indices) else np.empty(
            (len(unique),) + self.shape[1:], self.dtype
        )
        # Consecutive indices are read with one call.
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        starts = np.r_[0, breaks]
        stops = np.r_[breaks, len(unique)]
        for a, b in zip(starts.tolist(), stops.tolist()):
            self._read_into(buffer[a:b], int(unique[a]))
        if buffer is out and np.array_equal(unique, indices):
            return out
        return buffer[inverse.reshape(-1)]

    def read_all(self):
        """The whole array (loads it into memory)."""
        out = np.empty(self.shape, self.dtype)
        self._read_into(out, 0)
        return out

    def chunks(self, rows):
        """Yields the array front to back, `rows` rows at a time."""
        for start in range(0, self.shape[0], rows):
            yield self.rows(np.arange(start, min(start + rows, self.shape[0])))


class CompressedMember:
    """A deflated array of an `.npz`, read front to back in chunks.

    Args:
        path: The `.npz` file.
        name: The member's name, e.g. `"imgs.npy"`.
        dtype, shape: The array's dtype and shape (from its header).
    """

    compressed = True

    def __init__(self, path, name, dtype, shape):
        self.path, self.name = path, name
        self.dtype, self.shape = np.dtype(dtype), tuple(shape)

    def chunks(self, rows):
        """Yields the array front to back, `rows` rows at a time."""
        row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        with zipfile.ZipFile(self.path) as archive, archive.open(self.name) as f:
            _read_header(f)
            for start in range(0, self.shape[0], rows):
                count = min(rows, self.shape[0] - start)
                data = f.read(count * row_bytes)
                if len(data) != count * row_bytes:
                    raise ValueError(
                        f"The array {self.name!r} of {self.path!r} is truncated. "
                        f"Received: path={self.path!r}"
                    )
                yield np.frombuffer(data, self.dtype).reshape((count,) + self.shape[1:])

    def read_all(self):
        """The whole array (decompresses it into memory)."""
        out = np.empty(self.shape, self.dtype)
        start = 0
        for block in self.chunks(65536):
            out[start : start + len(block)] = block
            start += len(block)
        return out


class ArrayRows:
    """The `RowReader` interface over an array in memory."""

    compressed = False

    def __init__(self, array):
        self._array = array
        self.dtype, self.shape = array.dtype, array.shape

    def rows(self, indices):
        return self._array[np.asarray(indices, np.int64).reshape(-1)]

    def read_all(self):
        return self._array.copy()

    def chunks(self, rows):
        for start in range(0, self.shape[0], rows):
            yield self._array[start : start + rows]


def _read_header(f):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def npz_members(path):
    """Readers of the arrays of an `.npz` file.

    Args:
        path: An `.npz` file written by `np.savez` or `np.savez_compressed`.

    Returns:
        Dict from array name (without `.npy`) to a `RowReader` (arrays
        stored uncompressed) or a `CompressedMember` (deflated arrays).
        Arrays of Python objects (such as dSprites' `metadata`) are skipped.

    Raises:
        ValueError: If the file is not a zip archive, or an array is not
            C-ordered.
    """
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if i.filename.endswith(".npy")]
            headers = {}
            for info in infos:
                if info.compress_type != zipfile.ZIP_STORED:
                    with archive.open(info) as f:
                        headers[info.filename] = _read_header(f)
    except zipfile.BadZipFile:
        raise ValueError(
            f"The file {path!r} is not an .npz (zip) archive. "
            f"Received: path={path!r}"
        ) from None
    members = {}
    with open(path, "rb") as f:
        for info in infos:
            if info.filename in headers:
                shape, fortran, dtype = headers[info.filename]
                offset = None
            else:
                f.seek(info.header_offset)
                local = f.read(30)
                if len(local) != 30 or local[:4] != _LOCAL_HEADER:
                    raise ValueError(f"Corrupt zip entry {info.filename!r} in {path!r}.")
                name_len, extra_len = struct.unpack("<HH", local[26:30])
                f.seek(info.header_offset + 30 + name_len + extra_len)
                shape, fortran, dtype = _read_header(f)
                offset = f.tell()
            if dtype.hasobject:
                continue
            if fortran and len(shape) > 1:
                raise ValueError(
                    f"The array {info.filename!r} of {path!r} is stored in "
                    "Fortran order; expected C order. Received: path=" + repr(path)
                )
            name = info.filename[: -len(".npy")]
            if offset is None:
                members[name] = CompressedMember(path, info.filename, dtype, shape)
            else:
                members[name] = RowReader(path, offset, dtype, shape)
    return members


class HDF5Rows:
    """The `RowReader` interface over an h5py dataset."""

    compressed = False

    def __init__(self, dataset):
        self._dataset = dataset
        self.dtype = dataset.dtype
        self.shape = tuple(dataset.shape)

    def rows(self, indices):
        indices = np.asarray(indices, np.int64).reshape(-1)
        if not len(indices):
            return np.empty((0,) + self.shape[1:], self.dtype)
        unique, inverse = np.unique(indices, return_inverse=True)
        if unique[-1] - unique[0] + 1 == len(unique):
            block = self._dataset[int(unique[0]) : int(unique[-1]) + 1]
        else:
            block = self._dataset[unique.tolist()]  # h5py needs increasing indices
        return block[inverse.reshape(-1)]

    def read_all(self):
        return self._dataset[()]

    def chunks(self, rows):
        for start in range(0, self.shape[0], rows):
            yield self._dataset[start : start + rows]
