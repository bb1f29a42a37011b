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
"""Tests for cinder-ocfs2 node add|remove: exact commands, order, refusals."""

from __future__ import annotations

import json
import os

import pytest

from cinder_ocfs2.cli import facts, main
from cinder_ocfs2.cli import node as node_cli

from .conftest import UUID, answer_fs_tools, node_tree

BASE = facts.DEFAULT_BASE
FACTS = ["cinder-ocfs2", "doctor", "--facts", "--no-port-probe", "--base", BASE]


@pytest.fixture
def cluster_facts(tmp_path, fake_exec, monkeypatch):
    answer_fs_tools(fake_exec)
    f1 = facts.gather(node_tree(tmp_path / "n1"), probe_ports=False)
    f2 = facts.gather(node_tree(tmp_path / "n2", hostname="node2", local="node2"),
                      probe_ports=False)
    fake_exec.calls.clear()
    monkeypatch.setattr(facts, "gather", lambda **kw: f1)
    f3 = {"hostname": "node3", "cluster_conf": {"path": "/etc/ocfs2/cluster.conf",
                                                "exists": False},
          "configfs": {"registered": False}, "filesystems": [], "dlm_domains": {},
          "o2hb_livenodes": None}
    fake_exec.on(["ssh", "node2"], json_out=f2)
    fake_exec.on(["ssh", "node3"], json_out=f3)
    # once the facts are in, the o2cb commands themselves succeed silently
    fake_exec.on(["ssh", "node2", "o2cb"], "")
    fake_exec.on(["ssh", "node3", "o2cb"], "")
    fake_exec.on(["ssh", "node3", "mkdir"], "")
    fake_exec.on(["ssh", "node3", "sh"], "")
    fake_exec.on(["ssh", "node3", "cinder-ocfs2", "disk"], "")
    return {"node1": f1, "node2": f2, "node3": f3}


PEERS = ["--peer", "node2=ssh node2", "--peer", "node3=ssh node3"]


def test_add_runs_existing_nodes_first_then_joins_and_mounts(cluster_facts, fake_exec, capsys):
    rc = main.main(["node", "add", "node3", "--ip", "10.77.0.13", "--yes", *PEERS])
    assert rc == 0
    add3 = ["o2cb", "add-node", "labcluster", "node3", "--ip", "10.77.0.13", "--port", "7777",
            "--number", "2"]
    reg = ["o2cb", "register-cluster", "labcluster"]
    assert fake_exec.calls == [
        ["ssh", "node2", *FACTS], ["ssh", "node3", *FACTS],
        add3, reg,
        ["ssh", "node2", *add3], ["ssh", "node2", *reg],
        ["ssh", "node3", "mkdir", "-p", "/etc/ocfs2"],
        ["ssh", "node3", "o2cb", "add-cluster", "labcluster"],
        ["ssh", "node3", "o2cb", "add-node", "labcluster", "node1", "--ip", "10.77.0.11",
         "--port", "7777", "--number", "0"],
        ["ssh", "node3", "o2cb", "add-node", "labcluster", "node2", "--ip", "10.77.0.12",
         "--port", "7777", "--number", "1"],
        ["ssh", "node3", *add3],
        ["ssh", "node3", *reg],
        ["ssh", "node3", "sh", "-c",  # quoted for the remote shell, which parses it again
         "'echo 31 > /sys/kernel/config/cluster/labcluster/heartbeat/dead_threshold'"],
        ["ssh", "node3", "sh", "-c",  # quoted for the remote shell, which parses it again
         "'echo 30000 > /sys/kernel/config/cluster/labcluster/idle_timeout_ms'"],
        ["ssh", "node3", "sh", "-c",  # quoted for the remote shell, which parses it again
         "'echo 2000 > /sys/kernel/config/cluster/labcluster/keepalive_delay_ms'"],
        ["ssh", "node3", "sh", "-c",  # quoted for the remote shell, which parses it again
         "'echo 2000 > /sys/kernel/config/cluster/labcluster/reconnect_delay_ms'"],
        # mounted where the members mount it (node2's mount point wins: same UUID)
        ["ssh", "node3", "cinder-ocfs2", "disk", "add", f"UUID={UUID}", "--base",
         os.path.dirname(cluster_facts["node2"]["filesystems"][0]["mount_point"]), "--yes"],
    ]
    out = capsys.readouterr()
    assert "plan: add in cluster labcluster, 14 step(s)" in out.out
    assert "adding a node is an online change" in out.out
    assert "--> [3/14] [node2] o2cb add-node" in out.err


def test_add_dry_run_changes_nothing(cluster_facts, fake_exec, capsys):
    rc = main.main(["node", "add", "node3", "--ip", "10.77.0.13", "--dry-run", "--json",
                    *PEERS])
    assert rc == 0
    assert all(c[3:5] == ["doctor", "--facts"] for c in fake_exec.calls)
    plan = json.loads(capsys.readouterr().out)
    assert plan["action"] == "add" and len(plan["steps"]) == 14


def test_add_refused_without_yes_when_not_interactive(cluster_facts, fake_exec, capsys,
                                                     monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    rc = main.main(["node", "add", "node3", "--ip", "10.77.0.13", *PEERS])
    assert rc == 5
    assert "pass --yes" in capsys.readouterr().err
    assert not fake_exec.ran("add-node")


def test_add_refused_when_member_timeouts_differ(cluster_facts, fake_exec, capsys):
    cluster_facts["node2"]["configfs"]["timeouts"]["idle_timeout_ms"] = 60000
    fake_exec.on(["ssh", "node2", "cinder-ocfs2"], json_out=cluster_facts["node2"])
    rc = main.main(["node", "add", "node3", "--ip", "10.77.0.13", "--yes", *PEERS])
    assert rc == 5 and "timeouts differ" in capsys.readouterr().err


def test_add_clashing_address_refused(cluster_facts, fake_exec, capsys):
    rc = main.main(["node", "add", "node3", "--ip", "10.77.0.12", "--yes", *PEERS])
    assert rc == 5
    assert "--> Refused: 10.77.0.12:7777 is already used by node2" in capsys.readouterr().err


def test_remove_refuses_node_that_mounts(cluster_facts, fake_exec, capsys):
    rc = main.main(["node", "remove", "node2", "--yes", "--peer", "node2=ssh node2"])
    assert rc == 5
    assert "node2 still mounts lab0" in capsys.readouterr().err
    assert not fake_exec.ran("remove-node")


def test_remove_idle_node(cluster_facts, fake_exec, capsys):
    f2 = cluster_facts["node2"]
    f2["filesystems"] = []
    f2["dlm_domains"] = {}
    f2["o2hb_livenodes"] = [0]
    f1 = cluster_facts["node1"]
    f1["filesystems"][0]["mounted_on"] = ["node1"]
    f1["dlm_domains"] = {k: {**v, "domain_map": [0]} for k, v in f1["dlm_domains"].items()}
    f1["o2hb_livenodes"] = [0]
    fake_exec.on(["ssh", "node2", "cinder-ocfs2"], json_out=f2)
    rc = main.main(["node", "remove", "node2", "--yes", "--peer", "node2=ssh node2"])
    assert rc == 0, capsys.readouterr().err
    assert fake_exec.calls[1:] == [
        ["ssh", "node2", "o2cb", "unregister-cluster", "labcluster"],
        ["o2cb", "remove-node", "labcluster", "node2"],
        ["o2cb", "register-cluster", "labcluster"],
    ]
    assert not fake_exec.ran("remove-cluster")


def _idle_node2(cluster_facts):
    f2 = cluster_facts["node2"]
    f2["filesystems"] = []
    f2["dlm_domains"] = {}
    f2["o2hb_livenodes"] = []
    f1 = cluster_facts["node1"]
    f1["filesystems"][0]["mounted_on"] = ["node1"]
    f1["dlm_domains"] = {k: {**v, "domain_map": [0]} for k, v in f1["dlm_domains"].items()}
    return f1, f2


def test_remove_waits_for_a_just_unmounted_nodes_heartbeat_to_time_out(
        cluster_facts, fake_exec, capsys, monkeypatch):
    f1, f2 = _idle_node2(cluster_facts)
    f1["o2hb_livenodes"] = [0, 1]  # node1 still sees node2's heartbeat
    fake_exec.on(["ssh", "node2", "cinder-ocfs2"], json_out=f2)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        f1["o2hb_livenodes"] = [0]  # ... and then it times out

    monkeypatch.setattr(node_cli, "_sleep", sleep)
    rc = main.main(["node", "remove", "node2", "--yes", "--peer", "node2=ssh node2"])
    assert rc == 0, capsys.readouterr().err
    assert slept == [node_cli.WAIT_STEP]
    assert "heartbeat has not timed out" in capsys.readouterr().err
    assert fake_exec.ran("remove-node")


def test_remove_refused_when_the_heartbeat_outlasts_the_wait(cluster_facts, fake_exec, capsys,
                                                             monkeypatch):
    f1, f2 = _idle_node2(cluster_facts)
    f1["o2hb_livenodes"] = [0, 1]
    fake_exec.on(["ssh", "node2", "cinder-ocfs2"], json_out=f2)
    monkeypatch.setattr(node_cli, "_sleep", lambda s: None)
    rc = main.main(["node", "remove", "node2", "--yes", "--wait", "0",
                    "--peer", "node2=ssh node2"])
    assert rc == 5
    err = capsys.readouterr().err
    assert "node2 (node 1) is still heartbeating" in err and "raise --wait" in err
    assert not fake_exec.ran("remove-node")
