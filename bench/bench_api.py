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
"""Benchmark: latency through the Cinder API, OCFS2Driver against Cinder's NfsDriver.

    flock /tmp/lab.lock .venv/bin/python bench/bench_api.py [--sizes 1] [--runs 5]
    flock /tmp/lab.lock .venv/bin/python bench/bench_api.py cleanup   # after a crash

From the host, on a running deployment (``make demo``). Every operation is
timed from the start of the CLI call (``openstack ...``, or ``cinder
--os-volume-api-version 3.40 revert-to-snapshot``) until the API shows the
result ``available`` (or the resource gone, for a delete); the status is
polled in-process every 0.2 s (:mod:`e2e.status`). A CLI call alone costs
about 3 s on the host (imports and a Keystone token): the "CLI floor" row
(``openstack volume show``) is that cost, included in every other row.

**The peer** is Cinder's generic ``cinder.volume.drivers.nfs.NfsDriver`` on the
same disk: its share is the directory ``<lab0>/bench-api-nfs`` on the same
OCFS2 filesystem as pool ``lab0``, which the OCFS2 backend uses (volume type
``bench-ocfs2``: ``volume_backend_name=ocfs2``, ``pool_name=lab0``). The bench
starts it itself, on node1 only, as one extra cinder-volume process (backend
``nfsbench``, volume type ``bench-nfs``) with its own config file
``/etc/cinder/cinder-nfs-bench.conf``, rendered from the node's cinder.conf
(DEFAULT, database, messaging, coordination; no ``cluster``) plus the NFS
section (``nfs_snapshot_support``, ``nas_secure_file_operations/permissions =
false``, ``image_volume_cache_enabled``). Nothing is ever NFS-mounted: the
share directory is bind-mounted, on both nodes (cinder-backup may run on
either), at the mount point the driver and os-brick compute
(``nfs_mount_point_base/<md5 of the share string>``), which they then find in
``/proc/mounts`` and take as mounted. The node image has no ``mount.nfs``, and
``NfsDriver.do_setup`` refuses to start without one, so the bench puts a no-op
``mount.nfs`` (it fails if it is ever asked to mount anything) in a private
directory on the extra service's PATH only. At the end (or with ``cleanup``)
the bench deletes what it made, stops that process, removes its service
record, the bind mounts, the share directory, the shim and the config files;
the deployment's own services are never touched.

Each run, for each backend (in alternating order) and size:

1. ``create``: an empty volume V; then V is filled (no holes: a 32 MiB random
   pattern written over its whole size with dd on node1, fsynced), and the page
   cache of both nodes is dropped. "CLI floor" is timed here.
2. ``backup``: ``openstack volume backup create V`` to ``available`` (posix
   driver, backups on lab0, zstd); the backup is deleted again (not timed).
   ``--skip backup`` leaves it out (8 GiB: about 7 min a run and backend, the
   same backup driver on both sides).
3. ``snapshot`` S of V; ``volume from snapshot`` (deleted again, not timed);
   ``clone`` (``--source V``, deleted again, not timed).
4. ``revert to snapshot`` (V to S; microversion 3.40), ``delete snapshot`` S,
   ``delete`` V (a fully written volume).
5. ``create from image (cache miss)``: a volume from a new qcow2 image (this
   run's upload of ``--image-mib`` MiB of data, compressed); the miss includes
   Cinder making the image-volume cache entry; ``create from image (cache
   hit)``: a second volume from the same image. Both volumes, the cache entry
   and the image are deleted afterwards.

The result is a markdown table (p50 and p95 per operation and backend, linear
interpolation between samples, and NFS/OCFS2 of the p50s) on stdout and all
samples in a JSON file (``--json``). Cinder volumes are GiB-granular; the lab's
pool lab0 is 4 GiB, so ``--sizes 1`` is the default and ``--sizes 1,8`` needs a
lab with a bigger disk (the bench needs about 3x the largest size free on lab0):
``LAB_DISK_SIZE=32G make demo`` boots one. Give that lab longer o2cb timeouts
too (``LAB_HEARTBEAT_THRESHOLD=91 LAB_IDLE_TIMEOUT_MS=90000``): during the
8 GiB NFS copies a TCG node once stalled 82 s, past the lab's 20 s heartbeat,
and was fenced.
Progress goes to stderr. Other engineers share the lab: run it under
``flock /tmp/lab.lock``.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PREFIX = "bench-api-"
NFS_BACKEND = "nfsbench"
OCFS2_BACKEND = "ocfs2"
TYPES = {"ocfs2": "bench-ocfs2", "nfs": "bench-nfs"}
BACKENDS = ("ocfs2", "nfs")
NFS_NODE = "node1"
NFS_CONF = "/etc/cinder/cinder-nfs-bench.conf"
NFS_SHARES = "/etc/cinder/nfs-bench-shares"
NFS_MOUNT_BASE = "/var/lib/cinder/bench-nfs-mnt"
#: The share string the driver hashes; no NFS server behind it, ever.
NFS_SHARE = "127.0.0.1:/bench-api-nfs"
SHIM_DIR = "/run/cinder-bench-nfs/bin"
SHIM = """#!/bin/sh
# bench/bench_api.py: a no-op mount.nfs for NfsDriver.do_setup's presence check.
# Nothing is ever NFS-mounted: the share is bind-mounted where the driver looks.
if [ $# -gt 0 ]; then
    echo "bench_api no-op mount.nfs: refusing to mount $*" >&2
    exit 32
fi
exit 0
"""
PATTERN = "/tmp/bench-api-pattern"
PATTERN_MIB = 32
POLL_S = 0.2
GiB = 1 << 30
MiB = 1 << 20

#: Operations, in the table's order.
OPERATIONS = (
    "CLI floor (volume show)",
    "create",
    "snapshot",
    "volume from snapshot",
    "clone",
    "revert to snapshot",
    "create from image (cache miss)",
    "create from image (cache hit)",
    "backup",
    "delete snapshot",
    "delete",
)
#: Operations ``--skip`` may leave out: nothing later depends on them.
SKIPPABLE = ("backup",)

Say = Callable[[str], None]


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ pure helpers

def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, linear between closest ranks
    (numpy's default): p50 of [1, 2, 3, 4] is 2.5, p95 of 5 samples lies between
    the 4th and the 5th."""
    if not values:
        raise ValueError("no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not in 0..100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def parse_sizes(text: str) -> list[int]:
    """``"1,8"`` -> [1, 8] (GiB, Cinder's unit); a trailing G is accepted."""
    sizes = []
    for part in text.split(","):
        part = part.strip().upper().removesuffix("GIB").removesuffix("G")
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(f"not a size in GiB: {text!r}")
        sizes.append(int(part))
    return sizes


def parse_skip(text: str) -> list[str]:
    """``"backup"`` -> ["backup"]: operations of :data:`SKIPPABLE`, comma-separated."""
    ops = [op.strip() for op in text.split(",") if op.strip()]
    unknown = [op for op in ops if op not in SKIPPABLE]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"cannot skip {', '.join(map(repr, unknown))}: only {', '.join(SKIPPABLE)} "
            "(the other operations make what the next one needs)")
    return ops


def mount_point(base: str, share: str) -> str:
    """Where NfsDriver (os-brick's RemoteFsClient) expects ``share`` mounted."""
    return os.path.join(base, hashlib.md5(share.encode(), usedforsecurity=False).hexdigest())


def nfs_conf(node_conf: str, share_dir_mount_base: str = NFS_MOUNT_BASE) -> str:
    """The extra cinder-volume's config: the node's DEFAULT (without ``cluster`` and
    its backends), database, messaging, concurrency and coordination, plus
    backend ``nfsbench`` (NfsDriver). ``node_conf`` is the node's cinder.conf."""
    src = configparser.ConfigParser(interpolation=None, default_section="__none__",
                                    strict=False)
    src.optionxform = str  # type: ignore[assignment,method-assign]
    src.read_string(node_conf)
    out = configparser.ConfigParser(interpolation=None, default_section="__none__")
    out.optionxform = str  # type: ignore[assignment,method-assign]
    drop = {"cluster", "enabled_backends", "backend_host", "log_file", "log_dir"}
    out["DEFAULT"] = {k: v for k, v in src["DEFAULT"].items() if k not in drop} \
        if src.has_section("DEFAULT") else {}
    out["DEFAULT"]["enabled_backends"] = NFS_BACKEND
    for section in ("database", "oslo_concurrency", "oslo_messaging_rabbit", "coordination"):
        if src.has_section(section):
            out[section] = dict(src[section].items())
    out[NFS_BACKEND] = {
        "volume_driver": "cinder.volume.drivers.nfs.NfsDriver",
        "volume_backend_name": NFS_BACKEND,
        "nfs_shares_config": NFS_SHARES,
        "nfs_mount_point_base": share_dir_mount_base,
        "nfs_sparsed_volumes": "True",
        "nfs_snapshot_support": "True",
        # Snapshots need "false" (NfsDriver refuses them with secure operations); the
        # services run as root, so no rootwrap either way.
        "nas_secure_file_operations": "false",
        "nas_secure_file_permissions": "false",
        "image_volume_cache_enabled": "True",
        "max_over_subscription_ratio": "20.0",
    }
    buf = io.StringIO()
    buf.write("# bench/bench_api.py: the NfsDriver peer on the same OCFS2 disk "
              "(removed after the run).\n")
    out.write(buf)
    return buf.getvalue()


def summarize(samples: dict[str, dict[int, dict[str, list[float]]]]) -> list[dict[str, Any]]:
    """One row per (size, operation) with p50/p95 per backend and NFS/OCFS2 of the p50s.

    ``samples``: backend -> size (GiB) -> operation -> seconds.
    """
    rows = []
    sizes = sorted({size for per in samples.values() for size in per})
    for size in sizes:
        for op in OPERATIONS:
            row: dict[str, Any] = {"size_gib": size, "operation": op}
            for backend in BACKENDS:
                values = samples.get(backend, {}).get(size, {}).get(op, [])
                row[backend] = {"n": len(values),
                                "p50": percentile(values, 50) if values else None,
                                "p95": percentile(values, 95) if values else None}
            o, n = row["ocfs2"]["p50"], row["nfs"]["p50"]
            row["ratio"] = n / o if o and n is not None else None
            if row["ocfs2"]["n"] or row["nfs"]["n"]:
                rows.append(row)
    return rows


def _s(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f}x" if value < 10 else f"{value:.0f}x"


def markdown(rows: Iterable[dict[str, Any]]) -> str:
    """The result table: seconds from the CLI call to the result, per backend."""
    lines = ["| size | operation | OCFS2 p50 s | OCFS2 p95 s | NFS p50 s | NFS p95 s "
             "| NFS/OCFS2 (p50) | runs |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        o, n = r["ocfs2"], r["nfs"]
        runs = str(o["n"]) if o["n"] == n["n"] else f"{o['n']}/{n['n']}"
        lines.append(f"| {r['size_gib']} GiB | {r['operation']} | {_s(o['p50'])} | "
                     f"{_s(o['p95'])} | {_s(n['p50'])} | {_s(n['p95'])} | "
                     f"{_ratio(r['ratio'])} | {runs} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ the API side

def _status(kind: str, ident: str) -> str | None:
    """Status now; None: gone; "": no answer this time."""
    from e2e import status
    try:
        return str(status.read(kind, ident).get("status"))
    except status.Gone:
        return None
    except status.NoAnswer:
        return ""


def await_status(kind: str, ident: str, want: str, t0: float, timeout: float = 1800,
                 leave: str | None = None) -> float:
    """Poll until ``kind`` ``ident`` is ``want`` (after it was ``leave``, if given);
    return the seconds since ``t0``. Fails on an error state."""
    deadline = time.monotonic() + timeout
    value: str | None = ""
    while time.monotonic() < deadline:
        value = _status(kind, ident)
        if value == want:
            return time.monotonic() - t0
        if value is None:
            raise RuntimeError(f"{kind} {ident} vanished while waiting for {want}")
        if value.startswith("error") or value in ("failed", "killed"):
            raise RuntimeError(f"{kind} {ident} became {value}")
        time.sleep(POLL_S)
    raise RuntimeError(f"{kind} {ident} still {value!r} after {timeout:.0f} s (want {want})")


def await_gone(kind: str, ident: str, t0: float, timeout: float = 1800) -> float:
    deadline = time.monotonic() + timeout
    value: str | None = ""
    while time.monotonic() < deadline:
        value = _status(kind, ident)
        if value is None:
            return time.monotonic() - t0
        if value.startswith("error"):
            raise RuntimeError(f"{kind} {ident} became {value} while deleting")
        time.sleep(POLL_S)
    raise RuntimeError(f"{kind} {ident} still {value!r} after {timeout:.0f} s")


def create(kind: str, argv: Sequence[str]) -> tuple[str, float]:
    """``openstack <argv> -f json``, then wait for ``available``: (id, seconds)."""
    from e2e.api import osc_json
    t0 = time.monotonic()
    ident = str(osc_json(*argv, timeout=600)["id"])
    return ident, await_status(kind, ident, "available", t0)


def delete(kind: str, ident: str) -> float:
    from e2e.api import osc
    t0 = time.monotonic()
    osc(*kind.split(), "delete", ident, timeout=600)
    return await_gone(kind, ident, t0)


def revert(volume: str, snapshot: str) -> float:
    from e2e.api import cinder
    t0 = time.monotonic()
    cinder("--os-volume-api-version", "3.40", "revert-to-snapshot", snapshot, timeout=600)
    return await_status("volume", volume, "available", t0)


def cli_floor(volume: str) -> float:
    from e2e.api import osc_json
    t0 = time.monotonic()
    osc_json("volume", "show", volume)
    return time.monotonic() - t0


def make_qcow2(directory: str, mib: int) -> str:
    """A compressed qcow2 of ``mib`` MiB of non-zero data (a small upload)."""
    raw, qcow2 = os.path.join(directory, "image.raw"), os.path.join(directory, "image.qcow2")
    block = bytes(range(1, 256)) * (MiB // 255 + 1)
    with open(raw, "wb") as f:
        for i in range(mib):
            f.write(block[i % 255:i % 255 + MiB])
    subprocess.run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, qcow2],
                   check=True)
    os.unlink(raw)
    return qcow2


def upload_image(name: str, path: str) -> str:
    from e2e.api import osc_json, wait
    image = osc_json("image", "create", name, "--disk-format", "qcow2",
                     "--container-format", "bare", "--file", path, timeout=900)
    wait("image", image["id"], "active", timeout=900)
    return str(image["id"])


def delete_cache_entries(image_id: str) -> None:
    """The image-volume cache's volumes of ``image_id`` (cinder's internal tenant)."""
    from e2e.api import osc, osc_json
    for vol in osc_json("volume", "list", "--all-projects", "--name", f"image-{image_id}"):
        osc("volume", "delete", "--force", vol["ID"])
        await_gone("volume", vol["ID"], time.monotonic(), timeout=600)


# ------------------------------------------------------------------ the lab side

def share_dir() -> str:
    from e2e import config, nodes
    return f"{nodes.pool_dir(config.PRIMARY_LABEL)}/bench-api-nfs"


def _state_path() -> str:
    from lab import config as lab_config
    return str(lab_config.STATE_DIR / "bench-api" / "nfs-peer.json")


class NfsPeer:
    """The extra cinder-volume (NfsDriver) on node1, and its bind mounts on every node."""

    def __init__(self, lab: Any) -> None:
        self.lab = lab
        self.node = lab.node(NFS_NODE)
        self.mnt = mount_point(NFS_MOUNT_BASE, NFS_SHARE)

    def start(self, say: Say = say) -> None:
        from e2e import api
        self.stop(say)  # what an interrupted run left
        share = share_dir()
        for node in self.lab.running_nodes():
            node.sh(f"mkdir -p {share} {self.mnt} && chmod 0755 {share} && "
                    f"(mountpoint -q {self.mnt} || mount --bind {share} {self.mnt})",
                    timeout=120)
        conf = nfs_conf(self.node.read_file("/etc/cinder/cinder.conf").decode())
        self.node.write_file(NFS_CONF, conf, 0o640)
        self.node.write_file(NFS_SHARES, NFS_SHARE + "\n")
        self.node.sh(f"mkdir -p {SHIM_DIR}", timeout=60)
        self.node.write_file(f"{SHIM_DIR}/mount.nfs", SHIM, 0o755)
        log = self.guest_log()
        cmd = (f"echo '=== '$(date +%FT%T)' start nfs bench peer' >>{log}; "
               f"export PATH={SHIM_DIR}:$PATH; exec /opt/venv/bin/cinder-volume "
               f"--config-file {NFS_CONF} --log-file {log}")
        self.node.sh(f"mkdir -p {os.path.dirname(log)}", timeout=60)
        pid = self.node.spawn(cmd, log=log)
        os.makedirs(os.path.dirname(_state_path()), exist_ok=True)
        with open(_state_path(), "w") as f:
            json.dump({"pid": pid, "boot_id": self._boot_id()}, f)
        say(f"NFS peer: cinder-volume (NfsDriver, backend {NFS_BACKEND}) started on "
            f"{NFS_NODE}, pid {pid}; share {share} bind-mounted at {self.mnt}; "
            f"no-op mount.nfs in {SHIM_DIR} (its PATH only); log {self.host_log()}")
        t0 = time.monotonic()
        while not any(p["name"] == f"{NFS_NODE}@{NFS_BACKEND}#{NFS_BACKEND}"
                      and p.get("backend_state", "up") == "up"
                      and float(p.get("total_capacity_gb") or 0) > 0
                      for p in api.get_pools()):
            if time.monotonic() - t0 > 600:
                raise RuntimeError(f"the NFS peer did not report its pool in 600 s; "
                                   f"see {self.host_log()}")
            if not self.node.exec(["kill", "-0", str(pid)], timeout=30).ok:
                raise RuntimeError(f"the NFS peer exited; see {self.host_log()}")
            time.sleep(5)
        say(f"NFS peer: pool {NFS_NODE}@{NFS_BACKEND}#{NFS_BACKEND} up "
            f"({time.monotonic() - t0:.0f} s)")

    def guest_log(self) -> str:
        from lab import config as lab_config
        return f"{lab_config.GUEST_SHARE}/bench-api/{NFS_NODE}-cinder-volume-nfs.log"

    def host_log(self) -> str:
        from lab import config as lab_config
        return str(lab_config.STATE_DIR / "share" / "bench-api"
                   / f"{NFS_NODE}-cinder-volume-nfs.log")

    def _boot_id(self) -> str:
        return self.node.read_file("/proc/sys/kernel/random/boot_id").decode().strip()

    def stop(self, say: Say = say) -> None:
        """Stop the peer process (only the pid we started), remove its service record,
        the bind mounts, the shim and its config files. Idempotent."""
        try:
            with open(_state_path()) as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = {}
        if state.get("pid") and state.get("boot_id") == self._boot_id():
            pid = int(state["pid"])
            self.node.exec(f"kill -TERM -{pid} 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; "
                           f"do kill -0 {pid} 2>/dev/null || break; sleep 1; done; "
                           f"kill -KILL -{pid} 2>/dev/null; true", timeout=60)
            say(f"NFS peer: pid {pid} on {NFS_NODE} stopped")
        if os.path.exists(_state_path()):
            os.unlink(_state_path())
        if self.node.exec(["test", "-e", NFS_CONF], timeout=30).ok:
            self.node.exec(f"/opt/venv/bin/cinder-manage --config-file {NFS_CONF} service "
                           f"remove cinder-volume {NFS_NODE}@{NFS_BACKEND}", timeout=300)
        for node in self.lab.running_nodes():
            node.sh(f"! mountpoint -q {self.mnt} || umount {self.mnt}; "
                    f"rmdir {self.mnt} {NFS_MOUNT_BASE} 2>/dev/null; true", timeout=120)
        self.node.sh(f"rm -f {NFS_CONF} {NFS_SHARES} {SHIM_DIR}/mount.nfs; "
                     f"rmdir {SHIM_DIR} {os.path.dirname(SHIM_DIR)} 2>/dev/null; true", timeout=60)


def fill(node: Any, path: str, size_gib: int) -> None:
    """Write the pattern over all of ``path`` (no holes), fsync, drop page caches."""
    chunks = size_gib * 1024 // PATTERN_MIB
    node.sh(f"set -e; for i in $(seq 0 {chunks - 1}); do dd if={PATTERN} of={path} bs=1M "
            f"seek=$((i * {PATTERN_MIB})) conv=notrunc status=none; done; sync {path}",
            timeout=1800)


def drop_caches(lab: Any) -> None:
    for node in lab.running_nodes():
        node.sh("sync; echo 1 > /proc/sys/vm/drop_caches", timeout=120)


def volume_path(backend: str, vol: dict[str, Any]) -> str:
    from e2e import api
    if backend == "nfs":
        return f"{share_dir()}/volume-{vol['id']}"
    return api.volume_file(vol)


# ------------------------------------------------------------------ the runs

class Bench:
    def __init__(self, lab: Any, sizes: list[int], runs: int, image_mib: int,
                 skip: Sequence[str] = ()) -> None:
        self.lab = lab
        #: Operations not run (``--skip``): ``backup`` of 8 GiB is about 7 min a run.
        self.skip = frozenset(skip)
        self.node = lab.node(NFS_NODE)
        self.sizes = sizes
        self.runs = runs
        self.image_mib = image_mib
        self.samples: dict[str, dict[int, dict[str, list[float]]]] = {
            b: {s: {op: [] for op in OPERATIONS} for s in sizes} for b in BACKENDS}
        #: Files found in the NFS share after all deletes, by when: name -> sizes.
        self.leftovers: dict[str, dict[str, dict[str, int]]] = {}

    def add(self, backend: str, size: int, op: str, seconds: float) -> None:
        self.samples[backend][size][op].append(seconds)
        say(f"  {backend:5} {size} GiB {op}: {seconds:.2f} s")

    def run_volume_ops(self, backend: str, size: int, run: int) -> None:
        from e2e.api import osc_json
        tag = f"{PREFIX}{backend}-{size}g-r{run}"
        vtype = TYPES[backend]
        vol_id, s = create("volume", ["volume", "create", "--size", str(size), "--type", vtype,
                                      f"{tag}-v"])
        self.add(backend, size, "create", s)
        self.add(backend, size, "CLI floor (volume show)", cli_floor(vol_id))
        vol = osc_json("volume", "show", vol_id)
        t0 = time.monotonic()
        fill(self.node, volume_path(backend, vol), size)
        drop_caches(self.lab)
        say(f"  {backend:5} {size} GiB filled in {time.monotonic() - t0:.0f} s")

        if "backup" not in self.skip:
            backup_id, s = create("volume backup", ["volume", "backup", "create", "--name",
                                                    f"{tag}-b", vol_id])
            self.add(backend, size, "backup", s)
            await_status("volume", vol_id, "available", time.monotonic())
            delete("volume backup", backup_id)

        snap_id, s = create("volume snapshot", ["volume", "snapshot", "create", "--volume",
                                                vol_id, f"{tag}-s"])
        self.add(backend, size, "snapshot", s)
        from_snap, s = create("volume", ["volume", "create", "--snapshot", snap_id, "--size",
                                         str(size), f"{tag}-fs"])
        self.add(backend, size, "volume from snapshot", s)
        delete("volume", from_snap)
        clone, s = create("volume", ["volume", "create", "--source", vol_id, "--size",
                                     str(size), f"{tag}-c"])
        self.add(backend, size, "clone", s)
        delete("volume", clone)
        self.add(backend, size, "revert to snapshot", revert(vol_id, snap_id))
        self.add(backend, size, "delete snapshot", delete("volume snapshot", snap_id))
        self.add(backend, size, "delete", delete("volume", vol_id))
        if backend == "nfs":
            self.check_share(f"run {run}, {size} GiB")

    def check_share(self, when: str) -> None:
        """Files left in the NFS share once every volume and snapshot made so far is
        deleted (there should be none): noted, then removed so the next run has room."""
        out = self.node.sh(f"cd {share_dir()} && find . -type f -printf '%P %s %b\\n'",
                           timeout=120)
        files = [line.split() for line in out.splitlines() if line.strip()]
        if files:
            left = {name: {"size": int(size), "allocated": int(blocks) * 512}
                    for name, size, blocks in files}
            self.leftovers[when] = left
            say(f"  nfs   left in the share after the deletes ({when}): " + ", ".join(
                f"{n} ({v['allocated'] / MiB:.0f} MiB allocated)" for n, v in left.items())
                + "; removing them (the pool is small)")
            self.node.sh(f"cd {share_dir()} && rm -f -- "
                         + " ".join(shlex.quote(n) for n in left), timeout=300)

    def warm_up(self) -> None:
        """One untimed create, snapshot, revert, delete per backend: the fresh NFS peer
        spawns its privsep daemons (about 7 s each under TCG) on its first snapshot and
        first attach; the deployment's services have long done so."""
        for backend in BACKENDS:
            say(f"warm-up: {backend}")
            vol_id, _ = create("volume", ["volume", "create", "--size", "1", "--type",
                                          TYPES[backend], f"{PREFIX}{backend}-warmup"])
            snap_id, _ = create("volume snapshot", ["volume", "snapshot", "create",
                                                    "--volume", vol_id,
                                                    f"{PREFIX}{backend}-warmup-s"])
            revert(vol_id, snap_id)
            delete("volume snapshot", snap_id)
            delete("volume", vol_id)
        self.check_share("warm-up")

    def run_image_ops(self, backend: str, size: int, run: int, image_id: str) -> None:
        tag = f"{PREFIX}{backend}-{size}g-r{run}"
        made = []
        try:
            for op, name in (("create from image (cache miss)", "im"),
                             ("create from image (cache hit)", "ih")):
                vol_id, s = create("volume", ["volume", "create", "--image", image_id,
                                              "--size", str(size), "--type", TYPES[backend],
                                              f"{tag}-{name}"])
                made.append(vol_id)
                self.add(backend, size, op, s)
        finally:
            for vol_id in made:
                delete("volume", vol_id)

    def run(self, qcow2: str) -> None:
        from e2e.api import osc
        for run in range(1, self.runs + 1):
            order = BACKENDS if run % 2 else tuple(reversed(BACKENDS))
            for size in self.sizes:
                t_run = time.monotonic()
                image_id = upload_image(f"{PREFIX}image-r{run}-{size}g", qcow2)
                try:
                    for backend in order:
                        say(f"run {run}/{self.runs}, {size} GiB, {backend}")
                        self.run_volume_ops(backend, size, run)
                        self.run_image_ops(backend, size, run, image_id)
                finally:
                    delete_cache_entries(image_id)
                    osc("image", "delete", image_id)
                say(f"run {run}/{self.runs}, {size} GiB done in "
                    f"{time.monotonic() - t_run:.0f} s")


def ensure_types() -> None:
    from e2e import config
    from e2e.api import ensure_type
    ensure_type(TYPES["ocfs2"], volume_backend_name=OCFS2_BACKEND,
                pool_name=config.PRIMARY_LABEL)
    ensure_type(TYPES["nfs"], volume_backend_name=NFS_BACKEND)


def clean_everything(lab: Any) -> None:
    """Everything the bench makes, whatever state a failed run left it in."""
    from e2e import clients
    from e2e.api import clean_up, osc_json
    images = [i for i in osc_json("image", "list") if str(i["Name"]).startswith(PREFIX)]
    for backup in osc_json("volume", "backup", "list", "--all-projects"):
        if str(backup["Name"]).startswith(PREFIX):
            clients.cli(["openstack", "volume", "backup", "delete", "--force", backup["ID"]],
                        check=False)
            await_gone("volume backup", backup["ID"], time.monotonic(), timeout=900)
    clean_up(PREFIX)
    for image in images:
        delete_cache_entries(image["ID"])
        clients.cli(["openstack", "image", "delete", image["ID"]], check=False)
    for vtype in TYPES.values():
        clients.cli(["openstack", "volume", "type", "delete", vtype], check=False)
    NfsPeer(lab).stop()
    lab.node(NFS_NODE).sh(f"rm -rf {share_dir()} {PATTERN}", timeout=600)


def lab_facts(lab: Any) -> dict[str, str]:
    node = lab.node(NFS_NODE)
    from e2e import config, nodes
    return {
        "kernel": node.sh("uname -r", timeout=60).strip(),
        "cpus": node.sh("nproc", timeout=60).strip(),
        "mem_mib": node.sh("free -m | awk '/^Mem:/ {print $2}'", timeout=60).strip(),
        "pool": " ".join(node.sh(f"df -h --output=source,size,avail "
                                 f"{nodes.pool_dir(config.PRIMARY_LABEL)} | tail -1",
                                 timeout=60).split()),
        "host_load": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def on_lab(args: argparse.Namespace) -> int:
    from e2e import config, nodes
    from lab.lab import Lab
    lab = Lab()
    if not lab.is_up():
        down = [n.name for n in lab.nodes if not n.running()]
        print(f"the lab is not (fully) up: {', '.join(down) or 'no nodes'} not running; "
              "make demo first (or bring the node back)", file=sys.stderr)
        return 2
    need = 3 * max(args.sizes) * GiB
    free = int(lab.node(NFS_NODE).sh(
        f"df -B1 --output=avail {nodes.pool_dir(config.PRIMARY_LABEL)} | tail -1",
        timeout=60).strip())
    if free < need:
        print(f"lab0 has {free / GiB:.1f} GiB free; --sizes {max(args.sizes)} needs about "
              f"{need / GiB:.0f} GiB", file=sys.stderr)
        return 2
    started = time.time()
    facts = lab_facts(lab)
    peer = NfsPeer(lab)
    bench = Bench(lab, args.sizes, args.runs, args.image_mib, skip=args.skip)
    failure: str | None = None
    try:
        say("cleaning up leftovers of an earlier run")
        clean_everything(lab)
        ensure_types()
        peer.start()
        gen = (f"import random, sys; sys.stdout.buffer.write("
               f"random.Random(2026).randbytes({PATTERN_MIB} << 20))")
        lab.node(NFS_NODE).sh(f"python3 -c {shlex.quote(gen)} > {PATTERN}", timeout=300)
        with tempfile.TemporaryDirectory() as tmp:
            qcow2 = make_qcow2(tmp, args.image_mib)
            bench.warm_up()
            bench.run(qcow2)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - report what we have
        failure = f"{type(exc).__name__}: {exc}"
        say(f"FAILED: {failure}")
    finally:
        say("cleaning up")
        try:
            clean_everything(lab)
        except Exception as exc:  # noqa: BLE001
            say(f"cleanup failed ({exc}); run: bench/bench_api.py cleanup")
    elapsed = time.time() - started
    rows = summarize(bench.samples)
    print(f"Cinder API latency, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, "
          f"{args.runs} run(s), sizes {','.join(f'{s} GiB' for s in args.sizes)}, "
          f"{elapsed / 60:.1f} min in all; lab node1: Linux {facts['kernel']}, "
          f"{facts['cpus']} vCPU (qemu TCG), {facts['mem_mib']} MiB; pool lab0 "
          f"(device, size, free): {facts['pool']}; host load {facts['host_load']}.\n")
    print("Seconds from the CLI call to `available` (to gone for the deletes), "
          "CLI floor included."
          + (f" Not run (--skip): {', '.join(args.skip)}." if args.skip else "") + "\n")
    print(markdown(rows))
    for when, left in bench.leftovers.items():
        print(f"\nNFS share after all deletes ({when}): " + ", ".join(
            f"`{name}` ({v['allocated'] / MiB:.0f} MiB allocated)" for name, v in left.items()))
    if failure:
        print(f"\nINCOMPLETE: {failure}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"started": started, "elapsed_s": elapsed, "sizes_gib": args.sizes,
                       "runs": args.runs, "image_mib": args.image_mib, "lab": facts,
                       "skipped": args.skip,
                       "failure": failure, "samples": bench.samples, "summary": rows,
                       "nfs_share_leftovers": bench.leftovers},
                      f, indent=1)
            f.write("\n")
        say(f"samples written to {args.json}")
    return 1 if failure else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("cmd", nargs="?", choices=("run", "cleanup"), default="run")
    parser.add_argument("--sizes", type=parse_sizes, default=[1],
                        help="volume sizes in GiB, comma-separated (default 1; the issue's "
                             "1,8 needs about 24 GiB free on lab0)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip", type=parse_skip, default=[],
                        help="operations not to run: backup (8 GiB takes about 7 min a "
                             "run and backend)")
    parser.add_argument("--image-mib", type=int, default=256,
                        help="data in the qcow2 image for the create-from-image rows")
    parser.add_argument("--json", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        f"api-{time.strftime('%Y-%m-%d', time.gmtime())}.json"))
    args = parser.parse_args(argv)
    if args.cmd == "cleanup":
        from lab.lab import Lab
        clean_everything(Lab())
        return 0
    return on_lab(args)


if __name__ == "__main__":
    sys.exit(main())
