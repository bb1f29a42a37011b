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
"""The lab's own tests: a real 2-node OCFS2 cluster behaves like the operators' one.

They run in file order; the node-kill test is last and boots node2 again, so
the session's lab is whole again for whatever runs after it.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from lab import config
from lab.lab import Lab, Node

pytestmark = pytest.mark.lab

MNT = f"{config.MOUNT_ROOT}/{config.DEFAULT_LABEL}"
MiB = 1 << 20


def domain_map(node: Node) -> set[int]:
    """Node numbers in the DLM domain of the (single) OCFS2 mount on ``node``."""
    out = node.sh("cat /sys/kernel/debug/o2dlm/*/dlm_state")
    found = re.search(r"^Domain Map:(.*)$", out, re.M)
    assert found, out
    return {int(n) for n in found.group(1).split()}


def used_bytes(node: Node, mnt: str = MNT) -> int:
    node.sh("sync")
    return int(node.sh(f"df -B1 --output=used {mnt} | tail -1").strip())


def sha256(node: Node, path: str) -> str:
    return node.sh(f"sha256sum {path}").split()[0]


def test_cluster_forms_with_every_node_in_the_dlm_domain(lab: Lab) -> None:
    expected = set(range(len(lab.nodes)))
    for node in lab.nodes:
        assert node.sh(f"findmnt -n -o FSTYPE {MNT}").strip() == "ocfs2"
        deadline = time.monotonic() + 60
        while domain_map(node) != expected and time.monotonic() < deadline:
            time.sleep(2)
        assert domain_map(node) == expected, node.name
    log = lab.nodes[0].sh("dmesg")
    assert "o2dlm: Joining domain" in log


def test_file_written_on_node1_is_identical_on_node2(node1: Node, node2: Node) -> None:
    path = f"{MNT}/cross-node.bin"
    node1.sh(f"dd if=/dev/urandom of={path} bs=1M count=8 conv=fsync status=none")
    assert sha256(node2, path) == sha256(node1, path)
    node2.sh(f"echo from-node2 >> {path}")
    assert node1.sh(f"tail -c 11 {path}") == "from-node2\n"


def test_reflink_clones_share_extents(node1: Node, node2: Node) -> None:
    d = f"{MNT}/reflink"
    node1.sh(f"rm -rf {d}; mkdir -p {d}")
    node1.sh(f"dd if=/dev/urandom of={d}/src bs=1M count=64 conv=fsync status=none")
    before = used_bytes(node1)
    for i in range(4):
        node1.sh(f"cp --reflink=always {d}/src {d}/clone{i}")
    after = used_bytes(node1)
    # Four full copies would take 256 MiB; clones only add metadata.
    assert after - before < 8 * MiB, (before, after)
    digest = sha256(node1, f"{d}/src")
    assert sha256(node2, f"{d}/clone3") == digest
    # Writing into a clone unshares only what was written (copy-on-write).
    node2.sh(f"dd if=/dev/urandom of={d}/clone0 bs=1M count=1 conv=notrunc,fsync status=none")
    assert sha256(node1, f"{d}/src") == digest
    assert sha256(node1, f"{d}/clone0") != digest
    node1.sh(f"rm -rf {d}")


FIO = ("fio --name=consistency --filename={path} --size=64M --rw=randrw --bs=4k "
       "--ioengine=libaio --iodepth=32 --direct=1 --verify=crc32 --numjobs=1")


def test_fio_cross_node_verify(node1: Node, node2: Node) -> None:
    """The operators' check: write+verify on node1, verify_only the same file on node2."""
    path = f"{MNT}/fio.dat"
    write = node1.exec(FIO.format(path=path) + " --do_verify=1", timeout=900)
    assert write.rc == 0, write.stdout + write.stderr
    assert re.search(r"err=\s*0", write.stdout), write.stdout
    verify = node2.exec(FIO.format(path=path) + " --verify_only", timeout=900)
    assert verify.rc == 0, verify.stdout + verify.stderr
    assert re.search(r"err=\s*0", verify.stdout), verify.stdout
    assert "verify:" not in verify.stderr, verify.stderr
    node1.sh(f"rm -f {path}")


def test_hot_added_disk_formats_and_mounts_on_both_nodes(lab: Lab) -> None:
    label = f"hot{int(time.time()) % 100000}"  # unique, even on a reused lab
    lab.add_disk(label=label, size="1G")
    devices = {n.name: lab.device(n, label) for n in lab.nodes}
    assert all(d.startswith("/dev/vd") for d in devices.values()), devices
    lab.format_disk(label)
    lab.mount(label)
    mnt = f"{config.MOUNT_ROOT}/{label}"
    node1, node2 = lab.node("node1"), lab.node("node2")
    node2.sh(f"echo hello-from-node2 > {mnt}/hello")
    assert node1.sh(f"cat {mnt}/hello") == "hello-from-node2\n"
    opts = node1.sh(f"findmnt -n -o OPTIONS {mnt}")
    assert "heartbeat=local" in opts and "coherency=full" in opts, opts


def test_node1_survives_node2_power_off(lab: Lab, record_property: pytest.RecordProperty) -> None:
    node1, node2 = lab.node("node1"), lab.node("node2")
    # node2 takes cluster locks on the directory and a file node1 will need.
    # sync: what node2 wrote must survive its power-off (uncommitted journal is lost).
    node2.sh(f"mkdir -p {MNT}/fault && echo before > {MNT}/fault/shared && sync "
             f"&& ls -l {MNT}/fault")
    lab.kill("node2")
    t0 = time.monotonic()
    # Blocks until o2hb declares node2 dead and o2dlm recovers its locks.
    node1.sh(f"echo after >> {MNT}/fault/shared && cat {MNT}/fault/shared "
             f"&& touch {MNT}/fault/new-file", timeout=300)
    recovery = time.monotonic() - t0
    assert node1.sh(f"cat {MNT}/fault/shared") == "before\nafter\n"
    node1.sh(f"dd if=/dev/urandom of={MNT}/fault/big bs=1M count=4 conv=fsync status=none")
    log = node1.sh("dmesg")
    assert re.search(r"o2dlm: .*recover|Node 1 leaves domain|o2hb: .*dead", log, re.I), log[-3000:]
    everyone = set(range(len(lab.nodes)))
    assert domain_map(node1) == everyone - {1}
    record_property("o2cb_recovery_seconds", round(recovery, 1))
    results = lab.state_dir / "results.json"
    data = json.loads(results.read_text()) if results.exists() else {}
    data["o2cb_recovery_seconds"] = round(recovery, 1)
    data["heartbeat_dead_threshold"] = config.HEARTBEAT_THRESHOLD
    results.write_text(json.dumps(data, indent=1) + "\n")
    print(f"\no2cb recovery after node2 power-off: {recovery:.1f}s "
          f"(dead_threshold={config.HEARTBEAT_THRESHOLD})")
    # Bring node2 back so the session's lab is whole again.
    lab.start("node2")
    assert node2.sh(f"cat {MNT}/fault/shared") == "before\nafter\n"
    deadline = time.monotonic() + 60
    while domain_map(node1) != everyone and time.monotonic() < deadline:
        time.sleep(2)
    assert domain_map(node1) == everyone
