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
"""Tests for cinder_ocfs2.filesystems."""

import logging
import os

import pytest

from cinder_ocfs2 import exception, executor, filesystems, fsinfo, mountinfo

UUID1 = "2a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60718"


def info(uuid=UUID1, label="gold", refcount=True):
    return fsinfo.FsInfo(uuid, label, 4, 4096, 4096,
                         frozenset({"refcount"} if refcount else set()))


def line(i, path, fstype="ocfs2", sopts="rw,heartbeat=local,errors=remount-ro", opts="rw"):
    return f"{400 + i} 27 8:{i} / {path} {opts},relatime shared:{i} - {fstype} /dev/sd{i} {sopts}"


class Env:
    def __init__(self, tmp_path):
        self.base = str(tmp_path)
        self.lines = ["27 1 254:1 / / rw - ext4 /dev/vda1 rw"]
        self.infos = {}
        self.queries = []
        self.cluster = type("S", (), {"online": True, "problem": None})()

    def mount(self, name, label="", fstype="ocfs2", **kw):
        path = os.path.join(self.base, name)
        os.makedirs(path, exist_ok=True)
        self.lines.append(line(len(self.lines), path, fstype, **kw))
        self.infos[path] = info(uuid=f"{len(self.lines):08x}-0000-4000-8000-000000000000",
                                label=label)
        return path

    def query(self, path):
        self.queries.append(path)
        if path not in self.infos:
            raise executor.CommandError(["o2info"], 1, stderr="not OCFS2")
        return self.infos[path]

    def monitor(self, mount_points=(), **kw):
        return filesystems.PoolMonitor(
            list(mount_points), self.base,
            read_mounts=lambda: mountinfo.parse("\n".join(self.lines)),
            query=self.query, read_cluster=lambda: self.cluster, **kw)


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


def test_discovery_names_and_uuid(env):
    a = env.mount("192.168.10.90_sda", label="gold")
    b = env.mount("192.168.10.91_sda")
    pools = env.monitor().refresh()
    assert set(pools) == {"gold", "192.168.10.91_sda"}
    assert pools["gold"].path == a and pools["gold"].up
    assert pools["192.168.10.91_sda"].path == b
    assert pools["gold"].uuid == env.infos[a].uuid


def test_directory_naming(env):
    env.mount("d1", label="gold")
    assert set(env.monitor(name_source="directory").refresh()) == {"d1"}


def test_new_mount_appears_and_o2info_is_cached(env):
    mon = env.monitor()
    env.mount("a", label="a")
    assert set(mon.refresh()) == {"a"}
    env.mount("b", label="b")
    assert set(mon.refresh()) == {"a", "b"}
    mon.refresh()
    assert sorted(env.queries) == sorted([os.path.join(env.base, "a"),
                                          os.path.join(env.base, "b")])


def test_vanished_mount_is_down_once(env, caplog):
    path = env.mount("a", label="gold")
    mon = env.monitor()
    mon.refresh()
    env.lines.pop()
    caplog.set_level(logging.INFO, "cinder_ocfs2.filesystems")
    for _ in range(3):
        pools = mon.refresh()
    assert pools["gold"].state == filesystems.DOWN  # keeps its name while down
    assert "no filesystem is mounted" in pools["gold"].problem
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    with pytest.raises(exception.PoolUnavailable, match="mount -t ocfs2"):
        mon.require("gold")
    env.lines.append(line(9, path))
    assert mon.refresh()["gold"].up
    assert "is up" in caplog.records[-1].getMessage()


def test_not_ocfs2_and_read_only(env):
    env.mount("x", fstype="ext4")
    env.mount("y", label="y", sopts="ro,heartbeat=local")
    pools = env.monitor().refresh()
    assert "not OCFS2" in pools["x"].problem
    assert "read-only" in pools["y"].problem


def test_configured_mount_points(env):
    a = env.mount("a", label="gold")
    env.mount("b", label="silver")
    missing = os.path.join(env.base, "missing")
    pools = env.monitor([a, missing]).refresh()
    assert set(pools) == {"gold", "missing"}
    assert not pools["missing"].up


def test_cluster_offline_downs_everything(env):
    env.mount("a", label="gold")
    env.cluster.online = False
    env.cluster.problem = "o2cb cluster is not registered: run `o2cb register-cluster x`"
    pools = env.monitor().refresh()
    assert pools["gold"].problem == env.cluster.problem


def test_duplicate_uuid_served_once(env):
    a = env.mount("a", label="gold")
    b = env.mount("b", label="gold")
    env.infos[b] = env.infos[a]
    pools = env.monitor().refresh()
    assert list(pools) == ["gold"] and pools["gold"].path == a


def test_unknown_pool(env):
    env.mount("a", label="gold")
    mon = env.monitor()
    mon.refresh()
    with pytest.raises(exception.UnknownPool, match="gold"):
        mon.require("nope")


def test_other_disk_mounted_in_place(env):
    a = env.mount("a", label="gold")
    mon = env.monitor()
    mon.refresh()
    env.lines[-1] = line(7, a)  # remounted (new mount id) with another filesystem
    env.infos[a] = info(uuid="ffffffff-0000-4000-8000-000000000000", label="gold")
    with pytest.raises(exception.PoolUnavailable, match="another filesystem"):
        mon.require("gold")


def test_pool_file_rejects_paths(env):
    pool = filesystems.Pool("p", "/x", filesystems.UP)
    assert pool.file("volume-1") == "/x/volume-1"
    for bad in ("../etc", "a/b", "", ".."):
        with pytest.raises(exception.InvalidPath):
            pool.file(bad)


@pytest.mark.parametrize("path,expected", [
    ("/var/lib/cinder/ocfs2/a/volume-1", "/var/opt/mnt/ocfs2/a/volume-1"),
    ("/var/lib/cinder/ocfs2", "/var/opt/mnt/ocfs2"),
    ("/var/lib/cinder/ocfs2x/v", "/var/lib/cinder/ocfs2x/v"),
    ("/var/lib/cinder/ocfs2/special/v", "/srv/special/v"),
])
def test_map_path(path, expected):
    mapping = {"/var/lib/cinder/ocfs2/": "/var/opt/mnt/ocfs2",
               "/var/lib/cinder/ocfs2/special": "/srv/special"}
    assert filesystems.map_path(path, mapping) == expected


def test_locate_own_pool_or_any_mount_of_the_filesystem(env, tmp_path):
    own = env.mount("gold", label="gold")
    mon = env.monitor()
    pools = mon.refresh()
    assert mon.locate(pools["gold"].uuid).path == own
    # Another backend's filesystem, mounted outside our base: found, not adopted.
    elsewhere = tmp_path.parent / (tmp_path.name + "-b")
    elsewhere.mkdir()
    env.lines.append(line(len(env.lines), str(elsewhere)))
    env.infos[str(elsewhere)] = info(uuid="bbbbbbbb-0000-4000-8000-000000000000", label="labb")
    found = mon.locate("bbbbbbbb-0000-4000-8000-000000000000")
    assert found is not None and found.path == str(elsewhere) and found.up
    assert set(mon.refresh()) == {"gold"}
    # A different subtree of it, or an unknown filesystem: not found.
    assert mon.locate("bbbbbbbb-0000-4000-8000-000000000000", root="/sub") is None
    assert mon.locate("cccccccc-0000-4000-8000-000000000000") is None
