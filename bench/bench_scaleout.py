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
"""Benchmark: scale-out, a burst through the API with two active-active services and one.

    python bench/bench_scaleout.py [--ops 50] [--rounds 1]

From the host, on a running deployment (``make demo``). Each burst submits
``--ops`` operations at once through the Cinder API: half creates of empty
1 GiB volumes, half snapshots, each of its own source volume (made before the
burst, untimed, so no two operations wait for one volume's lock). It measures
from the first submission until every operation is ``available``:
throughput (operations/s) and each operation's latency (p50, p95).

The bursts run with both nodes' cinder-volume services of the backend
(active-active, one cluster queue), then with node2's cinder-volume stopped
(node1's alone), alternating for ``--rounds``; node2's service is started
again at the end. The ratio is two services' throughput over one's.

The API calls go through openstacksdk in one process inside the lab's netns
(``burst``, JSON on stdout), so a client process per call does not dilute
the figures.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PREFIX = "bench-scaleout-"
VOLUME_TYPE = "ocfs"
TIMEOUT = 1800.0


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(services: int, submitted: float, done: dict[str, float],
              started: dict[str, float]) -> dict:
    """Throughput and latencies of one burst (times relative to the same clock)."""
    latencies = [done[i] - started[i] for i in done]
    span = max(done.values()) - submitted
    return {"services": services, "ops": len(done), "seconds": span,
            "ops_per_s": len(done) / span, "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95)}


def table(results: list[dict]) -> str:
    """Markdown: one row per burst, then the median throughputs and their ratio."""
    lines = ["| services | operations | seconds | operations/s | p50 latency (s) "
             "| p95 latency (s) |", "|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['services']} | {r['ops']} | {r['seconds']:.1f} | "
                     f"{r['ops_per_s']:.2f} | {r['p50']:.1f} | {r['p95']:.1f} |")
    rate = {n: statistics.median(r["ops_per_s"] for r in results if r["services"] == n)
            for n in sorted({r["services"] for r in results})}
    if 1 in rate and 2 in rate:
        lines.append("")
        lines.append(f"Two services against one: **{rate[2] / rate[1]:.2f}x** the "
                     f"throughput ({rate[2]:.2f} against {rate[1]:.2f} operations/s).")
    return "\n".join(lines)


# ------------------------------------------------------------------ in the netns

def burst(ops: int, volume_type: str) -> dict:
    """Sources, then ``ops`` operations at once; returns the timings (JSON)."""
    import openstack
    conn = openstack.connect(cloud="e2e")
    bs = conn.block_storage
    tag = uuid.uuid4().hex[:6]
    n_snap = ops // 2

    def wait_all(kind: str, ids: set[str], started: dict[str, float]) -> dict[str, float]:
        done: dict[str, float] = {}
        deadline = time.monotonic() + TIMEOUT
        while len(done) < len(ids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(ids) - len(done)} {kind}s not available")
            items = (bs.volumes(details=True) if kind == "volume"
                     else bs.snapshots(details=True))
            now = time.monotonic()
            for item in items:
                if item.id in ids and item.id not in done:
                    if item.status == "available":
                        done[item.id] = now
                    elif item.status.startswith("error"):
                        raise RuntimeError(f"{kind} {item.id} ended in {item.status}")
            time.sleep(0.5)
        return done

    sources = [bs.create_volume(size=1, volume_type=volume_type,
                                name=f"{PREFIX}{tag}-src-{i}").id for i in range(n_snap)]
    wait_all("volume", set(sources), {})
    started: dict[str, float] = {}
    kinds: dict[str, str] = {}

    def create(i: int) -> None:
        t = time.monotonic()
        ident = bs.create_volume(size=1, volume_type=volume_type,
                                 name=f"{PREFIX}{tag}-new-{i}").id
        started[ident], kinds[ident] = t, "volume"

    def snapshot(i: int) -> None:
        t = time.monotonic()
        ident = bs.create_snapshot(volume_id=sources[i], name=f"{PREFIX}{tag}-snap-{i}",
                                   force=True).id
        started[ident], kinds[ident] = t, "snapshot"

    calls = [lambda i=i: create(i) for i in range(ops - n_snap)]
    calls += [lambda i=i: snapshot(i) for i in range(n_snap)]
    calls = calls[0::2] + calls[1::2]  # interleave the kinds
    submitted = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda call: call(), calls))
    done = {}
    for kind in ("volume", "snapshot"):
        done |= wait_all(kind, {i for i, k in kinds.items() if k == kind}, started)
    return {"submitted": submitted, "started": started, "done": done}


def cleanup() -> None:
    """Delete every snapshot, then every volume, named PREFIX..."""
    import openstack
    conn = openstack.connect(cloud="e2e")
    bs = conn.block_storage
    for snap in list(bs.snapshots(details=True)):
        if (snap.name or "").startswith(PREFIX):
            bs.delete_snapshot(snap.id, ignore_missing=True)
    deadline = time.monotonic() + TIMEOUT
    while any((s.name or "").startswith(PREFIX) for s in bs.snapshots()):
        if time.monotonic() > deadline:
            raise TimeoutError("snapshots not deleted")
        time.sleep(2)
    for vol in list(bs.volumes(details=True)):
        if (vol.name or "").startswith(PREFIX):
            bs.delete_volume(vol.id, ignore_missing=True)
    while any((v.name or "").startswith(PREFIX) for v in bs.volumes()):
        if time.monotonic() > deadline:
            raise TimeoutError("volumes not deleted")
        time.sleep(2)


# ------------------------------------------------------------------ on the host

def _in_netns(*args: str) -> str:
    from e2e import clients, config
    env = dict(os.environ) | clients.env("openstack")
    proc = subprocess.run(["ip", "netns", "exec", config.NETNS, sys.executable,
                           os.path.abspath(__file__), *args],
                          env=env, capture_output=True, text=True, timeout=TIMEOUT * 2)
    if proc.returncode:
        raise RuntimeError(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def on_lab(ops: int, rounds: int) -> int:
    from e2e import config, deploy, nodes
    from e2e.api import ensure_type
    from lab.lab import Lab
    lab = Lab()
    ensure_type(VOLUME_TYPE, volume_backend_name="ocfs2")
    results = []
    expected = len(lab.running_nodes()) * (len(config.BACKENDS) + 1)
    try:
        for rnd in range(rounds):
            for services in (2, 1):
                if services == 1:
                    nodes.stop(lab, only=["node2"], services=("cinder-volume",))
                print(f"round {rnd + 1}: {services} service(s), {ops} operations",
                      file=sys.stderr, flush=True)
                raw = json.loads(_in_netns("burst", "--ops", str(ops),
                                           "--volume-type", VOLUME_TYPE))
                result = summarize(services, raw["submitted"], raw["done"], raw["started"])
                results.append(result)
                print(f"  {result['seconds']:.1f} s, {result['ops_per_s']:.2f} ops/s",
                      file=sys.stderr, flush=True)
                _in_netns("cleanup")
                if services == 1:
                    since = deploy.nodes_now(lab)
                    nodes.start_services(lab)
                    deploy.wait_services(expected, since=since,
                                         say=lambda m: print(m, file=sys.stderr))
    finally:
        nodes.start_services(lab)
        _in_netns("cleanup")
    print(f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on the lab "
          f"(2 TCG nodes, backend ocfs2, type {VOLUME_TYPE}); {ops} operations a burst: "
          f"{ops - ops // 2} creates of empty 1 GiB volumes and {ops // 2} snapshots, "
          "each of its own source.\n")
    print(table(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    p = sub.add_parser("burst")
    p.add_argument("--ops", type=int, default=50)
    p.add_argument("--volume-type", default=VOLUME_TYPE)
    sub.add_parser("cleanup")
    parser.add_argument("--ops", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    if args.cmd == "burst":
        print(json.dumps(burst(args.ops, args.volume_type)))
        return 0
    if args.cmd == "cleanup":
        cleanup()
        return 0
    return on_lab(args.ops, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
