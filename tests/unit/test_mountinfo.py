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
"""Tests for cinder_ocfs2.mountinfo."""

import pathlib

import pytest

from cinder_ocfs2 import mountinfo

RECORDED = pathlib.Path(__file__).parents[1] / "fixtures" / "recorded"

# Shaped like a real OCFS2 node's /proc/self/mountinfo (Debian 12).
SAMPLE = "".join([
    "22 27 0:21 / /proc rw,relatime shared:12 - proc proc rw\n",
    "27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro\n",
    "412 27 8:16 / /var/lib/cinder/ocfs2/vol1 rw,relatime shared:224 - ocfs2 /dev/sdb"
    " rw,_netdev,heartbeat=local,nointr,data=ordered,errors=remount-ro,atime_quantum=60,"
    "coherency=full,user_xattr,acl\n",
    "413 27 8:32 / /var/lib/cinder/ocfs2/vol2 rw,relatime master:7 propagate_from:3"
    " - ocfs2 /dev/sdc ro,_netdev,heartbeat=local,errors=remount-ro\n",
    "414 27 8:48 /sub /var/lib/cinder/ocfs2/with\\040space rw,relatime"
    " - ocfs2 /dev/sdd rw,heartbeat=local\n",
])

# Recorded on lab node1 (/proc/self/mountinfo, OCFS2 lines and neighbours).
LAB = "".join([
    "28 26 0:24 / /opt/cinder-ocfs2 ro,relatime - 9p src ro,sync,dirsync,access=client,"
    "msize=512000,trans=virtio\n",
    "36 26 0:30 / /dlm rw,relatime - ocfs2_dlmfs ocfs2_dlmfs rw\n",
    "38 26 254:16 / /var/lib/cinder/ocfs2/lab0 rw,relatime - ocfs2 /dev/vdb rw,_netdev,"
    "heartbeat=local,nointr,data=ordered,errors=remount-ro,atime_quantum=60,"
    "cluster_stack=o2cb,coherency=full,user_xattr,acl\n",
    "39 26 254:32 / /var/lib/cinder/ocfs2/hot1 rw,relatime - ocfs2 /dev/vdc rw,_netdev,"
    "heartbeat=local,nointr,data=ordered,errors=remount-ro,atime_quantum=60,"
    "cluster_stack=o2cb,coherency=full,user_xattr,acl\n",
])


def test_parse_lab_node():
    mounts = mountinfo.parse(LAB)
    ocfs2 = [m for m in mounts if m.fstype == "ocfs2"]
    assert [m.mount_point for m in ocfs2] == ["/var/lib/cinder/ocfs2/lab0",
                                              "/var/lib/cinder/ocfs2/hot1"]
    assert ocfs2[0].major_minor == (254, 16) and ocfs2[0].optional_fields == ()
    assert ocfs2[0].super_options["cluster_stack"] == "o2cb"
    assert not ocfs2[0].read_only
    assert mounts[1].fstype == "ocfs2_dlmfs"  # not a filesystem to serve
    assert mounts[0].read_only


def test_parse_fields():
    mounts = mountinfo.parse(SAMPLE)
    assert len(mounts) == 5
    m = mounts[2]
    assert m.mount_id == 412 and m.parent_id == 27
    assert m.major_minor == (8, 16)
    assert m.root == "/"
    assert m.mount_point == "/var/lib/cinder/ocfs2/vol1"
    assert m.options == {"rw": None, "relatime": None}
    assert m.optional_fields == ("shared:224",)
    assert m.propagation == {"shared": "224"}
    assert m.fstype == "ocfs2"
    assert m.source == "/dev/sdb"
    assert m.super_options["heartbeat"] == "local"
    assert m.super_options["errors"] == "remount-ro"
    assert not m.read_only


def test_multiple_optional_fields_and_super_ro():
    m = mountinfo.parse(SAMPLE)[3]
    assert m.optional_fields == ("master:7", "propagate_from:3")
    assert m.options["rw"] is None
    assert m.read_only  # errors=remount-ro flipped the superblock


def test_no_optional_fields_and_escapes():
    m = mountinfo.parse(SAMPLE)[4]
    assert m.optional_fields == ()
    assert m.root == "/sub"
    assert m.mount_point == "/var/lib/cinder/ocfs2/with space"


def test_bad_line():
    with pytest.raises(mountinfo.ParseError):
        mountinfo.parse_line("1 2 3:4 / /x rw shared:1 ext4 /dev/x rw")
    with pytest.raises(mountinfo.ParseError):
        mountinfo.parse_line("a b 3:4 / /x rw - ext4 /dev/x rw")


def test_find_and_at():
    mounts = mountinfo.parse(SAMPLE)
    assert mountinfo.find(mounts, "/var/lib/cinder/ocfs2/vol1/volume-x").mount_id == 412
    assert mountinfo.find(mounts, "/var/lib/cinder/ocfs2/vol10").mount_id == 27
    assert mountinfo.find(mounts, "/").mount_id == 27
    assert mountinfo.at(mounts, "/var/lib/cinder/ocfs2/vol2/").mount_id == 413
    assert mountinfo.at(mounts, "/var/lib/cinder/ocfs2") is None


def test_overmount_wins():
    text = SAMPLE + "500 412 0:50 / /var/lib/cinder/ocfs2/vol1 rw - tmpfs tmpfs rw\n"
    mounts = mountinfo.parse(text)
    assert mountinfo.at(mounts, "/var/lib/cinder/ocfs2/vol1").fstype == "tmpfs"
    assert mountinfo.find(mounts, "/var/lib/cinder/ocfs2/vol1/f").fstype == "tmpfs"


def test_read_self():
    mounts = mountinfo.read()
    assert any(m.mount_point == "/" for m in mounts)


@pytest.mark.parametrize("path", sorted(RECORDED.rglob("*mountinfo*")), ids=lambda p: p.name)
def test_recorded(path):
    mounts = mountinfo.parse(path.read_text())
    ocfs2 = [m for m in mounts if m.fstype == "ocfs2"]
    assert ocfs2, "recorded mountinfo from the lab should show an OCFS2 mount"
    for m in ocfs2:
        assert m.mount_point.startswith("/")
        assert "heartbeat" in m.super_options
