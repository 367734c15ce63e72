"""All-or-nothing output: write into a hidden directory beside the target,
fsync it, then move it into place with `os.rename` (atomic on one
filesystem).

On any failure the partial directory (and any parent directory created for
it) is removed, and an existing target is left as it was. The hidden names
carry the writer's process id; those of a writer that was killed are removed
by the next write to the same target (`keras_vae._atomic.remove_stale`), and
a target the killed writer had moved aside is put back.
"""

import contextlib
import os
import shutil

from keras_vae import _atomic


def check_target(path, overwrite):
    """Raises `FileExistsError` if `path` holds something and not `overwrite`.

    An empty directory counts as free: it is replaced.
    """
    if overwrite or not os.path.lexists(path) or _is_empty_dir(path):
        return
    kind = "a non-empty directory" if os.path.isdir(path) else "a file"
    raise FileExistsError(
        "Argument `path` must be a new path or an empty directory; pass "
        "overwrite=True (CLI: --overwrite) to replace what is there. "
        f"Received: path={path!r}, {kind}"
    )


@contextlib.contextmanager
def staged_directory(path, overwrite):
    """Yields an empty directory beside `path`; moves it to `path` on success.

    Args:
        path: the final location of the artifact (a directory).
        overwrite: whether an existing `path` may be replaced.
    """
    path = os.path.abspath(path)
    created = _make_parents(os.path.dirname(path))
    _atomic.remove_stale(path)
    staging = _atomic.temp_sibling(path, "partial")
    os.mkdir(staging)  # honours the umask, unlike tempfile.mkdtemp (0o700)
    try:
        yield staging
        _atomic.fsync_tree(staging)
        _move_into_place(staging, path, overwrite)
        _atomic.fsync_dir(os.path.dirname(path))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for directory in reversed(created):
            with contextlib.suppress(OSError):
                os.rmdir(directory)  # only if still empty
        raise


def _move_into_place(staging, path, overwrite):
    check_target(path, overwrite)  # again: something may have appeared
    if not os.path.lexists(path):
        os.rename(staging, path)
        return
    backup = _atomic.temp_sibling(path, "old")
    os.rename(path, backup)
    try:
        os.rename(staging, path)
    except BaseException:
        os.rename(backup, path)
        raise
    if os.path.isdir(backup) and not os.path.islink(backup):
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.remove(backup)


def _make_parents(directory):
    """Creates `directory` and missing parents; returns those it created."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        directory = os.path.dirname(directory)
    for d in reversed(missing):
        os.mkdir(d)
    return list(reversed(missing))


def _is_empty_dir(path):
    return os.path.isdir(path) and not os.path.islink(path) and not os.listdir(path)
