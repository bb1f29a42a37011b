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
"""Tests for cinder_ocfs2.cli.facts: one node's facts from a fake tree."""

from __future__ import annotations

import os

from cinder_ocfs2 import cluster
from cinder_ocfs2.cli import facts

from .conftest import DOMAIN, UUID, answer_fs_tools, node_tree


def test_gather_healthy_node(tmp_path, fake_exec):
    answer_fs_tools(fake_exec)
    src = node_tree(tmp_path)
    f = facts.gather(src, base=str(tmp_path / "mnt"), probe_ports=False)
    assert f["hostname"] == "node1"
    assert f["configfs"]["registered"] and f["configfs"]["online"]
    assert f["configfs"]["local_node"] == "node1"
    assert f["cluster_conf"]["sha256"] == cluster.checksum(f["cluster_conf"]["text"])
    assert f["o2hb_livenodes"] == [0, 1] and f["o2net_connected"] == [1]
    assert f["dlm_domains"][DOMAIN]["domain_map"] == [0, 1]
    (fs,) = f["filesystems"]
    assert fs["uuid"] == UUID and fs["label"] == "lab0" and fs["slots"] == 8
    assert fs["has_refcount"] is True and fs["read_only"] is False
    assert fs["mounted_on"] == ["node1", "node2"] and fs["dlm_domain_map"] == [0, 1]
    assert fs["size_bytes"] > 0 and fs["propagation"] == {"shared": "224"}
    assert f["base_propagation"] == {"shared": "1"}  # base lives on / (shared:1)
    assert fake_exec.calls == [
        ["o2info", "--volinfo", str(tmp_path / "mnt" / "lab0")],
        ["mounted.ocfs2", "-f", "/dev/vdb"],
    ]
    assert f["fstab"][0]["spec"] == f"UUID={UUID}"
    assert facts.conf_vs_configfs(f) == []


def test_gather_degrades_on_a_broken_node(tmp_path, fake_exec):
    fake_exec.on(["o2info"], "", rc=1, stderr="o2info: not an ocfs2 volume")
    fake_exec.on(["mounted.ocfs2"], "", rc=1, stderr="mounted.ocfs2: permission denied")
    src = node_tree(tmp_path, registered=False)
    f = facts.gather(src, base="/nowhere", probe_ports=True)
    assert f["configfs"]["registered"] is False
    assert "register-cluster labcluster" in f["configfs"]["problem"]
    assert f["ports"] == {}
    (fs,) = f["filesystems"]
    assert "not an ocfs2 volume" in fs["error"]
    assert fs["mounted_on"] is None and "permission denied" in fs["mounted_on_error"]


def test_port_probe_skips_connected_peers(tmp_path, fake_exec, monkeypatch):
    answer_fs_tools(fake_exec)
    probed = []

    def connect(addr, timeout):
        probed.append(addr)
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(facts.socket, "create_connection", connect)
    f = facts.gather(node_tree(tmp_path, connected="\n"), probe_ports=True)
    assert probed == [("10.77.0.12", 7777)]
    assert f["ports"] == {"node2": "10.77.0.12:7777 ECONNREFUSED"}
    f = facts.gather(node_tree(tmp_path / "b"), probe_ports=True)
    assert f["ports"] == {"node2": "connected"}


def test_conf_vs_configfs_differences(tmp_path, fake_exec):
    answer_fs_tools(fake_exec)
    conf = cluster.render_cluster_conf([cluster.ClusterConfig(
        "labcluster", heartbeat_mode="global",
        nodes=(cluster.Node("node1", 0, "10.77.0.11"), cluster.Node("node3", 2, "10.77.0.13"),
               cluster.Node("node2", 1, "10.77.0.99")))])
    f = facts.gather(node_tree(tmp_path, conf=conf), probe_ports=False)
    assert facts.conf_vs_configfs(f) == [
        "node2 is (1, '10.77.0.12', 7777) in configfs but (1, '10.77.0.99', 7777) in "
        "cluster.conf",
        "node3 is in cluster.conf but not registered",
        "heartbeat mode is local in configfs, global in cluster.conf",
    ]


def test_container_without_propagation(tmp_path, fake_exec, monkeypatch):
    answer_fs_tools(fake_exec)
    src = node_tree(tmp_path)
    proc = tmp_path / "proc"
    (proc / "self" / "ns").mkdir(parents=True)
    os.symlink("mnt:[1]", proc / "self" / "ns" / "mnt")
    pid = proc / "4242"
    (pid / "ns").mkdir(parents=True)
    os.symlink("mnt:[2]", pid / "ns" / "mnt")
    (pid / "cmdline").write_bytes(b"/usr/bin/python3\0/usr/bin/cinder-volume\0")
    base = str(tmp_path / "mnt")
    (pid / "mountinfo").write_text(
        "900 1 0:50 / / rw - overlay overlay rw\n"
        f"901 900 254:1 /var/lib/cinder {base} rw,relatime - ext4 /dev/vda1 rw\n")
    f = facts.gather(src, base=base, probe_ports=False)
    assert f["containers"] == [{"pid": 4242, "visible": [], "missing": ["252:16"],
                                "base_mount": {"mount_point": base, "propagation": {}}}]
