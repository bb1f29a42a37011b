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
"""``make bench``: every lab benchmark in one run, one report.

    python bench/run_all.py [--only api,copy,...] [--out .lab/bench] [--api-args ARGS]

On the running deployment (``make bench`` brings it up first, or reuses
``make demo``'s), in this order, each to ``<out>/<name>.md`` and all into
``<out>/report.md``:

========  ============================================================
api       bench_api.py: Cinder API latency, OCFS2 against the NfsDriver
          peer on the same disk (p50/p95, ratios)
copy      bench_copy.py on node1: the disks' fio bandwidth and our copy
          paths (sparse copy to another filesystem, qemu-img, cp, dd)
          as a fraction of it
frag      bench_frag.py on node1: reflink snapshot/clone/delete after
          N = 0, 10, 50, 200 snapshot-and-scatter cycles
cow       bench_cow.py: copy-on-write cost, thick against sparse, clones
          from both nodes at once against one
scale     bench_scale.py: stats and manageable listings at 10,000
          volumes and 1,000 snapshots, cold, on the other node
scaleout  bench_scaleout.py: a 50-operation burst with two
          active-active services against one
========  ============================================================

A benchmark that fails is reported as failed and the others still run;
the exit status is then 1. ``--api-args`` goes to bench_api.py: ``"--sizes 1,8
--skip backup"`` on a lab booted with ``LAB_DISK_SIZE=32G`` (``make bench
BENCH_API_ARGS=...``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
NODE = "node1"
NODE_PY = "PYTHONPATH=/opt/cinder-ocfs2 /opt/venv/bin/python /opt/cinder-ocfs2/bench"
POOLS = "/var/lib/cinder/ocfs2"


def _on_node(script: str, args: str, timeout: int) -> list[str]:
    return [PY, "-m", "lab", "exec", "--timeout", str(timeout), NODE, "sh", "-c",
            f"{NODE_PY}/{script} {args}"]


#: name -> (argv, timeout in seconds)
BENCHES: dict[str, tuple[list[str], int]] = {
    # 34 min at 1 GiB on 2026-12-07; --sizes 8 (BENCH_API_ARGS) takes hours.
    "api": ([PY, str(HERE / "bench_api.py")], 4 * 3600),
    "copy": (_on_node("bench_copy.py", f"--dir {POOLS}/lab0 --other-dir {POOLS}/lab1 "
                      "--sizes 1G --fio", 3000), 3600),
    "frag": (_on_node("bench_frag.py", f"--dir {POOLS}/lab0 --other-dir {POOLS}/lab1 "
                      "--size 128M --writes 8",
                      3000), 3600),
    # Capped: uncapped 4k O_DIRECT writes starved a TCG node's o2hb and fenced it.
    "cow": ([PY, str(HERE / "bench_cow.py"), "lab", "--rate-iops", "4000"], 3600),
    "scale": ([PY, str(HERE / "bench_scale.py"), "lab"], 3600),
    "scaleout": ([PY, str(HERE / "bench_scaleout.py")], 3600),
}


def argv_for(name: str, api_args: str = "") -> tuple[list[str], int]:
    """The command line and timeout of benchmark ``name``; ``api_args`` go to api's."""
    argv, timeout = BENCHES[name]
    return ([*argv, *shlex.split(api_args)] if name == "api" else list(argv)), timeout


def run(names: list[str], out: Path, api_args: str = "") -> int:
    out.mkdir(parents=True, exist_ok=True)
    sections, failed = [], []
    for name in names:
        argv, timeout = argv_for(name, api_args)
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        try:
            proc = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, text=True,
                                  timeout=timeout, check=False)
            text, ok = proc.stdout, proc.returncode == 0
        except subprocess.TimeoutExpired as exc:
            text, ok = (exc.stdout or "") if isinstance(exc.stdout, str) else "", False
        took = time.monotonic() - t0
        (out / f"{name}.md").write_text(text)
        status = "" if ok else " (FAILED)"
        print(f"bench: {name} done in {took:.0f} s{status}", file=sys.stderr, flush=True)
        sections.append(f"## {name}{status}\n\n{took:.0f} s\n\n{text.strip()}\n")
        if not ok:
            failed.append(name)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    report = f"# make bench, {stamp}\n\n" + "\n".join(sections)
    (out / "report.md").write_text(report)
    print(report)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma separated, of: {', '.join(BENCHES)}")
    parser.add_argument("--out", default=str(REPO / ".lab" / "bench"))
    parser.add_argument("--api-args", default="",
                        help='more arguments for bench_api.py, e.g. "--sizes 1,8 --skip backup"')
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    return run(names, Path(args.out), args.api_args)


if __name__ == "__main__":
    sys.exit(main())
