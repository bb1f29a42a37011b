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
"""Tests for cinder-ocfs2 doctor: every failure mode from the issue, and the verb."""

from __future__ import annotations

import copy
import json

import pytest

from cinder_ocfs2.cli import doctor, facts, main
from cinder_ocfs2.cli.facts import address_is_local as real_address_is_local

from .conftest import LAB_CONF, UUID, answer_fs_tools, node_tree


@pytest.fixture
def two(tmp_path, fake_exec):
    """Facts of a healthy two-node cluster."""
    answer_fs_tools(fake_exec)
    f1 = facts.gather(node_tree(tmp_path / "n1"), probe_ports=False)
    f2 = facts.gather(node_tree(tmp_path / "n2", hostname="node2", local="node2",
                                connected="0 \n"), probe_ports=False)
    # both see the same mount point path
    f2["filesystems"][0]["mount_point"] = f1["filesystems"][0]["mount_point"]
    f2["fstab"] = f1["fstab"]
    return {"node1": f1, "node2": f2}


def checks(findings, severity=None):
    return sorted({(f.check, f.node) for f in findings
                   if severity is None or f.severity == severity})


def test_healthy_cluster_has_no_findings(two):
    assert doctor.analyze(two) == []


def test_not_registered_explains_cluster_name_invalid(tmp_path, fake_exec):
    answer_fs_tools(fake_exec)
    f = facts.gather(node_tree(tmp_path, registered=False, mounted=False), probe_ports=False)
    (finding,) = [x for x in doctor.analyze({"node1": f}) if x.severity == "error"]
    assert finding.check == "o2cb-registered"
    assert finding.message == (
        "o2cb cluster is not registered; mount.ocfs2 fails with 'Cluster name is invalid "
        "while trying to join the group' until this is fixed")
    assert finding.fix.startswith("run `o2cb register-cluster labcluster`")


def test_no_local_node_explains_internal_logic_failure(tmp_path, fake_exec):
    """What the lab shows after `o2cb remove-node` of this host + register-cluster."""
    answer_fs_tools(fake_exec)
    conf = LAB_CONF.split("node:")[0] + "node:" + LAB_CONF.split("node:")[1]
    f = facts.gather(node_tree(tmp_path, hostname="node2", local="nobody", conf=conf,
                               mounted=False), probe_ports=False)
    found = {x.check: x for x in doctor.analyze({"node2": f})}
    assert "Internal logic failure while trying to join the group" in \
        found["o2cb-registered"].message
    assert found["o2cb-registered"].fix.startswith("put it back in cluster.conf on every node")
    assert "`o2cb register-cluster labcluster`" in found["o2cb-registered"].fix
    assert found["node-name"].severity == "error"
    assert found["configfs-stale"].severity == "error"


def test_listed_but_unregistered_local_node(tmp_path, fake_exec):
    """cluster.conf lists this host but register-cluster could not register it."""
    answer_fs_tools(fake_exec)
    f = facts.gather(node_tree(tmp_path, local="nobody", mounted=False), probe_ports=False)
    found = {x.check: x for x in doctor.analyze({"node1": f})}
    assert "could not register it" in found["o2cb-registered"].message
    assert "Internal logic failure while trying to join the group" in \
        found["o2cb-registered"].message
    assert "node-name" not in found


def test_global_heartbeat_not_started(tmp_path, fake_exec):
    answer_fs_tools(fake_exec)
    f = facts.gather(node_tree(tmp_path, mode="global", mounted=False), probe_ports=False)
    found = [x for x in doctor.analyze({"node1": f}) if x.check == "o2cb-heartbeat"]
    assert found and "`o2cb start-heartbeat labcluster`" in found[0].fix


def test_node_name_differs_from_hostname(tmp_path, fake_exec):
    answer_fs_tools(fake_exec)
    f = facts.gather(node_tree(tmp_path, hostname="cluster89", local="nobody"),
                     probe_ports=False)
    assert ("node-name", "node1") in checks(doctor.analyze({"node1": f}), "error")


def test_cluster_conf_differs_between_nodes(two):
    two["node2"]["cluster_conf"]["sha256"] = "f" * 64
    (f,) = [x for x in doctor.analyze(two) if x.check == "cluster-conf-differs"]
    assert f.severity == "error" and "node2: ffffffffffff" in f.message


def test_timeouts_not_uniform(two):
    two["node2"]["configfs"]["timeouts"]["idle_timeout_ms"] = 60000
    assert ("timeouts", "cluster") in checks(doctor.analyze(two), "error")


def test_read_only_after_errors(two):
    two["node1"]["filesystems"][0]["read_only"] = True
    (f,) = [x for x in doctor.analyze(two) if x.check == "read-only"]
    assert "fsck.ocfs2 -fy /dev/vdb" in f.fix


def test_slots_exhausted(two):
    for f in two.values():
        f["filesystems"][0]["slots"] = 2
    (f,) = [x for x in doctor.analyze(two) if x.check == "slots"]
    assert f.severity == "warning" and "tunefs.ocfs2 -N 4 /dev/vdb" in f.fix
    for f in two.values():
        f["filesystems"][0]["slots"] = 1
    assert ("slots", "node1") in checks(doctor.analyze(two), "error")


def test_refcount_missing(two):
    two["node1"]["filesystems"][0]["has_refcount"] = False
    (f,) = [x for x in doctor.analyze(two) if x.check == "refcount"]
    assert "--fs-features=refcount" in f.fix


def test_mounted_on_some_nodes_only(two):
    two["node2"]["filesystems"] = []
    (f,) = [x for x in doctor.analyze(two) if x.check == "partial-mount"]
    assert f.node == "cluster" and "not on node2" in f.message
    assert f"disk add UUID={UUID}" in f.fix


def test_single_node_view_of_partial_mount(two):
    two["node1"]["filesystems"][0]["mounted_on"] = ["node1"]
    found = [x for x in doctor.analyze({"node1": two["node1"]}) if x.check == "partial-mount"]
    assert found[0].severity == "warning" and "not on node2" in found[0].message


def test_port_unreachable_while_heartbeating(two):
    two["node1"]["ports"] = {"node2": "10.77.0.12:7777 ECONNREFUSED"}
    (f,) = [x for x in doctor.analyze(two) if x.check == "o2net-port"]
    assert f.severity == "error" and "open TCP 7777" in f.fix
    two["node1"]["o2hb_livenodes"] = [0]
    (f,) = [x for x in doctor.analyze(two) if x.check == "o2net-port"]
    assert f.severity == "warning"


def test_own_address_missing(tmp_path, fake_exec, monkeypatch):
    """The lab's 'no IP' fault: o2net cannot bind, register and mount fail."""
    answer_fs_tools(fake_exec)
    monkeypatch.setattr(facts, "address_is_local", lambda ip: (False, "EADDRNOTAVAIL"))
    f = facts.gather(node_tree(tmp_path, mounted=False), probe_ports=False)
    assert f["own_address"] == {"ip": "10.77.0.11", "configured": False,
                                "error": "EADDRNOTAVAIL"}
    (x,) = [x for x in doctor.analyze({"node1": f}) if x.check == "local-address"]
    assert "Internal logic failure while trying to join the group" in x.message
    assert x.fix.startswith("bring up the interconnect with 10.77.0.11")


def test_address_is_local_real_socket():
    assert real_address_is_local("127.0.0.1") == (True, None)
    assert real_address_is_local("192.0.2.77") == (False, "EADDRNOTAVAIL")


def test_network_unreachable_is_an_error(two):
    two["node2"]["ports"] = {"node1": "10.77.0.11:7777 ENETUNREACH"}
    two["node2"]["o2hb_livenodes"] = []
    (f,) = [x for x in doctor.analyze(two) if x.check == "o2net-port"]
    assert f.severity == "error" and "interconnect is down" in f.message


def test_heartbeating_but_not_connected(two):
    two["node1"]["o2net_connected"] = []
    assert ("o2net-connect", "node1") in checks(doctor.analyze(two), "error")


def test_container_cannot_see_mount(two):
    two["node1"]["containers"] = [{"pid": 7, "visible": [], "missing": ["252:16"],
                                   "base_mount": {"mount_point": "/var/lib/cinder",
                                                  "propagation": {}}}]
    (f,) = [x for x in doctor.analyze(two) if x.check == "propagation"]
    assert f.severity == "error" and "rshared" in f.fix


def test_fstab_missing_or_without_netdev(two):
    two["node1"]["fstab"] = []
    two["node2"]["fstab"] = [{**two["node2"]["fstab"][0], "options": "defaults"}]
    found = {(x.node, x.check): x for x in doctor.analyze(two)}
    assert "no /etc/fstab entry" in found[("node1", "fstab")].message
    assert "lacks _netdev" in found[("node2", "fstab")].message


def test_configfs_stale(two):
    two["node1"]["configfs"]["nodes"] = two["node1"]["configfs"]["nodes"][:1]
    assert ("configfs-stale", "node1") in checks(doctor.analyze(two), "error")


class TestVerb:
    def test_facts_prints_json(self, monkeypatch, capsys):
        monkeypatch.setattr(facts, "gather", lambda **kw: {"hostname": "node1", "kw": kw})
        assert main.main(["doctor", "--facts", "--no-port-probe"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["kw"] == {"base": facts.DEFAULT_BASE, "probe_ports": False}

    def test_compare_files_exit_3_with_fixes(self, two, tmp_path, capsys):
        bad = copy.deepcopy(two)
        bad["node2"]["configfs"]["timeouts"]["dead_threshold"] = 61
        paths = []
        for name, f in bad.items():
            p = tmp_path / f"{name}.json"
            p.write_text(json.dumps(f))
            paths.append(str(p))
        rc = main.main(["doctor", "--no-local", "--compare", *paths])
        out = capsys.readouterr().out
        assert rc == 3
        assert "checked: node1, node2" in out
        assert "ERROR   [cluster] timeouts:" in out and "fix: set O2CB_HEARTBEAT_THRESHOLD" in out

    def test_peers_via_prefix(self, two, fake_exec, monkeypatch, capsys):
        monkeypatch.setattr(facts, "gather", lambda **kw: two["node1"])
        fake_exec.on(["ssh", "node2"], json_out=two["node2"])
        rc = main.main(["doctor", "--json", "--peer", "node2=ssh node2",
                        "--remote-cli", "env PYTHONPATH=/opt/x python3 -m cinder_ocfs2.cli.main"])
        assert rc == 0
        assert fake_exec.ran("ssh") == [[
            "ssh", "node2", "env", "PYTHONPATH=/opt/x", "python3", "-m",
            "cinder_ocfs2.cli.main", "doctor", "--facts", "--base", facts.DEFAULT_BASE]]
        out = json.loads(capsys.readouterr().out)
        assert out == {"nodes": ["node1", "node2"], "ok": True, "findings": []}

    def test_peer_that_prints_garbage(self, two, fake_exec, monkeypatch, capsys):
        monkeypatch.setattr(facts, "gather", lambda **kw: two["node1"])
        fake_exec.on(["ssh"], "bash: cinder-ocfs2: command not found", rc=127)
        assert main.main(["doctor", "--peer", "node2=ssh node2"]) == 1
        assert "--> CliError: ssh node2 cinder-ocfs2 doctor --facts" in capsys.readouterr().err


# --- accounts (libvirt chowns attached volume files) ---------------------------

PASSWD = """root:x:0:0:root:/root:/bin/bash
libvirt-qemu:x:64055:103:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin
cinder:x:120:120::/var/lib/cinder:/usr/sbin/nologin
"""
GROUP = """kvm:x:103:libvirt-qemu
cinder:x:120:
libvirt-qemu:x:64055:libvirt-qemu
"""


def test_parse_accounts_recorded_debian() -> None:
    accounts = facts.parse_accounts(PASSWD, GROUP)
    assert accounts == {
        "libvirt-qemu": {"uid": 64055, "gid": 103, "groups": ["kvm", "libvirt-qemu"]},
        "cinder": {"uid": 120, "gid": 120, "groups": []}}


def test_account_ids_must_agree_across_nodes() -> None:
    one = facts.parse_accounts(PASSWD, GROUP)
    other = facts.parse_accounts(PASSWD.replace("64055:103", "64056:103"), GROUP)
    found = doctor._account_findings({"node1": {"accounts": one}, "node2": {"accounts": other}})
    ids = [f for f in found if f.check == "account-ids"]
    assert len(ids) == 1 and ids[0].severity == "error"
    assert "libvirt-qemu" in ids[0].message and "64056:103" in ids[0].message
    assert "same uid and gid" in ids[0].fix
    assert not [f for f in doctor._account_findings({"node1": {"accounts": one},
                                                     "node2": {"accounts": one}})
                if f.check == "account-ids"]


def test_cinder_outside_libvirt_qemu_group_is_warned() -> None:
    accounts = facts.parse_accounts(PASSWD, GROUP)
    found = doctor._account_findings({"node1": {"accounts": accounts}})
    assert [(f.check, f.severity, f.node) for f in found] == [
        ("cinder-reads-attached", "warning", "node1")]
    assert "usermod -aG libvirt-qemu cinder" in found[0].fix
    joined = facts.parse_accounts(PASSWD, GROUP.replace("libvirt-qemu:x:64055:libvirt-qemu",
                                                            "libvirt-qemu:x:64055:libvirt-qemu,cinder"))
    assert not doctor._account_findings({"node1": {"accounts": joined}})
    assert not doctor._account_findings({"node1": {"accounts": {}}})  # no libvirt: nothing


def test_pool_root_cinder_cannot_write_is_warned_once_per_filesystem() -> None:
    accounts = facts.parse_accounts(PASSWD, GROUP.replace(
        "libvirt-qemu:x:64055:libvirt-qemu", "libvirt-qemu:x:64055:libvirt-qemu,cinder"))
    roots = {"uid": 0, "gid": 0, "mode": 0o755}
    fs = {"uuid": "U1", "label": "lab0", "mount_point": "/var/lib/cinder/ocfs2/lab0",
          "root_owner": roots}
    node = {"accounts": accounts, "filesystems": [fs]}
    found = doctor._account_findings({"node1": node, "node2": node})
    assert [(f.check, f.severity) for f in found] == [("pool-owner", "warning")]
    assert "0:0 755" in found[0].message
    assert found[0].fix.startswith("chown cinder:cinder /var/lib/cinder/ocfs2/lab0")
    for owner in ({"uid": 120, "gid": 120, "mode": 0o755},   # cinder's
                  {"uid": 0, "gid": 120, "mode": 0o775},     # its group's
                  {"uid": 0, "gid": 0, "mode": 0o1777}):     # everyone's
        ok = {"accounts": accounts, "filesystems": [dict(fs, root_owner=owner)]}
        assert not doctor._account_findings({"node1": ok}), owner
    # no cinder user on the node (its services run as root): nothing to say
    assert not doctor._account_findings({"node1": {"accounts": {}, "filesystems": [fs]}})
