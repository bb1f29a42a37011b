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
"""Tests for cinder_ocfs2.cluster (cluster.conf and configfs)."""

from __future__ import annotations

import os
import pathlib

import pytest

from cinder_ocfs2 import cluster

RECORDED = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "recorded"


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def make_configfs(root: pathlib.Path, name: str = "labcluster", mode: str = "local",
                  nodes=(("node1", 1, "10.77.0.11", True), ("node2", 2, "10.77.0.12", False)),
                  regions=(), dead=31, idle=30000) -> pathlib.Path:
    base = root / name
    (base / "heartbeat").mkdir(parents=True)
    (base / "heartbeat" / "dead_threshold").write_text(f"{dead}\n")
    (base / "heartbeat" / "mode").write_text(f"{mode}\n")
    (base / "idle_timeout_ms").write_text(f"{idle}\n")
    (base / "keepalive_delay_ms").write_text("2000\n")
    (base / "reconnect_delay_ms").write_text("2000\n")
    (base / "fence_method").write_text("reset\n")
    for region in regions:
        (base / "heartbeat" / region).mkdir()
    for nname, num, ip, local in nodes:
        nd = base / "node" / nname
        nd.mkdir(parents=True)
        (nd / "num").write_text(f"{num}\n")
        (nd / "ipv4_address").write_text(f"{ip}\n")
        (nd / "ipv4_port").write_text("7777\n")
        (nd / "local").write_text("1\n" if local else "0\n")
    return root


class TestClusterConf:
    def test_parse_recorded_local(self):
        conf = cluster.parse_cluster_conf(recorded("cli/cluster.conf.o2cb-local"))
        assert list(conf) == ["labcluster"]
        c = conf["labcluster"]
        assert c.heartbeat_mode == "local"
        assert c.node_count == 2
        assert c.nodes == (cluster.Node("node1", 1, "10.77.0.11", 7777),
                           cluster.Node("node2", 2, "10.77.0.12", 7777))
        assert c.heartbeat_regions == ()

    def test_parse_recorded_global_two_clusters(self):
        conf = cluster.parse_cluster_conf(recorded("cli/cluster.conf.o2cb-global"))
        assert list(conf) == ["labcluster", "other"]
        assert conf["labcluster"].heartbeat_mode == "global"
        assert conf["labcluster"].heartbeat_regions == ("77D95EF51C0149D2823674FCC162CF8B",)
        assert conf["other"].nodes == ()

    @pytest.mark.parametrize("name", ["cli/cluster.conf.o2cb-local",
                                      "cli/cluster.conf.o2cb-global"])
    def test_render_roundtrips_o2cb_output_byte_for_byte(self, name):
        text = recorded(name)
        assert cluster.render_cluster_conf(cluster.parse_cluster_conf(text).values()) == text

    def test_parse_man_page_order_and_spaces(self):
        text = ("node:\n\tip_port = 7777\n\tip_address = 192.168.0.107\n\tnumber = 7\n"
                "\tname = node7\n\tcluster = webcluster\n\n"
                "# comment\ncluster:\n\tnode_count = 1\n\theartbeat_mode = global\n"
                "\tname = webcluster\n")
        c = cluster.parse_cluster_conf(text)["webcluster"]
        assert c.nodes == (cluster.Node("node7", 7, "192.168.0.107"),)

    @pytest.mark.parametrize("text, message", [
        ("cluster\n\tname = x\n", "stanza header"),
        ("\tname = x\n", "outside a stanza"),
        ("cluster:\n\tname x\n", "key = value"),
        ("cluster:\n\tname = a\n\nnode:\n\tname = n\n\tcluster = a\n", "lacks number"),
        ("node:\n\tname = n\n\tnumber = 1\n\tip_address = 1.2.3.4\n\tcluster = zz\n",
         "undeclared cluster"),
        ("cluster:\n\tname = a\n\tnode_count = many\n", "integer"),
        ("bogus:\n\tx = 1\n", "unknown stanza"),
    ])
    def test_parse_errors_name_the_line(self, text, message):
        with pytest.raises(cluster.ParseError, match=message):
            cluster.parse_cluster_conf(text)

    def test_with_and_without_node(self):
        c = cluster.parse_cluster_conf(recorded("cli/cluster.conf.o2cb-local"))["labcluster"]
        grown = c.with_node(cluster.Node("node3", 3, "10.77.0.13"))
        text = cluster.render_cluster_conf([grown])
        assert "\tnode_count = 3\n" in text
        assert text.endswith("node:\n\tcluster = labcluster\n\tnumber = 3\n\tip_port = 7777\n"
                             "\tip_address = 10.77.0.13\n\tname = node3\n\n")
        assert grown.without_node("node3").nodes == c.nodes

    def test_checksum_ignores_layout_not_content(self):
        text = recorded("cli/cluster.conf.o2cb-local")
        c = cluster.parse_cluster_conf(text)["labcluster"]
        reordered = cluster.render_cluster_conf(
            [cluster.ClusterConfig("labcluster", nodes=tuple(reversed(c.nodes)))])
        assert cluster.checksum(reordered) == cluster.checksum(text)
        changed = text.replace("10.77.0.12", "10.77.0.99")
        assert cluster.checksum(changed) != cluster.checksum(text)

    def test_write_cluster_conf_atomic(self, tmp_path):
        path = tmp_path / "cluster.conf"
        path.write_text("old")
        c = cluster.ClusterConfig("a", nodes=(cluster.Node("n", 0, "1.2.3.4"),))
        cluster.write_cluster_conf(str(path), [c])
        assert cluster.parse_cluster_conf(path.read_text())["a"] == dataclass_norm(c)
        assert os.listdir(tmp_path) == ["cluster.conf"]


def dataclass_norm(c: cluster.ClusterConfig) -> cluster.ClusterConfig:
    import dataclasses
    return dataclasses.replace(c, node_count=len(c.nodes))


class TestReadState:
    def test_not_loaded(self, tmp_path):
        state = cluster.read_state(str(tmp_path / "nope"), conf_path=None)
        assert not state.registered and not state.online and not state.stack_loaded
        assert "modprobe ocfs2_stack_o2cb" in state.problem

    def test_not_registered_names_cluster_from_conf(self, tmp_path):
        root = tmp_path / "cluster"
        root.mkdir()
        conf = tmp_path / "cluster.conf"
        conf.write_text(recorded("cli/cluster.conf.o2cb-local"))
        state = cluster.read_state(str(root), conf_path=str(conf))
        assert not state.registered
        assert "`o2cb register-cluster labcluster`" in state.problem
        assert "Cluster name is invalid while trying to join the group" in state.problem

    def test_registered_local(self, tmp_path):
        root = make_configfs(tmp_path / "cluster", regions=("2A4D1C5E9B8F4C3DA1B2C3D4E5F60718",))
        state = cluster.read_state(str(root), conf_path=None, hostname="node1.example")
        assert state.registered and state.online and state.problem is None
        assert state.name == "labcluster"
        assert state.heartbeat_mode == "local"
        assert state.local_node == "node1"
        assert state.nodes == (cluster.Node("node1", 1, "10.77.0.11", 7777, local=True),
                               cluster.Node("node2", 2, "10.77.0.12", 7777))
        assert state.heartbeat_regions == ("2A4D1C5E9B8F4C3DA1B2C3D4E5F60718",)
        assert state.timeouts == {"dead_threshold": 31, "idle_timeout_ms": 30000,
                                  "keepalive_delay_ms": 2000, "reconnect_delay_ms": 2000}
        assert state.fence_method == "reset"
        d = state.as_dict()
        assert d["online"] is True and d["nodes"][0]["name"] == "node1"

    def test_global_without_heartbeat_is_offline(self, tmp_path):
        root = make_configfs(tmp_path / "cluster", mode="global")
        state = cluster.read_state(str(root), conf_path=None, hostname="node1")
        assert state.registered and not state.online
        assert "`o2cb start-heartbeat labcluster`" in state.problem

    def test_no_local_node(self, tmp_path):
        root = make_configfs(tmp_path / "cluster",
                             nodes=(("node1", 1, "10.77.0.11", False),))
        state = cluster.read_state(str(root), conf_path=None, hostname="stranger")
        assert state.local_node is None
        assert "o2cb add-node labcluster stranger" in state.problem
        assert "Internal logic failure while trying to join the group" in state.problem


DLM_STATE = """\
Domain: 2A4D1C5E9B8F4C3DA1B2C3D4E5F60718  Len: 32  Key: 0x5d7a1b3c  Protocol: 1.3
Thread Pid: 2091  Node: 0  State: JOINED
Number of Joins: 1  Joining Node: 255
Domain Map: 0 1
Exit Domain Map:
Live Map: 0 1
Lock Resources: 57 (112)
"""

MOUNTED_F = """\
Device    Stack  Cluster     F  Nodes
/dev/vdb  o2cb   labcluster     node1, node2
/dev/vdc  o2cb   labcluster     Not mounted
/dev/vdd  o2cb   labcluster     node1, 7
"""

MOUNTED_D = """\
Device    Stack  Cluster     F  UUID                              Label
/dev/vdb  o2cb   labcluster     2A4D1C5E9B8F4C3DA1B2C3D4E5F60718  lab0
/dev/sdg1 o2cb   webcluster  G  77D95EF51C0149D2823674FCC162CF8B  logsvol
/dev/sdc1  None                  23878C320CF3478095D1318CB5C99EED  localmount
"""


class TestEvidenceParsers:
    def test_node_map(self):
        assert cluster.parse_node_map("0 1 \n") == (0, 1)
        assert cluster.parse_node_map("\n") == ()

    def test_dlm_state(self):
        d = cluster.parse_dlm_state(DLM_STATE)
        assert d == cluster.DlmDomain("2A4D1C5E9B8F4C3DA1B2C3D4E5F60718", 0, "JOINED",
                                      (0, 1), (0, 1))

    def test_mounted_full(self):
        assert cluster.parse_mounted_full(MOUNTED_F) == {
            "/dev/vdb": ("node1", "node2"), "/dev/vdc": (), "/dev/vdd": ("node1", "7")}

    def test_mounted_quick(self):
        got = cluster.parse_mounted_quick(MOUNTED_D)
        assert got["/dev/vdb"] == {"stack": "o2cb", "cluster": "labcluster", "flag": "",
                                   "uuid": "2A4D1C5E9B8F4C3DA1B2C3D4E5F60718", "label": "lab0"}
        assert got["/dev/sdg1"]["flag"] == "G"
        assert got["/dev/sdc1"]["stack"] == "None" and got["/dev/sdc1"]["cluster"] == ""

    def test_read_debugfs(self, tmp_path):
        dom = tmp_path / "o2dlm" / "2A4D1C5E9B8F4C3DA1B2C3D4E5F60718"
        dom.mkdir(parents=True)
        (dom / "dlm_state").write_text(DLM_STATE)
        (tmp_path / "o2hb").mkdir()
        (tmp_path / "o2hb" / "livenodes").write_text("0 1 \n")
        assert cluster.read_dlm_domains(str(tmp_path))[
            "2A4D1C5E9B8F4C3DA1B2C3D4E5F60718"].domain_map == (0, 1)
        assert cluster.read_node_map(str(tmp_path / "o2hb" / "livenodes")) == (0, 1)
        assert cluster.read_node_map(str(tmp_path / "o2net" / "connected_nodes")) is None


class TestRecordedLab:
    """Parsers against real output recorded on the lab nodes (lab/record.py)."""

    def test_lab_cluster_conf_same_checksum_as_o2cb_layout(self):
        lab = recorded("node1-etc-ocfs2-cluster.conf")
        conf = cluster.parse_cluster_conf(lab)["labcluster"]
        assert [(n.name, n.number, n.ip, n.port) for n in conf.nodes] == [
            ("node1", 0, "10.77.0.11", 7777), ("node2", 1, "10.77.0.12", 7777)]
        # the lab writes the man page's key order; o2cb would write its own
        assert cluster.checksum(lab) == cluster.checksum(cluster.render_cluster_conf([conf]))

    def test_mounted_full_and_quick(self):
        assert cluster.parse_mounted_full(recorded("node1-mounted.ocfs2-f.txt")) == {
            "/dev/vdb": ("node1", "node2")}
        assert cluster.parse_mounted_quick(recorded("node1-mounted.ocfs2-d.txt")) == {
            "/dev/vdb": {"stack": "o2cb", "cluster": "labcluster", "flag": "",
                         "uuid": "5C88179165C24E7EBF028FCC442FCFA9", "label": "lab0"}}

    def test_dlm_state(self):
        d = cluster.parse_dlm_state(recorded("node1-o2dlm-dlm_state.txt"))
        assert d == cluster.DlmDomain("5C88179165C24E7EBF028FCC442FCFA9", 0, "JOINED",
                                      (0, 1), (0, 1))

    def test_debugfs_node_maps(self):
        sections = {}
        for block in recorded("node1-debugfs-o2hb-o2net.txt").split("== ")[1:]:
            path, _, body = block.partition("\n")
            sections[path] = body
        assert cluster.parse_node_map(sections["/sys/kernel/debug/o2hb/livenodes"]) == (0, 1)
        assert cluster.parse_node_map(
            sections["/sys/kernel/debug/o2net/connected_nodes"]) == (1,)

    def test_read_state_from_recorded_configfs(self, tmp_path):
        root = tmp_path / "cluster"
        for line in recorded("node1-configfs-values.txt").splitlines():
            rel, _, value = line.partition(": ")
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value + "\n")
        state = cluster.read_state(str(root), conf_path=None, hostname="node1")
        assert state.registered and state.online and state.problem is None
        assert state.local_node == "node1" and state.fence_method == "reset"
        assert state.nodes == (cluster.Node("node1", 0, "10.77.0.11", 7777, local=True),
                               cluster.Node("node2", 1, "10.77.0.12", 7777))
        assert state.heartbeat_regions == ("5C88179165C24E7EBF028FCC442FCFA9",)
        assert state.timeouts == {"dead_threshold": 11, "idle_timeout_ms": 10000,
                                  "keepalive_delay_ms": 2000, "reconnect_delay_ms": 2000}
