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
"""Tests for cinder_ocfs2.o2cb: membership plans, preflight and execution."""

from __future__ import annotations

import pathlib

import pytest

from cinder_ocfs2 import cluster, executor, o2cb

RECORDED = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "recorded"
CONF = cluster.parse_cluster_conf((RECORDED / "cli/cluster.conf.o2cb-local").read_text())
NODE3 = cluster.Node("node3", 3, "10.77.0.13")


def argvs(plan):
    return [(s.node, list(s.argv)) for s in plan.steps]


class TestAdd:
    def test_plan_existing_first_then_new_node(self):
        plan = o2cb.plan_add_node("labcluster", NODE3,
                                  {"node1": CONF, "node2": CONF, "node3": None})
        add = ["o2cb", "add-node", "labcluster", "node3", "--ip", "10.77.0.13",
               "--port", "7777", "--number", "3"]
        assert argvs(plan) == [
            ("node1", add), ("node1", ["o2cb", "register-cluster", "labcluster"]),
            ("node2", add), ("node2", ["o2cb", "register-cluster", "labcluster"]),
            ("node3", ["mkdir", "-p", "/etc/ocfs2"]),
            ("node3", ["o2cb", "add-cluster", "labcluster"]),
            ("node3", ["o2cb", "add-node", "labcluster", "node1", "--ip", "10.77.0.11",
                       "--port", "7777", "--number", "1"]),
            ("node3", ["o2cb", "add-node", "labcluster", "node2", "--ip", "10.77.0.12",
                       "--port", "7777", "--number", "2"]),
            ("node3", add),
            ("node3", ["o2cb", "register-cluster", "labcluster"]),
        ]
        assert "adding a node is an online change" in plan.notes[0]
        assert plan.nodes == ["node1", "node2", "node3"]

    def test_plan_is_idempotent_after_partial_run(self):
        grown = {"labcluster": CONF["labcluster"].with_node(NODE3)}
        plan = o2cb.plan_add_node("labcluster", NODE3,
                                  {"node1": CONF, "node2": CONF, "node3": grown})
        assert argvs(plan)[-1] == ("node3", ["o2cb", "register-cluster", "labcluster"])
        assert not any(s.node == "node3" and "add-node" in s.argv for s in plan.steps)

    def test_global_heartbeat_new_node_gets_mode_regions_and_start(self):
        conf = cluster.parse_cluster_conf((RECORDED / "cli/cluster.conf.o2cb-global").read_text())
        plan = o2cb.plan_add_node("labcluster", NODE3, {"node1": conf, "node3": {}})
        steps = argvs(plan)
        assert ("node3", ["o2cb", "heartbeat-mode", "labcluster", "global"]) in steps
        assert ("node3", ["o2cb", "add-heartbeat", "labcluster",
                          "77D95EF51C0149D2823674FCC162CF8B"]) in steps
        assert steps[-1] == ("node3", ["o2cb", "start-heartbeat", "labcluster"])
        assert "global heartbeat" in plan.notes[0]
        assert any("node2" in n and "by hand" in n for n in plan.notes)

    @pytest.mark.parametrize("node, message", [
        (cluster.Node("node2", 5, "10.77.0.15"), "already a node"),
        (cluster.Node("node3", 2, "10.77.0.13"), "--number 0"),
        (cluster.Node("node3", 3, "10.77.0.12"), "already used by node2"),
        (cluster.Node("node3", 3, "10.77.0.300"), "bad IPv4"),
        (cluster.Node("bad name", 3, "10.77.0.13"), "bad node name"),
        (cluster.Node("node3", 300, "10.77.0.13"), "out of range"),
    ])
    def test_preflight_refuses(self, node, message):
        with pytest.raises(o2cb.PlanError, match=message):
            o2cb.plan_add_node("labcluster", node, {"node1": CONF})

    def test_slot_warning(self):
        plan = o2cb.plan_add_node("labcluster", NODE3, {"node1": CONF},
                                  slots={"lab0": (2, 2)})
        assert any("tunefs.ocfs2 -N 4" in n for n in plan.notes)

    def test_confs_must_agree(self):
        other = {"labcluster": CONF["labcluster"].without_node("node2")}
        with pytest.raises(o2cb.PlanError, match="differs between nodes"):
            o2cb.plan_add_node("labcluster", NODE3, {"node1": CONF, "node2": other})

    def test_stale_entry_on_new_node(self):
        stale = {"labcluster": cluster.ClusterConfig(
            "labcluster", nodes=(cluster.Node("node1", 1, "10.0.0.1"),))}
        with pytest.raises(o2cb.PlanError, match="remove the stale entry"):
            o2cb.plan_add_node("labcluster", NODE3, {"node1": CONF, "node3": stale})


class TestRemove:
    def test_plan(self):
        plan = o2cb.plan_remove_node("labcluster", "node2", {"node1": CONF, "node2": CONF},
                                     mounting={"lab0": ["node1"]}, dlm_members={"X": [1]},
                                     live=[1])
        assert argvs(plan) == [
            ("node2", ["o2cb", "unregister-cluster", "labcluster"]),
            ("node1", ["o2cb", "remove-node", "labcluster", "node2"]),
            ("node1", ["o2cb", "register-cluster", "labcluster"]),
        ]
        assert not any("remove-cluster" in s.argv for s in plan.steps)

    def test_refuses_node_that_mounts(self):
        with pytest.raises(o2cb.PlanError, match="node2 still mounts lab0"):
            o2cb.plan_remove_node("labcluster", "node2", {"node1": CONF},
                                  mounting={"lab0": ["node1", "node2"]})

    def test_refuses_node_in_dlm_domain_or_heartbeat(self):
        with pytest.raises(o2cb.PlanError, match="DLM domain"):
            o2cb.plan_remove_node("labcluster", "node2", {"node1": CONF},
                                  dlm_members={"ABC": [1, 2]})
        with pytest.raises(o2cb.PlanError, match="still heartbeating"):
            o2cb.plan_remove_node("labcluster", "node2", {"node1": CONF}, live=[1, 2])

    def test_refuses_unknown_and_last(self):
        with pytest.raises(o2cb.PlanError, match="not a node"):
            o2cb.plan_remove_node("labcluster", "node9", {"node1": CONF})
        solo = {"labcluster": CONF["labcluster"].without_node("node2")}
        with pytest.raises(o2cb.PlanError, match="last node"):
            o2cb.plan_remove_node("labcluster", "node1", {"node1": solo})

    def test_global_stops_heartbeat_first(self):
        conf = cluster.parse_cluster_conf((RECORDED / "cli/cluster.conf.o2cb-global").read_text())
        plan = o2cb.plan_remove_node("labcluster", "node2", {"node1": conf, "node2": conf})
        assert argvs(plan)[0] == ("node2", ["o2cb", "stop-heartbeat", "labcluster"])


class TestApply:
    def test_runs_with_prefixes_in_order(self, monkeypatch):
        seen = []

        def runner(argv, timeout, input):
            seen.append(list(argv))
            return executor.Result(tuple(argv), 0, "", "")

        monkeypatch.setattr(executor, "runner", runner)
        plan = o2cb.plan_remove_node("labcluster", "node2", {"node1": CONF, "node2": CONF})
        progress = []
        o2cb.apply(plan, {"node1": (), "node2": ("ssh", "root@node2")},
                   progress=lambda i, n, s: progress.append((i, n, s.node)))
        assert seen == [["ssh", "root@node2", "o2cb", "unregister-cluster", "labcluster"],
                        ["o2cb", "remove-node", "labcluster", "node2"],
                        ["o2cb", "register-cluster", "labcluster"]]
        assert progress == [(1, 3, "node2"), (2, 3, "node1"), (3, 3, "node1")]

    def test_missing_prefix_refused_before_running(self, monkeypatch):
        monkeypatch.setattr(executor, "runner", lambda *a: pytest.fail("ran"))
        plan = o2cb.plan_remove_node("labcluster", "node2", {"node1": CONF, "node2": CONF})
        with pytest.raises(o2cb.PlanError, match="--peer node2="):
            o2cb.apply(plan, {"node1": ()})

    def test_stops_at_first_failure(self, monkeypatch):
        def runner(argv, timeout, input):
            return executor.Result(tuple(argv), 1, "", "o2cb: boom")

        monkeypatch.setattr(executor, "runner", runner)
        plan = o2cb.plan_remove_node("labcluster", "node2", {"node1": CONF, "node2": CONF})
        with pytest.raises(executor.CommandError, match="boom"):
            o2cb.apply(plan, {"node1": (), "node2": ()})
