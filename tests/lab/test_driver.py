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
"""The real OCFS2Driver on the real two-node OCFS2 lab.

Each test feeds steps to tests/lab/driver_harness.py on a node (one Cinder
import per call: ~20 s under emulation), and checks data written through one
node reads back identically on the other.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from lab import cluster as lab_cluster
from lab import config

pytestmark = pytest.mark.lab

HARNESS = ("PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python "
           "/opt/cinder-ocfs2/tests/lab/driver_harness.py --host node1")
POOL = "lab0"
MiB = 1 << 20
GiB = 1 << 30


def harness(node, steps: list[dict]) -> list[dict]:
    result = node.exec(HARNESS, input=json.dumps([{"op": "setup"}, *steps]), timeout=900)
    assert result.rc == 0, result.stderr[-2000:]
    results = json.loads(result.stdout)["results"]
    for res in results:
        assert res["ok"], res
    return results[1:]


def ids(n: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(n)]


def test_create_extend_attach_on_other_node_delete(node1, node2):
    (vol,) = ids(1)
    v = {"id": vol, "pool": POOL}
    created, written, extended = harness(node1, [
        {"op": "create", **v, "size": 1},
        {"op": "write", **v, "offset": 0, "nbytes": 8 * MiB, "seed": 7},
        {"op": "extend", **v, "size": 2},
    ])
    assert created["size"] == GiB and created["mode"] == "0o660"
    assert created["allocated"] < MiB  # sparse
    assert extended["size"] == 2 * GiB
    try:
        (connected,) = harness(node2, [{"op": "connect", **v}])
        assert connected["connection"]["driver_volume_type"] == "gpfs"
        assert connected["device"]["path"] == created["path"]
        assert connected["sha256"] == written["sha256"]
    finally:
        (deleted, again) = harness(node1, [{"op": "delete", **v}, {"op": "delete", **v}])
    assert not deleted["exists"]


def test_stats_match_df(node1):
    stats, df = harness(node1, [{"op": "stats"}, {"op": "df", "pool": POOL}])
    pool = {p["pool_name"]: p for p in stats["stats"]["pools"]}[POOL]
    assert pool["backend_state"] == "up"
    assert abs(pool["total_capacity_gb"] - df["size"] / GiB) < 0.01
    assert abs(pool["free_capacity_gb"] - df["avail"] / GiB) < 0.02
    assert pool["location_info"].startswith("OCFS2Driver:")
    assert pool["ocfs2_reflink"] is True


def test_snapshot_clone_revert_share_space_and_read_on_other_node(node1, node2):
    vol, snap, clone, from_snap = ids(4)
    v = {"id": vol, "pool": POOL}
    s = {**v, "snap": snap}
    try:
        res = harness(node1, [
            {"op": "create", **v, "size": 1},
            # 128 MiB: far more than OCFS2's local-alloc window, so a full copy
            # would show in df.
            {"op": "write", **v, "offset": 0, "nbytes": 128 * MiB, "seed": 1},
            {"op": "df", "pool": POOL},
            {"op": "snapshot", **s},
            {"op": "clone", **v, "new": clone, "size": 2},
            {"op": "from_snapshot", **s, "new": from_snap, "size": 3},
            {"op": "df", "pool": POOL},
            {"op": "extents", **s},
            {"op": "extents", "id": clone, "pool": POOL},
            {"op": "write", **v, "offset": 0, "nbytes": 16 * MiB, "seed": 2},
        ])
        _created, before, df0, _snap, cloned, from_s, df1, snap_ext, clone_ext, after = res
        # Three copies of 128 MiB and df barely moves: the extents are shared.
        assert df1["used"] - df0["used"] < 16 * MiB, (df0, df1)
        assert snap_ext["shared"] == snap_ext["extents"] > 0, snap_ext
        assert clone_ext["shared"] == clone_ext["extents"] > 0, clone_ext
        assert cloned["size"] == 2 * GiB and from_s["size"] == 3 * GiB
        assert after["sha256"] != before["sha256"]

        on2 = harness(node2, [
            {"op": "checksum", **s},
            {"op": "checksum", "id": clone, "pool": POOL},
            {"op": "checksum", "id": from_snap, "pool": POOL},
            {"op": "checksum", **v},
        ])
        assert [r["sha256"] for r in on2] == [before["sha256"]] * 3 + [after["sha256"]]

        harness(node1, [{"op": "revert", **s}])
        (reverted,) = harness(node2, [{"op": "checksum", **v}])
        assert reverted["sha256"] == before["sha256"]
    finally:
        harness(node1, [
            {"op": "delete_snapshot", **s},
            *({"op": "delete", "id": i, "pool": POOL} for i in (vol, clone, from_snap)),
        ])


def test_filesystem_mounted_later_becomes_pool_without_restart(lab, node1):
    """The operators' top complaint: a new disk needed a cinder-volume restart."""
    label = "drvhot"
    if label not in lab.state.disks:
        lab.add_disk(label=label, size="1G", format=True)
    mnt = f"{config.MOUNT_ROOT}/{label}"
    node1.sh(f"mkdir -p {mnt}; if mountpoint -q {mnt}; then umount {mnt}; fi")
    steps = [{"op": "setup"},
             {"op": "watch", "pool": label, "timeout": 240, "marker": "/tmp/drv-watch"}]
    node1.write_file("/tmp/drv-steps.json", json.dumps(steps))
    node1.sh("rm -f /tmp/drv-watch /tmp/drv-out.json")
    node1.spawn(f"{HARNESS} --steps /tmp/drv-steps.json --out /tmp/drv-out.json",
                log="/tmp/drv-watch.log")
    deadline = time.monotonic() + 300
    while node1.exec("test -f /tmp/drv-watch").rc != 0:
        assert time.monotonic() < deadline, node1.sh("cat /tmp/drv-watch.log")
        time.sleep(2)
    time.sleep(5)  # at least one refresh sees it unmounted
    lab.mount(label, [node1])
    while node1.exec("test -f /tmp/drv-out.json").rc != 0:
        assert time.monotonic() < deadline, node1.sh("cat /tmp/drv-watch.log")
        time.sleep(2)
    watch = json.loads(node1.sh("cat /tmp/drv-out.json"))["results"][1]
    log = node1.sh("cat /tmp/drv-watch.log")
    assert watch["ok"], watch
    states = [state for state, _ in watch["transitions"]]
    assert states[0] in ("absent", "down") and states[-1] == "up", watch
    assert watch["pool"]["total_capacity_gb"] > 0
    # Logged on the state change, not at every refresh.
    assert log.count(f"OCFS2 pool {label} is up") == 1, log
    assert log.count(f"OCFS2 pool {label} is down") <= 1, log


def _ensure_disk(lab, label: str, features: str) -> None:
    """A 1G shared disk formatted with ``features``, mounted on every node."""
    if label not in lab.state.disks:
        lab.add_disk(label=label, size="1G")
        node = lab.running_nodes()[0]
        argv = [a if not a.startswith("--fs-features=") else f"--fs-features={features}"
                for a in lab_cluster.mkfs_args(label)]
        node.exec([*argv, lab.device(node, label)], timeout=300, check=True)
    lab.mount(label)


def test_no_refcount_and_cross_filesystem_fall_back_to_sparse_copies(lab, node1, node2):
    label = "drvnoref"
    _ensure_disk(lab, label, "norefcount,xattr")
    vol, snap, clone = ids(3)
    v = {"id": vol, "pool": label}
    s = {**v, "snap": snap}
    try:
        stats, _c, written, _s, snap_ext, _cl = harness(node1, [
            {"op": "stats"},
            {"op": "create", **v, "size": 1},
            {"op": "write", **v, "offset": 0, "nbytes": 16 * MiB, "seed": 5},
            {"op": "snapshot", **s},
            {"op": "extents", **s},
            {"op": "clone", **v, "to_pool": POOL, "new": clone, "size": 2},  # other fs
        ])
        pools = {p["pool_name"]: p for p in stats["stats"]["pools"]}
        assert pools[label]["ocfs2_reflink"] is False and pools[POOL]["ocfs2_reflink"]
        assert snap_ext["shared"] == 0 < snap_ext["extents"]
        on2 = harness(node2, [{"op": "checksum", **s},
                              {"op": "checksum", "id": clone, "pool": POOL}])
        assert [r["sha256"] for r in on2] == [written["sha256"]] * 2
        assert on2[1]["size"] == 2 * GiB
    finally:
        harness(node1, [{"op": "delete_snapshot", **s}, {"op": "delete", **v},
                        {"op": "delete", "id": clone, "pool": POOL}])
