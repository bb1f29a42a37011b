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
"""Faults of one pool under running services: a read-only remount, a vanished mount.

Both break the second pool of backend ``ocfs2`` (``lab1``) on every node
while its cinder-volume services keep running, drive Cinder through the
CLI while it is broken, repair it, and check that:

- the pool goes down with the reason in ``cinder get-pools --detail``, and
  comes back up at a later stats refresh without a restart (same pids);
- operations on it fail with a clean Cinder state and create nothing;
- the log says so once per state change, not at every refresh;
- no data is lost (checksums) and no file is left behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from e2e import clients, config, nodes
from e2e.api import (
    LogMark,
    cinder_volume_pids,
    ensure_type,
    force_delete,
    get_pools,
    log_count,
    log_mark,
    orphans,
    osc,
    osc_json,
    pool_files,
    pool_of,
    sha_head,
    state,
    volume_file,
    wait,
    wait_gone,
    write_pattern,
)
from lab import cluster
from lab.lab import Lab

pytestmark = [pytest.mark.lab]

POOL = config.SECOND_LABEL
MOUNT = nodes.pool_dir(POOL)
TYPE = f"fault-{POOL}"
#: Stats refresh every periodic_interval (20 s) on each node; the scheduler keeps the
#: last report of the active-active cluster. A state change shows within two reports.
STATE_TIMEOUT = 180
#: ``-i``: not through mount.ocfs2. ocfs2-tools 1.8.7 (Debian 12) remounts and then
#: aborts ("free(): double free detected", exit 8) on ``-o remount,ro|rw``.
REMOUNT = "mount -i -o remount"


@pytest.fixture(scope="module")
def pinned_type(deployment: Lab) -> Iterator[str]:
    """A volume type whose volumes land in pool ``lab1`` only."""
    yield ensure_type(TYPE, volume_backend_name="ocfs2", pool_name=POOL)


def _pool(name: str) -> dict[str, str]:
    return next(p for p in get_pools() if p["name"].endswith(f"@ocfs2#{name}"))


def _wait_state(state: str, timeout: float = STATE_TIMEOUT) -> tuple[float, dict[str, str]]:
    """Wait until the scheduler reports pool ``lab1`` in ``state``; return (seconds, pool)."""
    t0 = time.monotonic()
    while True:
        pool = _pool(POOL)
        if pool.get("backend_state") == state:
            return time.monotonic() - t0, pool
        assert time.monotonic() - t0 < timeout, f"pool {POOL} still {pool} after {timeout}s"
        time.sleep(5)


def _logged(names: list[str], text: str, since: LogMark, timeout: float = STATE_TIMEOUT) -> None:
    """Wait until every node in ``names`` has logged ``text`` since ``since``."""
    deadline = time.monotonic() + timeout
    while missing := [n for n in names if not log_count(n, text, since)]:
        assert time.monotonic() < deadline, f"{missing} never logged {text!r}"
        time.sleep(5)


def _create(name: str, type_: str, size: int = 1) -> dict[str, Any]:
    return osc_json("volume", "create", name, "--size", str(size), "--type", type_)


def _fails(kind: str, ident: str, timeout: float = 600) -> str:
    """Wait for ``kind`` ``ident`` to reach an error state; return it."""
    deadline = time.monotonic() + timeout
    while True:
        status = str(state(kind, ident))
        if status.startswith("error"):
            return status
        assert status not in ("available", "in-use"), f"{kind} {ident} became {status}"
        assert time.monotonic() < deadline, f"{kind} {ident} still {status}"
        time.sleep(1)


def _cleanup(*ids: str) -> None:
    for ident in ids:
        shown = clients.cli(["openstack", "volume", "show", ident, "-f", "json"], check=False)
        if shown.returncode == 0:
            force_delete({"ID": ident, "Status": ""})
    for ident in ids:
        wait_gone("volume", ident, timeout=600)


def _both(lab: Lab, script: str) -> None:
    for node in lab.running_nodes():
        node.sh(script, timeout=180)


def test_read_only_remount(deployment: Lab, pinned_type: str, report) -> None:
    """Read-only remount of a pool (errors=remount-ro)."""
    node1 = deployment.node("node1")
    names = [n.name for n in deployment.running_nodes()]
    pids = {n.name: cinder_volume_pids(n) for n in deployment.running_nodes()}
    keep = wait("volume", _create("fault-ro-keep", pinned_type)["id"], "available")
    sha = write_pattern(node1, volume_file(keep), "fault-ro", mib=4)
    before = pool_files(node1)
    mark = log_mark()
    _both(deployment, f"{REMOUNT},ro {MOUNT}")
    report.faults += len(names)
    created: list[str] = [keep["id"]]
    try:
        _, pool = _wait_state("down")
        _logged(names, f"OCFS2 pool {POOL} is down", mark)
        assert "read-only" in pool.get("backend_state_reason", ""), pool
        assert "remount rw" in pool["backend_state_reason"], pool  # names the fix
        # While it is read-only: a create and a snapshot there fail cleanly.
        vol = _create("fault-ro-new", pinned_type)
        created.append(vol["id"])
        report.in_flight += 2
        assert _fails("volume", vol["id"]) == "error"
        snap = osc_json("volume", "snapshot", "create", "--volume", keep["id"], "fault-ro-snap")
        assert _fails("volume snapshot", snap["id"]) == "error"
        assert pool_files(node1) == before, "a failed operation changed the read-only pool"
        time.sleep(45)  # two more refreshes: the state is logged once, not at each
    finally:
        _both(deployment, f"{REMOUNT},rw {MOUNT}")
    report.recovery_s, _ = _wait_state("up")
    _logged(names, f"OCFS2 pool {POOL} is up", mark)
    assert {n.name: cinder_volume_pids(n) for n in deployment.running_nodes()} == pids, \
        "the pool came back only after a service restart"
    for name in names:
        assert log_count(name, f"OCFS2 pool {POOL} is down", mark) == 1, name
        assert log_count(name, f"OCFS2 pool {POOL} is up", mark) == 1, name
    # The failed snapshot's delete needs its pool, so it waits for the repair.
    osc("volume", "snapshot", "delete", snap["id"])
    wait_gone("volume snapshot", snap["id"])
    vol = wait("volume", _create("fault-ro-after", pinned_type)["id"], "available")
    created.append(vol["id"])
    assert pool_of(vol) == POOL
    if sha_head(deployment.node("node2"), volume_file(keep), mib=4) != sha:
        report.data_lost += 1
    _cleanup(*created)
    report.orphans = len(orphans(node1))
    assert report.data_lost == 0 and report.orphans == 0, orphans(node1)


def test_mount_vanishes_under_running_service(deployment: Lab, pinned_type: str,
                                              report) -> None:
    """A pool's mount vanishes (umount -l) under running services."""
    node1, node2 = deployment.node("node1"), deployment.node("node2")
    names = [n.name for n in deployment.running_nodes()]
    victim = wait("volume", _create("fault-umount-victim", pinned_type)["id"], "available")
    path = volume_file(victim)
    sha = write_pattern(node1, path, "fault-umount", mib=4)
    mark = log_mark()
    _both(deployment, f"umount -l {MOUNT}")
    report.faults += len(names)
    created = [victim["id"]]
    try:
        _, pool = _wait_state("down")
        _logged(names, f"OCFS2 pool {POOL} is down", mark)
        assert "no filesystem is mounted" in pool.get("backend_state_reason", ""), pool
        # New volumes land on the pools that are still there.
        other = wait("volume", _create("fault-umount-elsewhere", "ocfs")["id"], "available")
        created.append(other["id"])
        assert pool_of(other) != POOL, other
        # A delete of a volume on the missing pool must fail, not "succeed" and leave
        # the file behind on the unmounted filesystem.
        osc("volume", "delete", victim["id"])
        report.in_flight += 2
        assert _fails("volume", victim["id"]) == "error_deleting"
    finally:
        for node in deployment.running_nodes():
            node.sh(cluster.mount_script(POOL), timeout=180)
    report.recovery_s, _ = _wait_state("up")
    if sha_head(node2, path, mib=4) != sha:
        report.data_lost += 1
    for name in names:
        assert log_count(name, f"OCFS2 pool {POOL} is down", mark) == 1, name
    # Mounted again: the same delete now works and removes the file.
    osc("volume", "set", "--state", "available", victim["id"])
    _cleanup(*created)
    assert not node2.exec(["test", "-e", path]).ok, f"{path} left after the delete"
    report.orphans = len(orphans(node1))
    assert report.data_lost == 0 and report.orphans == 0, orphans(node1)
