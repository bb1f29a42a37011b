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
"""Tests for cinder_ocfs2.driver, on Cinder's own unit-test base.

Pools are temporary directories presented as OCFS2 mounts through an
injected mountinfo reader; reflinks fall back to sparse copies there, which
is the same code path the driver takes on a filesystem without refcount.
"""

import logging
import os
import shutil
import tempfile
from unittest import mock

from cinder import exception as cinder_exception
from cinder import objects
from cinder.interface import volume_driver as vd_interface
from cinder.tests.unit import fake_constants as fake
from cinder.tests.unit import fake_snapshot, fake_volume, test
from cinder.volume import configuration as conf
from cinder.volume import driver as cinder_driver

from cinder_ocfs2 import cluster, driver, fsinfo, mountinfo, opts, reflink

GiB = 1024 ** 3
UUID1 = "2a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60718"
UUID2 = "0a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60719"
GROUP = "ocfs2test"


def _info(uuid, label, refcount=True):
    features = {"sparse", "unwritten"} | ({"refcount"} if refcount else set())
    return fsinfo.FsInfo(uuid=uuid, label=label, slots=4, block_size=4096,
                         cluster_size=4096, features=frozenset(features))


class TestCase(test.TestCase):
    """Cinder's TestCase, made runnable by pytest.

    Cinder's cleanup deletes every public instance attribute, including the
    test method pytest (>= 8) sets on the instance and deletes afterwards.
    """

    def _common_cleanup(self):
        method = self.__dict__.get(self._testMethodName)
        super()._common_cleanup()
        if method is not None:
            self.__dict__[self._testMethodName] = method


class OCFS2DriverTestCase(TestCase):

    def setUp(self):
        super().setUp()
        self.base = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.base, True)
        self.vol1 = os.path.join(self.base, "vol1")
        self.vol2 = os.path.join(self.base, "vol2")
        os.mkdir(self.vol1)
        os.mkdir(self.vol2)
        self.mounted = {self.vol1: _info(UUID1, "gold"), self.vol2: _info(UUID2, "")}
        self.read_only = set()
        self.cluster = cluster.ClusterState(registered=True, name="ocfs2lab",
                                            heartbeat_mode="local", local_node="node1")
        self.configuration = conf.Configuration(cinder_driver.volume_opts,
                                                config_group=GROUP)
        self.configuration.append_config_values(opts.ocfs2_opts)
        self.override_config("ocfs2_mount_point_base", self.base, group=GROUP)
        self.override_config("volume_backend_name", "ocfs2", group=GROUP)
        self.override_config("max_over_subscription_ratio", "2.0", group=GROUP)
        self.override_config("reserved_percentage", 5, group=GROUP)
        self.context = mock.sentinel.context
        self.drv = self._driver()

    def _driver(self):
        drv = driver.OCFS2Driver(configuration=self.configuration, host="node1@ocfs2")
        drv.monitor._read_mounts = self._mounts
        drv.monitor._query = lambda path: self.mounted[path]
        drv.monitor._read_cluster = drv._read_cluster
        self.read_state = self.mock_object(driver.cluster, "read_state",
                                           side_effect=lambda root: self.cluster)
        drv.do_setup(self.context)
        return drv

    def _mounts(self):
        lines = ["27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw"]
        for i, path in enumerate(sorted(self.mounted)):
            ro = "ro" if path in self.read_only else "rw"
            lines.append(f"{400 + i} 27 8:{16 * i} / {path} rw,relatime shared:{9 + i} - ocfs2 "
                         f"/dev/sd{'bcd'[i]} {ro},_netdev,heartbeat=local,errors=remount-ro")
        return mountinfo.parse("\n".join(lines))

    def _volume(self, pool="gold", size=1, **kw):
        kw.setdefault("id", fake.VOLUME_ID)
        return fake_volume.fake_volume_obj(self.context, host=f"node1@ocfs2#{pool}",
                                           size=size, volume_type_id=None, **kw)

    def _snapshot(self, volume, **kw):
        snap = fake_snapshot.fake_snapshot_obj(self.context, volume_id=volume.id,
                                               volume_size=volume.size, **kw)
        snap.volume = volume
        return snap

    def _write(self, path, data, offset=0):
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(data)

    def _read(self, path, n, offset=0):
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(n)

    # ---------------------------------------------------------------- basics
    def test_compliance(self):
        self.assertTrue(issubclass(driver.OCFS2Driver, vd_interface.VolumeDriverCore))

    def test_driver_options(self):
        names = {o.name for o in driver.OCFS2Driver.get_driver_options()}
        self.assertLessEqual({"ocfs2_mount_points", "ocfs2_mount_point_base",
                              "ocfs2_volume_mode", "ocfs2_connector_path_map",
                              "ocfs2_sparse_copy_fallback", "max_over_subscription_ratio",
                              "reserved_percentage", "image_volume_cache_enabled"}, names)
        [(group, listed)] = opts.list_opts()
        self.assertEqual("backend", group)
        self.assertEqual(len(opts.ocfs2_opts), len(listed))

    def test_setup_ok(self):
        self.drv.check_for_setup_error()
        self.assertEqual({"gold", "vol2"}, set(self.drv.monitor.pools))

    def test_setup_nothing_mounted(self):
        self.mounted.clear()
        shutil.rmtree(self.vol1)
        shutil.rmtree(self.vol2)
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self.drv.check_for_setup_error)
        self.assertIn("mount an OCFS2 filesystem there", str(exc))

    def test_setup_base_missing(self):
        self.override_config("ocfs2_mount_point_base", "/nonexistent/x", group=GROUP)
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self._driver().check_for_setup_error)
        self.assertIn("does not exist", str(exc))

    def test_setup_cluster_offline(self):
        self.cluster = cluster.ClusterState(
            registered=False, problem="o2cb cluster is not registered: run `o2cb "
                                      "register-cluster ocfs2lab`")
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self.drv.check_for_setup_error)
        self.assertIn("register-cluster", str(exc))

    def test_bad_mode(self):
        self.override_config("ocfs2_volume_mode", "0666", group=GROUP)
        self.assertRaises(cinder_exception.InvalidConfigurationValue, self._driver)

    # ---------------------------------------------------------------- stats
    def test_stats(self):
        path = os.path.join(self.vol1, "volume-" + fake.VOLUME_ID)
        with open(path, "wb") as f:
            f.truncate(3 * GiB)
        stats = self.drv.get_volume_stats(refresh=True)
        self.assertEqual("ocfs2", stats["volume_backend_name"])
        self.assertEqual("ocfs2", stats["storage_protocol"])
        pools = {p["pool_name"]: p for p in stats["pools"]}
        self.assertEqual({"gold", "vol2"}, set(pools))
        gold = pools["gold"]
        st = os.statvfs(self.vol1)
        self.assertAlmostEqual(st.f_blocks * st.f_frsize / GiB, gold["total_capacity_gb"],
                               delta=0.01)
        self.assertEqual(3.0, gold["provisioned_capacity_gb"])
        self.assertEqual(2.0, gold["max_over_subscription_ratio"])
        self.assertEqual(5, gold["reserved_percentage"])
        self.assertTrue(gold["thin_provisioning_support"])
        self.assertTrue(gold["thick_provisioning_support"])
        self.assertTrue(gold["multiattach"])
        self.assertFalse(gold["online_extend_support"])
        self.assertEqual(f"OCFS2Driver:ocfs2lab:{UUID1}:/", gold["location_info"])
        self.assertEqual("up", gold["backend_state"])

    def test_new_filesystem_becomes_pool_without_restart(self):
        self.drv.get_volume_stats(refresh=True)
        vol3 = os.path.join(self.base, "vol3")
        os.mkdir(vol3)
        self.mounted[vol3] = _info("1a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60710", "silver")
        pools = {p["pool_name"] for p in self.drv.get_volume_stats(refresh=True)["pools"]}
        self.assertIn("silver", pools)

    def test_vanished_filesystem_reported_down_and_logged_once(self):
        self.drv.get_volume_stats(refresh=True)
        del self.mounted[self.vol1]
        with self.assertLogs("cinder_ocfs2.filesystems", logging.WARNING) as logs:
            for _ in range(3):
                stats = self.drv.get_volume_stats(refresh=True)
        self.assertEqual(1, len(logs.records))
        gold = {p["pool_name"]: p for p in stats["pools"]}["gold"]
        self.assertEqual("down", gold["backend_state"])
        self.assertEqual(0, gold["free_capacity_gb"])
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self.drv.create_volume, self._volume())
        self.assertIn("no filesystem is mounted", str(exc))

    def test_scheduler_capacity_filter_skips_down_pool(self):
        from cinder.scheduler.filters import capacity_filter
        from cinder.tests.unit.scheduler import fakes

        self.drv.get_volume_stats(refresh=True)
        del self.mounted[self.vol1]
        pools = {p["pool_name"]: p for p in self.drv.get_volume_stats(refresh=True)["pools"]}
        props = {"size": 1, "request_spec": {"volume_id": fake.VOLUME_ID}}
        filt = capacity_filter.CapacityFilter()
        for name, passes in (("gold", False), ("vol2", True)):
            state = fakes.FakeBackendState(f"node1@ocfs2#{name}", {
                **pools[name], "updated_at": None, "service": {"disabled": False}})
            self.assertEqual(passes, filt.backend_passes(state, props), name)

    def test_read_only_filesystem_down(self):
        self.read_only.add(self.vol1)
        stats = self.drv.get_volume_stats(refresh=True)
        gold = {p["pool_name"]: p for p in stats["pools"]}["gold"]
        self.assertEqual("down", gold["backend_state"])
        self.assertIn("read-only", gold["backend_state_reason"])

    def test_cleans_old_orphans(self):
        orphan = os.path.join(self.vol1, ".tmp-volume-x-0123")
        fresh = os.path.join(self.vol1, ".tmp-volume-y-0123")
        for p in (orphan, fresh):
            open(p, "w").close()
        os.utime(orphan, (1, 1))
        self.drv.check_for_setup_error()
        self.assertFalse(os.path.exists(orphan))
        self.assertTrue(os.path.exists(fresh))

    # ---------------------------------------------------------------- volumes
    def test_create_thin(self):
        vol = self._volume(size=2)
        self.drv.create_volume(vol)
        path = os.path.join(self.vol1, vol.name)
        st = os.stat(path)
        self.assertEqual(2 * GiB, st.st_size)
        self.assertEqual(0o660, st.st_mode & 0o777)
        self.assertLess(st.st_blocks * 512, GiB)
        self.assertEqual(path, self.drv.local_path(vol))
        self.drv.create_volume(vol)  # idempotent

    def test_create_thick(self):
        vol = self._volume(size=1)
        self.mock_object(self.drv, "_extra_specs",
                         return_value={"provisioning:type": "thick"})
        with mock.patch("os.posix_fallocate") as fallocate:
            self.drv.create_volume(vol)
        fallocate.assert_called_once_with(mock.ANY, 0, GiB)

    def test_create_on_named_pool_uses_name_id(self):
        vol = self._volume(pool="vol2", _name_id=fake.VOLUME2_ID)
        self.drv.create_volume(vol)
        self.assertTrue(os.path.isfile(os.path.join(self.vol2, "volume-" + fake.VOLUME2_ID)))

    def test_unknown_pool(self):
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self.drv.create_volume, self._volume(pool="nope"))
        self.assertIn("no OCFS2 pool named 'nope'", str(exc))

    def test_delete(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self.drv.delete_volume(vol)
        self.assertFalse(os.path.exists(os.path.join(self.vol1, vol.name)))
        self.drv.delete_volume(vol)  # missing is fine

    def test_extend(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self.drv.extend_volume(vol, 3)
        self.assertEqual(3 * GiB, os.path.getsize(self.drv.local_path(vol)))

    def test_initialize_connection(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        info = self.drv.initialize_connection(vol, {"host": "compute1"})
        self.assertEqual({"driver_volume_type": "gpfs",
                          "data": {"device_path": os.path.join(self.vol1, vol.name),
                                   "name": vol.name, "access_mode": "rw"}}, info)
        self.drv.terminate_connection(vol, None)  # force detach

    def test_initialize_connection_path_map(self):
        self.override_config("ocfs2_connector_path_map", {self.base: "/var/opt/mnt/ocfs2"},
                             group=GROUP)
        vol = self._volume()
        self.drv.create_volume(vol)
        info = self.drv.initialize_connection(vol, {})
        self.assertEqual("/var/opt/mnt/ocfs2/vol1/" + vol.name, info["data"]["device_path"])

    def test_initialize_connection_missing_file(self):
        self.assertRaises(cinder_exception.VolumeBackendAPIException,
                          self.drv.initialize_connection, self._volume(), {})

    # ---------------------------------------------------------------- data services
    def test_snapshot_clone_revert(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        path = self.drv.local_path(vol)
        self._write(path, b"before", 4096)
        snap = self._snapshot(vol)
        self.drv.create_snapshot(snap)
        snap_path = os.path.join(self.vol1, snap.name)
        self.assertEqual(0o440, os.stat(snap_path).st_mode & 0o777)
        self._write(path, b"after!", 4096)
        self.assertEqual(b"before", self._read(snap_path, 6, 4096))

        clone = self._volume(id=fake.VOLUME2_ID, size=2)
        self.drv.create_volume_from_snapshot(clone, snap)
        clone_path = self.drv.local_path(clone)
        self.assertEqual(2 * GiB, os.path.getsize(clone_path))
        self.assertEqual(b"before", self._read(clone_path, 6, 4096))

        copy = self._volume(id=fake.VOLUME3_ID, pool="vol2")
        self.drv.create_cloned_volume(copy, vol)  # other filesystem: sparse copy
        self.assertEqual(b"after!", self._read(self.drv.local_path(copy), 6, 4096))

        self.drv.revert_to_snapshot(self.context, vol, snap)
        self.assertEqual(b"before", self._read(path, 6, 4096))
        self.assertEqual(GiB, os.path.getsize(path))

        self.drv.delete_snapshot(snap)
        self.assertFalse(os.path.exists(snap_path))
        self.drv.delete_snapshot(snap)

    def test_clone_uses_reflink_on_same_refcount_fs(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        with mock.patch.object(driver.reflink, "copy", return_value="reflink") as copy:
            self.drv.create_cloned_volume(self._volume(id=fake.VOLUME2_ID, size=3), vol)
        copy.assert_called_once_with(
            os.path.join(self.vol1, vol.name),
            os.path.join(self.vol1, "volume-" + fake.VOLUME2_ID),
            allow_fallback=True, size=3 * GiB, mode=0o660)

    def test_no_refcount_sparse_copy_or_refuse(self):
        self.mounted[self.vol1] = _info(UUID1, "gold", refcount=False)
        vol = self._volume()
        self.drv.create_volume(vol)
        with mock.patch.object(driver.reflink, "clone_atomic") as clone:
            self.drv.create_snapshot(self._snapshot(vol))
        clone.assert_not_called()
        stats = self.drv.get_volume_stats(refresh=True)
        self.assertFalse({p["pool_name"]: p for p in stats["pools"]}["gold"]["ocfs2_reflink"])
        self.override_config("ocfs2_sparse_copy_fallback", False, group=GROUP)
        self.assertRaises(cinder_exception.VolumeBackendAPIException,
                          self.drv.create_cloned_volume,
                          self._volume(id=fake.VOLUME2_ID), vol)

    def test_snapshot_connection_read_only(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        snap = self._snapshot(vol)
        self.drv.create_snapshot(snap)
        info = self.drv.initialize_connection_snapshot(snap, {})
        self.assertEqual("ro", info["data"]["access_mode"])
        self.assertEqual(os.path.join(self.vol1, snap.name), info["data"]["device_path"])

    def test_copy_image_to_volume(self):
        vol = self._volume(size=2)
        self.drv.create_volume(vol)

        def fetch(ctx, svc, image_id, dest, blocksize, **kw):
            self.assertTrue(os.path.basename(dest).startswith(".tmp-" + vol.name))
            self.assertFalse(kw["run_as_root"])
            with open(dest, "wb") as f:
                f.write(b"IMAGE")

        with mock.patch.object(driver.image_utils, "fetch_to_raw", side_effect=fetch):
            self.drv.copy_image_to_volume(self.context, vol, mock.Mock(), fake.IMAGE_ID)
        path = self.drv.local_path(vol)
        self.assertEqual(b"IMAGE", self._read(path, 5))
        self.assertEqual(2 * GiB, os.path.getsize(path))
        self.assertEqual(0o660, os.stat(path).st_mode & 0o777)
        self.assertEqual([vol.name], os.listdir(self.vol1))

    def test_copy_image_failure_leaves_no_temp(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        with mock.patch.object(driver.image_utils, "fetch_to_raw",
                               side_effect=OSError("boom")):
            self.assertRaises(cinder_exception.VolumeBackendAPIException,
                              self.drv.copy_image_to_volume, self.context, vol,
                              mock.Mock(), fake.IMAGE_ID)
        self.assertEqual([vol.name], os.listdir(self.vol1))

    def test_copy_volume_to_image_from_point_in_time_copy(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"DATA")
        seen = {}

        def upload(ctx, svc, meta, path, volume, run_as_root):
            seen["path"] = path
            seen["data"] = self._read(path, 4)

        for fmt in ("raw", "qcow2"):
            with mock.patch.object(driver.volume_utils, "upload_volume", side_effect=upload):
                self.drv.copy_volume_to_image(self.context, vol, mock.Mock(),
                                              {"id": fake.IMAGE_ID, "disk_format": fmt})
            self.assertEqual(b"DATA", seen["data"])
            self.assertNotEqual(self.drv.local_path(vol), seen["path"])
            self.assertEqual([vol.name], os.listdir(self.vol1))

    def test_clone_image_fast_path(self):
        images = os.path.join(self.vol1, "glance-images")
        os.mkdir(images)
        image = os.path.join(images, fake.IMAGE_ID)
        with open(image, "wb") as f:
            f.write(b"RAWIMAGE")
        vol = self._volume(size=1)
        self.drv.get_volume_stats(refresh=True)
        with mock.patch.object(reflink, "clone_atomic") as clone:
            update, cloned = self.drv.clone_image(
                self.context, vol, ("file://" + image, None), {"disk_format": "raw"},
                mock.Mock())
        self.assertTrue(cloned)
        clone.assert_called_once_with(image, os.path.join(self.vol1, vol.name),
                                      size=GiB, mode=0o660)

    def test_clone_image_not_applicable(self):
        vol = self._volume()
        cases = [(("file:///elsewhere/img", None), {"disk_format": "raw"}),
                 (("rbd://pool/img", None), {"disk_format": "raw"}),
                 (("file://" + os.path.join(self.vol1, "x"), None), {"disk_format": "qcow2"})]
        for location, meta in cases:
            self.assertEqual((None, False), self.drv.clone_image(
                self.context, vol, location, meta, mock.Mock()))

    def test_migrate_same_filesystem(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self.drv.get_volume_stats(refresh=True)
        host = {"host": "node2@ocfs2#gold",
                "capabilities": {"location_info": f"OCFS2Driver:ocfs2lab:{UUID1}:/"}}
        self.assertEqual((True, None), self.drv.migrate_volume(self.context, vol, host))
        self.assertTrue(os.path.exists(os.path.join(self.vol1, vol.name)))

    def test_migrate_other_filesystem(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"DATA")
        self.drv.get_volume_stats(refresh=True)
        host = {"host": "node1@ocfs2#vol2",
                "capabilities": {"location_info": f"OCFS2Driver:ocfs2lab:{UUID2}:/"}}
        self.assertEqual((True, None), self.drv.migrate_volume(self.context, vol, host))
        self.assertFalse(os.path.exists(os.path.join(self.vol1, vol.name)))
        self.assertEqual(b"DATA", self._read(os.path.join(self.vol2, vol.name), 4))

    def test_migrate_to_another_backends_filesystem(self):
        # Backend ocfs2b mounts its filesystem outside our base: not our pool, but it is
        # mounted on this node, so the move is native (one sparse copy).
        other = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, other, True)
        uuid3 = "33333333-3333-4333-8333-333333333333"
        self.mounted[other] = _info(uuid3, "labb")
        vol = self._volume()
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"DATA")
        self.drv.get_volume_stats(refresh=True)
        self.assertNotIn("labb", self.drv.monitor.pools)
        host = {"host": "node1@ocfs2b#labb",
                "capabilities": {"location_info": f"OCFS2Driver:ocfs2lab:{uuid3}:/"}}
        self.assertEqual((True, None), self.drv.migrate_volume(self.context, vol, host))
        self.assertFalse(os.path.exists(os.path.join(self.vol1, vol.name)))
        self.assertEqual(b"DATA", self._read(os.path.join(other, vol.name), 4))
        self.assertNotIn("labb", self.drv.monitor.pools)

    def test_migrate_elsewhere_is_generic(self):
        vol = self._volume()
        self.drv.get_volume_stats(refresh=True)
        for info in ("LVMVolumeDriver:x:y:z", f"OCFS2Driver:othercluster:{UUID1}:/",
                     "OCFS2Driver:ocfs2lab:ffffffff-0000-0000-0000-000000000000:/"):
            host = {"host": "x@y#z", "capabilities": {"location_info": info}}
            self.assertEqual((False, None), self.drv.migrate_volume(self.context, vol, host))

    def test_retype(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        with mock.patch("os.posix_fallocate") as fallocate:
            self.assertTrue(self.drv.retype(
                self.context, vol, {"extra_specs": {"provisioning:type": "thick"}}, {},
                {"host": "node1@ocfs2#gold"}))
        fallocate.assert_called_once_with(mock.ANY, 0, GiB)
        self.assertFalse(self.drv.retype(self.context, vol, {}, {},
                                         {"host": "node1@ocfs2#vol2"}))

    def test_retype_active_active_other_node(self):
        # The scheduler may name another node of the volume's cluster, same pool.
        vol = self._volume(cluster_name="aa@ocfs2#gold")
        self.drv.create_volume(vol)
        host = {"host": "node2@ocfs2#gold", "cluster_name": "aa@ocfs2#gold"}
        self.assertTrue(self.drv.retype(self.context, vol, {}, {}, host))
        host = {"host": "node2@ocfs2#gold", "cluster_name": "other@ocfs2#gold"}
        self.assertFalse(self.drv.retype(self.context, vol, {}, {}, host))

    def test_detach_restores_a_truncated_file(self):
        # cinder-backup restores with open(path, "wb") and writes only non-zero chunks.
        vol = self._volume()
        self.drv.create_volume(vol)
        path = self.drv.local_path(vol)
        with open(path, "wb") as f:
            f.write(b"RESTORED")
        self.drv.remove_export(self.context, vol)
        self.assertEqual(GiB, os.path.getsize(path))
        self.assertEqual(b"RESTORED", self._read(path, 8))
        os.truncate(path, 4096)
        self.drv.terminate_connection(vol, None)
        self.assertEqual(GiB, os.path.getsize(path))
        # A missing file or pool never fails a detach.
        os.unlink(path)
        self.drv.terminate_connection(vol, None)
        self.drv.remove_export(self.context, self._volume(pool="nope"))

    def test_manage_existing(self):
        legacy = os.path.join(self.vol1, "old-disk.raw")
        with open(legacy, "wb") as f:
            f.truncate(GiB + 1)
        vol = self._volume()
        ref = {"source-name": "old-disk.raw"}
        self.assertEqual(2, self.drv.manage_existing_get_size(vol, ref))
        self.drv.manage_existing(vol, ref)
        path = os.path.join(self.vol1, vol.name)
        self.assertEqual(2 * GiB, os.path.getsize(path))
        self.assertEqual(0o660, os.stat(path).st_mode & 0o777)
        self.assertFalse(os.path.exists(legacy))
        self.drv.unmanage(vol)
        self.assertTrue(os.path.exists(path))

    def test_manage_for_a_cluster_finds_the_pool(self):
        # `cinder manage --cluster ...`: the volume's host carries no pool.
        with open(os.path.join(self.vol2, "old-disk.raw"), "wb") as f:
            f.truncate(GiB)
        self.drv.get_volume_stats(refresh=True)
        vol = fake_volume.fake_volume_obj(self.context, host="node1@ocfs2", size=1,
                                          id=fake.VOLUME_ID, volume_type_id=None)
        ref = {"source-name": "old-disk.raw"}
        self.assertEqual(1, self.drv.manage_existing_get_size(vol, ref))
        self.assertEqual({"host": "node1@ocfs2#vol2"}, self.drv.manage_existing(vol, ref))
        self.assertTrue(os.path.exists(os.path.join(self.vol2, vol.name)))
        # Not in any pool, or in several: refused, saying which.
        exc = self.assertRaises(cinder_exception.ManageExistingInvalidReference,
                                self.drv.manage_existing_get_size, vol, {"source-name": "nope"})
        self.assertIn("not in any pool", str(exc))
        for pool in (self.vol1, self.vol2):
            with open(os.path.join(pool, "twice.raw"), "wb") as f:
                f.truncate(GiB)
        exc = self.assertRaises(cinder_exception.ManageExistingInvalidReference,
                                self.drv.manage_existing_get_size, vol,
                                {"source-name": "twice.raw"})
        self.assertIn("several pools (gold, vol2)", str(exc))

    def test_manage_rejects_outside_and_symlinks(self):
        os.symlink("/etc/passwd", os.path.join(self.vol1, "link"))
        vol = self._volume()
        for name in ("../vol2/x", "link", "/etc/passwd", None):
            self.assertRaises(cinder_exception.ManageExistingInvalidReference,
                              self.drv.manage_existing_get_size, vol, {"source-name": name})

    def test_manageable_volumes_and_snapshots(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        snap = self._snapshot(vol)
        self.drv.create_snapshot(snap)
        with open(os.path.join(self.vol1, "loose.img"), "wb") as f:
            f.truncate(GiB)
        self.drv.get_volume_stats(refresh=True)
        entries = self.drv.get_manageable_volumes([vol], None, 100, 0, ["size"], ["asc"])
        by_name = {e["reference"]["source-name"]: e for e in entries}
        self.assertTrue(by_name["loose.img"]["safe_to_manage"])
        self.assertFalse(by_name[vol.name]["safe_to_manage"])
        self.assertEqual(vol.id, by_name[vol.name]["cinder_id"])
        self.assertNotIn(snap.name, by_name)
        snaps = self.drv.get_manageable_snapshots([snap], None, 100, 0, ["size"], ["asc"])
        self.assertEqual([snap.name], [e["reference"]["source-name"] for e in snaps])
        # The volume manager turns the entries into Cinder objects: the fields must fit
        # (extra_info is a dict of strings; a str here failed in the real deployment).
        listed = objects.ManageableVolumeList.from_primitives(self.context, entries)
        self.assertTrue(all(e.extra_info["pool"] for e in listed))
        objects.ManageableSnapshotList.from_primitives(self.context, snaps)
