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
import functools
import logging
import os
import time
from collections.abc import Iterator

from cinder import coordination, interface
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
    manage,
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


def _translate(func):
    """Turn module errors into Cinder exceptions with the module's message."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except cinder_exception.CinderException:
            raise
        except (exception.OCFS2Error, reflink.ReflinkError, executor.CommandError,
                OSError, ValueError) as exc:
            LOG.error("%(op)s failed: %(err)s", {"op": func.__name__, "err": exc})
            raise cinder_exception.VolumeBackendAPIException(data=str(exc)) from exc
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
        self._cluster_name: str | None = None
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

    def _config_error(self, option: str, value: object, fix: str):
        LOG.error("Invalid %(opt)s=%(val)s: %(fix)s", {"opt": option, "val": value, "fix": fix})
        return cinder_exception.InvalidConfigurationValue(option=option, value=value)

    def do_setup(self, context):
        try:
            self._mode = volumes.parse_mode(self.configuration.ocfs2_volume_mode)
        except ValueError as exc:
            raise self._config_error("ocfs2_volume_mode", self.configuration.ocfs2_volume_mode,
                                     str(exc)) from exc

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
        now = time.time()
        if not force and now - self._last_sweep < ORPHAN_SWEEP_INTERVAL:
            return
        self._last_sweep = now
        for pool in self.monitor.pools.values():
            if pool.up:
                try:
                    volumes.cleanup_orphans(pool.path, self.configuration.ocfs2_temp_file_max_age)
                except OSError as exc:
                    LOG.warning("Could not clean temporary files in %(path)s: %(err)s",
                                {"path": pool.path, "err": exc})

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
            cap = capacity.measure(pool.path)
        except OSError as exc:
            LOG.warning("Cannot measure pool %(name)s: %(err)s", {"name": pool.name, "err": exc})
            stats["backend_state"] = "down"
            stats["backend_state_reason"] = str(exc)
            return stats
        stats.update(total_capacity_gb=cap.total_gb, free_capacity_gb=cap.free_gb,
                     provisioned_capacity_gb=cap.provisioned_gb)
        return stats

    def _update_volume_stats(self):
        pools = self.monitor.refresh()
        self._sweep_orphans()
        pool_stats = [self._pool_stats(p) for p in pools.values()]
        self._stats = {
            "volume_backend_name": self.backend_name,
            "vendor_name": "Open Source",
            "driver_version": self.VERSION,
            "storage_protocol": STORAGE_PROTOCOL,
            "pools": pool_stats,
            "backend_state": "up" if any(p.up for p in pools.values()) else "down",
        }

    # ------------------------------------------------------------ paths
    def _pool_of(self, volume) -> filesystems.Pool:
        name = volume_utils.extract_host(volume.host, "pool")
        if name is None:
            pools = self.monitor.pools or self.monitor.refresh()
            if len(pools) != 1:
                raise exception.UnknownPool(pool=volume.host, known=", ".join(sorted(pools)))
            name = next(iter(pools))
        return self.monitor.require(name)

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
        return self._extra_specs(volume).get("provisioning:type") == "thick"

    def _copy(self, src: str, dst: str, size: int | None, *,
              src_pool: filesystems.Pool, dst_pool: filesystems.Pool,
              mode: int | None = None) -> str:
        """Reflink when possible, else a logged sparse copy (if allowed)."""
        mode = self._mode if mode is None else mode
        allow = self.configuration.ocfs2_sparse_copy_fallback
        if src_pool.uuid != dst_pool.uuid or not dst_pool.has_refcount:
            if not allow:
                raise exception.VolumeFileError(path=dst, reason=(
                    "a reflink is impossible here (another filesystem, or no refcount "
                    "feature) and ocfs2_sparse_copy_fallback is False"))
            LOG.info("Sparse copy of %(src)s to %(dst)s (%(why)s)",
                     {"src": src, "dst": dst, "why": "another filesystem"
                      if src_pool.uuid != dst_pool.uuid else "no refcount feature"})
            reflink.sparse_copy(src, dst, size=size, mode=mode)
            return "sparse"
        return reflink.copy(src, dst, allow_fallback=allow, size=size, mode=mode)

    # ------------------------------------------------------------ volumes
    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def create_volume(self, volume):
        path = self._path(volume)
        volumes.create(path, volume.size * GiB, mode=self._mode, thick=self._thick(volume))
        LOG.info("Created %(thick)s volume file %(path)s (%(size)s GiB)",
                 {"thick": "thick" if self._thick(volume) else "sparse", "path": path,
                  "size": volume.size})

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def delete_volume(self, volume):
        path = self._path(volume)
        if not volumes.delete(path):
            LOG.info("Volume file %s was already gone", path)

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def extend_volume(self, volume, new_size):
        volumes.extend(self._path(volume), new_size * GiB, thick=self._thick(volume))

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
            size, want = os.stat(path).st_size, volume.size * GiB
            if size < want:
                volumes.extend(path, want, thick=self._thick(volume))
                LOG.warning("Volume file %(path)s was %(size)s bytes, shorter than its %(gib)s "
                            "GiB (a backup restore truncates the file it writes into); "
                            "extended it back", {"path": path, "size": size,
                                                 "gib": volume.size})
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
        how = self._copy(src, dst, None, src_pool=pool, dst_pool=pool)
        manage.set_origin(dst, src)  # user xattrs need write permission: before chmod
        volumes.set_mode(dst, self._mode & 0o444)  # nothing writes a snapshot
        LOG.info("Snapshot %(dst)s of %(src)s made by %(how)s", {"dst": dst, "src": src,
                                                                  "how": how})

    @_translate
    @coordination.synchronized("{snapshot.volume_id}-ocfs2")
    def delete_snapshot(self, snapshot):
        volumes.delete(self._snapshot_path(snapshot))

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def create_volume_from_snapshot(self, volume, snapshot):
        src_pool = self._pool_of(snapshot.volume)
        dst_pool = self._pool_of(volume)
        self._copy(src_pool.file(snapshot.name), dst_pool.file(volume.name),
                   volume.size * GiB, src_pool=src_pool, dst_pool=dst_pool)

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2", "{src_vref.id}-ocfs2")
    def create_cloned_volume(self, volume, src_vref):
        src_pool = self._pool_of(src_vref)
        dst_pool = self._pool_of(volume)
        self._copy(src_pool.file(src_vref.name), dst_pool.file(volume.name),
                   volume.size * GiB, src_pool=src_pool, dst_pool=dst_pool)

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def revert_to_snapshot(self, context, volume, snapshot):
        pool = self._pool_of(volume)
        src = pool.file(snapshot.name)
        if not os.path.isfile(src):
            raise exception.VolumeFileError(path=src, reason="snapshot file does not exist")
        size = max(volume.size, snapshot.volume_size or 0) * GiB
        self._copy(src, pool.file(volume.name), size, src_pool=pool, dst_pool=pool)

    # ------------------------------------------------------------ images
    @contextlib.contextmanager
    def _point_in_time(self, volume) -> Iterator[str]:
        """A reflink copy of ``volume`` under a temp name, removed afterwards."""
        pool = self._pool_of(volume)
        src = pool.file(volume.name)
        tmp = volumes.temp_path(src)
        self._copy(src, tmp, None, src_pool=pool, dst_pool=pool)
        try:
            yield tmp
        finally:
            volumes.delete(tmp)

    @_translate
    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        with self._point_in_time(volume) as path:
            volume_utils.upload_volume(context, image_service, image_meta, path, volume,
                                       run_as_root=False)

    @_translate
    @coordination.synchronized("{volume.id}-ocfs2")
    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disable_sparse=False):
        path = self._path(volume)
        with volumes.building(path) as tmp:
            image_utils.fetch_to_raw(context, image_service, image_id, tmp,
                                     self.configuration.volume_dd_blocksize,
                                     size=volume.size, run_as_root=False,
                                     disable_sparse=disable_sparse)
            volumes.grow_to(tmp, volume.size * GiB)
            volumes.set_mode(tmp, self._mode)
            volumes.publish(tmp, path)

    def _image_file_in_pool(self, image_location) -> tuple[str, filesystems.Pool] | None:
        url, locations = (image_location or (None, None))
        urls = [url] + [loc.get("url") for loc in (locations or []) if isinstance(loc, dict)]
        for candidate in urls:
            if not candidate or not candidate.startswith("file://"):
                continue
            path = os.path.realpath(candidate[len("file://"):])
            for pool in self.monitor.pools.values():
                if pool.up and path.startswith(os.path.realpath(pool.path) + "/"):
                    return path, pool
        return None

    @_translate
    def clone_image(self, context, volume, image_location, image_meta, image_service):
        """Reflink a raw image kept by a Glance file store on the same filesystem."""
        if (image_meta or {}).get("disk_format") != "raw":
            return None, False
        found = self._image_file_in_pool(image_location)
        if found is None:
            return None, False
        src, src_pool = found
        dst_pool = self._pool_of(volume)
        if src_pool.uuid != dst_pool.uuid or not dst_pool.has_refcount:
            return None, False
        if not os.path.isfile(src) or os.path.getsize(src) > volume.size * GiB:
            return None, False
        dst = dst_pool.file(volume.name)
        reflink.clone_atomic(src, dst, size=volume.size * GiB, mode=self._mode)
        LOG.info("Volume %(vol)s reflinked from Glance image file %(src)s",
                 {"vol": volume.id, "src": src})
        return None, True

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
        # One of our pools, or the filesystem of another backend mounted on this node.
        dst_pool = self.monitor.locate(fs_uuid, root)
        if dst_pool is None:
            LOG.info("Filesystem %(uuid)s of %(host)s is not mounted here: generic migration",
                     {"uuid": fs_uuid, "host": host.get("host")})
            return False, None
        src_pool = self._pool_of(volume)
        if dst_pool.uuid == src_pool.uuid:
            LOG.info("Migrating %s within one filesystem: nothing to copy", volume.id)
            return True, None
        if volume.status == "in-use" or volume.attach_status == "attached":
            return False, None  # let Nova move the data of an attached volume
        if self.monitor.by_uuid(fs_uuid) is not None:
            dst_pool = self.monitor.require(dst_pool.name)  # one of ours: checked live
        self._move(volume, src_pool, dst_pool)
        return True, None

    @coordination.synchronized("{volume.id}-ocfs2")
    def _move(self, volume, src_pool, dst_pool):
        src, dst = src_pool.file(volume.name), dst_pool.file(volume.name)
        reflink.sparse_copy(src, dst, mode=self._mode)
        volumes.delete(src)
        LOG.info("Moved %(src)s to %(dst)s", {"src": src, "dst": dst})

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
        if new_specs.get("provisioning:type") == "thick":
            self._allocate(volume)
        return True

    @coordination.synchronized("{volume.id}-ocfs2")
    def _allocate(self, volume):
        volumes.allocate(self._path(volume))

    # ------------------------------------------------------------ manage
    def _manage_ref(self, existing_ref) -> str:
        name = (existing_ref or {}).get("source-name")
        if not name:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref,
                reason="give the file as source-name, relative to the pool's mount point")
        return name

    def _manage_pool(self, volume, existing_ref, name: str) -> filesystems.Pool:
        """The pool to manage ``name`` from.

        ``volume.host`` names the pool when the request did.  A request that named
        the host without a pool (``node1@ocfs2``), or a cluster, reaches us with
        none: then the file must be in exactly one of our pools.
        """
        if volume_utils.extract_host(volume.host, "pool") is not None:
            return self._pool_of(volume)
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

    def manage_existing_get_size(self, volume, existing_ref):
        name = self._manage_ref(existing_ref)
        pool = self._manage_pool(volume, existing_ref, name)
        try:
            path = manage.resolve_source(pool.path, name)
            manage.check_raw(path, name)
            return manage.size_gib(path)
        except (manage.ManageError, OSError) as exc:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason=str(exc)) from exc

    @coordination.synchronized("{volume.id}-ocfs2")
    def manage_existing(self, volume, existing_ref):
        name = self._manage_ref(existing_ref)
        pool = self._manage_pool(volume, existing_ref, name)
        try:
            manage.adopt(pool.path, name, pool.file(volume.name), mode=self._mode)
        except (manage.ManageError, OSError) as exc:
            raise cinder_exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason=str(exc)) from exc
        if volume_utils.extract_host(volume.host, "pool") is None:
            return {"host": volume_utils.append_host(volume.host, pool.name)}
        return None

    def unmanage(self, volume):
        LOG.info("Unmanaged volume %(id)s; its file %(name)s stays in place",
                 {"id": volume.id, "name": volume.name})

    def _manageable(self, known, snapshots, marker, limit, offset, sort_keys, sort_dirs):
        entries = []
        for pool in self.monitor.pools.values():
            if not pool.up:
                continue
            for entry in manage.list_manageable(pool.path, known, snapshots=snapshots):
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
