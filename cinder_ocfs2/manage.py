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
"""Bringing existing files in a pool under management, and listing them.

A ``source-name`` is a path relative to a pool's directory (its mount
point), e.g. ``old-vm-disk.raw`` or ``imports/db.img``; an absolute path is
accepted only when it lies inside the pool.  :func:`resolve_source` walks it
one component at a time with directory file descriptors (``O_NOFOLLOW``)
and refuses, each with its own message:

- ``..`` components and absolute paths outside the pool;
- symbolic links anywhere on the way (they can point outside the pool);
- directories, devices, FIFOs and sockets (a volume is a regular file);
- files on another filesystem mounted inside the pool;
- files with other hard links (the other name would share the volume);
- this project's own temporary files (``.tmp-*``).

:func:`list_manageable` returns entries in the format Cinder's
``get_manageable_volumes``/``get_manageable_snapshots`` expect (the driver
paginates them with ``volume_utils.paginate_entries_list``)::

    {'reference': {'source-name': 'old-vm-disk.raw'}, 'size': 10,
     'safe_to_manage': True, 'reason_not_safe': None,
     'cinder_id': None, 'extra_info': {'format': 'raw', 'allocated_gib': '2.31'}}

This module knows nothing of Cinder; the CLI can use it too.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
from collections.abc import Mapping

from cinder_ocfs2 import reflink, volumes

LOG = logging.getLogger(__name__)

GiB = 1 << 30
VOLUME_PREFIX = "volume-"
SNAPSHOT_PREFIX = "snapshot-"

#: Extended attribute naming the file a snapshot was taken from.
ORIGIN_XATTR = "user.cinder_ocfs2.origin"

#: (offset, magic, format) of image containers that are NOT raw volumes.
_MAGICS = (
    (0, b"QFI\xfb", "qcow2"),
    (0, b"QED\x00", "qed"),
    (0, b"KDMV", "vmdk"),
    (0, b"# Disk DescriptorFile", "vmdk"),
    (0, b"vhdxfile", "vhdx"),
    (0, b"conectix", "vpc"),
    (0x40, b"\x7f\x10\xda\xbe", "vdi"),
)
#: Raw volumes whose content has a recognisable header (still raw).
_RAW_HEADERS = ((0, b"LUKS\xba\xbe", "raw (LUKS encrypted)"),)
_SNIFF = 512


class ManageError(ValueError):
    """A ``source-name`` cannot be managed; the message says why and what to do."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def _split(pool_root: str, source_name: object) -> list[str]:
    """Validate the spelling of ``source_name``; return its components."""
    if not isinstance(source_name, str) or not source_name.strip():
        raise ManageError("source-name must be a non-empty path relative to the pool, "
                          "for example 'old-disk.raw'")
    if "\0" in source_name:
        raise ManageError("source-name contains a NUL byte")
    parts = source_name.split("/")
    if ".." in parts:
        raise ManageError(f"source-name {source_name!r} contains '..'; give a path "
                          f"inside the pool, relative to {pool_root}")
    if os.path.isabs(source_name):
        norm = os.path.normpath(source_name)
        if not norm.startswith(pool_root.rstrip("/") + "/"):
            raise ManageError(f"{source_name!r} is outside the pool {pool_root}; give a "
                              f"path relative to the pool")
        parts = os.path.relpath(norm, pool_root).split("/")
    parts = [p for p in parts if p not in ("", ".")]
    if not parts:
        raise ManageError(f"source-name {source_name!r} names the pool itself, not a file")
    return parts


def resolve_source(pool_root: str | os.PathLike[str], source_name: object) -> str:
    """Absolute path of ``source_name`` inside ``pool_root``, after every check.

    Raises :class:`ManageError` naming the problem (see the module doc).
    """
    root = os.path.abspath(os.fspath(pool_root))
    parts = _split(root, source_name)
    shown = "/".join(parts)
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise ManageError(f"pool directory {root} does not exist (is it mounted?)") from exc
    try:
        root_dev = os.fstat(fd).st_dev
        for i, part in enumerate(parts):
            sofar = "/".join(parts[:i + 1])
            try:
                st = os.lstat(part, dir_fd=fd)
            except FileNotFoundError as exc:
                raise ManageError(f"{sofar} does not exist in pool {root}") from exc
            except NotADirectoryError as exc:
                raise ManageError(f"{'/'.join(parts[:i])} is not a directory") from exc
            if stat.S_ISLNK(st.st_mode):
                raise ManageError(f"{sofar} is a symbolic link; links are refused because "
                                  f"they can point outside the pool: manage the file itself")
            if st.st_dev != root_dev:
                raise ManageError(f"{sofar} is on another filesystem mounted inside pool "
                                  f"{root}; manage it from its own pool")
            if i < len(parts) - 1:
                if not stat.S_ISDIR(st.st_mode):
                    raise ManageError(f"{sofar} is not a directory")
                try:
                    nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=fd)
                except OSError as exc:  # swapped for a link since lstat
                    raise ManageError(f"{sofar} changed while checking it: {exc}") from exc
                os.close(fd)
                fd = nfd
        if not stat.S_ISREG(st.st_mode):
            raise ManageError(f"{shown} is {_kind(st.st_mode)}; only regular files can "
                              f"be managed as volumes")
        if st.st_nlink > 1:
            raise ManageError(f"{shown} has {st.st_nlink} hard links; another name would "
                              f"share the volume's data: remove the other links first")
        if reflink.is_temp_name(parts[-1]):
            raise ManageError(f"{shown} is a temporary file of an operation in progress")
    finally:
        os.close(fd)
    path = os.path.join(root, *parts)
    if os.path.realpath(path) != os.path.join(os.path.realpath(root), *parts):
        raise ManageError(f"{shown} resolves outside the pool {root}")
    return path


def image_format(path: str | os.PathLike[str]) -> str:
    """``"raw"`` unless the file starts with a known image container header."""
    with open(path, "rb") as f:
        head = f.read(_SNIFF)
    for offset, magic, name in _MAGICS + _RAW_HEADERS:
        if head[offset:offset + len(magic)] == magic:
            return name
    return "raw"


def size_gib(path: str | os.PathLike[str]) -> int:
    """Apparent size rounded up to whole GiB (what Cinder records)."""
    return -(-os.stat(path).st_size // GiB)


def check_raw(path: str | os.PathLike[str], shown: str | None = None) -> str:
    """Raise :class:`ManageError` unless ``path`` holds a raw volume; return its format."""
    fmt = image_format(path)
    if not fmt.startswith("raw"):
        shown = shown or os.fspath(path)
        raise ManageError(f"{shown} is a {fmt} image, not a raw volume; convert it first: "
                          f"qemu-img convert -O raw {shown} {shown}.raw")
    return fmt


def adopt(pool_root: str | os.PathLike[str], source_name: object,
          target: str | os.PathLike[str], *, mode: int | None = None) -> int:
    """Manage ``source_name``: check it, grow it to whole GiB, rename it to ``target``.

    ``target`` (the volume's file, normally in the pool root) must not exist
    unless it already is the source.  The file is grown before the rename,
    so a retry after a crash finds the source again.  Returns the size in
    GiB, as :func:`size_gib` would.
    """
    src = resolve_source(pool_root, source_name)
    target = os.fspath(target)
    check_raw(src, str(source_name))
    size = size_gib(src)
    volumes.grow_to(src, size * GiB)
    if mode is not None:
        os.chmod(src, mode)
    if os.path.abspath(target) != src:
        try:
            os.link(src, target)  # atomic, never replaces an existing file
        except FileExistsError as exc:
            raise ManageError(f"cannot manage {source_name}: {target} already exists") from exc
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            raise ManageError(f"cannot manage {source_name}: {target} is on another "
                              f"filesystem") from exc
        os.unlink(src)
        volumes.fsync_dir(os.path.dirname(target) or ".")
        if os.path.dirname(src) != os.path.dirname(target):
            volumes.fsync_dir(os.path.dirname(src))
    LOG.info("Managed %(src)s as %(dst)s (%(size)d GiB)",
             {"src": src, "dst": target, "size": size})
    return size


def get_origin(path: str | os.PathLike[str]) -> str | None:
    """The source file name recorded on a snapshot file, if any."""
    try:
        return os.getxattr(path, ORIGIN_XATTR, follow_symlinks=False).decode()
    except OSError:
        return None


def set_origin(path: str | os.PathLike[str], origin: str) -> bool:
    """Record on a snapshot file the name of its volume file (best effort)."""
    try:
        os.setxattr(path, ORIGIN_XATTR, os.path.basename(origin).encode(),
                    follow_symlinks=False)
        return True
    except OSError as exc:
        LOG.debug("Cannot record origin of %(path)s: %(err)s", {"path": path, "err": exc})
        return False


def _entry(root: str, name: str, managed: Mapping[str, str], snapshot: bool) -> dict:
    path = os.path.join(root, name)
    entry: dict = {"reference": {"source-name": name}, "size": 0,
                   "safe_to_manage": False, "reason_not_safe": None,
                   "cinder_id": managed.get(name), "extra_info": None}
    if snapshot:
        origin = get_origin(path)
        entry["source_reference"] = {"source-name": origin} if origin else None
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            entry["size"] = -(-st.st_size // GiB)
        if entry["cinder_id"]:
            entry["reason_not_safe"] = "already managed"
            return entry
        resolve_source(root, name)
        fmt = check_raw(path, name)
        if st.st_size == 0:
            raise ManageError(f"{name} is empty")
        # Cinder's ManageableVolume.extra_info is a dict of strings.
        entry["extra_info"] = {"format": fmt, "allocated_gib": f"{st.st_blocks * 512 / GiB:.2f}"}
        entry["safe_to_manage"] = True
    except ManageError as exc:
        entry["reason_not_safe"] = str(exc)
    except OSError as exc:
        entry["reason_not_safe"] = f"cannot inspect {name}: {exc.strerror}"
    return entry


def list_manageable(pool_root: str | os.PathLike[str], managed: Mapping[str, str], *,
                    snapshots: bool = False,
                    snapshot_prefix: str = SNAPSHOT_PREFIX) -> list[dict]:
    """Files directly in ``pool_root``, as Cinder manageable-resource entries.

    ``managed`` maps file names to the Cinder id that owns them (those are
    listed as already managed).  With ``snapshots=False`` every file except
    snapshot files (``snapshot_prefix``) is listed; with ``snapshots=True``
    only snapshot files, with ``source_reference`` from :data:`ORIGIN_XATTR`.
    Temporary files, hidden files and directories are skipped.
    """
    root = os.path.abspath(os.fspath(pool_root))
    entries = []
    with os.scandir(root) as it:
        for de in it:
            name = de.name
            if reflink.is_temp_name(name) or name.startswith("."):
                continue
            with contextlib.suppress(OSError):
                if de.is_dir(follow_symlinks=False):
                    continue
            if name.startswith(snapshot_prefix) != snapshots:
                continue
            entries.append(_entry(root, name, managed, snapshots))
    entries.sort(key=lambda e: e["reference"]["source-name"])
    return entries
