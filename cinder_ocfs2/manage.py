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
- files with other hard links (the other name would share the volume),
  except the one an interrupted :func:`adopt` left at its target;
- this project's own temporary files (``volumes.is_temp_name``);
- files the service's user does not own (unless it runs as root): taking one
  over means a chmod and a hard link, which only its owner may make;
- the files of existing Cinder volumes and snapshots: Cinder-named
  (:mod:`cinder_ocfs2.names`) files whose id the caller's ``owner``
  callback finds in Cinder.

:func:`check_raw` accepts only raw volumes, as oslo.utils' format
inspector (what Cinder, Nova and Glance use) sees them: raw bytes, a LUKS
container (an encrypted volume), a partitioned disk; never qcow2, vmdk or
another container, and never an image that fails the inspector's safety
checks.  :func:`adopt` (and :func:`size_for`, its size query) then takes
the file over for a volume or a snapshot.

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
from collections.abc import Callable, Mapping, Sequence

from oslo_utils.imageutils import format_inspector

from cinder_ocfs2 import names, volumes

LOG = logging.getLogger(__name__)

GiB = 1 << 30

#: Extended attribute naming the file a snapshot was taken from.
ORIGIN_XATTR = "user.cinder_ocfs2.origin"

#: Formats whose bytes are the volume's bytes (qemu-img reads them as raw):
#: LUKS is how Cinder stores an encrypted volume; "gpt" is the inspector's
#: name for any disk with an MBR or GPT partition table, "iso" for ISO 9660.
RAW_FORMATS = frozenset({"raw", "luks", "gpt", "iso"})

#: Safety checks that say nothing about a raw volume: LUKS version 2 is what
#: Cinder's luks2 encryption provider writes (opened by cryptsetup).
_IGNORED_CHECKS = {"luks": frozenset({"version"})}

#: ``owner(file_name)``: "volume <id>" or "snapshot <id>" when that Cinder
#: object exists, else None (the driver asks the Cinder database).
Owner = Callable[[str], str | None]


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


def _owned(shown: str, last: str, templates: Sequence[str], owner: Owner | None) -> None:
    """Refuse the file of an existing Cinder volume or snapshot."""
    if owner is None or not names.is_cinder_name(last, templates):
        return
    desc = owner(last)
    if desc:
        raise ManageError(f"{shown} is the file of Cinder {desc}; it is already managed: "
                          f"use {desc} itself, or unmanage it in Cinder first to take the "
                          f"file over")


def _resolve(pool_root: str | os.PathLike[str], source_name: object,
             templates: Sequence[str], owner: Owner | None,
             target: str | os.PathLike[str] | None = None) -> tuple[str, bool]:
    """(absolute path, True if a crashed :func:`adopt` left it linked as ``target``)."""
    root = os.path.abspath(os.fspath(pool_root))
    parts = _split(root, source_name)
    shown = "/".join(parts)
    path = os.path.join(root, *parts)
    other = None if target is None else os.path.abspath(os.fspath(target))
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
        _owned(shown, parts[-1], templates, owner)
        linked = (st.st_nlink == 2 and other is not None and other != path
                  and _same_inode(st, other))
        if st.st_nlink > 1 and not linked:
            raise ManageError(f"{shown} has {st.st_nlink} hard links; another name would "
                              f"share the volume's data: remove the other links first")
        if volumes.is_temp_name(parts[-1]):
            raise ManageError(f"{shown} is a temporary file of an operation in progress")
    finally:
        os.close(fd)
    if os.path.realpath(path) != os.path.join(os.path.realpath(root), *parts):
        raise ManageError(f"{shown} resolves outside the pool {root}")
    return path, linked


def _same_inode(st: os.stat_result, other: str) -> bool:
    try:
        ost = os.lstat(other)  # a symbolic link to the source is not a second name
    except OSError:
        return False
    return (ost.st_dev, ost.st_ino) == (st.st_dev, st.st_ino)


def resolve_source(pool_root: str | os.PathLike[str], source_name: object, *,
                   templates: Sequence[str] = names.DEFAULT_TEMPLATES,
                   owner: Owner | None = None) -> str:
    """Absolute path of ``source_name`` inside ``pool_root``, after every check.

    ``templates`` are Cinder's ``(volume_name_template, snapshot_name_template)``;
    a file so named whose ``owner`` (see :data:`Owner`) exists in Cinder is
    refused.  Raises :class:`ManageError` naming the problem (see the module doc).
    """
    return _resolve(pool_root, source_name, templates, owner)[0]


# ------------------------------------------------------------------- format

def _unsafe(inspector: format_inspector.FileInspector) -> str | None:
    """Why the inspector finds the image unsafe, or None."""
    try:
        inspector.safety_check()
    except format_inspector.SafetyCheckFailed as exc:
        ignored = _IGNORED_CHECKS.get(str(inspector), frozenset())
        failed = {k: v for k, v in exc.failures.items() if k not in ignored}
        return "; ".join(f"{k}: {v}" for k, v in sorted(failed.items())) or None
    except format_inspector.ImageFormatError as exc:
        return str(exc)
    return None


def inspect_image(path: str | os.PathLike[str],
                  shown: str | None = None) -> tuple[str, str | None]:
    """(format name, reason it is unsafe or None), from oslo.utils' format inspector.

    The name is the inspector's (and qemu-img's): "raw", "qcow2", "vmdk",
    "luks", "gpt" (a raw disk with a partition table)...
    """
    shown = shown or os.fspath(path)
    # The inspector logs ERRORs about every format a raw file is not (a "VMDK
    # descriptor" that is not ASCII...): what matters becomes our message instead.
    inspector_log = logging.getLogger(format_inspector.__name__)
    quiet, inspector_log.disabled = inspector_log.disabled, True
    try:
        inspector = format_inspector.detect_file_format(os.fspath(path))
    except format_inspector.ImageFormatError as exc:
        raise ManageError(f"cannot tell the image format of {shown} ({exc}); check it "
                          f"with `qemu-img info {shown}`") from exc
    finally:
        inspector_log.disabled = quiet
    if inspector is None:
        raise ManageError(f"cannot tell the image format of {shown}; check it with "
                          f"`qemu-img info {shown}`")
    return str(inspector), _unsafe(inspector)


def image_format(path: str | os.PathLike[str]) -> str:
    """The format the inspector detects: "raw", "qcow2", "vmdk", "luks", ..."""
    return inspect_image(path)[0]


def size_gib(path: str | os.PathLike[str]) -> int:
    """Apparent size rounded up to whole GiB (what Cinder records)."""
    return -(-os.stat(path).st_size // GiB)


def check_raw(path: str | os.PathLike[str], shown: str | None = None) -> str:
    """Raise :class:`ManageError` unless ``path`` holds a safe raw volume; return its format.

    A LUKS container (an encrypted volume) is raw, and so is a disk with a
    partition table ("gpt") or an ISO 9660 filesystem ("iso").
    """
    shown = shown or os.fspath(path)
    fmt, unsafe = inspect_image(path, shown)
    if fmt not in RAW_FORMATS:
        careful = (f"; careful, it fails the {fmt} safety checks ({unsafe}), so inspect it "
                   f"with `qemu-img info {shown}` before converting it" if unsafe else "")
        raise ManageError(f"{shown} is a {fmt} image, not a raw volume; convert it first: "
                          f"qemu-img convert -O raw {shown} {shown}.raw{careful}")
    if unsafe:
        raise ManageError(f"{shown} looks like a {fmt} disk but fails its safety checks "
                          f"({unsafe}); inspect it with `qemu-img info {shown}` and repair "
                          f"or re-create it before managing it")
    return fmt


# -------------------------------------------------------------------- adopt

def size_for(pool_root: str | os.PathLike[str], source_name: object,
             target: str | os.PathLike[str], *,
             templates: Sequence[str] = names.DEFAULT_TEMPLATES,
             owner: Owner | None = None) -> int:
    """Size in GiB that :func:`adopt` of ``source_name`` as ``target`` will report.

    Checks what :func:`adopt` checks, and tolerates the same half-done state:
    ``source_name`` also linked as ``target`` by an adopt that crashed.
    """
    src, _ = _resolve(pool_root, source_name, templates, owner, target)
    check_owner(src, str(source_name))
    check_raw(src, str(source_name))
    return size_gib(src)


def check_owner(path: str | os.PathLike[str], shown: str | None = None) -> None:
    """Refuse a file this process's user may not take over (chmod, hard link to it).

    A service that runs as root may take any file; as ``cinder`` (distro packages)
    only cinder's own: an operator who copied a disk into the pool as root chowns it.
    """
    euid = os.geteuid()
    owner = os.stat(path).st_uid
    if euid in (0, owner):
        return
    user = volumes.service_user()
    raise ManageError(f"cannot manage {shown or path}: it belongs to uid {owner}, and this "
                      f"service runs as {user} (uid {euid}), which may not take it over; "
                      f"`chown {user}: {os.fspath(path)}` on a node, then retry")


def adopt(pool_root: str | os.PathLike[str], source_name: object,
          target: str | os.PathLike[str], *, mode: int | None = None,
          templates: Sequence[str] = names.DEFAULT_TEMPLATES,
          owner: Owner | None = None) -> int:
    """Manage ``source_name``: check it, grow it to whole GiB, rename it to ``target``.

    ``target`` (the volume's or snapshot's file, normally in the pool root)
    must not exist unless it already is the source: the file itself, or a
    second hard link left by an adopt that crashed between linking
    ``target`` and unlinking ``source_name``, which this call finishes.
    The file is grown and its ``mode`` set (a snapshot's may be read-only)
    before the rename, so a retry after a crash finds the source again.
    ``templates``/``owner`` refuse files of existing Cinder volumes and
    snapshots (:func:`resolve_source`).  Returns the size in GiB, as
    :func:`size_gib` would.
    """
    src, linked = _resolve(pool_root, source_name, templates, owner, target)
    target = os.fspath(target)
    check_owner(src, str(source_name))
    check_raw(src, str(source_name))
    size = size_gib(src)
    if mode is not None:
        os.chmod(src, mode | stat.S_IWUSR)  # growing needs write access
    volumes.grow_to(src, size * GiB)
    if mode is not None and not mode & stat.S_IWUSR:
        os.chmod(src, mode)
    if os.path.abspath(target) != src:
        if linked:
            LOG.info("Finishing an interrupted manage of %(src)s: %(dst)s is already "
                     "linked to it", {"src": src, "dst": target})
        else:
            try:
                os.link(src, target)  # atomic, never replaces an existing file
            except FileExistsError as exc:
                raise ManageError(f"cannot manage {source_name}: {target} already exists; "
                                  f"it is another file: remove or rename it first") from exc
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                raise ManageError(f"cannot manage {source_name}: {target} is on another "
                                  f"filesystem; manage it from the pool that holds it") from exc
        os.unlink(src)
        volumes.fsync_dir(os.path.dirname(target) or ".")
        if os.path.dirname(src) != os.path.dirname(target):
            volumes.fsync_dir(os.path.dirname(src))
    LOG.info("Managed %(src)s as %(dst)s (%(size)d GiB)",
             {"src": src, "dst": target, "size": size})
    return size


# ------------------------------------------------------------------ origins

def get_origin(path: str | os.PathLike[str]) -> str | None:
    """The volume file name recorded on a snapshot file (:func:`set_origin`), if any.

    A snapshot came from volume file ``v`` when this equals ``os.path.basename(v)``;
    hard links (:func:`adopt`) keep it.
    """
    try:
        return os.fsdecode(os.getxattr(path, ORIGIN_XATTR, follow_symlinks=False)) or None
    except OSError:
        return None


def set_origin(path: str | os.PathLike[str], origin: str) -> bool:
    """Record on a snapshot file the name of its volume file (best effort)."""
    try:
        os.setxattr(path, ORIGIN_XATTR, os.fsencode(os.path.basename(origin)),
                    follow_symlinks=False)
        return True
    except OSError as exc:
        LOG.debug("Cannot record origin of %(path)s: %(err)s", {"path": path, "err": exc})
        return False


# ------------------------------------------------------------------ listing

def _cinder_id(name: str, templates: Sequence[str]) -> str | None:
    for template in templates:
        found = names.id_from(name, template)
        if found:
            return found
    return None


def _entry(root: str, de: os.DirEntry[str], managed: Mapping[str, str], snapshot: bool,
           templates: Sequence[str], owner: Owner | None) -> dict:
    name = de.name
    path = os.path.join(root, name)
    entry: dict = {"reference": {"source-name": name}, "size": 0,
                   "safe_to_manage": False, "reason_not_safe": None,
                   "cinder_id": managed.get(name), "extra_info": None}
    if snapshot:
        origin = get_origin(path)
        entry["source_reference"] = {"source-name": origin} if origin else None
    try:
        st = de.stat(follow_symlinks=False)
        if stat.S_ISREG(st.st_mode):
            entry["size"] = -(-st.st_size // GiB)
        if entry["cinder_id"]:
            entry["reason_not_safe"] = "already managed"
            return entry
        cinder_id = _cinder_id(name, templates)
        desc = owner(name) if owner is not None and cinder_id else None
        if desc:
            entry["cinder_id"] = cinder_id
            entry["reason_not_safe"] = f"already managed by Cinder as {desc}"
            return entry
        resolve_source(root, name)
        check_owner(path, name)
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
                    templates: Sequence[str] = names.DEFAULT_TEMPLATES,
                    owner: Owner | None = None) -> list[dict]:
    """Files directly in ``pool_root``, as Cinder manageable-resource entries.

    ``templates`` are Cinder's ``(volume_name_template, snapshot_name_template)``.
    With ``snapshots=False`` every file except snapshot files (named by the
    snapshot template) is listed; with ``snapshots=True`` only snapshot
    files, with ``source_reference`` from :data:`ORIGIN_XATTR`.  Files that
    belong to Cinder are listed as not safe to manage, with their
    ``cinder_id``: those ``managed`` maps (file name -> id) and Cinder-named
    files whose ``owner`` exists.  Our temporary files, hidden files and
    directories are skipped.

    The directory is scanned through a descriptor, so each entry's ``stat`` is an
    ``fstatat`` of its bare name (:func:`cinder_ocfs2.capacity.provisioned`).
    """
    root = os.path.abspath(os.fspath(pool_root))
    snapshot_template = templates[1]
    entries = []
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(fd) as it:
            for de in it:
                name = de.name
                if volumes.is_temp_name(name) or name.startswith("."):
                    continue
                with contextlib.suppress(OSError):
                    if de.is_dir(follow_symlinks=False):
                        continue
                if (names.id_from(name, snapshot_template) is not None) != snapshots:
                    continue
                entries.append(_entry(root, de, managed, snapshots, templates, owner))
    finally:
        os.close(fd)
    entries.sort(key=lambda e: e["reference"]["source-name"])
    return entries
