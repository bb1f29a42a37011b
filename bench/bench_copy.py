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
"""Copies of a volume file to ANOTHER filesystem, side by side in one run.

For each size, a source volume is written in ``--dir`` (fully written, no
holes; with ``--zeros`` also a second one in which every other 8 MiB is
written zeros), then each method copies it to ``--other-dir``:

* driver                 the driver's copy between filesystems since
                         2026-12-06 (``OCFS2Driver._convert``): the argv of
                         ``reflink.convert_argv``, ``qemu-img convert`` with
                         ``-t none`` where ``volumes.direct_io_ok`` says the
                         target takes O_DIRECT
* sparse_copy            ``reflink.sparse_copy``, the driver's copy within a
                         filesystem without refcount (and between filesystems
                         before): data extents only (SEEK_DATA/SEEK_HOLE),
                         copy_file_range per extent, on EXDEV pread/pwrite of
                         1 MiB with all-zero MiBs left as holes
* qemu-img -t none       ``qemu-img convert -t none -f raw -O raw`` (the
                         baseline of bench_reflink.py and of the ratios)
* qemu-img               ``qemu-img convert -f raw -O raw``: what Cinder's
                         image_utils runs for a file (``-t none`` only for a
                         block device)
* cp --sparse            ``cp --sparse=always --reflink=never``
* dd                     ``dd bs=8M conv=sparse,fdatasync``

Every timing includes an fsync (fdatasync) of the copy; page caches are
dropped before each step when running as root (``--no-drop-caches`` keeps
them, and then only the files of the run are evicted, with
``POSIX_FADV_DONTNEED``).  "CPU s" is the user + system time of the copying
process (or command), a hint of what a copy costs on an emulated CPU.
"space" is the growth of the other filesystem's used blocks.  Each copy is
spot-checked against the source (sha256 of 1 MiB blocks at 16 offsets) and
deleted.  With ``--repeat N`` each method runs N times, interleaved; the
table gives the median.

    PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python \\
        /opt/cinder-ocfs2/bench/bench_copy.py --dir /var/lib/cinder/ocfs2/lab0 \\
        --other-dir /var/lib/cinder/ocfs2/other --sizes 1G,8G --zeros
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import sys
import time

from bench_reflink import (
    MiB,
    describe,
    describe_fs,
    drop_caches,
    human,
    odirect_ok,
    parse_size,
    spot_digest,
    used_bytes,
    write_volume,
)

from cinder_ocfs2 import executor, reflink, volumes

#: The zero pattern of ``--zeros``: every other block of this size is zeros.
ZERO_STRIDE = 8 * MiB

# ------------------------------------------------------------------ sources

def write_half_zeros(path: str, size: int) -> None:
    """Like write_volume, but every other ZERO_STRIDE block is written zeros."""
    write_volume(path, size)
    zeros = bytes(ZERO_STRIDE)
    fd = os.open(path, os.O_WRONLY)
    try:
        for off in range(ZERO_STRIDE, size, 2 * ZERO_STRIDE):
            view = memoryview(zeros)[:min(ZERO_STRIDE, size - off)]
            while view:
                n = os.pwrite(fd, view, off)
                view, off = view[n:], off + n
        os.fsync(fd)
    finally:
        os.close(fd)


def evict(path: str) -> None:
    """Drop the cached pages of one file (after writing it back)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def cpu_seconds() -> float:
    """User + system CPU of this process and its waited-for children.

    On an emulated (TCG) node every instruction is expensive, so this is the
    part of a copy's cost that the host's numbers say something about.
    Writeback done by kernel threads is not included.
    """
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    return total


def fdatasync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ methods

def methods(qemu: bool, direct_ok: bool) -> list[tuple[str, object]]:
    """``[(name, fn(src, dst) -> str | None), ...]`` in the order they run."""
    def run(argv: list[str], *, io_args: bool = False):
        def fn(src: str, dst: str) -> None:
            tail = [f"if={src}", f"of={dst}"] if io_args else [src, dst]
            executor.run([*argv, *tail], timeout=7200)
        return fn

    def driver(src: str, dst: str) -> None:
        direct = volumes.direct_io_ok(dst)
        executor.run(reflink.convert_argv(src, dst, direct=direct), timeout=None)

    out: list[tuple[str, object]] = []
    if qemu:
        out.append(("driver", driver))
    out.append(("sparse_copy", lambda src, dst: reflink.sparse_copy(src, dst)))
    if qemu and direct_ok:
        out.append(("qemu-img -t none", run(["qemu-img", "convert", "-t", "none",
                                             "-f", "raw", "-O", "raw"])))
    if qemu:
        out.append(("qemu-img", run(["qemu-img", "convert", "-f", "raw", "-O", "raw"])))
    out.append(("cp --sparse", run(["cp", "--sparse=always", "--reflink=never"])))
    out.append(("dd", run(["dd", "bs=8M", "conv=sparse,fdatasync", "status=none"],
                          io_args=True)))
    return out


def fio_bandwidth(doc: dict, rw: str) -> float:
    """Bytes per second of fio's ``--output-format=json`` document, summed over jobs."""
    return float(sum(job[rw]["bw_bytes"] for job in doc["jobs"]))


def disk_bandwidth(src: str, other: str, size: int) -> dict[str, float]:
    """The disks' own sequential bandwidth, with fio (1 MiB O_DIRECT, queue depth 8):
    reading the written source file, and writing a new file on the other filesystem
    (fsync at the end). What a copy between the two could reach at best."""
    common = ["fio", "--bs=1M", "--direct=1", "--ioengine=libaio", "--iodepth=8",
              f"--size={size}", "--output-format=json"]
    dst = os.path.join(other, "bench-copy-fio")
    out = {}
    try:
        for rw, path in (("read", src), ("write", dst)):
            text = executor.run([*common, f"--name={rw}", f"--filename={path}", f"--rw={rw}",
                                 *(["--end_fsync=1"] if rw == "write" else [])],
                                timeout=7200).stdout
            out[rw] = fio_bandwidth(json.loads(text[text.index("{"):]), rw)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(dst)
    return out


class Bench:
    def __init__(self, dirpath: str, other: str, drop: bool, repeat: int,
                 fio: bool = False) -> None:
        self.dir, self.other, self.drop, self.repeat = dirpath, other, drop, repeat
        self.methods = methods(shutil.which("qemu-img") is not None, odirect_ok(other))
        self.rows: list[dict] = []
        self.fio = fio and shutil.which("fio") is not None
        #: (size, source) -> {"read": B/s, "write": B/s}
        self.disk: dict[tuple[int, str], dict[str, float]] = {}

    def step(self, size: int, source: str, name: str, fn, src: str) -> dict:
        dst = os.path.join(self.other, "bench-copy")
        if self.drop:
            drop_caches()
        else:
            evict(src)
        before = used_bytes(self.other)
        try:
            cpu0 = cpu_seconds()
            t0 = time.monotonic()
            path = fn(src, dst)
            fdatasync_path(dst)
            seconds = time.monotonic() - t0
            cpu = cpu_seconds() - cpu0
            space = used_bytes(self.other) - before
            ok = (os.stat(dst).st_size == size
                  and spot_digest(dst, size, blocks=16) == spot_digest(src, size, blocks=16))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(dst)
        row = {"size": size, "source": source, "method": name, "path": path or "",
               "seconds": seconds, "cpu": cpu, "space": space, "ok": ok}
        self.rows.append(row)
        print(f"  {source:<10} {name:<22} {seconds:9.3f} s  cpu {cpu:7.3f} s  "
              f"space {human(space)}"
              f"{'' if ok else '  CONTENT MISMATCH'}", file=sys.stderr, flush=True)
        return row

    def run_size(self, size: int, zeros: bool) -> None:
        sources = [("full", write_volume)] + ([("half zero", write_half_zeros)] if zeros else [])
        for source, make in sources:
            src = os.path.join(self.dir, "bench-copy-src")
            print(f"{human(size)} {source}: writing the source", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            make(src, size)
            print(f"  written in {time.monotonic() - t0:.3f} s", file=sys.stderr, flush=True)
            try:
                if self.fio:
                    if self.drop:
                        drop_caches()
                    bw = self.disk[(size, source)] = disk_bandwidth(src, self.other, size)
                    print(f"  fio: read {bw['read'] / MiB:.1f} MiB/s, "
                          f"write {bw['write'] / MiB:.1f} MiB/s", file=sys.stderr, flush=True)
                for _ in range(self.repeat):
                    for name, fn in self.methods:
                        self.step(size, source, name, fn, src)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(src)

    def summary(self) -> list[dict]:
        """One row per (size, source, method): median seconds over the repeats."""
        groups: dict[tuple, list[dict]] = {}
        for r in self.rows:
            groups.setdefault((r["size"], r["source"], r["method"]), []).append(r)
        out = []
        for (size, source, method), rows in groups.items():
            secs = [r["seconds"] for r in rows]
            out.append({"size": size, "source": source, "method": method,
                        "path": rows[0]["path"], "seconds": statistics.median(secs),
                        "min": min(secs), "max": max(secs), "runs": len(rows),
                        "cpu": statistics.median(r["cpu"] for r in rows),
                        "space": max(r["space"] for r in rows),
                        "ok": all(r["ok"] for r in rows)})
        base_name = next((m for m, _ in self.methods if m.startswith("qemu-img")), None)
        base = {(r["size"], r["source"]): r["seconds"] for r in out if r["method"] == base_name}
        for r in out:
            ref = base.get((r["size"], r["source"]))
            r["vs"] = base_name
            r["ratio"] = r["seconds"] / ref if ref else None
        return out

    def table(self) -> str:
        summary = self.summary()
        base = summary[0]["vs"] if summary else None
        spread = self.repeat > 1
        disk = bool(self.disk)
        lines = [f"| size | source | method | seconds{' (median)' if spread else ''} "
                 f"{'| min–max ' if spread else ''}| vs {base or 'qemu-img'} | CPU s "
                 f"| space used | data |" + (" MiB/s | of the disks' |" if disk else ""),
                 f"|---:|---|---|---:|{'---:|' if spread else ''}---:|---:|---:|---|"
                 + ("---:|---:|" if disk else "")]
        for (size, source), bw in self.disk.items():
            for rw in ("read", "write"):
                secs = size / bw[rw]
                lines.append(f"| {human(size)} | {source} | fio {rw} (1 MiB direct) | "
                             f"{secs:.3f} {'| ' if spread else ''}|  |  |  |  |"
                             + (f" {bw[rw] / MiB:.1f} |  |" if disk else ""))
        for r in summary:
            if r["ratio"] is None:
                ratio = ""
            elif r["method"] == base:
                ratio = "1x"
            elif r["ratio"] > 1:
                ratio = f"{r['ratio']:.2f}x slower"
            else:
                ratio = f"{1 / r['ratio']:.2f}x faster"
            method = r["method"] + (f" ({r['path']})" if r["path"] else "")
            extra = f"| {r['min']:.3f}–{r['max']:.3f} " if spread else ""
            lines.append(f"| {human(r['size'])} | {r['source']} | {method} | "
                         f"{r['seconds']:.3f} {extra}| {ratio} | {r['cpu']:.3f} | "
                         f"{human(r['space'])} | "
                         f"{'same' if r['ok'] else 'MISMATCH'} |"
                         + (self._vs_disk(r) if disk else ""))
        return "\n".join(lines)

    def _vs_disk(self, r: dict) -> str:
        """Throughput, and its fraction of the slower of the disks' read and write."""
        rate = r["size"] / r["seconds"]
        bw = self.disk.get((r["size"], r["source"]))
        frac = f"{rate / min(bw.values()):.0%}" if bw else ""
        return f" {rate / MiB:.1f} | {frac} |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", required=True, help="where the source volume is written")
    p.add_argument("--other-dir", required=True,
                   help="a directory on ANOTHER filesystem, where the copies go")
    p.add_argument("--sizes", default="1G,8G", help="comma separated, e.g. 1G,8G (default)")
    p.add_argument("--repeat", type=int, default=1, help="runs of each method (median)")
    p.add_argument("--zeros", action="store_true",
                   help="also a source whose every other 8 MiB is written zeros")
    p.add_argument("--no-drop-caches", action="store_true",
                   help="do not drop the page caches (only this run's files are evicted)")
    p.add_argument("--fio", action="store_true",
                   help="also measure the disks' sequential bandwidth with fio and give each "
                        "copy as a fraction of it")
    p.add_argument("--json", help="also write the rows and the summary to this file "
                   "('-' for stdout, after the table)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    if os.stat(args.other_dir).st_dev == os.stat(args.dir).st_dev:
        print("bench_copy: --other-dir must be on another filesystem than --dir",
              file=sys.stderr)
        return 2
    for d, need in ((args.dir, max(sizes)), (args.other_dir, max(sizes))):
        free = shutil.disk_usage(d).free
        if free < need + 64 * MiB:
            print(f"bench_copy: {d} has {human(free)} free, needs {human(need + 64 * MiB)}",
                  file=sys.stderr)
            return 2
    header = f"{describe(args.dir)}; other filesystem: {describe_fs(args.other_dir)}"
    print(header, file=sys.stderr)
    bench = Bench(args.dir, args.other_dir,
                  drop=not args.no_drop_caches and os.geteuid() == 0, repeat=args.repeat,
                  fio=args.fio)
    for size in sizes:
        bench.run_size(size, zeros=args.zeros)
    print(f"Measured {header}; "
          f"caches {'dropped' if bench.drop else 'kept (files evicted)'}, "
          f"{args.repeat} run(s) each\n")
    print(bench.table())
    if args.json:
        doc = {"where": header, "rows": bench.rows, "summary": bench.summary(),
               "disk": [{"size": k[0], "source": k[1], **v} for k, v in bench.disk.items()]}
        if args.json == "-":
            print()
            json.dump(doc, sys.stdout, indent=1)
            print()
        else:
            with open(args.json, "w") as f:
                json.dump(doc, f, indent=1)
    return 0 if all(r["ok"] for r in bench.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
