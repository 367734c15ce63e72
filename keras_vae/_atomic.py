"""All-or-nothing file writes: write a temporary file in the same folder,
flush and fsync it, then `os.replace` it onto the target (atomic on one
filesystem) and fsync the folder, so a reader, a crash or a kill at any moment
sees either the old complete file or the new complete one, never a part.

Temporary names carry the writer's process id (`.NAME.tmp-PID-RANDOM...`),
so that `remove_stale` can delete those left by a process that was killed
without touching those of a live writer.
"""

import contextlib
import json
import os
import re
import shutil
import uuid

_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<tag>tmp|partial|old)-(?P<pid>\d+)-[0-9a-f]{8}(?P<suffix>.*)$")


def temp_sibling(path, tag="tmp", suffix=""):
    """A fresh hidden name beside `path`: `.NAME.TAG-PID-RANDOMSUFFIX`."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{tag}-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}")


def fsync_file(path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(directory):
    """Makes a rename inside `directory` durable (a no-op where folders
    cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(directory):
    """fsyncs every file and folder under `directory` (before renaming it
    into place)."""
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                fsync_file(path)
        fsync_dir(root)


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary path beside `path` for a writer that takes a file
    name (e.g. `model.save_weights`); on success fsyncs it and renames it onto
    `path`; on failure removes it and leaves `path` as it was.

    Args:
        path: the final file.
        suffix: ending the temporary name must have (Keras checks that a
            weights file ends with `.weights.h5`).
    """
    path = os.path.abspath(os.fspath(path))
    temp = temp_sibling(path, "tmp", suffix)
    try:
        yield temp
        fsync_file(temp)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise
    fsync_dir(os.path.dirname(path))


@contextlib.contextmanager
def atomic_open(path, mode="w"):
    """`open(path, mode)` whose content replaces `path` only when the block
    completes without error."""
    if mode not in ("w", "wb"):
        raise ValueError(f"Argument `mode` must be 'w' or 'wb'. Received: mode={mode!r}")
    with atomic_path(path) as temp:
        with open(temp, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())


def write_json(path, data, **kwargs):
    """Writes `data` as JSON to `path` atomically (`json.dump` kwargs
    default to `indent=2, sort_keys=True`)."""
    kwargs = {"indent": 2, "sort_keys": True, **kwargs}
    with atomic_open(path) as f:
        json.dump(data, f, **kwargs)
        f.write("\n")


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by another user
        return True
    return True


def remove_stale(path):
    """Removes the temporaries of `path` left by dead processes.

    A `.old-` backup (a replaced directory, see `_export.staging`) is moved
    back to `path` if `path` itself is missing: the writer died between
    moving the old version aside and moving the new one in, and the old one
    is the last complete version. Returns the names removed or restored.
    """
    directory, name = os.path.split(os.path.abspath(path))
    return remove_stale_in(directory, name)


def remove_stale_in(directory, name=None):
    """`remove_stale` for every target in `directory` (or only `name`)."""
    done = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return done
    matches = [(e, _TEMP.match(e)) for e in entries]
    # Backups first, so that one is restored before its partial sibling goes.
    matches.sort(key=lambda em: em[1] is None or em[1]["tag"] != "old")
    for entry, match in matches:
        if not match or (name is not None and match["name"] != name):
            continue
        if _alive(int(match["pid"])):
            continue
        full = os.path.join(directory, entry)
        target = os.path.join(directory, match["name"])
        if match["tag"] == "old" and not os.path.lexists(target):
            os.rename(full, target)
        elif os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(full)
        done.append(entry)
    return done
