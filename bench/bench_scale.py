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
"""Benchmark: pool stats and the manageable listing at scale, on the lab's OCFS2.

    python bench/bench_scale.py lab [--volumes 10000] [--snapshots 1000]

From the host, on a running lab (``python -m lab up`` or ``make demo``):
node1 fills ``<lab0>/bench-scale/`` with ``--volumes`` sparse volume files
(1 GiB apparent, 4 KiB written each) and ``--snapshots`` reflinks of them
named as snapshots; node2, which did not create them, then times each method
twice: *cold* (its page, dentry and inode caches dropped first, so every
inode needs its cluster lock again) and *warm* (best of 3):

* ``driver refresh (background walk)``: what the driver's stats refresh does
  per pool: statvfs, then the newest finished walk (``capacity.Provisioned``,
  waiting at most ``capacity.WALK_WAIT_S`` for the one it starts);
* ``driver walk``: ``capacity.measure``, the walk itself (statvfs + one
  ``os.scandir`` summing apparent sizes; before 2026-12-07 the refresh waited
  for it, and this row was called ``driver stats``);
* ``du (NFS driver)``: ``du -sb --apparent-size --exclude '*snapshot*'``,
  what Cinder's generic NFS driver runs per share for the same figures;
* ``manageable volumes``: ``manage.list_manageable`` with every volume known
  to Cinder (what ``cinder manageable-list`` costs once the driver skips
  Cinder's own files);
* ``manageable snapshots``: the same for snapshots (one xattr read each).

The directory is removed afterwards. The node-side phases are
``populate DIR`` and ``measure DIR`` (JSON on stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GiB = 1024 ** 3
SUBDIR = "bench-scale"


# ------------------------------------------------------------------ on a node

def populate(directory: str, volumes: int, snapshots: int) -> dict:
    from cinder_ocfs2 import reflink
    os.makedirs(directory, exist_ok=True)
    t0 = time.perf_counter()
    names = []
    for _ in range(volumes):
        name = f"volume-{uuid.uuid4()}"
        fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     0o660)
        try:
            os.ftruncate(fd, GiB)
            os.pwrite(fd, b"x" * 4096, 0)
        finally:
            os.close(fd)
        names.append(name)
    made = time.perf_counter() - t0
    for name in names[:snapshots]:
        reflink.clone(os.path.join(directory, name),
                      os.path.join(directory, f"snapshot-{uuid.uuid4()}"))
    os.sync()
    return {"volumes_s": made, "snapshots_s": time.perf_counter() - t0 - made}


def _drop_caches() -> None:
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def _methods(directory: str) -> list[tuple[str, object]]:
    from cinder_ocfs2 import capacity, manage, names
    known = {n: n for n in os.listdir(directory)}
    return [
        ("driver walk", lambda: capacity.measure(directory).volume_count),
        ("du (NFS driver)", lambda: subprocess.run(
            ["du", "-sb", "--apparent-size", "--exclude", "*snapshot*", directory],
            check=True, capture_output=True, text=True).stdout.split()[0]),
        ("manageable volumes", lambda: len(manage.list_manageable(
            directory, known, templates=names.DEFAULT_TEMPLATES))),
        ("manageable snapshots", lambda: len(manage.list_manageable(
            directory, known, snapshots=True, templates=names.DEFAULT_TEMPLATES))),
    ]


def refresh_row(directory: str) -> dict:
    """The driver's stats refresh as it runs now: statvfs, then the newest result of
    the pool's walk, which runs in the background (``capacity.Provisioned``).

    Cold, the first refresh returns after the wait with no figure yet, and the walk
    goes on; its time is in ``result`` (waited for here, so that the next row starts
    cold again). Warm: best of 3 in steady state, each starting after the last
    walk ended (as every 60 s in the service); "fresh" counts the refreshes that
    returned the figure of the walk they started.
    """
    from cinder_ocfs2 import capacity
    walks = capacity.Provisioned(lambda: capacity.provisioned(directory))

    def refresh() -> tuple[tuple[int, int], float] | None:
        capacity.space(directory)
        return walks.latest()

    _drop_caches()
    t0 = time.perf_counter()
    got = refresh()
    cold = time.perf_counter() - t0
    first = "figure at once" if got is not None else "no figure yet"
    while got is None:
        got = walks.latest()
    walked = time.perf_counter() - t0
    warm, fresh = float("inf"), 0
    for _ in range(3):
        walks.idle()
        t0 = time.perf_counter()
        got = refresh()
        took = time.perf_counter() - t0
        warm = min(warm, took)
        fresh += got is not None and got[1] <= took  # its walk ended after t0
    return {"method": "driver refresh (background walk)", "cold_s": cold, "warm_s": warm,
            "result": f"cold: {first}, the walk's first figure after {walked:.0f} s; "
                      f"warm: {fresh} of 3 fresh; {got[0][1] if got else '?'} files"}


def measure(directory: str) -> list[dict]:
    rows = [refresh_row(directory)]
    for name, fn in _methods(directory):
        _drop_caches()
        t0 = time.perf_counter()
        result = fn()
        cold = time.perf_counter() - t0
        warm = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            warm = min(warm, time.perf_counter() - t0)
        rows.append({"method": name, "cold_s": cold, "warm_s": warm, "result": str(result)})
    return rows


# ------------------------------------------------------------------ from the host

def on_lab(volumes: int, snapshots: int) -> int:
    from lab.lab import Lab
    lab = Lab()
    if not lab.is_up():
        print("no lab is running: python -m lab up (or make demo) first", file=sys.stderr)
        return 2
    directory = f"{lab.mountpoint()}/{SUBDIR}"
    script = "/opt/cinder-ocfs2/bench/bench_scale.py"
    py = "PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python"
    node1, node2 = lab.node("node1"), lab.node("node2")
    node1.sh(f"rm -rf {directory}", timeout=1800)
    try:
        made = json.loads(node1.sh(f"{py} {script} populate {directory} --volumes {volumes}"
                                   f" --snapshots {snapshots}", timeout=7200))
        rows = json.loads(node2.sh(f"{py} {script} measure {directory}", timeout=3600))
    finally:
        node1.sh(f"rm -rf {directory}", timeout=1800)
    print(f"{volumes} volume files and {snapshots} reflink snapshots in {directory}, "
          f"made on node1 in {made['volumes_s']:.0f} s + {made['snapshots_s']:.0f} s; "
          f"measured on node2 ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    base = {r["method"]: r for r in rows}["driver walk"]
    print("| method | cold s | warm s (best of 3) | cold vs driver walk | result |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['method']} | {r['cold_s']:.3f} | {r['warm_s']:.3f} | "
              f"{r['cold_s'] / base['cold_s']:.1f}x | {r['result']} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for cmd in ("lab", "populate"):
        p = sub.add_parser(cmd)
        if cmd == "populate":
            p.add_argument("dir")
        p.add_argument("--volumes", type=int, default=10000)
        p.add_argument("--snapshots", type=int, default=1000)
    sub.add_parser("measure").add_argument("dir")
    args = parser.parse_args(argv)
    if args.cmd == "lab":
        return on_lab(args.volumes, args.snapshots)
    if args.cmd == "populate":
        print(json.dumps(populate(args.dir, args.volumes, args.snapshots)))
    else:
        print(json.dumps(measure(args.dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
