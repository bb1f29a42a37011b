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
"""bench/bench_cow.py's pure parts: fio's JSON and ``filefrag -v`` parsed from
output recorded on the lab (tests/fixtures/recorded/fio/), the fio command
lines, the ratios and the report table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

import bench_cow  # noqa: E402 - bench/ is on sys.path: conftest.py
from bench_cow import (  # noqa: E402
    Extents,
    FioResult,
    fio_argv,
    fio_fill_argv,
    fmt_ratio,
    markdown,
    parse_filefrag,
    parse_fio,
    rows,
)

RECORDED = ROOT / "tests" / "fixtures" / "recorded" / "fio"
MiB = 1 << 20


def _recorded_fio() -> str:
    return (RECORDED / "randwrite-after-reflink-snapshot.json").read_text()


# --------------------------------------------------------------- parse_fio

def test_parse_fio_recorded_after_snapshot() -> None:
    r = parse_fio(_recorded_fio())
    assert r == FioResult(iops=53.537285, io_bytes=688128, ios=168, runtime_s=3.138,
                          bw_bytes=219288.0, lat_mean_us=pytest.approx(253629.896232143),
                          clat_p99_us=666894.336, errors=0)


def test_parse_fio_skips_notes_before_the_document() -> None:
    text = "fio: note: both iodepth >= 1 and synchronous I/O engine are selected\n"
    assert parse_fio(text + _recorded_fio()) == parse_fio(_recorded_fio())


def test_parse_fio_sums_jobs() -> None:
    doc = json.loads(_recorded_fio())
    second = json.loads(json.dumps(doc["jobs"][0]))
    second["write"].update(iops=100.0, io_bytes=4096 * 300, total_ios=300, runtime=3000,
                           bw_bytes=409600)
    second["write"]["lat_ns"]["mean"] = 1000000.0
    second["write"]["clat_ns"]["percentile"]["99.000000"] = 2000000
    doc["jobs"].append(second)
    r = parse_fio(json.dumps(doc))
    assert r.iops == pytest.approx(153.537285)
    assert r.ios == 468
    assert r.io_bytes == 688128 + 4096 * 300
    assert r.runtime_s == 3.138  # the longest job
    assert r.bw_bytes == 219288 + 409600
    assert r.lat_mean_us == pytest.approx((253629.896232143 * 168 + 1000 * 300) / 468)
    assert r.clat_p99_us == 666894.336  # the worse job


def test_parse_fio_counts_failed_jobs() -> None:
    doc = json.loads(_recorded_fio())
    doc["jobs"][0]["error"] = 5
    assert parse_fio(json.dumps(doc)).errors == 1


@pytest.mark.parametrize("text", ["", "fio: engine libaio not loadable\n",
                                  '{"fio version": "fio-3.33", "jobs": []}'])
def test_parse_fio_refuses_output_without_jobs(text: str) -> None:
    with pytest.raises(ValueError):
        parse_fio(text)


# ---------------------------------------------------------- parse_filefrag

def test_parse_filefrag_recorded_after_two_cow_writes() -> None:
    # 16 MiB written full, reflinked, then one 4 KiB write into MiB 0 and one
    # into MiB 3: each unshared exactly the 1 MiB around it (256 blocks).
    ext = parse_filefrag((RECORDED / "filefrag-v-after-cow.txt").read_text())
    assert ext == Extents(count=4, mapped_bytes=16 * MiB, shared_bytes=14 * MiB)
    assert ext.unshared_bytes == 2 * MiB


def test_parse_filefrag_empty_sparse_file() -> None:
    text = ("Filesystem type is: 7461636f\n"
            "File size of sparse is 1073741824 (262144 blocks of 4096 bytes)\n"
            " ext:     logical_offset:        physical_offset: length:   expected: flags:\n"
            "sparse: 0 extents found\n")
    assert parse_filefrag(text) == Extents(0, 0, 0)


def test_parse_filefrag_other_block_unit() -> None:
    text = ("File size of v is 8192 (8 blocks of 1024 bytes)\n"
            " ext:     logical_offset:        physical_offset: length:   expected: flags:\n"
            "   0:        0..       7:       1000..      1007:      8:             "
            "last,shared,eof\n")
    assert parse_filefrag(text) == Extents(1, 8192, 8192)


# ------------------------------------------------------------- fio argv

def test_fio_argv_randwrite_time_based() -> None:
    assert fio_argv("/p/volume", runtime=30, iodepth=16, seed=2) == [
        "fio", "--name=randwrite", "--filename=/p/volume", "--bs=4k", "--direct=1",
        "--ioengine=libaio", "--iodepth=16", "--numjobs=1", "--rw=randwrite",
        "--randrepeat=0", "--randseed=2", "--time_based=1", "--runtime=30",
        "--end_fsync=1", "--fallocate=none", "--allow_file_create=0", "--output-format=json"]


def test_fio_argv_randwrite_fixed_work() -> None:
    assert fio_argv("/p/c", ios=256, iodepth=16, seed=1) == [
        "fio", "--name=randwrite", "--filename=/p/c", "--bs=4k", "--direct=1",
        "--ioengine=libaio", "--iodepth=16", "--numjobs=1", "--rw=randwrite",
        "--randrepeat=0", "--randseed=1", "--number_ios=256",
        "--end_fsync=1", "--fallocate=none", "--allow_file_create=0", "--output-format=json"]


def test_fio_argv_first_writes() -> None:
    # One 4 KiB write at the start of each MiB: 4 KiB + a 1020 KiB skip.
    assert fio_argv("/p/c", iodepth=16, ios=128, first_writes=True, offset=256 * MiB) == [
        "fio", "--name=firstwrites", "--filename=/p/c", "--bs=4k", "--direct=1",
        "--ioengine=libaio", "--iodepth=16", "--numjobs=1", "--rw=write:1044480",
        f"--offset={256 * MiB}", "--number_ios=128",
        "--end_fsync=1", "--fallocate=none", "--allow_file_create=0", "--output-format=json"]


def test_fio_argv_rate_cap() -> None:
    argv = fio_argv("/p/c", runtime=5, iodepth=16, rate_iops=2000)
    assert argv[-5:] == ["--rate_iops=2000", "--end_fsync=1", "--fallocate=none",
                         "--allow_file_create=0", "--output-format=json"]
    assert not [a for a in fio_argv("/p/c", runtime=5, iodepth=16) if "rate" in a]


@pytest.mark.parametrize("kwargs", [{}, {"runtime": 30, "ios": 10},
                                    {"runtime": 30, "first_writes": True}])
def test_fio_argv_needs_runtime_or_ios(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        fio_argv("/p/c", iodepth=16, **kwargs)


def test_fio_fill_argv() -> None:
    assert fio_fill_argv("/p/golden", 512 * MiB) == [
        "fio", "--name=fill", "--filename=/p/golden", "--rw=write", "--bs=1M", "--direct=1",
        "--ioengine=libaio", "--iodepth=4", f"--size={512 * MiB}", "--fallocate=none",
        "--end_fsync=1", "--output-format=json"]


# ------------------------------------------------------------- report

@pytest.mark.parametrize(("ratio", "text"), [
    (1.0, "1.00x"), (2.734, "2.73x"), (0.52, "0.52x"), (0.1, "0.10x"),
    (1 / 627, "0.0016x (1/627)"), (0.045, "0.045x (1/22)"), (0.0, "0x"), (None, "")])
def test_fmt_ratio(ratio: float | None, text: str) -> None:
    assert fmt_ratio(ratio) == text


def _run(iops: float, runtime_s: float | None = None, ios: int = 0, copied_mib: int = 0,
         node: str = "node1", used: int = 0) -> dict[str, Any]:
    if runtime_s is None:  # 30 s, or as long as ``ios`` take at ``iops``
        runtime_s = ios / iops if ios else 30.0
    ios = ios or int(iops * runtime_s)
    return {"node": node, "fio": {"iops": iops, "io_bytes": ios * 4096, "ios": ios,
                                  "runtime_s": runtime_s},
            "before": {"unshared_bytes": 0},
            "after": {"unshared_bytes": copied_mib * MiB},
            "used_before": 10 * MiB, "used_after": 10 * MiB + used}


def _results() -> dict[str, Any]:
    recorded = bench_cow.asdict(parse_fio(_recorded_fio()))
    after = _run(0)
    after["fio"] = recorded  # 168 writes in 3.138 s
    after["after"]["unshared_bytes"] = 168 * MiB
    after["used_after"] = after["used_before"] + 212 * MiB
    return {
        "settings": {"size": 1 << 30, "golden_size": 512 * MiB, "runtime": 30,
                     "iodepth": 16, "clones": 20, "rounds": 5, "first_writes": 128,
                     "clone_writes": 256},
        "cow": {"no_snapshot": _run(10000.0), "after_snapshot": after,
                "first_writes": _run(20.0, runtime_s=6.4, ios=128, copied_mib=128)},
        "thick_sparse": {"sparse": _run(3000.0), "thick": _run(4500.0)},
        "clones": {"alone": {"rate": 40.0}, "both": {"rate": 30.0}},
        "contention": {
            "randwrite": {
                "alone": [_run(50.0, copied_mib=400)],
                "shared_tree": [_run(10.0, copied_mib=150),
                                _run(15.0, copied_mib=240, node="node2")],
                "two_trees": [_run(40.0, copied_mib=500),
                              _run(60.0, copied_mib=500, node="node2")]},
            "first_writes": {
                "alone": [_run(20.0, ios=128, copied_mib=128)],
                "shared_tree": [_run(4.0, ios=128, copied_mib=128),
                                _run(4.0, ios=128, copied_mib=128, node="node2")],
                "two_trees": [_run(18.0, ios=128, copied_mib=128),
                              _run(19.0, ios=128, copied_mib=128, node="node2")]}},
    }


def test_rows() -> None:
    table = [(r.case, r.value, r.ratio) for r in rows(_results())]
    assert table == [
        ("randwrite, no snapshot", "10,000 IOPS", "1.00x"),
        ("randwrite right after a reflink snapshot", "53.5 IOPS", "0.0054x (1/187)"),
        ("every write a first write to a shared MiB (after a snapshot)", "20.0 IOPS",
         "0.002x (1/500)"),
        ("that fio run: 168 writes, 672 KiB", "168 MiB copied = 256 MiB per MiB",
         "256x write amplification"),
        ("that fio run (steps of a local-alloc window)", "212 MiB = 323 MiB per MiB", ""),
        ("128 writes of 4 KiB, each into another MiB", "1 MiB per 4 KiB write", "256x"),
        ("sparse (ftruncate)", "3,000 IOPS", "1.00x"),
        ("thick (posix_fallocate)", "4,500 IOPS", "1.50x"),
        ("node1 alone", "40.0 clones/s", "1.00x"),
        ("node1 + node2 at once (10 + 10)", "30.0 clones/s", "0.75x"),
        ("node1 alone, 1 clone", "50.0 IOPS", "1.00x"),
        ("node1 + node2 at once, clones of one image (one refcount tree)",
         "25.0 IOPS (10.0 + 15.0)", "0.50x"),
        ("node1 + node2 at once, clones of two images (two trees)",
         "100 IOPS (40.0 + 60.0)", "2.00x"),
        ("node1 alone, 1 clone", "20.0 IOPS", "1.00x"),
        ("node1 + node2 at once, clones of one image (one refcount tree)",
         "8.00 IOPS (4.00 + 4.00)", "0.40x"),
        ("node1 + node2 at once, clones of two images (two trees)",
         "36.0 IOPS (18.0 + 19.0)", "1.80x"),
    ]
    ops = [r.operation for r in rows(_results())]
    assert ops[0] == "4k write IOPS, 1 GiB volume written full"
    assert ops[6] == "first-write 4k randwrite IOPS, fresh 1 GiB file"
    assert ops[8] == "reflink clones/s, 20 clones of one 512 MiB file"
    assert ops[10] == ("4k randwrite IOPS, 256 per clone, fresh clones of a 512 MiB "
                       "golden image")
    assert ops[13] == ("4k write IOPS, 128 per clone, each a first write to a shared MiB, "
                       "fresh clones of the golden image")


def test_aggregate_iops_is_all_writes_over_the_longer_run() -> None:
    # node1 did its 128 writes in 6.4 s, node2 its 128 in 12.8 s: 256 in 12.8 s.
    runs = [_run(20.0, runtime_s=6.4, ios=128), _run(10.0, runtime_s=12.8, ios=128)]
    assert bench_cow._iops(runs) == 20.0
    assert bench_cow._iops_text(runs) == "20.0 IOPS (20.0 + 10.0)"


def test_rows_without_the_control() -> None:
    res = _results()
    for mode in ("randwrite", "first_writes"):
        del res["contention"][mode]["two_trees"]
    cases = [r.case for r in rows(res)]
    assert "node1 + node2 at once, clones of two images (two trees)" not in cases
    assert len(cases) == 14


def test_markdown() -> None:
    text = markdown(rows(_results())[:2])
    assert text.splitlines() == [
        "| operation | case | value | ratio |",
        "|---|---|---:|---:|",
        "| 4k write IOPS, 1 GiB volume written full | randwrite, no snapshot | 10,000 IOPS "
        "| 1.00x |",
        "| 4k write IOPS, 1 GiB volume written full | randwrite right after a reflink "
        "snapshot | 53.5 IOPS | 0.0054x (1/187) |",
    ]
