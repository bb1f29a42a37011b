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
"""Benchmark: pool stats for N volume files vs a du-style walk.

    python bench/bench_stats.py [--count 10000] [--dir DIR] [--size-gib 10]

Creates N sparse ``volume-<uuid>`` files (default 10,000, apparent size
``--size-gib`` each, a few KiB written so they own blocks) in DIR (default: a
fresh directory under /dev/shm, i.e. tmpfs), then times, best of 5:

* ``capacity.measure`` — what the driver does: one statvfs + one os.scandir
  summing apparent sizes;
* a ``du``-style walk: os.walk + lstat of every file summing allocated
  blocks (what ``du`` does; wrong for reflinks as well as slower);
* ``du -s --block-size=1`` itself, when available.

Prints a table with the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cinder_ocfs2 import capacity  # noqa: E402

GiB = 1024 ** 3


def populate(directory: str, count: int, size: int) -> None:
    for _ in range(count):
        fd = os.open(os.path.join(directory, f"volume-{uuid.uuid4()}"),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
        try:
            os.ftruncate(fd, size)
            os.pwrite(fd, b"x" * 4096, 0)
        finally:
            os.close(fd)


def du_walk(directory: str) -> int:
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def du_command(directory: str) -> int:
    out = subprocess.run(["du", "-s", "--block-size=1", directory], capture_output=True,
                         text=True, check=True).stdout
    return int(out.split()[0])


def best_of(func, repeat: int = 5) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--dir", help="existing directory to use (files are removed after)")
    parser.add_argument("--size-gib", type=int, default=10)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    parent = args.dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    directory = tempfile.mkdtemp(prefix="bench-stats-", dir=parent)
    try:
        t0 = time.perf_counter()
        populate(directory, args.count, args.size_gib * GiB)
        made = time.perf_counter() - t0
        rows = []
        t, cap = best_of(lambda: capacity.measure(directory))
        rows.append(("driver: statvfs + scandir (apparent sizes)", t,
                     f"{cap.volume_count} volumes, {cap.provisioned_gb:.0f} GiB provisioned"))
        t_walk, used = best_of(lambda: du_walk(directory))
        rows.append(("du-style walk (os.walk + lstat blocks)", t_walk,
                     f"{used / 2**20:.0f} MiB allocated"))
        if shutil.which("du"):
            t_du, used = best_of(lambda: du_command(directory), repeat=3)
            rows.append(("du -s (command)", t_du, f"{used / 2**20:.0f} MiB allocated"))
        fs = subprocess.run(["stat", "-f", "-c", "%T", directory], capture_output=True,
                            text=True).stdout.strip() or "?"
        print(f"{args.count} volume files in {directory} ({fs}); created in {made:.1f}s; "
              "best of 5 (du: 3)")
        print(f"{'method':<46} {'seconds':>9} {'vs driver':>10}  result")
        base = rows[0][1]
        for name, secs, note in rows:
            print(f"{name:<46} {secs:>9.4f} {secs / base:>9.1f}x  {note}")
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
