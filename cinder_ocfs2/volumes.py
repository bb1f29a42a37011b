# Copyright 2026 The cinder-ocfs2 Authors
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.
"""Volume file operations: atomic, idempotent, never world-writable.

New content is built under a recognisable temporary name in the same
directory (``.tmp-<name>-<12 hex digits>``, :func:`temp_path`), fsynced,
then renamed into place, so a crash leaves either the old file or the new
one plus an orphan that :func:`cleanup_orphans` removes later.  Only names
of exactly that shape (:func:`is_temp_name`) are ever swept: another
tool's ``.tmp-notes`` is not ours to delete.

While it builds, :func:`building` holds a shared ``flock`` on the
directory.  On OCFS2 (o2cb) flock locks are cluster-wide and a dead node's
are dropped when the cluster recovers it, so a sweep that gets the lock
exclusively knows no process on any node is building there: every temp
file older than :data:`ORPHAN_GRACE` is then an orphan and goes at once.
Otherwise only those older than the sweep's ``max_age`` go.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import pwd
import re
import stat
import time
import uuid
from collections.abc import Iterator
from typing import NamedTuple

from cinder_ocfs2 import exception

LOG = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp-"
_TEMP_HEX = 12
_TEMP_RE = re.compile(rf"{re.escape(TEMP_PREFIX)}.+-[0-9a-f]{{{_TEMP_HEX}}}", re.DOTALL)
#: A temp file younger than this is never swept, even when no builder holds the
#: directory: a builder of a release without the lock may still be writing it.
ORPHAN_GRACE = 120.0


def parse_mode(text: str | int) -> int:
    """``"0660"`` -> 0o660; the service must read and write it, others never write."""
    mode = text if isinstance(text, int) else int(str(text), 8)
    if mode & ~0o777:
        raise ValueError(f"mode {mode:o} has bits outside 0777; use 0660 or 0600")
    if mode & stat.S_IWOTH:
        raise ValueError(f"mode {mode:04o} is world-writable; use 0660 or 0600")
    if mode & (stat.S_IRUSR | stat.S_IWUSR) != stat.S_IRUSR | stat.S_IWUSR:
        raise ValueError(f"mode {mode:04o} does not let the owner (the volume service) "
                         f"read and write its volumes; use 0660 or 0600")
    return mode


def temp_path(final: str) -> str:
    """A fresh temp name beside ``final``: ``dir/.tmp-<name>-<12 hex>``."""
    head, tail = os.path.split(final)
    return os.path.join(head, f"{TEMP_PREFIX}{tail}-{uuid.uuid4().hex[:_TEMP_HEX]}")


def is_temp_name(name: str) -> bool:
    """True for exactly the names :func:`temp_path` makes (a path's last component)."""
    return _TEMP_RE.fullmatch(os.path.basename(name)) is not None


def fsync_dir(dirpath: str) -> None:
    fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: str, final: str, *, replace: bool = True) -> None:
    """Rename ``tmp`` over ``final`` (or fail if it exists and not ``replace``)."""
    if replace:
        os.replace(tmp, final)
    else:
        os.link(tmp, final)  # atomic no-replace; EEXIST if taken
        os.unlink(tmp)
    fsync_dir(os.path.dirname(final) or ".")


def _lock_dir(dirpath: str, mode: int) -> int | None:
    """An fd of ``dirpath`` holding ``flock(mode)``; None if not granted (LOCK_NB)."""
    fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, mode)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


@contextlib.contextmanager
def building(final: str) -> Iterator[str]:
    """Yield a temp path beside ``final``; remove it if the body fails.

    The directory is share-locked for the whole build (see the module
    docstring): the sweep of another node leaves this temp file alone.
    """
    tmp = temp_path(final)
    guard = _lock_dir(os.path.dirname(tmp) or ".", fcntl.LOCK_SH)
    try:
        yield tmp
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        if guard is not None:
            os.close(guard)


def direct_io_ok(path: str) -> bool:
    """Create ``path`` (empty) with O_DIRECT: does its filesystem take direct I/O?

    OCFS2 does; tmpfs does not (EINVAL).  The file is left for the caller,
    who builds into it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_DIRECT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.close(fd)
        return False
    os.close(fd)
    return True


def _allocate(fd: int, offset: int, length: int) -> None:
    if length > 0:
        os.posix_fallocate(fd, offset, length)


def create(path: str, size: int, *, mode: int = 0o660, thick: bool = False) -> None:
    """Create a raw volume file of ``size`` bytes, sparse unless ``thick``.

    Idempotent: an existing file of the same size is kept (its mode fixed);
    one of another size is an error, never overwritten.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if st.st_size != size or not stat.S_ISREG(st.st_mode):
            raise exception.VolumeFileError(
                path=path, reason=(f"already exists with size {st.st_size} (wanted {size}); "
                                   "delete it or manage it instead"))
        os.chmod(path, mode)
        return
    with building(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.fchmod(fd, mode)  # umask must not widen or narrow it
            os.ftruncate(fd, size)
            if thick:
                _allocate(fd, 0, size)
            os.fsync(fd)
        finally:
            os.close(fd)
        publish(tmp, path, replace=False)


def seal(path: str, size: int, *, mode: int, thick: bool = False) -> None:
    """Make a freshly built ``path`` ready to publish: grown to ``size`` bytes
    (never shrunk), ``mode``, allocated if ``thick``, and fsynced."""
    fd = os.open(path, os.O_WRONLY)
    try:
        current = os.fstat(fd).st_size
        if current < size:
            os.ftruncate(fd, size)
        os.fchmod(fd, mode)
        if thick:
            _allocate(fd, 0, max(size, current))
        os.fsync(fd)
    finally:
        os.close(fd)


def extend(path: str, new_size: int, *, thick: bool = False) -> None:
    """Grow ``path`` to ``new_size`` bytes, in place.

    All or nothing: a thick extend allocates the new range first (fallocate grows
    the size only when it succeeds), and any failure (ENOSPC) truncates the file
    back to its old size, so Cinder's unchanged size stays the truth.
    """
    try:
        old = os.stat(path).st_size
    except FileNotFoundError as exc:
        raise exception.VolumeFileError(path=path, reason="does not exist") from exc
    if new_size < old:
        raise exception.VolumeFileError(
            path=path, reason=f"cannot shrink from {old} to {new_size} bytes")
    if new_size == old:
        return
    fd = os.open(path, os.O_WRONLY)
    try:
        if thick:
            _allocate(fd, old, new_size - old)
        else:
            os.ftruncate(fd, new_size)
        os.fsync(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, old)  # also frees what a failed fallocate got past ``old``
        raise
    finally:
        os.close(fd)


def allocate(path: str) -> None:
    """Preallocate every byte of ``path`` (thin -> thick); data is unchanged."""
    fd = os.open(path, os.O_WRONLY)
    try:
        _allocate(fd, 0, os.fstat(fd).st_size)
        os.fsync(fd)
    finally:
        os.close(fd)


def grow_to(path: str, size: int) -> None:
    """Make ``path`` at least ``size`` bytes (sparse); never shrinks."""
    if os.stat(path).st_size < size:
        os.truncate(path, size)


def delete(path: str) -> bool:
    """Remove ``path``; a missing file counts as deleted.  True if removed."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def service_user() -> str:
    """The name of the user this process runs as (its uid when it has none)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def size_of(path: str) -> int:
    return os.stat(path).st_size


def set_mode(path: str, mode: int) -> None:
    os.chmod(path, mode)


class Sweep(NamedTuple):
    """What :func:`cleanup_orphans` removed, and the temp files it had to keep."""

    removed: list[str]
    kept: list[str]


def cleanup_orphans(dirpath: str, max_age: float, now: float | None = None) -> Sweep:
    """Remove our temp files (:func:`is_temp_name`) that no build still owns.

    With the directory's lock taken exclusively (no builder anywhere), every
    temp file older than :data:`ORPHAN_GRACE`; else those older than
    ``max_age`` seconds.  The others are returned as ``kept``: a build in
    progress, or an orphan too young to tell apart from one, for the caller to
    sweep again soon.
    """
    now = time.time() if now is None else now
    removed: list[str] = []
    kept: list[str] = []
    try:
        idle = _lock_dir(dirpath, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return Sweep(removed, kept)
    limit = min(max_age, ORPHAN_GRACE) if idle is not None else max_age
    try:
        for entry in os.scandir(dirpath):
            if not is_temp_name(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime > limit:
                    os.unlink(entry.path)
                    removed.append(entry.path)
                    LOG.info("Removed orphaned temporary file %s (%.0f s old%s)",
                             entry.path, now - st.st_mtime,
                             ", no build in progress" if idle is not None else "")
                elif stat.S_ISREG(st.st_mode):
                    kept.append(entry.path)
            except FileNotFoundError:
                continue
    finally:
        if idle is not None:
            os.close(idle)
    return Sweep(removed, kept)
