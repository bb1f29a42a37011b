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
"""Reflink under fragmentation: snapshot, clone and delete after N snapshot cycles.

A reflink copies the file's whole extent list, so its cost grows with the
extents a volume has; a volume that lives through many snapshots, each
followed by scattered writes (copy-on-write splits the shared extents), has
many. This takes one fully written volume through cycles of "reflink
snapshot, then ``--writes`` random 4 KiB O_DIRECT writes", keeping every
snapshot as a long-lived volume's would be kept, and at N = ``--cycles``
(default 0, 10, 50, 200 cycles done) records:

* extents of the volume (FIEMAP, as ``filefrag`` counts them);
* snapshot: ``reflink.clone_atomic`` of the volume (what create_snapshot does);
* clone: the same to a volume name, then fsync (create_cloned_volume);
* delete: unlink of that clone;
* full copy: ``reflink.sparse_copy`` of the volume into a directory of a
  filesystem without refcount when ``--other-dir`` is given (the defragmented
  copy a clone-depth guard would make instead), else skipped.

Each reflink time is also given as a ratio to its N = 0 time, and the full
copy as a ratio to the clone at the same N. Run it on a lab node:

    PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python \\
        /opt/cinder-ocfs2/bench/bench_frag.py --dir /var/lib/cinder/ocfs2/lab0 \\
        [--size 256M] [--cycles 0,10,50,200] [--writes 64] [--other-dir DIR]
"""

from __future__ import annotations

import argparse
import mmap
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_reflink import MiB, describe, parse_size, write_volume  # noqa: E402

from cinder_ocfs2 import reflink  # noqa: E402

BLOCK = 4096


def extents(path: str) -> int:
    """The file's extent count, as ``filefrag`` (FIEMAP) reports it."""
    out = subprocess.run(["filefrag", path], check=True, capture_output=True,
                         text=True).stdout
    return int(out.rsplit(":", 1)[1].split()[0])


def scatter(path: str, size: int, writes: int, rng: random.Random) -> None:
    """``writes`` random 4 KiB O_DIRECT writes (each splits a shared extent)."""
    aligned = mmap.mmap(-1, BLOCK)  # page-aligned, as O_DIRECT needs
    aligned.write(os.urandom(BLOCK))
    fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    try:
        for _ in range(writes):
            os.pwritev(fd, [aligned], rng.randrange(size // BLOCK) * BLOCK)
        os.fsync(fd)
    finally:
        os.close(fd)


def timed(fn, src: str, dst: str) -> float:
    """Seconds for ``fn(src, dst)`` and an fsync of ``dst``."""
    t0 = time.perf_counter()
    fn(src, dst)
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--other-dir")
    parser.add_argument("--size", default="256M")
    parser.add_argument("--cycles", default="0,10,50,200")
    parser.add_argument("--writes", type=int, default=64)
    args = parser.parse_args(argv)
    size = parse_size(args.size)
    marks = sorted({int(c) for c in args.cycles.split(",")})
    work = tempfile.mkdtemp(prefix="bench-frag-", dir=args.dir)
    other = tempfile.mkdtemp(prefix="bench-frag-", dir=args.other_dir) \
        if args.other_dir else None
    rng = random.Random(42)
    vol = os.path.join(work, "volume-frag")
    snap, clone = os.path.join(work, "snapshot-timed"), os.path.join(work, "volume-clone")
    copy = os.path.join(other, "volume-copy") if other else ""
    rows = []
    try:
        write_volume(vol, size)
        done = 0
        for mark in marks:
            while done < mark:
                reflink.clone_atomic(vol, os.path.join(work, f"snapshot-{done}"))
                scatter(vol, size, args.writes, rng)
                done += 1
            row = {"n": mark, "extents": extents(vol),
                   "snapshot": timed(reflink.clone_atomic, vol, snap),
                   "clone": timed(reflink.clone, vol, clone)}
            t0 = time.perf_counter()
            os.unlink(clone)
            row["delete"] = time.perf_counter() - t0
            os.unlink(snap)
            if copy:
                row["full copy"] = timed(reflink.sparse_copy, vol, copy)
                os.unlink(copy)
            rows.append(row)
            print(f"N={mark}: {row}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if other:
            shutil.rmtree(other, ignore_errors=True)
    print(f"{describe(args.dir)}; volume {size // MiB} MiB fully written; each cycle: a kept "
          f"reflink snapshot, then {args.writes} random 4 KiB O_DIRECT writes\n")
    base = rows[0]
    head = "| N cycles | extents | snapshot s | vs N=0 | clone s | vs N=0 | delete s | vs N=0 |"
    sep = "|---:|---:|---:|---:|---:|---:|---:|---:|"
    if other:
        head, sep = head + " full copy s | full copy vs clone |", sep + "---:|---:|"
    print(head)
    print(sep)
    for r in rows:
        line = (f"| {r['n']} | {r['extents']} | {r['snapshot']:.3f} | "
                f"{r['snapshot'] / base['snapshot']:.1f}x | {r['clone']:.3f} | "
                f"{r['clone'] / base['clone']:.1f}x | {r['delete']:.3f} | "
                f"{r['delete'] / base['delete']:.1f}x |")
        if other:
            line += f" {r['full copy']:.2f} | {r['full copy'] / r['clone']:.0f}x |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
