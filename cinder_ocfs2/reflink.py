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
"""Reflinks (FICLONE) and sparse copies of volume files.

A reflink is a point-in-time copy of a whole file, made in constant time,
that shares its extents with the original until either side writes.  OCFS2
implements it (``remap_file_range``) when the filesystem was made with the
``refcount`` feature; the ioctl is the same one ``cp --reflink`` uses::

    ioctl(dst_fd, FICLONE, src_fd)

A reflink cannot cross filesystems (``EXDEV``); :func:`copy` then falls back
to :func:`sparse_copy`, which walks the data extents with
``SEEK_DATA``/``SEEK_HOLE`` and copies only those with ``copy_file_range``,
so the copy keeps the apparent size and the holes of the source.

Every function that creates ``dst`` builds it under a temporary name in the
same directory (``volumes.building``: ``.tmp-<basename>-<hex>``), fsyncs it
and renames it over ``dst`` (``volumes.publish``): a reader never sees a
half-made file, and a crash leaves only a recognisable orphan
(:func:`is_temp_name`, removed by ``volumes.cleanup_orphans``).

This module knows nothing of Cinder; the driver and the CLI both use it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import threading

from cinder_ocfs2 import volumes

LOG = logging.getLogger(__name__)

#: ``_IOW(0x94, 9, int)`` from linux/fs.h.
FICLONE = 0x40049409

#: errnos meaning "this filesystem (or this pair of files) cannot reflink".
#: ENOTTY/ENOSYS come from filesystems without the ioctl at all, EOPNOTSUPP
#: from OCFS2 without ``refcount`` (and ext4, tmpfs), EINVAL from OCFS2 for
#: files it refuses to share (system files) and from old kernels.
_UNSUPPORTED_ERRNOS = frozenset({errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOTTY,
                                 errno.ENOSYS, errno.EINVAL, errno.EXDEV})

#: copy_file_range cannot serve this pair of files: use pread/pwrite.
_CFR_FALLBACK_ERRNOS = frozenset({errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP,
                                  errno.ENOTSUP, errno.EINVAL})

#: Upper bound of one copy_file_range / pread call.
_CHUNK = 1 << 30
_FALLBACK_CHUNK = 1 << 20
_ZEROS = bytes(_FALLBACK_CHUNK)  # memcmp against it stops at the first data byte
_PROBE_BYTES = 64 * 1024  # larger than OCFS2 inline data, one extent at most


class ReflinkError(Exception):
    """A reflink or copy failed; ``errno`` holds the cause when known."""

    def __init__(self, message: str, err: int | None = None) -> None:
        super().__init__(message)
        self.errno = err


class ReflinkUnsupported(ReflinkError):
    """The files cannot share extents; a sparse copy is the alternative.

    ``cross_filesystem`` is true when source and destination live on
    different filesystems (``EXDEV``), which no filesystem feature can fix.
    """

    def __init__(self, message: str, err: int | None = None,
                 cross_filesystem: bool = False) -> None:
        super().__init__(message, err)
        self.cross_filesystem = cross_filesystem


# ---------------------------------------------------------------- temp names

#: ``.tmp-<name>-<12 hex>`` exactly (``volumes.temp_path``; orphans).
is_temp_name = volumes.is_temp_name


# ------------------------------------------------------------------- reflink

def _explain(exc: OSError, src: str, dst: str) -> ReflinkError:
    err = exc.errno
    name = errno.errorcode.get(err or 0, str(err))
    if err == errno.EXDEV:
        return ReflinkUnsupported(
            f"cannot reflink {src} to {dst}: they are on different filesystems "
            f"({name}); a reflink only works within one filesystem, so copy it "
            f"instead (reflink.copy falls back to a sparse copy)",
            err, cross_filesystem=True)
    if err in _UNSUPPORTED_ERRNOS:
        return ReflinkUnsupported(
            f"cannot reflink {src} to {dst}: the filesystem does not support "
            f"reflinks ({name}: {exc.strerror}); on OCFS2 the filesystem lacks "
            f"the refcount feature: unmount it on every node and run "
            f"`tunefs.ocfs2 --fs-features=refcount <device>`", err)
    hint = {
        errno.EROFS: "the filesystem is read-only (remounted by errors=remount-ro? "
                     "check dmesg, fsck.ocfs2 and remount)",
        errno.ENOSPC: "the filesystem is full",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EACCES: "permission denied: check the owner and mode of both files",
        errno.EPERM: "permission denied: check the owner and mode of both files",
    }.get(err or 0, exc.strerror or "")
    return ReflinkError(f"cannot reflink {src} to {dst}: {hint} ({name})", err)


def _ficlone(src_fd: int, dst_fd: int) -> None:
    fcntl.ioctl(dst_fd, FICLONE, src_fd)


def clone(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Reflink the whole of ``src`` into the new file ``dst``.

    ``dst`` must not exist (``FileExistsError``); on failure it is removed
    again.  Not atomic: use :func:`clone_atomic` for files others may read
    or to replace an existing file.  Raises :class:`ReflinkUnsupported` when
    the filesystem(s) cannot share extents and :class:`ReflinkError` for any
    other failure of the ioctl.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    src_fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            _ficlone(src_fd, dst_fd)
        except OSError as exc:
            os.close(dst_fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)
            raise _explain(exc, src, dst) from exc
        os.close(dst_fd)
    finally:
        os.close(src_fd)


def _finish(tmp: str, dst: str, size: int | None, mode: int | None, src_mode: int) -> None:
    """Grow, chmod and fsync ``tmp`` before it is published as ``dst``."""
    fd = os.open(tmp, os.O_WRONLY | os.O_CLOEXEC)
    try:
        if size is not None:
            current = os.fstat(fd).st_size
            if size < current:
                raise ValueError(
                    f"cannot make {dst} {size} bytes: smaller than its source "
                    f"({current} bytes); shrinking a volume loses data")
            if size > current:
                os.ftruncate(fd, size)
        os.fchmod(fd, src_mode & 0o777 if mode is None else mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomically(build, src: str, dst: str, size: int | None, mode: int | None) -> None:
    src_mode = os.stat(src).st_mode
    with volumes.building(dst) as tmp:
        build(src, tmp)
        _finish(tmp, dst, size, mode, src_mode)
        volumes.publish(tmp, dst)


def clone_atomic(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                 size: int | None = None, mode: int | None = None) -> None:
    """Reflink ``src`` to a temp file beside ``dst``, then rename it over ``dst``.

    ``size`` (bytes) grows the copy before it appears, for a volume made
    larger than its snapshot; it may not be smaller than ``src``.  ``mode``
    sets the permission bits (default: those of ``src``).  An existing
    ``dst`` is replaced in one step, which is how a volume reverts to a
    snapshot while keeping its path.  On failure nothing is left behind.
    """
    _atomically(clone, os.fspath(src), os.fspath(dst), size, mode)


# --------------------------------------------------------------- sparse copy

def data_extents(fd: int, size: int) -> list[tuple[int, int]]:
    """``[(offset, length), ...]`` of the data regions of an open file.

    Holes are skipped with ``SEEK_DATA``/``SEEK_HOLE``.  A filesystem that
    cannot answer (``EINVAL``) is treated as all data.
    """
    extents: list[tuple[int, int]] = []
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole remains
                break
            if exc.errno == errno.EINVAL and not extents:
                return [(0, size)] if size else []
            raise
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        if end > start:
            extents.append((start, end - start))
        offset = end
    return extents


def _copy_range_rw(src_fd: int, dst_fd: int, offset: int, length: int) -> None:
    """pread/pwrite fallback; all-zero chunks stay holes."""
    end = offset + length
    while offset < end:
        buf = os.pread(src_fd, min(_FALLBACK_CHUNK, end - offset), offset)
        if not buf:
            raise ReflinkError(f"source shrank while copying (short read at {offset})")
        if buf != (_ZEROS if len(buf) == _FALLBACK_CHUNK else bytes(len(buf))):
            view = memoryview(buf)
            written = 0
            while written < len(buf):
                written += os.pwrite(dst_fd, view[written:], offset + written)
        offset += len(buf)


def _copy_range(src_fd: int, dst_fd: int, offset: int, length: int) -> bool:
    """Copy one data extent; returns False once copy_file_range is unusable."""
    end = offset + length
    while offset < end:
        try:
            n = os.copy_file_range(src_fd, dst_fd, min(_CHUNK, end - offset),
                                   offset, offset)
        except OSError as exc:
            if exc.errno in _CFR_FALLBACK_ERRNOS:
                _copy_range_rw(src_fd, dst_fd, offset, end - offset)
                return False
            raise
        if n == 0:
            raise ReflinkError(f"source shrank while copying (EOF at {offset})")
        offset += n
    return True


def _sparse_into(src: str, dst: str) -> None:
    src_fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(src_fd).st_size
        dst_fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(dst_fd, size)
            use_cfr = hasattr(os, "copy_file_range")
            for offset, length in data_extents(src_fd, size):
                if use_cfr:
                    use_cfr = _copy_range(src_fd, dst_fd, offset, length)
                else:
                    _copy_range_rw(src_fd, dst_fd, offset, length)
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def sparse_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
                size: int | None = None, mode: int | None = None) -> None:
    """Copy only the data extents of ``src`` to ``dst``, atomically.

    The copy has the apparent size and the holes of ``src``.  Unwritten
    (preallocated) extents read as holes and stay holes.  ``size`` and
    ``mode`` work as in :func:`clone_atomic`.
    """
    _atomically(_sparse_into, os.fspath(src), os.fspath(dst), size, mode)


def convert_argv(src: str, dst: str, *, direct: bool) -> list[str]:
    """``qemu-img convert`` of raw ``src`` to a new raw ``dst``, holes kept.

    For copies between filesystems (the driver runs it through
    :mod:`cinder_ocfs2.executor`).  ``direct``: write with O_DIRECT
    (``-t none``), which keeps a large copy out of the page cache.
    """
    cache = ["-t", "none"] if direct else []
    return ["qemu-img", "convert", "-f", "raw", "-O", "raw", *cache, src, dst]


# ------------------------------------------------------------------ policy

def copy(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
         allow_fallback: bool = True, size: int | None = None,
         mode: int | None = None) -> str:
    """Reflink ``src`` to ``dst`` atomically, else sparse-copy it.

    Returns ``"reflink"`` or ``"sparse"``.  The fallback is logged; with
    ``allow_fallback=False`` :class:`ReflinkUnsupported` propagates instead.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    try:
        clone_atomic(src, dst, size=size, mode=mode)
        return "reflink"
    except ReflinkUnsupported as exc:
        if not allow_fallback:
            raise
        LOG.info("Reflink of %(src)s to %(dst)s is not possible, making a sparse "
                 "copy instead: %(reason)s", {"src": src, "dst": dst, "reason": exc})
    sparse_copy(src, dst, size=size, mode=mode)
    return "sparse"


_probe_lock = threading.Lock()
_probe_cache: dict[int, bool] = {}


def clear_cache() -> None:
    """Forget every :func:`supports_reflink` answer (after a reformat)."""
    with _probe_lock:
        _probe_cache.clear()


def supports_reflink(dirpath: str | os.PathLike[str], *, refresh: bool = False) -> bool:
    """Can files in ``dirpath`` be reflinked?  Probed once per filesystem.

    Makes two small temp files in ``dirpath``, clones one into the other,
    checks the content and removes both.  The answer is cached per
    ``st_dev``; a probe that fails for another reason (read-only, full)
    returns False and is not cached.
    """
    dirpath = os.fspath(dirpath)
    dev = os.stat(dirpath).st_dev
    with _probe_lock:
        if not refresh and dev in _probe_cache:
            return _probe_cache[dev]
        answer = _probe(dirpath)
        if answer is not None:
            _probe_cache[dev] = answer
        return bool(answer)


def _probe(dirpath: str) -> bool | None:
    src = volumes.temp_path(os.path.join(dirpath, "reflink-probe-src"))
    dst = volumes.temp_path(os.path.join(dirpath, "reflink-probe-dst"))
    payload = os.urandom(_PROBE_BYTES)
    try:
        with open(src, "wb") as f:
            f.write(payload)
        clone(src, dst)
        with open(dst, "rb") as f:
            same = f.read() == payload
        if not same:
            LOG.warning("Reflink probe in %s returned different data", dirpath)
        return same
    except ReflinkUnsupported as exc:
        LOG.debug("No reflinks in %s: %s", dirpath, exc)
        return False
    except (OSError, ReflinkError) as exc:
        LOG.warning("Could not probe reflink support in %(dir)s: %(err)s",
                    {"dir": dirpath, "err": exc})
        return None
    finally:
        for path in (src, dst):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
