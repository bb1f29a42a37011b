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
"""OCFS2 filesystems as pools: discovery, identity, health, path mapping.

A pool is one mounted OCFS2 filesystem.  It is identified by its OCFS2 UUID
(never by device name: the same disk is sda on one node and sdb on another)
and named by its label or its mount directory.  :class:`PoolMonitor` is
refreshed at every stats update, so a filesystem mounted after start-up
becomes a pool without a restart, and one that disappears is reported down;
state changes are logged once, not every minute.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from cinder_ocfs2 import exception, executor, fsinfo, mountinfo, volumes

LOG = logging.getLogger(__name__)

OCFS2 = "ocfs2"
UP = "up"
DOWN = "down"


@dataclasses.dataclass(frozen=True)
class Pool:
    name: str
    path: str
    state: str
    problem: str | None = None
    uuid: str | None = None
    label: str | None = None
    info: fsinfo.FsInfo | None = None
    mount: mountinfo.Mount | None = None

    @property
    def up(self) -> bool:
        return self.state == UP

    @property
    def has_refcount(self) -> bool:
        return bool(self.info and self.info.has_refcount)

    def file(self, name: str) -> str:
        """Absolute path of ``name`` (a plain file name) inside this pool."""
        if not name or "/" in name or name in (".", ".."):
            raise exception.InvalidPath(path=name, reason="not a plain file name")
        return os.path.join(self.path, name)


def discover(mounts: Iterable[mountinfo.Mount], base: str) -> list[str]:
    """Mount points of OCFS2 filesystems mounted below ``base``."""
    base = os.path.normpath(base).rstrip("/") + "/"
    found = []
    for mount in mounts:
        if mount.fstype == OCFS2 and mount.mount_point.startswith(base):
            if mount.mount_point not in found:
                found.append(mount.mount_point)
    return found


def subdirectories(base: str) -> list[str]:
    """Immediate subdirectories of ``base`` (mount points, possibly unmounted)."""
    try:
        with os.scandir(base) as entries:
            return sorted(e.path for e in entries
                          if e.is_dir(follow_symlinks=False) and not e.name.startswith("."))
    except FileNotFoundError:
        return []


def check_mount(path: str, mounts: Sequence[mountinfo.Mount],
                access: Callable[[str, int], bool] = os.access) -> tuple[
                    mountinfo.Mount | None, str | None]:
    """Return (mount, problem) for the filesystem expected at ``path``.

    ``problem`` is None when ``path`` is a writable OCFS2 mount point, else
    a sentence naming the fix.
    """
    mount = mountinfo.at(mounts, path)
    if mount is None:
        return None, (f"no filesystem is mounted at {path}; mount the OCFS2 disk there "
                      f"(mount -t ocfs2 DEVICE {path}) on this node")
    if mount.fstype != OCFS2:
        return mount, (f"{path} is a {mount.fstype} mount, not OCFS2; unmount it and mount "
                       "the OCFS2 disk there")
    if mount.read_only:
        return mount, (f"{path} is mounted read-only (errors=remount-ro after an I/O or "
                       "cluster error?); check dmesg, fsck.ocfs2 the disk, then remount rw")
    if not access(path, os.W_OK | os.X_OK):
        user = volumes.service_user()
        return mount, (f"{path} is not writable by this service's user ({user}); `chown "
                       f"{user}: {path}` on one node (the filesystem is shared)")
    return mount, None


#: Characters Cinder gives a meaning in host strings (``host@backend#pool``).
RESERVED_CHARS = "#@"


def name_problem(name: str, source: str = "label") -> str | None:
    """Why ``name`` cannot be a pool name (``extract_host`` splits on # and @), or None."""
    bad = "".join(c for c in RESERVED_CHARS if c in name)
    if not bad:
        return None
    fix = ("relabel the filesystem (tunefs.ocfs2 -L NEWLABEL DEVICE) or set "
           "ocfs2_pool_name=directory" if source == "label" else
           "rename its mount directory")
    return (f"pool name {name!r} contains {' and '.join(repr(c) for c in bad)}, which Cinder "
            f"uses in host strings (host@backend#pool); {fix}")


def pool_name(path: str, info: fsinfo.FsInfo | None, source: str = "label") -> str:
    """The label (when asked for and set), else the mount directory's name."""
    if source == "label" and info is not None and info.label:
        return info.label
    return os.path.basename(os.path.normpath(path))


class PoolMonitor:
    """Keeps the current set of pools and logs their state changes.

    ``read_mounts``, ``query`` and ``read_cluster`` are injectable so tests
    (and the CLI) can run without OCFS2.  ``read_cluster`` returns an object
    with ``online`` and ``problem`` (see :mod:`cinder_ocfs2.cluster`), or is
    None to skip the cluster check.
    """

    def __init__(self, mount_points: Sequence[str], base: str, *,
                 name_source: str = "label",
                 read_mounts: Callable[[], list[mountinfo.Mount]] = mountinfo.read,
                 query: Callable[[str], fsinfo.FsInfo] = fsinfo.query,
                 read_cluster: Callable[[], Any] | None = None,
                 access: Callable[[str, int], bool] = os.access) -> None:
        self.mount_points = [os.path.normpath(p) for p in mount_points if p]
        self.base = os.path.normpath(base)
        self.name_source = name_source
        self._read_mounts = read_mounts
        self._query = query
        self._read_cluster = read_cluster
        self._access = access
        self._info_cache: dict[tuple[str, int], fsinfo.FsInfo] = {}
        self._names: dict[str, str] = {}          # path -> last pool name
        self._states: dict[str, tuple[str, str | None]] = {}  # name -> (state, problem)
        self.pools: dict[str, Pool] = {}
        self.cluster_problem: str | None = None
        self._duplicates: dict[str, str] = {}  # pool name -> why it is down
        self.refused: list[Pool] = []  # filesystems of a duplicate name, not served

    # -- discovery -----------------------------------------------------
    def candidates(self, mounts: Sequence[mountinfo.Mount]) -> list[str]:
        if self.mount_points:
            return list(self.mount_points)
        paths = discover(mounts, self.base)
        # Known and leftover mount directories are reported down, not forgotten.
        for path in [*self._names, *subdirectories(self.base)]:
            if path not in paths:
                paths.append(path)
        return paths

    def _identify(self, path: str, mount: mountinfo.Mount) -> fsinfo.FsInfo:
        key = (path, mount.mount_id)
        info = self._info_cache.get(key)
        if info is None:
            info = self._query(path)
            self._info_cache = {k: v for k, v in self._info_cache.items() if k[0] != path}
            self._info_cache[key] = info
        return info

    def _check(self, path: str, mounts: Sequence[mountinfo.Mount],
               cluster_problem: str | None) -> Pool:
        mount, problem = check_mount(path, mounts, self._access)
        info = None
        if mount is not None and mount.fstype == OCFS2:
            try:
                info = self._identify(path, mount)
            except (executor.CommandError, fsinfo.ParseError) as exc:
                problem = problem or (f"cannot identify the OCFS2 filesystem at {path} ({exc});"
                                      " is ocfs2-tools (o2info) installed?")
        if problem is None and cluster_problem:
            problem = cluster_problem
        name = (pool_name(path, info, self.name_source) if info is not None
                else self._names.get(path) or pool_name(path, None))
        self._names[path] = name
        problem = problem or name_problem(name, self.name_source)
        if problem is None and name in self._duplicates:
            problem = self._duplicates[name]
        return Pool(name=name, path=path, state=DOWN if problem else UP, problem=problem,
                    uuid=info.uuid if info else None, label=info.label if info else None,
                    info=info, mount=mount)

    def _cluster_problem(self) -> str | None:
        if self._read_cluster is None:
            return None
        try:
            state = self._read_cluster()
        except Exception as exc:  # the cluster reader must never break stats
            return f"cannot read the o2cb cluster state ({exc})"
        if getattr(state, "online", False):
            return None
        return getattr(state, "problem", None) or "the o2cb cluster is not online"

    def refresh(self) -> dict[str, Pool]:
        """Re-discover and re-check every pool; log only state changes.

        Two filesystems that would have the same pool name are both refused
        (the pool is reported down, naming both): serving either one would
        let two nodes resolve one volume to two different files.
        """
        mounts = self._read_mounts()
        self.cluster_problem = self._cluster_problem()
        self._duplicates = {}
        checked: list[Pool] = []
        seen_uuids: dict[str, str] = {}
        for path in self.candidates(mounts):
            pool = self._check(path, mounts, self.cluster_problem)
            if pool.uuid and pool.uuid in seen_uuids:
                LOG.warning("OCFS2 filesystem %(uuid)s is mounted at both %(first)s and "
                            "%(path)s; serving it once, from %(first)s",
                            {"uuid": pool.uuid, "first": seen_uuids[pool.uuid], "path": path})
                continue
            if pool.uuid:
                seen_uuids[pool.uuid] = path
            checked.append(pool)
        by_name: dict[str, list[Pool]] = {}
        for pool in checked:
            by_name.setdefault(pool.name, []).append(pool)
        pools: dict[str, Pool] = {}
        refused: list[Pool] = []
        for name, same in by_name.items():
            # An unmounted leftover directory never outranks a mounted filesystem.
            same = [p for p in same if p.uuid] or same[:1]
            pool = same[0]
            if len(same) > 1:
                where = ", ".join(f"{p.path} ({p.uuid or 'unidentified'})" for p in same)
                reason = (f"{len(same)} filesystems would all be pool {name}: {where}; "
                          "relabel all but one (tunefs.ocfs2 -L) or set "
                          "ocfs2_pool_name=directory")
                self._duplicates[name] = reason
                pool = dataclasses.replace(pool, state=DOWN, problem=reason)
                refused += [dataclasses.replace(p, state=DOWN, problem=reason)
                            for p in same[1:]]
            pools[name] = pool
            self._log_change(pool)
        self.pools, self.refused = pools, refused
        return pools

    def _log_change(self, pool: Pool) -> None:
        new = (pool.state, pool.problem)
        old = self._states.get(pool.name)
        if old == new:
            return
        self._states[pool.name] = new
        if pool.up:
            LOG.info("OCFS2 pool %(name)s is up: %(path)s, filesystem %(uuid)s%(ref)s",
                     {"name": pool.name, "path": pool.path, "uuid": pool.uuid,
                      "ref": "" if pool.has_refcount else
                      " (no refcount feature: clones and snapshots are full sparse copies)"})
        else:
            LOG.warning("OCFS2 pool %(name)s is down: %(problem)s",
                        {"name": pool.name, "problem": pool.problem})

    # -- lookups -------------------------------------------------------
    def by_uuid(self, uuid: str) -> Pool | None:
        """The pool (or refused duplicate, down) of filesystem ``uuid``."""
        for pool in [*self.pools.values(), *self.refused]:
            if pool.uuid == uuid:
                return pool
        return None

    def locate(self, uuid: str, root: str = "/") -> Pool | None:
        """Filesystem ``uuid`` on this node: one of our pools, else any mount of it.

        Another backend of the same o2cb cluster may serve the filesystem from
        another directory (its own ``ocfs2_mount_point_base``); a native
        migration to it needs the path here.  Only a writable OCFS2 mount of
        ``root`` (the subtree the other backend sees) counts; it does not
        become one of our pools.
        """
        pool = self.by_uuid(uuid)
        if pool is not None and pool.mount is not None and pool.mount.root == root:
            return pool
        mounts = self._read_mounts()
        for mount in mounts:
            if mount.fstype != OCFS2 or mount.root != root:
                continue
            path = mount.mount_point
            found, problem = check_mount(path, mounts, self._access)
            if found is None or problem:
                continue
            try:
                info = self._identify(path, found)
            except (executor.CommandError, fsinfo.ParseError):
                continue
            if info.uuid == uuid:
                return Pool(name=pool_name(path, info, self.name_source), path=path, state=UP,
                            uuid=info.uuid, label=info.label, info=info, mount=found)
        return None

    def require(self, name: str) -> Pool:
        """The pool ``name``, checked live; raise a clear error if unusable.

        The live check (one read of mountinfo, no command unless the mount
        changed) stops a write from landing on the root filesystem under an
        unmounted mount point.
        """
        pool = self.pools.get(name)
        if pool is None:
            self.refresh()
            pool = self.pools.get(name)
        if pool is None:
            raise exception.UnknownPool(pool=name, known=", ".join(sorted(self.pools)) or "none")
        fresh = self._check(pool.path, self._read_mounts(), self.cluster_problem)
        if fresh.uuid and pool.uuid and fresh.uuid != pool.uuid:
            raise exception.PoolUnavailable(
                pool=name, path=pool.path,
                reason=(f"another filesystem ({fresh.uuid}) is now mounted there instead of "
                        f"{pool.uuid}; mount the right disk"))
        if not fresh.up:
            raise exception.PoolUnavailable(pool=name, path=pool.path, reason=fresh.problem)
        return fresh


def map_path(path: str, prefix_map: Mapping[str, str]) -> str:
    """Rewrite ``path`` with the longest matching ``service_prefix -> host_prefix``.

    >>> map_path("/var/lib/cinder/ocfs2/a/volume-1",
    ...          {"/var/lib/cinder/ocfs2": "/var/opt/mnt/ocfs2"})
    '/var/opt/mnt/ocfs2/a/volume-1'
    """
    norm = {os.path.normpath(k): os.path.normpath(v) for k, v in prefix_map.items() if k and v}
    best = ""
    for prefix in norm:
        under = path == prefix or path.startswith(prefix.rstrip("/") + "/")
        if under and len(prefix) > len(best):
            best = prefix
    if not best:
        return path
    return norm[best].rstrip("/") + path[len(best.rstrip("/")):]
