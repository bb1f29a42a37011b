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
"""Benchmark: copy-on-write, thick against sparse, and two nodes on one refcount tree.

    python bench/bench_cow.py lab [--size 1G] [--golden-size 512M] [--runtime 30]
        [--fast-runtime 5] [--rate-iops 0] [--iodepth 16] [--first-writes 128]
        [--clones 20] [--rounds 5] [--clone-writes 256] [--out STEM]

From the host, on a running lab (``python -m lab up`` or ``make demo``), in
``<lab0>/bench-cow/`` (removed afterwards), one run, side by side:

1. **Copy-on-write.** A ``--size`` volume file written full (sequential
   O_DIRECT) takes fio 4 KiB random writes (libaio, direct, ``--iodepth``)
   with no snapshot for ``--fast-runtime`` s, then for ``--runtime`` s right
   after a reflink snapshot (``reflink.clone_atomic``, what
   ``create_snapshot`` does). The
   extents the writes unshared are read with FIEMAP (``filefrag -v``, the
   ``shared`` flag) and given per MiB written. After a second snapshot, fio
   writes ``--first-writes`` single 4 KiB blocks, each at the start of the
   next MiB, so that every write is a first write to a shared extent: its
   IOPS, and the unit OCFS2 copies for one (``MAX_CONTIG_BYTES``, 1 MiB, in
   fs/ocfs2/refcounttree.c). The pool's own figure (statvfs used) is kept
   too; it moves in steps of a node's local-alloc window (about 100 MiB in
   the lab), so it is coarse.
2. **Thick against sparse.** First-write 4 KiB random-write IOPS on a fresh
   ``--size`` file made by ``volumes.create`` sparse (``ftruncate``) and thick
   (``posix_fallocate``, unwritten extents), as the driver makes volumes.
3. **Two nodes at once.** ``--clones`` ``reflink.clone_atomic`` copies of one
   golden file (``--golden-size``, written full) made by node1 alone, against
   half from node1 and half from node2 at the same moment (median clones/s of
   ``--rounds`` rounds); then fio to a fresh clone of the golden image from
   node1 alone, against a fresh clone each from node1 and node2 at once (one
   refcount tree, so one cluster lock, shared by both), against the same on
   clones of two different golden images (two trees), the control for the
   host's shared CPUs. Each case twice, as a fixed amount of work per clone
   (a time-based run would not compare: a fast node soon has copied most
   MiBs of its clone, and later writes to them cost nothing):
   ``--clone-writes`` 4 KiB random writes, and ``--first-writes`` writes
   that are all first writes to a shared MiB (node2's in the other half of
   the file).

**Careful: fast runs can fence a lab node.** On 2026-12-05 the first full
run's 30 s no-snapshot run (about 12,000 IOPS of O_DIRECT 4 KiB writes on
a 1 GiB file, node1, 1 vCPU under TCG) starved o2hb: "hb write hung for
10s" on the pool's disk, a heartbeat write timeout after 21 s (the lab's
dead threshold is 20 s), and node1 fenced itself (restart, which ends the
VM). 3 to 8 s runs at the same rate had not. So the runs that reach
thousands of IOPS (no snapshot, sparse, thick) last ``--fast-runtime`` s
(default 5), and ``--rate-iops`` caps every run if that is not enough; the
runs against shared extents stay at 20 to 50 IOPS and use ``--runtime``.

Caches are dropped on both nodes before every timed step. Two-node steps
start together at a barrier on the shared filesystem. The result is a
markdown table (operation, case, value, ratio), printed and saved with the
JSON of every measurement as ``STEM.md`` and ``STEM.json`` (default
``bench/results/cow-<date>``). The node-side steps are subcommands of this
script (``write``, ``create``, ``snapshot``, ``fio``, ``clones``;
JSON on stdout), run on a node through the lab's agent.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench_reflink import MiB, human, parse_size  # noqa: E402

BLOCK = 4096
SUBDIR = "bench-cow"
BARRIERS = ".barrier"
NODE_SCRIPT = "/opt/cinder-ocfs2/bench/bench_cow.py"
NODE_PY = "PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python"


# ------------------------------------------------------------ pure: parsing

@dataclass(frozen=True)
class FioResult:
    """The write side of one fio run (all jobs summed)."""

    iops: float
    io_bytes: int
    ios: int
    runtime_s: float
    bw_bytes: float
    lat_mean_us: float
    clat_p99_us: float
    errors: int


def _fio_json(text: str) -> dict[str, Any]:
    """The JSON document in fio's ``--output-format=json`` output.

    fio may print notes (``fio: ...``) before the document; they are skipped.
    """
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON document in fio's output")
    return json.loads(text[start:])


def parse_fio(text: str) -> FioResult:
    """Summarise fio's JSON output: write IOPS, bytes, latencies of all jobs.

    A sample of the document (``jobs[].write``, fio 3.33)::

        {"fio version": "fio-3.33", "jobs": [{"jobname": "cow", "error": 0,
          "write": {"io_bytes": 1662976, "bw_bytes": 55421, "iops": 13.53,
                    "runtime": 30006, "total_ios": 406,
                    "clat_ns": {"mean": ..., "percentile": {"99.000000": ...}},
                    "lat_ns": {"mean": ...}}, ...}]}
    """
    doc = _fio_json(text)
    jobs = doc.get("jobs") or []
    if not jobs:
        raise ValueError("fio's output has no jobs")
    writes = [j["write"] for j in jobs]
    ios = sum(int(w.get("total_ios", 0)) for w in writes)
    io_bytes = sum(int(w["io_bytes"]) for w in writes)
    runtime_ms = max(int(w["runtime"]) for w in writes)
    weights = [max(int(w.get("total_ios", 0)), 0) for w in writes]
    total = sum(weights) or 1

    def weighted(key: str) -> float:
        return sum(float(w[key]["mean"]) * n for w, n in zip(writes, weights, strict=True)) / total

    p99 = max(float((w.get("clat_ns", {}).get("percentile") or {}).get("99.000000", 0.0))
              for w in writes)
    return FioResult(
        iops=sum(float(w["iops"]) for w in writes),
        io_bytes=io_bytes,
        ios=ios,
        runtime_s=runtime_ms / 1000.0,
        bw_bytes=sum(float(w["bw_bytes"]) for w in writes),
        lat_mean_us=weighted("lat_ns") / 1000.0,
        clat_p99_us=p99 / 1000.0,
        errors=sum(1 for j in jobs if j.get("error")),
    )


@dataclass(frozen=True)
class Extents:
    """What ``filefrag -v`` says of a file: extent count, mapped and shared bytes."""

    count: int
    mapped_bytes: int
    shared_bytes: int

    @property
    def unshared_bytes(self) -> int:
        return self.mapped_bytes - self.shared_bytes


def parse_filefrag(text: str) -> Extents:
    """Parse ``filefrag -v FILE``: extents, bytes mapped, bytes flagged ``shared``.

    Lengths are in the unit the header names::

        File size of v is 67108864 (16384 blocks of 4096 bytes)
         ext:     logical_offset:        physical_offset: length:   expected: flags:
           0:        0..   2815:     161281..    164096:   2816:             shared
           1:     2816..   3071:     323841..    324096:    256:     164097:
    """
    unit = BLOCK
    count = mapped = shared = 0
    for line in text.splitlines():
        if line.startswith("File size of ") and " blocks of " in line:
            unit = int(line.rsplit(" blocks of ", 1)[1].split()[0])
            continue
        fields = line.split(":")
        if len(fields) < 5 or not fields[0].strip().isdigit():
            continue
        length = int(fields[3].split()[0]) * unit
        count += 1
        mapped += length
        if "shared" in fields[-1].strip().split(","):  # flags, after the last colon
            shared += length
    return Extents(count, mapped, shared)


def fio_argv(path: str, *, iodepth: int, seed: int = 1, runtime: int | None = None,
             ios: int | None = None, first_writes: bool = False, offset: int = 0,
             rate_iops: int = 0) -> list[str]:
    """fio, 4 KiB O_DIRECT writes through libaio on the existing file ``path``
    (never created, extended or preallocated), JSON on stdout.

    Random writes (offsets from ``seed``, none twice) for ``runtime`` seconds
    or, without it, ``ios`` of them; or, with ``first_writes``, ``ios``
    writes from ``offset`` on, one at the start of each MiB
    (``rw=write:<1 MiB - 4 KiB>``), so none lands in a MiB an earlier one
    has copied. ``rate_iops`` caps the rate (fio ``rate_iops``; 0: no cap).
    """
    if (runtime is None) == (ios is None) or (first_writes and ios is None):
        raise ValueError("fio_argv: give runtime or ios (ios for first_writes)")
    argv = ["fio", f"--name={'firstwrites' if first_writes else 'randwrite'}",
            f"--filename={path}", "--bs=4k", "--direct=1", "--ioengine=libaio",
            f"--iodepth={iodepth}", "--numjobs=1"]
    if first_writes:
        argv += [f"--rw=write:{MiB - BLOCK}", f"--offset={offset}"]
    else:
        argv += ["--rw=randwrite", "--randrepeat=0", f"--randseed={seed}"]
    argv += [f"--number_ios={ios}"] if runtime is None else [
        "--time_based=1", f"--runtime={runtime}"]
    if rate_iops:
        argv.append(f"--rate_iops={rate_iops}")
    return argv + ["--end_fsync=1", "--fallocate=none", "--allow_file_create=0",
                   "--output-format=json"]


def fio_fill_argv(path: str, size: int) -> list[str]:
    """fio: write ``path`` full once, sequentially, 1 MiB O_DIRECT (no holes)."""
    return ["fio", "--name=fill", f"--filename={path}", "--rw=write", "--bs=1M",
            "--direct=1", "--ioengine=libaio", "--iodepth=4", f"--size={size}",
            "--fallocate=none", "--end_fsync=1", "--output-format=json"]


# ------------------------------------------------------------ pure: report

def fmt_ratio(r: float | None) -> str:
    """``1.00x``, ``0.52x``; far below 1 also as a fraction: ``0.0016x (1/627)``."""
    if r is None:
        return ""
    if r <= 0:
        return "0x"
    if r >= 0.1:
        return f"{r:.2f}x"
    return f"{r:.2g}x (1/{1 / r:,.0f})"


def fmt_num(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


@dataclass(frozen=True)
class Row:
    operation: str
    case: str
    value: str
    ratio: str


def _iops(runs: list[dict[str, Any]]) -> float:
    """IOPS of one run; of runs started together: all their writes over the longest."""
    if len(runs) == 1:
        return runs[0]["fio"]["iops"]
    longest = max(r["fio"]["runtime_s"] for r in runs)
    return sum(r["fio"]["ios"] for r in runs) / longest if longest else 0.0


def _iops_text(runs: list[dict[str, Any]]) -> str:
    total = fmt_num(_iops(runs)) + " IOPS"
    if len(runs) > 1:
        total += " (" + " + ".join(fmt_num(r["fio"]["iops"]) for r in runs) + ")"
    return total


def _cow_per_mib(run: dict[str, Any]) -> float:
    written = run["fio"]["io_bytes"]
    grown = run["after"]["unshared_bytes"] - run["before"]["unshared_bytes"]
    return grown / written if written else 0.0


def _copies(run: dict[str, Any]) -> float:
    """MiB a run unshared: one per first write to a shared MiB."""
    return (run["after"]["unshared_bytes"] - run["before"]["unshared_bytes"]) / MiB


CONTENTION_CASES = (
    ("alone", "node1 alone, 1 clone"),
    ("shared_tree", "node1 + node2 at once, clones of one image (one refcount tree)"),
    ("two_trees", "node1 + node2 at once, clones of two images (two trees)"),
)


def rows(res: dict[str, Any]) -> list[Row]:
    """The report's rows from the measurements ``lab`` collects (see ``on_lab``).

    Each ratio is against the first case of its operation.
    """
    out: list[Row] = []
    size = human(res["settings"]["size"])
    cow = res["cow"]
    base, snap = cow["no_snapshot"], cow["after_snapshot"]
    first = cow["first_writes"]
    op = f"4k write IOPS, {size} volume written full"
    out.append(Row(op, "randwrite, no snapshot", _iops_text([base]), fmt_ratio(1.0)))
    out.append(Row(op, "randwrite right after a reflink snapshot", _iops_text([snap]),
                   fmt_ratio(_iops([snap]) / _iops([base]))))
    out.append(Row(op, "every write a first write to a shared MiB (after a snapshot)",
                   _iops_text([first]), fmt_ratio(_iops([first]) / _iops([base]))))
    grown = snap["after"]["unshared_bytes"] - snap["before"]["unshared_bytes"]
    written = snap["fio"]["io_bytes"]
    out.append(Row("space after a snapshot: MiB unshared (copied) per MiB written",
                   f"that fio run: {snap['fio']['ios']:,} writes, {human(written)}",
                   f"{human(grown)} copied = {_cow_per_mib(snap):,.0f} MiB per MiB",
                   f"{_cow_per_mib(snap):,.0f}x write amplification"))
    used = snap["used_after"] - snap["used_before"]
    out.append(Row("space after a snapshot: pool used (statvfs) per MiB written",
                   "that fio run (steps of a local-alloc window)",
                   f"{human(used)} = {used / written if written else 0:,.0f} MiB per MiB", ""))
    per = _copies(first) * MiB / max(first["fio"]["ios"], 1)
    out.append(Row("first write to a shared extent: bytes copied",
                   f"{first['fio']['ios']} writes of 4 KiB, each into another MiB",
                   f"{human(int(per))} per 4 KiB write", f"{per / BLOCK:,.0f}x"))
    tvs = res["thick_sparse"]
    op = f"first-write 4k randwrite IOPS, fresh {size} file"
    out.append(Row(op, "sparse (ftruncate)", _iops_text([tvs["sparse"]]), fmt_ratio(1.0)))
    out.append(Row(op, "thick (posix_fallocate)", _iops_text([tvs["thick"]]),
                   fmt_ratio(_iops([tvs["thick"]]) / _iops([tvs["sparse"]]))))
    cl = res["clones"]
    n = res["settings"]["clones"]
    op = f"reflink clones/s, {n} clones of one {human(res['settings']['golden_size'])} file"
    alone, both = cl["alone"]["rate"], cl["both"]["rate"]
    out.append(Row(op, "node1 alone", f"{alone:.1f} clones/s", fmt_ratio(1.0)))
    out.append(Row(op, f"node1 + node2 at once ({n - n // 2} + {n // 2})",
                   f"{both:.1f} clones/s", fmt_ratio(both / alone)))
    st = res["settings"]
    for mode, op in (
            ("randwrite", f"4k randwrite IOPS, {st['clone_writes']} per clone, fresh "
                          f"clones of a {human(st['golden_size'])} golden image"),
            ("first_writes", f"4k write IOPS, {st['first_writes']} per clone, each a first "
                             "write to a shared MiB, fresh clones of the golden image")):
        con = res["contention"][mode]
        a = _iops(con["alone"])
        out.append(Row(op, "node1 alone, 1 clone", _iops_text(con["alone"]), fmt_ratio(1.0)))
        for key, case in CONTENTION_CASES[1:]:
            if con.get(key):
                out.append(Row(op, case, _iops_text(con[key]),
                               fmt_ratio(_iops(con[key]) / a if a else None)))
    return out


def markdown(table: list[Row]) -> str:
    lines = ["| operation | case | value | ratio |", "|---|---|---:|---:|"]
    lines += [f"| {r.operation} | {r.case} | {r.value} | {r.ratio} |" for r in table]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ on a node

def _used(path: str) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def extents(path: str) -> Extents:
    return parse_filefrag(subprocess.run(["filefrag", "-v", path], check=True,
                                         capture_output=True, text=True).stdout)


def _state(path: str) -> dict[str, Any]:
    ext = extents(path)
    return {**asdict(ext), "unshared_bytes": ext.unshared_bytes,
            "allocated_bytes": os.stat(path).st_blocks * 512}


def barrier(directory: str, name: str, parties: int, timeout: float = 120.0) -> float:
    """Wait until ``parties`` processes (on any nodes) reached barrier ``name``.

    Each leaves a file ``<name>.<hostname>.<pid>`` in ``directory`` on the
    shared filesystem and polls the directory. Returns the seconds waited.
    """
    os.makedirs(directory, exist_ok=True)
    prefix = f"{name}."
    mine = os.path.join(directory, f"{prefix}{socket.gethostname()}.{os.getpid()}")
    with open(mine, "w"):
        pass
    t0 = time.monotonic()
    while sum(1 for e in os.listdir(directory) if e.startswith(prefix)) < parties:
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"barrier {name}: fewer than {parties} arrived in {timeout} s")
        time.sleep(0.002)
    return time.monotonic() - t0


def node_write(path: str, size: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    subprocess.run(fio_fill_argv(path, size), check=True, capture_output=True)
    return {"seconds": time.perf_counter() - t0, **_state(path)}


def node_create(path: str, size: int, thick: bool) -> dict[str, Any]:
    from cinder_ocfs2 import volumes
    t0 = time.perf_counter()
    volumes.create(path, size, thick=thick)
    return {"seconds": time.perf_counter() - t0, **_state(path)}


def node_snapshot(src: str, dst: str) -> dict[str, Any]:
    from cinder_ocfs2 import reflink
    os.sync()
    used = _used(src)
    t0 = time.perf_counter()
    reflink.clone_atomic(src, dst)
    seconds = time.perf_counter() - t0
    os.sync()
    return {"seconds": seconds, "used_delta": _used(src) - used, **_state(src)}


def node_fio(path: str, *, iodepth: int, runtime: int | None, ios: int | None, seed: int,
             first_writes: bool, offset: int, barrier_name: str | None, parties: int,
             raw: str | None, rate_iops: int = 0) -> dict[str, Any]:
    bdir = os.path.join(os.path.dirname(path), BARRIERS)
    os.sync()
    before, used_before = _state(path), _used(path)
    waited = barrier(bdir, barrier_name, parties) if barrier_name else 0.0
    started = time.time()
    proc = subprocess.run(fio_argv(path, iodepth=iodepth, runtime=runtime, ios=ios,
                                   seed=seed, first_writes=first_writes, offset=offset,
                                   rate_iops=rate_iops),
                          check=True, capture_output=True, text=True)
    if raw:
        with open(raw, "w") as f:
            f.write(proc.stdout)
    os.sync()
    return {"node": socket.gethostname(), "file": os.path.basename(path),
            "fio": asdict(parse_fio(proc.stdout)), "started": started, "barrier_s": waited,
            "before": before, "after": _state(path), "used_before": used_before,
            "used_after": _used(path)}


def node_clones(src: str, directory: str, count: int, prefix: str,
                barrier_name: str | None, parties: int) -> dict[str, Any]:
    from cinder_ocfs2 import reflink
    os.makedirs(directory, exist_ok=True)
    bdir = os.path.join(os.path.dirname(src), BARRIERS)
    waited = barrier(bdir, barrier_name, parties) if barrier_name else 0.0
    times = []
    t0 = time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        reflink.clone_atomic(src, os.path.join(directory, f"{prefix}-{i}"))
        times.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - t0
    return {"node": socket.gethostname(), "count": count, "elapsed_s": elapsed,
            "times": times, "barrier_s": waited}


# ------------------------------------------------------------------ from the host

def _say(t0: float, msg: str) -> None:
    print(f"[{time.monotonic() - t0:6.0f} s] {msg}", file=sys.stderr, flush=True)


def _threads(fns: list[Callable[[], Any]]) -> list[Any]:
    """Run each fn in its own thread at once; results in order, first error raised."""
    from lab.lab import parallel
    out: list[Any] = [None] * len(fns)

    def run(i: int) -> None:
        out[i] = fns[i]()

    parallel(run, range(len(fns)))
    return out


class LabRun:
    """Runs the node-side subcommands on the lab's nodes."""

    def __init__(self, args: argparse.Namespace) -> None:
        from lab.lab import Lab
        self.lab = Lab()
        self.args = args
        self.node1, self.node2 = self.lab.node("node1"), self.lab.node("node2")
        self.dir = f"{self.lab.mountpoint()}/{SUBDIR}"
        self.t0 = time.monotonic()
        self.barriers = 0

    def say(self, msg: str) -> None:
        _say(self.t0, msg)

    def call(self, node: Any, *argv: str, timeout: float = 900) -> dict[str, Any]:
        cmd = " ".join([NODE_PY, NODE_SCRIPT, *argv])
        return json.loads(node.sh(cmd, timeout=timeout))

    def path(self, name: str) -> str:
        return f"{self.dir}/{name}"

    def drop_caches(self) -> None:
        _threads([lambda n=n: n.sh("sync; echo 3 > /proc/sys/vm/drop_caches")
                  for n in (self.node1, self.node2)])

    def rm(self, *names: str) -> None:
        self.node1.sh("rm -rf " + " ".join(self.path(n) for n in names), timeout=600)

    def fio(self, jobs: list[tuple[Any, str, int]], ios: int | None = None,
            first_writes: bool = False, raw: str | None = None,
            fast: bool = False) -> list[dict]:
        """fio on each (node, file, seed) at once, after a shared barrier: for
        ``--runtime`` s (``--fast-runtime`` s if ``fast``), or ``ios`` writes
        each; with ``first_writes``, job i writes from MiB i * (size / jobs) on."""
        self.drop_caches()
        a = self.args
        runtime = a.fast_runtime if fast else a.runtime
        common = [f"--iodepth={a.iodepth}", f"--rate-iops={a.rate_iops}",
                  f"--runtime={runtime}" if ios is None else f"--ios={ios}"]
        if first_writes:
            common.append("--first-writes")
        if len(jobs) > 1:
            self.barriers += 1
            common += [f"--barrier=fio{self.barriers}", f"--parties={len(jobs)}"]
        if raw:
            common.append(f"--raw={raw}")
        return _threads([lambda n=n, f=f, s=s, i=i: self.call(
            n, "fio", self.path(f), f"--seed={s}", f"--offset-part={i}/{len(jobs)}",
            *common, timeout=runtime * 4 + 900) for i, (n, f, s) in enumerate(jobs)])

    def clones(self, src: str, split: list[tuple[Any, int]], tag: str) -> dict[str, Any]:
        self.drop_caches()
        extra: list[str] = []
        if len(split) > 1:
            self.barriers += 1
            extra = [f"--barrier=clones{self.barriers}", f"--parties={len(split)}"]
        runs = _threads([lambda n=n, k=k, i=i: self.call(
            n, "clones", self.path(src), self.path(f"clones-{tag}"), f"--count={k}",
            f"--prefix={n.name}-{i}", *extra) for i, (n, k) in enumerate(split)])
        self.rm(f"clones-{tag}")
        total = sum(r["count"] for r in runs)
        return {"runs": runs, "rate": total / max(r["elapsed_s"] for r in runs)}

    def run(self) -> dict[str, Any]:
        a = self.args
        n1, n2 = self.node1, self.node2
        res: dict[str, Any] = {"settings": {
            "size": a.size, "golden_size": a.golden_size, "runtime": a.runtime,
            "fast_runtime": a.fast_runtime, "rate_iops": a.rate_iops,
            "iodepth": a.iodepth, "clones": a.clones, "rounds": a.rounds,
            "first_writes": a.first_writes, "clone_writes": a.clone_writes}}
        res["started"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds")
        res["node"] = n1.sh("uname -r; nproc; grep MemTotal /proc/meminfo; fio --version")
        res["fs"] = n1.sh(f"df -B1 {self.lab.mountpoint()} | tail -1")
        res["host_load_start"] = os.getloadavg()
        need = max(2 * a.size, 4 * a.golden_size)
        if int(res["fs"].split()[3]) < need:
            raise SystemExit(f"{self.lab.mountpoint()} has less than {human(need)} free "
                             f"(this run's peak): {res['fs'].strip()}")
        size = str(a.size)

        self.say(f"1/3 copy-on-write: write a {human(a.size)} volume")
        res["setup_volume"] = self.call(n1, "write", self.path("volume"), size)
        self.say("1/3 fio, no snapshot")
        cow: dict[str, Any] = {"no_snapshot": self.fio([(n1, "volume", 1)], fast=True)[0]}
        self.say(f"    {cow['no_snapshot']['fio']['iops']:.0f} IOPS; reflink snapshot")
        cow["snapshot"] = self.call(n1, "snapshot", self.path("volume"),
                                    self.path("snapshot-1"))
        self.say("1/3 fio, right after the snapshot")
        cow["after_snapshot"] = self.fio([(n1, "volume", 1)], raw=a.raw)[0]
        self.say(f"    {cow['after_snapshot']['fio']['iops']:.0f} IOPS; a second snapshot, "
                 f"then {a.first_writes} first writes to shared MiBs")
        self.call(n1, "snapshot", self.path("volume"), self.path("snapshot-2"))
        cow["first_writes"] = self.fio([(n1, "volume", 1)], ios=a.first_writes,
                                       first_writes=True)[0]
        self.say(f"    {cow['first_writes']['fio']['iops']:.0f} IOPS")
        res["cow"] = cow
        self.rm("volume", "snapshot-1", "snapshot-2")

        self.say(f"2/3 thick against sparse: fresh {human(a.size)} files")
        tvs: dict[str, Any] = {}
        for kind in ("sparse", "thick"):
            tvs[f"create_{kind}"] = self.call(n1, "create", self.path(kind), size,
                                              *(["--thick"] if kind == "thick" else []))
            tvs[kind] = self.fio([(n1, kind, 1)], fast=True)[0]
            self.say(f"    {kind}: {tvs[kind]['fio']['iops']:.0f} IOPS")
            self.rm(kind)
        res["thick_sparse"] = tvs

        self.say(f"3/3 two nodes: golden image {human(a.golden_size)}; "
                 f"{a.rounds} rounds of {a.clones} clones")
        gsize = str(a.golden_size)
        res["setup_golden"] = self.call(n1, "write", self.path("golden-a"), gsize)
        half = a.clones // 2
        alone, both = [], []
        for r in range(a.rounds):
            alone.append(self.clones("golden-a", [(n1, a.clones)], f"a{r}"))
            both.append(self.clones("golden-a", [(n1, a.clones - half), (n2, half)], f"b{r}"))
            self.say(f"    round {r + 1}: {alone[-1]['rate']:.1f} against "
                     f"{both[-1]['rate']:.1f} clones/s")
        res["clones"] = {
            "alone": {"rate": statistics.median(x["rate"] for x in alone), "rounds": alone},
            "both": {"rate": statistics.median(x["rate"] for x in both), "rounds": both}}

        con: dict[str, Any] = {"randwrite": {}, "first_writes": {}}
        images = {"alone": [("golden-a", n1)],
                  "shared_tree": [("golden-a", n1), ("golden-a", n2)],
                  "two_trees": [("golden-a", n1), ("golden-b", n2)]}
        first = min(a.first_writes, a.golden_size // MiB // 2)
        for key, case in CONTENTION_CASES:
            if key == "two_trees":
                if a.no_control:
                    break
                res["setup_golden_b"] = self.call(n1, "write", self.path("golden-b"), gsize)
            for mode in con:
                self.say(f"3/3 {mode}: {case}")
                names = []
                for i, (src, _) in enumerate(images[key]):
                    names.append(f"{key}-{mode}-{i}")
                    self.call(n1, "snapshot", self.path(src), self.path(names[-1]))
                con[mode][key] = self.fio(
                    [(node, name, i + 1) for i, ((_, node), name)
                     in enumerate(zip(images[key], names, strict=True))],
                    ios=first if mode == "first_writes" else a.clone_writes,
                    first_writes=mode == "first_writes")
                self.say("    " + _iops_text(con[mode][key]))
                self.rm(*names)
        res["settings"]["first_writes"] = first
        res["contention"] = con
        res["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds")
        res["host_load_end"] = os.getloadavg()
        return res


def on_lab(args: argparse.Namespace) -> int:
    from lab.lab import Lab
    if not Lab().is_up():
        print("no lab is running: python -m lab up (or make demo) first", file=sys.stderr)
        return 2
    run = LabRun(args)
    down = [n.name for n in (run.node1, run.node2) if not n.running()]
    if down:
        print(f"{', '.join(down)} not running: this needs node1 and node2", file=sys.stderr)
        return 2
    run.node1.sh(f"rm -rf {run.dir} && mkdir -p {run.dir}")
    try:
        res = run.run()
    finally:
        run.node1.sh(f"rm -rf {run.dir}", timeout=1800)
    kernel, cpus = res["node"].split("\n")[:2]
    head = (f"{res['started']} to {res['finished']}, lab node1 and node2 (Linux {kernel}, "
            f"{cpus} vCPU each), OCFS2 {run.lab.mountpoint()}; fio 4 KiB randwrite, "
            f"libaio, O_DIRECT, iodepth {args.iodepth}; time-based runs {args.runtime} s "
            f"after a snapshot, {args.fast_runtime} s for the fast cases"
            f"{f', capped at {args.rate_iops} IOPS' if args.rate_iops else ''}; host "
            f"load average {res['host_load_start'][0]:.1f} at the start, "
            f"{res['host_load_end'][0]:.1f} at the end\n")
    text = head + "\n" + markdown(rows(res))
    print("\n" + text)
    stem = args.out or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        f"cow-{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d}")
    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    with open(stem + ".md", "w") as f:
        f.write(text)
    with open(stem + ".json", "w") as f:
        json.dump(res, f, indent=1)
    print(f"saved {stem}.md and {stem}.json", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("lab", help="run it all from the host")
    p.add_argument("--size", type=parse_size, default=parse_size("1G"))
    p.add_argument("--golden-size", type=parse_size, default=parse_size("512M"))
    p.add_argument("--runtime", type=int, default=30,
                   help="seconds of the time-based run after a snapshot (20-50 IOPS)")
    p.add_argument("--fast-runtime", type=int, default=5,
                   help="seconds of the time-based runs that reach thousands of IOPS (no "
                        "snapshot, sparse, thick): a 30 s one fenced a lab node, see above")
    p.add_argument("--rate-iops", type=int, default=0,
                   help="cap every fio run at this many IOPS (0: no cap)")
    p.add_argument("--iodepth", type=int, default=16)
    p.add_argument("--clones", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--first-writes", type=int, default=128,
                   help="writes per file that each copy a shared MiB")
    p.add_argument("--clone-writes", type=int, default=256,
                   help="random writes per clone in the two-node cases (fixed work)")
    p.add_argument("--no-control", action="store_true",
                   help="skip the two-images control case")
    p.add_argument("--raw", help="node path to keep fio's JSON of the after-snapshot run "
                                 "(e.g. /lab-share/fio.json)")
    p.add_argument("--out", help="STEM of STEM.md and STEM.json")
    p = sub.add_parser("write")
    p.add_argument("path")
    p.add_argument("size", type=parse_size)
    p = sub.add_parser("create")
    p.add_argument("path")
    p.add_argument("size", type=parse_size)
    p.add_argument("--thick", action="store_true")
    p = sub.add_parser("snapshot")
    p.add_argument("src")
    p.add_argument("dst")
    p = sub.add_parser("fio")
    p.add_argument("path")
    p.add_argument("--runtime", type=int, default=30)
    p.add_argument("--iodepth", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ios", type=int, help="this many writes instead of --runtime s")
    p.add_argument("--rate-iops", type=int, default=0)
    p.add_argument("--first-writes", action="store_true",
                   help="--ios writes, one at the start of each MiB")
    p.add_argument("--offset-part", default="0/1",
                   help="I/N: first writes start at MiB I * (size / N)")
    p.add_argument("--barrier")
    p.add_argument("--parties", type=int, default=1)
    p.add_argument("--raw")
    p = sub.add_parser("clones")
    p.add_argument("src")
    p.add_argument("dir")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--prefix", default="clone")
    p.add_argument("--barrier")
    p.add_argument("--parties", type=int, default=1)
    args = parser.parse_args(argv)
    if args.cmd == "lab":
        return on_lab(args)
    if args.cmd == "write":
        out = node_write(args.path, args.size)
    elif args.cmd == "create":
        out = node_create(args.path, args.size, args.thick)
    elif args.cmd == "snapshot":
        out = node_snapshot(args.src, args.dst)
    elif args.cmd == "fio":
        part, parts = (int(x) for x in args.offset_part.split("/"))
        offset = os.stat(args.path).st_size // MiB // parts * part * MiB
        out = node_fio(args.path, iodepth=args.iodepth, seed=args.seed,
                       runtime=None if args.ios else args.runtime, ios=args.ios,
                       first_writes=args.first_writes, offset=offset,
                       barrier_name=args.barrier, parties=args.parties, raw=args.raw,
                       rate_iops=args.rate_iops)
    else:
        out = node_clones(args.src, args.dir, args.count, args.prefix, args.barrier,
                          args.parties)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
