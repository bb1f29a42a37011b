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
"""I/O survives a peer's death: ``cinder-ocfs2 verify`` (fio, ``verify=crc32c``) writes
a Cinder volume's file from node1 while node2 is powered off and boots again.

node1's writer must finish with its own read-back clean, a ``--check`` of the
pattern on node2 after it rejoined must find 0 bad blocks, and node2's
cinder-volume services must serve again (the deployment is whole afterwards).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from e2e import config, deploy, nodes
from e2e.api import clean_up, ensure_type, orphans, osc_json, volume_file, wait
from lab.lab import Lab

pytestmark = [pytest.mark.lab]

NODE_CLI = ["env", f"PYTHONPATH={config.NODE_SRC}", f"{config.NODE_VENV}/bin/python", "-m",
            "cinder_ocfs2.cli.main"]
#: Enough random 4k writes (fio, iodepth 32, O_DIRECT) to outlast the kill by far.
SIZE = "256M"
PREFIX = "fault-peer-"


def _verify(node: Any, path: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    res = node.exec([*NODE_CLI, "verify", path, "--engine", "fio", "--size", SIZE, "--json",
                     *extra], timeout=1800)
    try:
        report = json.loads(res.stdout)
    except ValueError:
        report = {}
    return res.rc, report, res.stdout[-2000:] + res.stderr[-2000:]


def test_io_survives_peer_death(deployment: Lab, report) -> None:
    """I/O survives a peer's death (fio verify while node2 dies and rejoins)."""
    node1, node2 = deployment.node("node1"), deployment.node("node2")
    kind = ensure_type(f"{PREFIX}{config.PRIMARY_LABEL}", volume_backend_name="ocfs2",
                       pool_name=config.PRIMARY_LABEL)
    vol = wait("volume", osc_json("volume", "create", f"{PREFIX}fio", "--size", "1",
                                  "--type", kind)["id"], "available")
    path = volume_file(vol)
    written: dict[str, Any] = {}

    def write() -> None:
        written["rc"], written["report"], written["out"] = _verify(
            node1, path, "--destroy-existing-data")
        written["done"] = time.monotonic()

    writer = threading.Thread(target=write, daemon=True)
    t0 = time.monotonic()
    writer.start()
    node1.sh("for i in $(seq 120); do pgrep -x fio >/dev/null && exit 0; sleep 1; done; "
             "exit 1", timeout=180)
    time.sleep(5)  # fio is writing
    assert writer.is_alive(), f"fio finished before the kill: {written}"
    kill_at = time.monotonic()
    deployment.kill("node2")
    report.faults, report.in_flight = 1, 1
    writer.join(timeout=1800)
    assert not writer.is_alive(), "the writer on node1 never finished"
    print(f"\nfio on node1: {kill_at - t0:.0f} s before the kill, finished "
          f"{written['done'] - kill_at:.0f} s after it; rc {written['rc']}")
    assert written["rc"] == 0 and written["report"].get("ok"), written["out"]
    # node2 comes back and rejoins; its services serve again.
    since = deploy.nodes_now(deployment)
    boot = nodes.rejoin(deployment, "node2")
    deploy.wait_services(len(deployment.running_nodes()) * (len(config.BACKENDS) + 1),
                         since=since)
    report.recovery_s = time.monotonic() - kill_at
    print(f"node2 booted and rejoined in {boot:.0f} s; services up "
          f"{report.recovery_s:.0f} s after the kill")
    rc, checked, out = _verify(node2, path, "--check")
    reports = checked.get("reports", [])
    bad = sum(int(r.get("mismatches", 0)) for r in reports)
    report.data_lost = bad
    assert rc == 0 and checked.get("ok") and reports and bad == 0, out
    assert all(r["read_bytes"] for r in reports), out  # it really read the pattern
    clean_up(PREFIX)
    report.orphans = len(orphans(node1))
    assert report.orphans == 0, orphans(node1)
