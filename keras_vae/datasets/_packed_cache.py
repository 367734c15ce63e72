"""An on-disk, bit-packed image cache."""

import os

import numpy as np

from keras_vae.datasets._npz_member import RowReader


class PackedBitsCache:
    """Binary images stored as packed bits in one file, built once.

    The file holds `num_rows` rows of `row_bits` bits each (`row_bits / 8`
    bytes). It is written in chunks to a temporary file that is renamed into
    place when complete, so a crash never leaves a half-built cache behind,
    and read with `os.preadv` (`RowReader`), so memory stays flat while it
    is built and read.

    Args:
        path: File path of the cache.
        num_rows: Number of images.
        row_bits: Pixels per image; a multiple of 8.
        render: Callable `render(indices) -> uint8 array (n, row_bits)` of
            0/1 values, used to build the file.
        chunk_size: Images rendered per chunk while building.
    """

    def __init__(self, path, num_rows, row_bits, render, chunk_size=16384):
        self.path = os.fspath(path)
        self._shape = (num_rows, row_bits // 8)
        if not self._is_complete():
            self._build(render, chunk_size)
        self._reader = RowReader(self.path, 0, np.uint8, self._shape)

    def _is_complete(self):
        expected = self._shape[0] * self._shape[1]
        return os.path.isfile(self.path) and os.path.getsize(self.path) == expected

    def _build(self, render, chunk_size):
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        tmp = f"{self.path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "wb") as out:
                for start in range(0, self._shape[0], chunk_size):
                    stop = min(start + chunk_size, self._shape[0])
                    bits = render(np.arange(start, stop))
                    out.write(np.packbits(bits, axis=1).tobytes())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    def rows(self, indices):
        """Returns rows `indices` unpacked: uint8 array (n, row_bits) of 0/1."""
        return np.unpackbits(self._reader.rows(indices), axis=1)
