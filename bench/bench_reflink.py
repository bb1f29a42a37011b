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
"""Reflink snapshots and clones against full copies, side by side in one run.

For each size, a fully written volume file is made, then timed:

* snapshot            ``reflink.copy(volume, snapshot)`` (FICLONE)
* clone               ``reflink.copy(volume, clone)`` (create_cloned_volume)
* volume from snap    ``reflink.copy(snapshot, vol, size=+1 GiB)`` (reflink + grow)
* delete snapshot     ``os.unlink`` of a file whose extents are shared
* qemu-img convert    ``qemu-img convert [-t none] -f raw -O raw`` (today's driver)
* cp --sparse         ``cp --sparse=always --reflink=never``
* sparse_copy         ``reflink.sparse_copy`` on the same filesystem; its
                      ``copy_file_range`` is itself turned into a reflink by
                      the kernel on OCFS2 with refcount (0 bytes used)
* another filesystem  ``reflink.copy`` to ``--other-dir``: EXDEV, so the
                      logged sparse fallback (a real copy of the data extents)

Every timing includes an fsync of the result; page caches are dropped
before each step when running as root.  "space" is the growth of the
filesystem's used blocks (statvfs) caused by the step: near zero for a
reflink.  Each copy is spot-checked (sha256 of 1 MiB blocks at fixed
offsets) against the source.  Full copies are deleted right after they are
timed, so the filesystem needs about 2x the largest size free.

    PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python \\
        /opt/cinder-ocfs2/bench/bench_reflink.py --dir /var/lib/cinder/ocfs2/lab0 \\
        --other-dir /var/lib/cinder/ocfs2/other --sizes 1G,8G

On a filesystem without reflinks (ext4, tmpfs) the reflink rows show the
sparse fallback ``reflink.copy`` takes instead (CI smoke test).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import json
import os
import platform
import shutil
import sys
import time
import uuid

from cinder_ocfs2 import executor, mountinfo, reflink

MiB = 1 << 20
GiB = 1 << 30
_UNITS = {"K": 1 << 10, "M": MiB, "G": GiB, "T": 1 << 40}


def parse_size(text: str) -> int:
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in _UNITS:
        return int(float(text[:-1]) * _UNITS[text[-1]])
    return int(text)


def human(n: int) -> str:
    for unit, div in (("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if abs(n) >= div:
            return f"{n / div:.2f} {unit}" if n % div else f"{n // div} {unit}"
    return f"{n} B"


def used_bytes(path: str) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_caches() -> None:
    os.sync()
    with contextlib.suppress(OSError):
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")


def write_volume(path: str, size: int) -> None:
    """Fill ``path`` with non-zero data (no holes), fsync it."""
    block = bytearray(os.urandom(4 * MiB))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        done = 0
        while done < size:
            n = min(len(block), size - done)
            block[0:8] = done.to_bytes(8, "little")  # every block differs
            view = memoryview(block)[:n]
            while view:
                view = view[os.write(fd, view):]
            done += n
        os.fsync(fd)
    finally:
        os.close(fd)


def spot_digest(path: str, size: int, blocks: int = 8) -> str:
    """sha256 over ``blocks`` 1 MiB blocks spread over the first ``size`` bytes."""
    h = hashlib.sha256()
    step = max((size - MiB) // max(blocks - 1, 1), 1)
    with open(path, "rb") as f:
        for i in range(blocks):
            f.seek(min(i * step, max(size - MiB, 0)))
            h.update(f.read(MiB))
    return h.hexdigest()


def odirect_ok(dirpath: str) -> bool:
    """What cinder's image_utils checks before passing ``-t none``."""
    probe = os.path.join(dirpath, f".tmp-odirect-{uuid.uuid4().hex}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
        os.close(fd)
        return True
    except OSError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(probe)


class Bench:
    def __init__(self, dirpath: str, drop: bool, other: str | None = None) -> None:
        self.dir = dirpath
        self.other = other
        self.drop = drop
        self.rows: list[dict] = []
        self.qemu_cache = ["-t", "none"] if odirect_ok(dirpath) else []

    def path(self, name: str) -> str:
        return os.path.join(self.dir, f"bench-{name}")

    def step(self, size: int, op: str, fn, out: str | None, src: str | None = None,
             method: str = "") -> dict:
        where = os.path.dirname(out) if out else self.dir
        if self.drop:
            drop_caches()
        before = used_bytes(where)
        t0 = time.monotonic()
        result = fn()
        if out is not None:
            fsync_path(out)
        seconds = time.monotonic() - t0
        os.sync()
        row = {"size": size, "op": op, "method": result if isinstance(result, str) else method,
               "seconds": seconds, "space": used_bytes(where) - before, "ok": None}
        if out is not None and src is not None:
            row["ok"] = spot_digest(out, size) == spot_digest(src, size)
        self.rows.append(row)
        print(f"  {op:<28} {row['method']:<10} {seconds:9.3f} s  space {human(row['space'])}"
              f"{'' if row['ok'] in (None, True) else '  CONTENT MISMATCH'}",
              file=sys.stderr, flush=True)
        return row

    def run_size(self, size: int, full: bool) -> None:
        vol, snap = self.path("volume"), self.path("snapshot")
        clone, from_snap = self.path("clone"), self.path("from-snap")
        print(f"{human(size)}: writing the volume", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        write_volume(vol, size)
        self.rows.append({"size": size, "op": "write volume (setup)", "method": "write",
                          "seconds": time.monotonic() - t0, "space": size, "ok": None})
        try:
            self.step(size, "snapshot", lambda: reflink.copy(vol, snap), snap, vol)
            self.step(size, "clone", lambda: reflink.copy(vol, clone), clone, vol)
            self.step(size, "volume from snapshot (+1 GiB)",
                      lambda: reflink.copy(snap, from_snap, size=size + GiB), from_snap, vol)
            for p in (clone, from_snap):
                os.unlink(p)
            self.step(size, "delete snapshot", lambda: os.unlink(snap), None, method="unlink")
            if not full:
                return
            for op, method, fn in (
                ("full copy: qemu-img convert", "qemu-img",
                 lambda dst: executor.run(["qemu-img", "convert", *self.qemu_cache, "-f", "raw",
                                           "-O", "raw", vol, dst], timeout=7200)),
                ("full copy: cp --sparse", "cp",
                 lambda dst: executor.run(["cp", "--sparse=always", "--reflink=never", vol, dst],
                                          timeout=7200)),
                ("sparse_copy, same filesystem", "sparse",
                 lambda dst: reflink.sparse_copy(vol, dst)),
                ("copy to another filesystem", "",
                 lambda dst: reflink.copy(vol, dst)),
            ):
                if method == "" and not self.other:
                    continue
                dst = (os.path.join(self.other, "bench-full") if method == ""
                       else self.path("full"))
                try:
                    self.step(size, op, lambda fn=fn, dst=dst: fn(dst), dst, vol, method=method)
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(dst)
        finally:
            for p in (vol, snap, clone, from_snap):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(p)

    def table(self) -> str:
        lines = ["| size | operation | method | seconds | vs qemu-img convert | space used "
                 "| data |", "|---:|---|---|---:|---:|---:|---|"]
        base = {r["size"]: r["seconds"] for r in self.rows if r["method"] == "qemu-img"}
        for r in self.rows:
            ref = base.get(r["size"])
            if (r["method"] in ("qemu-img", "write", "unlink") or ref is None):
                ratio = "1x" if r["method"] == "qemu-img" else ""
            else:
                ratio = f"{ref / max(r['seconds'], 1e-6):,.0f}x faster"
                if r["seconds"] > ref:
                    ratio = f"{r['seconds'] / ref:.2f}x slower"
            data = {True: "same", False: "MISMATCH", None: ""}[r["ok"]]
            lines.append(f"| {human(r['size'])} | {r['op']} | {r['method']} | "
                         f"{r['seconds']:.3f} | {ratio} | {human(r['space'])} | {data} |")
        return "\n".join(lines)


def describe_fs(dirpath: str) -> str:
    mount = mountinfo.find(mountinfo.read(), os.path.realpath(dirpath))
    return f"{mount.fstype} {mount.source} at {mount.mount_point}" if mount else "unknown fs"


def describe(dirpath: str) -> str:
    mount = mountinfo.find(mountinfo.read(), os.path.realpath(dirpath))
    fs = describe_fs(dirpath)
    features = ""
    if mount and mount.fstype == "ocfs2":
        with contextlib.suppress(Exception):
            from cinder_ocfs2 import fsinfo
            info = fsinfo.query(dirpath)
            features = (f", block {info.block_size} / cluster {info.cluster_size}, "
                        f"refcount={'yes' if info.has_refcount else 'no'}")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"{now} on {platform.node()} (Linux {platform.release()}, "
            f"{os.cpu_count()} CPU): {fs}{features}; "
            f"reflink supported: {reflink.supports_reflink(dirpath)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", required=True, help="a directory on the filesystem to measure")
    p.add_argument("--sizes", default="1G,8G", help="comma separated, e.g. 1G,8G (default)")
    p.add_argument("--other-dir", help="a directory on ANOTHER filesystem: also time "
                   "reflink.copy across filesystems (the sparse fallback)")
    p.add_argument("--no-full-copy", action="store_true",
                   help="skip qemu-img/cp/sparse_copy (reflink rows only)")
    p.add_argument("--no-drop-caches", action="store_true")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args(argv)
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    need = 2 * max(sizes) + 64 * MiB
    free = shutil.disk_usage(args.dir).free
    if free < need:
        print(f"bench_reflink: {args.dir} has {human(free)} free, needs {human(need)} "
              f"(2x the largest size); use a bigger disk or smaller --sizes", file=sys.stderr)
        return 2
    header = describe(args.dir)
    print(header, file=sys.stderr)
    if args.other_dir:
        if os.stat(args.other_dir).st_dev == os.stat(args.dir).st_dev:
            print("bench_reflink: --other-dir must be on another filesystem", file=sys.stderr)
            return 2
        if shutil.disk_usage(args.other_dir).free < max(sizes) + 64 * MiB:
            print(f"bench_reflink: {args.other_dir} is too small", file=sys.stderr)
            return 2
        header += f"; other filesystem: {describe_fs(args.other_dir)}"
    bench = Bench(args.dir, drop=not args.no_drop_caches and os.geteuid() == 0,
                  other=args.other_dir)
    for size in sizes:
        bench.run_size(size, full=not args.no_full_copy)
    print(f"Measured {header}\n")
    print(bench.table())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"where": header, "rows": bench.rows}, f, indent=1)
    return 0 if all(r["ok"] in (None, True) for r in bench.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
