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
"""Node death mid-operation: node2 is powered off while its cinder-volume and
cinder-backup are doing six things at once.

In flight on node2: a clone, a snapshot, a create from an image, backups, a
native migration to another backend's filesystem (a copy by qemu-img) and a
thick create. To put them on node2, node1's cinder-volume is stopped while they
are submitted and started again at once; node2's shared disks are throttled
(QMP ``block_set_io_throttle``) so that the copies are still running when node1
serves again and node2 is killed (or earlier, when only three operations still run,
if node1's start is slow). Backups go where the scheduler sends them
(it picks among the backup services that last reported, ignoring a disabled or
dead one): two of them, so that node2 gets one.

Cinder's scheduler puts a clone in its source's pool (``resource_backend`` is
the source's ``cluster@backend#pool``): a clone never crosses filesystems, and
the driver's copy between filesystems is reached through migration (and images), not clones.

Then: how long until a create succeeds on node1; what Cinder's active-active
cleanup (``cinder work-cleanup`` of the dead service, then node2's own start)
makes of node2's work; after node2 rejoined and every resource of the test was
deleted, no file Cinder does not own, the pools' space not above the baseline
and ``fsck.ocfs2 -fn`` clean; every source's data unchanged and every finished
operation's data right.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from e2e import config, deploy, nodes, procs, status
from e2e.api import (
    GiB,
    MiB,
    cinder,
    clean_up,
    compressed_image,
    ensure_type,
    file_size,
    get_pools,
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

PREFIX = "fault-death-"
#: node2's shared disks while the operations run: slow enough that 512 MiB copies last
#: a minute or more, fast enough for o2hb's 2 s disk heartbeat (dead after 20 s here):
#: at 4 MiB/s node2 once fenced itself before the kill.
THROTTLE_BPS = 8 * MiB
#: The image: this much non-zero data, uploaded as a compressed qcow2.
IMAGE_MIB = 512
HEAD_MIB = 4
#: Data in the clone's source and in the migrated volume.
DATA_MIB = 512
SETTLE_TIMEOUT = 900
#: A pool's used space may grow past its baseline by the nodes' local-alloc windows.
#: It may also fall below it, by any amount: node1's recovery of node2's journal slot
#: gives back what node2 held when it died (its local-alloc window, its truncate log,
#: and files unlinked elsewhere that it still had open, from the tests before this one),
#: space the baseline counted as used. Only growth is a leak.
SPACE_SLACK = 128 * MiB
#: Statuses an operation may end in (``deleted``: the resource is gone).
SETTLED = ("available", "in-use", "error", "error_deleting", "error_restoring", "deleted")


def _types() -> dict[str, str]:
    backend = {"volume_backend_name": "ocfs2"}
    return {
        "near": ensure_type(f"{PREFIX}{config.PRIMARY_LABEL}", pool_name=config.PRIMARY_LABEL,
                            **backend),
        "far": ensure_type(f"{PREFIX}{config.SECOND_LABEL}", pool_name=config.SECOND_LABEL,
                           **backend),
        # Backend B's pool: the only one with a free GiB once the others' copies are placed.
        "thick": ensure_type(f"{PREFIX}thick-{config.BACKEND_B_LABEL}",
                             pool_name=config.BACKEND_B_LABEL,
                             volume_backend_name=config.BACKENDS[1],
                             **{"provisioning:type": "thick"}),
        "b": ensure_type(f"{PREFIX}b", volume_backend_name=config.BACKENDS[1]),
        # What the migrated volume is retyped to first (see _mover).
        "mover": ensure_type(f"{PREFIX}mover"),
    }


def _written(node: Any, name: str, type_: str, full: bool) -> tuple[dict[str, Any], str]:
    """A 1 GiB volume with a seeded head, and DATA_MIB written (zeros) if ``full``;
    (volume, sha of the head)."""
    vol = wait("volume", osc_json("volume", "create", f"{PREFIX}{name}", "--size", "1",
                                  "--type", type_)["id"], "available")
    path = volume_file(vol)
    if full:
        node.sh(f"dd if=/dev/zero of={path} bs=4M count={DATA_MIB // 4} conv=notrunc oflag=direct "
                "status=none", timeout=600)
    return vol, write_pattern(node, path, f"{PREFIX}{name}", mib=HEAD_MIB)


def _mover(node: Any, types: dict[str, str]) -> tuple[dict[str, Any], str]:
    """A full volume of backend B, retyped to a type that pins nothing (a pinned one
    would fail the scheduler's capabilities filter for the migration to backend A;
    Cinder refuses to change the extra specs of a type in use)."""
    vol, sha = _written(node, "mover", types["b"], full=True)
    cinder("retype", vol["id"], types["mover"])
    deadline = time.monotonic() + 300
    while osc_json("volume", "show", vol["id"])["type"] != types["mover"]:
        assert time.monotonic() < deadline, "the retype did not happen"
        time.sleep(3)
    return wait("volume", vol["id"], "available"), sha


def _throttle(lab: Lab, name: str, bps: int) -> None:
    """Limit node ``name``'s bandwidth to each shared disk (0: no limit)."""
    vm = lab.node(name).vm
    for disk in lab.disks:
        vm.hmp(f"block_set_io_throttle {disk.drive_id} {bps} 0 0 0 0 0")


def _fresh_stats(since: str, timeout: float = 180) -> None:
    """Wait until the scheduler holds every pool's report from after ``since`` (the nodes'
    clock): it takes each placed volume off a pool's free space until the next one."""
    deadline = time.monotonic() + timeout
    while min(p["timestamp"] for p in get_pools()) <= since:
        assert time.monotonic() < deadline, f"no fresh pool stats since {since}"
        time.sleep(3)


def _restart_volume_services(node: Any, lab: Lab, stop_waiting: Callable[[], bool],
                             timeout: float = 600) -> bool:
    """Start ``node``'s cinder-volume again and wait for its backends' heartbeats, judged
    by the node's own clock (another node's may lag it by more than a report interval),
    or until ``stop_waiting()``; True: the heartbeats came."""
    since = node.sh("date -u +%Y-%m-%dT%H:%M:%S").strip()
    nodes.start_services(lab)
    deadline = time.monotonic() + timeout
    while True:
        fresh = [s for s in osc_json("volume", "service", "list", "--long")
                 if s["Binary"] == "cinder-volume" and s["Host"].startswith(f"{node.name}@")
                 and s["State"] == "up" and str(s["Updated At"]) > since]
        if len(fresh) == len(config.BACKENDS):
            return True
        if stop_waiting():
            return False
        assert time.monotonic() < deadline, f"{node.name}'s cinder-volume did not come up"
        time.sleep(3)


def _used(node: Any, label: str) -> int:
    return int(node.sh(f"df -B1 --output=used {nodes.pool_dir(label)} | tail -1"))


def _open_unlinked(node: Any) -> list[str]:
    """``/proc/PID/fd/N -> path`` of every unlinked file under /var/lib/cinder a process
    on ``node`` holds open (its space is freed only when the last holder closes it)."""
    out = node.sh("find /proc/[0-9]*/fd -lname '/var/lib/cinder/* (deleted)' "
                  "-printf '%p -> %l\\n' 2>/dev/null; true", timeout=120)
    return sorted(set(out.splitlines()) - {""})


def _db_locks(ip: str) -> int:
    """Coordination locks (tooz: PostgreSQL advisory locks) held by sessions from ``ip``."""
    out = procs.run(["psql", "-h", config.HOST_IP, "-p", str(config.PG_PORT), "-U",
                     "postgres", "-tAc",
                     "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                     f"WHERE l.locktype = 'advisory' AND a.client_addr = '{ip}'"])
    return int(out.stdout.strip() or 0)


def _status(kind: str, ident: str) -> str:
    now = state(kind, ident)
    return "deleted" if now is None else now


def _migration(ident: str) -> str:
    try:
        return f"migration {status.read('volume', ident).get('migration_status')}"
    except status.NoAnswer:
        return "migration ?"


def _backup_files(node: Any) -> set[str]:
    out = node.sh(f"find {nodes.backup_dir()} -type f 2>/dev/null || true", timeout=120)
    return set(out.split())


def _fsck(lab: Lab, label: str) -> str:
    """``fsck.ocfs2 -fn`` of ``label``, unmounted on every node for it, then mounted again."""
    path = nodes.pool_dir(label)
    for node in lab.running_nodes():
        node.sh(f"umount {path}", timeout=180)
    node1 = lab.node("node1")
    try:
        res = node1.exec(["fsck.ocfs2", "-fn", lab.wait_device(node1, label)], timeout=900)
    finally:
        nodes.mount_everywhere(lab, label, path)
    assert res.rc == 0, f"fsck.ocfs2 -fn {label}: rc {res.rc}\n{res.stdout}\n{res.stderr}"
    return res.stdout


@pytest.fixture
def whole_again(deployment: Lab) -> Iterator[None]:
    """Whatever happened, the deployment is whole afterwards: node2 up and not
    throttled, every service running."""
    yield
    node2 = deployment.node("node2")
    if node2.running():
        _throttle(deployment, "node2", 0)
    else:
        console = node2.vm.console.read_text(errors="replace").splitlines()
        print("node2's console before its restart:\n" + "\n".join(
            line for line in console[-400:] if "o2" in line or "ocfs2" in line)[-3000:])
        nodes.rejoin(deployment, "node2")
    nodes.start_services(deployment)


def test_node_death_mid_operation(deployment: Lab, report, whole_again: None) -> None:
    """Node death mid-operation (node2 powered off under seven operations)."""
    node1, node2 = deployment.node("node1"), deployment.node("node2")
    types = _types()
    labels = (config.PRIMARY_LABEL, config.SECOND_LABEL, config.BACKEND_B_LABEL)
    baseline = {label: _used(node1, label) for label in labels}
    for node in (node1, node2):  # what would fall below the baseline at node2's death
        print(f"\n  unlinked files still open on {node.name} at the baseline: "
              f"{_open_unlinked(node) or 'none'}")
    backups_before = _backup_files(node1)
    # Copies need data to last: the clone's source and the migrated volume are written
    # end to end. A backup lasts minutes anyway (it hashes and compresses every chunk).
    far, far_sha = _written(node1, "far", types["far"], full=True)  # cloned
    mover, mover_sha = _mover(node1, types)  # migrated to backend A
    backed, backed_sha = _written(node1, "backed", types["near"], full=False)
    backed2, backed2_sha = _written(node1, "backed2", types["near"], full=False)
    snapped, snapped_sha = _written(node1, "snapped", types["near"], full=False)
    image_id, image_sha = compressed_image(f"{PREFIX}image", IMAGE_MIB)

    _fresh_stats(deploy.nodes_now(deployment))
    # Only node2's cinder-volume takes work (the cluster's queue has no other consumer).
    nodes.stop(deployment, only=["node1"], services=("cinder-volume",))
    _throttle(deployment, "node2", THROTTLE_BPS)

    def volume(name: str, type_: str, *args: str) -> str:
        return str(osc_json("volume", "create", f"{PREFIX}{name}", "--size", "1", "--type",
                            type_, *args)["id"])

    def migrate() -> str:  # to backend A (a cluster's migration keeps no pool)
        cinder("--os-volume-api-version", "3.16", "migrate", "--cluster",
               f"{config.CINDER_CLUSTER}@{config.BACKENDS[0]}", mover["id"])
        return str(mover["id"])

    ops: dict[str, tuple[str, Callable[[], str]]] = {
        "clone": ("volume", lambda: volume("clone", types["far"], "--source", far["id"])),
        "snapshot": ("volume snapshot", lambda: str(osc_json(
            "volume", "snapshot", "create", "--volume", snapped["id"],
            f"{PREFIX}snap")["id"])),
        "create from image": ("volume", lambda: volume("image", types["far"],
                                                       "--image", image_id)),
        "backup": ("volume backup", lambda: str(osc_json(
            "volume", "backup", "create", "--name", f"{PREFIX}backup", backed["id"])["id"])),
        "backup 2": ("volume backup", lambda: str(osc_json(
            "volume", "backup", "create", "--name", f"{PREFIX}backup2", backed2["id"])["id"])),
        "native migration": ("volume", migrate),
        "thick create": ("volume", lambda: volume("thick", types["thick"])),
    }
    t_submit = time.monotonic()
    made = {what: (kind, start()) for what, (kind, start) in ops.items()}
    report.in_flight = len(made)

    def status_of(what: str) -> str:
        kind, ident = made[what]
        return _migration(ident) if what == "native migration" else _status(kind, ident)

    def busy_of(statuses: dict[str, str]) -> list[str]:
        return [w for w, s in statuses.items() if s not in SETTLED
                and s not in ("migration success", "migration error")]

    # node1 serves again. Its services take a minute or two to start under TCG, and
    # longer when node2's work starves the host's two cores (a CI run once saw every
    # backup finish first): node2 is killed once node1's cinder-volume reports, or
    # earlier, when only three operations still run (node1 then serves a little later).
    node1_up = _restart_volume_services(
        node1, deployment, lambda: len(busy_of({w: status_of(w) for w in made})) <= 3)
    at_kill = {what: status_of(what) for what in made}
    busy = busy_of(at_kill)
    print(f"\n  {time.monotonic() - t_submit:.0f} s after the submissions, node1's "
          f"cinder-volume {'up' if node1_up else 'still starting'}; at the kill: {at_kill}")
    assert len(busy) >= 3, f"too few operations still running at the kill: {at_kill}"
    assert node2.running(), "node2 died before the kill (fenced?)"
    kill_at = time.monotonic()
    deployment.kill("node2")
    report.faults = 1

    # node1 keeps serving: a create there.
    locks_at_kill = _db_locks(node2.ip)
    locks_gone = None
    probe_ok = None
    probe = volume("probe", types["near"])
    while time.monotonic() - kill_at < SETTLE_TIMEOUT:
        if locks_gone is None and _db_locks(node2.ip) == 0:
            locks_gone = time.monotonic() - kill_at
        now = _status("volume", probe)
        if now == "available":
            probe_ok = time.monotonic() - kill_at
            break
        if now.startswith("error"):
            probe = volume("probe", types["near"])
        time.sleep(2)
    assert probe_ok is not None, "no create succeeded on node1 after the kill"
    print(f"  a create on node1 available {probe_ok:.0f} s after the kill")

    # Cinder's active-active cleanup: once node2's services are down, node1 cleans
    # what node2's cinder-volume left (the workers table).
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        if locks_gone is None and _db_locks(node2.ip) == 0:
            locks_gone = time.monotonic() - kill_at
        down = [s for s in osc_json("volume", "service", "list")
                if s["Host"].startswith("node2") and s["State"] == "down"]
        if len(down) == len(config.BACKENDS) + 1:
            break
        assert time.monotonic() < deadline, "node2's services never reported down"
        time.sleep(5)
    cleanup = cinder("--os-volume-api-version", "3.24", "work-cleanup", "--binary",
                     "cinder-volume", "--is-up", "false")
    print(f"  node2's services down {time.monotonic() - kill_at:.0f} s after the kill; "
          f"the {locks_at_kill} coordination locks its sessions held released after "
          f"{locks_gone} s; work-cleanup:\n{cleanup}")
    after_cleanup = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        after_cleanup = {what: status_of(what) for what in made}
        if not any(s in ("creating", "downloading", "deleting")
                   for w, s in after_cleanup.items() if made[w][0] == "volume"):
            break
        time.sleep(5)
    print(f"  after work-cleanup: {after_cleanup}")

    # node2 comes back: its own start settles the rest (cinder-backup resets its backups).
    since = deploy.nodes_now(deployment)
    boot = nodes.rejoin(deployment, "node2")
    deploy.wait_services(len(deployment.running_nodes()) * (len(config.BACKENDS) + 1),
                         since=since)
    report.recovery_s = time.monotonic() - kill_at
    deadline = time.monotonic() + SETTLE_TIMEOUT
    final: dict[str, str] = {}
    while True:
        final = {what: status_of(what) for what in made}
        left = {w: s for w, s in final.items()
                if s not in SETTLED and not s.startswith("migration ")}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(10)
    print(f"  node2 booted and rejoined in {boot:.0f} s; services up "
          f"{report.recovery_s:.0f} s after the kill; final: {final}")

    # Data: the sources are unchanged, every finished operation's data is right.
    checks = {"far": (far, far_sha), "backed": (backed, backed_sha),
              "backed2": (backed2, backed2_sha),
              "snapped": (snapped, snapped_sha)}
    mig = osc_json("volume", "show", mover["id"])
    checks["mover"] = (mig, mover_sha)
    clone = made["clone"][1]
    if final["clone"] == "available":
        checks["clone"] = (osc_json("volume", "show", clone), far_sha)
    lost = [name for name, (vol, sha) in checks.items()
            if sha_head(node1, volume_file(vol), mib=HEAD_MIB) != sha]
    if final["snapshot"] == "available":
        snap_file = f"{nodes.pool_dir(config.PRIMARY_LABEL)}/snapshot-{made['snapshot'][1]}"
        if sha_head(node1, snap_file, mib=HEAD_MIB) != snapped_sha:
            lost.append("snapshot")
    if final["create from image"] == "available":
        made_vol = osc_json("volume", "show", made["create from image"][1])
        if sha_head(node1, volume_file(made_vol), mib=IMAGE_MIB) != image_sha:
            lost.append("create from image")
    if final["thick create"] == "available":
        thick = osc_json("volume", "show", made["thick create"][1])
        path = volume_file(thick)
        allocated = int(node1.sh(f"stat -c %b {path}")) * 512
        if file_size(node1, path) != GiB or allocated < GiB:
            lost.append(f"thick create ({allocated} bytes allocated)")
    report.data_lost = len(lost)
    stuck = {w: s for w, s in final.items()
             if s not in SETTLED and not s.startswith("migration ")}
    migration = final["native migration"]
    if migration not in ("migration success", "migration error", "migration None"):
        # Cinder's cleanup does not settle a migration its volume service died in.
        cinder("reset-state", "--reset-migration-status", mover["id"])

    # Everything deleted: no file left that Cinder does not own, space back, fsck clean.
    for what in ("backup", "backup 2"):
        backup = made[what][1]
        if _status("volume backup", backup) == "deleted":
            continue
        if _status("volume backup", backup) not in ("available", "error"):
            cinder("backup-reset-state", "--state", "error", backup)
        osc("volume", "backup", "delete", backup)
        wait_gone("volume backup", backup, timeout=600)
    clean_up(PREFIX)
    clean_up(f"image-{image_id}")  # the image-volume cache's entry made from it
    osc("image", "delete", image_id)
    left_files = orphans(node1)
    stray_backups = sorted(_backup_files(node1) - backups_before)
    report.orphans = len(left_files) + len(stray_backups)
    space = {label: _used(node1, label) - baseline[label] for label in labels}
    print(f"  space against the baseline (bytes): {space}")
    fsck = {label: _fsck(deployment, label).strip().splitlines()[-1:] for label in labels}
    print(f"  fsck.ocfs2 -fn: {fsck}")
    assert not lost, f"data changed or missing: {lost}"
    assert not stuck, f"still not settled {SETTLE_TIMEOUT}s after node2 rejoined: {stuck}"
    assert not left_files and not stray_backups, (left_files, stray_backups)
    freed = {label: d for label, d in space.items() if d <= -SPACE_SLACK}
    if freed:
        print(f"  below the baseline (node2's slot recovered): {freed}")
    assert all(d < SPACE_SLACK for d in space.values()), space
