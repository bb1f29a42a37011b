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
"""Cinder volume driver for OCFS2 shared-disk clusters.

Thin by design: it translates Cinder calls into calls on small modules that
know nothing of Cinder — :mod:`filesystems` (pools), :mod:`volumes` (files),
:mod:`capacity` (stats), :mod:`cluster` (o2cb state) and :mod:`reflink`
(snapshots and clones).  A volume is the raw file ``volume-<name_id>`` at the
root of its pool's filesystem; a snapshot is the reflink ``snapshot-<id>``
beside it.  Hosts attach the file directly (``driver_volume_type: gpfs``,
which stock Nova and os-brick attach as a plain file; see docs/driver.md).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from cinder import context as cinder_context
from cinder import coordination, interface, objects, utils
from cinder import exception as cinder_exception
from cinder.image import image_utils
from cinder.volume import configuration, driver, volume_utils
from oslo_config import cfg

from cinder_ocfs2 import (
    capacity,
    cluster,
    exception,
    executor,
    filesystems,
    locks,
    manage,
    names,
    opts,
    reflink,
    volumes,
)

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
CONF.register_opts(opts.ocfs2_opts, group=configuration.SHARED_CONF_GROUP)

GiB = capacity.GiB
LOCATION_PREFIX = "OCFS2Driver"
STORAGE_PROTOCOL = "ocfs2"
CONNECTION_TYPE = "gpfs"
#: Cinder options this driver honours (declared by Cinder, not redefined).
CINDER_OPTS = ("max_over_subscription_ratio", "reserved_percentage",
               "image_volume_cache_enabled",
               "volume_backend_name", "volume_dd_blocksize")
ORPHAN_SWEEP_INTERVAL = 3600.0
ATTACHED = "attached"

T = TypeVar("T")


def _native(func: Callable[..., T]) -> Callable[..., T]:
    """``func``, called in a native thread (``eventlet.tpool``) under eventlet.

    cinder-volume runs on one eventlet hub: a blocking syscall there (FICLONE,
    copy_file_range, fallocate, fsync, unlink of a large file, statvfs,
    scandir) would freeze every greenthread, the service heartbeat and RPC
    included.  Every file operation of the driver goes through this.  Only
    plain file work may run there: no database, RPC or green subprocess.
    """
    return utils.tpool_wrap(func)


def _templates() -> tuple[str, str]:
    return CONF.volume_name_template, CONF.snapshot_name_template


#: "No space": the filesystem is full, or a quota is.
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def _is_full(exc: BaseException) -> bool:
    return (getattr(exc, "errno", None) in FULL_ERRNOS
            or os.strerror(errno.ENOSPC) in str(exc))


def _pool_named(args: tuple[Any, ...]) -> str:
    """The pool of the first volume (or snapshot's volume) among ``args``, or ''."""
    for arg in args:
        try:
            host = getattr(arg, "host", None) or getattr(getattr(arg, "volume", None),
                                                           "host", None)
        except Exception:  # noqa: BLE001 - an unloaded field: no name, still the fix
            host = None
        if isinstance(host, str) and "#" in host:
            return str(volume_utils.extract_host(host, "pool"))
    return ""


def _full(op: str, exc: BaseException, args: tuple[Any, ...]) -> str:
    pool = _pool_named(args)
    where = f"OCFS2 pool {pool}" if pool else "the OCFS2 filesystem"
    return (f"{op}: {where} is full ({exc}). Nothing was left behind. Free space there "
            f"(delete volumes or snapshots in that pool; `cinder-ocfs2 status` shows "
            f"what is used) or add a filesystem (`cinder-ocfs2 disk add`), then retry")


def _translate(func):
    """Turn module errors into Cinder exceptions with the module's message."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if _is_full(exc):  # also qemu-img's "No space left on device" (an image)
                message = _full(func.__name__, exc, args[1:])
            elif isinstance(exc, cinder_exception.CinderException) or not isinstance(
                    exc, (exception.OCFS2Error, reflink.ReflinkError,
                          executor.CommandError, OSError, ValueError)):
                raise
            else:
                message = str(exc)
            LOG.error("%(op)s failed: %(err)s", {"op": func.__name__, "err": message})
            raise cinder_exception.VolumeBackendAPIException(data=message) from exc
    return wrapper


@interface.volumedriver
class OCFS2Driver(driver.VolumeDriver):
    """Volumes as raw files on OCFS2 filesystems shared by every node."""

    VERSION = "1.0.0"
    CI_WIKI_NAME = "cinder-ocfs2_CI"
    # Every node sees the same files and every data change holds a
    # coordination lock on the volume id; with a distributed coordination
    # backend (backend_url) several cinder-volume services may run one cluster.
    SUPPORTS_ACTIVE_ACTIVE = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.configuration.append_config_values(opts.ocfs2_opts)
        self.backend_name = (self.configuration.safe_get("volume_backend_name")
                             or "OCFS2")
        self._mode = 0o660
        self._last_sweep = 0.0
        # Temp files the last sweep had to keep (a build running, or an orphan still
        # inside the grace): sweep again at every stats refresh until none is left.
        self._sweep_pending = False
        self._cluster_name: str | None = None
        # Each pool's provisioned walk, in the background (capacity.Provisioned), by path.
        self._provisioned: dict[str, capacity.Provisioned] = {}
        read_cluster = self._read_cluster if self.configuration.ocfs2_check_cluster else None
        self.monitor = filesystems.PoolMonitor(
            self.configuration.ocfs2_mount_points or [],
            self.configuration.ocfs2_mount_point_base,
            name_source=self.configuration.ocfs2_pool_name,
            read_cluster=read_cluster)

    @staticmethod
    def get_driver_options():
        return list(opts.ocfs2_opts) + list(driver.BaseVD._get_oslo_driver_opts(*CINDER_OPTS))

    # ------------------------------------------------------------ setup
    def _read_cluster(self):
        state = cluster.read_state(self.configuration.ocfs2_cluster_configfs)
        self._cluster_name = state.name
        return state

    @staticmethod
    def _config_error(option: str, value: object, fix: str):
        msg = f"Invalid {option}={value!r}: {fix}"
        LOG.error(msg)
        return cinder_exception.InvalidConfigurationValue(message=msg)

    def do_setup(self, context):
        """Check the configuration now, not at the first stats refresh."""
        conf = self.configuration
        try:
            self._mode = volumes.parse_mode(conf.ocfs2_volume_mode)
        except ValueError as exc:
            raise self._config_error("ocfs2_volume_mode", conf.ocfs2_volume_mode,
                                     str(exc)) from exc
        try:
            volume_utils.get_max_over_subscription_ratio(conf.max_over_subscription_ratio,
                                                         supports_auto=False)
        except (cinder_exception.CinderException, ValueError) as exc:
            raise self._config_error(
                "max_over_subscription_ratio", conf.max_over_subscription_ratio,
                "set it to a number of at least 1.0, e.g. 2.0; this driver reports the "
                "exact provisioned capacity of every pool, so 'auto' is not supported"
            ) from exc
        if conf.ocfs2_images_dir and not os.path.isabs(conf.ocfs2_images_dir):
            raise self._config_error("ocfs2_images_dir", conf.ocfs2_images_dir,
                                     "give the absolute path of the Glance file store's "
                                     "directory as this service sees it")
        problem = locks.backend_url_problem(
            CONF.coordination.backend_url, clustered=bool(self.cluster_name),
            shared_host=bool(conf.safe_get("backend_host") or getattr(CONF, "backend_host", None)))
        if problem and problem.fatal:
            LOG.error(problem.message)
            raise cinder_exception.InvalidConfigurationValue(message=problem.message)
        if problem:
            LOG.warning(problem.message)

    def check_for_setup_error(self):
        conf = self.configuration
        if not conf.ocfs2_mount_points and not os.path.isdir(conf.ocfs2_mount_point_base):
            raise cinder_exception.VolumeBackendAPIException(data=(
                f"ocfs2_mount_point_base {conf.ocfs2_mount_point_base} does not exist: create "
                "it and mount the OCFS2 filesystems below it, or list them in "
                "ocfs2_mount_points"))
        pools = self.monitor.refresh()
        up = [p for p in pools.values() if p.up]
        if not up:
            problems = "; ".join(f"{p.name}: {p.problem}" for p in pools.values())
            raise cinder_exception.VolumeBackendAPIException(data=(
                "no usable OCFS2 filesystem: " + (problems or (
                    f"nothing is mounted under {conf.ocfs2_mount_point_base}; mount an OCFS2 "
                    "filesystem there (one directory per disk) or set ocfs2_mount_points"))))
        for pool in up:
            if not pool.has_refcount:
                LOG.warning("OCFS2 filesystem %(uuid)s (pool %(name)s) has no refcount "
                            "feature: snapshots and clones will be full sparse copies. "
                            "Enable it with tunefs.ocfs2 --fs-features=refcount.",
                            {"uuid": pool.uuid, "name": pool.name})
        self._sweep_orphans(force=True)

    def _sweep_orphans(self, force: bool = False) -> None:
        """Remove the temp files interrupted builds left (at setup, then hourly).

        A build this service's own restart interrupted is younger than the grace at
        setup, so while any temp file is kept the sweep runs at every stats refresh.
        """
        now = time.time()
        if (not force and not self._sweep_pending
                and now - self._last_sweep < ORPHAN_SWEEP_INTERVAL):
            return
        self._last_sweep = now
        pending = False
        for pool in self.monitor.pools.values():
            if pool.up:
                try:
                    sweep = _native(volumes.cleanup_orphans)(
                        pool.path, self.configuration.ocfs2_temp_file_max_age)
                except OSError as exc:
                    LOG.warning("Could not clean temporary files in %(path)s: %(err)s",
                                {"path": pool.path, "err": exc})
                    continue
                pending = pending or bool(sweep.kept)
        self._sweep_pending = pending

    # ------------------------------------------------------------ stats
    def _location_info(self, pool: filesystems.Pool) -> str:
        root = pool.mount.root if pool.mount else "/"
        return f"{LOCATION_PREFIX}:{self._cluster_name or ''}:{pool.uuid or ''}:{root}"

    def _pool_stats(self, pool: filesystems.Pool) -> dict:
        conf = self.configuration
        stats = {
            "pool_name": pool.name,
            "total_capacity_gb": 0,
            "free_capacity_gb": 0,
            "provisioned_capacity_gb": 0,
            "reserved_percentage": conf.reserved_percentage,
            "max_over_subscription_ratio": volume_utils.get_max_over_subscription_ratio(
                conf.max_over_subscription_ratio, supports_auto=False),
            "thin_provisioning_support": True,
            "thick_provisioning_support": True,
            "multiattach": True,
            "online_extend_support": False,
            "QoS_support": False,
            "sparse_copy_volume": True,
            "location_info": self._location_info(pool),
            "backend_state": "up" if pool.up else "down",
            "ocfs2_fs_uuid": pool.uuid,
            "ocfs2_reflink": pool.has_refcount,
        }
        if not pool.up:
            stats["backend_state_reason"] = pool.problem
            return stats
        try:
            total, free = _native(capacity.space)(pool.path)
            provisioned = self._provisioned_walk(pool.path).latest()
        except OSError as exc:
            LOG.warning("Cannot measure pool %(name)s: %(err)s", {"name": pool.name, "err": exc})
            stats["backend_state"] = "down"
            stats["backend_state_reason"] = str(exc)
            return stats
        stats.update(total_capacity_gb=capacity.to_gb(total),
                     free_capacity_gb=capacity.to_gb(free))
        if provisioned is None:
            # The first walk is still running (cold inodes: a cluster lock each). Without
            # the key the scheduler counts Cinder's allocated_capacity_gb instead.
            LOG.info("Pool %(name)s: provisioned capacity not measured yet (walking its "
                     "files in the background)", {"name": pool.name})
            del stats["provisioned_capacity_gb"]
        else:
            (nbytes, _count), age = provisioned
            stats["provisioned_capacity_gb"] = capacity.to_gb(nbytes)
            if age > 1:
                LOG.debug("Pool %(name)s: provisioned capacity from a walk %(age).0f s old",
                          {"name": pool.name, "age": age})
        return stats

    def _provisioned_walk(self, path: str) -> capacity.Provisioned:
        walk = self._provisioned.get(path)
        if walk is None:
            walk = self._provisioned[path] = capacity.Provisioned(
                lambda: _native(capacity.provisioned)(path, _templates()),
                wait=capacity.WALK_WAIT_S)
        return walk

    def _update_volume_stats(self):
        pools = self.monitor.refresh()
        self._sweep_orphans()
        pool_stats = [self._pool_stats(p) for p in pools.values()]
        self._stats = {
            "volume_backend_name": self.backend_name,
            "vendor_name": "Open Source",
            "driver_version": self.VERSION,
            "storage_protocol": STORAGE_PROTOCOL,
            # The volume manager reads this one at the top level, not per pool, when it
            # copies a volume here (host-assisted migration): the copy then skips zeros.
            "sparse_copy_volume": True,
            "pools": pool_stats,
            "backend_state": "up" if any(p.up for p in pools.values()) else "down",
        }

    # ------------------------------------------------------------ paths
    def _pool_of(self, volume, new: bool = False) -> filesystems.Pool:
        """The live pool holding ``volume`` (or, ``new``, the one to create it in).

        By the filesystem UUID recorded in ``provider_id`` when there is one
        (labels are not unique and can change), else by the pool in its host.
        A volume being created goes where the scheduler put it (its host): its
        ``provider_id`` may be a copy of another volume's (a host-assisted
        migration's new volume copies the source's fields).
        """
        if volume.provider_id and not new:
            try:
                return self._pool_by_uuid(volume.provider_id, f"volume {volume.id}")
            except exception.FilesystemMissing:
                # A stale record (a host-assisted migration can leave the source's): the
                # pool in the host counts only if the volume's file is really there.
                pool = self._host_pool(volume)
                if not os.path.isfile(pool.file(volume.name)):
                    raise
                LOG.warning("Volume %(id)s records filesystem %(old)s but its file is in "
                            "pool %(pool)s (%(uuid)s)", {"id": volume.id, "pool": pool.name,
                                                        "old": volume.provider_id,
                                                        "uuid": pool.uuid})
                return pool
        return self._host_pool(volume)

    def _host_pool(self, volume) -> filesystems.Pool:
        """The live pool named in ``volume.host`` (the only pool when it names none)."""
        name = volume_utils.extract_host(volume.host, "pool")
        if name is None:
            pools = self.monitor.pools or self.monitor.refresh()
            if len(pools) != 1:
                raise exception.UnknownPool(pool=volume.host, known=", ".join(sorted(pools)))
            name = next(iter(pools))
        return self.monitor.require(name)

    def _pool_by_uuid(self, uuid: str, what: str) -> filesystems.Pool:
        pool = self.monitor.by_uuid(uuid)
        if pool is None:
            self.monitor.refresh()
            pool = self.monitor.by_uuid(uuid)
        if pool is None:
            raise exception.FilesystemMissing(
                what=what, uuid=uuid, known=", ".join(
                    f"{p.name}={p.uuid}" for p in self.monitor.pools.values()) or "none")
        if not pool.up:
            raise exception.PoolUnavailable(pool=pool.name, path=pool.path, reason=pool.problem)
        fresh = self.monitor.require(pool.name)
        if fresh.uuid != uuid:
            raise exception.PoolUnavailable(pool=pool.name, path=pool.path, reason=(
                f"filesystem {fresh.uuid} is mounted there now, not {uuid}"))
        return fresh

    @staticmethod
    def _fs_model(pool: filesystems.Pool) -> dict:
        """The model update that ties a volume to its filesystem."""
        return {"provider_id": pool.uuid}

    @staticmethod
    def _attached(volume) -> bool:
        """Someone may be writing ``volume`` (status changes during backup/upload)."""
        return volume.attach_status == ATTACHED or volume.status == "in-use"

    def _path(self, volume) -> str:
        return self._pool_of(volume).file(volume.name)

    def _snapshot_path(self, snapshot) -> str:
        return self._pool_of(snapshot.volume).file(snapshot.name)

    def local_path(self, volume):
        return self._path(volume)

    @staticmethod
    def _extra_specs(volume) -> dict:
        if not volume.volume_type_id:
            return {}
        try:
            return dict(volume.volume_type.extra_specs or {})
        except Exception:  # no type loaded: thin is the safe default
            return {}

    def _thick(self, volume) -> bool:
        kind = self._extra_specs(volume).get("provisioning:type")
        if kind not in (None, "", "thin", "thick"):
            raise exception.InvalidProvisioningType(kind=kind, type=volume.volume_type_id)
        return kind == "thick"

    def _copy(self, src: str, dst: str, size: int | None, *,
              src_pool: filesystems.Pool, dst_pool: filesystems.Pool,
              live: bool = False) -> str:
        """Reflink ``src`` to ``dst`` when possible, else a sparse copy (if allowed).

        ``live``: ``src`` is attached.  Only a reflink is then a point-in-time
        copy, so a copy is refused rather than torn.
        """
        if src_pool.uuid != dst_pool.uuid:
            why = "it would cross filesystems"
        elif not dst_pool.has_refcount:
            why = f"filesystem {dst_pool.uuid} has no refcount feature"
        else:
            try:
                _native(reflink.clone_atomic)(src, dst, size=size, mode=self._mode)
                return "reflink"
            except reflink.ReflinkUnsupported as exc:
                why = str(exc)
        if live:
            raise exception.TornCopy(path=src, why=f"a reflink is impossible ({why})")
        if not self.configuration.ocfs2_sparse_copy_fallback:
            raise exception.VolumeFileError(path=dst, reason=(
                f"a reflink is impossible ({why}) and ocfs2_sparse_copy_fallback is False"))
        LOG.info("Sparse copy of %(src)s to %(dst)s: %(why)s", {"src": src, "dst": dst,
                                                                 "why": why})
        if src_pool.uuid != dst_pool.uuid:
            self._convert(src, dst, size)
            return "qemu-img"
        _native(reflink.sparse_copy)(src, dst, size=size, mode=self._mode)
        return "sparse"

    def _convert(self, src: str, dst: str, size: int | None) -> None:
        """Copy ``src`` to ``dst`` on another filesystem with ``qemu-img convert``.

        qemu-img keeps the holes and writes with O_DIRECT (``-t none``) where the
        target filesystem takes it: on the lab's shared disk 1.12-1.19x faster
        than our own copy loop (bench/README.md).  It runs as a green subprocess
        from the hub, like Cinder's image conversions; the file steps go to native
        threads.  Built as a temp file beside ``dst`` and renamed over it, like
        every other copy.  (Not Cinder's ``convert_image``: its format check would
        refuse a raw volume whose tenant wrote an image header into it.)
        """
        with contextlib.ExitStack() as stack:
            tmp = _native(stack.enter_context)(volumes.building(dst))
            direct = _native(volumes.direct_io_ok)(tmp)
            executor.run(reflink.convert_argv(src, tmp, direct=direct), timeout=None)
            _native(volumes.seal)(tmp, size or 0, mode=self._mode)
            _native(volumes.publish)(tmp, dst)

    # ------------------------------------------------------------ volumes
    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def create_volume(self, volume):
        pool = self._pool_of(volume, new=True)
        path, thick = pool.file(volume.name), self._thick(volume)
        _native(volumes.create)(path, volume.size * GiB, mode=self._mode, thick=thick)
        LOG.info("Created %(thick)s volume file %(path)s (%(size)s GiB)",
                 {"thick": "thick" if thick else "sparse", "path": path, "size": volume.size})
        return self._fs_model(pool)

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def delete_volume(self, volume):
        path = self._path(volume)  # refuses when the volume's filesystem is not here
        if not _native(volumes.delete)(path):
            LOG.info("Volume file %s was already gone", path)

    @classmethod
    def clean_volume_file_locks(cls, volume_id):
        """Remove the lock of a deleted volume (a file with tooz's file driver)."""
        coordination.synchronized_remove(f"{volume_id}-ocfs2")

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def extend_volume(self, volume, new_size):
        # Cinder grows the file, then asks Nova to resize the attached disk; stock Nova's
        # libvirt gpfs volume driver cannot (LibvirtBaseVolumeDriver.extend_volume), so the
        # request would fail half-way with the file already grown. The scheduler turns it
        # down first (online_extend_support=False, CapabilitiesFilter); this is the guard
        # for a scheduler without that filter.
        servers = self._servers(volume)
        if servers:
            raise exception.AttachedExtend(volume=volume.id, servers=", ".join(servers))
        _native(volumes.extend)(self._path(volume), new_size * GiB, thick=self._thick(volume))

    @staticmethod
    def _servers(volume) -> list[str]:
        """The Nova servers ``volume`` is attached to (an attachment without an instance,
        Glance's cinder store or an os-brick attach on a node, is none). The attachments
        are read (lazily, from the database) only for a volume that is attached."""
        if volume.attach_status != ATTACHED:
            return []
        return sorted({a.instance_uuid for a in volume.volume_attachment or []
                       if a.instance_uuid and a.attach_status != "detached"})

    def ensure_export(self, context, volume):
        pass

    def create_export(self, context, volume, connector):
        pass

    def remove_export(self, context, volume):
        self._restore_size(volume)

    def _restore_size(self, volume) -> None:
        """Grow a volume file that came back shorter than the volume.

        cinder-backup restores into the file it gets from os-brick by opening
        it with ``'wb'`` (which truncates a regular file) and, for a new
        volume, writing only the non-zero chunks: the file then ends at the
        last non-zero byte.  Extending it (zeros, sparse) makes it whole; it
        runs when the restore detaches (``remove_export``,
        ``terminate_connection``).  Never fails the detach.
        """
        try:
            path = self._path(volume)
            st, want = os.stat(path), volume.size * GiB
            if st.st_size < want:
                _native(volumes.extend)(path, want, thick=self._thick(volume))
                LOG.warning("Volume file %(path)s was %(size)s bytes, shorter than its %(gib)s "
                            "GiB (a backup restore truncates the file it writes into); "
                            "extended it back", {"path": path, "size": st.st_size,
                                                 "gib": volume.size})
            if self._thick(volume) and st.st_blocks * 512 < min(st.st_size, want):
                _native(volumes.allocate)(path)  # the restore wrote only non-zero chunks
        except (OSError, exception.OCFS2Error) as exc:
            LOG.debug("Size check of volume %(id)s skipped: %(exc)s",
                      {"id": volume.id, "exc": exc})

    def create_export_snapshot(self, context, snapshot, connector):
        pass

    def remove_export_snapshot(self, context, snapshot):
        pass

    def _connection(self, path: str, name: str) -> dict:
        if not os.path.isfile(path):
            raise exception.VolumeFileError(path=path, reason="does not exist")
        return {
            "driver_volume_type": CONNECTION_TYPE,
            "data": {
                "device_path": filesystems.map_path(
                    path, self.configuration.ocfs2_connector_path_map or {}),
                "name": name,
                "access_mode": "rw",
            },
        }

    @_translate
    def initialize_connection(self, volume, connector, initiator_data=None, **kwargs):
        return self._connection(self._path(volume), volume.name)

    def terminate_connection(self, volume, connector=None, **kwargs):
        """Nothing to undo on the storage side (force-detach: connector None)."""
        self._restore_size(volume)

    @_translate
    def initialize_connection_snapshot(self, snapshot, connector, **kwargs):
        info = self._connection(self._snapshot_path(snapshot), snapshot.name)
        info["data"]["access_mode"] = "ro"
        return info

    def terminate_connection_snapshot(self, snapshot, connector=None, **kwargs):
        pass

    # ------------------------------------------------------------ snapshots & clones
    @_translate
    @coordination.synchronized("{snapshot.volume_id}-ocfs2")
    def create_snapshot(self, snapshot):
        pool = self._pool_of(snapshot.volume)
        src, dst = pool.file(snapshot.volume.name), pool.file(snapshot.name)
        how = self._copy(src, dst, None, src_pool=pool, dst_pool=pool,
                         live=self._attached(snapshot.volume))
        manage.set_origin(dst, src)  # user xattrs need write permission: before chmod
        volumes.set_mode(dst, self._mode & 0o444)  # nothing writes a snapshot
        LOG.info("Snapshot %(dst)s of %(src)s made by %(how)s", {"dst": dst, "src": src,
                                                                  "how": how})

    @_translate
    @coordination.synchronized("{snapshot.volume_id}-ocfs2")
    def delete_snapshot(self, snapshot):
        _native(volumes.delete)(self._snapshot_path(snapshot))

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def create_volume_from_snapshot(self, volume, snapshot):
        src_pool = self._pool_of(snapshot.volume)
        dst_pool = self._pool_of(volume, new=True)
        self._copy(src_pool.file(snapshot.name), dst_pool.file(volume.name),
                   volume.size * GiB, src_pool=src_pool, dst_pool=dst_pool)
        return self._fs_model(dst_pool)

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2", "{src_vref.id}-ocfs2")
    def create_cloned_volume(self, volume, src_vref):
        src_pool = self._pool_of(src_vref)
        dst_pool = self._pool_of(volume, new=True)
        # An attached source (a backup without backup_use_temp_snapshot clones it).
        self._copy(src_pool.file(src_vref.name), dst_pool.file(volume.name),
                   volume.size * GiB, src_pool=src_pool, dst_pool=dst_pool,
                   live=self._attached(src_vref))
        return self._fs_model(dst_pool)

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def revert_to_snapshot(self, context, volume, snapshot):
        pool = self._pool_of(volume)
        src = pool.file(snapshot.name)
        if not os.path.isfile(src):
            raise exception.VolumeFileError(path=src, reason=(
                "snapshot file does not exist, so the volume cannot be reverted to it "
                "(the volume is unchanged); delete this snapshot"))
        size = max(volume.size, snapshot.volume_size or 0) * GiB
        self._copy(src, pool.file(volume.name), size, src_pool=pool, dst_pool=pool)

    # ------------------------------------------------------------ images
    @contextlib.contextmanager
    def _point_in_time(self, volume) -> Iterator[str]:
        """A reflink copy of attached ``volume`` under a temp name, removed afterwards."""
        pool = self._pool_of(volume)
        src = pool.file(volume.name)
        tmp = volumes.temp_path(src)
        self._copy(src, tmp, None, src_pool=pool, dst_pool=pool, live=True)
        try:
            yield tmp
        finally:
            _native(volumes.delete)(tmp)

    @_translate
    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        """Upload the volume file; an attached one from a reflink taken now."""
        if not self._attached(volume):
            volume_utils.upload_volume(context, image_service, image_meta, self._path(volume),
                                       volume, run_as_root=False)
            return
        with self._point_in_time(volume) as path:
            volume_utils.upload_volume(context, image_service, image_meta, path, volume,
                                       run_as_root=False)

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        path = self._path(volume)
        with contextlib.ExitStack() as stack:
            # Entered in a native thread: it takes the pool directory's (DLM) flock.
            tmp = _native(stack.enter_context)(volumes.building(path))
            image_utils.fetch_to_raw(context, image_service, image_id, tmp,
                                     self.configuration.volume_dd_blocksize,
                                     size=volume.size, run_as_root=False,
                                     disable_sparse=disable_sparse)
            _native(volumes.seal)(tmp, volume.size * GiB, mode=self._mode,
                                  thick=self._thick(volume))
            _native(volumes.publish)(tmp, path)

    def _glance_image_file(self, image_location, image_id: str) -> str | None:
        """The Glance file store's file of ``image_id``, if a location names it."""
        images_dir = self.configuration.ocfs2_images_dir
        if (not images_dir or "/" in image_id or image_id.startswith(".")
                or names.is_cinder_name(image_id, _templates())):
            return None  # never a volume, snapshot or temp file
        expected = os.path.join(os.path.realpath(images_dir), image_id)
        url, locations = (image_location or (None, None))
        urls = [url] + [loc.get("url") for loc in (locations or []) if isinstance(loc, dict)]
        for candidate in urls:
            if (candidate and candidate.startswith("file://")
                    and os.path.realpath(candidate[len("file://"):]) == expected):
                return expected
        return None

    def clone_image(self, context, volume, image_location, image_meta, image_service):
        """Reflink a raw image kept by a Glance file store on the same filesystem.

        Only ``<ocfs2_images_dir>/<image id>``, and only after qemu-img says
        it is raw.  Anything else, or any failure, returns ``(None, False)``:
        Cinder then downloads the image as usual.
        """
        try:
            return self._clone_image(volume, image_location, image_meta or {})
        except Exception as exc:  # the normal download still works
            LOG.warning("Cannot reflink image %(image)s into volume %(vol)s, downloading it "
                        "instead: %(err)s", {"image": (image_meta or {}).get("id"),
                                             "vol": volume.id, "err": exc})
            return None, False

    def _clone_image(self, volume, image_location, image_meta: dict):
        if image_meta.get("disk_format") != "raw" or not image_meta.get("id"):
            return None, False
        src = self._glance_image_file(image_location, str(image_meta["id"]))
        if src is None:
            return None, False
        dst_pool = self._pool_of(volume, new=True)
        src_dev, dst_dev = os.stat(src).st_dev, os.stat(dst_pool.path).st_dev
        if src_dev != dst_dev or not dst_pool.has_refcount:
            return None, False
        info = image_utils.qemu_img_info(src, run_as_root=False)
        if info.file_format != "raw" or info.backing_file:
            LOG.warning("Glance image %(id)s is declared raw but qemu-img finds %(fmt)s: not "
                        "cloning it", {"id": image_meta["id"], "fmt": info.file_format})
            return None, False
        if info.virtual_size > volume.size * GiB:
            return None, False
        dst = dst_pool.file(volume.name)
        _native(reflink.clone_atomic)(src, dst, size=volume.size * GiB, mode=self._mode)
        if self._thick(volume):
            try:
                _native(volumes.allocate)(dst)
            except BaseException:
                _native(volumes.delete)(dst)  # nothing half-made: no file without its space
                raise
        LOG.info("Volume %(vol)s reflinked from Glance image file %(src)s",
                 {"vol": volume.id, "src": src})
        return self._fs_model(dst_pool), True

    # ------------------------------------------------------------ migration & retype
    @_translate
    def migrate_volume(self, context, volume, host):
        info = (host.get("capabilities") or {}).get("location_info") or ""
        parts = info.split(":")
        if len(parts) < 4 or parts[0] != LOCATION_PREFIX:
            return False, None
        cluster_name, fs_uuid, root = parts[1], parts[2], ":".join(parts[3:])
        if cluster_name != (self._cluster_name or ""):
            return False, None
        # The filesystem and subtree the destination serves, as mounted on this node: one
        # of our pools, or the mount of another backend.
        dst_pool = self.monitor.locate(fs_uuid, root)
        if dst_pool is None:
            LOG.info("Filesystem %(uuid)s (%(root)s) of %(host)s is not mounted here: "
                     "generic migration", {"uuid": fs_uuid, "root": root,
                                           "host": host.get("host")})
            return False, None
        src_pool = self._pool_of(volume)
        if dst_pool.uuid == src_pool.uuid and dst_pool.path == src_pool.path:
            LOG.info("Migrating %s within one filesystem and directory: nothing to copy",
                     volume.id)
            return True, self._fs_model(dst_pool)
        if self._attached(volume):
            return False, None  # let Nova move the data of an attached volume
        if self.monitor.by_uuid(fs_uuid) is dst_pool:
            dst_pool = self.monitor.require(dst_pool.name)  # one of ours: checked live
        self._move(volume, src_pool, dst_pool)
        return True, self._fs_model(dst_pool)

    @coordination.synchronized("{volume.id}-ocfs2")
    def _move(self, volume, src_pool, dst_pool):
        src, dst = src_pool.file(volume.name), dst_pool.file(volume.name)
        how = self._copy(src, dst, None, src_pool=src_pool, dst_pool=dst_pool)
        if self._thick(volume):
            try:
                _native(volumes.allocate)(dst)
            except BaseException:
                # The volume stays at src; a copy left under its name would be an orphan
                # no delete ever reaches.
                _native(volumes.delete)(dst)
                raise
        _native(volumes.delete)(src)
        LOG.info("Moved %(src)s to %(dst)s (%(how)s)", {"src": src, "dst": dst, "how": how})

    def update_migrated_volume(self, ctxt, volume, new_volume, original_volume_status):
        """After a host-assisted migration: the volume lives where the new one was made."""
        return {"_name_id": new_volume.name_id,
                "provider_location": new_volume.provider_location,
                "provider_id": new_volume.provider_id}

    def update_provider_info(self, volumes, snapshots):
        """Record the filesystem UUID of volumes made before it was recorded."""
        updates = []
        for volume in volumes:
            if volume.provider_id:
                continue
            try:
                pool = self._pool_of(volume)
            except exception.OCFS2Error as exc:
                LOG.debug("Filesystem of volume %(id)s not recorded: %(err)s",
                          {"id": volume.id, "err": exc})
                continue
            if pool.uuid and os.path.isfile(pool.file(volume.name)):
                updates.append({"id": volume.id, "provider_id": pool.uuid})
        return updates, None

    @_translate
    def retype(self, context, volume, new_type, diff, host):
        def backend(name):
            return volume_utils.extract_host(name, "backend") if name else None

        # Active-active: the scheduler may name another node of the same cluster.
        same_backend = (backend(volume.host) == backend(host["host"])
                        or (backend(volume.cluster_name) is not None
                            and backend(volume.cluster_name) == backend(host.get("cluster_name"))))
        same_pool = (volume_utils.extract_host(volume.host, "pool")
                     == volume_utils.extract_host(host["host"], "pool"))
        if not (same_backend and same_pool):
            return False
        new_specs = (new_type or {}).get("extra_specs") or {}
        kind = new_specs.get("provisioning:type")
        if kind not in (None, "", "thin", "thick"):
            raise exception.InvalidProvisioningType(kind=kind, type=(new_type or {}).get("id"))
        if kind == "thick":
            self._allocate(volume)
        # Nothing moved: keep the volume's host. Cinder would otherwise write the host
        # of whichever node last reported the cluster's stats (node1 or node2 by chance).
        return True, {"host": volume.host, "cluster_name": volume.cluster_name}

    @coordination.synchronized("{volume.id}-ocfs2")
    def _allocate(self, volume):
        _native(volumes.allocate)(self._path(volume))

    # ------------------------------------------------------------ manage
    def _manage_ref(self, existing_ref) -> str:
        name = (existing_ref or {}).get("source-name")
        if not name or not isinstance(name, str):
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason="give the file as source-name, relative to the pool's mount point")
        return name

    @staticmethod
    def _owner(name: str) -> str | None:
        """The Cinder volume or snapshot whose file ``name`` is, if it exists (a DB query)."""
        vol_template, snap_template = _templates()
        base = os.path.basename(name)
        vol_id = names.id_from(base, vol_template)
        if vol_id and volume_utils.check_already_managed_volume(vol_id):
            return f"volume {vol_id}"
        snap_id = names.id_from(base, snap_template)
        if snap_id and objects.Snapshot.exists(cinder_context.get_admin_context(), snap_id):
            return f"snapshot {snap_id}"
        return None

    def _refuse_owned(self, name: str, existing_ref) -> None:
        owner = self._owner(name)
        if owner is None:
            return
        LOG.warning("Refusing to manage %(name)s: it is the file of Cinder %(owner)s",
                    {"name": name, "owner": owner})
        if owner.startswith("volume"):
            raise cinder_exception.ManageExistingAlreadyManaged(volume_ref=name)
        raise cinder_exception.ManageExistingInvalidReference(
            existing_ref=existing_ref,
            reason=f"{name} is the file of Cinder {owner}; it is already managed")

    def _manage_pool(self, volume, existing_ref, name: str) -> filesystems.Pool:
        """The pool to manage ``name`` from.

        ``volume.host`` names the pool when the request did.  A request that named
        the host without a pool (``node1@ocfs2``), or a cluster, reaches us with
        none: then the file must be in exactly one of our pools.
        """
        if volume_utils.extract_host(volume.host, "pool") is not None:
            return self._pool_of(volume, new=True)
        pools = [p for p in (self.monitor.pools or self.monitor.refresh()).values() if p.up]
        found = [p for p in pools if os.path.lexists(os.path.join(p.path, str(name)))]
        if len(found) == 1:
            return self.monitor.require(found[0].name)
        where = ", ".join(sorted(p.name for p in (found or pools)))
        reason = (f"{name} is in several pools ({where}); name the pool: "
                  f"host@backend#pool" if found else
                  f"{name} is not in any pool of this backend ({where})")
        raise cinder_exception.ManageExistingInvalidReference(existing_ref=existing_ref,
                                                              reason=reason)

    @staticmethod
    def _invalid_ref(existing_ref, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``func`` in a native thread, its refusals as ManageExistingInvalidReference."""
        try:
            return _native(func)(*args, **kwargs)
        except (manage.ManageError, OSError) as exc:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason=str(exc)) from exc

    def manage_existing_get_size(self, volume, existing_ref):
        name = self._manage_ref(existing_ref)
        self._refuse_owned(name, existing_ref)
        pool = self._manage_pool(volume, existing_ref, name)
        return self._invalid_ref(existing_ref, manage.size_for, pool.path, name,
                                 pool.file(volume.name), templates=_templates())

    @coordination.synchronized("{volume.id}-ocfs2")
    def manage_existing(self, volume, existing_ref):
        name = self._manage_ref(existing_ref)
        self._refuse_owned(name, existing_ref)
        pool = self._manage_pool(volume, existing_ref, name)
        self._invalid_ref(existing_ref, manage.adopt, pool.path, name, pool.file(volume.name),
                          mode=self._mode, templates=_templates())
        update = self._fs_model(pool)
        if volume_utils.extract_host(volume.host, "pool") is None:
            update["host"] = volume_utils.append_host(volume.host, pool.name)
        return update

    def unmanage(self, volume):
        LOG.info("Unmanaged volume %(id)s; its file %(name)s stays in place",
                 {"id": volume.id, "name": volume.name})

    def _snapshot_source(self, snapshot, existing_ref) -> tuple[filesystems.Pool, str]:
        """Pool and source-name of a snapshot file of ``snapshot.volume`` to manage."""
        name = self._manage_ref(existing_ref)
        self._refuse_owned(name, existing_ref)
        pool = self._pool_of(snapshot.volume)
        path = self._invalid_ref(existing_ref, manage.resolve_source, pool.path, name,
                                 templates=_templates())
        origin = manage.get_origin(path)
        if origin is not None and origin != snapshot.volume.name:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason=(
                    f"{name} is a snapshot of {origin}, not of volume {snapshot.volume_id} "
                    f"({snapshot.volume.name}); manage it for the volume it came from"))
        return pool, name

    def manage_existing_snapshot_get_size(self, snapshot, existing_ref):
        pool, name = self._snapshot_source(snapshot, existing_ref)
        return self._invalid_ref(existing_ref, manage.size_for, pool.path, name,
                                 pool.file(snapshot.name), templates=_templates())

    @coordination.synchronized("{snapshot.volume_id}-ocfs2")
    def manage_existing_snapshot(self, snapshot, existing_ref):
        """A snapshot file (a reflink of the volume) becomes the Cinder snapshot."""
        pool, name = self._snapshot_source(snapshot, existing_ref)
        self._invalid_ref(existing_ref, manage.adopt, pool.path, name,
                          pool.file(snapshot.name), mode=self._mode & 0o444,
                          templates=_templates())
        return None

    def unmanage_snapshot(self, snapshot):
        LOG.info("Unmanaged snapshot %(id)s; its file %(name)s stays in place",
                 {"id": snapshot.id, "name": snapshot.name})

    def _manageable(self, known, snapshots, marker, limit, offset, sort_keys, sort_dirs):
        entries = []
        for pool in self.monitor.pools.values():
            if not pool.up:
                continue
            # Which other files belong to Cinder (any backend): one DB query per
            # Cinder-named file that this host's own list (``known``) does not name,
            # asked here, on the hub.
            listed = _native(os.listdir)(pool.path)
            owners = {n: o for n in listed
                      if n not in known and names.is_cinder_name(n, _templates())
                      and (o := self._owner(n))}
            for entry in _native(manage.list_manageable)(
                    pool.path, known, snapshots=snapshots, templates=_templates(),
                    owner=owners.get):
                entry["extra_info"] = {**(entry.get("extra_info") or {}), "pool": pool.name}
                entries.append(entry)
        return volume_utils.paginate_entries_list(entries, marker, limit, offset,
                                                  sort_keys, sort_dirs)

    def get_manageable_volumes(self, cinder_volumes, marker, limit, offset, sort_keys,
                               sort_dirs):
        known = {v.name: v.id for v in cinder_volumes}
        return self._manageable(known, False, marker, limit, offset, sort_keys, sort_dirs)

    def get_manageable_snapshots(self, cinder_snapshots, marker, limit, offset, sort_keys,
                                 sort_dirs):
        known = {s.name: s.id for s in cinder_snapshots}
        return self._manageable(known, True, marker, limit, offset, sort_keys, sort_dirs)
