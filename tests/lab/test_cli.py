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
"""The cinder-ocfs2 CLI on the real qemu OCFS2 cluster: every verb, end to end.

The CLI runs on the nodes from the repo share
(``PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python -m cinder_ocfs2.cli.main``);
multi-node verbs run on the host with ``--no-local`` and reach the nodes
through ``python -m lab exec NODE`` as their ``--peer`` prefix, exactly as an
operator would use ``ssh NODE``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid as uuidlib

import pytest

from lab import cluster as labcluster
from lab import config, image

pytestmark = pytest.mark.lab

REPO = str(config.REPO_ROOT)
NODE_CLI = ["env", f"PYTHONPATH={config.GUEST_SRC}", f"{config.GUEST_VENV}/bin/python", "-m",
            "cinder_ocfs2.cli.main"]
MOUNT = config.MOUNT_ROOT
LAB0 = f"{MOUNT}/{config.DEFAULT_LABEL}"


def cli(node, *args: str, timeout: float = 600):
    """Run cinder-ocfs2 on a lab node."""
    return node.exec([*NODE_CLI, *args], timeout=timeout)


def peer(name: str) -> list[str]:
    return ["--peer", f"{name}={shlex.quote(sys.executable)} -m lab exec {name}"]


def host_cli(lab, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    """Run cinder-ocfs2 on the host, reaching nodes through `lab exec` prefixes.

    This process's own agent connections are closed first (they reconnect on
    the next ``exec``): agents before 338bf0d served one connection at a time.
    """
    for i in range(1, config.MAX_NODES + 1):
        lab.node(i).agent.close()
    env = {**os.environ, "CINDER_OCFS2_REMOTE_CLI": shlex.join(NODE_CLI),
           "PYTHONPATH": REPO}
    return subprocess.run([sys.executable, "-m", "cinder_ocfs2.cli.main", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def ocfs2_mounts(node) -> list[tuple[str, str]]:
    out = node.exec("awk '$3 == \"ocfs2\" {print $1, $2}' /proc/mounts").stdout
    return [tuple(line.split()) for line in out.splitlines() if line.strip()]


def test_status_json_shows_nodes_and_filesystems(node1):
    r = cli(node1, "status", "--json")
    s = json.loads(r.stdout)
    assert r.rc == 0, (s["problems"], r.stderr)
    assert s["cluster"]["name"] == config.CLUSTER and s["cluster"]["online"]
    assert s["cluster"]["heartbeat_mode"] == "local"
    up = {n["name"]: n for n in s["nodes"] if n["up"]}
    assert {"node1", "node2"} <= set(up)
    assert up["node2"]["ip"] == config.node_ip(2) and up["node2"]["connected"]
    lab0 = next(fs for fs in s["filesystems"] if fs["mount_point"] == LAB0)
    assert lab0["label"] == config.DEFAULT_LABEL and lab0["refcount"] is True
    assert {"node1", "node2"} <= set(lab0["mounted_on"])
    assert {"node1", "node2"} <= set(lab0["dlm_members"])
    assert lab0["slots_max"] == config.SLOTS and lab0["slots_used"] >= 2
    assert "errors=remount-ro" in lab0["options"] and lab0["size_bytes"] > 0
    assert s["cluster_conf_matches"] is True
    text = cli(node1, "status").stdout
    assert "cluster labcluster: online, heartbeat local" in text


def test_doctor_across_nodes_finds_no_errors(lab):
    r = host_cli(lab, "doctor", "--no-local", *peer("node1"), *peer("node2"), "--json")
    assert r.stdout.strip(), r.stderr[-3000:]
    report = json.loads(r.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    assert r.returncode == 0 and not errors, (errors, r.stderr[-2000:])
    assert report["nodes"] == ["node1", "node2"]


def test_doctor_finds_differing_cluster_conf(lab, node2):
    """cluster.conf edited on one node only: doctor across nodes names it.

    (Non-uniform timeouts are unit-tested only: the kernel ignores or refuses
    timeout changes while heartbeat regions or o2net connections are active,
    so they can only differ from registration on.)
    """
    node2.exec(["cp", "/etc/ocfs2/cluster.conf", "/root/cluster.conf.cli-diff"], check=True)
    try:
        node2.exec(["o2cb", "add-node", config.CLUSTER, "ghost", "--ip", "10.77.0.99",
                    "--number", "9"], check=True)
        r = host_cli(lab, "doctor", "--no-local", *peer("node1"), *peer("node2"), "--json")
        assert r.returncode == 3, r.stderr[-2000:]
        found = {(f["check"], f["node"]): f for f in json.loads(r.stdout)["findings"]}
        assert found[("cluster-conf-differs", "cluster")]["severity"] == "error"
        assert "ghost is in cluster.conf but not registered" in \
            found[("configfs-stale", "node2")]["message"]
        print(host_cli(lab, "doctor", "--no-local", *peer("node1"), *peer("node2")).stdout)
    finally:
        node2.exec(["cp", "/root/cluster.conf.cli-diff", "/etc/ocfs2/cluster.conf"])
    r = host_cli(lab, "doctor", "--no-local", *peer("node1"), *peer("node2"), "--json")
    assert r.returncode == 0, r.stdout


def test_doctor_finds_container_that_cannot_see_a_mount(node1):
    """A 'cinder-volume' in a private mount namespace that lacks lab0 (kolla without
    rshared/rslave, container started before the disk was mounted)."""
    pid = node1.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f"umount {LAB0} && exec python3 -c \"import os; "
                       "os.execv('/bin/sleep', ['cinder-volume', '600'])\""])
    try:
        for _ in range(30):
            ps = node1.exec(["pgrep", "-f", "^cinder-volume"]).stdout.split()
            if ps:
                break
            node1.exec(["sleep", "1"])
        assert ps, "the fake cinder-volume did not start"
        r = cli(node1, "doctor", "--json")
        assert r.rc == 3, r.stderr
        (f,) = [x for x in json.loads(r.stdout)["findings"] if x["check"] == "propagation"]
        assert f["severity"] == "error" and f"pid {ps[0]}" in f["message"]
        assert "rshared" in f["fix"]
        print(f)
    finally:
        node1.exec(f"pkill -f '^cinder-volume'; kill {pid} 2>/dev/null; true")


def _mount_error_and_doctor(node, dev: str, mp: str, mount_error: str) -> dict:
    r = node.exec(["mount", "-t", "ocfs2", "-o", config.MOUNT_OPTIONS, dev, mp], timeout=120)
    assert r.rc != 0 and mount_error in r.stderr + r.stdout, r.stderr
    d = cli(node, "doctor", "--json")
    assert d.rc == 3, d.stderr
    findings = {f["check"]: f for f in json.loads(d.stdout)["findings"]}
    assert mount_error in findings["o2cb-registered"]["message"]
    print(cli(node, "doctor").stdout)  # the operator's view, kept in the test log
    return findings


def test_doctor_explains_internal_logic_failure(lab, node2):
    """The operators' removal runbook on node2, step by step, diagnosed at each mount failure.

    * o2cb unregistered: "Cluster name is invalid while trying to join the group";
    * node2 removed from its own cluster.conf and the cluster re-registered (what
      `o2cb remove-node` on every node does): no local node, and mount.ocfs2 says
      "Internal logic failure while trying to join the group";
    * node2's o2net address removed from its NIC: the same message, and doctor
      names the missing address.
    """
    mounted = ocfs2_mounts(node2)
    dev, mp = next((d, m) for d, m in mounted if m == LAB0)
    ip = config.node_ip(2)
    node2.exec(["cp", "/etc/ocfs2/cluster.conf", "/root/cluster.conf.cli-test"], check=True)
    try:
        for _, m in mounted:
            node2.exec(["umount", m], timeout=120, check=True)
        node2.exec(["o2cb", "unregister-cluster", config.CLUSTER], timeout=60, check=True)
        found = _mount_error_and_doctor(
            node2, dev, mp, "Cluster name is invalid while trying to join the group")
        assert found["o2cb-registered"]["fix"].startswith(
            f"run `o2cb register-cluster {config.CLUSTER}`")

        node2.exec(["o2cb", "remove-node", config.CLUSTER, "node2"], check=True)
        node2.exec(["o2cb", "register-cluster", config.CLUSTER], timeout=60, check=True)
        found = _mount_error_and_doctor(
            node2, dev, mp, "Internal logic failure while trying to join the group")
        assert "put it back in cluster.conf" in found["o2cb-registered"]["fix"]
        assert found["node-name"]["severity"] == "error"

        # the lab's other cause of the same message: the node's o2net IP is gone
        node2.exec(f"o2cb unregister-cluster {config.CLUSTER}; cp /root/cluster.conf.cli-test "
                   f"/etc/ocfs2/cluster.conf; ip -o addr show | awk '/ {ip}\\// {{print $2}}' "
                   f"> /tmp/cli-test-nic; ip addr del {ip}/{config.PREFIX} dev "
                   "$(cat /tmp/cli-test-nic); o2cb register-cluster "
                   f"{config.CLUSTER}; true", timeout=120)
        found = _mount_error_and_doctor(
            node2, dev, mp, "Internal logic failure while trying to join the group")
        assert found["local-address"]["fix"].startswith(f"bring up the interconnect with {ip}")
    finally:
        node2.exec(f"[ -s /tmp/cli-test-nic ] && ip addr add {ip}/{config.PREFIX} dev "
                   "$(cat /tmp/cli-test-nic) && ip link set $(cat /tmp/cli-test-nic) up; "
                   "rm -f /tmp/cli-test-nic; "
                   f"o2cb unregister-cluster {config.CLUSTER}; cp /root/cluster.conf.cli-test "
                   "/etc/ocfs2/cluster.conf", timeout=120)
        node2.sh(labcluster.register_script(), timeout=120)
        for d, m in mounted:  # (lab.mount's script trips over a second disk: set -e)
            node2.exec(["mount", "-t", "ocfs2", "-o", config.MOUNT_OPTIONS, d, m], timeout=180)
    assert cli(node2, "status").rc == 0


def test_disk_add_refuses_data_formats_adopts_and_pool_appears(lab, node1, node2):
    label = "cli" + uuidlib.uuid4().hex[:6]
    lab.add_disk(label=label, size="1G")
    dev1 = lab.device(node1, label)
    mp = f"{MOUNT}/{label}"
    try:
        node1.exec(["mkfs.ext4", "-q", dev1], timeout=120, check=True)
        r = cli(node1, "disk", "add", dev1, "--label", label, "--yes")
        assert r.rc == 5 and "holds data (ext4" in r.stderr, r.stderr
        print(r.stderr)
        dry = cli(node1, "disk", "add", dev1, "--label", label, "--force", "--dry-run",
                  "--json")
        plan = json.loads(dry.stdout)
        assert plan["action"] == "format" and plan["mount_point"] == mp
        # one long-lived process, like cinder-volume: its pool monitor sees the new
        # filesystem on the next refresh after `disk add`, without a restart
        script = (
            "import json\n"
            "from cinder_ocfs2 import filesystems\n"
            "from cinder_ocfs2.cli import main\n"
            f"m = filesystems.PoolMonitor([], {MOUNT!r})\n"
            "before = sorted(m.refresh())\n"
            f"rc = main.main(['disk', 'add', {dev1!r}, '--label', {label!r}, '--force', "
            "'--yes'])\n"
            "after = sorted(m.refresh())\n"
            "print(json.dumps({'rc': rc, 'before': before, 'after': after}))\n")
        r = node1.exec(["env", f"PYTHONPATH={config.GUEST_SRC}",
                        f"{config.GUEST_VENV}/bin/python", "-c", script], timeout=600)
        assert r.rc == 0, r.stderr
        print(r.stdout, r.stderr)
        *_, cli_line, json_line = r.stdout.strip().splitlines()
        seen = json.loads(json_line)
        assert seen["rc"] == 0
        assert label not in seen["before"] and label in seen["after"], seen
        _, fs_uuid, mount_point = cli_line.split()
        assert mount_point == mp
        r = cli(node2, "disk", "add", f"UUID={fs_uuid}", "--yes")  # adopt on the other node
        assert r.rc == 0, r.stderr
        assert not any("mkfs" in line for line in r.stderr.splitlines())
        for node in (node1, node2):
            fstab = node.exec(["cat", "/etc/fstab"]).stdout
            assert f"UUID={fs_uuid}\t{mp}\tocfs2\t" in fstab and "_netdev" in fstab
        s = json.loads(cli(node1, "status", "--json").stdout)
        fs = next(f for f in s["filesystems"] if f["mount_point"] == mp)
        assert fs["refcount"] is True and set(fs["mounted_on"]) == {"node1", "node2"}
        assert fs["slots_max"] >= 4
    finally:
        for node in (node1, node2):
            node.exec(f"umount {mp} 2>/dev/null; sed -i '\\#[[:space:]]{mp}[[:space:]]#d' "
                      "/etc/fstab; rmdir " + mp + " 2>/dev/null; true", timeout=120)


@pytest.mark.parametrize("engine", ["builtin", "fio"])
def test_verify_across_nodes_detects_a_corrupted_block(node1, node2, engine):
    path = f"{LAB0}/cli-verify-{engine}-{uuidlib.uuid4().hex[:8]}.dat"
    try:
        w = cli(node1, "verify", path, "--engine", engine, "--size", "16M", "--json")
        assert w.rc == 0, w.stderr
        c = cli(node2, "verify", path, "--engine", engine, "--size", "16M", "--check",
                "--json")
        assert c.rc == 0, c.stderr
        report = json.loads(c.stdout)["reports"][0]
        assert report["read_bytes"] >= 16 << 20 and report["mismatches"] == 0
        print(engine, json.loads(w.stdout)["reports"][0]["write_mib_s"], "MiB/s write,",
              report["read_mib_s"], "MiB/s read on the other node")
        # corrupt one 4k block from node2 (O_DIRECT, straight to the shared disk)
        node2.exec(["dd", "if=/dev/urandom", f"of={path}", "bs=4096", "seek=7", "count=1",
                    "conv=notrunc", "oflag=direct"], timeout=60, check=True)
        bad = cli(node1, "verify", path, "--engine", engine, "--size", "16M", "--check",
                  "--json")
        assert bad.rc == 4, bad.stderr
        report = json.loads(bad.stdout)["reports"][0]
        assert report["mismatches"] >= 1
        assert 7 * 4096 in [b["offset"] for b in report["bad_blocks"]]
        print(cli(node1, "verify", path, "--engine", engine, "--size", "16M", "--check").stdout)
    finally:
        node1.exec(["rm", "-f", path])


def _boot_bare(lab, index: int):
    """Boot node<index> with the shared disks but without joining the cluster."""
    node = lab.node(index)
    img = image.build(say=lambda m: None)
    node.vm.create_overlay(img)
    node.vm.start(img, lab.disks)
    lab._wait_agent(node)
    return node


def test_node_add_then_remove_a_third_node_online(lab, node1, node2):
    """Grow 2 -> 3 while node1 keeps lab0 mounted, then remove node3 cleanly."""
    if lab.state.nodes >= 3 or lab.node(3).running():
        pytest.skip("node3 is already part of this lab")
    peers = [*peer("node1"), *peer("node2"), *peer("node3")]
    node3 = _boot_bare(lab, 3)
    try:
        node3.exec("rm -f /etc/ocfs2/cluster.conf", timeout=30)
        dry = host_cli(lab, "node", "add", "node3", "--ip", config.node_ip(3), "--no-local",
                       *peers, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        print(dry.stdout)
        r = host_cli(lab, "node", "add", "node3", "--ip", config.node_ip(3), "--no-local", *peers,
                     "--yes")
        assert r.returncode == 0, r.stderr[-3000:]
        assert (LAB0 in node1.exec(["cat", "/proc/mounts"]).stdout)  # never unmounted
        s = json.loads(cli(node1, "status", "--json").stdout)
        assert {"node1", "node2", "node3"} <= {n["name"] for n in s["nodes"] if n["up"]}
        lab0 = next(f for f in s["filesystems"] if f["mount_point"] == LAB0)
        assert "node3" in lab0["mounted_on"] and "node3" in lab0["dlm_members"]
        token = uuidlib.uuid4().hex
        node3.exec(["sh", "-c", f"echo {token} > {LAB0}/cli-node3-{token}"], check=True)
        assert node1.exec(["cat", f"{LAB0}/cli-node3-{token}"]).stdout.strip() == token
        node1.exec(["rm", "-f", f"{LAB0}/cli-node3-{token}"])

        refused = host_cli(lab, "node", "remove", "node3", "--no-local", *peers, "--yes")
        assert refused.returncode == 5 and "node3 still mounts" in refused.stderr
        print(refused.stderr)

        for _, mp in ocfs2_mounts(node3):
            node3.exec(["umount", mp], timeout=120, check=True)
        r = host_cli(lab, "node", "remove", "node3", "--no-local", *peers, "--yes")
        assert r.returncode == 0, r.stderr[-3000:]
        print(r.stdout, r.stderr)
        for node in (node1, node2):
            conf = node.exec(["cat", "/etc/ocfs2/cluster.conf"]).stdout
            assert "node3" not in conf
            assert node.exec(["test", "-e", f"/sys/kernel/config/cluster/{config.CLUSTER}"
                                            "/node/node3"]).rc != 0
        # the remaining nodes still mount (remounted with the CLI itself)
        node2.exec(["umount", LAB0], timeout=120, check=True)
        r = cli(node2, "disk", "add", f"UUID={lab0['uuid']}", "--yes")
        assert r.rc == 0, r.stderr
        assert cli(node2, "status").rc == 0
        d = host_cli(lab, "doctor", "--no-local", *peer("node1"), *peer("node2"), "--json")
        assert not [f for f in json.loads(d.stdout)["findings"] if f["severity"] == "error"]
    finally:
        lab.kill("node3")
        _wait_heartbeat_gone(node1, number=2)


def _wait_heartbeat_gone(node, number: int, timeout: float = 120.0) -> None:
    """Until ``node`` no longer sees node ``number`` heartbeat.

    A node killed or unmounted stays live on its peers for o2cb's dead
    threshold.  Powering off another node inside that window would leave
    ``node`` with a minority of a three-node quorum, and it would fence itself.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = node.exec(["cat", "/sys/kernel/debug/o2hb/livenodes"]).stdout.split()
        if str(number) not in live:
            return
        time.sleep(2)
    pytest.fail(f"{node.name} still sees node {number} heartbeat after {timeout:.0f} s")
