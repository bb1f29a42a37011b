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
"""Tests for cinder-ocfs2 status."""

from __future__ import annotations

import json

from cinder_ocfs2.cli import facts, main, status

from .conftest import UUID, answer_fs_tools, node_tree, recorded


def test_summary_of_healthy_node(tmp_path, fake_exec):
    answer_fs_tools(fake_exec)
    s = status.summarize(facts.gather(node_tree(tmp_path), probe_ports=False))
    assert s["cluster"]["name"] == "labcluster" and s["cluster"]["online"]
    assert s["cluster"]["heartbeat_mode"] == "local"
    assert [(n["name"], n["number"], n["ip"], n["up"]) for n in s["nodes"]] == [
        ("node1", 0, "10.77.0.11", True), ("node2", 1, "10.77.0.12", True)]
    (fs,) = s["filesystems"]
    assert fs["uuid"] == UUID and fs["label"] == "lab0"
    assert fs["mounted_on"] == ["node1", "node2"] and fs["dlm_members"] == ["node1", "node2"]
    assert (fs["slots_used"], fs["slots_max"], fs["refcount"]) == (2, 8, True)
    assert "errors=remount-ro" in fs["options"] and "coherency=full" in fs["options"]
    assert s["cluster_conf_matches"] and s["problems"] == []
    text = status.render(s)
    assert "cluster labcluster: online, heartbeat local, this node node1" in text
    assert "node2  1    10.77.0.12:7777" in text
    assert "lab0   2a4d1c5e-9b8f-4c3d-a1b2-c3d4e5f60718" in text
    assert "node1,node2  node1,node2  2/8" in text
    assert "matches the live cluster" in text


def test_peer_down_and_unknown_mounter(tmp_path, fake_exec):
    answer_fs_tools(fake_exec)
    fake_exec.on(["mounted.ocfs2", "-f"], "Device    Stack  Cluster     F  Nodes\n"
                 "/dev/vdb  o2cb   labcluster     node1, 5\n")
    s = status.summarize(facts.gather(node_tree(tmp_path, live="0 \n", connected="\n"),
                                      probe_ports=False))
    assert [n["up"] for n in s["nodes"]] == [True, False]
    assert not s["cluster_conf_matches"]
    assert s["problems"] == ["lab0 is mounted by 5, unknown to cluster.conf"]


def test_verb_json_and_exit_code(tmp_path, fake_exec, monkeypatch, capsys):
    answer_fs_tools(fake_exec)
    src = node_tree(tmp_path, registered=False, mounted=False)
    real = facts.gather
    monkeypatch.setattr(facts, "gather", lambda **kw: real(src, **kw))
    assert main.main(["status", "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["cluster"]["registered"] is False
    assert "o2cb register-cluster labcluster" in out["problems"][0]
    assert main.main(["status"]) == 3
    assert "cluster -: OFFLINE" in capsys.readouterr().out


def test_summary_from_recorded_lab_output(tmp_path, fake_exec):
    """Real mountinfo, o2info and mounted.ocfs2 output recorded on lab node1."""
    fake_exec.on(["o2info", "--volinfo"], recorded("node1-o2info-volinfo.txt"))
    fake_exec.on(["mounted.ocfs2", "-f"], recorded("node1-mounted.ocfs2-f.txt"))
    src = node_tree(tmp_path)
    (tmp_path / "mountinfo").write_text(recorded("node1-proc-self-mountinfo.txt"))
    s = status.summarize(facts.gather(src, probe_ports=False))
    (fs,) = s["filesystems"]
    assert fs["mount_point"] == "/var/lib/cinder/ocfs2/lab0" and fs["device"] == "/dev/vdb"
    assert fs["uuid"] == "5c881791-65c2-4e7e-bf02-8fcc442fcfa9" and fs["label"] == "lab0"
    assert fs["mounted_on"] == ["node1", "node2"] and fs["slots_max"] == 8
    assert fs["refcount"] is True
    assert "heartbeat=local" in fs["options"] and "errors=remount-ro" in fs["options"]
    assert fake_exec.calls == [["o2info", "--volinfo", "/var/lib/cinder/ocfs2/lab0"],
                               ["mounted.ocfs2", "-f", "/dev/vdb"]]
