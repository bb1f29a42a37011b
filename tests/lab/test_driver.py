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
import uuid

import pytest

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
            {"op": "write", **v, "offset": 0, "nbytes": 16 * MiB, "seed": 1},
            {"op": "df", "pool": POOL},
            {"op": "snapshot", **s},
            {"op": "clone", **v, "new": clone, "size": 2},
            {"op": "from_snapshot", **s, "new": from_snap, "size": 3},
            {"op": "df", "pool": POOL},
            {"op": "write", **v, "offset": 0, "nbytes": 16 * MiB, "seed": 2},
        ])
        _created, before, df0, _snap, cloned, from_s, df1, after = res
        assert df1["used"] - df0["used"] < 2 * MiB, "reflinks must share extents"
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
