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
"""Active-active under load: 40 concurrent operations, one cinder-volume killed mid-way.

Both nodes' cinder-volume services take operations from the cluster's queue:
creates, snapshots and clones of one source, deletes, extends and reverts.
Halfway through the submissions node2's cinder-volume (every process of it)
is killed with SIGKILL, then started again; on start Cinder's active-active
cleanup (the workers table) settles what it was doing. Required: no error
other than those the kill explains (operations not finished when it struck),
each clone and snapshot holds the source's data, nothing stays stuck (but a request
the killed service had taken and not begun, which Cinder's cleanup cannot see: the
test deletes it again with ``--force`` or resets it, as an operator would), every
coordination lock is released, and no file is left that Cinder does not own
(a killed build's temp file goes at a stats refresh once the orphan grace is over).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable

import pytest

from cinder_ocfs2 import volumes
from e2e import config, deploy, nodes, procs
from e2e.api import (
    GiB,
    cinder,
    clean_up,
    ensure_type,
    file_size,
    log_paths,
    orphans,
    osc,
    osc_json,
    sha_head,
    state,
    volume_file,
    wait,
    wait_gone,
    write_pattern,
)
from lab.lab import Lab

pytestmark = [pytest.mark.lab]

FINAL = ("available", "in-use", "deleted")
#: Statuses Cinder's active-active cleanup does not settle (objects/volume.py _is_cleanable).
NOT_CLEANABLE = ("extending", "reverting")
#: How long the killed service's work may take to settle after its restart.
SETTLE_TIMEOUT = 600


def _type() -> str:
    """A type pinned to the primary pool (so clones and snapshots are reflinks)."""
    return ensure_type("fault-aa", volume_backend_name="ocfs2",
                       pool_name=config.PRIMARY_LABEL)


def _create(name: str, type_: str, **extra: str) -> str:
    args = [arg for k, v in extra.items() for arg in (f"--{k}", v)]
    return osc_json("volume", "create", name, "--size", "1", "--type", type_, *args)["id"]


def _status(kind: str, ident: str) -> str:
    now = state(kind, ident)
    return "deleted" if now is None else now


def _sql(query: str) -> str:
    """``query``'s rows from Cinder's database, as psql prints them unaligned."""
    return procs.run(["psql", "-h", config.HOST_IP, "-p", str(config.PG_PORT), "-U",
                      "postgres", "-d", "cinder", "-tAc", query]).stdout.strip()


def _advisory_locks() -> int:
    """Coordination locks (tooz's PostgreSQL driver: advisory locks) held right now."""
    return int(_sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") or 0)


def _unclaimed(ids: set[str]) -> set[str]:
    """Of ``ids``, those whose workers row no volume service has claimed. The API writes
    the row (service_id NULL) before its cast; the manager claims it when it begins. A
    service killed between taking the message (oslo.messaging acknowledges a cast before
    dispatching it) and beginning loses the request, and Cinder's cleanup, which goes by
    service, never sees it: the resource stays deleting/creating until an operator acts."""
    if not ids:
        return set()
    listed = ",".join(f"'{i}'" for i in sorted(ids))
    return set(_sql("SELECT resource_id FROM workers WHERE NOT deleted AND service_id IS NULL"
                    f" AND resource_id IN ({listed})").split())


def _why_stuck(ids: dict[str, str]) -> str:
    """One line per stuck resource for the failure message (CI keeps only its tail):
    who claimed its workers row, and the last lines each service logged on it."""
    lines = []
    for ident in ids:
        row = _sql("SELECT w.status, w.service_id, s.host, s.binary, w.updated_at"
                   " FROM workers w LEFT JOIN services s ON s.id = w.service_id"
                   f" WHERE NOT w.deleted AND w.resource_id = '{ident}'")
        logged = []
        for log in sorted(log_paths()):
            hits = [line[:300] for line in log.read_text(errors="replace").splitlines()
                    if ident in line][-3:]
            logged += [f"{log.parent.name}/{log.name}: {hit}" for hit in hits]
        lines.append(f"{ident}: workers row {row or 'none'}; logged: {' | '.join(logged)}")
    waiting = _sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    # tooz's PostgreSQL driver has 65,536 lock keys (cinder_ocfs2/locks.py): a clone
    # whose lock names collide waits on itself.
    return f"coordination locks waited for: {waiting} || " + " || ".join(lines)


def _kill_volume_service(node) -> int:
    """SIGKILL every process of the node's cinder-volume (its process group)."""
    pid = nodes._load_pids()[node.name]["cinder-volume"]
    node.exec(f"kill -KILL -{pid}", timeout=60, check=True)
    return pid


def test_forty_operations_and_a_killed_service(deployment: Lab, report) -> None:
    """Active-active under load, one cinder-volume killed."""
    node1, node2 = deployment.node("node1"), deployment.node("node2")
    type_ = _type()
    src = wait("volume", _create("fault-aa-src", type_), "available")
    src_sha = write_pattern(node1, volume_file(src), "fault-aa-src", mib=4)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        doomed = list(pool.map(lambda i: _create(f"fault-aa-del-{i}", type_), range(8)))
        grow = list(pool.map(lambda i: _create(f"fault-aa-ext-{i}", type_), range(4)))
        back = list(pool.map(lambda i: _create(f"fault-aa-rev-{i}", type_), range(4)))
        for ident in doomed + grow + back:
            wait("volume", ident, "available")
    revert_sha, revert_snaps = {}, {}
    for i, ident in enumerate(back):
        revert_sha[ident] = write_pattern(node1, volume_file(osc_json("volume", "show", ident)),
                                          f"fault-aa-rev-{i}", mib=4)
        revert_snaps[ident] = osc_json("volume", "snapshot", "create", "--volume", ident,
                                       f"fault-aa-revsnap-{i}")["id"]
    for ident, snap in revert_snaps.items():
        wait("volume snapshot", snap, "available")
        overwritten_sha = write_pattern(node1, volume_file(osc_json("volume", "show", ident)),
                                        "overwritten", mib=4)

    # The 40 operations, as (kind, what, call returning the resource id).
    ops: list[tuple[str, str, Callable[[], str]]] = []
    ops += [("volume", "create", lambda i=i: _create(f"fault-aa-new-{i}", type_))
            for i in range(8)]
    ops += [("volume snapshot", "snapshot", lambda i=i: osc_json(
        "volume", "snapshot", "create", "--volume", src["id"], "--force",
        f"fault-aa-snap-{i}")["id"]) for i in range(8)]
    ops += [("volume", "clone", lambda i=i: _create(f"fault-aa-clone-{i}", type_,
                                                     source=src["id"])) for i in range(8)]
    ops += [("volume", "delete", lambda v=v: (osc("volume", "delete", v), v)[1])
            for v in doomed]
    ops += [("volume", "extend", lambda v=v: (cinder("extend", v, "2"), v)[1]) for v in grow]
    ops += [("volume", "revert", lambda v=v: (cinder(
        "--os-volume-api-version", "3.40", "revert-to-snapshot", revert_snaps[v]), v)[1])
            for v in back]
    assert len(ops) == 40
    order = ops[0::2] + ops[1::2]  # interleave the kinds
    report.in_flight = len(order)
    results: list[tuple[str, str, str]] = []  # (kind, what, id)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        first = [pool.submit(call) for _, _, call in order[:20]]
        for (kind, what, _), fut in zip(order[:20], first, strict=True):
            results.append((kind, what, fut.result()))
        killed = _kill_volume_service(node2)
        report.faults = 1
        at_kill = {ident: _status(kind, ident) for kind, _, ident in results}
        rest = [pool.submit(call) for _, _, call in order[20:]]
        for (kind, what, _), fut in zip(order[20:], rest, strict=True):
            results.append((kind, what, fut.result()))
    # Start node2's cinder-volume again: its init_host cleans up what it left.
    since = deploy.nodes_now(deployment)
    nodes.start_services(deployment)
    deploy.wait_services(len(deployment.running_nodes()) * (len(config.BACKENDS) + 1),
                         since=since)
    report.recovery_s = time.monotonic() - t0
    assert nodes._load_pids()["node2"]["cinder-volume"] != killed

    # Everything settles: a final state, or an error the kill explains. Cinder's cleanup
    # (the workers table) covers creating/deleting volumes and creating snapshots only:
    # an extend or revert the kill interrupted stays extending/reverting until an
    # operator resets it. So does a request the killed service had taken from the queue
    # but not begun (see _unclaimed). That is Cinder's, and the data must still be whole.
    restarted = time.monotonic()
    deadline = restarted + SETTLE_TIMEOUT
    final: dict[str, str] = {}
    lost: set[str] = set()
    while True:
        final = {ident: _status(kind, ident) for kind, _, ident in results}
        busy = {i: s for i, s in final.items() if s not in FINAL and not s.startswith("error")
                and not (s in NOT_CLEANABLE and at_kill.get(i) == s)}
        # A minute after the restart every queued request has been taken and begun.
        lost = _unclaimed(set(busy)) if time.monotonic() - restarted > 60 else set()
        if not busy.keys() - lost or time.monotonic() > deadline:
            break
        time.sleep(10)
    interrupted = {i: s for i, s in final.items() if s in NOT_CLEANABLE and at_kill.get(i) == s}
    kinds = {ident: kind for kind, _, ident in results}
    for ident in lost:  # as the operator would: delete again, or reset to error
        if kinds[ident] == "volume" and final[ident] == "deleting":
            osc("volume", "delete", "--force", ident)
            wait_gone("volume", ident)
            final[ident] = "deleted"
        else:
            cinder("snapshot-reset-state" if kinds[ident] == "volume snapshot"
                   else "reset-state", "--state", "error", ident)
            final[ident] = "error"
    stuck = {i: s for i, s in final.items() if s not in FINAL and not s.startswith("error")
             and i not in interrupted}
    errors = {i: s for i, s in final.items() if s.startswith("error")}
    unexplained = {i: s for i, s in errors.items() if at_kill.get(i, "") in FINAL}
    for ident in interrupted:  # as the operator would, then check the data below
        cinder("reset-state", "--state", "available", ident)
        final[ident] = "available"
    expected = {"create": "available", "snapshot": "available", "clone": "available",
                "delete": "deleted", "extend": "available", "revert": "available"}
    wrong = {ident: (what, final[ident]) for _, what, ident in results
             if final[ident] != expected[what] and ident not in errors and ident not in stuck}
    print(f"\n  kill after 20 submissions; at the kill: {sorted(set(at_kill.values()))}; "
          f"errors {len(errors)} ({len(unexplained)} unexplained), stuck {len(stuck)}, "
          f"left {sorted(interrupted.values())} (reset), requests lost with the "
          f"service {len(lost)} (deleted again or reset to error)")

    # Data: every clone and snapshot that finished holds the source's bytes.
    for _kind, what, ident in results:
        if final[ident] != "available":
            continue
        if what == "clone":
            path = volume_file(osc_json("volume", "show", ident))
        elif what == "snapshot":
            path = f"{nodes.pool_dir(config.PRIMARY_LABEL)}/snapshot-{ident}"
        elif what == "revert":
            # Interrupted: the old data or the snapshot's, never a mix (rename over).
            path = volume_file(osc_json("volume", "show", ident))
            ok = {revert_sha[ident]} | ({overwritten_sha} if ident in interrupted else set())
            if sha_head(node2, path, mib=4) not in ok:
                report.data_lost += 1
            continue
        elif what == "extend":
            size = file_size(node2, volume_file(osc_json("volume", "show", ident)))
            if size not in ({GiB, 2 * GiB} if ident in interrupted else {2 * GiB}):
                wrong[ident] = (what, f"file is {size} bytes")
            continue
        else:
            continue
        if sha_head(node2, path, mib=4) != src_sha:
            report.data_lost += 1
    locks = _advisory_locks()
    why = _why_stuck(stuck) if stuck else ""  # before the clean-up deletes what it names

    # Clean up (reset what the kill left stuck, as an operator would), then count orphans.
    clean_up("fault-aa-")
    # A build the kill interrupted leaves its temp file; the restarted service keeps it
    # through the grace (it may be a live build) and its stats refresh removes it then.
    deadline = time.monotonic() + volumes.ORPHAN_GRACE + 120
    while any(volumes.is_temp_name(p.rsplit("/", 1)[1]) for p in orphans(node1)) \
            and time.monotonic() < deadline:
        time.sleep(10)
    report.orphans = len(orphans(node1))
    assert not unexplained, f"errors the kill does not explain: {unexplained}"
    assert not wrong, f"operations that ended wrong: {wrong}"
    assert not stuck, f"stuck after {SETTLE_TIMEOUT}s: {stuck}; {why}"
    assert locks == 0, f"{locks} coordination locks still held"
    assert report.data_lost == 0 and report.orphans == 0, orphans(node1)
