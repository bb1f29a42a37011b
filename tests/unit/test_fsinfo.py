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
"""Tests for cinder_ocfs2.fsinfo."""

import pathlib

import pytest

from cinder_ocfs2 import executor, fsinfo

RECORDED = pathlib.Path(__file__).parents[1] / "fixtures" / "recorded"

VOLINFO = """\
       Label: vol1
        UUID: 2A4D1C5E9B8F4C3DA1B2C3D4E5F60718
  Block Size: 4096
Cluster Size: 4096
  Node Slots: 4
    Features: backup-super strict-journal-super sparse extended-slotmap
    Features: inline-data xattr indexed-dirs refcount discontig-bg clusterinfo
    Features: unwritten
"""

# Recorded on lab node1 (Debian 12, ocfs2-tools 1.8.7): note the trailing
# blanks and the repeated qualifier on wrapped feature lines.
LAB_VOLINFO = "".join([
    "       Label: lab0\n",
    "        UUID: A8EAA014AAF24AB5949C0557D8690841\n",
    "  Block Size: 4096\n",
    "Cluster Size: 4096\n",
    "  Node Slots: 8\n",
    "    Features: backup-super strict-journal-super sparse extended-slotmap \n",
    "    Features: inline-data xattr indexed-dirs refcount discontig-bg clusterinfo \n",
    "    Features: append-dio unwritten \n",
])
LAB_FEATURES = ("backup-super strict-journal-super sparse extended-slotmap inline-data xattr \n"
                "indexed-dirs refcount discontig-bg clusterinfo append-dio unwritten \n")

VOLINFO_NOREFCOUNT = """\
       Label: \n        UUID: 0123456789ABCDEF0123456789ABCDEF
  Block Size: 4096
Cluster Size: 65536
  Node Slots: 8
    Features: backup-super strict-journal-super sparse inline-data unwritten
"""

BLKID = """\
DEVNAME=/dev/sdb
LABEL=vol1
UUID=2a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60718
BLOCK_SIZE=4096
TYPE=ocfs2

DEVNAME=/dev/vda1
UUID=not-a-uuid
TYPE=ext4
"""


def test_parse_volinfo():
    info = fsinfo.parse_volinfo(VOLINFO)
    assert info.label == "vol1"
    assert info.uuid == "2a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60718"
    assert (info.block_size, info.cluster_size, info.slots) == (4096, 4096, 4)
    assert {"sparse", "refcount", "unwritten", "clusterinfo"} <= info.features
    assert info.has_refcount


def test_parse_lab_volinfo():
    info = fsinfo.parse_volinfo(LAB_VOLINFO)
    assert info == fsinfo.FsInfo(
        uuid="a8eaa014-aaf2-4ab5-949c-0557d8690841", label="lab0", slots=8,
        block_size=4096, cluster_size=4096, features=fsinfo.parse_features(LAB_FEATURES))
    assert len(info.features) == 12 and info.has_refcount


def test_parse_volinfo_without_label_or_refcount():
    info = fsinfo.parse_volinfo(VOLINFO_NOREFCOUNT)
    assert info.label == ""
    assert info.cluster_size == 65536
    assert not info.has_refcount


def test_parse_volinfo_garbage():
    with pytest.raises(fsinfo.ParseError):
        fsinfo.parse_volinfo("o2info: Invalid argument\n")


def test_parse_features():
    assert fsinfo.parse_features("backup-super sparse refcount\n") == frozenset(
        {"backup-super", "sparse", "refcount"})


def test_blkid_uuid_matches_o2info():
    devices = fsinfo.parse_blkid_export(BLKID)
    assert devices[0]["UUID"] == fsinfo.parse_volinfo(VOLINFO).uuid
    assert devices[0]["TYPE"] == "ocfs2" and devices[0]["LABEL"] == "vol1"
    assert devices[1]["UUID"] == "not-a-uuid"


def test_query_runs_o2info(monkeypatch):
    calls = []

    def runner(argv, timeout, input):
        calls.append(tuple(argv))
        return executor.Result(tuple(argv), 0, VOLINFO, "")

    monkeypatch.setattr(executor, "runner", runner)
    info = fsinfo.query("/var/lib/cinder/ocfs2/vol1")
    assert calls == [("o2info", "--volinfo", "/var/lib/cinder/ocfs2/vol1")]
    assert info.label == "vol1"


def test_query_failure(monkeypatch):
    monkeypatch.setattr(executor, "runner", lambda argv, t, i: executor.Result(
        tuple(argv), 1, "", "o2info: Not an OCFS2 file system"))
    with pytest.raises(executor.CommandError):
        fsinfo.query("/tmp")


@pytest.mark.parametrize("path", sorted(RECORDED.rglob("*volinfo*")), ids=lambda p: p.name)
def test_recorded_volinfo(path):
    info = fsinfo.parse_volinfo(path.read_text())
    assert info.uuid and info.slots > 0 and info.block_size >= 512


@pytest.mark.parametrize("path", sorted(RECORDED.rglob("*blkid*")), ids=lambda p: p.name)
def test_recorded_blkid(path):
    devices = fsinfo.parse_blkid_export(path.read_text())
    assert any(d.get("TYPE") == "ocfs2" for d in devices)
