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

import errno
import glob
import logging
import os
import shutil
import tempfile
import threading
import time
from unittest import mock

from cinder import exception as cinder_exception
from cinder import objects
from cinder.interface import volume_driver as vd_interface
from cinder.tests.unit import fake_constants as fake
from cinder.tests.unit import fake_snapshot, fake_volume, test
from cinder.volume import configuration as conf
from cinder.volume import driver as cinder_driver

from cinder_ocfs2 import capacity, cluster, driver, fsinfo, mountinfo, opts, reflink, volumes

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


class DriverFixture(TestCase):
    """Two temporary pools (gold: refcount, vol2) and a driver serving them."""

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
        self.roots = {}  # mount point -> subtree of the filesystem mounted there
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

    def _driver(self, cluster_name: str | None = None):
        drv = driver.OCFS2Driver(configuration=self.configuration, host="node1@ocfs2",
                                 cluster_name=cluster_name)
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
            root = self.roots.get(path, "/")
            lines.append(f"{400 + i} 27 8:{16 * i} {root} {path} rw,relatime shared:{9 + i} "
                         f"- ocfs2 /dev/sd{'bcd'[i]} {ro},_netdev,heartbeat=local,"
                         "errors=remount-ro")
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



class OCFS2DriverTestCase(DriverFixture):

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
        orphan = os.path.join(self.vol1, ".tmp-volume-x-0123456789ab")
        fresh = os.path.join(self.vol1, ".tmp-volume-y-0123456789ab")
        for p in (orphan, fresh):
            open(p, "w").close()
        os.utime(orphan, (1, 1))
        self.drv.check_for_setup_error()
        self.assertFalse(os.path.exists(orphan))
        self.assertTrue(os.path.exists(fresh))

    def test_a_build_its_own_restart_interrupted_goes_at_a_stats_refresh_after_the_grace(self):
        # Regression (fault scenario 7): the service is killed mid-snapshot and restarted
        # within the grace; its setup sweep must keep the young temp file, and a later
        # stats refresh (not the hourly sweep) must remove it once the grace is over.
        killed = os.path.join(self.vol1, ".tmp-snapshot-x-0123456789ab")
        open(killed, "w").close()
        self.drv.check_for_setup_error()
        self.assertTrue(os.path.exists(killed))
        self.drv.get_volume_stats(refresh=True)
        self.assertTrue(os.path.exists(killed))
        past = time.time() - volumes.ORPHAN_GRACE - 5
        os.utime(killed, (past, past))
        self.drv.get_volume_stats(refresh=True)
        self.assertFalse(os.path.exists(killed))
        # Nothing left to wait for: back to the hourly sweep.
        with mock.patch.object(driver.volumes, "cleanup_orphans") as sweep:
            self.drv.get_volume_stats(refresh=True)
        sweep.assert_not_called()

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

    def test_unknown_provisioning_type_is_refused_and_nothing_is_made(self):
        vol = self._volume(size=1)
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thik"})
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self.drv.create_volume, vol)
        self.assertIn("provisioning:type='thik'", str(exc))
        self.assertIn("openstack volume type set", str(exc))
        self.assertEqual([], os.listdir(self.vol1))
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException, self.drv.retype,
                                self.context, vol, {"id": "t", "extra_specs": {
                                    "provisioning:type": "fat"}}, {}, {"host": vol.host})
        self.assertIn("'fat'", str(exc))

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

    def test_extend_of_a_volume_attached_to_a_server_is_refused_before_the_file_grows(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        vol.attach_status = "attached"
        vol.volume_attachment = objects.VolumeAttachmentList(objects=[
            objects.VolumeAttachment(instance_uuid=fake.INSTANCE_ID, attach_status="attached")])
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self.drv.extend_volume, vol, 3)
        self.assertIn(f"attached to server {fake.INSTANCE_ID}", str(exc))
        self.assertIn("volume:extend_attached_volume", str(exc))
        self.assertEqual(GiB, os.path.getsize(self.drv.local_path(vol)))

    def test_extend_of_a_volume_attached_without_a_server_grows_it(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        vol.attach_status = "attached"
        vol.volume_attachment = objects.VolumeAttachmentList(objects=[
            objects.VolumeAttachment(instance_uuid=None, attach_status="attached"),
            objects.VolumeAttachment(instance_uuid=fake.INSTANCE_ID, attach_status="detached")])
        self.drv.extend_volume(vol, 3)
        self.assertEqual(3 * GiB, os.path.getsize(self.drv.local_path(vol)))

    def test_extend_of_a_detached_volume_reads_no_attachments(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        with mock.patch.object(type(vol), "obj_load_attr") as load:
            self.drv.extend_volume(vol, 2)
        load.assert_not_called()
        self.assertEqual(2 * GiB, os.path.getsize(self.drv.local_path(vol)))

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

    def test_clone_across_filesystems_is_qemu_img_convert(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        path = self.drv.local_path(vol)
        self._write(path, b"data at 300 MiB", 300 * 1024 * 1024)
        copy = self._volume(id=fake.VOLUME2_ID, pool="vol2", size=2)
        with mock.patch.object(driver.reflink, "sparse_copy") as sparse, \
                mock.patch.object(driver.executor, "run",
                                  wraps=driver.executor.run) as run:
            self.drv.create_cloned_volume(copy, vol)
        sparse.assert_not_called()
        argv = run.call_args.args[0]
        self.assertEqual(["qemu-img", "convert", "-f", "raw", "-O", "raw"], argv[:6])
        self.assertEqual(path, argv[-2])
        self.assertIsNone(run.call_args.kwargs["timeout"])
        dst = self.drv.local_path(copy)
        self.assertEqual(b"data at 300 MiB", self._read(dst, 15, 300 * 1024 * 1024))
        st = os.stat(dst)
        self.assertEqual(2 * GiB, st.st_size)  # grown to the new volume's size
        self.assertEqual(0o660, st.st_mode & 0o777)
        self.assertLess(st.st_blocks * 512, 16 * 1024 * 1024)  # the holes stayed holes
        self.assertEqual([copy.name], os.listdir(self.vol2))  # no temp file left

    def test_failed_convert_leaves_nothing_and_says_why(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        copy = self._volume(id=fake.VOLUME2_ID, pool="vol2")
        err = driver.executor.CommandError(["qemu-img"], 1, stderr="qemu-img: error while "
                                           "writing at byte 0: Input/output error")
        with mock.patch.object(driver.executor, "run", side_effect=err):
            exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                    self.drv.create_cloned_volume, copy, vol)
        self.assertIn("Input/output error", str(exc))
        self.assertEqual([], os.listdir(self.vol2))

    def test_clone_uses_reflink_on_same_refcount_fs(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        with mock.patch.object(driver.reflink, "clone_atomic") as clone, \
                mock.patch.object(driver.reflink, "sparse_copy") as sparse:
            update = self.drv.create_cloned_volume(self._volume(id=fake.VOLUME2_ID, size=3),
                                                   vol)
        clone.assert_called_once_with(
            os.path.join(self.vol1, vol.name),
            os.path.join(self.vol1, "volume-" + fake.VOLUME2_ID), size=3 * GiB, mode=0o660)
        sparse.assert_not_called()
        self.assertEqual({"provider_id": UUID1}, update)

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

    def test_copy_image_to_a_full_pool_names_the_pool(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        full = cinder_exception.ImageUnacceptable(
            image_id=fake.IMAGE_ID,
            reason="qemu-img: error while writing at byte 0: No space left on device")
        with mock.patch.object(driver.image_utils, "fetch_to_raw", side_effect=full):
            exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                    self.drv.copy_image_to_volume, self.context, vol,
                                    mock.Mock(), fake.IMAGE_ID)
        self.assertIn("OCFS2 pool gold is full", str(exc))
        self.assertEqual([vol.name], os.listdir(self.vol1))

    def test_copy_volume_to_image_attached_from_point_in_time_copy(self):
        vol = self._volume(status="in-use", attach_status="attached")
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"DATA")
        seen = {}

        def upload(ctx, svc, meta, path, volume, run_as_root):
            seen["path"] = path
            seen["data"] = self._read(path, 4)

        def reflink_copy(src, dst, **kw):  # what FICLONE does, on any test disk
            shutil.copyfile(src, dst)

        for fmt in ("raw", "qcow2"):
            with mock.patch.object(driver.volume_utils, "upload_volume", side_effect=upload), \
                    mock.patch.object(reflink, "clone_atomic", side_effect=reflink_copy):
                self.drv.copy_volume_to_image(self.context, vol, mock.Mock(),
                                              {"id": fake.IMAGE_ID, "disk_format": fmt})
            self.assertEqual(b"DATA", seen["data"])
            self.assertNotEqual(self.drv.local_path(vol), seen["path"])
            self.assertEqual([vol.name], os.listdir(self.vol1))

    def test_clone_image_fast_path(self):
        images = self._glance_dir()
        image = os.path.join(images, fake.IMAGE_ID)
        with open(image, "wb") as f:
            f.write(b"RAWIMAGE")
        vol = self._volume(size=1)
        with mock.patch.object(reflink, "clone_atomic") as clone, \
                mock.patch.object(driver.image_utils, "qemu_img_info",
                                  return_value=self._raw_info()):
            update, cloned = self.drv.clone_image(
                self.context, vol, ("file://" + image, None),
                {"id": fake.IMAGE_ID, "disk_format": "raw"}, mock.Mock())
        self.assertTrue(cloned)
        self.assertEqual({"provider_id": UUID1}, update)
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
        self.assertEqual((True, {"provider_id": UUID1}),
                         self.drv.migrate_volume(self.context, vol, host))
        self.assertTrue(os.path.exists(os.path.join(self.vol1, vol.name)))

    def test_migrate_other_filesystem(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"DATA")
        self.drv.get_volume_stats(refresh=True)
        host = {"host": "node1@ocfs2#vol2",
                "capabilities": {"location_info": f"OCFS2Driver:ocfs2lab:{UUID2}:/"}}
        self.assertEqual((True, {"provider_id": UUID2}),
                         self.drv.migrate_volume(self.context, vol, host))
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
        self.assertEqual((True, {"provider_id": uuid3}),
                         self.drv.migrate_volume(self.context, vol, host))
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
            retyped, update = self.drv.retype(
                self.context, vol, {"extra_specs": {"provisioning:type": "thick"}}, {},
                {"host": "node1@ocfs2#gold"})
        self.assertTrue(retyped)
        self.assertEqual(vol.host, update["host"])
        fallocate.assert_called_once_with(mock.ANY, 0, GiB)
        self.assertFalse(self.drv.retype(self.context, vol, {}, {},
                                         {"host": "node1@ocfs2#vol2"}))

    def test_retype_active_active_other_node(self):
        # The scheduler may name another node of the volume's cluster, same pool.
        vol = self._volume(cluster_name="aa@ocfs2#gold")
        self.drv.create_volume(vol)
        host = {"host": "node2@ocfs2#gold", "cluster_name": "aa@ocfs2#gold"}
        # In place: the volume keeps its host rather than taking the reporting node's.
        self.assertEqual((True, {"host": vol.host, "cluster_name": "aa@ocfs2#gold"}),
                         self.drv.retype(self.context, vol, {}, {}, host))
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
        self.assertEqual({"host": "node1@ocfs2#vol2", "provider_id": UUID2},
                         self.drv.manage_existing(vol, ref))
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

    # ------------------------------------------------------------ hardening (issue 11)
    def _db_volume(self, **kw):
        from cinder import context as cinder_context
        from cinder.tests.unit import utils as test_utils
        return test_utils.create_volume(cinder_context.get_admin_context(), **kw)

    def _raw_file(self, path, size=GiB, data=b""):
        with open(path, "wb") as f:
            f.write(data)
            f.truncate(size)

    def _sha(self, path):
        import hashlib
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def test_manage_refuses_files_of_existing_volumes_and_snapshots(self):
        victim = self._db_volume(host="node1@ocfs2#gold")
        victim_file = os.path.join(self.vol1, "volume-" + victim.id)
        self._raw_file(victim_file, data=b"TENANT-A")
        snap_owner = self._db_volume(host="node1@ocfs2#gold")
        from cinder import context as cinder_context
        from cinder.tests.unit import utils as test_utils
        snap = test_utils.create_snapshot(cinder_context.get_admin_context(), snap_owner.id)
        snap_file = os.path.join(self.vol1, "snapshot-" + snap.id)
        self._raw_file(snap_file, data=b"SNAP")
        before = self._sha(victim_file)
        newvol = self._volume(id=fake.VOLUME5_ID)
        ref = {"source-name": os.path.basename(victim_file)}
        for call in (self.drv.manage_existing_get_size, self.drv.manage_existing):
            self.assertRaises(cinder_exception.ManageExistingAlreadyManaged, call, newvol, ref)
            exc = self.assertRaises(cinder_exception.ManageExistingInvalidReference, call,
                                    newvol, {"source-name": os.path.basename(snap_file)})
            self.assertIn(f"snapshot {snap.id}", str(exc))
        self.assertEqual(before, self._sha(victim_file))
        self.assertTrue(os.path.exists(snap_file))
        self.assertFalse(os.path.exists(os.path.join(self.vol1, newvol.name)))

    def test_manage_allows_the_file_of_an_unmanaged_volume(self):
        # Tempest: create, unmanage (the DB row goes), manage volume-<old id> again.
        gone = "4f5c8a1e-3b2d-4c6e-9a7b-1d2e3f405162"
        self._raw_file(os.path.join(self.vol1, "volume-" + gone))
        vol = self._volume()
        self.assertEqual(1, self.drv.manage_existing_get_size(vol, {"source-name":
                                                                    "volume-" + gone}))
        update = self.drv.manage_existing(vol, {"source-name": "volume-" + gone})
        self.assertEqual(UUID1, update["provider_id"])
        self.assertTrue(os.path.exists(os.path.join(self.vol1, vol.name)))

    def test_manageable_asks_the_db_only_for_files_cinder_did_not_name(self):
        vols = [self._volume(id=i) for i in (fake.VOLUME_ID, fake.VOLUME2_ID)]
        for vol in vols:
            self.drv.create_volume(vol)
        self._raw_file(os.path.join(self.vol1, "volume-" + fake.VOLUME3_ID))
        self.drv.get_volume_stats(refresh=True)
        with mock.patch.object(self.drv, "_owner", return_value=None) as owner:
            entries = self.drv.get_manageable_volumes(vols, None, 100, 0, ["size"], ["asc"])
        owner.assert_called_once_with("volume-" + fake.VOLUME3_ID)
        self.assertEqual(3, len(entries))

    def test_manageable_lists_another_backends_volumes_as_not_safe(self):
        other = self._db_volume(host="node1@ocfs2b#gold")  # another backend, same filesystem
        self._raw_file(os.path.join(self.vol1, "volume-" + other.id))
        self.drv.get_volume_stats(refresh=True)
        entries = self.drv.get_manageable_volumes([], None, 100, 0, ["size"], ["asc"])
        [entry] = [e for e in entries if e["reference"]["source-name"] == "volume-" + other.id]
        self.assertFalse(entry["safe_to_manage"])
        self.assertIn(other.id, entry["reason_not_safe"])
        self.assertEqual(other.id, entry["cinder_id"])

    def test_manage_finishes_a_crash_between_link_and_unlink(self):
        legacy = os.path.join(self.vol1, "old-disk.raw")
        self._raw_file(legacy, data=b"LEGACY")
        vol = self._volume()
        os.link(legacy, os.path.join(self.vol1, vol.name))  # crashed right after the link
        ref = {"source-name": "old-disk.raw"}
        self.assertEqual(1, self.drv.manage_existing_get_size(vol, ref))
        self.drv.manage_existing(vol, ref)
        self.assertFalse(os.path.exists(legacy))
        path = os.path.join(self.vol1, vol.name)
        self.assertEqual(1, os.stat(path).st_nlink)
        self.assertEqual(b"LEGACY", self._read(path, 6))

    def test_manage_error_is_translated(self):
        with open(os.path.join(self.vol1, "disk.qcow2"), "wb") as f:
            f.write(b"QFI\xfb\x00\x00\x00\x03" + bytes(504))
        exc = self.assertRaises(cinder_exception.ManageExistingInvalidReference,
                                self.drv.manage_existing_get_size, self._volume(),
                                {"source-name": "disk.qcow2"})
        self.assertIn("qemu-img convert", str(exc))

    def test_manage_existing_snapshot(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"POINT-IN-TIME")
        old = self._snapshot(vol, id=fake.SNAPSHOT2_ID)
        self.drv.create_snapshot(old)
        self.drv.unmanage_snapshot(old)  # the file stays, its DB row goes
        snap = self._snapshot(vol, id=fake.SNAPSHOT3_ID)
        ref = {"source-name": old.name}
        self.assertEqual(1, self.drv.manage_existing_snapshot_get_size(snap, ref))
        self.drv.manage_existing_snapshot(snap, ref)
        path = os.path.join(self.vol1, snap.name)
        self.assertFalse(os.path.exists(os.path.join(self.vol1, old.name)))
        self.assertEqual(b"POINT-IN-TIME", self._read(path, 13))
        self.assertEqual(0o440, os.stat(path).st_mode & 0o777)
        # A snapshot file of another volume is refused.
        other = self._volume(id=fake.VOLUME2_ID)
        self.drv.create_volume(other)
        exc = self.assertRaises(cinder_exception.ManageExistingInvalidReference,
                                self.drv.manage_existing_snapshot_get_size,
                                self._snapshot(other, id=fake.SNAPSHOT_ID),
                                {"source-name": snap.name})
        self.assertIn("not of volume", str(exc))

    # clone_image: only <ocfs2_images_dir>/<image id>, only real raw
    def _glance_dir(self):
        images = os.path.join(self.vol1, "glance-images")
        os.makedirs(images, exist_ok=True)
        self.override_config("ocfs2_images_dir", images, group=GROUP)
        self.drv.get_volume_stats(refresh=True)
        return images

    def _raw_info(self, fmt="raw", size=8, backing=None):
        return mock.Mock(file_format=fmt, virtual_size=size, backing_file=backing)

    def test_clone_image_refuses_volume_files(self):
        images = self._glance_dir()
        victim = self._volume(id=fake.VOLUME2_ID)
        self.drv.create_volume(victim)
        self._write(self.drv.local_path(victim), b"SECRET")
        vol = self._volume()
        locations = ["file://" + self.drv.local_path(victim),
                     "file://" + os.path.join(images, "..", victim.name)]
        os.symlink(self.drv.local_path(victim), os.path.join(images, fake.IMAGE_ID))
        locations.append("file://" + os.path.join(images, fake.IMAGE_ID))
        with mock.patch.object(driver.image_utils, "qemu_img_info",
                               return_value=self._raw_info()):
            for location in locations:
                for image_id in (fake.IMAGE_ID, victim.name):
                    self.assertEqual((None, False), self.drv.clone_image(
                        self.context, vol, (location, None),
                        {"id": image_id, "disk_format": "raw"}, mock.Mock()))
        self.assertFalse(os.path.exists(os.path.join(self.vol1, vol.name)))

    def test_clone_image_checks_the_real_format(self):
        images = self._glance_dir()
        image = os.path.join(images, fake.IMAGE_ID)
        self._raw_file(image, size=4096, data=b"QFI\xfb")
        vol = self._volume()
        with mock.patch.object(driver.image_utils, "qemu_img_info",
                               return_value=self._raw_info("qcow2")) as info:
            self.assertEqual((None, False), self.drv.clone_image(
                self.context, vol, ("file://" + image, None),
                {"id": fake.IMAGE_ID, "disk_format": "raw"}, mock.Mock()))
        info.assert_called_once_with(image, run_as_root=False)
        self.assertFalse(os.path.exists(os.path.join(self.vol1, vol.name)))

    def test_clone_image_failure_falls_back_to_download(self):
        images = self._glance_dir()
        image = os.path.join(images, fake.IMAGE_ID)
        self._raw_file(image, size=4096, data=b"RAW")
        vol = self._volume()
        meta = {"id": fake.IMAGE_ID, "disk_format": "raw"}
        for err in (PermissionError(13, "EACCES"), OSError(28, "ENOSPC"),
                    FileNotFoundError(2, "gone")):
            with mock.patch.object(driver.image_utils, "qemu_img_info",
                                   return_value=self._raw_info()), \
                    mock.patch.object(reflink, "clone_atomic", side_effect=err):
                self.assertEqual((None, False), self.drv.clone_image(
                    self.context, vol, ("file://" + image, None), meta, mock.Mock()))

    def test_clone_image_thick(self):
        images = self._glance_dir()
        image = os.path.join(images, fake.IMAGE_ID)
        self._raw_file(image, size=4096, data=b"RAW")
        vol = self._volume()
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thick"})
        with mock.patch.object(driver.image_utils, "qemu_img_info",
                               return_value=self._raw_info()), \
                mock.patch.object(reflink, "clone_atomic"), \
                mock.patch.object(driver.volumes, "allocate") as allocate:
            update, cloned = self.drv.clone_image(
                self.context, vol, ("file://" + image, None),
                {"id": fake.IMAGE_ID, "disk_format": "raw"}, mock.Mock())
        self.assertTrue(cloned)
        self.assertEqual({"provider_id": UUID1}, update)
        allocate.assert_called_once_with(os.path.join(self.vol1, vol.name))

    # snapshots of attached volumes are never torn
    def _attached_volume(self, refcount=False, **kw):
        self.mounted[self.vol1] = _info(UUID1, "gold", refcount=refcount)
        vol = self._volume(**kw)
        self.drv.create_volume(vol)
        vol.attach_status = "attached"
        return vol

    def test_no_torn_snapshot_of_an_attached_volume(self):
        for status in ("in-use", "backing-up", "uploading"):
            vol = self._attached_volume(status=status)
            exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                    self.drv.create_snapshot, self._snapshot(vol))
            self.assertIn("Detach the volume", str(exc))
            self.assertEqual([vol.name], os.listdir(self.vol1))
        # Backup without a temp snapshot clones the attached volume: same rule.
        self.assertRaises(cinder_exception.VolumeBackendAPIException,
                          self.drv.create_cloned_volume, self._volume(id=fake.VOLUME2_ID),
                          vol)
        with mock.patch.object(driver.volume_utils, "upload_volume") as upload:
            self.assertRaises(cinder_exception.VolumeBackendAPIException,
                              self.drv.copy_volume_to_image, self.context, vol, mock.Mock(),
                              {"id": fake.IMAGE_ID, "disk_format": "raw"})
        upload.assert_not_called()
        self.assertEqual([vol.name], os.listdir(self.vol1))

    def test_no_torn_snapshot_when_ficlone_fails(self):
        vol = self._attached_volume(refcount=True, status="in-use")
        err = reflink.ReflinkUnsupported("EOPNOTSUPP")
        with mock.patch.object(reflink, "clone_atomic", side_effect=err), \
                mock.patch.object(reflink, "sparse_copy") as sparse:
            self.assertRaises(cinder_exception.VolumeBackendAPIException,
                              self.drv.create_snapshot, self._snapshot(vol))
        sparse.assert_not_called()
        # Detached, the same copy is a consistent point in time and may fall back.
        vol.attach_status, vol.status = "detached", "available"
        with mock.patch.object(reflink, "clone_atomic", side_effect=err), \
                mock.patch.object(reflink, "sparse_copy",
                                  side_effect=lambda src, dst, **kw: open(dst, "w").close()
                                  ) as sparse:
            self.drv.create_snapshot(self._snapshot(vol))
        sparse.assert_called_once()

    def test_copy_volume_to_image_detached_uploads_the_volume_itself(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        with mock.patch.object(driver.volume_utils, "upload_volume") as upload, \
                mock.patch.object(reflink, "clone_atomic") as clone:
            self.drv.copy_volume_to_image(self.context, vol, mock.Mock(),
                                          {"id": fake.IMAGE_ID, "disk_format": "raw"})
        clone.assert_not_called()
        self.assertEqual(self.drv.local_path(vol), upload.call_args[0][3])

    # volumes are tied to their filesystem's UUID
    def test_volume_follows_its_filesystem_uuid_across_a_relabel(self):
        vol = self._volume()
        update = self.drv.create_volume(vol)
        self.assertEqual({"provider_id": UUID1}, update)
        vol.provider_id = UUID1
        self.mounted[self.vol1] = _info(UUID1, "platinum")  # tunefs.ocfs2 -L platinum
        self.drv.monitor._info_cache.clear()  # read again (as after a remount)
        self.drv.get_volume_stats(refresh=True)
        self.assertIn("platinum", self.drv.monitor.pools)
        self.assertEqual(os.path.join(self.vol1, vol.name), self.drv.local_path(vol))
        self.drv.extend_volume(vol, 2)
        self.drv.delete_volume(vol)
        self.assertFalse(os.path.exists(os.path.join(self.vol1, vol.name)))

    def test_duplicate_labels_are_down_and_delete_is_not_already_gone(self):
        vol = self._volume(pool="vol2")
        self.drv.create_volume(vol)
        vol.provider_id = UUID2
        self.mounted[self.vol2] = _info(UUID2, "gold")  # now both are labelled gold
        self.drv.monitor._info_cache.clear()
        stats = self.drv.get_volume_stats(refresh=True)
        gold = {p["pool_name"]: p for p in stats["pools"]}["gold"]
        self.assertEqual("down", gold["backend_state"])
        self.assertIn("relabel", gold["backend_state_reason"])
        for v in (vol, self._volume(id=fake.VOLUME2_ID, provider_id=UUID1),
                  self._volume(id=fake.VOLUME3_ID)):
            self.assertRaises(cinder_exception.VolumeBackendAPIException,
                              self.drv.delete_volume, v)
        self.assertTrue(os.path.exists(os.path.join(self.vol2, vol.name)))

    def test_delete_refuses_when_the_recorded_filesystem_is_not_mounted(self):
        vol = self._volume(provider_id="99999999-9999-4999-8999-999999999999")
        self._raw_file(os.path.join(self.vol2, vol.name))  # not in its host's pool (gold)
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self.drv.delete_volume, vol)
        self.assertIn("not mounted here", str(exc))
        self.assertTrue(os.path.exists(os.path.join(self.vol2, vol.name)))

    def test_update_provider_info_records_the_filesystem(self):
        vol, missing = self._volume(), self._volume(id=fake.VOLUME2_ID, pool="vol2")
        self.drv.create_volume(vol)
        done = self._volume(id=fake.VOLUME3_ID, provider_id=UUID2)
        self.assertEqual(([{"id": vol.id, "provider_id": UUID1}], None),
                         self.drv.update_provider_info([vol, missing, done], []))

    def test_update_migrated_volume_carries_the_filesystem(self):
        new = self._volume(id=fake.VOLUME2_ID, provider_id=UUID2)
        update = self.drv.update_migrated_volume(self.context, self._volume(), new,
                                                 "available")
        self.assertEqual(UUID2, update["provider_id"])
        self.assertEqual(fake.VOLUME2_ID, update["_name_id"])

    def test_reserved_characters_in_pool_names(self):
        self.mounted[self.vol2] = _info(UUID2, "fast#1")
        stats = self.drv.get_volume_stats(refresh=True)
        bad = {p["pool_name"]: p for p in stats["pools"]}["fast#1"]
        self.assertEqual("down", bad["backend_state"])
        self.assertIn("tunefs.ocfs2 -L", bad["backend_state_reason"])

    # wrong behaviour
    def test_migrate_to_another_subtree_of_the_same_filesystem_moves(self):
        sub = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, sub, True)
        self.mounted[sub] = _info(UUID1, "gold")  # the same filesystem, another subtree
        self.roots[sub] = "/tenants"
        vol = self._volume()
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"DATA")
        self.drv.get_volume_stats(refresh=True)
        host = {"host": "node1@ocfs2c#gold",
                "capabilities": {"location_info": f"OCFS2Driver:ocfs2lab:{UUID1}:/tenants"}}
        moved, update = self.drv.migrate_volume(self.context, vol, host)
        self.assertTrue(moved)
        self.assertFalse(os.path.exists(os.path.join(self.vol1, vol.name)))
        self.assertEqual(b"DATA", self._read(os.path.join(sub, vol.name), 4))

    def test_migrate_attached_volume_is_generic(self):
        vol = self._volume(status="in-use", attach_status="attached")
        self.drv.create_volume(vol)
        self.drv.get_volume_stats(refresh=True)
        host = {"host": "node1@ocfs2#vol2",
                "capabilities": {"location_info": f"OCFS2Driver:ocfs2lab:{UUID2}:/"}}
        self.assertEqual((False, None), self.drv.migrate_volume(self.context, vol, host))
        self.assertTrue(os.path.exists(os.path.join(self.vol1, vol.name)))

    def test_migrate_keeps_thick(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thick"})
        self.drv.get_volume_stats(refresh=True)
        host = {"host": "node1@ocfs2#vol2",
                "capabilities": {"location_info": f"OCFS2Driver:ocfs2lab:{UUID2}:/"}}
        with mock.patch("os.posix_fallocate") as fallocate:
            self.assertEqual((True, {"provider_id": UUID2}),
                             self.drv.migrate_volume(self.context, vol, host))
        fallocate.assert_called_once_with(mock.ANY, 0, GiB)

    def test_provisioned_counts_snapshots(self):
        vol = self._volume(size=2)
        self.drv.create_volume(vol)
        self.drv.create_snapshot(self._snapshot(vol))
        self._raw_file(os.path.join(self.vol1, "volume-notes.txt"), size=GiB)
        gold = {p["pool_name"]: p for p in
                self.drv.get_volume_stats(refresh=True)["pools"]}["gold"]
        self.assertEqual(4.0, gold["provisioned_capacity_gb"])

    def test_provisioned_follows_the_name_templates(self):
        self.override_config("volume_name_template", "vol_%s")
        vol = self._volume(size=2)
        self.drv.create_volume(vol)
        self.assertTrue(os.path.exists(os.path.join(self.vol1, "vol_" + vol.id)))
        gold = {p["pool_name"]: p for p in
                self.drv.get_volume_stats(refresh=True)["pools"]}["gold"]
        self.assertEqual(2.0, gold["provisioned_capacity_gb"])

    def test_stats_measurement_failure_reports_the_pool_down(self):
        for broken in ("space", "provisioned"):
            with mock.patch.object(driver.capacity, broken,
                                   side_effect=OSError(5, "Input/output error")):
                stats = self.drv.get_volume_stats(refresh=True)
            gold = {p["pool_name"]: p for p in stats["pools"]}["gold"]
            self.assertEqual("down", gold["backend_state"], broken)
            self.assertIn("Input/output error", gold["backend_state_reason"])
            self.assertEqual(0, gold["free_capacity_gb"])
        stats = self.drv.get_volume_stats(refresh=True)  # the error is reported once
        self.assertEqual("up", {p["pool_name"]: p for p in stats["pools"]}["gold"][
            "backend_state"])

    def test_stats_do_not_wait_for_a_slow_walk(self):
        # Cold inodes on OCFS2 cost a cluster lock each: the refresh reports free space
        # at once and the provisioned figure of the last walk that finished (none yet:
        # the key is left out, and the scheduler counts Cinder's allocated capacity).
        vol = self._volume(size=2)
        self.drv.create_volume(vol)
        release = threading.Event()
        real = capacity.provisioned

        def slow(*args):
            release.wait(10)
            return real(*args)

        with mock.patch.object(driver.capacity, "provisioned", side_effect=slow), \
                mock.patch.object(capacity, "WALK_WAIT_S", 0.05):
            self.drv._provisioned.clear()
            t0 = time.monotonic()
            gold = {p["pool_name"]: p for p in
                    self.drv.get_volume_stats(refresh=True)["pools"]}["gold"]
            self.assertLess(time.monotonic() - t0, 5)
            self.assertNotIn("provisioned_capacity_gb", gold)
            self.assertGreater(gold["free_capacity_gb"], 0)
            release.set()
            for _ in range(100):
                gold = {p["pool_name"]: p for p in
                        self.drv.get_volume_stats(refresh=True)["pools"]}["gold"]
                if "provisioned_capacity_gb" in gold:
                    break
        self.assertEqual(2.0, gold["provisioned_capacity_gb"])

    def test_sparse_copy_volume_at_the_top_level(self):
        # The volume manager's _copy_volume_data reads it there (host-assisted migration).
        self.assertTrue(self.drv.get_volume_stats(refresh=True)["sparse_copy_volume"])

    def test_copy_image_to_volume_thick_and_fsynced(self):
        vol = self._volume(size=1)
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thick"})
        synced = []
        real_fsync = os.fsync

        def fsync(fd):
            import stat
            if stat.S_ISREG(os.fstat(fd).st_mode):
                synced.append(os.readlink(f"/proc/self/fd/{fd}"))
            real_fsync(fd)

        def fetch(ctx, svc, image_id, dest, blocksize, **kw):
            with open(dest, "wb") as f:
                f.write(b"IMAGE")

        with mock.patch.object(driver.image_utils, "fetch_to_raw", side_effect=fetch), \
                mock.patch("os.fsync", side_effect=fsync):
            self.drv.copy_image_to_volume(self.context, vol, mock.Mock(), fake.IMAGE_ID)
        path = self.drv.local_path(vol)
        self.assertTrue(any(os.path.basename(p).startswith(".tmp-" + vol.name)
                            for p in synced), synced)
        self.assertGreaterEqual(os.stat(path).st_blocks * 512, GiB)

    def test_restore_into_thick_volume_is_allocated_again(self):
        vol = self._volume()
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thick"})
        self.drv.create_volume(vol)
        path = self.drv.local_path(vol)
        with open(path, "wb") as f:  # cinder-backup's restore: 'wb', non-zero chunks only
            f.write(b"RESTORED")
            f.seek(GiB - 3)
            f.write(b"END")  # the last chunk held data: full size, holes between
        self.assertLess(os.stat(path).st_blocks * 512, GiB)
        self.drv.remove_export(self.context, vol)
        self.assertEqual(GiB, os.path.getsize(path))
        self.assertGreaterEqual(os.stat(path).st_blocks * 512, GiB)

    def test_extend_thick_allocates_the_new_range(self):
        vol = self._volume()
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thick"})
        self.drv.create_volume(vol)
        with mock.patch("os.posix_fallocate") as fallocate:
            self.drv.extend_volume(vol, 3)
        fallocate.assert_called_once_with(mock.ANY, GiB, 2 * GiB)

    def test_full_pool_names_the_pool_and_the_fix_and_keeps_the_size(self):
        vol = self._volume()
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thick"})
        self.drv.create_volume(vol)
        full = OSError(errno.ENOSPC, "No space left on device")
        with mock.patch("os.posix_fallocate", side_effect=full):
            exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                    self.drv.extend_volume, vol, 3)
            self.assertIn("OCFS2 pool gold is full", str(exc))
            self.assertIn("cinder-ocfs2 disk add", str(exc))
            self.assertEqual(GiB, os.path.getsize(self.drv.local_path(vol)))
            self.assertRaises(cinder_exception.VolumeBackendAPIException,
                              self.drv.create_volume, self._volume(id=fake.VOLUME2_ID))
        self.assertEqual([vol.name], os.listdir(self.vol1))

    def test_thick_migration_to_a_full_filesystem_leaves_no_copy(self):
        vol = self._volume()
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thick"})
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"DATA")
        self.drv.get_volume_stats(refresh=True)
        host = {"host": "node1@ocfs2#vol2",
                "capabilities": {"location_info": f"OCFS2Driver:ocfs2lab:{UUID2}:/"}}
        full = OSError(errno.ENOSPC, "No space left on device")
        with mock.patch("os.posix_fallocate", side_effect=full):
            exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                    self.drv.migrate_volume, self.context, vol, host)
        self.assertIn("is full", str(exc))
        self.assertEqual([], [n for n in os.listdir(self.vol2) if not n.startswith(".")])
        self.assertEqual(b"DATA", self._read(self.drv.local_path(vol), 4))

    def test_revert_with_the_snapshot_file_missing(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self._write(self.drv.local_path(vol), b"KEEP")
        exc = self.assertRaises(cinder_exception.VolumeBackendAPIException,
                                self.drv.revert_to_snapshot, self.context, vol,
                                self._snapshot(vol))
        self.assertIn("snapshot file does not exist", str(exc))
        self.assertEqual(b"KEEP", self._read(self.drv.local_path(vol), 4))

    def test_bad_config_is_refused_at_setup(self):
        good = {"max_over_subscription_ratio": "2.0", "ocfs2_volume_mode": "0660",
                "ocfs2_images_dir": None}
        for option, value, fix in (("max_over_subscription_ratio", "auto", "at least 1.0"),
                                   ("max_over_subscription_ratio", "0.5", "at least 1.0"),
                                   ("ocfs2_volume_mode", "0000", "0660"),
                                   ("ocfs2_volume_mode", "040", "0660"),
                                   ("ocfs2_images_dir", "glance", "absolute")):
            self.override_config(option, value, group=GROUP)
            exc = self.assertRaises(cinder_exception.InvalidConfigurationValue, self._driver)
            self.assertIn(fix, str(exc))
            self.assertIn(option, str(exc))
            self.override_config(option, good[option], group=GROUP)
        self._driver()

    def test_node_local_coordination_is_refused_when_clustered(self):
        self.override_config("backend_url", "file:///var/lib/cinder", group="coordination")
        self._driver()  # one service per backend: Cinder's default, fine
        exc = self.assertRaises(cinder_exception.InvalidConfigurationValue, self._driver,
                                "ocfs2-aa")
        self.assertIn("node-local", str(exc))
        self.assertIn("etcd3+http://", str(exc))

    def test_postgresql_coordination_is_warned_about(self):
        self.override_config("backend_url", "postgresql://db/cinder", group="coordination")
        with self.assertLogs("cinder_ocfs2.driver", "WARNING") as logs:
            self._driver("ocfs2-aa")
        self.assertIn("65,536 lock keys", "".join(logs.output))


class OCFS2DriverLockTestCase(DriverFixture):
    """Real tooz locks (Cinder's TestCase mocks them unless MOCK_TOOZ is False)."""

    MOCK_TOOZ = False

    def _lock_files(self, volume_id):
        from cinder import coordination
        where = coordination.COORDINATOR._file_path
        self.assertIsNotNone(where)  # the file driver: the backend that leaves files
        return [p for p in glob.glob(where + "*") if volume_id in p]

    def test_delete_cleans_the_volume_lock_file(self):
        vol = self._volume()
        self.drv.create_volume(vol)
        self.assertEqual(1, len(self._lock_files(vol.id)))
        self.drv.delete_volume(vol)
        driver.OCFS2Driver.clean_volume_file_locks(vol.id)
        self.assertEqual([], self._lock_files(vol.id))


class OCFS2DriverHubTestCase(DriverFixture):
    """cinder-volume runs on one eventlet hub: long file operations must not freeze it.

    Cinder's unit tests run monkey-patched, as cinder-volume does.  A 10 ms
    ticker greenthread runs while the driver works; each slow syscall is
    made slower still by a real (unpatched) sleep, as a big file on a busy
    shared disk would be.
    """

    SLOW = 0.3

    def _slowed(self, name):
        import eventlet.patcher
        real, block = getattr(os, name), eventlet.patcher.original("time").sleep

        def slow(*args, **kwargs):
            block(self.SLOW)
            return real(*args, **kwargs)
        return mock.patch.object(os, name, side_effect=slow)

    def _max_stall(self, func, *args):
        import time

        import eventlet
        gaps, done = [], []

        def tick():
            last = time.monotonic()
            while not done:
                eventlet.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = eventlet.spawn(tick)
        eventlet.sleep(0.05)
        try:
            func(*args)
        finally:
            done.append(True)
            ticker.wait()
        return max(gaps)

    def test_monkey_patched(self):
        from cinder import monkey_patch
        self.assertTrue(monkey_patch.is_patched())

    def test_256mib_copy_does_not_stall_the_hub(self):
        src = self._volume(size=1)
        self.drv.create_volume(src)
        with open(self.drv.local_path(src), "r+b") as f:
            for _ in range(256):
                f.write(os.urandom(1 << 20))
        dst = self._volume(id=fake.VOLUME2_ID, pool="vol2")
        with self._slowed("copy_file_range"):
            stall = self._max_stall(self.drv.create_cloned_volume, dst, src)
        self.assertLess(stall, 0.1)
        self.assertEqual(os.path.getsize(self.drv.local_path(src)),
                         os.path.getsize(self.drv.local_path(dst)))

    def test_thick_create_does_not_stall_the_hub(self):
        vol = self._volume(size=1)
        self.mock_object(self.drv, "_extra_specs", return_value={"provisioning:type": "thick"})
        with self._slowed("posix_fallocate"):
            stall = self._max_stall(self.drv.create_volume, vol)
        self.assertLess(stall, 0.1)

    def test_stats_refresh_does_not_stall_the_hub(self):
        with self._slowed("statvfs"):
            stall = self._max_stall(self.drv.get_volume_stats, True)
        self.assertLess(stall, 0.1)


class OCFS2DriverNewVolumeTestCase(DriverFixture):

    def test_new_volume_goes_where_the_scheduler_put_it(self):
        # A host-assisted migration's new volume copies the source's provider_id.
        src = self._volume(provider_id=UUID1)
        self.drv.create_volume(src)
        new = self._volume(id=fake.VOLUME2_ID, pool="vol2", provider_id=UUID1)
        self.assertEqual({"provider_id": UUID2}, self.drv.create_volume(new))
        self.assertTrue(os.path.exists(os.path.join(self.vol2, new.name)))
        clone = self._volume(id=fake.VOLUME3_ID, pool="vol2", provider_id=UUID1)
        self.assertEqual({"provider_id": UUID2}, self.drv.create_cloned_volume(clone, src))
        self.assertTrue(os.path.exists(os.path.join(self.vol2, clone.name)))

    def test_stale_filesystem_record_with_the_file_in_the_host_pool(self):
        # After a host-assisted migration the record may still name the source's filesystem.
        vol = self._volume(pool="vol2")
        self.drv.create_volume(vol)
        vol.provider_id = "99999999-9999-4999-8999-999999999999"
        self.assertEqual(os.path.join(self.vol2, vol.name), self.drv.local_path(vol))
        self.drv.delete_volume(vol)
        self.assertFalse(os.path.exists(os.path.join(self.vol2, vol.name)))
        # No file there: still refused, never "already gone".
        self.assertRaises(cinder_exception.VolumeBackendAPIException,
                          self.drv.delete_volume, vol)
